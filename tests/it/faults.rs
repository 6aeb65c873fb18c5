//! Faults survived: Redis killed under concurrent load and restarted, and a graceful shutdown
//! under load.
//!
//! Run with `--nocapture` to see the figures (calls, outage answers, slowest outage answer).

#![allow(clippy::print_stderr)]

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crate::support::{
    redis::RedisServer,
    rift::{RiftProcess, TestRift, wait_for_health},
};
use redis::{AsyncCommands, streams::StreamRangeReply};
use rift::pb::{self, rift_client::RiftClient};
use tokio::sync::watch;
use tonic::{Code, Request, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

/// The client gives up after this; an outage must be answered (UNAVAILABLE) well before.
const CALL_DEADLINE: Duration = Duration::from_secs(1);

fn analyze(task_id: &str, request_id: String) -> Request<pb::AnalyzeRequest> {
    let mut request = Request::new(pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: vec![],
        request_id,
        ..Default::default()
    });
    request.set_timeout(CALL_DEADLINE);
    request
}

#[derive(Debug, Default)]
struct Outcomes {
    /// Acknowledged analyses: task → versions.
    acknowledged: BTreeMap<String, Vec<u64>>,
    /// Failed calls: code and how long the answer took.
    failures: Vec<(Code, Duration)>,
}

/// Analyzes `task` until `stop`, recording every answer; reports progress on `acks`.
async fn writer(
    mut client: RiftClient<Channel>,
    task: String,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    failures: Arc<AtomicUsize>,
    progress: watch::Sender<()>,
) -> Outcomes {
    let mut outcomes = Outcomes::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 5_000 {
        n += 1;
        let started = Instant::now();
        match client.analyze(analyze(&task, format!("{task}-{n}"))).await {
            Ok(response) => {
                outcomes
                    .acknowledged
                    .entry(task.clone())
                    .or_default()
                    .push(response.into_inner().version);
                acks.fetch_add(1, Ordering::Relaxed);
            }
            Err(status) => {
                outcomes.failures.push((status.code(), started.elapsed()));
                failures.fetch_add(1, Ordering::Relaxed);
                // Pace retries during an outage, as a client honouring RetryInfo would.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        progress.send_replace(());
    }
    outcomes
}

/// Waits until `count` reaches `at_least`, woken by the writers' progress.
async fn until(progress: &mut watch::Receiver<()>, count: &AtomicUsize, at_least: usize) {
    let reached = tokio::time::timeout(Duration::from_secs(60), async {
        while count.load(Ordering::Relaxed) < at_least {
            progress.changed().await.expect("writers running");
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "count stuck at {}",
        count.load(Ordering::Relaxed)
    );
}

/// Every notification from `after` on, resubscribing after each error with the last id seen,
/// until `last` has been received.
async fn collect_until(
    client: &mut RiftClient<Channel>,
    mut stream: tonic::Streaming<pb::Notification>,
    last: &str,
    seen: &mut Vec<String>,
) -> usize {
    let mut resumptions = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "never reached {last}");
        match tokio::time::timeout(Duration::from_secs(30), stream.message()).await {
            Ok(Ok(Some(notification))) => {
                let done = notification.id == last;
                seen.push(notification.id);
                if done {
                    return resumptions;
                }
            }
            // Ended or failed: resume from the last id seen, as a client would.
            Ok(Ok(None) | Err(_)) | Err(_) => {
                resumptions += 1;
                let after = seen.last().cloned().unwrap_or_else(|| "0".into());
                stream = loop {
                    match client
                        .subscribe(pb::SubscribeRequest {
                            task_id: String::new(),
                            after: after.clone(),
                        })
                        .await
                    {
                        Ok(stream) => break stream.into_inner(),
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                };
            }
        }
    }
}

#[tokio::test]
async fn redis_killed_under_load_loses_nothing_acknowledged() {
    const WRITERS: usize = 6;
    let mut redis = RedisServer::start_durable();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut health = rift.health().await;
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let mut client = rift.client().await;
    let subscription = client
        .subscribe(pb::SubscribeRequest {
            task_id: String::new(),
            after: "0".into(),
        })
        .await
        .expect("subscribe")
        .into_inner();

    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let (progress, mut progressed) = watch::channel(());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                client.clone(),
                format!("fault-{w}"),
                stop.clone(),
                acks.clone(),
                failures.clone(),
                progress.clone(),
            ))
        })
        .collect();

    until(&mut progressed, &acks, 60).await;
    redis.stop();
    let failures_before = failures.load(Ordering::Relaxed);
    until(&mut progressed, &failures, failures_before + 3 * WRITERS).await;
    wait_for_health(&mut health, ServingStatus::NotServing).await;
    redis.restart();
    wait_for_health(&mut health, ServingStatus::Serving).await;
    let acks_after_restart = acks.load(Ordering::Relaxed);
    until(&mut progressed, &acks, acks_after_restart + 60).await;
    stop.store(true, Ordering::Relaxed);

    let mut outcomes = Outcomes::default();
    for writer in writers {
        let done = writer.await.expect("writer");
        outcomes.acknowledged.extend(done.acknowledged);
        outcomes.failures.extend(done.failures);
    }
    // While Redis was down every call was answered, and answered UNAVAILABLE: none ran into the
    // client's one-second deadline.
    assert!(!outcomes.failures.is_empty(), "the outage was never seen");
    for (code, _) in &outcomes.failures {
        assert_eq!(*code, Code::Unavailable, "{:?}", outcomes.failures);
    }
    let slowest = outcomes
        .failures
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();

    // Every acknowledged write is in Redis: the versions, and their notifications.
    let mut redis_connection = redis.connection().await;
    let stream: StreamRangeReply = redis_connection
        .xrange_all("shared:notifications")
        .await
        .expect("XRANGE");
    let mut announced = HashSet::new();
    for entry in &stream.ids {
        let task: String = entry.get("task_id").expect("task_id");
        let payload: String = entry.get("payload").expect("payload");
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("payload JSON");
        announced.insert((task, payload["version"].as_u64().expect("version")));
    }
    let mut total = 0;
    for (task, versions) in &outcomes.acknowledged {
        let stored: u64 = redis_connection
            .hget(
                format!("shared:task_context:{task}"),
                "rift_analysis_version",
            )
            .await
            .expect("HGET");
        for version in versions {
            total += 1;
            assert!(
                *version <= stored,
                "{task} v{version} acknowledged, Redis has {stored}"
            );
            assert!(
                announced.contains(&(task.clone(), *version)),
                "{task} v{version} acknowledged but not announced"
            );
        }
    }

    // A subscriber that resumes from its last id sees every notification exactly once.
    let last = stream.ids.last().expect("events").id.clone();
    let mut seen = Vec::new();
    let resumptions = collect_until(&mut client, subscription, &last, &mut seen).await;
    let expected: Vec<String> = stream.ids.iter().map(|entry| entry.id.clone()).collect();
    assert_eq!(
        seen, expected,
        "the subscriber saw something other than every event once"
    );

    eprintln!(
        "faults: {total} acknowledged writes all in Redis; {} calls during the outage, all \
         UNAVAILABLE, slowest answer {slowest:?}; subscriber saw {} events exactly once after \
         {resumptions} resumptions",
        outcomes.failures.len(),
        seen.len(),
    );
}

