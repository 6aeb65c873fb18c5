//! Access control, deadlines, idempotency, optimistic concurrency, admin deletes and load
//! shedding, the same on gRPC and WebSocket.

use std::time::Duration;

use crate::support::ws::{WsClient, code_name};
use crate::support::{
    grpc::{error_info, violated_field},
    redis::RedisServer,
    rift::{TestRift, redis_config},
};
use redis::AsyncCommands;
use rift::{
    domain::{
        CoreConfig, Limits,
        auth::{Access, Operation, Role, Tokens},
    },
    pb::{self, rift_client::RiftClient},
    server::{self, Config, Listeners, MemoryConfig},
};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, transport::Channel};

const READER: &str = "reader-token-0123456789";
const WRITER: &str = "writer-token-0123456789";
const ADMIN: &str = "admin-token-012345678901";

fn secured(config: Config) -> Config {
    Config {
        core: CoreConfig {
            access: Access::from_tokens(Tokens::from_pairs([
                (Role::Reader, READER),
                (Role::Writer, WRITER),
                (Role::Admin, ADMIN),
            ])),
            ..config.core
        },
        ..config
    }
}

fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("metadata value"),
        );
    }
    request
}

fn analyze_request(task_id: &str) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: vec![],
        ..Default::default()
    }
}

/// What an operation's outcome says about access: the denial code, or that it got through
/// (whatever the operation then answered).
fn access_outcome(code: Option<&str>) -> &str {
    match code {
        Some(code @ ("UNAUTHENTICATED" | "PERMISSION_DENIED")) => code,
        _ => "allowed",
    }
}

