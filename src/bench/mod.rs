//! `rift bench`: a load tool that drives a running Rift and reports what it measured.
//!
//! Figures come from here, never from timed tests. Every scenario prints throughput, latency
//! percentiles (from an HDR histogram), errors and, given `--server-pid`, the server's resident
//! memory; `--json` prints the same report as one JSON object. A scenario that checks
//! correctness (every event delivered once, one Redis call per write) lists what failed in
//! `failures`, and the command then exits non-zero.
//!
//! # Layout
//!
//! - `recorder`: latency histograms, merged once at the end.
//! - `driver`: C concurrent callers in a closed loop for a fixed duration.
//! - `grpc`: Analyze, Narrate, Progress or a mix over the generated client; optionally the same
//!   script run straight against Redis by `redis-benchmark`, in the same run, for the ratio.
//! - `ws`: the natural-language commands over WebSocket, each waiting for its reply.
//! - `subscribe`: S subscribers while writers emit E events/s: delivery latency, and every
//!   subscriber got every event exactly once.
//! - `idle`: N idle WebSocket connections and the server memory each costs.
//! - `calls`: Redis calls per agent write, from `INFO commandstats` before and after.
//! - `server`: the server process's memory, from `/proc/<pid>/status`.
//!
//! Report output goes to a writer the caller passes in; only `main.rs` writes to stdout.

mod calls;
mod driver;
mod grpc;
mod h2_subscribers;
mod idle;
mod recorder;
mod server;
mod subscribe;
mod ws;

use std::{
    collections::BTreeMap,
    io::Write,
    net::SocketAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

pub(crate) use self::recorder::Recorder;
pub use self::{
    calls::CallsArgs, grpc::GrpcArgs, idle::IdleArgs, recorder::Latency, server::ServerMemory,
    subscribe::SubscribeArgs, ws::WsArgs,
};

/// `rift bench`: what to drive, and how to report it.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub target: Target,
    /// Print the report as one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, global = true)]
    pub json_file: Option<std::path::PathBuf>,
    /// Worker threads of the load tool. One by default: the tool shares the machine with Rift
    /// and Redis, and with one thread it neither takes more than a core from them nor pays
    /// for waking its own threads (BENCHMARKS.md).
    #[arg(long, global = true, default_value_t = 1)]
    pub threads: usize,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// The Rift under load, and what the tool may read about it.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Rift's gRPC address.
    #[arg(long, global = true, default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Rift's WebSocket URL.
    #[arg(long, global = true, default_value = "ws://127.0.0.1:8000/ws")]
    pub ws_url: String,
    /// The server's process id: its memory (VmRSS, VmHWM) is read from /proc before and after.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// The Redis Rift uses (redis://host:port or unix:///path.sock), for `INFO commandstats`
    /// and redis-benchmark.
    #[arg(long, global = true)]
    pub redis_url: Option<String>,
    /// Bearer token to present, when Rift asks for one.
    #[arg(long, global = true, env = "RIFT_BENCH_TOKEN")]
    pub token: Option<String>,
}

impl Target {
    /// The `authorization` header value for the token (`Bearer <token>`), when there is one.
    pub(crate) fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|token| format!("Bearer {token}"))
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Unary gRPC calls from C concurrent callers.
    Grpc(GrpcArgs),
    /// Natural-language WebSocket commands from C concurrent connections.
    Ws(WsArgs),
    /// Subscribe fan-out: delivery latency, and every event delivered to everyone once.
    Subscribe(SubscribeArgs),
    /// Idle WebSocket connections: server memory per connection.
    Idle(IdleArgs),
    /// Redis calls per agent write, from INFO commandstats (needs --redis-url).
    Calls(CallsArgs),
}

/// Which operation callers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Analyze,
    Narrate,
    Progress,
    /// Each caller cycles Analyze, Narrate, Progress: the task flow.
    Mix,
}

impl Op {
    /// The single operation the `i`-th call of a caller runs.
    pub(crate) fn nth(self, i: u64) -> Kind {
        match self {
            Op::Analyze => Kind::Analyze,
            Op::Narrate => Kind::Narrate,
            Op::Progress => Kind::Progress,
            Op::Mix => Kind::ALL[(i % 3) as usize],
        }
    }
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Analyze,
    Narrate,
    Progress,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Analyze, Kind::Narrate, Kind::Progress];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Analyze => "analyze",
            Kind::Narrate => "narrate",
            Kind::Progress => "progress",
        }
    }
}

/// How long callers run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Measured.
    #[serde(serialize_with = "serialize_secs")]
    pub duration: Duration,
    /// Run but not measured, before `duration`.
    #[serde(serialize_with = "serialize_secs")]
    pub warmup: Duration,
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// What a scenario measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// The settings it ran with.
    pub params: serde_json::Value,
    /// Per operation, plus `all` when there are several.
    pub operations: Vec<OperationReport>,
    /// The server's memory, when `--server-pid` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerMemory>,
    /// Scenario-specific figures (delivery counts, bytes per connection, ratios, ...).
    pub figures: BTreeMap<String, serde_json::Value>,
    /// Failed correctness checks; empty when all passed.
    pub failures: Vec<String>,
}

