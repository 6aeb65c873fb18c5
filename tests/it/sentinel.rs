//! `--redis-mode sentinel`: Rift on a Sentinel group (a master, a replica, three Sentinels,
//! all started by the test on free ports) follows the master through a failover by itself.
//!
//! One group for the whole test function (a failover takes seconds), many scenarios in it:
//! the task flow on the prototype's keys; then, under load from four writers spread over two
//! Rifts (one in the test, one a process of its own) and with subscribers live since
//! `after = "0"` (all tasks on one Rift, one task on the other), the master is SIGKILLed, the
//! Sentinels promote the replica, and the old master comes back empty (as a master, until the
//! Sentinels demote it). Writes succeed again on both without restarting either; with
//! `--durability replicated` every acknowledged write is on the new master and none was
//! applied twice; each subscriber gets every surviving event of its tasks exactly once (after
//! a notice, if any, the replay it announces), and resuming from the middle of what one
//! received delivers exactly the rest.
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
use tonic::transport::Channel;

use crate::support::{
    grpc::{complete_task, subscribe, until_acknowledged, version},
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
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

/// What the subscriber received since the last notice (agent `Rift`), and the notices.
#[derive(Debug, Default)]
struct Received {
    since_notice: Vec<pb::Notification>,
    notices: Vec<String>,
}

/// Collects `stream` into a [`Received`] until it ends (or the server shuts down).
fn collect(
    mut stream: tonic::Streaming<pb::Notification>,
) -> (Arc<Mutex<Received>>, tokio::task::JoinHandle<()>) {
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
    (received, collecting)
}

/// Waits until `received` holds every `(task, version)` of `expected` since its last notice,
/// each once and nothing else of the writers' tasks; returns the notices.
async fn until_received(
    received: &Mutex<Received>,
    expected: &BTreeSet<(String, u64)>,
) -> Vec<String> {
    let deadline = Instant::now() + SETTLE;
    loop {
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
                let lost: Vec<_> = got.difference(expected).collect();
                assert!(lost.is_empty(), "events of no acknowledged write: {lost:?}");
                return received.notices.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the subscriber is missing {:?}",
                expected.difference(&got).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn task_flow(rift: &TestRift, group: &mut SentinelGroup) {
    let mut client = rift.client().await;
    let (analysis, progress) = complete_task(&mut client, "flow").await;
    assert_eq!(analysis.version, 1);
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
        refused += until_acknowledged(&mut client, &task, &format!("{task}-{n}"), SETTLE).await;
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

async fn failover_under_load(rift: &TestRift, other: &RiftProcess, group: &mut SentinelGroup) {
    let mut client = rift.client().await;
    let mut other_client = other.client().await;
    let (everything, collecting) = collect(subscribe(&mut client, "", "0").await);
    // A per-task subscription on the other process, from the start.
    let (one_task, collecting_one) = collect(subscribe(&mut other_client, "load-1", "0").await);

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(vec![0; WRITERS]));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            // Half the writers on each Rift: two processes follow the same failover.
            let client = if w % 2 == 0 {
                client.clone()
            } else {
                other_client.clone()
            };
            tokio::spawn(writer(client, w, stop.clone(), acknowledged.clone()))
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
    let notices = until_received(&everything, &expected).await;
    let one_task_expected: BTreeSet<_> = expected
        .iter()
        .filter(|(task, _)| task == "load-1")
        .cloned()
        .collect();
    until_received(&one_task, &one_task_expected).await;
    collecting_one.abort();

    // Resuming from the middle of what was received (since the last notice) delivers exactly
    // the rest, in order: no gap, no duplicate.
    let received: Vec<String> = everything
        .lock()
        .await
        .since_notice
        .iter()
        .map(|n| n.id.clone())
        .collect();
    let middle = received.len() / 2;
    let mut resumed = subscribe(&mut client, "", &received[middle]).await;
    for want in &received[middle + 1..] {
        let got = resumed
            .message()
            .await
            .expect("resumed stream")
            .expect("resumed notification");
        assert_eq!(&got.id, want, "resumed after {}", received[middle]);
    }
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
    // A second Rift, a process of its own, on the same Sentinels.
    let other = RiftProcess::spawn(&[
        "--redis-mode",
        "sentinel",
        "--redis-url",
        &group.url(),
        "--durability",
        "replicated",
        "--redis-timeout-ms",
        "2000",
    ])
    .await;
    failover_under_load(&rift, &other, &mut group).await;
}
