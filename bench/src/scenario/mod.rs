//! The scenarios, one module each, and the run around every one: the server's memory watched,
//! and the CPU time of the server, the tool and Redis read before and after.

mod calls;
mod grpc;
mod idle;
mod subscribe;
mod ws;

use std::collections::BTreeMap;

use clap::Subcommand;

use crate::{process, redis_info, report::Report, target::Target};

/// What to drive.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum Scenario {
    /// Unary gRPC calls from C concurrent callers.
    Grpc(grpc::GrpcArgs),
    /// Natural-language WebSocket commands from C concurrent connections.
    Ws(ws::WsArgs),
    /// Subscribe fan-out: delivery latency, and every event delivered to everyone once.
    Subscribe(subscribe::SubscribeArgs),
    /// Idle WebSocket connections: server memory per connection.
    Idle(idle::IdleArgs),
    /// Redis calls per agent write, from INFO commandstats (needs --redis-url).
    Calls(calls::CallsArgs),
}

/// Runs `scenario` against `target`.
pub(crate) async fn run(target: &Target, scenario: Scenario) -> anyhow::Result<Report> {
    let memory = process::Watcher::start(target.server_pid)?;
    let cpu_before = cpu_usage(target).await;
    let started = std::time::Instant::now();
    let mut report = match scenario {
        Scenario::Grpc(args) => grpc::run(target, &args).await?,
        Scenario::Ws(args) => ws::run(target, &args).await?,
        Scenario::Subscribe(args) => subscribe::run(target, &args).await?,
        Scenario::Idle(args) => idle::run(target, &args).await?,
        Scenario::Calls(args) => calls::run(target, &args).await?,
    };
    let elapsed = started.elapsed().as_secs_f64();
    if report.server.is_none() {
        report.server = memory.finish()?;
    }
    let cpu_after = cpu_usage(target).await;
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
    if let Ok(bench) = process::cpu_seconds("self") {
        usage.insert("bench", bench);
    }
    if let Some(rift) = target
        .server_pid
        .and_then(|pid| process::cpu_seconds(&pid.to_string()).ok())
    {
        usage.insert("rift", rift);
    }
    if let Some(url) = &target.redis_url
        && let Ok(redis) = redis_info::cpu_seconds(url).await
    {
        usage.insert("redis", redis);
    }
    usage
}
