//! What processes cost, from `/proc` (Linux): the server's resident memory before and after a
//! run and its peak during it (sampled every 50 ms, `/proc/<pid>/status`), and the CPU time of
//! the server and of the load tool itself (`/proc/<pid>/stat`), so a figure comes with what it
//! cost.

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
pub(crate) struct ServerMemory {
    pub(crate) pid: u32,
    pub(crate) rss_before_kib: u64,
    pub(crate) rss_after_kib: u64,
    /// Highest resident set sampled during the run.
    pub(crate) peak_kib: u64,
}

/// User plus system CPU time of a process so far, in seconds: `"self"` for this process.
pub(crate) fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = cpu_ticks(&stat).with_context(|| format!("unexpected {path}: {stat:?}"))?;
    Ok(ticks as f64 / 100.0)
}

/// utime + stime of a `/proc/<pid>/stat` line, in clock ticks (`USER_HZ`: 100 a second on Linux
/// whatever the kernel's own tick).
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    let (_, after_name) = stat.rsplit_once(')')?;
    // utime and stime are fields 14 and 15; the first field after the name is field 3.
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
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
    fn reads_cpu_ticks_past_a_command_name_with_spaces_and_parentheses() {
        // Fields 14 (utime) and 15 (stime) are 7 and 5.
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 99\n";
        assert_eq!(cpu_ticks(stat), Some(12));
        assert_eq!(cpu_ticks("4242 (short) S 1 2"), None);
        assert_eq!(cpu_ticks("no name here"), None);
    }

    #[test]
    fn reads_its_own_rss_and_cpu() {
        let rss = rss_kib(std::process::id()).expect("own VmRSS");
        assert!(rss > 0);
        // CPU time moves in whole ticks, however long a fixed spin takes on a busy machine: burn
        // CPU until the process's count moves, so the reading is seen to advance. The wall-clock
        // bound only ends the test if the count never moves; nothing is measured against it.
        let before = cpu_seconds("self").expect("own CPU time");
        let give_up = std::time::Instant::now() + Duration::from_secs(120);
        let mut work = 0_u64;
        while cpu_seconds("self").expect("own CPU time") <= before {
            for i in 0..100_000_u64 {
                work = std::hint::black_box(work.wrapping_mul(31).wrapping_add(i));
            }
            assert!(
                std::time::Instant::now() < give_up,
                "CPU time stayed at {before} s while this test burned CPU"
            );
        }
    }
}
