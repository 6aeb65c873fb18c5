//! `--redis-mode cluster` from a migration on, and under faults.
//!
//! First `rift migrate` moves a deployment written by a single-mode Rift into the (empty)
//! cluster: tasks, notifications with their ids, request ids, the epoch; a cluster Rift then
//! replays a task with the same ids, resumes a per-task token from before the move, replays a
//! retried request id instead of writing again, and continues the versions.
//!
//! Then, with `--durability replicated`: a reshard of the slots
//! holding busy partitions while four writers write and a subscriber to every task reads; then
//! the master owning a busy partition SIGKILLed, its replica promoted by the cluster, the old
//! master back empty (it rejoins as a replica).
//!
//! Last, replication of one master is cut (`ACL SETUSER default -psync -sync`, `CLIENT KILL
//! TYPE replica`): five writes run there and reach the subscriber but are answered
//! `UNAVAILABLE` (no replica confirms them); the master is killed, the stale replica promoted.
//! The subscriber is told `history_diverged` for that partition and then gets the partition's
//! history as it is; the five retried writes land once each.
//!
//! Writers retry `UNAVAILABLE` with the same request id, as clients should. Afterwards every
//! acknowledged write is on the slot's master, applied once (the task's version is the count
//! of its acknowledged writes, every request key is there), and the subscriber, resubscribing
//! from its last token whenever its stream ends, has received every surviving event exactly
//! once: after a notice about a partition (`history_diverged`, `history_reset`) what it had
//! of that partition is replaced by the replay the notice announces.
//!
//! Run with `--nocapture` to see the figures.

#![allow(clippy::print_stderr)]

