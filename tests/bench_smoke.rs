//! The load tool (`rift-bench`, its own crate in `bench/`) still works: every scenario, at tiny
//! scale for about a second, against a Rift served in this process on a throwaway Redis, and
//! its prototype mode against the real Python prototype (`../shared/prototype/`, served by
//! uvicorn from `.venv` on a Redis of its own). Then what the benchmark scripts read
//! (`scripts/bench_report.py`) on that real output and on a real callgrind dump. Correctness
//! only (no errors, every event delivered once, one Redis call per write, the JSON report
//! parses, the parsed numbers are the tools' own); never speed: figures come from running the
//! tools by hand (BENCHMARKS.md), not from tests.
//!
//! The binary is another package's, so Cargo does not hand its path to this test: it is found
//! beside `rift`, where `cargo nextest run --workspace` (or `cargo build --workspace`) builds
//! it. `bench/tests/cli.rs` covers what needs no server.

// tests/it's fixtures, of which this binary uses a few.
#[allow(dead_code)]
#[path = "it/support/mod.rs"]
mod support;

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;
use support::{redis::RedisServer, rift::TestRift, tools};

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

/// The project's root, where `scripts/` is.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python prototype served by uvicorn on a free port, on `redis`; killed when dropped.
struct Prototype {
    child: Child,
    port: u16,
}

impl Prototype {
    /// Starts it from `../shared/prototype/app` (its imports are relative to that directory)
    /// and waits for uvicorn to say where it listens.
    fn start(redis: &RedisServer) -> Self {
        let app = root().join("../shared/prototype/app");
        assert!(
            app.join("main.py").is_file(),
            "the prototype is not at {}: it comes with the project's shared/ folder beside \
             the checkout",
            app.display()
        );
        let uvicorn = tools::find(
            "uvicorn",
            "RIFT_UVICORN",
            "-r scripts/requirements-bench.txt",
        );
        let mut child = Command::new(uvicorn)
            .args(["main:app", "--host", "127.0.0.1", "--port", "0"])
            .current_dir(&app)
            .env("PROTOTYPE_REDIS_HOST", "127.0.0.1")
            .env("PROTOTYPE_REDIS_PORT", redis.port().to_string())
            // A debug line per Redis call, as published.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start uvicorn");
        // uvicorn logs on stderr; a thread keeps draining it so the server never blocks.
        let stderr = child.stderr.take().expect("piped stderr");
        let (lines, log) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut seen = String::new();
        let port = loop {
            match log.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let listening = line
                        .split_once("Uvicorn running on http://127.0.0.1:")
                        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok());
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(port) = listening {
                        break port;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("the prototype did not start ({e}):\n{seen}");
                }
            }
        };
        Self { child, port }
    }

    fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }
}

