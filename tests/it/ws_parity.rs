//! Parity: every WebSocket command, in either form, gives what the typed RPC gives for the same
//! state, and the same error code for the same bad input.
//!
//! The gRPC side uses the generated client against the same server; the WebSocket adapter
//! itself only ever calls the domain.

use std::time::Duration;

use crate::support::rift::TestRift;
use crate::support::ws::{self, WsClient, code_name};
use rift::{
    domain::memory::RedisConfig,
    grpc::proto_from_json,
    pb::{self, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use serde_json::{Map, Number, Value, json};
use tonic::transport::Channel;

/// Both transports to one server.
struct Clients {
    ws: WsClient,
    grpc: RiftClient<Channel>,
}

impl Clients {
    async fn connect(rift: &TestRift) -> Self {
        Self {
            ws: WsClient::connect(rift.http_addr).await,
            grpc: rift.client().await,
        }
    }
}

fn data() -> Value {
    json!(["data1", "data2", "data1", 3, -1.5, null, true, [1, 2], {"k": "v"}])
}

fn analyze_request(task_id: &str, data: &Value) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: data
            .as_array()
            .expect("a list")
            .iter()
            .cloned()
            .map(proto_from_json)
            .collect(),
        ..Default::default()
    }
}

/// JSON with every number as a float, as protobuf carries them.
fn floats(value: Value) -> Value {
    match value {
        Value::Number(n) => Number::from_f64(n.as_f64().unwrap_or_default())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.into_iter().map(floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        other => other,
    }
}

fn json_of_proto(value: prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::NumberValue(x)) => json!(x),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.into_iter().map(json_of_proto).collect())
        }
        Some(Kind::StructValue(s)) => json_of_struct(s),
    }
}

fn json_of_struct(s: prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .into_iter()
            .map(|(k, v)| (k, json_of_proto(v)))
            .collect::<Map<_, _>>(),
    )
}

/// The gRPC statistics in the shape the WebSocket sends them.
fn stats_json(stats: pb::AnalysisStats) -> Value {
    let types = stats.types.unwrap_or_default();
    let mut out = json!({
        "item_count": stats.item_count,
        "types": {
            "nulls": types.nulls, "booleans": types.booleans, "numbers": types.numbers,
            "strings": types.strings, "lists": types.lists, "objects": types.objects,
        },
    });
    if let Some(n) = stats.numbers {
        out["numbers"] =
            json!({"count": n.count, "min": n.min, "max": n.max, "mean": n.mean, "sum": n.sum});
    }
    if let Some(s) = stats.strings {
        out["strings"] = json!({
            "count": s.count,
            "distinct": s.distinct,
            "top": s.top.into_iter().map(|v| json!({"value": v.value, "count": v.count})).collect::<Vec<_>>(),
        });
    }
    out
}

fn status_name(status: pb::TaskStatus) -> String {
    status.as_str_name().to_lowercase().replace('_', "-")
}

#[tokio::test]
async fn analyze_gives_the_same_result_on_both_transports() {
    let rift = TestRift::in_process().await;
    let Clients { mut ws, mut grpc } = Clients::connect(&rift).await;
    let data = data();

    let text = ws
        .command_json(&format!("Analyze data for task via-ws with data: {data}"))
        .await;
    let typed = ws
        .command_json(
            &json!({"analyze": {"task_id": "via-typed", "data": data}, "id": 1}).to_string(),
        )
        .await["result"]
        .clone();
    let rpc = grpc
        .analyze(analyze_request("via-grpc", &data))
        .await
        .expect("analyze")
        .into_inner();

    for (ws_result, task_id) in [(text, "via-ws"), (typed, "via-typed")] {
        assert_eq!(ws_result["task_id"], json!(task_id));
        assert_eq!(ws_result["summary"], json!(rpc.summary));
        assert_eq!(ws_result["version"], json!(rpc.version));
        assert_eq!(
            floats(ws_result["stats"].clone()),
            floats(stats_json(rpc.stats.clone().expect("stats")))
        );
    }
}

