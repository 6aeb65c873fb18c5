//! Regression tests for every way the prototype's WebSocket failed on bad input.
//!
//! The prototype dropped the socket (no close frame) on `with data: [bad`, on binary frames and
//! on deep nesting, counted characters for `with data: 12345`, crashed on every progress check
//! and leaked memory per dropped socket. Here every bad frame gets one JSON error frame and the
//! socket keeps serving, which each test proves by sending a good command afterwards.

use std::{sync::Arc, time::Duration};

use crate::support::ws::{self, WsClient};
use crate::support::{
    redis::RedisServer,
    rift::{TestRift, wait_for_health},
};
use rift::{
    domain::{Agents, CoreConfig, memory::InProcessMemory},
    server::{self, Config, MemoryConfig},
    ws::WsConfig,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{
        CloseFrame,
        frame::{
            Frame,
            coding::{CloseCode, Data, OpCode},
        },
    },
};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::health_check_response::ServingStatus;

/// Proves the socket still serves after a bad frame.
async fn still_serving(client: &mut WsClient) {
    assert_eq!(
        client.command_json("Check progress for task alive").await["status"],
        json!("not-started")
    );
}

fn assert_invalid_data(error: &Value) {
    assert_eq!(error["code"], json!("INVALID_ARGUMENT"), "{error}");
    assert_eq!(error["field"], json!("data"), "{error}");
    assert!(
        !error["hint"].as_str().unwrap_or_default().is_empty(),
        "{error}"
    );
}

#[tokio::test]
async fn unclosed_data_list_is_an_error_not_a_dropped_socket() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let error = client
        .command_error("Analyze data for task 101 with data: [bad")
        .await;
    assert_invalid_data(&error);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid JSON"))
    );
    still_serving(&mut client).await;
}

#[tokio::test]
async fn binary_frames_get_an_error_and_the_socket_stays() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    client
        .send(Message::binary(b"Check progress for task 1".to_vec()))
        .await;
    let reply = ws::json(&client.reply().await);
    assert_eq!(reply["error"]["code"], json!("INVALID_ARGUMENT"));
    assert_eq!(reply["error"]["field"], json!("frame"));
    assert!(
        reply["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("text frames"))
    );
    still_serving(&mut client).await;
}

#[tokio::test]
async fn deep_nesting_is_refused_without_dropping_the_socket() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let deep = "[".repeat(10_000);
    for text in [
        format!("Analyze data for task 101 with data: {deep}"),
        format!(
            "Analyze data for task 101 with data: {deep}{}",
            "]".repeat(10_000)
        ),
        format!(r#"{{"analyze": {{"task_id": "101", "data": {deep}"#),
    ] {
        assert_invalid_data(&client.command_error(&text).await);
    }
    still_serving(&mut client).await;
    // Nothing was stored.
    assert_eq!(
        client.command_json("Check progress for task 101").await["status"],
        json!("not-started")
    );
}

#[tokio::test]
async fn data_that_is_not_a_list_is_an_error_not_a_character_count() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    for text in [
        "Analyze data for task 101 with data: 12345",
        r#"Analyze data for task 101 with data: "12345""#,
        r#"Analyze data for task 101 with data: {"a": 1}"#,
        r#"{"analyze": {"task_id": "101", "data": 12345}}"#,
    ] {
        let error = client.command_error(text).await;
        assert_invalid_data(&error);
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("data must be a JSON list")),
            "{text:?}: {error}"
        );
    }
    assert_eq!(
        client.command_json("Check progress for task 101").await["status"],
        json!("not-started")
    );
}

#[tokio::test]
async fn progress_checks_answer_for_unknown_and_completed_tasks() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    assert_eq!(
        client
            .command_json("Check progress for task never-seen")
            .await,
        json!({"task_id": "never-seen", "status": "not-started", "analysis_version": 0, "narrative_analysis_version": 0})
    );
    client
        .command(r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#)
        .await;
    client.command("Generate a narrative for task 101").await;
    for _ in 0..3 {
        assert_eq!(
            client.command_json("Check progress for task 101").await["status"],
            json!("completed")
        );
    }
}