/// Throughput, latency and errors of one operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OperationReport {
    pub name: String,
    pub ok: u64,
    pub errors: u64,
    /// Successful calls per second of measured time.
    pub throughput_per_s: f64,
    pub latency: Latency,
    /// Error counts by code (gRPC status code, or the WebSocket error frame's code).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_codes: BTreeMap<String, u64>,
    /// One message per error code, to tell what went wrong.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub error_samples: BTreeMap<String, String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    fn figure(&mut self, name: &str, value: impl Serialize) {
        self.figures.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
    }

    /// Human-readable, one fact per line.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "scenario: {}", self.scenario)?;
        writeln!(out, "params: {}", self.params)?;
        if !self.operations.is_empty() {
            writeln!(
                out,
                "{:<10} {:>10} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "op",
                "ok",
                "errors",
                "per second",
                "mean ms",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms"
            )?;
            for op in &self.operations {
                let l = &op.latency;
                writeln!(
                    out,
                    "{:<10} {:>10} {:>7} {:>11.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    op.name,
                    op.ok,
                    op.errors,
                    op.throughput_per_s,
                    l.mean_ms,
                    l.p50_ms,
                    l.p90_ms,
                    l.p99_ms,
                    l.max_ms
                )?;
                for (code, count) in &op.error_codes {
                    let sample = op.error_samples.get(code).map_or("", String::as_str);
                    writeln!(out, "  error {code} x{count}: {sample}")?;
                }
            }
        }
        if let Some(server) = &self.server {
            writeln!(
                out,
                "server pid {}: rss before {} KiB, after {} KiB, peak {} KiB",
                server.pid, server.rss_before_kib, server.rss_after_kib, server.peak_kib
            )?;
        }
        for (name, value) in &self.figures {
            writeln!(out, "{name}: {value}")?;
        }
        if self.failures.is_empty() {
            writeln!(out, "checks: passed")?;
        } else {
            for failure in &self.failures {
                writeln!(out, "FAILED: {failure}")?;
            }
        }
        Ok(())
    }
}

/// Runs the scenario `args` names.
pub async fn run(args: BenchArgs) -> anyhow::Result<Report> {
    let BenchArgs {
        target, scenario, ..
    } = args;
    let memory = server::Watcher::start(target.server_pid)?;
    let cpu_before = cpu_usage(&target).await;
    let started = std::time::Instant::now();
    let mut report = match scenario {
        Scenario::Grpc(args) => grpc::run(&target, &args).await?,
        Scenario::Ws(args) => ws::run(&target, &args).await?,
        Scenario::Subscribe(args) => subscribe::run(&target, &args).await?,
        Scenario::Idle(args) => idle::run(&target, &args).await?,
        Scenario::Calls(args) => calls::run(&target, &args).await?,
    };
    let elapsed = started.elapsed().as_secs_f64();
    if report.server.is_none() {
        report.server = memory.finish()?;
    }
    let cpu_after = cpu_usage(&target).await;
    let cpu: BTreeMap<&str, f64> = cpu_after
        .iter()
        .filter_map(|(who, after)| {
            let before = cpu_before.get(who)?;
            Some((*who, ((after - before) * 100.0).round() / 100.0))
        })
        .collect();
    // Setup (connecting, preparing tasks) is included; it is small beside the measured time.
    report.figure("cpu_seconds", &cpu);
    report.figure("elapsed_seconds", (elapsed * 100.0).round() / 100.0);
    report.figure(
        "loadavg",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim(),
    );
    Ok(report)
}

/// CPU seconds used so far by the server (`rift`), this tool (`bench`) and Redis (`redis`),
/// as far as each can be read.
async fn cpu_usage(target: &Target) -> BTreeMap<&'static str, f64> {
    let mut usage = BTreeMap::new();
    if let Ok(bench) = server::cpu_seconds("self") {
        usage.insert("bench", bench);
    }
    if let Some(rift) = target
        .server_pid
        .and_then(|pid| server::cpu_seconds(&pid.to_string()).ok())
    {
        usage.insert("rift", rift);
    }
    if let Some(url) = &target.redis_url
        && let Ok(redis) = calls::redis_cpu_seconds(url).await
    {
        usage.insert("redis", redis);
    }
    usage
}

/// Runs `args`, writes the report to `out` (text or JSON), and fails if a check failed.
pub async fn main(args: BenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let json = args.json;
    let json_file = args.json_file.clone();
    let report = run(args).await?;
    if let Some(path) = json_file {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        report.write_text(out)?;
    }
    out.flush()?;
    anyhow::ensure!(
        report.passed(),
        "{} check(s) failed: {}",
        report.failures.len(),
        report.failures.join("; ")
    );
    Ok(())
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

/// A tag that keeps this run's task ids apart from earlier runs on the same Redis.
pub(crate) fn run_tag() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("bench-{}-{}", std::process::id(), ms % 1_000_000_000)
}

/// The data every Analyze sends: `["data1", "data2", ...]`, as in the README.
pub(crate) fn sample_data(items: usize) -> Vec<String> {
    (1..=items).map(|i| format!("data{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn mix_cycles_the_task_flow() {
        let kinds: Vec<_> = (0..4).map(|i| Op::Mix.nth(i)).collect();
        assert_eq!(
            kinds,
            [Kind::Analyze, Kind::Narrate, Kind::Progress, Kind::Analyze]
        );
        assert_eq!(Op::Narrate.nth(7), Kind::Narrate);
    }
}
