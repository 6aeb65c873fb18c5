//! The server's memory, read from `/proc/<pid>/status` (Linux): resident set before and after a
//! run, and its peak during the run (sampled every 50 ms); and the CPU time the server, the load
//! tool itself and Redis spent during the run, so a figure comes with what it cost.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// The server process's resident memory around a run, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServerMemory {
    pub pid: u32,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// Highest resident set sampled during the run.
    pub peak_kib: u64,
}

/// User plus system CPU time of a process so far (`/proc/<pid>/stat`, in clock ticks of 10 ms,
/// the Linux x86 default): `"self"` for this process.
pub(crate) fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15; fields[0] is field 3.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (Some(user), Some(system)) = (ticks(11), ticks(12)) else {
        anyhow::bail!("unexpected {path}: {stat:?}");
    };
    Ok((user + system) as f64 / 100.0)
}

/// `VmRSS` of `pid`, in KiB.
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status =
        std::fs::read_to_string(&path).with_context(|| format!("reading {path} (--server-pid)"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS line in {path}"))
}

/// Samples a process's memory while a run goes on.
#[derive(Debug)]
pub(crate) struct Watcher {
    pid: Option<u32>,
    before: u64,
    peak: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Watcher {
    /// Reads the memory now and samples it until [`Watcher::finish`]; does nothing without a pid.
    pub(crate) fn start(pid: Option<u32>) -> anyhow::Result<Self> {
        let before = pid.map(rss_kib).transpose()?.unwrap_or_default();
        let peak = Arc::new(AtomicU64::new(before));
        let stop = CancellationToken::new();
        if let Some(pid) = pid {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_millis(50));
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = ticks.tick() => {}
                    }
                    if let Ok(now) = rss_kib(pid) {
                        peak.fetch_max(now, Ordering::Relaxed);
                    }
                }
            });
        }
        Ok(Self {
            pid,
            before,
            peak,
            stop,
        })
    }

    /// The memory before, now, and at its peak; `None` without a pid.
    pub(crate) fn finish(self) -> anyhow::Result<Option<ServerMemory>> {
        self.stop.cancel();
        let Some(pid) = self.pid else {
            return Ok(None);
        };
        let after = rss_kib(pid)?;
        Ok(Some(ServerMemory {
            pid,
            rss_before_kib: self.before,
            rss_after_kib: after,
            peak_kib: self.peak.load(Ordering::Relaxed).max(after),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_rss_and_cpu() {
        let rss = rss_kib(std::process::id()).expect("own VmRSS");
        assert!(rss > 0);
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {}
        assert!(cpu_seconds("self").expect("own CPU time") > 0.0);
    }
}