async fn over_grpc(
    client: &mut RiftClient<Channel>,
    operation: Operation,
    token: Option<&str>,
) -> Option<&'static str> {
    let status = match operation {
        Operation::Analyze => client
            .analyze(with_token(analyze_request("m"), token))
            .await
            .err(),
        Operation::Narrate => client
            .narrate(with_token(
                pb::NarrateRequest {
                    task_id: "m".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .err(),
        Operation::Progress => client
            .progress(with_token(
                pb::ProgressRequest {
                    task_id: "m".into(),
                },
                token,
            ))
            .await
            .err(),
        Operation::Subscribe => client
            .subscribe(with_token(
                pb::SubscribeRequest {
                    task_id: "m".into(),
                    after: String::new(),
                },
                token,
            ))
            .await
            .err(),
        Operation::DeleteTask => client
            .delete_task(with_token(
                pb::DeleteTaskRequest {
                    task_id: "never-written".into(),
                },
                token,
            ))
            .await
            .err(),
        Operation::GetTask => client
            .get_task(with_token(
                pb::GetTaskRequest {
                    task_id: "m".into(),
                    with_report: false,
                },
                token,
            ))
            .await
            .err(),
        Operation::ListTasks => client
            .list_tasks(with_token(pb::ListTasksRequest::default(), token))
            .await
            .err(),
        Operation::Report => client
            .report(with_token(
                pb::ReportRequest {
                    task_id: "m".into(),
                },
                token,
            ))
            .await
            .err(),
        // gRPC's "help" is reflection, which is open; compared below on its own.
        Operation::Help => None,
    };
    status.map(|status| code_name(status.code()))
}

/// The code a command gets over WebSocket: a credential that is no valid token is refused at
/// the upgrade (401, the body the error frame), before any command.
async fn over_ws(rift: &TestRift, operation: Operation, token: Option<&str>) -> Option<String> {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&'static str, &str)> = authorization
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    let mut client = match WsClient::try_connect_with_headers(rift.http_addr, &headers).await {
        Ok(client) => client,
        Err(refused) => {
            assert_eq!(refused.status, 401, "{refused:?}");
            let body: Value = serde_json::from_str(&refused.body).expect("an error frame");
            return body["error"]["code"].as_str().map(str::to_owned);
        }
    };
    let command = match operation {
        Operation::Analyze => "Analyze data for task m with data: []",
        Operation::Narrate => "Generate a narrative for task m",
        Operation::Progress => "Check progress for task m",
        Operation::Subscribe => "Watch task m",
        Operation::DeleteTask => "Delete task never-written",
        Operation::Help => "help",
        Operation::GetTask => "Show task m",
        Operation::ListTasks => "List tasks",
        Operation::Report => "Generate a report for task m",
    };
    let reply = client.command(command).await;
    serde_json::from_str::<Value>(&reply)
        .ok()
        .and_then(|reply| reply["error"]["code"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn every_role_and_operation_gets_the_same_answer_on_both_transports() {
    let rift = TestRift::start(secured(Config::default())).await;
    let mut client = rift.client().await;
    client
        .analyze(with_token(analyze_request("m"), Some(WRITER)))
        .await
        .expect("seed");
    let cases = [
        (None, None),
        (Some("not-a-valid-token-at-all"), None),
        (Some(READER), Some(Role::Reader)),
        (Some(WRITER), Some(Role::Writer)),
        (Some(ADMIN), Some(Role::Admin)),
    ];
    for (token, role) in cases {
        for operation in Operation::ALL {
            let expected = match role {
                None => "UNAUTHENTICATED",
                Some(role) if role < operation.required_role() => "PERMISSION_DENIED",
                Some(_) => "allowed",
            };
            let ws = over_ws(&rift, operation, token).await;
            assert_eq!(
                access_outcome(ws.as_deref()),
                expected,
                "WebSocket {operation:?} with {role:?}"
            );
            if operation != Operation::Help {
                let grpc = over_grpc(&mut client, operation, token).await;
                assert_eq!(
                    access_outcome(grpc),
                    expected,
                    "gRPC {operation:?} with {role:?}"
                );
            }
        }
    }
    // Health stays open.
    let mut health = rift.health().await;
    let checked = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health needs no token");
    assert_eq!(
        checked.into_inner().status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

#[tokio::test]
async fn reflection_stays_open_with_tokens() {
    let rift = TestRift::start(secured(Config::default())).await;
    let output = tokio::process::Command::new(crate::support::tools::grpcurl())
        .args(["-plaintext", &rift.grpc_addr.to_string(), "list"])
        .output()
        .await
        .expect("run grpcurl");
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && listed.contains("rift.v1.Rift"),
        "{listed}"
    );
}

#[tokio::test]
async fn browsers_authenticate_with_a_subprotocol_or_the_query() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let rift = TestRift::start(secured(Config::default())).await;
    for (url, protocols) in [
        (
            format!("ws://{}/ws", rift.http_addr),
            Some(format!("rift, bearer.{WRITER}")),
        ),
        (format!("ws://{}/ws?token={WRITER}", rift.http_addr), None),
    ] {
        let mut request = url.into_client_request().expect("request");
        if let Some(protocols) = &protocols {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocols.parse().expect("header"));
        }
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("handshake");
        if protocols.is_some() {
            assert_eq!(
                response
                    .headers()
                    .get("sec-websocket-protocol")
                    .map(|v| v.as_bytes()),
                Some(&b"rift"[..])
            );
        }
        use futures::{SinkExt, StreamExt};
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                "Analyze data for task b with data: [1]",
            ))
            .await
            .expect("send");
        let reply = socket.next().await.expect("a reply").expect("a frame");
        assert!(
            reply
                .to_text()
                .expect("text")
                .contains(r#""summary": "Analyzed 1 items""#),
            "{reply:?}"
        );
    }
}

async fn retries_are_idempotent(rift: &TestRift) {
    let mut client = rift.client().await;
    let first = pb::AnalyzeRequest {
        task_id: "idem".into(),
        data: vec![prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("x".into())),
        }],
        request_id: "req-1".into(),
        ..Default::default()
    };
    let original = client
        .analyze(first.clone())
        .await
        .expect("analyze")
        .into_inner();
    let retried = client
        .analyze(first.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried, original, "a retry returns the original response");
    let reused = client
        .analyze(pb::AnalyzeRequest {
            data: vec![],
            ..first.clone()
        })
        .await
        .expect_err("same id, other payload");
    assert_eq!(reused.code(), Code::InvalidArgument);
    let field = violated_field(&reused);
    assert_eq!(field, "request_id");

    let narrate = pb::NarrateRequest {
        task_id: "idem".into(),
        request_id: "req-2".into(),
        ..Default::default()
    };
    let told = client
        .narrate(narrate.clone())
        .await
        .expect("narrate")
        .into_inner();
    assert_eq!(
        client.narrate(narrate).await.expect("retry").into_inner(),
        told
    );

    // Over the WebSocket, the same id means the same call.
    let mut ws = WsClient::connect(rift.http_addr).await;
    let typed = r#"{"analyze": {"task_id": "idem-ws", "data": [1], "request_id": "req-ws"}}"#;
    let once = ws.command_json(typed).await;
    assert_eq!(ws.command_json(typed).await, once);

    // Every retry announced nothing: one notification per distinct write.
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            task_id: String::new(),
            after: "0".into(),
        })
        .await
        .expect("subscribe")
        .into_inner();
    let mut actions = Vec::new();
    for _ in 0..3 {
        let n = stream
            .message()
            .await
            .expect("stream")
            .expect("notification");
        actions.push((n.task_id, n.action));
    }
    assert_eq!(
        actions,
        [
            ("idem".to_owned(), "analysis_stored".to_owned()),
            ("idem".to_owned(), "narrative_stored".to_owned()),
            ("idem-ws".to_owned(), "analysis_stored".to_owned()),
        ]
    );
    // The next event is the next distinct write, not a retry.
    client
        .analyze(analyze_request("after"))
        .await
        .expect("analyze");
    let next = stream
        .message()
        .await
        .expect("stream")
        .expect("notification");
    assert_eq!(next.task_id, "after");
}