use std::{
    collections::{BTreeMap, BTreeSet},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use redis::AsyncCommands;
use rift::{
    domain::memory::{DEFAULT_PARTITIONS, Durability, RedisConfig, RedisMode, partition_of},
    pb::{self, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use tokio::sync::Mutex;
use tonic::{Code, transport::Channel};

use crate::support::{
    cluster::{Cluster, SETTLE, redis_cli},
    grpc::{patient, patient_analyze, subscribe, until_acknowledged, version},
    redis::RedisServer,
    rift::TestRift,
};

/// Writes each writer gets acknowledged before a fault, and again after it.
const BEFORE: usize = 10;
const AFTER: usize = 10;

/// Tasks whose partitions are among the first `count` of the layout: their slots are the
/// lowest of the first master's, which a reshard of its first slots moves.
fn tasks_in_first_partitions(prefix: &str, count: u32, how_many: usize) -> Vec<String> {
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .filter(|task| partition_of(task, DEFAULT_PARTITIONS) < count)
        .take(how_many)
        .collect()
}

/// What the subscriber has: deliveries per (task, version) since the last notice about the
/// task's partition, the notices, and its last token.
#[derive(Debug, Default)]
struct Received {
    seen: BTreeMap<(String, u64), usize>,
    notices: Vec<String>,
    token: String,
    resubscribed: usize,
}

/// Reads every task's notifications into `received`, resubscribing from the last token
/// whenever the stream ends on an error (a partition unreachable during a replay).
async fn subscriber(
    client: RiftClient<Channel>,
    received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let after = received.lock().await.token.clone();
        let request = pb::SubscribeRequest {
            task_id: String::new(),
            after,
        };
        let Ok(response) = client.clone().subscribe(request).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut stream = response.into_inner();
        while let Ok(Some(notification)) = stream.message().await {
            let mut received = received.lock().await;
            received.token = notification.id.clone();
            if notification.agent == "Rift" && notification.action.starts_with("history_") {
                let partition = notification
                    .payload
                    .as_ref()
                    .and_then(|payload| payload.fields.get("partition"))
                    .and_then(|value| match value.kind {
                        Some(prost_types::value::Kind::NumberValue(p)) => Some(p as u32),
                        _ => None,
                    })
                    .expect("a notice says its partition");
                received
                    .notices
                    .push(format!("{} (partition {partition})", notification.action));
                received
                    .seen
                    .retain(|(task, _), _| partition_of(task, DEFAULT_PARTITIONS) != partition);
            } else if notification.task_id.starts_with("load-") {
                *received
                    .seen
                    .entry((notification.task_id.clone(), version(&notification) as u64))
                    .or_default() += 1;
            }
        }
        received.lock().await.resubscribed += 1;
    }
}

/// Four writers on `tasks`, each writing its own task with request ids `<task>-<n>`.
struct Load {
    tasks: Vec<String>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<usize>>>,
    refused: Arc<Mutex<usize>>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(client: &RiftClient<Channel>, tasks: Vec<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(vec![0; tasks.len()]));
        let refused = Arc::new(Mutex::new(0));
        let writers = tasks
            .iter()
            .enumerate()
            .map(|(w, task)| {
                let (mut client, task) = (client.clone(), task.clone());
                let (stop, acknowledged, refused) =
                    (stop.clone(), acknowledged.clone(), refused.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let tries =
                            until_acknowledged(&mut client, &task, &format!("{task}-{n}"), SETTLE)
                                .await;
                        *refused.lock().await += tries;
                        acknowledged.lock().await[w] = n;
                    }
                })
            })
            .collect();
        Self {
            tasks,
            stop,
            acknowledged,
            refused,
            writers,
        }
    }

    /// Waits until every writer has `count` writes acknowledged.
    async fn until_each_has(&self, count: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.acknowledged.lock().await.iter().any(|&n| n < count) {
            assert!(
                Instant::now() < deadline,
                "writers stuck at {:?}",
                self.acknowledged.lock().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `AFTER` more acknowledged writes each than the most any had now.
    async fn until_more(&self) {
        let most = self
            .acknowledged
            .lock()
            .await
            .iter()
            .max()
            .copied()
            .unwrap_or(0);
        self.until_each_has(most + AFTER).await;
    }

    async fn stop(self) -> (Vec<(String, usize)>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            writer.await.expect("writer");
        }
        let acknowledged = self.acknowledged.lock().await.clone();
        let refused = *self.refused.lock().await;
        (self.tasks.into_iter().zip(acknowledged).collect(), refused)
    }
}

/// Every acknowledged write on the master of its slot, once; the subscriber has every event
/// of them once.
async fn check_every_write(
    cluster: &Cluster,
    acknowledged: &[(String, usize)],
    received: &Mutex<Received>,
) {
    for (task, count) in acknowledged {
        let contexts = cluster
            .keys_per_master(&format!("shared:task_context:*:{task}"))
            .await;
        let (port, key) = contexts
            .iter()
            .find_map(|(port, keys)| keys.first().map(|key| (*port, key.clone())))
            .unwrap_or_else(|| panic!("{task} is on a master: {contexts:?}"));
        let mut master = cluster.connection(port).await;
        let version: Option<u64> = master
            .hget(&key, "rift_analysis_version")
            .await
            .expect("HGET");
        assert_eq!(
            version,
            Some(*count as u64),
            "{task}: one version per acknowledged write"
        );
        let tag = key
            .split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(tag, _)| tag)
            .expect("tag");
        for n in 1..=*count {
            let present: bool = master
                .exists(format!("rift:request:{{{tag}}}:{task}-{n}"))
                .await
                .expect("EXISTS");
            assert!(present, "acknowledged {task}-{n} is on the master");
        }
    }
    let expected: BTreeSet<(String, u64)> = acknowledged
        .iter()
        .flat_map(|(task, count)| (1..=*count as u64).map(move |v| (task.clone(), v)))
        .collect();
    let deadline = Instant::now() + SETTLE;
    loop {
        {
            let received = received.lock().await;
            let ours = |task: &String| acknowledged.iter().any(|(mine, _)| mine == task);
            let twice: Vec<_> = received.seen.iter().filter(|(_, n)| **n > 1).collect();
            assert!(twice.is_empty(), "delivered twice: {twice:?}");
            let got: BTreeSet<_> = received
                .seen
                .keys()
                .filter(|(task, _)| ours(task))
                .cloned()
                .collect();
            if expected.is_subset(&got) {
                let extra: Vec<_> = got.difference(&expected).collect();
                assert!(
                    extra.is_empty(),
                    "events of no acknowledged write: {extra:?}"
                );
                return;
            }
            let missing: Vec<_> = expected.difference(&got).collect();
            assert!(
                Instant::now() < deadline,
                "the subscriber is missing {} events, the first {:?}",
                missing.len(),
                &missing[..missing.len().min(10)]
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn node_id(cluster: &Cluster, port: u16) -> String {
    let mut connection = cluster.connection(port).await;
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut connection)
        .await
        .expect("CLUSTER MYID")
}

/// Moves the lowest `slots` slots of the master owning slot 0 to the next master, with
/// `redis-cli --cluster reshard`, while the load goes on.
async fn reshard_under_load(rift: &TestRift, cluster: &Cluster, received: &Arc<Mutex<Received>>) {
    const SLOTS: u16 = 1200;
    let client = rift.client().await;
    // Partitions 0-1 have their slots below 1024: the first master's, moved by the reshard.
    let load = Load::start(&client, tasks_in_first_partitions("load-", 2, 4));
    load.until_each_has(BEFORE).await;
    let masters = cluster.masters().await.expect("masters");
    let (from, to) = (masters[0], masters[1]);
    let (from_id, to_id) = (node_id(cluster, from).await, node_id(cluster, to).await);
    let started = Instant::now();
    let address = format!("127.0.0.1:{from}");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(redis_cli())
            .args(["--cluster", "reshard", &address])
            .args(["--cluster-from", &from_id, "--cluster-to", &to_id])
            .args(["--cluster-slots", &SLOTS.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster reshard")
    })
    .await
    .expect("reshard");
    assert!(
        output.status.success(),
        "reshard failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let resharded = started.elapsed();
    let map = cluster.slot_map().await.expect("slot map");
    assert_eq!(
        map.get(&0).map(|(_, owner)| *owner),
        Some(to),
        "slot 0 moved: {map:?}"
    );
    load.until_more().await;
    let (acknowledged, refused) = load.stop().await;
    check_every_write(cluster, &acknowledged, received).await;
    eprintln!(
        "reshard of {SLOTS} slots took {:.1} s under load; acknowledged {:?}; {refused} attempts \
         refused (UNAVAILABLE, retried with the same request id); notices so far: {:?}",
        resharded.as_secs_f64(),
        acknowledged,
        received.lock().await.notices,
    );
}

/// SIGKILLs the master owning the busiest partitions; the cluster promotes its replica.
async fn master_killed_under_load(
    rift: &TestRift,
    cluster: &mut Cluster,
    received: &Arc<Mutex<Received>>,
) {
    let client = rift.client().await;
    let tasks = tasks_in_first_partitions("load-kill-", 2, 4);
    let load = Load::start(&client, tasks.clone());
    load.until_each_has(BEFORE).await;
    let owner = cluster
        .master_holding(&format!("shared:task_context:*:{}", tasks[0]))
        .await;
    let killed_at = Instant::now();
    cluster.kill_master_and_fail_over(owner).await;
    let failed_over = killed_at.elapsed();
    // Back empty: it rejoins as a replica of whoever took its slots.
    cluster.node_mut(owner).restart();
    load.until_more().await;
    let recovered = killed_at.elapsed();
    let (acknowledged, refused) = load.stop().await;
    check_every_write(cluster, &acknowledged, received).await;
    // One lock for both: a second `lock()` in the same statement would wait for the first.
    let (notices, resubscribed) = {
        let received = received.lock().await;
        (received.notices.clone(), received.resubscribed)
    };
    eprintln!(
        "master kill: slots served by the promoted replica {:.1} s after the kill; every writer \
         had {AFTER} more writes acknowledged {:.1} s after it; acknowledged {acknowledged:?}; \
         {refused} attempts refused; notices: {notices:?}; subscriber resubscribed \
         {resubscribed} times",
        failed_over.as_secs_f64(),
        recovered.as_secs_f64(),
    );
}

/// The next notification of `stream`, within [`SETTLE`].
async fn next(stream: &mut tonic::Streaming<pb::Notification>) -> pb::Notification {
    tokio::time::timeout(SETTLE, stream.message())
        .await
        .expect("a notification in time")
        .expect("no error")
        .expect("the stream goes on")
}

fn rift_migrate(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["migrate", "--from", from, "--to", to])
        .env_remove("RIFT_REDIS_PARTITIONS")
        .stdin(Stdio::null())
        .output()
        .expect("run rift migrate")
}

/// A deployment on one Redis, written by a single-mode Rift, moved into the empty cluster.
async fn migration_from_single(cluster: &Cluster) {
    let single = RedisServer::start();
    let before = TestRift::on_redis(&single.url()).await;
    let mut client = before.client().await;
    for _ in 0..2 {
        client
            .analyze(patient_analyze("mig-a", ""))
            .await
            .expect("analyze");
    }
    client
        .narrate(patient(pb::NarrateRequest {
            task_id: "mig-a".into(),
            ..Default::default()
        }))
        .await
        .expect("narrate");
    client
        .progress(patient(pb::ProgressRequest {
            task_id: "mig-a".into(),
        }))
        .await
        .expect("progress");
    let report = client
        .report(patient(pb::ReportRequest {
            task_id: "mig-a".into(),
        }))
        .await
        .expect("report")
        .into_inner();
    let first = client
        .analyze(patient_analyze("mig-b", "mig-request-1"))
        .await
        .expect("analyze")
        .into_inner();
    client
        .analyze(patient_analyze("mig-c", ""))
        .await
        .expect("analyze");
    client
        .delete_task(patient(pb::DeleteTaskRequest {
            task_id: "mig-c".into(),
        }))
        .await
        .expect("delete");
    let mut history = subscribe(&mut client, "mig-a", "0").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(next(&mut history).await.id);
    }
    drop(history);
    before.stop().await.expect("the single-mode Rift stops");

    let output = tokio::task::spawn_blocking({
        let (from, to) = (single.url(), cluster.url());
        move || rift_migrate(&from, &to)
    })
    .await
    .expect("migrate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "rift migrate: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("rift migrate: {}", stdout.trim());
    assert!(stdout.contains("migrated 3 tasks"), "{stdout}");
    assert!(stdout.contains("8 notifications"), "{stdout}");
    assert!(stdout.contains("1 request ids (0 dropped"), "{stdout}");

    // Once is all: into a cluster holding notifications, it refuses.
    let again = tokio::task::spawn_blocking({
        let (from, to) = (single.url(), cluster.url());
        move || rift_migrate(&from, &to)
    })
    .await
    .expect("migrate again");
    assert!(!again.status.success(), "a second migration is refused");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty cluster"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The task index moved with the tasks: the partition's index lists mig-a.
    let indexed = cluster.keys_per_master("rift:tasks:*").await;
    let mut listed = false;
    for (port, keys) in &indexed {
        let mut master = cluster.connection(*port).await;
        for key in keys {
            let score: Option<f64> = master.zscore(key, "mig-a").await.expect("ZSCORE");
            listed |= score.is_some();
        }
    }
    assert!(listed, "mig-a in its partition's task index: {indexed:?}");

    let after = TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            mode: RedisMode::Cluster,
            ..RedisConfig::new(cluster.url())
        }),
        ..Config::default()
    })
    .await;
    let mut client = after.client().await;
    // The task's history, with the ids it had.
    let mut history = subscribe(&mut client, "mig-a", "0").await;
    for id in &ids {
        assert_eq!(&next(&mut history).await.id, id, "ids kept");
    }
    // The report moved with the task, still current.
    let task = client
        .get_task(patient(pb::GetTaskRequest {
            task_id: "mig-a".into(),
            with_report: true,
        }))
        .await
        .expect("get task")
        .into_inner();
    let moved = task.report.expect("the report moved with its task");
    assert_eq!(moved.analysis_version, report.analysis_version);
    assert!(!moved.stale, "the report is still current");
    assert_eq!(moved.profile, report.profile, "the same profile");
    // A per-task token from before the move resumes after it.
    let mut resumed = subscribe(&mut client, "mig-a", &ids[1]).await;
    assert_eq!(next(&mut resumed).await.id, ids[2]);
    // A retried request id replays; versions and the epoch go on.
    let retried = client
        .analyze(patient_analyze("mig-b", "mig-request-1"))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(
        (retried.version, &retried.epoch),
        (first.version, &first.epoch)
    );
    let next_version = client
        .analyze(patient_analyze("mig-a", ""))
        .await
        .expect("analyze")
        .into_inner();
    assert_eq!(
        (next_version.version, &next_version.epoch),
        (3, &first.epoch)
    );
    after.stop().await.expect("the cluster Rift stops");
}

