//! `--redis-mode sentinel`: Rift on a Sentinel group (a master, a replica, three Sentinels,
//! all started by the test on free ports) follows the master through a failover by itself.
//!
//! One group for the whole test function (a failover takes seconds), many scenarios in it:
//! the task flow on the prototype's keys; then, under load from four writers and with a
//! subscriber live since `after = "0"`, the master is SIGKILLed, the Sentinels promote the
//! replica, and the old master comes back empty (as a master, until the Sentinels demote it).
//! Writes succeed again without restarting Rift; with `--durability replicated` every
//! acknowledged write is on the new master and none was applied twice; the subscriber gets
//! every surviving event exactly once (after a notice, if any, the replay it announces).
//!
//! Run with `--nocapture` to see the figures.

#![allow(clippy::print_stderr)]

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use redis::AsyncCommands;
use rift::{
    domain::memory::{Durability, RedisConfig, RedisMode},
    pb::{self, TaskStatus, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use tokio::sync::Mutex;
use tonic::{Code, transport::Channel};

use crate::support::{
    grpc::{patient, patient_analyze, subscribe, version},
    redis::RedisServer,
    rift::TestRift,
    sentinel::SentinelGroup,
};

const WRITERS: usize = 4;
/// Writes each writer gets acknowledged before the kill, and again after the failover.
const BEFORE: usize = 10;
const AFTER: usize = 10;
/// Generous for a failover on a loaded two-core machine.
const SETTLE: Duration = Duration::from_secs(90);

async fn connection(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    server.connection().await
}

/// Analyzes `task` with `request_id` until acknowledged, retrying on `UNAVAILABLE` with the
/// same request id, as a client should; returns how many attempts were refused.
async fn until_acknowledged(
    client: &mut RiftClient<Channel>,
    task: &str,
    request_id: &str,
) -> usize {
    let deadline = Instant::now() + SETTLE;
    let mut refused = 0;
    loop {
        match client.analyze(patient_analyze(task, request_id)).await {
            Ok(_) => return refused,
            Err(status) if status.code() == Code::Unavailable => {
                refused += 1;
                assert!(
                    Instant::now() < deadline,
                    "{request_id} not acknowledged within {SETTLE:?}: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{request_id}: {status:?}"),
        }
    }
}

/// What the subscriber received since the last notice (agent `Rift`), and the notices.
#[derive(Debug, Default)]
struct Received {
    since_notice: Vec<pb::Notification>,
    notices: Vec<String>,
}

async fn task_flow(rift: &TestRift, group: &mut SentinelGroup) {
    let mut client = rift.client().await;
    let analysis = client
        .analyze(patient_analyze("flow", ""))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(analysis.version, 1);
    client
        .narrate(patient(pb::NarrateRequest {
            task_id: "flow".into(),
            ..Default::default()
        }))
        .await
        .expect("narrate");
    let progress = client
        .progress(patient(pb::ProgressRequest {
            task_id: "flow".into(),
        }))
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.status(), TaskStatus::Completed);
    // The prototype's keys, on the master the Sentinels name.
    let mut master = connection(group.master().await).await;
    for key in [
        "TechAgent:analysis:flow",
        "ConceptAgent:narrative:flow",
        "TaskAgent:progress:flow",
        "shared:task_context:flow",
    ] {
        let exists: bool = master.exists(key).await.expect("EXISTS");
        assert!(exists, "{key} on the master");
    }
    let stream: usize = master.xlen("shared:notifications").await.expect("XLEN");
    assert_eq!(stream, 3, "analysis, narrative, completion");
}

async fn writer(
    mut client: RiftClient<Channel>,
    w: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<usize>>>,
) -> usize {
    let task = format!("load-{w}");
    let mut refused = 0;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        refused += until_acknowledged(&mut client, &task, &format!("{task}-{n}")).await;
        acknowledged.lock().await[w] = n;
    }
    refused
}

async fn until_each_has(acknowledged: &Mutex<Vec<usize>>, count: usize) {
    let deadline = Instant::now() + SETTLE;
    while acknowledged.lock().await.iter().any(|&n| n < count) {
        assert!(
            Instant::now() < deadline,
            "writers stuck at {:?}",
            acknowledged.lock().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn failover_under_load(rift: &TestRift, group: &mut SentinelGroup) {
    let mut client = rift.client().await;
    let mut stream = subscribe(&mut client, "", "0").await;
    let received = Arc::new(Mutex::new(Received::default()));
    let collecting = {
        let received = received.clone();
        tokio::spawn(async move {
            loop {
                let notification = match stream.message().await {
                    Ok(Some(notification)) => notification,
                    Ok(None) => break,
                    // The server shutting down ends the stream so.
                    Err(status)
                        if status.code() == tonic::Code::Unavailable
                            && status.message().contains("shutting down") =>
                    {
                        break;
                    }
                    Err(status) => panic!("subscription: {status:?}"),
                };
                let mut received = received.lock().await;
                if notification.agent == "Rift" {
                    received.notices.push(notification.action.clone());
                    received.since_notice.clear();
                } else {
                    received.since_notice.push(notification);
                }
            }
        })
    };

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(vec![0; WRITERS]));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                client.clone(),
                w,
                stop.clone(),
                acknowledged.clone(),
            ))
        })
        .collect();
    until_each_has(&acknowledged, BEFORE).await;

    let killed_at = Instant::now();
    let killed = group.kill_master_and_fail_over().await;
    let failed_over = killed_at.elapsed();
    // The old master comes back empty, as a master, on its old port: a replica again once
    // the Sentinels notice it (and the new master's replica for `--durability replicated`).
    group.servers[killed].restart();
    let at_kill = acknowledged.lock().await.clone();
    let target = at_kill.iter().max().copied().unwrap_or(0) + AFTER;
    until_each_has(&acknowledged, target).await;
    let recovered = killed_at.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut refused = 0;
    for writer in writers {
        refused += writer.await.expect("writer");
    }
    let acknowledged = acknowledged.lock().await.clone();

    // Every acknowledged write is on the new master, applied once.
    let mut master = connection(group.master().await).await;
    for (w, &count) in acknowledged.iter().enumerate() {
        let version: Option<u64> = master
            .hget(
                format!("shared:task_context:load-{w}"),
                "rift_analysis_version",
            )
            .await
            .expect("HGET");
        assert_eq!(
            version,
            Some(count as u64),
            "load-{w}: one version per write"
        );
        for n in 1..=count {
            let present: bool = master
                .exists(format!("rift:request:load-{w}-{n}"))
                .await
                .expect("EXISTS");
            assert!(present, "acknowledged load-{w}-{n} is on the new master");
        }
    }

    // The subscriber gets every surviving event once: each version of each writer's task.
    let expected: BTreeSet<(String, u64)> = acknowledged
        .iter()
        .enumerate()
        .flat_map(|(w, &count)| (1..=count as u64).map(move |v| (format!("load-{w}"), v)))
        .collect();
    let deadline = Instant::now() + SETTLE;
    let notices = loop {
        {
            let received = received.lock().await;
            let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
            for n in received
                .since_notice
                .iter()
                .filter(|n| n.task_id.starts_with("load-"))
            {
                *seen
                    .entry((n.task_id.clone(), version(n) as u64))
                    .or_default() += 1;
            }
            let twice: Vec<_> = seen.iter().filter(|(_, count)| **count > 1).collect();
            assert!(twice.is_empty(), "delivered twice: {twice:?}");
            let got: BTreeSet<_> = seen.into_keys().collect();
            if expected.is_subset(&got) {
                let lost: Vec<_> = got.difference(&expected).collect();
                assert!(lost.is_empty(), "events of no acknowledged write: {lost:?}");
                break received.notices.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the subscriber is missing {:?}",
                expected.difference(&got).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    collecting.abort();
    // Ids only go up within what the subscriber received since the last notice.
    eprintln!(
        "failover: Sentinels promoted the replica {:.1} s after the kill; every writer had {AFTER} \
         more writes acknowledged {:.1} s after it; {} writes acknowledged, {refused} attempts \
         refused (UNAVAILABLE, retried with the same request id); notices: {notices:?}",
        failed_over.as_secs_f64(),
        recovered.as_secs_f64(),
        acknowledged.iter().sum::<usize>(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rift_follows_the_master_through_a_failover() {
    let mut group = SentinelGroup::start(&[]).await;
    let rift = TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            mode: RedisMode::Sentinel,
            durability: Durability::Replicated,
            op_timeout: Duration::from_secs(2),
            tail_block: Duration::from_millis(200),
            ..RedisConfig::new(group.url())
        }),
        ..Config::default()
    })
    .await;
    task_flow(&rift, &mut group).await;
    failover_under_load(&rift, &mut group).await;
}
