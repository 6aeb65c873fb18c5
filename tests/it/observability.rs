//! Metrics (`GET /metrics`) and request ids: counters move with gRPC and WebSocket calls under
//! their exact labels, memory outages are counted, and every gRPC call gets an `x-request-id`
//! back that its JSON log lines carry.

use std::{collections::BTreeMap, net::SocketAddr};

use crate::support::ws::WsClient;
use crate::support::{
    redis::RedisServer,
    rift::{RiftProcess, TestRift, wait_for_health},
};
use rift::{
    grpc::GrpcConfig,
    pb,
    server::{self, Config, Listeners},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, metadata::MetadataValue};
use tonic_health::pb::health_check_response::ServingStatus;

/// One sample of the exposition: metric name and labels.
type Series = (String, BTreeMap<String, String>);

/// `GET /metrics` over a plain TCP connection: the response's head and body.
async fn get_metrics(addr: SocketAddr) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    (head.to_owned(), body.to_owned())
}

/// `GET /metrics`, parsed into samples.
async fn scrape(addr: SocketAddr) -> BTreeMap<Series, f64> {
    let (head, body) = get_metrics(addr).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample");
            let value: f64 = value.parse().expect("value");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, labels)) => {
                    let labels = labels
                        .trim_end_matches('}')
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").expect("label");
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            ((name, labels), value)
        })
        .collect()
}

