//! Issue 12, the core half: each finding an attacker or a new operator hit, reproduced with
//! real clients on loopback against a real `redis-server` (and the `rift` binary where the
//! finding is about the process), now answered as the README's "Security" and "Failure"
//! sections say.
//!
//! - Work before authorization: a token-less Analyze is refused before its body is decoded;
//!   over-limit data is refused before it is converted.
//! - A full Redis (`maxmemory`): `RESOURCE_EXHAUSTED` (`MEMORY_FULL`), readiness says so,
//!   and comes back by itself; stored top values are truncated.
//! - Wrong codes: deep nesting, invalid UTF-8, absurd resume ids are `INVALID_ARGUMENT`;
//!   the idempotency fingerprint is the same on both transports; Subscribe ends
//!   `UNAVAILABLE` at shutdown.
//! - A closed stderr never stops SIGTERM.
//! - Probes and operator messages: `/livez`, `/readyz`, health service names; a Redis that
//!   wants a password is logged once, masked; an empty tokens file is refused; host names in
//!   listen addresses.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use rift::pb;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use tonic_types::StatusExt;

use crate::support::{
    grpc::{error_info, patient, strings},
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
};

/// Generous for a loaded two-core machine; nothing here waits this long when it works.
const PATIENCE: Duration = Duration::from_secs(30);

/// `GET path` over plain HTTP/1.1: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect HTTP");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The health status of `service` on `rift`.
async fn health_of(rift: &TestRift, service: &str) -> ServingStatus {
    let mut health = rift.health().await;
    let reply = health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check");
    reply.into_inner().status()
}

/// Polls until `service` reports `status`, or fails.
async fn wait_for_service(rift: &TestRift, service: &str, status: ServingStatus) {
    let reached = tokio::time::timeout(PATIENCE, async {
        loop {
            if health_of(rift, service).await == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "{service:?} never reported {status:?}");
}

fn analyze(task_id: &str, data: Vec<prost_types::Value>) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data,
        ..Default::default()
    }
}

// ---- 4. Redis fills up -------------------------------------------------------------------

#[tokio::test]
async fn a_full_redis_is_memory_full_and_readiness_follows_it_back() {
    let redis = RedisServer::start();
    let mut admin = redis.connection().await;
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    client
        .analyze(patient(analyze("before", strings(&["a"]))))
        .await
        .expect("Analyze while there is room");
    wait_for_service(&rift, "readiness", ServingStatus::Serving).await;

    // Any write now exceeds maxmemory, under the default `noeviction`.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query_async(&mut admin)
        .await
        .expect("CONFIG SET maxmemory");
    for _ in 0..5 {
        let status = client
            .analyze(patient(analyze("full", strings(&["b"]))))
            .await
            .expect_err("no room");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(error_info(&status).reason, "MEMORY_FULL", "{status:?}");
    }
    let exists: bool = redis::cmd("EXISTS")
        .arg("TechAgent:analysis:full")
        .query_async(&mut admin)
        .await
        .expect("EXISTS");
    assert!(!exists, "a write answered MEMORY_FULL never lands");
    wait_for_service(&rift, "readiness", ServingStatus::NotServing).await;
    assert_eq!(health_of(&rift, "").await, ServingStatus::NotServing);
    assert_eq!(health_of(&rift, "liveness").await, ServingStatus::Serving);
    assert_eq!(
        http_get(rift.http_addr, "/readyz").await,
        (503, "memory full\n".into())
    );
    assert_eq!(http_get(rift.http_addr, "/livez").await.0, 200);

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("0")
        .query_async(&mut admin)
        .await
        .expect("CONFIG SET maxmemory 0");
    wait_for_service(&rift, "readiness", ServingStatus::Serving).await;
    assert_eq!(
        http_get(rift.http_addr, "/readyz").await,
        (200, "serving\n".into())
    );
    client
        .analyze(patient(analyze("full", strings(&["b"]))))
        .await
        .expect("room again");
}

// ---- 6. A closed stderr ---------------------------------------------------------------

