//! The Rift under load, what the tool may read about it, and the tasks it writes there.

use std::{
    net::SocketAddr,
    time::{SystemTime, UNIX_EPOCH},
};

/// Where Rift is, and what the tool may read about it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Target {
    /// Rift's gRPC address.
    #[arg(long, global = true, default_value = "127.0.0.1:50051")]
    pub(crate) grpc_addr: SocketAddr,
    /// Rift's WebSocket URL.
    #[arg(long, global = true, default_value = "ws://127.0.0.1:8000/ws")]
    pub(crate) ws_url: String,
    /// The server's process id: its memory (VmRSS, VmHWM) is read from /proc before and after.
    #[arg(long, global = true)]
    pub(crate) server_pid: Option<u32>,
    /// The Redis Rift uses (redis://host:port or unix:///path.sock), for `INFO commandstats`
    /// and redis-benchmark.
    #[arg(long, global = true)]
    pub(crate) redis_url: Option<String>,
    /// Bearer token to present, when Rift asks for one.
    #[arg(long, global = true, env = "RIFT_BENCH_TOKEN")]
    pub(crate) token: Option<String>,
}

impl Target {
    /// The `authorization` header value for the token (`Bearer <token>`), when there is one.
    pub(crate) fn authorization(&self) -> Option<String> {
        self.token.as_ref().map(|token| format!("Bearer {token}"))
    }
}

/// A tag that keeps this run's task ids apart from earlier runs on the same Redis.
pub(crate) fn run_tag() -> String {
    format!("bench-{}-{}", std::process::id(), run_millis())
}

/// The same, in digits only (the prototype accepts nothing else as a task id): the process id
/// and the time, each zero-padded, so `tag` followed by a caller's number stays apart too.
pub(crate) fn numeric_run_tag() -> String {
    format!("{:07}{:09}", std::process::id(), run_millis())
}

fn run_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        % 1_000_000_000
}

/// The data every Analyze sends: `["data1", "data2", ...]`, as in the README.
pub(crate) fn sample_data(items: usize) -> Vec<String> {
    (1..=items).map(|i| format!("data{i}")).collect()
}