fn series(name: &str, labels: &[(&str, &str)]) -> Series {
    (
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    *samples
        .get(&series(name, labels))
        .unwrap_or_else(|| panic!("no {name} {labels:?} in {samples:#?}"))
}

fn calls_total(
    samples: &BTreeMap<Series, f64>,
    operation: &str,
    transport: &str,
    code: &str,
) -> f64 {
    let labels = [
        ("operation", operation),
        ("transport", transport),
        ("code", code),
    ];
    value(samples, "rift_calls_total", &labels)
}

fn analyze(task_id: &str, items: usize) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: (0..items)
            .map(|i| prost_types::Value {
                kind: Some(prost_types::value::Kind::StringValue(format!("item-{i}"))),
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn calls_are_counted_by_operation_transport_and_code() {
    let rift = TestRift::start(Config {
        grpc: GrpcConfig {
            max_message_bytes: 2048,
            ..GrpcConfig::default()
        },
        ..Config::default()
    })
    .await;
    let mut client = rift.client().await;
    client.analyze(analyze("m1", 3)).await.expect("analyze");
    let status = client
        .narrate(pb::NarrateRequest {
            task_id: "nothing-here".into(),
            ..Default::default()
        })
        .await
        .expect_err("no analysis");
    assert_eq!(status.code(), Code::FailedPrecondition);
    // Refused by tonic itself (over --max-message-bytes), and rewritten by Rift's status layer:
    // the metric sees the status the client got.
    let status = client
        .analyze(analyze("m1", 500))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted);

    let mut socket = WsClient::connect(rift.http_addr).await;
    let watching = socket
        .command_json(r#"{"watch": {"task_id": "", "after": ""}, "id": 1}"#)
        .await;
    assert!(watching.get("result").is_some(), "{watching}");
    let analysed = socket
        .command_json(r#"{"analyze": {"task_id": "m2", "data": [1, 2]}, "id": 2}"#)
        .await;
    assert!(analysed.get("result").is_some(), "{analysed}");
    socket.notification().await;
    let error = socket.command_error("Check progres for task m2").await;
    assert_eq!(error["code"], "INVALID_ARGUMENT");

    let samples = scrape(rift.http_addr).await;
    assert_eq!(calls_total(&samples, "Analyze", "grpc", "OK"), 1.0);
    assert_eq!(
        calls_total(&samples, "Narrate", "grpc", "FAILED_PRECONDITION"),
        1.0
    );
    assert_eq!(
        calls_total(&samples, "Analyze", "grpc", "RESOURCE_EXHAUSTED"),
        1.0
    );
    assert_eq!(calls_total(&samples, "Watch", "websocket", "OK"), 1.0);
    assert_eq!(calls_total(&samples, "Analyze", "websocket", "OK"), 1.0);
    assert_eq!(
        calls_total(&samples, "invalid", "websocket", "INVALID_ARGUMENT"),
        1.0
    );
    let latency = |operation, transport| {
        value(
            &samples,
            "rift_call_duration_seconds_count",
            &[("operation", operation), ("transport", transport)],
        )
    };
    assert_eq!(latency("Analyze", "grpc"), 2.0);
    assert_eq!(latency("Analyze", "websocket"), 1.0);
    assert_eq!(value(&samples, "rift_websocket_connections", &[]), 1.0);
    assert_eq!(value(&samples, "rift_subscribers", &[]), 1.0);
    // The live notification the watch got.
    assert_eq!(
        value(
            &samples,
            "rift_notification_delivery_delay_seconds_count",
            &[]
        ),
        1.0
    );
    assert_eq!(value(&samples, "rift_memory_available", &[]), 1.0);
}

#[tokio::test]
async fn a_metrics_listener_serves_metrics_off_the_http_port() {
    let bind = || TcpListener::bind("127.0.0.1:0");
    let (grpc, http, metrics) = (
        bind().await.expect("bind gRPC"),
        bind().await.expect("bind HTTP"),
        bind().await.expect("bind metrics"),
    );
    let grpc_addr = grpc.local_addr().expect("gRPC addr");
    let http_addr = http.local_addr().expect("HTTP addr");
    let metrics_addr = metrics.local_addr().expect("metrics addr");
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(server::serve(
        Config::default(),
        Listeners {
            grpc,
            http,
            metrics: Some(metrics),
        },
        shutdown.clone(),
    ));

    let mut client = pb::rift_client::RiftClient::connect(format!("http://{grpc_addr}"))
        .await
        .expect("connect");
    client.analyze(analyze("x1", 2)).await.expect("analyze");
    let mut socket = WsClient::connect(http_addr).await;
    socket.command("Check progress for task x1").await;

    let samples = scrape(metrics_addr).await;
    assert_eq!(calls_total(&samples, "Analyze", "grpc", "OK"), 1.0);
    assert_eq!(calls_total(&samples, "Progress", "websocket", "OK"), 1.0);
    assert_eq!(value(&samples, "rift_websocket_connections", &[]), 1.0);
    assert_eq!(value(&samples, "rift_subscribers", &[]), 0.0);
    assert_eq!(value(&samples, "rift_memory_available", &[]), 1.0);
    let (head, _) = get_metrics(http_addr).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    drop(socket);
    shutdown.cancel();
    serving
        .await
        .expect("serve task")
        .expect("serve ends cleanly");
}

#[tokio::test]
async fn metrics_addr_flag_moves_metrics_to_their_own_listener() {
    let rift =
        RiftProcess::spawn_with("127.0.0.1:0", &[("RIFT_METRICS_ADDR", "127.0.0.1:0")], &[]).await;
    let metrics_addr = rift.metrics_addr.expect("a metrics address in the log");
    assert_ne!(metrics_addr, rift.http_addr);
    rift.client()
        .await
        .analyze(analyze("x2", 1))
        .await
        .expect("analyze");
    let samples = scrape(metrics_addr).await;
    assert_eq!(calls_total(&samples, "Analyze", "grpc", "OK"), 1.0);
    let (head, _) = get_metrics(rift.http_addr).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[tokio::test]
async fn memory_outages_and_recoveries_are_counted() {
    let mut redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    let mut health = rift.health().await;
    wait_for_health(&mut health, ServingStatus::Serving).await;

    redis.stop();
    let status = client
        .analyze(analyze("o", 1))
        .await
        .expect_err("Redis is down");
    assert_eq!(status.code(), Code::Unavailable);
    wait_for_health(&mut health, ServingStatus::NotServing).await;
    let samples = scrape(rift.http_addr).await;
    assert_eq!(value(&samples, "rift_memory_available", &[]), 0.0);
    assert_eq!(calls_total(&samples, "Analyze", "grpc", "UNAVAILABLE"), 1.0);
    assert!(value(&samples, "rift_memory_unavailable_total", &[]) >= 1.0);

    redis.restart();
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let samples = scrape(rift.http_addr).await;
    assert_eq!(value(&samples, "rift_memory_available", &[]), 1.0);
    let changes = |to| {
        value(
            &samples,
            "rift_memory_availability_changes_total",
            &[("to", to)],
        )
    };
    assert_eq!(changes("down"), 1.0);
    assert_eq!(changes("up"), 1.0);
}

#[tokio::test]
async fn grpc_calls_return_their_request_id() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;

    let mut request = Request::new(analyze("r1", 1));
    request.metadata_mut().insert(
        "x-request-id",
        MetadataValue::from_static("client-chosen-7"),
    );
    let response = client.analyze(request).await.expect("analyze");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-chosen-7")
    );

    // Without one (or with one unfit for a log line), Rift makes one up: a UUID.
    let mut request = Request::new(pb::ProgressRequest {
        task_id: "r1".into(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("has space"));
    let response = client.progress(request).await.expect("progress");
    let generated = response
        .metadata()
        .get("x-request-id")
        .expect("a generated request id")
        .to_str()
        .expect("ASCII");
    assert_eq!(generated.len(), 36, "{generated}");
    assert_eq!(generated.matches('-').count(), 4, "{generated}");

    // Errors carry it too (a trailers-only response).
    let mut request = Request::new(pb::NarrateRequest {
        task_id: "nothing-here".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("failing-call-1"));
    let status = client.narrate(request).await.expect_err("no analysis");
    assert_eq!(
        status
            .metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("failing-call-1")
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id_of_each_call() {
    let mut rift = RiftProcess::spawn_with(
        "127.0.0.1:0",
        &[("RUST_LOG", "info,rift::access=debug")],
        &[],
    )
    .await;
    let mut client = rift.client().await;
    let mut request = Request::new(analyze("j1", 2));
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("log-me-42"));
    client.analyze(request).await.expect("analyze");

    let line = rift
        .log_line("the access line of the gRPC call", |record| {
            record["target"] == "rift::access" && record["span"]["request_id"] == "log-me-42"
        })
        .await;
    assert_eq!(line["level"], "DEBUG", "{line}");
    assert_eq!(line["fields"]["message"], "call finished", "{line}");
    assert_eq!(line["fields"]["operation"], "Analyze", "{line}");
    assert_eq!(line["fields"]["transport"], "grpc", "{line}");
    assert_eq!(line["fields"]["code"], "OK", "{line}");
    assert_eq!(line["span"]["name"], "grpc", "{line}");

    // Each WebSocket command gets an id of its own.
    let mut socket = WsClient::connect(rift.http_addr).await;
    socket.command("Check progress for task j1").await;
    let line = rift
        .log_line("the access line of the WebSocket command", |record| {
            record["target"] == "rift::access" && record["fields"]["transport"] == "websocket"
        })
        .await;
    assert_eq!(line["fields"]["operation"], "Progress", "{line}");
    assert_eq!(line["span"]["name"], "ws_command", "{line}");
    assert_eq!(
        line["span"]["request_id"].as_str().map(str::len),
        Some(36),
        "{line}"
    );
}
