//! ReportAgent end to end: a report over gRPC on Redis and in process (profile, charts, the
//! version it was built on, staleness, its notification), over the WebSocket, and as the
//! command line's HTML page.

use futures::StreamExt;
use rift::pb::{self, rift_client::RiftClient};
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::support::{grpc::error_info, rift::TestRift, ws::WsClient};

/// Records as real data comes, with a hostile string among them.
fn weather() -> Vec<prost_types::Value> {
    let items = json!([
        {"city": "Oslo", "temp": 3.5, "rain": true},
        {"city": "Rome", "temp": 18},
        {"city": "Oslo", "temp": 4.5, "rain": false},
        {"city": "<script>alert(1)</script>", "temp": 30},
        7,
        null
    ]);
    let Value::Array(items) = items else {
        return Vec::new();
    };
    items.into_iter().map(rift::grpc::proto_from_json).collect()
}

async fn analyze(client: &mut RiftClient<Channel>, task_id: &str, data: Vec<prost_types::Value>) {
    client
        .analyze(pb::AnalyzeRequest {
            task_id: task_id.into(),
            data,
            ..Default::default()
        })
        .await
        .expect("Analyze");
}

async fn report(client: &mut RiftClient<Channel>, task_id: &str) -> pb::ReportResponse {
    client
        .report(pb::ReportRequest {
            task_id: task_id.into(),
        })
        .await
        .expect("Report")
        .into_inner()
}

async fn get_task(
    client: &mut RiftClient<Channel>,
    task_id: &str,
    with_report: bool,
) -> pb::GetTaskResponse {
    client
        .get_task(pb::GetTaskRequest {
            task_id: task_id.into(),
            with_report,
        })
        .await
        .expect("GetTask")
        .into_inner()
}

