//! Fixtures shared by the integration tests.
//!
//! - [`grpc`]: request values and the rich error details of a `tonic::Status`.
//! - [`redis`]: a throwaway `redis-server` per test ([`redis::RedisServer`]), on a unix
//!   socket in a temporary directory, killed when dropped; plain clients to read back what
//!   Rift wrote.
//! - [`prototype`]: the Python prototype, run for real on a test's Redis.
//! - [`rift`]: Rift itself under test, in this process or as a `rift` process.
//! - [`cluster`]: a Redis Cluster (three masters, three replicas) on free ports.
//! - [`sentinel`]: a Sentinel group (a master, a replica, three Sentinels) on free ports.
//! - [`tools`]: external clients the tests drive (grpcurl, websocat).
//! - [`ws`]: a WebSocket client that tells replies from pushes.
//! - [`browser`]: a headless Chromium driven over its DevTools protocol.

pub(crate) mod browser;
pub(crate) mod cluster;
pub(crate) mod grpc;
pub(crate) mod prototype;
pub(crate) mod redis;
pub(crate) mod rift;
pub(crate) mod sentinel;
pub(crate) mod tools;
pub(crate) mod ws;

/// Parses `text` as JSON, failing the test with the text if it is not.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
