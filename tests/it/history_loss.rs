//! When memory loses history, subscribers and writers are told: `history_reset` when Redis
//! came back empty, `history_diverged` when events a subscriber had received are gone, and a
//! write that relies on a version or request id of the lost history is refused.
//!
//! Real losses, on the test's own redis-server: restarted empty (no persistence), or restarted
//! from an older dump (`SAVE`, more writes, SIGKILL, restart).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{
    grpc::{error_info, subscribe},
    redis::RedisServer,
    rift::{TestRift, wait_for_health},
};
use rift::{
    pb::{self, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use tonic::{Code, Streaming, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

fn analyze(task_id: &str) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: vec![],
        ..Default::default()
    }
}

async fn next(stream: &mut Streaming<pb::Notification>) -> pb::Notification {
    tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("a notification within 30 s")
        .expect("no stream error")
        .expect("the stream goes on")
}

/// Writes `n` analyses of `task`, returning the versions.
async fn write(client: &mut RiftClient<Channel>, task: &str, n: usize) -> Vec<u64> {
    let mut versions = Vec::new();
    for _ in 0..n {
        let response = client.analyze(analyze(task)).await.expect("analyze");
        versions.push(response.into_inner().version);
    }
    versions
}

fn version(notification: &pb::Notification) -> u64 {
    let payload = notification.payload.as_ref().expect("a payload");
    match payload.fields["version"].kind {
        Some(prost_types::value::Kind::NumberValue(version)) => version as u64,
        ref other => panic!("no version in {other:?}"),
    }
}

/// The milliseconds part of a notification id.
fn ms(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("not an id: {id}"))
}

fn field(notification: &pb::Notification, name: &str) -> String {
    let payload = notification.payload.as_ref().expect("a payload");
    match &payload.fields[name].kind {
        Some(prost_types::value::Kind::StringValue(text)) => text.clone(),
        other => panic!("no {name} in {other:?}"),
    }
}

fn assert_notice(notification: &pb::Notification, task_id: &str, action: &str) {
    assert_eq!(
        (
            notification.agent.as_str(),
            notification.action.as_str(),
            notification.task_id.as_str()
        ),
        ("Rift", action, task_id),
        "{notification:?}"
    );
    // Resuming from the notice replays everything the history now holds.
    assert_eq!(notification.id, "0-0", "{notification:?}");
}

/// Restarts `redis` (empty, unless it has a dump to load) and waits until Rift serves on it
/// again.
async fn restart(redis: &mut RedisServer, rift: &TestRift) {
    let mut health = rift.health().await;
    redis.restart();
    wait_for_health(&mut health, ServingStatus::Serving).await;
}