#[tokio::test]
async fn narrate_and_progress_give_the_same_result_in_every_state() {
    let rift = TestRift::in_process().await;
    let Clients { mut ws, mut grpc } = Clients::connect(&rift).await;
    let task = "p";

    let compare_progress = async |ws: &mut WsClient, grpc: &mut RiftClient<Channel>| {
        let text = ws
            .command_json(&format!("Check progress for task {task}"))
            .await;
        let typed = ws
            .command_json(&format!(r#"{{"progress": {{"task_id": "{task}"}}}}"#))
            .await["result"]
            .clone();
        let rpc = grpc
            .progress(pb::ProgressRequest {
                task_id: task.into(),
            })
            .await
            .expect("progress")
            .into_inner();
        let expected = json!({
            "task_id": rpc.task_id,
            "status": status_name(rpc.status()),
            "analysis_version": rpc.analysis_version,
            "narrative_analysis_version": rpc.narrative_analysis_version,
        });
        assert_eq!(text, expected);
        assert_eq!(typed, expected);
        expected["status"].clone()
    };
    let compare_narrative = async |ws: &mut WsClient, grpc: &mut RiftClient<Channel>| {
        let text = ws
            .command(&format!("Generate a narrative for task {task}"))
            .await;
        let typed = ws
            .command_json(&format!(r#"{{"narrate": {{"task_id": "{task}"}}}}"#))
            .await["result"]
            .clone();
        let rpc = grpc
            .narrate(pb::NarrateRequest {
                task_id: task.into(),
                ..Default::default()
            })
            .await
            .expect("narrate")
            .into_inner();
        assert_eq!(text, rpc.narrative);
        assert_eq!(
            typed,
            json!({"task_id": rpc.task_id, "narrative": rpc.narrative, "analysis_version": rpc.analysis_version})
        );
    };

    assert_eq!(
        compare_progress(&mut ws, &mut grpc).await,
        json!("not-started")
    );
    ws.command(&format!("Analyze data for task {task} with data: [1, 2]"))
        .await;
    assert_eq!(
        compare_progress(&mut ws, &mut grpc).await,
        json!("in-progress")
    );
    compare_narrative(&mut ws, &mut grpc).await;
    assert_eq!(
        compare_progress(&mut ws, &mut grpc).await,
        json!("completed")
    );
    grpc.analyze(analyze_request(task, &json!([1, 2, 3])))
        .await
        .expect("analyze");
    assert_eq!(compare_progress(&mut ws, &mut grpc).await, json!("stale"));
    compare_narrative(&mut ws, &mut grpc).await;
    assert_eq!(
        compare_progress(&mut ws, &mut grpc).await,
        json!("completed")
    );
}

#[tokio::test]
async fn notifications_carry_the_same_ids_and_content_as_the_grpc_stream() {
    let rift = TestRift::in_process().await;
    let Clients { mut ws, mut grpc } = Clients::connect(&rift).await;
    ws.command(r#"Analyze data for task n with data: ["a"]"#)
        .await;
    ws.command("Generate a narrative for task n").await;
    ws.command("Check progress for task n").await;

    ws.command("Watch task n from 0").await;
    let mut stream = grpc
        .subscribe(pb::SubscribeRequest {
            task_id: "n".into(),
            after: "0".into(),
        })
        .await
        .expect("subscribe")
        .into_inner();
    for _ in 0..3 {
        let pushed = ws.notification().await;
        let rpc = tokio::time::timeout(ws::WAIT, stream.message())
            .await
            .expect("a notification in time")
            .expect("stream")
            .expect("not ended");
        assert_eq!(pushed["id"], json!(rpc.id));
        assert_eq!(pushed["task_id"], json!(rpc.task_id));
        assert_eq!(pushed["agent"], json!(rpc.agent));
        assert_eq!(pushed["action"], json!(rpc.action));
        assert_eq!(
            floats(pushed["payload"].clone()),
            floats(json_of_struct(rpc.payload.expect("payload")))
        );
        let time = rpc.time.expect("time");
        let ms = time.seconds * 1000 + i64::from(time.nanos) / 1_000_000;
        assert!(rpc.id.starts_with(&format!("{ms}-")), "{} vs {ms}", rpc.id);
    }
}

/// One bad input, as a natural-language command, a typed request and an RPC.
struct BadInput {
    text: String,
    typed: Value,
    rpc: Rpc,
}

enum Rpc {
    Analyze(pb::AnalyzeRequest),
    Narrate(&'static str),
    Progress(String),
    Subscribe(&'static str, &'static str),
}

async fn grpc_code(grpc: &mut RiftClient<Channel>, rpc: Rpc) -> tonic::Code {
    let status = match rpc {
        Rpc::Analyze(request) => grpc.analyze(request).await.err(),
        Rpc::Narrate(task_id) => grpc
            .narrate(pb::NarrateRequest {
                task_id: task_id.into(),
                ..Default::default()
            })
            .await
            .err(),
        Rpc::Progress(task_id) => grpc.progress(pb::ProgressRequest { task_id }).await.err(),
        Rpc::Subscribe(task_id, after) => grpc
            .subscribe(pb::SubscribeRequest {
                task_id: task_id.into(),
                after: after.into(),
            })
            .await
            .err(),
    };
    status.expect("the RPC should fail").code()
}

fn bad_inputs() -> Vec<BadInput> {
    let long = "x".repeat(129);
    let many: Value = Value::Array(vec![json!(1); 10_001]);
    vec![
        BadInput {
            text: "Check progress for task".into(),
            typed: json!({"progress": {"task_id": ""}}),
            rpc: Rpc::Progress(String::new()),
        },
        BadInput {
            text: "Check progress for task bad:id".into(),
            typed: json!({"progress": {"task_id": "bad:id"}}),
            rpc: Rpc::Progress("bad:id".into()),
        },
        BadInput {
            text: format!("Check progress for task {long}"),
            typed: json!({"progress": {"task_id": long}}),
            rpc: Rpc::Progress(long.clone()),
        },
        BadInput {
            text: "Generate a narrative for task a b".into(),
            typed: json!({"narrate": {"task_id": "a b"}}),
            rpc: Rpc::Narrate("a b"),
        },
        BadInput {
            text: "Generate a narrative for task never-analyzed".into(),
            typed: json!({"narrate": {"task_id": "never-analyzed"}}),
            rpc: Rpc::Narrate("never-analyzed"),
        },
        BadInput {
            text: "Analyze data for task with data: [1]".into(),
            typed: json!({"analyze": {"task_id": "", "data": [1]}}),
            rpc: Rpc::Analyze(analyze_request("", &json!([1]))),
        },
        BadInput {
            text: "Analyze data for task * with data: [1]".into(),
            typed: json!({"analyze": {"task_id": "*", "data": [1]}}),
            rpc: Rpc::Analyze(analyze_request("*", &json!([1]))),
        },
        BadInput {
            text: format!("Analyze data for task many with data: {many}"),
            typed: json!({"analyze": {"task_id": "many", "data": many}}),
            rpc: Rpc::Analyze(analyze_request("many", &many)),
        },
        BadInput {
            text: "Watch task 101 from yesterday".into(),
            typed: json!({"watch": {"task_id": "101", "after": "yesterday"}}),
            rpc: Rpc::Subscribe("101", "yesterday"),
        },
        BadInput {
            text: "Watch task bad:id".into(),
            typed: json!({"watch": {"task_id": "bad:id"}}),
            rpc: Rpc::Subscribe("bad:id", ""),
        },
    ]
}

#[tokio::test]
async fn the_same_bad_input_gets_the_same_code_on_both_transports() {
    let rift = TestRift::in_process().await;
    let Clients { mut ws, mut grpc } = Clients::connect(&rift).await;
    for bad in bad_inputs() {
        let expected = code_name(grpc_code(&mut grpc, bad.rpc).await);
        let text = ws.command_error(&bad.text).await;
        assert_eq!(text["code"], json!(expected), "{:?}: {text}", bad.text);
        let typed = ws.command_json(&bad.typed.to_string()).await;
        assert_eq!(
            typed["error"]["code"],
            json!(expected),
            "{}: {typed}",
            bad.typed
        );
        // The same field is named, where gRPC names one.
        assert_eq!(text["field"], typed["error"]["field"], "{:?}", bad.text);
    }
}

#[tokio::test]
async fn redis_unavailable_is_unavailable_on_both_transports() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    redis.op_timeout = Duration::from_millis(300);
    let rift = TestRift::start(Config {
        memory: MemoryConfig::Redis(redis),
        ..Config::default()
    })
    .await;
    let Clients { mut ws, mut grpc } = Clients::connect(&rift).await;
    for (text, rpc) in [
        (
            "Analyze data for task 1 with data: [1]",
            Rpc::Analyze(analyze_request("1", &json!([1]))),
        ),
        ("Generate a narrative for task 1", Rpc::Narrate("1")),
        ("Check progress for task 1", Rpc::Progress("1".into())),
        ("Watch all tasks", Rpc::Subscribe("", "")),
    ] {
        let expected = code_name(grpc_code(&mut grpc, rpc).await);
        assert_eq!(expected, "UNAVAILABLE");
        assert_eq!(
            ws.command_error(text).await["code"],
            json!(expected),
            "{text:?}"
        );
    }
}
