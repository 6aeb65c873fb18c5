//! `rift-bench`: a load tool that drives a running Rift and reports what it measured.
//!
//! It reaches Rift only as a user does: gRPC through the generated client (`rift::pb`) or
//! plain HTTP/2, WebSocket, and Redis's own `INFO`; from the library it takes one thing more,
//! the analyze script call ([`rift::domain::memory::analyze_script_call`]), to run it straight
//! against Redis beside `redis-benchmark`.
//!
//! Figures come from here, never from timed tests. Every scenario prints throughput, latency
//! percentiles (from an HDR histogram), errors and, given `--server-pid`, the server's resident
//! memory; `--json` prints the same report as one JSON object. A scenario that checks
//! correctness (every event delivered once, one Redis call per write) lists what failed in
//! `failures`, and the command then exits non-zero.
//!
//! # Layout
//!
//! Dependencies point down this list, never up:
//!
//! - [`scenario`]: one module per scenario (`grpc`, `ws`, `subscribe`, `idle`, `calls`), and
//!   the run around each (memory watched, CPU read before and after).
//! - [`h2_subscribers`]: Subscribe streams read straight off HTTP/2, many per task;
//!   [`notification`] reads the two fields a subscriber checks out of an encoded message.
//! - [`grpc`], [`ws`]: the clients: callers over the generated gRPC client, and WebSocket
//!   connections sending the natural-language commands.
//! - [`redis_benchmark`]: Rift's Analyze script straight against Redis by `redis-benchmark`;
//!   [`redis_info`]: what Redis says of itself (`INFO commandstats`, `INFO cpu`).
//! - [`driver`]: C concurrent callers in a closed loop for a fixed duration.
//! - [`report`], [`recorder`], [`process`], [`target`]: the report, latency histograms, what
//!   processes cost (from `/proc`), and the Rift under load.

mod driver;
mod grpc;
mod h2_subscribers;
mod notification;
mod process;
mod recorder;
mod redis_benchmark;
mod redis_info;
mod report;
mod scenario;
mod target;
mod ws;

use std::{io::Write, path::PathBuf};

use anyhow::Context as _;
use clap::Parser;

/// The same allocator as the server's, as when these figures were first taken inside `rift`:
/// the load tool allocates per call too, and shares the machine's cores with what it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What to drive, and how to report it.
#[derive(Debug, Parser)]
#[command(
    name = "rift-bench",
    version,
    about = "Drive a running Rift and report throughput, latency, delivery and memory"
)]
struct Cli {
    #[command(flatten)]
    target: target::Target,
    /// Print the report as one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, global = true)]
    json_file: Option<PathBuf>,
    /// Worker threads of the load tool. One by default: the tool shares the machine with Rift
    /// and Redis, and with one thread it neither takes more than a core from them nor pays
    /// for waking its own threads (BENCHMARKS.md).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    scenario: scenario::Scenario,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(cli, &mut std::io::stdout().lock()))
}

/// Runs the scenario, writes the report to `out` (text or JSON), and fails if a check failed.
async fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let Cli {
        target,
        json,
        json_file,
        threads: _,
        scenario,
    } = cli;
    let report = scenario::run(&target, scenario).await?;
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

/// Logs on stderr (`RUST_LOG`, default `info`), so stdout holds only the report.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