/// The first call after a restart may meet the connection Redis dropped: retry until it
/// answers (the restart is not what these tests are about).
async fn write_after_restart(client: &mut RiftClient<Channel>, task: &str) -> pb::AnalyzeResponse {
    for _ in 0..50 {
        match client.analyze(analyze(task)).await {
            Ok(response) => return response.into_inner(),
            Err(status) if status.code() == Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    panic!("Rift never wrote to the restarted Redis");
}

#[tokio::test]
async fn a_subscriber_resuming_across_a_wipe_is_told_history_reset() {
    let (mut redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    write(&mut client, "w", 3).await;
    let mut before = subscribe(&mut client, "w", "0").await;
    let mut last = String::new();
    for _ in 0..3 {
        last = next(&mut before).await.id;
    }
    drop(before);

    restart(&mut redis, &rift).await;
    write_after_restart(&mut client, "w").await;
    write(&mut client, "w", 1).await;

    let mut resumed = subscribe(&mut client, "w", &last).await;
    let notice = next(&mut resumed).await;
    assert_notice(&notice, "w", "history_reset");
    assert_eq!(field(&notice, "requested_after"), last);
    // Then everything the new history holds: its versions start again at 1.
    assert_eq!(version(&next(&mut resumed).await), 1);
    assert_eq!(version(&next(&mut resumed).await), 2);
}

#[tokio::test]
async fn a_live_subscriber_across_a_wipe_is_told_and_misses_nothing_though_ids_go_backwards() {
    let (mut redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    let mut live = subscribe(&mut client, "", "").await;
    // The old primary's clock was ahead: its stream ids are an hour in the future (a
    // notification written straight into the stream, as that primary would have).
    let ahead = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
        + 3_600_000;
    let mut connection = redis.connection().await;
    let _: String = redis::cmd("XADD")
        .arg("shared:notifications")
        .arg(format!("{ahead}-0"))
        .arg(&[
            ("task_id", "old"),
            ("agent", "TechAgent"),
            ("action", "analysis_stored"),
            ("payload", r#"{"task_id": "old", "version": 7}"#),
        ])
        .query_async(&mut connection)
        .await
        .expect("XADD");
    drop(connection);
    write(&mut client, "old", 1).await;
    assert_eq!(next(&mut live).await.id, format!("{ahead}-0"));
    let before = next(&mut live).await;
    assert_eq!(before.task_id, "old");

    restart(&mut redis, &rift).await;
    let first = write_after_restart(&mut client, "new").await;
    write(&mut client, "new", 2).await;

    let notice = next(&mut live).await;
    assert_notice(&notice, "", "history_reset");
    assert_eq!(field(&notice, "last_delivered"), before.id);
    assert!(!field(&notice, "previous_epoch").is_empty());
    assert_ne!(field(&notice, "epoch"), field(&notice, "previous_epoch"));
    // The new history's ids are behind everything delivered before; none is skipped.
    for expected in 1..=3 {
        let event = next(&mut live).await;
        assert_eq!((event.task_id.as_str(), version(&event)), ("new", expected));
        assert!(ms(&event.id) < ms(&before.id), "{event:?}");
    }
    assert_eq!(first.version, 1);
}

#[tokio::test]
async fn versions_and_request_ids_of_a_lost_history_never_silently_match() {
    let (mut redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    let first = client
        .analyze(pb::AnalyzeRequest {
            request_id: "r-1".into(),
            ..analyze("t")
        })
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(first.version, 1);
    assert!(!first.epoch.is_empty());
    let old_epoch = first.epoch.clone();
    let second = client
        .analyze(pb::AnalyzeRequest {
            expected_version: Some(1),
            epoch: old_epoch.clone(),
            ..analyze("t")
        })
        .await
        .expect("expected_version 1 with the current epoch")
        .into_inner();
    assert_eq!(
        (second.version, second.epoch.as_str()),
        (2, old_epoch.as_str())
    );

    restart(&mut redis, &rift).await;
    write_after_restart(&mut client, "other").await;

    // A retry of r-1, and a write conditional on version 2, both naming the old epoch:
    // refused, nothing written.
    for request in [
        pb::AnalyzeRequest {
            request_id: "r-1".into(),
            epoch: old_epoch.clone(),
            ..analyze("t")
        },
        pb::AnalyzeRequest {
            expected_version: Some(2),
            epoch: old_epoch.clone(),
            ..analyze("t")
        },
    ] {
        let status = client.analyze(request).await.expect_err("old epoch");
        assert_eq!(status.code(), Code::Aborted, "{status:?}");
        let info = error_info(&status);
        assert_eq!(info.reason, "EPOCH_CHANGED");
        assert_ne!(info.metadata["current_epoch"], old_epoch);
    }
    let narrate = client
        .narrate(pb::NarrateRequest {
            task_id: "t".into(),
            request_id: "r-2".into(),
            epoch: old_epoch.clone(),
        })
        .await
        .expect_err("old epoch");
    assert_eq!(error_info(&narrate).reason, "EPOCH_CHANGED");
    let progress = client
        .progress(pb::ProgressRequest {
            task_id: "t".into(),
        })
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.analysis_version, 0, "nothing was written");
    let new_epoch = progress.epoch;
    assert_ne!(new_epoch, old_epoch);

    // Without an epoch the retry writes again, and its answer says it is another history.
    let again = client
        .analyze(pb::AnalyzeRequest {
            request_id: "r-1".into(),
            ..analyze("t")
        })
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(
        (again.version, again.epoch.as_str()),
        (1, new_epoch.as_str())
    );
    // And the new epoch works as the old one did.
    let next = client
        .analyze(pb::AnalyzeRequest {
            expected_version: Some(1),
            epoch: new_epoch.clone(),
            ..analyze("t")
        })
        .await
        .expect("expected_version 1 with the new epoch")
        .into_inner();
    assert_eq!(next.version, 2);
}

#[tokio::test]
async fn subscribers_are_told_history_diverged_when_an_older_dump_comes_back() {
    let (mut redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    write(&mut client, "d", 3).await;
    let mut connection = redis.connection().await;
    let _: () = redis::cmd("SAVE")
        .query_async(&mut connection)
        .await
        .expect("SAVE");
    drop(connection);
    let mut live = subscribe(&mut client, "d", "").await;
    write(&mut client, "d", 2).await;
    next(&mut live).await;
    let seen = next(&mut live).await;
    assert_eq!(version(&seen), 5);

    // Killed and restarted: it comes back with the dump, three events of the same epoch.
    restart(&mut redis, &rift).await;
    let resumed_write = write_after_restart(&mut client, "d").await;
    assert_eq!(resumed_write.version, 4, "the dump's history goes on");

    let mut resumed = subscribe(&mut client, "d", &seen.id).await;
    let notice = next(&mut resumed).await;
    assert_notice(&notice, "d", "history_diverged");
    assert_eq!(field(&notice, "requested_after"), seen.id);
    // Then everything retained: the dump's three, and the write after it.
    let versions: Vec<u64> = [
        next(&mut resumed).await,
        next(&mut resumed).await,
        next(&mut resumed).await,
        next(&mut resumed).await,
    ]
    .iter()
    .map(version)
    .collect();
    assert_eq!(versions, [1, 2, 3, 4]);

    // The live subscriber is told too, then gets the same.
    let notice = next(&mut live).await;
    assert_notice(&notice, "d", "history_diverged");
    assert_eq!(field(&notice, "last_delivered"), seen.id);
    for expected in 1..=4 {
        assert_eq!(version(&next(&mut live).await), expected);
    }
}

/// In-process memory loses nothing while it runs, but a client can resume with an id from an
/// earlier process: the same notices.
#[tokio::test]
async fn in_process_memory_announces_ids_it_never_held() {
    let rift = TestRift::start(Config {
        memory: MemoryConfig::InProcess { max_events: 100 },
        ..Config::default()
    })
    .await;
    let mut client = rift.client().await;
    write(&mut client, "p", 2).await;
    let mut older = subscribe(&mut client, "p", "1-0").await;
    assert_notice(&next(&mut older).await, "p", "history_reset");
    assert_eq!(version(&next(&mut older).await), 1);
    let mut newer = subscribe(&mut client, "p", "99999999999999-0").await;
    assert_notice(&next(&mut newer).await, "p", "history_diverged");
    assert_eq!(version(&next(&mut newer).await), 1);
    assert_eq!(version(&next(&mut newer).await), 2);
}
