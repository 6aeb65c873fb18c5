//! OpenTelemetry traces end to end: a `rift serve` process, on real Redis and on in-process
//! memory, exporting over OTLP/gRPC to a trace receiver inside this test (the collector's
//! `TraceService`, from `opentelemetry-proto`), configured only by the standard `OTEL_*`
//! variables.
//!
//! The caller's W3C `traceparent` (gRPC metadata, a WebSocket upgrade header, a typed frame's
//! field) becomes the parent of the call's span; the trace id is in the JSON access log; and the
//! notification a write produces carries the writer's `traceparent` to subscribers of both
//! transports.

use std::time::Duration;

use crate::support::{redis::RedisServer, rift::RiftProcess, ws::WsClient};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{AnyValue, any_value},
    trace::v1::Span,
};
use rift::pb;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

/// The collector's trace service: every span exported, with its resource's `service.name`.
struct Receiver {
    spans: mpsc::UnboundedSender<(String, Span)>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| text(attribute.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                let _ = self.spans.send((service.clone(), span));
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| text(attribute.value.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A client's span: its trace id, span id, and the `traceparent` naming it.
struct ClientSpan {
    trace_id: &'static str,
    span_id: &'static str,
}

impl ClientSpan {
    fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

const GRPC_CALLER: ClientSpan = ClientSpan {
    trace_id: "0af7651916cd43dd8448eb211c80319c",
    span_id: "b7ad6b7169203331",
};
const WS_UPGRADE: ClientSpan = ClientSpan {
    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
    span_id: "00f067aa0ba902b7",
};
const WS_FRAME: ClientSpan = ClientSpan {
    trace_id: "5c8a9d0e1f2a3b4c5d6e7f8091a2b3c4",
    span_id: "1a2b3c4d5e6f7081",
};

#[tokio::test]
async fn on_redis_spans_reach_an_otlp_receiver_in_the_callers_traces() {
    let redis = RedisServer::start();
    traced_session(&["--redis-url", &redis.url()]).await;
}

#[tokio::test]
async fn in_process_spans_reach_an_otlp_receiver_in_the_callers_traces() {
    traced_session(&[]).await;
}

/// A gRPC call and WebSocket commands with their callers' trace contexts, against a `rift
/// serve` given `memory_args`, and what reaches the receiver, the log and the subscribers.
async fn traced_session(memory_args: &[&str]) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let receiver_addr = listener.local_addr().expect("receiver address");
    let (sender, mut spans) = mpsc::unbounded_channel();
    let stop_receiver = CancellationToken::new();
    let receiving = tokio::spawn({
        let stop = stop_receiver.clone();
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver { spans: sender }))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop.cancelled_owned())
    });

    let endpoint = format!("http://{receiver_addr}");
    let mut rift = RiftProcess::spawn_with(
        "127.0.0.1:0",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            // Export every 100 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("RUST_LOG", "info,rift::access=debug"),
        ],
        memory_args,
    )
    .await;

    // gRPC: the caller's traceparent in the metadata.
    let mut client = rift.client().await;
    let mut request = Request::new(pb::AnalyzeRequest {
        task_id: "traced-1".into(),
        data: vec![prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("a".into())),
        }],
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        GRPC_CALLER.traceparent().parse().expect("metadata value"),
    );
    client.analyze(request).await.expect("Analyze");

    // WebSocket: the upgrade's traceparent for commands, a typed frame's own for that frame.
    let upgrade = WS_UPGRADE.traceparent();
    let mut socket =
        WsClient::connect_with_headers(rift.http_addr, &[("traceparent", &upgrade)]).await;
    let reply = socket
        .command_json(&format!(
            r#"{{"analyze": {{"task_id": "traced-2", "data": [1]}}, "id": 1, "traceparent": "{}"}}"#,
            WS_FRAME.traceparent()
        ))
        .await;
    assert_eq!(reply["result"]["version"], 1, "{reply}");
    let progress = socket
        .command_json("Check progress for task traced-2")
        .await;
    assert_eq!(progress["status"], "in-progress", "{progress}");

    // The notifications carry their writers' trace contexts, on both transports.
    let watching = socket
        .command_json(r#"{"watch": {"task_id": "", "after": "0"}, "id": 2}"#)
        .await;
    assert!(watching.get("result").is_some(), "{watching}");
    let first = socket.notification().await;
    let second = socket.notification().await;
    assert_eq!(first["task_id"], "traced-1");
    assert_trace(
        &first["traceparent"],
        GRPC_CALLER.trace_id,
        "WebSocket, gRPC write",
    );
    assert_eq!(second["task_id"], "traced-2");
    assert_trace(
        &second["traceparent"],
        WS_FRAME.trace_id,
        "WebSocket, WebSocket write",
    );
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            task_id: String::new(),
            after: "0".into(),
        })
        .await
        .expect("Subscribe")
        .into_inner();
    for expected in [GRPC_CALLER.trace_id, WS_FRAME.trace_id] {
        let notification = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("a notification within 30 s")
            .expect("stream")
            .expect("a notification");
        assert_trace(
            &serde_json::Value::String(notification.traceparent.clone()),
            expected,
            "gRPC stream",
        );
    }

    // The trace id is in the call's JSON log lines.
    let logged = rift
        .log_line("the Analyze access log line", |record| {
            record["fields"]["message"] == "call finished"
                && record["fields"]["operation"] == "Analyze"
                && record["fields"]["transport"] == "grpc"
        })
        .await;
    assert_eq!(logged["span"]["trace_id"], GRPC_CALLER.trace_id, "{logged}");

    // Each call's span is a child of its caller's, exported by the service "rift".
    let mut expected = vec![
        ("grpc", "Analyze", &GRPC_CALLER),
        ("ws_command", "Analyze", &WS_FRAME),
        ("ws_command", "Progress", &WS_UPGRADE),
    ];
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while !expected.is_empty() {
            let Some((service, span)) = spans.recv().await else {
                break;
            };
            let operation = attribute(&span, "operation").unwrap_or_default();
            expected.retain(|(name, wanted, caller)| {
                let matches = span.name == *name
                    && operation == *wanted
                    && hex(&span.trace_id) == caller.trace_id;
                if matches {
                    assert_eq!(hex(&span.parent_span_id), caller.span_id, "{name} {wanted}");
                    assert_eq!(service, "rift");
                }
                !matches
            });
        }
    })
    .await;
    assert!(
        found.is_ok() && expected.is_empty(),
        "spans never received: {:?}",
        expected
            .iter()
            .map(|(name, operation, _)| format!("{name} {operation}"))
            .collect::<Vec<_>>()
    );

    drop(socket);
    drop(stream);
    rift.kill().await;
    stop_receiver.cancel();
    receiving
        .await
        .expect("receiver task")
        .expect("receiver served");
}

fn assert_trace(traceparent: &serde_json::Value, trace_id: &str, what: &str) {
    let text = traceparent.as_str().unwrap_or_default();
    let parts: Vec<&str> = text.split('-').collect();
    assert!(
        parts.len() == 4 && parts[0] == "00" && parts[1] == trace_id && parts[2].len() == 16,
        "{what}: traceparent {traceparent} is not in trace {trace_id}"
    );
}
