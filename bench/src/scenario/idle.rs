//! Idle WebSocket connections: opens N, and reports the server's resident memory per
//! connection, first for connections that only did the handshake, then after each has run one
//! command (buffers that grow on first use show up there).
//!
//! Needs `--server-pid`, and file descriptors for N sockets on both sides (`ulimit -n`), and a
//! server whose `--max-connections` is at least N.

use std::time::Duration;

use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    driver::{Kind, parse_duration},
    process::rss_kib,
    report::Report,
    target::{Target, run_tag},
    ws::{self, Socket},
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IdleArgs {
    /// Connections to open and hold.
    #[arg(long, short = 'n', default_value_t = 10_000)]
    pub(crate) connections: usize,
    /// Handshakes in flight at once while opening.
    #[arg(long, default_value_t = 256)]
    pub(crate) parallel: usize,
    /// Pause before each memory reading, so the server settles.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub(crate) settle: Duration,
}

async fn open_all(target: &Target, count: usize, parallel: usize) -> anyhow::Result<Vec<Socket>> {
    let opened: Vec<anyhow::Result<Socket>> = stream::iter(0..count)
        .map(|_| ws::connect(target))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    opened.into_iter().collect()
}

pub(crate) async fn run(target: &Target, args: &IdleArgs) -> anyhow::Result<Report> {
    let pid = target
        .server_pid
        .context("the idle scenario measures the server: give --server-pid")?;
    let count = args.connections.max(1);
    tokio::time::sleep(args.settle).await;
    let before = rss_kib(pid)?;
    let mut sockets = open_all(target, count, args.parallel)
        .await
        .with_context(|| format!("opening {count} WebSocket connections (is ulimit -n high enough on both sides, and --max-connections?)"))?;
    tokio::time::sleep(args.settle).await;
    let connected = rss_kib(pid)?;

    // One command each, then idle again.
    let command = Message::text(format!("Check progress for task {}", run_tag()));
    let failures: Vec<String> = stream::iter(sockets.iter_mut())
        .map(|socket| {
            let command = command.clone();
            async move { ws::exchange(socket, command, Kind::Progress, &ws::Replies::Rift).await }
        })
        .buffer_unordered(args.parallel.max(1))
        .filter_map(
            |result| async move { result.err().map(|e| format!("{} {}", e.code, e.message)) },
        )
        .collect()
        .await;
    tokio::time::sleep(args.settle).await;
    let used = rss_kib(pid)?;

    stream::iter(sockets)
        .for_each_concurrent(args.parallel.max(1), ws::close)
        .await;

    let per_connection = |after: u64| (after.saturating_sub(before) * 1024) as f64 / count as f64;
    let mut report = Report {
        scenario: "idle",
        params: json!({ "connections": count, "settle_s": args.settle.as_secs_f64() }),
        ..Report::default()
    };
    report.figure("rss_before_kib", before);
    report.figure("rss_connected_kib", connected);
    report.figure("rss_after_one_command_kib", used);
    report.figure(
        "bytes_per_idle_connection",
        per_connection(connected).round(),
    );
    report.figure(
        "bytes_per_connection_after_one_command",
        per_connection(used).round(),
    );
    if !failures.is_empty() {
        report.failures.push(format!(
            "{} connections failed their command: {:?}",
            failures.len(),
            failures.first()
        ));
    }
    Ok(report)
}
