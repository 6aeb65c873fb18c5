//! The load tool (`rift-bench`, its own crate in `bench/`) still works: every scenario, at tiny
//! scale for about a second, against a Rift served in this process on a throwaway Redis.
//! Correctness only (no errors, every event delivered once, one Redis call per write, the JSON
//! report parses); never speed: figures come from running the tool by hand (BENCHMARKS.md), not
//! from tests.
//!
//! The binary is another package's, so Cargo does not hand its path to this test: it is found
//! beside `rift`, where `cargo nextest run --workspace` (or `cargo build --workspace`) builds
//! it. `bench/tests/cli.rs` covers what needs no server.

// tests/it's fixtures, of which this binary uses a few.
#[allow(dead_code)]
#[path = "it/support/mod.rs"]
mod support;

use std::{path::PathBuf, process::Stdio};

use serde_json::Value;
use support::{redis::RedisServer, rift::TestRift};

/// The `rift-bench` binary of this build, or a panic saying how to build it.
fn rift_bench() -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_rift"))
        .with_file_name(format!("rift-bench{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} not found: run the tests with `cargo nextest run --workspace` (or `cargo test \
         --workspace`), or build it first with `cargo build -p rift-bench`",
        path.display()
    );
    path
}

/// Runs `rift-bench --json <args>` against `rift` and returns its report; panics, with the
/// output, if it fails.
async fn bench(rift: &TestRift, redis: &RedisServer, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(rift_bench())
        .args(["--grpc-addr", &rift.grpc_addr.to_string()])
        .args(["--ws-url", &format!("ws://{}/ws", rift.http_addr)])
        .args(["--redis-url", &redis.url()])
        // Rift runs in this process.
        .args(["--server-pid", &std::process::id().to_string()])
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run rift-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "rift-bench {args:?} failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{stdout}"));
    assert_eq!(report["failures"], Value::Array(vec![]), "{report:#}");
    assert!(
        report["server"]["rss_after_kib"].as_u64() > Some(0),
        "{report:#}"
    );
    report
}

fn operation<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["operations"]
        .as_array()
        .and_then(|ops| ops.iter().find(|op| op["name"] == name))
        .unwrap_or_else(|| panic!("no operation {name} in {report:#}"))
}

fn assert_ran_clean(report: &Value, name: &str) {
    let op = operation(report, name);
    assert!(
        op["ok"].as_u64() > Some(0),
        "{name} ran no call: {report:#}"
    );
    assert_eq!(op["errors"], 0, "{report:#}");
    assert!(op["latency"]["p99_ms"].as_f64() > Some(0.0), "{report:#}");
}

const SHORT: [&str; 4] = ["--duration", "1s", "--warmup", "0s"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_mix_and_the_redis_benchmark_comparison() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let report = bench(
        &rift,
        &redis,
        &[&["grpc", "--op", "mix", "-c", "4"][..], &SHORT].concat(),
    )
    .await;
    for name in ["analyze", "narrate", "progress", "all"] {
        assert_ran_clean(&report, name);
    }

    let report = bench(
        &rift,
        &redis,
        &[&["grpc", "-c", "4", "--vs-redis-benchmark"][..], &SHORT].concat(),
    )
    .await;
    assert_ran_clean(&report, "analyze");
    assert!(
        report["figures"]["redis_benchmark"]["rps"].as_f64() > Some(0.0),
        "{report:#}"
    );
    assert!(report["figures"]["grpc_analyze_to_redis_benchmark_ratio"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_commands() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let report = bench(
        &rift,
        &redis,
        &[&["ws", "--op", "mix", "-c", "4"][..], &SHORT].concat(),
    )
    .await;
    for name in ["analyze", "narrate", "progress"] {
        assert_ran_clean(&report, name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_delivers_every_event_once() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let report = bench(
        &rift,
        &redis,
        &[
            "subscribe",
            "-s",
            "20",
            "-e",
            "100",
            "--connections",
            "3",
            "--duration",
            "1s",
        ],
    )
    .await;
    let figures = &report["figures"];
    let written = figures["events_written"].as_u64().expect("events_written");
    assert!(written > 0, "{report:#}");
    assert_eq!(figures["delivered_once"].as_u64(), Some(written * 20));
    assert_eq!(figures["missing"], 0);
    assert_eq!(figures["duplicates"], 0);
    assert_ran_clean(&report, "delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_measured() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let report = bench(&rift, &redis, &["idle", "-n", "50", "--settle", "100ms"]).await;
    assert!(report["figures"]["bytes_per_idle_connection"].is_number());
    assert!(report["figures"]["rss_connected_kib"].as_u64() > Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_call_per_write() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let report = bench(&rift, &redis, &["calls", "--count", "50"]).await;
    for kind in ["analyze", "narrate", "progress"] {
        assert_eq!(
            report["figures"][format!("{kind}_evalsha_per_call")].as_f64(),
            Some(1.0),
            "{report:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_report() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let output = tokio::process::Command::new(rift_bench())
        .args(["--grpc-addr", &rift.grpc_addr.to_string()])
        .args(["grpc", "-c", "2", "--duration", "200ms", "--warmup", "0s"])
        .output()
        .await
        .expect("run rift-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("scenario: grpc"), "{stdout}");
    assert!(stdout.contains("checks: passed"), "{stdout}");
}
