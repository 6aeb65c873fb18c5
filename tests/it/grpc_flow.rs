//! The task flow over gRPC on loopback, with the generated Rust client, on both memories.

use crate::support::{
    grpc::{error_info, strings, violated_field},
    redis::RedisServer,
    rift::TestRift,
};
use prost_types::{Value, value::Kind};
use rift::pb::{self, TaskStatus};
use tonic::Code;

fn number(x: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(x)),
    }
}

fn analyze(task_id: &str, data: Vec<Value>) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data,
        ..Default::default()
    }
}

fn narrate(task_id: &str) -> pb::NarrateRequest {
    pb::NarrateRequest {
        task_id: task_id.into(),
        ..Default::default()
    }
}

fn progress(task_id: &str) -> pb::ProgressRequest {
    pb::ProgressRequest {
        task_id: task_id.into(),
    }
}

/// The prototype's seed flow, to the byte, then Rift's versions.
async fn seed_flow(rift: &TestRift) {
    let mut client = rift.client().await;
    let analysis = client
        .analyze(analyze("101", strings(&["data1", "data2", "data3"])))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(analysis.task_id, "101");
    assert_eq!(analysis.summary, "Analyzed 3 items");
    assert_eq!(analysis.version, 1);
    let stats = analysis.stats.expect("stats");
    assert_eq!(stats.item_count, 3);
    assert_eq!(stats.types.expect("types").strings, 3);
    assert_eq!(stats.strings.expect("string stats").distinct, 3);

    let in_progress = client
        .progress(progress("101"))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(in_progress.status(), TaskStatus::InProgress);

    let narrative = client
        .narrate(narrate("101"))
        .await
        .expect("narrate")
        .into_inner();
    assert_eq!(
        narrative.narrative,
        "The analysis for task 101 concluded: Analyzed 3 items."
    );
    assert_eq!(narrative.analysis_version, 1);

    let done = client
        .progress(progress("101"))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(
        (
            done.task_id.as_str(),
            done.status(),
            done.analysis_version,
            done.narrative_analysis_version
        ),
        ("101", TaskStatus::Completed, 1, 1)
    );
}

#[tokio::test]
async fn seed_flow_in_process() {
    seed_flow(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn seed_flow_on_redis() {
    let redis = RedisServer::start();
    seed_flow(&TestRift::on_redis(&redis.url()).await).await;
}

async fn versions_and_stale(rift: &TestRift) {
    let mut client = rift.client().await;
    let untouched = client
        .progress(progress("fresh"))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(untouched.status(), TaskStatus::NotStarted);
    assert_eq!(untouched.analysis_version, 0);

    client
        .analyze(analyze("t", strings(&["a"])))
        .await
        .expect("analyze 1");
    client.narrate(narrate("t")).await.expect("narrate 1");
    let second = client
        .analyze(analyze("t", vec![number(1.0), number(3.0)]))
        .await
        .expect("analyze 2")
        .into_inner();
    assert_eq!(
        (second.version, second.summary.as_str()),
        (2, "Analyzed 2 items")
    );
    let numbers = second.stats.expect("stats").numbers.expect("numbers");
    assert_eq!(
        (numbers.min, numbers.max, numbers.mean, numbers.sum),
        (1.0, 3.0, 2.0, 4.0)
    );

    let stale = client
        .progress(progress("t"))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(
        (
            stale.status(),
            stale.analysis_version,
            stale.narrative_analysis_version
        ),
        (TaskStatus::Stale, 2, 1)
    );
    let renarrated = client
        .narrate(narrate("t"))
        .await
        .expect("narrate 2")
        .into_inner();
    assert_eq!(renarrated.analysis_version, 2);
    assert_eq!(
        renarrated.narrative,
        "The analysis for task t concluded: Analyzed 2 items."
    );
    let completed = client
        .progress(progress("t"))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(completed.status(), TaskStatus::Completed);
}

#[tokio::test]
async fn versions_and_stale_in_process() {
    versions_and_stale(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn versions_and_stale_on_redis() {
    let redis = RedisServer::start();
    versions_and_stale(&TestRift::on_redis(&redis.url()).await).await;
}

#[tokio::test]
async fn narrate_without_analysis_is_a_failed_precondition_with_a_reason() {
    let rift = TestRift::in_process().await;
    let status = rift
        .client()
        .await
        .narrate(narrate("nothing-yet"))
        .await
        .expect_err("no analysis");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let info = error_info(&status);
    assert_eq!(info.reason, "ANALYSIS_MISSING");
    assert_eq!(info.domain, "rift.v1");
}

#[tokio::test]
async fn bad_task_ids_are_invalid_arguments_naming_the_field() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    for bad in ["", "a:b", "a b", "101*", "ü", &"x".repeat(129)] {
        for status in [
            client.analyze(analyze(bad, vec![])).await.expect_err(bad),
            client.narrate(narrate(bad)).await.expect_err(bad),
            client.progress(progress(bad)).await.expect_err(bad),
        ] {
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
            assert_eq!(violated_field(&status), "task_id");
        }
    }
    // The connection and the server still serve.
    client
        .analyze(analyze("ok", vec![]))
        .await
        .expect("good request after bad ones");
}

#[tokio::test]
async fn limits_give_typed_errors_and_the_server_keeps_serving() {
    let rift = TestRift::start(rift::server::Config {
        core: rift::domain::CoreConfig {
            limits: rift::domain::Limits {
                max_items: 5,
                ..Default::default()
            },
            ..Default::default()
        },
        grpc: rift::grpc::GrpcConfig {
            max_message_bytes: 4096,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut client = rift.client().await;

    let too_many = client
        .analyze(analyze("t", strings(&["a"; 6])))
        .await
        .expect_err("6 items > 5");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&too_many), "data");

    let too_big = client
        .analyze(analyze("t", strings(&[&"x".repeat(5000)])))
        .await
        .expect_err("5000 bytes > 4096");
    assert_eq!(too_big.code(), Code::ResourceExhausted, "{too_big:?}");
    let info = error_info(&too_big);
    assert_eq!(info.reason, "MESSAGE_TOO_LARGE");

    let nan = client
        .analyze(analyze("t", vec![number(1.0), number(f64::NAN)]))
        .await
        .expect_err("NaN");
    assert_eq!(nan.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&nan), "data[1]");

    let bad_after = client
        .subscribe(pb::SubscribeRequest {
            task_id: String::new(),
            after: "yesterday".into(),
        })
        .await
        .expect_err("bad resume token");
    assert_eq!(bad_after.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&bad_after), "after");

    let fine = client
        .analyze(analyze("t", strings(&["a"; 5])))
        .await
        .expect("within limits");
    assert_eq!(fine.into_inner().summary, "Analyzed 5 items");
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_serves() {
    let rift = TestRift::in_process().await;
    let mut health = rift.health().await;
    crate::support::rift::wait_for_health(
        &mut health,
        tonic_health::pb::health_check_response::ServingStatus::Serving,
    )
    .await;
    let checked = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(
        checked.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    // Unknown names are NOT_FOUND, which tells a client the probe is real.
    let unknown = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "nope".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), Code::NotFound);
}