#[tokio::test]
async fn retries_are_idempotent_in_process() {
    retries_are_idempotent(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn retries_are_idempotent_on_redis() {
    let redis = RedisServer::start();
    retries_are_idempotent(&TestRift::on_redis(&redis.url()).await).await;
}

async fn expected_version_guards_writes(rift: &TestRift) {
    let mut client = rift.client().await;
    let at = |version: Option<u64>| pb::AnalyzeRequest {
        task_id: "ev".into(),
        expected_version: version,
        ..Default::default()
    };
    assert_eq!(
        client
            .analyze(at(Some(0)))
            .await
            .expect("first")
            .into_inner()
            .version,
        1
    );
    let conflict = client
        .analyze(at(Some(0)))
        .await
        .expect_err("stale version");
    assert_eq!(conflict.code(), Code::Aborted);
    let info = error_info(&conflict);
    assert_eq!(info.reason, "VERSION_MISMATCH");
    assert_eq!(
        info.metadata.get("current_version").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        client
            .analyze(at(Some(1)))
            .await
            .expect("current")
            .into_inner()
            .version,
        2
    );

    let mut ws = WsClient::connect(rift.http_addr).await;
    let error = ws
        .command_error(r#"{"analyze": {"task_id": "ev", "expected_version": 1}}"#)
        .await;
    assert_eq!(error["code"], "ABORTED");
    assert_eq!(error["current_version"], 2);
}

#[tokio::test]
async fn expected_version_guards_writes_in_process() {
    expected_version_guards_writes(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn expected_version_guards_writes_on_redis() {
    let redis = RedisServer::start();
    expected_version_guards_writes(&TestRift::on_redis(&redis.url()).await).await;
}

async fn delete_task_removes_and_announces(rift: &TestRift, redis: Option<&RedisServer>) {
    let mut client = rift.client().await;
    client
        .analyze(analyze_request("gone"))
        .await
        .expect("analyze");
    client
        .narrate(pb::NarrateRequest {
            task_id: "gone".into(),
            ..Default::default()
        })
        .await
        .expect("narrate");
    client
        .progress(pb::ProgressRequest {
            task_id: "gone".into(),
        })
        .await
        .expect("progress");
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            task_id: "gone".into(),
            after: String::new(),
        })
        .await
        .expect("subscribe")
        .into_inner();
    let deleted = client
        .delete_task(pb::DeleteTaskRequest {
            task_id: "gone".into(),
        })
        .await
        .expect("delete")
        .into_inner();
    assert!(deleted.deleted);
    let announced = stream
        .message()
        .await
        .expect("stream")
        .expect("notification");
    assert_eq!(
        (announced.agent.as_str(), announced.action.as_str()),
        ("Rift", "task_deleted")
    );
    let progress = client
        .progress(pb::ProgressRequest {
            task_id: "gone".into(),
        })
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.status(), pb::TaskStatus::NotStarted);
    let again = client
        .delete_task(pb::DeleteTaskRequest {
            task_id: "gone".into(),
        })
        .await
        .expect("delete again")
        .into_inner();
    assert!(!again.deleted, "nothing left to delete");
    if let Some(redis) = redis {
        let mut connection = redis.connection().await;
        for key in [
            "TechAgent:analysis:gone",
            "ConceptAgent:narrative:gone",
            "TaskAgent:progress:gone",
            "shared:task_context:gone",
        ] {
            let exists: bool = connection.exists(key).await.expect("EXISTS");
            assert!(!exists, "{key} survived the delete");
        }
    }
}

#[tokio::test]
async fn delete_task_removes_and_announces_in_process() {
    delete_task_removes_and_announces(&TestRift::in_process().await, None).await;
}

#[tokio::test]
async fn delete_task_removes_and_announces_on_redis() {
    let redis = RedisServer::start();
    delete_task_removes_and_announces(&TestRift::on_redis(&redis.url()).await, Some(&redis)).await;
}

#[tokio::test]
async fn a_missed_deadline_is_deadline_exceeded_and_the_write_never_lands() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    redis.pause_writes(10_000).await;
    // Rift answers DEADLINE_EXCEEDED a little before the deadline (`answer_margin`), but on a
    // starved machine the client's own timer can still fire first (tonic's client reports
    // that as CANCELLED "Timeout expired"). Either way the caller was told its deadline
    // passed; what holds whatever the load is that the write never lands. Rift's own code for
    // a spent deadline is asserted without a client timer racing it: in grpc_service.rs, and
    // for the server's timeout below.
    let mut late = Request::new(analyze_request("late"));
    late.set_timeout(Duration::from_millis(500));
    let status = client
        .analyze(late)
        .await
        .expect_err("Redis holds the write");
    let told_deadline_passed = status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled && status.message().contains("Timeout expired"));
    assert!(told_deadline_passed, "{status:?}");
    redis.unpause().await;
    // The held script runs now, on the same connection as this call and before it: had it
    // written, this would be version 2.
    let next = client
        .analyze(analyze_request("late"))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(next.version, 1, "the late write was applied");
}

