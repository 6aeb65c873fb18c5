//! The `rift` binary as a client: `analyze`, `narrate`, `progress`, `watch`, run for real
//! against a Rift on loopback backed by a real `redis-server`, checking exactly what a person
//! or a script sees: stdout, stderr and the exit status.

use std::{
    process::{Output, Stdio},
    time::Duration,
};

use crate::support::{
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpListener,
    process::Command,
};

/// `rift <args>` with a clean environment: no address, token or log format inherited.
fn rift(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rift"));
    command
        .args(args)
        .env_remove("RIFT_ADDR")
        .env_remove("RIFT_TOKEN")
        .env_remove("RIFT_LOG_FORMAT")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `rift <args> --addr <rift>` to completion.
async fn run(rift_server: &TestRift, args: &[&str]) -> Output {
    let addr = format!("http://{}", rift_server.grpc_addr);
    tokio::time::timeout(
        Duration::from_secs(60),
        rift(args).args(["--addr", &addr]).output(),
    )
    .await
    .expect("rift finished within 60 s")
    .expect("run the rift binary")
}

fn stdout(output: &Output) -> &str {
    std::str::from_utf8(&output.stdout).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> &str {
    std::str::from_utf8(&output.stderr).expect("utf-8 stderr")
}

/// Asserts success and returns stdout.
fn ok(output: &Output) -> &str {
    assert!(
        output.status.success(),
        "rift failed ({}):\n{}",
        output.status,
        stderr(output)
    );
    stdout(output)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn the_task_flow_as_text() {
    let (_redis, server) = TestRift::with_redis().await;

    let analyzed = run(
        &server,
        &["analyze", "101", "--data", r#"["data1", "data2", "data3"]"#],
    )
    .await;
    assert_eq!(
        ok(&analyzed),
        "task 101: Analyzed 3 items (analysis version 1)\n\
         \x20 items: 3 strings\n\
         \x20 strings: 3 distinct; most frequent: data1 ×1, data2 ×1, data3 ×1\n"
    );

    let narrated = run(&server, &["narrate", "101"]).await;
    assert_eq!(
        ok(&narrated),
        "The analysis for task 101 concluded: Analyzed 3 items.\n"
    );

    let progress = run(&server, &["progress", "101"]).await;
    assert_eq!(
        ok(&progress),
        "task 101: COMPLETED (analysis version 1, narrative built on version 1)\n"
    );
    let untouched = run(&server, &["progress", "202"]).await;
    assert_eq!(ok(&untouched), "task 202: NOT_STARTED\n");
}

#[tokio::test]
async fn the_task_flow_as_json_with_the_address_from_the_environment() {
    let (_redis, server) = TestRift::with_redis().await;
    let addr = server.grpc_addr.to_string(); // no scheme: http:// is assumed
    let run_env = |args: &[&str]| {
        let mut command = rift(args);
        command.env("RIFT_ADDR", &addr);
        command.output()
    };

    let analyzed = run_env(&[
        "analyze",
        "t-1",
        "--data",
        r#"[1, 2.5, "a", "a", "b", null, true, [1], {"k": "v"}]"#,
        "--json",
    ])
    .await
    .expect("run rift analyze");
    assert_eq!(
        json_lines(ok(&analyzed)),
        [json!({
            "task_id": "t-1",
            "summary": "Analyzed 9 items",
            "version": 1,
            "stats": {
                "item_count": 9,
                "types": {"nulls": 1, "booleans": 1, "numbers": 2, "strings": 3, "lists": 1, "objects": 1},
                "numbers": {"count": 2, "min": 1.0, "max": 2.5, "mean": 1.75, "sum": 3.5},
                "strings": {"count": 3, "distinct": 2, "top": [{"value": "a", "count": 2}, {"value": "b", "count": 1}]},
            },
        })]
    );

    let narrated = run_env(&["narrate", "t-1", "--json"])
        .await
        .expect("run rift narrate");
    assert_eq!(
        json_lines(ok(&narrated)),
        [json!({
            "task_id": "t-1",
            "narrative": "The analysis for task t-1 concluded: Analyzed 9 items.",
            "analysis_version": 1,
        })]
    );

    let progress = run_env(&["progress", "t-1", "--json"])
        .await
        .expect("run rift progress");
    assert_eq!(
        json_lines(ok(&progress)),
        [json!({
            "task_id": "t-1",
            "status": "COMPLETED",
            "analysis_version": 1,
            "narrative_analysis_version": 1,
        })]
    );
}

#[tokio::test]
async fn failures_print_the_code_and_details_and_exit_non_zero() {
    let (_redis, server) = TestRift::with_redis().await;

    let missing = run(&server, &["narrate", "nope"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stdout(&missing), "");
    assert_eq!(
        stderr(&missing),
        "rift: FAILED_PRECONDITION: task nope has no analysis yet: analyze it first\n\
         \x20 reason: ANALYSIS_MISSING (domain rift.v1)\n"
    );

    let invalid = run(&server, &["analyze", "bad id", "--data", "[]", "--json"]).await;
    assert_eq!(invalid.status.code(), Some(1));
    let error = &json_lines(stderr(&invalid))[0]["error"];
    assert_eq!(error["code"], "INVALID_ARGUMENT");
    assert_eq!(error["field_violations"][0]["field"], "task_id");

    let text = run(&server, &["progress", ""]).await;
    assert_eq!(text.status.code(), Some(1));
    assert!(
        stderr(&text).starts_with("rift: INVALID_ARGUMENT: ")
            && stderr(&text).contains("\n  field task_id: "),
        "{}",
        stderr(&text)
    );

    // The command line itself is wrong: nothing is sent, exit status 2.
    let not_a_list = run(&server, &["analyze", "101", "--data", r#"{"a": 1}"#]).await;
    assert_eq!(not_a_list.status.code(), Some(2));
    assert!(
        stderr(&not_a_list).contains("--data must be a JSON list"),
        "{}",
        stderr(&not_a_list)
    );
}

#[tokio::test]
async fn an_unreachable_rift_is_unavailable() {
    // A port that was just free: nothing listens there once the listener is dropped.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let output = rift(&["progress", "101", "--addr", &addr, "--json"])
        .output()
        .await
        .expect("run rift");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_lines(stderr(&output))[0]["error"]["code"],
        "UNAVAILABLE"
    );
}

/// Three writes, then `watch --from 0` replays all three, and `--from <first id>` exactly the
/// two after it.
#[tokio::test]
async fn watch_replays_and_resumes() {
    let (_redis, server) = TestRift::with_redis().await;
    ok(&run(&server, &["analyze", "101", "--data", r#"["x"]"#]).await);
    ok(&run(&server, &["narrate", "101"]).await);
    ok(&run(&server, &["progress", "101"]).await);
    // Another task's write, which a watch of task 101 must not show.
    ok(&run(&server, &["analyze", "202", "--data", "[]"]).await);

    let all = run(
        &server,
        &["watch", "101", "--from", "0", "--count", "3", "--json"],
    )
    .await;
    let events = json_lines(ok(&all));
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["analysis_stored", "narrative_stored", "progress_completed"]
    );
    assert_eq!(events[0]["agent"], "TechAgent");
    assert_eq!(events[0]["payload"]["summary"], "Analyzed 1 items");
    assert!(events.iter().all(|e| e["task_id"] == "101"));

    let first = events[0]["id"].as_str().expect("id");
    let resumed = run(
        &server,
        &["watch", "101", "--from", first, "--count", "2", "--json"],
    )
    .await;
    let ids: Vec<Value> = json_lines(ok(&resumed))
        .into_iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, [events[1]["id"].clone(), events[2]["id"].clone()]);
}

/// `watch` without `--from` shows what happens after it started: it says when it is watching
/// (on stderr), and the next write appears on stdout while it runs.
#[tokio::test]
async fn watch_follows_live_writes() {
    let (_redis, server) = TestRift::with_redis().await;
    let addr = format!("http://{}", server.grpc_addr);
    let mut watch = rift(&["watch", "--count", "1", "--addr", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rift watch");
    let mut notices = BufReader::new(watch.stderr.take().expect("stderr")).lines();
    let notice = tokio::time::timeout(Duration::from_secs(30), notices.next_line())
        .await
        .expect("watch started within 30 s")
        .expect("read stderr")
        .expect("a notice before any event");
    assert_eq!(notice, "watching every task from now on");

    ok(&run(&server, &["analyze", "live", "--data", r#"["a", "b"]"#]).await);

    let status = tokio::time::timeout(Duration::from_secs(30), watch.wait())
        .await
        .expect("watch --count 1 exits after one event")
        .expect("wait for watch");
    assert!(status.success(), "{status}");
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut watch.stdout.take().expect("stdout"), &mut out)
        .await
        .expect("read stdout");
    let fields: Vec<&str> = out.trim_end().split("  ").collect();
    assert_eq!(fields.len(), 5, "{out:?}");
    assert_eq!(&fields[2..4], ["task live", "TechAgent analysis_stored"]);
    let payload: Value = serde_json::from_str(fields[4]).expect("payload JSON");
    assert_eq!(payload["summary"], "Analyzed 2 items");
}

/// Against a Rift that asks for tokens: `--token` (or `RIFT_TOKEN`) travels as
/// `authorization: Bearer <token>`, and what the token's role may not do is refused with the
/// code printed.
#[tokio::test]
async fn tokens_reach_a_rift_that_asks_for_them() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "reader reader-token-0123456789\nwriter writer-token-0123456789\n",
    )
    .expect("write the tokens file");
    let tokens = tokens.to_str().expect("utf-8 path");
    let server = RiftProcess::spawn(&["--redis-url", &redis.url(), "--tokens-file", tokens]).await;
    let addr = format!("http://{}", server.grpc_addr);
    let cli = |args: &[&str]| {
        let mut command = rift(args);
        command.args(["--addr", &addr]);
        command
    };

    let anonymous = cli(&["progress", "101"]).output().await.expect("run rift");
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        stderr(&anonymous).starts_with("rift: UNAUTHENTICATED: "),
        "{}",
        stderr(&anonymous)
    );

    let reader = cli(&["progress", "101", "--token", "reader-token-0123456789"])
        .output()
        .await
        .expect("run rift");
    assert_eq!(ok(&reader), "task 101: NOT_STARTED\n");
    let reader_writes = cli(&[
        "analyze",
        "101",
        "--data",
        "[1]",
        "--token",
        "reader-token-0123456789",
    ])
    .output()
    .await
    .expect("run rift");
    assert_eq!(reader_writes.status.code(), Some(1));
    assert!(
        stderr(&reader_writes).starts_with("rift: PERMISSION_DENIED: "),
        "{}",
        stderr(&reader_writes)
    );

    let writer = cli(&["analyze", "101", "--data", "[1]"])
        .env("RIFT_TOKEN", "writer-token-0123456789")
        .output()
        .await
        .expect("run rift");
    assert!(ok(&writer).starts_with("task 101: Analyzed 1 items"));
}

/// `--expected-version` that is not the current one is ABORTED, and the current version the
/// error carries is printed; `--request-id` makes a retry return the original answer.
#[tokio::test]
async fn optimistic_versions_and_idempotent_retries() {
    let (_redis, server) = TestRift::with_redis().await;
    ok(&run(&server, &["analyze", "101", "--data", "[1]"]).await);

    let stale = run(
        &server,
        &["analyze", "101", "--data", "[2]", "--expected-version", "0"],
    )
    .await;
    assert_eq!(stale.status.code(), Some(1));
    let error = stderr(&stale);
    assert!(error.starts_with("rift: ABORTED: "), "{error}");
    assert!(
        error.ends_with("  reason: VERSION_MISMATCH (domain rift.v1, current_version=1)\n"),
        "{error}"
    );

    let args = [
        "analyze",
        "101",
        "--data",
        "[2, 3]",
        "--expected-version",
        "1",
        "--request-id",
        "retry-1",
        "--json",
    ];
    let first = json_lines(ok(&run(&server, &args).await)).remove(0);
    assert_eq!(first["version"], 2);
    let retried = json_lines(ok(&run(&server, &args).await)).remove(0);
    assert_eq!(retried, first);
}

#[tokio::test]
async fn delete_task_removes_what_was_stored() {
    let (_redis, server) = TestRift::with_redis().await;
    ok(&run(&server, &["analyze", "101", "--data", "[1]"]).await);
    let deleted = run(&server, &["delete-task", "101"]).await;
    assert_eq!(ok(&deleted), "task 101: deleted\n");
    let again = run(&server, &["delete-task", "101", "--json"]).await;
    assert_eq!(
        json_lines(ok(&again)),
        [json!({"task_id": "101", "deleted": false})]
    );
    assert_eq!(
        ok(&run(&server, &["progress", "101"]).await),
        "task 101: NOT_STARTED\n"
    );
}

#[tokio::test]
async fn health_exits_zero_only_while_serving() {
    let (mut redis, server) = TestRift::with_redis().await;
    let mut health = server.health().await;
    crate::support::rift::wait_for_health(
        &mut health,
        tonic_health::pb::health_check_response::ServingStatus::Serving,
    )
    .await;

    let serving = run(&server, &["health"]).await;
    assert_eq!(ok(&serving).trim(), "SERVING");
    let whole = run(&server, &["health", "--service", "", "--json"]).await;
    assert_eq!(
        json_lines(ok(&whole)),
        vec![json!({"service": "", "status": "SERVING"})]
    );

    // Without Redis the readiness service is NOT_SERVING: the probe fails, saying so.
    redis.stop();
    crate::support::rift::wait_for_health(
        &mut health,
        tonic_health::pb::health_check_response::ServingStatus::NotServing,
    )
    .await;
    let not_ready = run(&server, &["health"]).await;
    assert_eq!(not_ready.status.code(), Some(1), "{}", stderr(&not_ready));
    assert!(
        stderr(&not_ready).contains("NOT_SERVING"),
        "{}",
        stderr(&not_ready)
    );

    let unknown = run(&server, &["health", "--service", "no.such.Service"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("NOT_FOUND"),
        "{}",
        stderr(&unknown)
    );
}
