//! Subscribe: replay and live with no gap or duplicate, resume, truncation, fan-out across
//! processes, and streams that end at shutdown.

use std::{collections::HashSet, sync::Arc, time::Duration};

use crate::support::{
    grpc::{subscribe, version},
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
};
use prost_types::{Value, value::Kind};
use rift::{
    domain::{CoreConfig, EventId, NotifierConfig, memory::RedisConfig},
    pb::{self},
    server::{Config, MemoryConfig},
};
use tokio::sync::Notify;
use tonic::Streaming;

/// Long enough for any event this suite waits for; reaching it is a failure, not a skip.
const PATIENCE: Duration = Duration::from_secs(30);

fn analyze(task_id: &str, items: usize) -> pb::AnalyzeRequest {
    pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: (0..items)
            .map(|i| Value {
                kind: Some(Kind::NumberValue(i as f64)),
            })
            .collect(),
        ..Default::default()
    }
}

/// The next `n` notifications, failing if they do not come.
async fn take(stream: &mut Streaming<pb::Notification>, n: usize) -> Vec<pb::Notification> {
    let mut got = Vec::with_capacity(n);
    let taken = tokio::time::timeout(PATIENCE, async {
        while got.len() < n {
            match stream.message().await.expect("stream error") {
                Some(notification) => got.push(notification),
                None => panic!("stream ended after {} of {n} notifications", got.len()),
            }
        }
    })
    .await;
    assert!(
        taken.is_ok(),
        "only {} of {n} notifications arrived",
        got.len()
    );
    got
}

fn id(notification: &pb::Notification) -> EventId {
    notification.id.parse().expect("notification id")
}

/// Writers run while a subscriber joins with `after = "0"`: it must see every analysis once,
/// in id order, across the replay/live boundary.
async fn replay_then_live_without_gap_or_duplicate(rift: &TestRift) {
    const WRITERS: usize = 4;
    const WRITES: usize = 40;
    let client = rift.client().await;
    let halfway = Arc::new(Notify::new());
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = client.clone();
        let halfway = halfway.clone();
        writers.push(tokio::spawn(async move {
            for n in 1..=WRITES {
                client
                    .analyze(analyze(&format!("w{w}"), n))
                    .await
                    .expect("analyze");
                if w == 0 && n == WRITES / 4 {
                    halfway.notify_one();
                }
            }
        }));
    }
    halfway.notified().await;
    let mut stream = subscribe(&mut client.clone(), "", "0").await;
    let got = take(&mut stream, WRITERS * WRITES).await;
    for writer in writers {
        writer.await.expect("writer");
    }
    let ids: Vec<EventId> = got.iter().map(id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not strictly increasing"
    );
    let seen: HashSet<(String, u64)> = got
        .iter()
        .map(|n| (n.task_id.clone(), version(n) as u64))
        .collect();
    assert_eq!(seen.len(), WRITERS * WRITES, "duplicates or gaps");
    for w in 0..WRITERS {
        for v in 1..=WRITES as u64 {
            assert!(seen.contains(&(format!("w{w}"), v)), "missing w{w} v{v}");
        }
    }
}