#[tokio::test]
async fn sigterm_still_stops_a_server_whose_stderr_reader_left() {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"));
    command
        .args(["--log-format", "json", "serve"])
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .env_remove("REDIS_URL")
        .env_remove("RIFT_REDIS_URL")
        // Every call logs, so writes to the closed pipe happen all along.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn rift");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let grpc_addr: SocketAddr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read the log")
            .expect("rift exited before serving");
        let record: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(grpc) = record["fields"]["grpc"].as_str() {
            break grpc.parse().expect("gRPC address");
        }
    };
    // `| head` exits: the read end of the pipe is gone.
    drop(lines);
    let mut client = pb::rift_client::RiftClient::connect(format!("http://{grpc_addr}"))
        .await
        .expect("connect");
    for i in 0..20 {
        let reply = client
            .analyze(patient(analyze(&format!("t{i}"), strings(&["x"]))))
            .await;
        assert!(reply.is_ok(), "calls keep working: {reply:?}");
    }
    let pid = child.id().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let exited = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("SIGTERM honoured although stderr is closed")
        .expect("wait");
    assert!(exited.success(), "{exited:?}");
}

// ---- 8. Probes and operator messages --------------------------------------------------

#[tokio::test]
async fn liveness_stays_serving_while_memory_is_down() {
    let mut redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    wait_for_service(&rift, "readiness", ServingStatus::Serving).await;
    assert_eq!(
        http_get(rift.http_addr, "/readyz").await,
        (200, "serving\n".into())
    );
    assert_eq!(
        http_get(rift.http_addr, "/livez").await,
        (200, "live\n".into())
    );
    redis.stop();
    wait_for_service(&rift, "readiness", ServingStatus::NotServing).await;
    assert_eq!(
        health_of(&rift, "rift.v1.Rift").await,
        ServingStatus::NotServing
    );
    assert_eq!(health_of(&rift, "liveness").await, ServingStatus::Serving);
    assert_eq!(
        http_get(rift.http_addr, "/readyz").await,
        (503, "memory unavailable\n".into())
    );
    assert_eq!(
        http_get(rift.http_addr, "/livez").await,
        (200, "live\n".into())
    );
}

#[tokio::test]
async fn a_wrong_redis_password_is_logged_once_masked_and_callers_get_unavailable() {
    let redis = RedisServer::start_with_args(&["--requirepass", "the-right-secret"]);
    let url = format!("{}?pass=a-wrong-secret", redis.url());
    let rift = RiftProcess::spawn(&["--redis-url", &url]).await;
    let mut client = rift.client().await;
    for i in 0..5 {
        let status = client
            .analyze(patient(analyze(&format!("t{i}"), strings(&["x"]))))
            .await
            .expect_err("Redis refuses Rift");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            status.get_error_details().retry_info().is_none(),
            "no retry hint that cannot help: {status:?}"
        );
    }
    let lines = rift.terminate_with_log().await;
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().all(|line| !line.contains("a-wrong-secret")),
        "the password never reaches the log: {text:#?}"
    );
    let refusals: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|record| {
            record["level"] == "ERROR"
                && record["fields"]["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("memory refuses this server"))
        })
        .collect();
    assert_eq!(refusals.len(), 1, "logged once: {text:#?}");
    let address = refusals[0]["fields"]["address"]
        .as_str()
        .unwrap_or_default();
    assert!(
        address.contains(&redis.url()) && address.contains("pass=***"),
        "names Redis, password masked: {address}"
    );
}

#[tokio::test]
async fn startup_says_which_memory_and_whether_tokens_are_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "reader reader-token-0123456789\n").expect("tokens file");
    let redis = RedisServer::start();
    let url = format!("{}?pass=startup-secret", redis.url());
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"));
    command
        .args(["--log-format", "json", "serve"])
        .args(["--grpc-addr", "localhost:0", "--http-addr", "localhost:0"])
        .args(["--redis-url", &url])
        .arg("--tokens-file")
        .arg(&tokens);
    let rift = RiftProcess::start(command).await;
    assert!(
        rift.grpc_addr.ip().is_loopback(),
        "localhost resolved: {}",
        rift.grpc_addr
    );
    let fields = &rift.serving["fields"];
    assert_eq!(fields["memory"], "redis", "{fields}");
    assert_eq!(
        fields["memory_address"].as_str(),
        Some(format!("{}?pass=***", redis.url()).as_str()),
        "{fields}"
    );
    assert_eq!(fields["tokens"], "on", "{fields}");
    let lines = rift.terminate_with_log().await;
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().all(|line| !line.contains("startup-secret")),
        "{text:#?}"
    );
}