#[tokio::test]
async fn bad_task_ids_are_invalid_arguments() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let long = "x".repeat(129);
    for text in [
        "Check progress for task".to_owned(),
        "Check progress for task 10:1".to_owned(),
        "Check progress for task a b".to_owned(),
        "Generate a narrative for task *".to_owned(),
        "Analyze data for task with data: [1]".to_owned(),
        format!("Analyze data for task {long} with data: [1]"),
        "Watch task".to_owned(),
        "Watch task a:b".to_owned(),
        r#"{"progress": {}}"#.to_owned(),
    ] {
        let error = client.command_error(&text).await;
        assert_eq!(error["code"], json!("INVALID_ARGUMENT"), "{text:?}");
        assert_eq!(error["field"], json!("task_id"), "{text:?}");
    }
    still_serving(&mut client).await;
}

fn small_frames(max_frame_bytes: usize) -> Config {
    Config {
        ws: WsConfig {
            max_frame_bytes,
            ..WsConfig::default()
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn oversized_frames_are_refused_and_the_socket_stays() {
    let rift = TestRift::start(small_frames(1024)).await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let items = vec!["0123456789"; 120];
    let text = format!("Analyze data for task big with data: {}", json!(items));
    assert!(text.len() > 1024 && text.len() <= 2048, "{}", text.len());
    let error = client.command_error(&text).await;
    assert_eq!(error["code"], json!("RESOURCE_EXHAUSTED"), "{error}");
    assert_eq!(error["reason"], json!("MESSAGE_TOO_LARGE"), "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("1024")),
        "{error}"
    );

    client.send(Message::binary(vec![0u8; 1500])).await;
    let reply = ws::json(&client.reply().await);
    assert_eq!(reply["error"]["code"], json!("RESOURCE_EXHAUSTED"));

    // Exactly at the limit is accepted.
    let prefix = "Analyze data for task big with data: [\"";
    let fill = 1024 - prefix.len() - "\"]".len();
    let at_limit = format!("{prefix}{}\"]", "x".repeat(fill));
    assert_eq!(at_limit.len(), 1024);
    assert_eq!(
        client.command_json(&at_limit).await["summary"],
        json!("Analyzed 1 items")
    );
    still_serving(&mut client).await;
}

#[tokio::test]
async fn frames_beyond_the_hard_cap_close_with_1009_and_the_server_lives_on() {
    let rift = TestRift::start(small_frames(1024)).await;
    let mut client = WsClient::connect(rift.http_addr).await;
    client.send_text(&"x".repeat(5000)).await;
    let close = client.closed().await.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Size, "{close:?}");

    let mut next = WsClient::connect(rift.http_addr).await;
    still_serving(&mut next).await;
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let frame = Frame::message(vec![0xff, 0xfe, b'h'], OpCode::Data(Data::Text), true);
    client.send(Message::Frame(frame)).await;
    let close: CloseFrame = client.closed().await.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Invalid, "{close:?}");
}

/// A Redis that never answers: a port that was just free.
async fn closed_port_redis() -> Config {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut redis = rift::domain::memory::RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    redis.op_timeout = Duration::from_millis(300);
    Config {
        memory: MemoryConfig::Redis(redis),
        ..Config::default()
    }
}

#[tokio::test]
async fn redis_unavailable_is_an_error_frame_and_the_socket_stays() {
    let rift = TestRift::start(closed_port_redis().await).await;
    let mut client = WsClient::connect(rift.http_addr).await;
    for text in [
        r#"Analyze data for task 101 with data: ["data1"]"#,
        "Generate a narrative for task 101",
        "Check progress for task 101",
        "Watch all tasks",
        r#"{"progress": {"task_id": "101"}, "id": 1}"#,
    ] {
        let reply = client.command_json(text).await;
        let error = reply
            .get("error")
            .unwrap_or_else(|| panic!("{text:?}: {reply}"));
        assert_eq!(error["code"], json!("UNAVAILABLE"), "{text:?}: {reply}");
        assert!(error["retry_after_ms"].as_u64().is_some(), "{reply}");
    }
    assert!(client.command("help").await.starts_with("Commands"));
}

#[tokio::test]
async fn redis_outage_mid_session_is_unavailable_then_recovers_on_the_same_socket() {
    let mut redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut health = rift.health().await;
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let analyze = r#"Analyze data for task o with data: [1, 2]"#;
    assert_eq!(
        client.command_json(analyze).await["summary"],
        json!("Analyzed 2 items")
    );

    redis.stop();
    for text in [analyze, "Check progress for task o", "Watch task o"] {
        assert_eq!(
            client.command_error(text).await["code"],
            json!("UNAVAILABLE"),
            "{text:?}"
        );
    }
    assert!(client.command("help").await.starts_with("Commands"));

    redis.restart();
    wait_for_health(&mut health, ServingStatus::Serving).await;
    assert_eq!(
        client.command_json(analyze).await["summary"],
        json!("Analyzed 2 items")
    );
}

/// Serves the HTTP app over agents the test can inspect.
async fn app_with_agents() -> (Agents, std::net::SocketAddr, CancellationToken) {
    let shutdown = CancellationToken::new();
    let agents = Agents::start(
        Arc::new(InProcessMemory::new(1000)),
        CoreConfig::default(),
        shutdown.clone(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = server::http_app(
        agents.clone(),
        WsConfig::default(),
        &prometheus::Registry::new(),
        shutdown.clone(),
    )
    .expect("HTTP app");
    let serving = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(serving.cancelled_owned())
            .await
    });
    (agents, addr, shutdown)
}

#[tokio::test]
async fn dropped_sockets_leave_nothing_behind() {
    let (agents, addr, shutdown) = app_with_agents().await;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut client = WsClient::connect(addr).await;
        let watch = if i % 2 == 0 {
            "Watch all tasks from 0".to_owned()
        } else {
            format!("Watch task t{i}")
        };
        assert!(client.command(&watch).await.starts_with("Watching"));
        clients.push(client);
    }
    assert_eq!(agents.subscriber_count(), 20);

    // Half go away abruptly (no close frame), half politely.
    for (i, client) in clients.into_iter().enumerate() {
        let mut socket = client.into_inner();
        if i % 2 == 0 {
            drop(socket);
        } else {
            socket.close(None).await.expect("close");
        }
    }
    // Each connection task notices on its next read and drops its subscription.
    let deadline = tokio::time::Instant::now() + ws::WAIT;
    while agents.subscriber_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} subscriptions outlived their sockets",
            agents.subscriber_count()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
}

#[tokio::test]
async fn every_bad_frame_in_a_row_gets_exactly_one_reply() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let bad = [
        "Analyze data for task 101 with data: [bad",
        "Analyze data for task 101 with data: 12345",
        "",
        "   ",
        "{",
        "{}",
        "[1, 2]",
        "\u{0}",
        "Watch task 101 from yesterday",
        r#"{"watch": {"after": "yesterday"}}"#,
    ];
    for text in bad {
        client.send_text(text).await;
    }
    client.send(Message::binary(vec![1, 2, 3])).await;
    for text in bad {
        let reply = ws::json(&client.reply().await);
        assert_eq!(
            reply["error"]["code"],
            json!("INVALID_ARGUMENT"),
            "{text:?}: {reply}"
        );
    }
    let reply = ws::json(&client.reply().await);
    assert_eq!(reply["error"]["field"], json!("frame"));
    still_serving(&mut client).await;
}