#[tokio::test]
async fn replay_then_live_in_process() {
    replay_then_live_without_gap_or_duplicate(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn replay_then_live_on_redis() {
    let redis = RedisServer::start();
    replay_then_live_without_gap_or_duplicate(&TestRift::on_redis(&redis.url()).await).await;
}

/// A subscriber far slower than the writers overflows the shared live buffer; it must catch
/// up from memory and still see everything exactly once.
async fn slow_subscriber_catches_up(config: Config) {
    let rift = TestRift::start(Config {
        core: CoreConfig {
            notifier: NotifierConfig {
                live_buffer: 2,
                replay_page: 7,
                ..NotifierConfig::default()
            },
            ..CoreConfig::default()
        },
        ..config
    })
    .await;
    let mut client = rift.client().await;
    let mut stream = subscribe(&mut client, "slow", "").await;
    for n in 1..=120 {
        client.analyze(analyze("slow", n)).await.expect("analyze");
        client.analyze(analyze("other", n)).await.expect("analyze");
    }
    let got = take(&mut stream, 120).await;
    let versions: Vec<u64> = got.iter().map(|n| version(n) as u64).collect();
    assert_eq!(versions, (1..=120).collect::<Vec<_>>());
    assert!(
        got.iter().all(|n| n.task_id == "slow"),
        "filter leaked another task"
    );
}

#[tokio::test]
async fn slow_subscriber_catches_up_in_process() {
    slow_subscriber_catches_up(Config::default()).await;
}

#[tokio::test]
async fn slow_subscriber_catches_up_on_redis() {
    let redis = RedisServer::start();
    slow_subscriber_catches_up(crate::support::rift::redis_config(&redis.url())).await;
}

async fn resume_from_an_id(rift: &TestRift) {
    let mut client = rift.client().await;
    let mut all = subscribe(&mut client, "r", "").await;
    for n in 1..=6 {
        client.analyze(analyze("r", n)).await.expect("analyze");
    }
    let first_six = take(&mut all, 6).await;
    let resumed_after = &first_six[2].id;
    let mut resumed = subscribe(&mut client, "r", resumed_after).await;
    let replayed = take(&mut resumed, 3).await;
    assert_eq!(
        replayed.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        first_six[3..]
            .iter()
            .map(|n| n.id.clone())
            .collect::<Vec<_>>()
    );
    // ...then live, on the same stream.
    client.analyze(analyze("r", 7)).await.expect("analyze");
    let live = take(&mut resumed, 1).await;
    assert_eq!(version(&live[0]), 7.0);
    // The other notification kinds carry their ids too, and the resumed stream sees them.
    client
        .narrate(pb::NarrateRequest {
            task_id: "r".into(),
            ..Default::default()
        })
        .await
        .expect("narrate");
    client
        .progress(pb::ProgressRequest {
            task_id: "r".into(),
        })
        .await
        .expect("progress");
    let rest = take(&mut resumed, 2).await;
    assert_eq!(
        rest.iter()
            .map(|n| (n.agent.as_str(), n.action.as_str()))
            .collect::<Vec<_>>(),
        [
            ("ConceptAgent", "narrative_stored"),
            ("TaskAgent", "progress_completed")
        ]
    );
    assert!(rest.iter().all(|n| n.time.is_some() && n.payload.is_some()));
}

#[tokio::test]
async fn resume_from_an_id_in_process() {
    resume_from_an_id(&TestRift::in_process().await).await;
}

#[tokio::test]
async fn resume_from_an_id_on_redis() {
    let redis = RedisServer::start();
    resume_from_an_id(&TestRift::on_redis(&redis.url()).await).await;
}

/// A token older than the retained history gets an explicit notice first, never a silent gap.
async fn truncated_history_is_announced(rift: &TestRift, writes: usize) {
    let mut client = rift.client().await;
    for n in 0..writes {
        client.analyze(analyze("h", n % 3)).await.expect("analyze");
    }
    let mut stream = subscribe(&mut client, "", "1-0").await;
    let first = take(&mut stream, 1).await.remove(0);
    assert_eq!(
        (first.agent.as_str(), first.action.as_str()),
        ("Rift", "history_truncated")
    );
    // Its id resumes with the oldest retained event, which comes next.
    let next = take(&mut stream, 1).await.remove(0);
    assert!(id(&next) > id(&first));

    // "0" asks for whatever is retained: no notice.
    let mut everything = subscribe(&mut client, "", "0").await;
    let first = take(&mut everything, 1).await.remove(0);
    assert_eq!(first.action, "analysis_stored");
}

#[tokio::test]
async fn truncated_history_is_announced_in_process() {
    let rift = TestRift::start(Config {
        memory: MemoryConfig::InProcess { max_events: 10 },
        ..Config::default()
    })
    .await;
    truncated_history_is_announced(&rift, 30).await;
}

#[tokio::test]
async fn truncated_history_is_announced_on_redis() {
    let redis = RedisServer::start();
    let rift = TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            max_events: 10,
            ..RedisConfig::new(redis.url())
        }),
        ..Config::default()
    })
    .await;
    // MAXLEN ~ trims whole stream nodes (100 entries each by default): write past a node.
    truncated_history_is_announced(&rift, 250).await;
}

#[tokio::test]
async fn two_rift_processes_share_one_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = RiftProcess::spawn(&["--redis-url", &url]).await;
    let b = RiftProcess::spawn(&["--redis-url", &url]).await;
    let mut on_b = subscribe(&mut b.client().await, "", "").await;
    let written = a
        .client()
        .await
        .analyze(analyze("shared", 2))
        .await
        .expect("analyze on A")
        .into_inner();
    let seen = take(&mut on_b, 1).await.remove(0);
    assert_eq!(
        (seen.task_id.as_str(), seen.action.as_str()),
        ("shared", "analysis_stored")
    );
    assert_eq!(version(&seen) as u64, written.version);
    // And B reads what A wrote.
    let narrative = b
        .client()
        .await
        .narrate(pb::NarrateRequest {
            task_id: "shared".into(),
            ..Default::default()
        })
        .await
        .expect("narrate on B")
        .into_inner();
    assert_eq!(
        narrative.narrative,
        "The analysis for task shared concluded: Analyzed 2 items."
    );
    assert!(a.terminate().await.success(), "A exits cleanly on SIGTERM");
    assert!(b.terminate().await.success(), "B exits cleanly on SIGTERM");
}

#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    let mut stream = subscribe(&mut client, "", "").await;
    rift.stop().await.expect("serve returns cleanly");
    let end = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("stream ends at shutdown");
    // UNAVAILABLE, not OK: the client tells shutdown from a normal end, and resumes elsewhere.
    assert!(
        matches!(&end, Err(status) if status.code() == tonic::Code::Unavailable),
        "{end:?}"
    );
}