#[tokio::test]
async fn the_server_timeout_applies_on_both_transports() {
    let redis = RedisServer::start();
    let config = Config {
        core: CoreConfig {
            limits: Limits {
                request_timeout: Duration::from_millis(200),
                ..Limits::default()
            },
            ..CoreConfig::default()
        },
        ..redis_config(&redis.url())
    };
    let rift = TestRift::start(config).await;
    let mut client = rift.client().await;
    redis.pause_writes(10_000).await;
    let status = client
        .analyze(analyze_request("slow"))
        .await
        .expect_err("held");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let mut ws = WsClient::connect(rift.http_addr).await;
    let error = ws
        .command_error("Analyze data for task slow with data: [1]")
        .await;
    assert_eq!(error["code"], "DEADLINE_EXCEEDED");
    redis.unpause().await;
    let next = client
        .analyze(analyze_request("slow"))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(next.version, 1, "no timed-out write was applied");
}

#[tokio::test]
async fn overload_is_shed_with_resource_exhausted() {
    let redis = RedisServer::start();
    let config = Config {
        core: CoreConfig {
            limits: Limits {
                max_in_flight: 2,
                ..Limits::default()
            },
            ..CoreConfig::default()
        },
        ..redis_config(&redis.url())
    };
    let rift = TestRift::start(config).await;
    let client = rift.client().await;
    redis.pause_writes(10_000).await;
    let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..8 {
        let mut client = client.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let result = client.analyze(analyze_request(&format!("load-{n}"))).await;
            let _ = sender.send(result.map(|_| ()));
        });
    }
    drop(sender);
    // While two calls hold the only permits, the other six are turned away at once.
    for _ in 0..6 {
        let status = results
            .recv()
            .await
            .expect("a result")
            .expect_err("shed while two are in flight");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        let info = error_info(&status);
        assert_eq!(info.reason, "OVERLOADED");
    }
    redis.unpause().await;
    for _ in 0..2 {
        results
            .recv()
            .await
            .expect("a result")
            .expect("the admitted calls complete");
    }
}

#[tokio::test]
async fn without_tokens_only_loopback_is_served() {
    let serve_on = |grpc: &'static str, config: Config| async move {
        let listeners = Listeners {
            grpc: TcpListener::bind(grpc).await.expect("bind"),
            http: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            metrics: None,
        };
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        server::serve(config, listeners, shutdown).await
    };
    let refused = serve_on("0.0.0.0:0", Config::default())
        .await
        .expect_err("open on every interface");
    assert!(refused.to_string().contains("--tokens-file"), "{refused}");
    serve_on(
        "0.0.0.0:0",
        Config {
            allow_unauthenticated: true,
            ..Config::default()
        },
    )
    .await
    .expect("explicitly allowed");
    serve_on("0.0.0.0:0", secured(Config::default()))
        .await
        .expect("tokens configured");
    serve_on(
        "127.0.0.1:0",
        Config {
            memory: MemoryConfig::InProcess { max_events: 10 },
            ..Config::default()
        },
    )
    .await
    .expect("loopback is fine without tokens");
}

#[tokio::test]
async fn grpc_connections_past_the_limit_wait_for_a_free_one() {
    let rift = TestRift::start(Config {
        grpc: rift::grpc::GrpcConfig {
            max_connections: 1,
            ..Default::default()
        },
        ..Config::default()
    })
    .await;
    let mut first = rift.client().await;
    let progress = || pb::ProgressRequest {
        task_id: "c".into(),
    };
    first
        .progress(progress())
        .await
        .expect("the first connection is served");
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", rift.grpc_addr))
        .expect("endpoint");
    let mut second = RiftClient::new(endpoint.connect_lazy());
    let mut waiting = tokio::spawn(async move { second.progress(progress()).await });
    // Not refused, not served: held in the listen backlog while the only slot is taken.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut waiting)
            .await
            .is_err(),
        "a second connection was served past the limit"
    );
    drop(first);
    waiting
        .await
        .expect("task")
        .expect("served once the first connection closed");
}
