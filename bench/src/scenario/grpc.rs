//! Unary gRPC load: C callers over a few HTTP/2 connections, and optionally the same Analyze
//! script run straight against Redis by `redis-benchmark` with the same concurrency, in the
//! same run, for the ratio.
//!
//! One HTTP/2 connection carries many calls at once but is served by one connection task on
//! each side, so callers are spread over `--connections` channels.

use anyhow::Context as _;
use serde_json::json;

use crate::{
    driver::{self, LoadArgs},
    grpc, redis_benchmark,
    report::Report,
    target::{Target, run_tag},
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GrpcArgs {
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    /// HTTP/2 connections the callers share; default one per 16 callers.
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// Then run Rift's Analyze script straight against Redis with redis-benchmark at the same
    /// concurrency, and report the ratio (needs --redis-url and redis-benchmark on PATH).
    #[arg(long)]
    pub(crate) vs_redis_benchmark: bool,
    /// The server's --max-events, so redis-benchmark trims the stream as Rift does.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_events: usize,
}

pub(crate) async fn run(target: &Target, args: &GrpcArgs) -> anyhow::Result<Report> {
    let load = &args.load;
    let connections = args
        .connections
        .unwrap_or_else(|| load.concurrency.div_ceil(16))
        .max(1);
    let tag = run_tag();
    let callers = grpc::callers(target, load.concurrency, connections, load.items, &tag).await?;
    let timing = load.timing();
    let operations = driver::drive(callers, load.op, timing).await?;
    let mut report = Report {
        scenario: "grpc",
        params: json!({
            "op": load.op,
            "concurrency": load.concurrency,
            "connections": connections,
            "items": load.items,
            "timing": timing,
        }),
        failures: driver::error_failures(&operations),
        operations,
        ..Report::default()
    };
    if args.vs_redis_benchmark {
        let redis_url = target
            .redis_url
            .as_deref()
            .context("--vs-redis-benchmark needs --redis-url")?;
        let grpc_ok = report.operations.first().map_or(0, |op| op.ok);
        let requests = grpc_ok.max(10_000);
        let direct = redis_benchmark::run_analyze(
            redis_url,
            load.concurrency,
            requests,
            load.items,
            args.max_events,
            &tag,
        )
        .await?;
        let grpc_rps = report
            .operations
            .iter()
            .find(|op| op.name == "analyze")
            .map_or(0.0, |op| op.throughput_per_s);
        report.figure("redis_benchmark", &direct);
        if direct.rps > 0.0 {
            report.figure(
                "grpc_analyze_to_redis_benchmark_ratio",
                (grpc_rps / direct.rps * 1000.0).round() / 1000.0,
            );
        }
    }
    Ok(report)
}