/// Writes the master took but no replica got (replication cut), which the subscriber had
/// received, are lost in a failover: the subscriber is told (`history_diverged` for that
/// partition) and then gets the partition's history as it is, each event once.
async fn lost_writes_are_announced(
    rift: &TestRift,
    cluster: &mut Cluster,
    received: &Arc<Mutex<Received>>,
) {
    const UNCONFIRMED: usize = 5;
    cluster
        .until("every master with a linked replica again", || {
            cluster.settled()
        })
        .await;
    let task = "load-lost-0";
    let partition = partition_of(task, DEFAULT_PARTITIONS);
    let mut client = rift.client().await;
    until_acknowledged(&mut client, task, "load-lost-0-1", SETTLE).await;
    let owner = cluster
        .master_holding(&format!("shared:task_context:*:{task}"))
        .await;
    // Cut replication without stopping anything: the replica may not resync.
    let mut master = cluster.connection(owner).await;
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "default", "-psync", "-sync"])
        .query_async(&mut master)
        .await
        .expect("ACL SETUSER");
    let _: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "replica"])
        .query_async(&mut master)
        .await
        .expect("CLIENT KILL");
    // Each write runs on the master, is delivered, and is answered UNAVAILABLE: no replica
    // confirms it.
    for n in 2..=UNCONFIRMED + 1 {
        let status = client
            .analyze(patient_analyze(task, &format!("load-lost-0-{n}")))
            .await
            .expect_err("not confirmed without a replica");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let deadline = Instant::now() + SETTLE;
    while !received
        .lock()
        .await
        .seen
        .contains_key(&(task.to_owned(), UNCONFIRMED as u64 + 1))
    {
        assert!(
            Instant::now() < deadline,
            "the unconfirmed writes are delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let notices_before = received.lock().await.notices.len();
    cluster.kill_master_and_fail_over(owner).await;
    cluster.node_mut(owner).restart();
    // Retried with the same request ids: the new master never had them, so they are written.
    for n in 2..=UNCONFIRMED + 1 {
        until_acknowledged(&mut client, task, &format!("load-lost-0-{n}"), SETTLE).await;
    }
    check_every_write(cluster, &[(task.to_owned(), UNCONFIRMED + 1)], received).await;
    let notices = received.lock().await.notices[notices_before..].to_vec();
    assert!(
        notices
            .iter()
            .any(|notice| *notice == format!("history_diverged (partition {partition})")),
        "the subscriber is told that events it had are gone: {notices:?}"
    );
    eprintln!(
        "lost writes: {UNCONFIRMED} unconfirmed writes delivered, then lost with the master; notices {notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_mode_survives_a_reshard_and_a_master_kill() {
    let mut cluster = Cluster::start().await;
    migration_from_single(&cluster).await;
    let rift = TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            mode: RedisMode::Cluster,
            durability: Durability::Replicated,
            op_timeout: Duration::from_secs(2),
            tail_block: Duration::from_millis(200),
            ..RedisConfig::new(cluster.url())
        }),
        ..Config::default()
    })
    .await;
    let received = Arc::new(Mutex::new(Received {
        token: "0".into(),
        ..Received::default()
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let subscribing = tokio::spawn(subscriber(
        rift.client().await,
        received.clone(),
        stop.clone(),
    ));
    reshard_under_load(&rift, &cluster, &received).await;
    master_killed_under_load(&rift, &mut cluster, &received).await;
    lost_writes_are_announced(&rift, &mut cluster, &received).await;
    stop.store(true, Ordering::Relaxed);
    subscribing.abort();
}