async fn check_the_report_flow(rift: &TestRift) {
    let mut client = rift.client().await;
    let refused = client
        .report(pb::ReportRequest {
            task_id: "r1".into(),
        })
        .await
        .expect_err("no analysis yet");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(error_info(&refused).reason, "ANALYSIS_MISSING");

    let mut watch = client
        .subscribe(pb::SubscribeRequest {
            task_id: "r1".into(),
            after: String::new(),
        })
        .await
        .expect("Subscribe")
        .into_inner();
    analyze(&mut client, "r1", weather()).await;
    let reported = report(&mut client, "r1").await;
    assert_eq!(reported.analysis_version, 1);
    let profile = reported.profile.clone().expect("a profile");
    assert_eq!(profile.item_count, 6);
    let values = profile.values.expect("values");
    let types = values.types.expect("types");
    assert_eq!((types.objects, types.numbers, types.nulls), (4, 1, 1));
    let records = profile.records.expect("records");
    assert_eq!(records.count, 4);
    let names: Vec<&str> = records.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["city", "rain", "temp"],
        "serde_json keeps keys sorted"
    );
    let temp = records.fields[2].values.clone().expect("temp values");
    let numbers = temp.numbers.expect("numbers");
    assert_eq!((numbers.count, numbers.min, numbers.max), (4, 3.5, 30.0));
    assert!((numbers.mean - 14.0).abs() < 1e-9);
    assert!((numbers.median - 11.25).abs() < 1e-9);
    let histogram = numbers.histogram.expect("histogram");
    assert_eq!(histogram.counts.iter().sum::<u64>(), 4);
    let city = records.fields[0].values.clone().expect("city values");
    let top = &city.strings.expect("strings").top[0];
    assert_eq!((top.value.as_str(), top.count), ("Oslo", 2));
    let rain = records.fields[1].values.clone().expect("rain values");
    assert_eq!(
        rain.booleans.map(|b| (b.true_count, b.false_count)),
        Some((1, 1))
    );

    // Charts: the type mix, then per field; the hostile city never becomes markup.
    let kinds: Vec<(&str, &str)> = reported
        .charts
        .iter()
        .map(|chart| (chart.kind.as_str(), chart.field.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("type_mix", ""),
            ("histogram", ""),
            ("top_strings", "city"),
            ("histogram", "temp")
        ]
    );
    for chart in &reported.charts {
        assert!(chart.svg.starts_with("<svg"), "{}", chart.svg);
        assert!(!chart.svg.contains("<script"), "{}", chart.svg);
    }
    assert!(reported.charts[2].svg.contains("&lt;script&gt;"));

    // Stored, announced, and shown by GetTask; stale after another analysis.
    let announced = loop {
        let notification = tokio::time::timeout(std::time::Duration::from_secs(30), watch.next())
            .await
            .expect("a notification")
            .expect("the stream is open")
            .expect("a notification, not an error");
        if notification.action == "report_stored" {
            break notification;
        }
    };
    assert_eq!(announced.agent, "ReportAgent");
    let payload = announced.payload.expect("payload");
    assert_eq!(
        payload.fields["analysis_version"].kind,
        Some(prost_types::value::Kind::NumberValue(1.0))
    );
    let task = get_task(&mut client, "r1", false).await;
    let stored = task.report.expect("a report");
    assert_eq!((stored.analysis_version, stored.stale), (1, false));
    assert!(
        stored.profile.is_none() && stored.charts.is_empty(),
        "only when asked"
    );
    assert_eq!(task.last_notification_id, announced.id);
    let full = get_task(&mut client, "r1", true)
        .await
        .report
        .expect("a report");
    assert_eq!(full.charts, reported.charts);
    assert_eq!(full.profile, reported.profile);

    analyze(&mut client, "r1", weather()).await;
    let stale = get_task(&mut client, "r1", false)
        .await
        .report
        .expect("a report");
    assert_eq!((stale.analysis_version, stale.stale), (1, true));
    assert_eq!(report(&mut client, "r1").await.analysis_version, 2);
    let fresh = get_task(&mut client, "r1", false)
        .await
        .report
        .expect("a report");
    assert_eq!((fresh.analysis_version, fresh.stale), (2, false));

    // A deletion takes the report and the items with it.
    client
        .delete_task(pb::DeleteTaskRequest {
            task_id: "r1".into(),
        })
        .await
        .expect("DeleteTask");
    assert!(get_task(&mut client, "r1", true).await.report.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_flow_on_redis() {
    let (_redis, rift) = TestRift::with_redis().await;
    check_the_report_flow(&rift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_flow_in_process() {
    let rift = TestRift::in_process().await;
    check_the_report_flow(&rift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_over_the_websocket() {
    let (_redis, rift) = TestRift::with_redis().await;
    let mut ws = WsClient::connect(rift.http_addr).await;
    ws.command(r#"Analyze data for task 5 with data: [1, 2, 2, "a"]"#)
        .await;
    let reply: Value = serde_json::from_str(&ws.command("Generate a report for task 5.").await)
        .expect("a JSON reply");
    assert_eq!(reply["task_id"], "5");
    assert_eq!(reply["analysis_version"], 1);
    assert_eq!(reply["profile"]["values"]["numbers"]["median"], 2.0);
    assert_eq!(reply["charts"][0]["kind"], "type_mix");
    let typed = ws
        .command_json(r#"{"get_task": {"task_id": "5", "with_report": true}, "id": 1}"#)
        .await;
    assert_eq!(typed["result"]["report"]["stale"], false, "{typed}");
    assert_eq!(typed["result"]["report"]["charts"], reply["charts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_writes_one_self_contained_page() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    analyze(&mut client, "h1", weather()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["report", "h1", "--html"])
        .arg(&page)
        .env("RIFT_ADDR", rift.grpc_addr.to_string())
        .output()
        .await
        .expect("run rift report");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("task h1: report of analysis version 1 (6 items, 4 charts)"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(
        !html.contains("<script"),
        "no script, and the hostile city escaped"
    );
    assert!(html.contains("&lt;script&gt;"));
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "{external} in the page");
    }
    if let Ok(dir) = std::env::var("RIFT_REPORT_PAGE_DIR") {
        std::fs::copy(&page, std::path::Path::new(&dir).join("report.html"))
            .expect("keep the page");
    }
}