impl Drop for Prototype {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rift-bench <args>` and returns whether it succeeded, its stdout and its stderr.
async fn rift_bench_output(args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(rift_bench())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run rift-bench");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs `python3 scripts/bench_report.py <args>`: whether it succeeded, stdout, stderr.
fn bench_report(args: &[&str]) -> (bool, String, String) {
    let output = Command::new("python3")
        .arg(root().join("scripts/bench_report.py"))
        .args(args)
        .output()
        .expect("run python3 (scripts/bench_report.py needs it)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prototype_by_the_same_tool_and_the_ratio() {
    let prototype_redis = RedisServer::start_master(&[]);
    let prototype = Prototype::start(&prototype_redis);
    let prototype_redis_url = format!("redis://127.0.0.1:{}", prototype_redis.port());
    let dir = tempfile::tempdir().expect("temporary directory");
    let prototype_json = dir.path().join("prototype.json");
    let prototype_json = prototype_json.to_str().expect("UTF-8 path");
    let pid = prototype.child.id().to_string();

    // Every command of the task flow, each reply exactly the prototype's; a fixed count.
    let ws_url = prototype.ws_url();
    let (ok, stdout, stderr) = rift_bench_output(&[
        "--ws-url",
        &ws_url,
        "--redis-url",
        &prototype_redis_url,
        "--server-pid",
        &pid,
        "--json",
        "--json-file",
        prototype_json,
        "ws",
        "--server",
        "prototype",
        "--op",
        "mix",
        "-c",
        "3",
        "--count",
        "30",
        "--warmup",
        "0s",
    ])
    .await;
    assert!(
        ok,
        "rift-bench against the prototype failed:\n{stdout}\n{stderr}"
    );
    let report = support::json(&stdout);
    assert_eq!(report["failures"], Value::Array(vec![]), "{report:#}");
    assert_eq!(report["params"]["server"], "prototype", "{report:#}");
    for name in ["analyze", "narrate", "progress"] {
        assert_ran_clean(&report, name);
    }
    assert_eq!(operation(&report, "all")["ok"], 30, "--count: {report:#}");
    // What the prototype stored is its own layout, under the numeric ids the tool sent.
    let mut redis = redis::Client::open(prototype_redis_url.as_str())
        .and_then(|client| client.get_connection())
        .expect("connect to the prototype's Redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("TechAgent:analysis:*")
        .query(&mut redis)
        .expect("KEYS");
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter().all(|key| key
            .trim_start_matches("TechAgent:analysis:")
            .bytes()
            .all(|b| b.is_ascii_digit())),
        "{keys:?}"
    );

    // The same load on Rift, then the ratio the script prints from both reports.
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let rift_json = dir.path().join("rift.json");
    let rift_json = rift_json.to_str().expect("UTF-8 path");
    let rift_ws = format!("ws://{}/ws", rift.http_addr);
    let (ok, stdout, stderr) = rift_bench_output(&[
        "--ws-url",
        &rift_ws,
        "--json-file",
        rift_json,
        "ws",
        "-c",
        "3",
        "--count",
        "30",
        "--warmup",
        "0s",
    ])
    .await;
    assert!(ok, "rift-bench against Rift failed:\n{stdout}\n{stderr}");
    let (ok, stdout, stderr) = bench_report(&["compare", rift_json, prototype_json]);
    assert!(ok, "{stdout}\n{stderr}");
    let rift_report = support::json(&std::fs::read_to_string(rift_json).expect("report"));
    let prototype_report = support::json(&std::fs::read_to_string(prototype_json).expect("report"));
    let expected = operation(&rift_report, "analyze")["throughput_per_s"]
        .as_f64()
        .expect("rate")
        / operation(&prototype_report, "analyze")["throughput_per_s"]
            .as_f64()
            .expect("rate");
    assert!(
        stdout.contains(&format!("ratio rift/prototype: {expected:.1}")),
        "{expected:.1} not in:\n{stdout}"
    );
    // Two Rift reports are no comparison with the prototype.
    let (ok, _, stderr) = bench_report(&["compare", rift_json, rift_json]);
    assert!(
        !ok && stderr.contains("not of a `--server prototype` run"),
        "{stderr}"
    );

    // Rift's Analyze reply carries more than the prototype's: checked as the prototype's, it
    // fails, so the check can fail.
    let (ok, stdout, _) = rift_bench_output(&[
        "--ws-url",
        &rift_ws,
        "--json",
        "ws",
        "--server",
        "prototype",
        "-c",
        "1",
        "--count",
        "1",
    ])
    .await;
    assert!(!ok, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counted_run_makes_exactly_that_many_calls() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    // Once first: a fresh Redis answers the script's first call NOSCRIPT, and Rift sends it
    // again, which Redis counts too.
    bench(&rift, &redis, &["grpc", "-c", "1", "--count", "1"]).await;
    let before = redis.commandstats().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let json_file = dir.path().join("report.json");
    let json_file = json_file.to_str().expect("UTF-8 path");
    let report = bench(
        &rift,
        &redis,
        &[
            "--json-file",
            json_file,
            "grpc",
            "-c",
            "4",
            "--count",
            "25",
            "--warmup",
            "0s",
        ],
    )
    .await;
    assert_eq!(operation(&report, "analyze")["ok"], 25, "{report:#}");
    // Rift's CPU per item, as bench.sh prints it: over every call it served, the 4 callers'
    // preparing ones included.
    let (ok, stdout, stderr) = bench_report(&["per-item", json_file]);
    assert!(ok, "{stderr}");
    let rift_cpu = report["figures"]["cpu_seconds"]["rift"]
        .as_f64()
        .expect("Rift's CPU seconds");
    let expected = rift_cpu / 29.0 / 3.0 * 1e9;
    assert_eq!(stdout.trim(), format!("{expected:.1}"), "{report:#}");
    let after = redis.commandstats().await;
    let evalsha = |stats: &std::collections::BTreeMap<String, (u64, u64)>| {
        stats.get("evalsha").map_or(0, |(calls, _)| *calls)
    };
    // 25 measured, and each of the 4 callers' first Analyze (its task's preparation).
    assert_eq!(evalsha(&after) - evalsha(&before), 29);
}

/// valgrind, or a panic saying how to get it.
fn valgrind() -> &'static str {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "valgrind not found: `apt-get install valgrind` (scripts/test.sh installs it)"
    );
    "valgrind"
}

#[test]
fn callgrind_dumps_and_the_arithmetic_are_read_as_the_tools_count() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dump = dir.path().join("callgrind.out");
    let output = Command::new(valgrind())
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", dump.display()))
        .arg(rift_bench())
        .arg("--version")
        .output()
        .expect("run valgrind");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // valgrind's own count, as it prints it: "Collected : 1234567".
    let collected: u64 = stderr
        .lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Collected line in:\n{stderr}"));
    let (ok, stdout, stderr) = bench_report(&["callgrind-total", dump.to_str().expect("UTF-8")]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim().parse::<u64>().ok(), Some(collected));
    assert!(collected > 0);

    // (I(2N) - I(N) - idle per second * extra seconds) / N.
    assert_eq!(
        bench_report(&["per-op", "10", "1000", "3000"]).1.trim(),
        "200"
    );
    assert_eq!(
        bench_report(&["per-op", "10", "1000", "3000", "10", "5"])
            .1
            .trim(),
        "195"
    );
    // w = 100 per write, d = 7 per delivery, setup a(S) = 1000 S: runs of 10 and 30 events
    // at 1 and 11 subscribers.
    let j = |s: u64, e: u64| (1000 * s + e * (100 + s * 7)).to_string();
    let (ok, stdout, stderr) = bench_report(&[
        "delivery",
        "1",
        "11",
        &j(1, 10),
        &j(1, 30),
        "10",
        "30",
        &j(11, 10),
        &j(11, 30),
        "10",
        "30",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("7 per delivery"), "{stdout}");
    // Anything else is refused, not misread.
    assert!(!bench_report(&["callgrind-total", file!()]).0);
}
