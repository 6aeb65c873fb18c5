//! Redis going away: calls answer UNAVAILABLE instead of hanging, health follows, and Rift
//! recovers by itself once Redis is back, live subscriptions included.

use std::time::Duration;

use crate::support::{
    grpc::patient,
    redis::RedisServer,
    rift::{TestRift, wait_for_health},
};
use rift::pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

fn analyze(task_id: &str) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: vec![],
        ..Default::default()
    }
}

#[tokio::test]
async fn outage_is_unavailable_and_recovery_needs_no_restart() {
    let mut redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    let mut health = rift.health().await;
    wait_for_health(&mut health, ServingStatus::Serving).await;
    client
        .analyze(analyze("o"))
        .await
        .expect("analyze while Redis is up");
    let mut live = client
        .subscribe(pb::SubscribeRequest {
            task_id: "o".into(),
            after: String::new(),
        })
        .await
        .expect("subscribe while Redis is up")
        .into_inner();

    redis.stop();
    for _ in 0..3 {
        let status = client
            .analyze(patient(analyze("o")))
            .await
            .expect_err("Redis is down");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let narrate = client
        .narrate(patient(pb::NarrateRequest {
            task_id: "o".into(),
            ..Default::default()
        }))
        .await
        .expect_err("Redis is down");
    assert_eq!(narrate.code(), Code::Unavailable, "{narrate:?}");
    let progress = client
        .progress(patient(pb::ProgressRequest {
            task_id: "o".into(),
        }))
        .await
        .expect_err("Redis is down");
    assert_eq!(progress.code(), Code::Unavailable, "{progress:?}");
    let subscribe = client
        .subscribe(patient(pb::SubscribeRequest {
            task_id: String::new(),
            after: String::new(),
        }))
        .await
        .expect_err("Redis is down");
    assert_eq!(subscribe.code(), Code::Unavailable, "{subscribe:?}");
    wait_for_health(&mut health, ServingStatus::NotServing).await;

    redis.restart();
    wait_for_health(&mut health, ServingStatus::Serving).await;
    // The restarted Redis is empty (the fixture keeps no persistence): this is version 1 again.
    let after = client
        .analyze(analyze("o"))
        .await
        .expect("analyze after Redis came back, same Rift, same client")
        .into_inner();
    assert_eq!(after.summary, "Analyzed 0 items");

    // The subscription opened before the outage still delivers: first the notice that the
    // history it read from is gone (Redis came back empty), then the new write.
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), live.message())
            .await
            .expect("the live subscription delivers after recovery")
            .expect("stream error")
            .expect("stream ended")
    };
    let notice = next().await;
    assert_eq!(
        (
            notice.task_id.as_str(),
            notice.agent.as_str(),
            notice.action.as_str()
        ),
        ("o", "Rift", "history_reset")
    );
    let delivered = next().await;
    assert_eq!(
        (delivered.task_id.as_str(), delivered.action.as_str()),
        ("o", "analysis_stored")
    );
}