/// Waits until Redis holds at least one paused command (`blocked_clients`).
async fn until_a_write_is_held(connection: &mut redis::aio::MultiplexedConnection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("clients")
            .query_async(connection)
            .await
            .expect("INFO clients");
        let blocked = info
            .lines()
            .find_map(|line| line.strip_prefix("blocked_clients:"))
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        if blocked > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no write reached Redis");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn graceful_shutdown_under_load_finishes_in_flight_calls() {
    const WRITERS: usize = 4;
    let redis = RedisServer::start();
    let rift =
        RiftProcess::spawn(&["--redis-url", &redis.url(), "--drain-timeout-secs", "20"]).await;
    let client = rift.client().await;
    let mut stream = client
        .clone()
        .subscribe(pb::SubscribeRequest {
            task_id: String::new(),
            after: String::new(),
        })
        .await
        .expect("subscribe")
        .into_inner();

    // Redis holds every write for a while (less than Rift's 800 ms Redis timeout), so each
    // writer surely has a call in flight when SIGTERM arrives.
    let mut control = redis.connection().await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(500)
        .arg("WRITE")
        .query_async(&mut control)
        .await
        .expect("CLIENT PAUSE");
    let load: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut calls = Vec::new();
                for n in 0..10_000 {
                    let mut request = Request::new(pb::AnalyzeRequest {
                        task_id: format!("load-{w}"),
                        request_id: format!("load-{w}-{n}"),
                        ..Default::default()
                    });
                    request.set_timeout(Duration::from_secs(30));
                    let started = Instant::now();
                    let result = client.analyze(request).await.map(drop);
                    let refused = result.is_err();
                    calls.push((started, result));
                    if refused {
                        break;
                    }
                }
                calls
            })
        })
        .collect();
    until_a_write_is_held(&mut control).await;
    let sigterm_at = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(60), rift.terminate())
        .await
        .expect("rift exits within its drain deadline");
    assert!(status.success(), "clean exit: {status:?}");

    let mut in_flight = 0;
    for writer in load {
        for (started, result) in writer.await.expect("writer") {
            if started < sigterm_at {
                // Started before shutdown: it completes, whatever shutdown does meanwhile.
                result.expect("a call in flight at SIGTERM completes");
                in_flight += 1;
            } else if let Err(status) = result {
                // After shutdown began, new calls are refused, never left hanging: UNAVAILABLE,
                // or the connection closing under a request the client had just sent (which
                // tonic's client reports as CANCELLED).
                let refused = status.code() == Code::Unavailable
                    || (status.code() == Code::Cancelled
                        && format!("{status:?}").contains("connection closed"));
                assert!(refused, "{status:?}");
            }
        }
    }
    assert!(in_flight >= WRITERS, "every writer had a call in flight");
    let end = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the stream ends");
    // UNAVAILABLE, not OK: the client tells shutdown from a normal end.
    assert!(
        matches!(&end, Err(status) if status.code() == tonic::Code::Unavailable),
        "streams end with UNAVAILABLE at shutdown: {end:?}"
    );
}