#[tokio::test]
async fn an_empty_tokens_file_is_refused_and_a_bad_line_never_shows_its_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tokens");
    let run = |path: std::path::PathBuf| async move {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
            .args([
                "serve",
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
            ])
            .arg("--tokens-file")
            .arg(path)
            .env_remove("REDIS_URL")
            .env_remove("RIFT_REDIS_URL")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run rift");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    std::fs::write(&path, "# tokens go here\n\n").expect("write");
    let (ok, stderr) = run(path.clone()).await;
    assert!(!ok, "an empty tokens file does not start an open server");
    assert!(stderr.contains("holds no token"), "{stderr}");

    std::fs::write(&path, "swapped-secret-0123456789 writer\n").expect("write");
    let (ok, stderr) = run(path.clone()).await;
    assert!(!ok);
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(
        !stderr.contains("swapped-secret"),
        "the token is never printed: {stderr}"
    );
}

#[tokio::test]
async fn listen_addresses_take_host_names_or_say_what_is_needed() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["serve", "--grpc-addr", "no-port-here"])
        .output()
        .await
        .expect("run rift");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("host:port"), "{stderr}");
}

// ---- 3. Work before authorization ---------------------------------------------------------

const WRITER: &str = "writer-token-0123456789";

fn with_tokens(config: rift::server::Config) -> rift::server::Config {
    use rift::domain::auth::{Access, Role, Tokens};
    rift::server::Config {
        core: rift::domain::CoreConfig {
            access: Access::from_tokens(Tokens::from_pairs([(Role::Writer, WRITER)])),
            ..config.core
        },
        ..config
    }
}

/// An Analyze whose body never comes: the request stream stays open and sends nothing.
async fn analyze_without_body(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<tonic::Response<pb::AnalyzeResponse>, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(futures::stream::pending::<pb::AnalyzeRequest>());
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    let codec = tonic_prost::ProstCodec::<pb::AnalyzeRequest, pb::AnalyzeResponse>::default();
    grpc.client_streaming(
        request,
        tonic::codegen::http::uri::PathAndQuery::from_static("/rift.v1.Rift/Analyze"),
        codec,
    )
    .await
}

#[tokio::test]
async fn a_call_without_a_valid_token_is_refused_before_its_body_is_read() {
    let rift = TestRift::start(with_tokens(rift::server::Config::default())).await;
    for token in [None, Some("not-a-valid-token-0123456789")] {
        let refused = tokio::time::timeout(PATIENCE, analyze_without_body(rift.grpc_addr, token))
            .await
            .expect("answered from the headers alone, without waiting for the body");
        let status = refused.expect_err("no valid token");
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    // With a valid token the body is awaited: the call is still pending when abandoned.
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        analyze_without_body(rift.grpc_addr, Some(WRITER)),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a valid caller's body is read: {waiting:?}"
    );
}

/// Two million empty values: 4,000,000 bytes of data, within the 4 MiB message limit.
fn two_million_empty_values() -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: "flood".into(),
        data: vec![prost_types::Value::default(); 2_000_000],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_flood_of_empty_values_is_refused_by_count_with_or_without_a_token() {
    let rift = TestRift::start(with_tokens(rift::server::Config::default())).await;
    let mut client = rift.client().await;
    let status = client
        .analyze(patient(two_million_empty_values()))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut request = patient(two_million_empty_values());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {WRITER}").parse().expect("header"),
    );
    let status = client.analyze(request).await.expect_err("too many items");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(crate::support::grpc::violated_field(&status), "data");
    assert!(status.message().contains("2000000 items"), "{status:?}");
}

// ---- 5. Wrong codes and input that logged errors ---------------------------------------

/// `value` inside `levels - 1` lists: with the data list, `levels` levels of nesting.
fn nested(levels: usize) -> prost_types::Value {
    use prost_types::{ListValue, Value, value::Kind};
    let mut value = Value {
        kind: Some(Kind::StringValue("deep".into())),
    };
    for _ in 1..levels {
        value = Value {
            kind: Some(Kind::ListValue(ListValue {
                values: vec![value],
            })),
        };
    }
    value
}

#[tokio::test]
async fn both_transports_take_the_same_depth_and_refuse_deeper_alike() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    client
        .analyze(patient(analyze("deep", vec![nested(32)])))
        .await
        .expect("32 levels are accepted");
    let mut messages = Vec::new();
    for levels in [33, 49, 50, 200] {
        let status = client
            .analyze(patient(analyze("deep", vec![nested(levels)])))
            .await
            .expect_err("too deep");
        assert_eq!(status.code(), Code::InvalidArgument, "{levels}: {status:?}");
        assert_eq!(crate::support::grpc::violated_field(&status), "data");
        messages.push(status.message().to_owned());
    }

    let mut ws = crate::support::ws::WsClient::connect(rift.http_addr).await;
    let list = |levels: usize| format!("{}\"deep\"{}", "[".repeat(levels), "]".repeat(levels));
    let accepted = ws
        .command_json(&format!(
            r#"{{"analyze": {{"task_id": "deep", "data": {}}}}}"#,
            list(32)
        ))
        .await;
    assert!(accepted.get("result").is_some(), "{accepted}");
    let refused = ws
        .command_error(&format!(
            r#"{{"analyze": {{"task_id": "deep", "data": {}}}}}"#,
            list(33)
        ))
        .await;
    assert_eq!(refused["code"], "INVALID_ARGUMENT", "{refused}");
    assert_eq!(refused["field"], "data", "{refused}");
    let said = refused["message"].as_str().unwrap_or_default();
    assert!(said.contains("deeper than 32 levels"), "{refused}");
    for message in messages {
        assert!(message.ends_with(said), "{message} / {said}");
    }
}

/// A message as raw bytes, for requests no generated client would build.
#[derive(Clone, Default, PartialEq)]
struct Raw(Vec<u8>);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Raw({} bytes)", self.0.len())
    }
}

impl prost::Message for Raw {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

async fn call_raw(addr: SocketAddr, path: &'static str, body: &[u8]) -> tonic::Status {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<Raw, Raw>::default();
    grpc.unary(
        tonic::Request::new(Raw(body.to_vec())),
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        codec,
    )
    .await
    .expect_err("refused")
}

#[tokio::test]
async fn invalid_utf8_is_invalid_argument_wherever_it_is() {
    let rift = TestRift::in_process().await;
    // task_id = "\xff"
    let status = call_raw(
        rift.grpc_addr,
        "/rift.v1.Rift/Progress",
        &[0x0a, 0x01, 0xff],
    )
    .await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = call_raw(rift.grpc_addr, "/rift.v1.Rift/Analyze", &[0x0a, 0x01, 0xff]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // task_id = "t", data = [Value { string_value: "\xff" }]
    let status = call_raw(
        rift.grpc_addr,
        "/rift.v1.Rift/Analyze",
        &[0x0a, 0x01, b't', 0x12, 0x03, 0x1a, 0x01, 0xff],
    )
    .await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(crate::support::grpc::violated_field(&status), "data[0]");
    // The server goes on serving.
    rift.client()
        .await
        .progress(pb::ProgressRequest {
            task_id: "t".into(),
        })
        .await
        .expect("still serving");
}

#[tokio::test]
async fn an_absurd_resume_id_is_invalid_argument_on_both_memories() {
    let redis = RedisServer::start();
    for rift in [
        TestRift::in_process().await,
        TestRift::on_redis(&redis.url()).await,
    ] {
        let mut client = rift.client().await;
        for after in [
            "18446744073709551615-18446744073709551615",
            "18446744073709551615",
            "253402300800000-0",
        ] {
            let status = tokio::time::timeout(
                PATIENCE,
                client.subscribe(pb::SubscribeRequest {
                    task_id: String::new(),
                    after: after.into(),
                }),
            )
            .await
            .expect("answered, not left waiting")
            .expect_err("refused");
            assert_eq!(status.code(), Code::InvalidArgument, "{after}: {status:?}");
            assert_eq!(crate::support::grpc::violated_field(&status), "after");
        }
    }
}

#[tokio::test]
async fn a_request_id_retried_over_the_other_transport_is_the_same_request() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    let first = client
        .analyze(patient(pb::AnalyzeRequest {
            task_id: "both".into(),
            data: vec![
                strings(&["x"]).remove(0),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::NumberValue(1.0)),
                },
            ],
            request_id: "retry-1".into(),
            ..Default::default()
        }))
        .await
        .expect("first over gRPC")
        .into_inner();
    let mut ws = crate::support::ws::WsClient::connect(rift.http_addr).await;
    let retried = ws
        .command_json(
            r#"{"analyze": {"task_id": "both", "data": ["x", 1], "request_id": "retry-1"}}"#,
        )
        .await;
    assert_eq!(
        retried["result"]["version"],
        serde_json::json!(first.version),
        "{retried}"
    );
    assert_eq!(first.version, 1);
}

// ---- 4. What one caller may store -------------------------------------------------------

#[tokio::test]
async fn with_a_task_ttl_every_write_sets_its_keys_expiry_in_the_same_step() {
    use rift::{domain::memory::RedisConfig, server::MemoryConfig};
    let redis = RedisServer::start();
    let mut connection = redis.connection().await;
    let ttl = Duration::from_secs(600);
    let rift = TestRift::start(rift::server::Config {
        memory: MemoryConfig::Redis(RedisConfig {
            task_ttl: Some(ttl),
            ..RedisConfig::new(redis.url())
        }),
        ..rift::server::Config::default()
    })
    .await;
    let mut client = rift.client().await;
    client
        .analyze(patient(analyze("kept", strings(&["a"]))))
        .await
        .expect("analyze");
    client
        .narrate(patient(pb::NarrateRequest {
            task_id: "kept".into(),
            ..Default::default()
        }))
        .await
        .expect("narrate");
    client
        .progress(patient(pb::ProgressRequest {
            task_id: "kept".into(),
        }))
        .await
        .expect("progress records completion");
    for key in [
        "TechAgent:analysis:kept",
        "ConceptAgent:narrative:kept",
        "TaskAgent:progress:kept",
        "shared:task_context:kept",
    ] {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!(
            pttl > 0 && pttl <= ttl.as_millis() as i64,
            "{key} expires within the retention: {pttl}"
        );
    }

    // Without a retention, tasks are kept.
    let plain = TestRift::on_redis(&redis.url()).await;
    plain
        .client()
        .await
        .analyze(patient(analyze("for-ever", strings(&["a"]))))
        .await
        .expect("analyze");
    let pttl: i64 = redis::cmd("PTTL")
        .arg("TechAgent:analysis:for-ever")
        .query_async(&mut connection)
        .await
        .expect("PTTL");
    assert_eq!(pttl, -1);
}

#[tokio::test]
async fn top_values_are_stored_truncated_with_a_flag() {
    let redis = RedisServer::start();
    let mut connection = redis.connection().await;
    let rift = TestRift::on_redis(&redis.url()).await;
    let long = "x".repeat(1_000_000);
    let reply = rift
        .client()
        .await
        .analyze(patient(analyze("big", strings(&[&long, &long, "short"]))))
        .await
        .expect("analyze")
        .into_inner();
    let top = reply.stats.expect("stats").strings.expect("strings").top;
    assert_eq!(top[0].value.len(), 256);
    assert!(top[0].truncated);
    assert_eq!(top[0].count, 2);
    assert_eq!((top[1].value.as_str(), top[1].truncated), ("short", false));
    let stored: String = redis::cmd("GET")
        .arg("TechAgent:analysis:big")
        .query_async(&mut connection)
        .await
        .expect("GET");
    assert!(stored.len() < 2_000, "{} bytes stored", stored.len());
    assert!(stored.contains(r#""truncated": true"#), "{stored}");
}
