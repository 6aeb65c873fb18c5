//! `--redis-mode cluster`: Rift on a Redis Cluster of three masters and three replicas, started
//! by the test on free ports ([`Cluster`]).
//!
//! One cluster per test function (a cluster takes seconds to form), several scenarios on it:
//! the task flow on partitioned keys that share one slot per task; writes spread over the
//! masters within ±15% of even; a Rift started with another partition count refuses to
//! start; subscriptions per task and to every task, with two Rift processes writing, each
//! event once and in order per task, and resume tokens (per task: an id; every task: a vector
//! of positions) that resume with no gap and no duplicate; ListTasks merging every partition's
//! index, exact under concurrent writes, writing nothing, and its `as_of` a token the
//! subscription to every task resumes from.
//!
//! Run with `--nocapture` to see the figures.

#![allow(clippy::print_stderr)]

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use redis::AsyncCommands;
use rift::{
    domain::memory::{RedisConfig, RedisMode},
    pb::{self, TaskStatus, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use tonic::{Streaming, transport::Channel};

use crate::support::{
    cluster::{Cluster, SETTLE},
    grpc::{Listing, complete_task, list_every_page, patient, patient_analyze, subscribe, version},
    rift::{RiftProcess, TestRift},
    ws::WsClient,
};

/// A Rift in this process on `cluster`.
async fn rift_on(cluster: &Cluster) -> TestRift {
    TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            mode: RedisMode::Cluster,
            op_timeout: Duration::from_secs(2),
            tail_block: Duration::from_millis(200),
            ..RedisConfig::new(cluster.url())
        }),
        ..Config::default()
    })
    .await
}

/// The next notification of `stream`, within [`SETTLE`].
async fn next(stream: &mut Streaming<pb::Notification>) -> pb::Notification {
    tokio::time::timeout(SETTLE, stream.message())
        .await
        .expect("a notification in time")
        .expect("no error")
        .expect("the stream goes on")
}

async fn task_flow(rift: &TestRift, cluster: &Cluster) {
    let mut client = rift.client().await;
    let (analysis, progress) = complete_task(&mut client, "flow").await;
    assert_eq!(analysis.version, 1);
    assert_eq!(progress.status(), TaskStatus::Completed);

    // Every key of the task on one master, each with the partition's hash tag before the id.
    let per_master = cluster.keys_per_master("*:flow").await;
    let holding: Vec<_> = per_master
        .iter()
        .filter(|(_, keys)| !keys.is_empty())
        .collect();
    assert_eq!(
        holding.len(),
        1,
        "one master holds the task: {per_master:?}"
    );
    let (&port, keys) = holding[0];
    let tag = keys[0]
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(tag, _)| tag.to_owned())
        .expect("a hash tag");
    let expected: BTreeSet<String> = [
        "TechAgent:analysis",
        "ConceptAgent:narrative",
        "TaskAgent:progress",
        "shared:task_context",
        // The analysed items, which ReportAgent profiles.
        "rift:data",
    ]
    .iter()
    .map(|prefix| format!("{prefix}:{{{tag}}}:flow"))
    .collect();
    let found: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(found, expected);
    let mut master = cluster.connection(port).await;
    let stream: usize = master
        .xlen(format!("shared:notifications:{{{tag}}}"))
        .await
        .expect("XLEN");
    assert_eq!(
        stream, 3,
        "analysis, narrative, completion in the partition's stream"
    );
    let analysis: String = master
        .get(format!("TechAgent:analysis:{{{tag}}}:flow"))
        .await
        .expect("GET");
    assert!(
        analysis.starts_with(r#"{"task_id": "flow", "summary": "Analyzed 0 items""#),
        "the prototype's value bytes: {analysis}"
    );

    // The reads and the report run in the task's slot too.
    let task = client
        .get_task(patient(pb::GetTaskRequest {
            task_id: "flow".into(),
            with_report: false,
        }))
        .await
        .expect("GetTask")
        .into_inner();
    assert_eq!(task.status(), TaskStatus::Completed);
    let report = client
        .report(patient(pb::ReportRequest {
            task_id: "flow".into(),
        }))
        .await
        .expect("Report")
        .into_inner();
    assert_eq!(report.analysis_version, 1);
}

/// 600 tasks with uniform ids: each master holds its share within ±15%.
async fn writes_spread_over_masters(rift: &TestRift, cluster: &Cluster) {
    const TASKS: usize = 600;
    let client = rift.client().await;
    let writes: Vec<_> = (0..8)
        .map(|w| {
            let mut client = client.clone();
            tokio::spawn(async move {
                for n in (w..TASKS).step_by(8) {
                    client
                        .analyze(patient_analyze(&format!("spread-{n}"), ""))
                        .await
                        .expect("analyze");
                }
            })
        })
        .collect();
    for write in writes {
        write.await.expect("writer");
    }
    let per_master: BTreeMap<u16, usize> = cluster
        .keys_per_master("TechAgent:analysis:*:spread-*")
        .await
        .into_iter()
        .map(|(port, keys)| (port, keys.len()))
        .collect();
    eprintln!("writes per master of {TASKS}: {per_master:?}");
    assert_eq!(per_master.values().sum::<usize>(), TASKS);
    let even = TASKS as f64 / per_master.len() as f64;
    for (port, count) in &per_master {
        let off = (*count as f64 - even).abs() / even;
        assert!(
            off <= 0.15,
            "master {port} holds {count} of {TASKS}: {:.0}% off even",
            off * 100.0
        );
    }
}

/// A Rift with another partition count refuses to start, saying what the data is.
async fn another_layout_is_refused(cluster: &Cluster) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(["--redis-mode", "cluster", "--redis-partitions", "16"])
        .args(["--redis-url", &cluster.url()])
        .env_remove("REDIS_URL")
        .env_remove("RIFT_REDIS_URL")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SETTLE, output)
        .await
        .expect("rift exits")
        .expect("run rift");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "refused to start: {stderr}");
    assert!(
        stderr.contains("--redis-partitions 32") && stderr.contains("--redis-partitions 16"),
        "says which layout the data has: {stderr}"
    );
}

/// Two Rift processes write; subscribers on one of them, per task and to every task, get
/// every event once, in order per task; resume tokens lose and repeat nothing.
async fn subscriptions_across_processes(rift: &TestRift, cluster: &Cluster) {
    const TASKS: usize = 8;
    const VERSIONS: u64 = 10;
    let other =
        RiftProcess::spawn(&["--redis-mode", "cluster", "--redis-url", &cluster.url()]).await;
    let mut client = rift.client().await;
    let mut every = subscribe(&mut client, "", "").await;
    let mut one = subscribe(&mut client, "two-0", "0").await;
    let clients = [client.clone(), other.client().await];
    let writers: Vec<_> = (0..TASKS)
        .map(|t| {
            let mut client = clients[t % 2].clone();
            tokio::spawn(async move {
                for _ in 0..VERSIONS {
                    client
                        .analyze(patient_analyze(&format!("two-{t}"), ""))
                        .await
                        .expect("analyze");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }

    // Every task: each (task, version) once, versions in order per task.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut received = Vec::new();
    while received.len() < TASKS * VERSIONS as usize {
        let notification = next(&mut every).await;
        assert_ne!(notification.agent, "Rift", "no notice: {notification:?}");
        let v = version(&notification) as u64;
        let previous = last.entry(notification.task_id.clone()).or_default();
        assert_eq!(v, *previous + 1, "{} in order, once", notification.task_id);
        *previous = v;
        received.push((notification.task_id, v, notification.id));
    }
    assert!(
        received
            .iter()
            .all(|(_, _, token)| token.starts_with("v1:")),
        "merged tokens: {:?}",
        received.first()
    );
    for v in 1..=VERSIONS {
        let notification = next(&mut one).await;
        assert_eq!(
            (notification.task_id.as_str(), version(&notification) as u64),
            ("two-0", v)
        );
    }

    // Resuming every task from a token in the middle: exactly what came after it, then live.
    let middle = received.len() / 2;
    let mut resumed = subscribe(&mut client, "", &received[middle - 1].2).await;
    let mut rest = BTreeSet::new();
    for _ in middle..received.len() {
        let notification = next(&mut resumed).await;
        let v = version(&notification) as u64;
        assert!(
            rest.insert((notification.task_id, v)),
            "delivered once after resuming"
        );
    }
    let expected: BTreeSet<(String, u64)> = received[middle..]
        .iter()
        .map(|(task, v, _)| (task.clone(), *v))
        .collect();
    assert_eq!(rest, expected, "no gap, no duplicate across the resume");
    // Live after the replay: a new write arrives.
    clients[1]
        .clone()
        .analyze(patient_analyze("two-0", ""))
        .await
        .expect("analyze");
    let live = next(&mut resumed).await;
    assert_eq!(
        (live.task_id.as_str(), version(&live) as u64),
        ("two-0", VERSIONS + 1)
    );

    // Per task, the token is the id: resume after the 5th version.
    let mut task_stream = subscribe(&mut client, "two-1", "0").await;
    let mut fifth = String::new();
    for v in 1..=5 {
        let notification = next(&mut task_stream).await;
        assert_eq!(version(&notification) as u64, v);
        fifth = notification.id;
    }
    assert!(
        !fifth.starts_with("v1:"),
        "a per-task token is an id: {fifth}"
    );
    let mut task_resumed = subscribe(&mut client, "two-1", &fifth).await;
    for v in 6..=VERSIONS {
        assert_eq!(version(&next(&mut task_resumed).await) as u64, v);
    }

    // The same over the WebSocket: `Watch all tasks from <token>` goes on after it.
    let mut ws = WsClient::connect(rift.http_addr).await;
    let started = ws
        .command(&format!("Watch all tasks from {}", received[middle - 1].2))
        .await;
    assert!(started.starts_with("Watching all tasks"), "{started}");
    let mut over_ws = BTreeSet::new();
    // What came after the token, and the one live write since.
    for _ in middle..=received.len() {
        let body = ws.notification().await;
        let token = body["id"].as_str().expect("an id").to_owned();
        assert!(token.starts_with("v1:"), "{token}");
        let task = body["task_id"].as_str().expect("a task").to_owned();
        let v = body["payload"]["version"].as_u64().expect("a version");
        assert!(
            over_ws.insert((task, v)),
            "delivered once over the WebSocket"
        );
    }
    let mut expected_ws = expected.clone();
    expected_ws.insert(("two-0".to_owned(), VERSIONS + 1));
    assert_eq!(
        over_ws, expected_ws,
        "no gap, no duplicate over the WebSocket"
    );
    other.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rift_runs_on_a_redis_cluster() {
    let cluster = Cluster::start().await;
    let rift = rift_on(&cluster).await;
    task_flow(&rift, &cluster).await;
    writes_spread_over_masters(&rift, &cluster).await;
    another_layout_is_refused(&cluster).await;
    subscriptions_across_processes(&rift, &cluster).await;
    listing_across_partitions(&rift, &cluster).await;
}

/// Every page of a listing over the partitions, whose page tokens carry a snapshot per
/// partition.
async fn listed_across_partitions(
    client: &mut RiftClient<Channel>,
    page_size: i32,
    status: TaskStatus,
) -> Listing {
    let listing = list_every_page(client, page_size, status, async |_| {}).await;
    assert_partitioned_tokens(&listing);
    listing
}

fn assert_partitioned_tokens(listing: &Listing) {
    for token in &listing.tokens {
        assert!(
            token.starts_with("1~v1:"),
            "the snapshot is a vector: {token}"
        );
    }
}

/// Most recently changed first, ties by id, both descending; each task once.
fn assert_listing_order(tasks: &[pb::TaskSummary]) {
    let key = |task: &pb::TaskSummary| {
        let at = task.last_change.as_ref().expect("last_change");
        ((at.seconds, at.nanos), task.task_id.clone())
    };
    for pair in tasks.windows(2) {
        assert!(
            key(&pair[0]) > key(&pair[1]),
            "in order: {:?} before {:?}",
            key(&pair[0]),
            key(&pair[1])
        );
    }
}

/// Redis's counter of changes on every master.
async fn changes_per_master(cluster: &Cluster) -> BTreeMap<u16, u64> {
    let mut changes = BTreeMap::new();
    for port in cluster.masters().await.expect("masters") {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query_async(&mut cluster.connection(port).await)
            .await
            .expect("INFO persistence");
        let count = info
            .lines()
            .find_map(|line| line.strip_prefix("rdb_changes_since_last_save:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("rdb_changes_since_last_save");
        changes.insert(port, count);
    }
    changes
}

/// ListTasks over every partition: exact and in order with small pages while tasks are
/// written, the status filter as in one history, nothing written, and a subscription to
/// every task from the listing's `as_of` delivering exactly what was written after it.
async fn listing_across_partitions(rift: &TestRift, cluster: &Cluster) {
    const TASKS: usize = 60;
    let mut client = rift.client().await;
    let ids: Vec<String> = (0..TASKS).map(|n| format!("list-{n:02}")).collect();
    for (n, id) in ids.iter().enumerate() {
        client
            .analyze(patient_analyze(id, ""))
            .await
            .expect("analyze");
        if n % 3 == 0 {
            client
                .narrate(patient(pb::NarrateRequest {
                    task_id: id.clone(),
                    ..Default::default()
                }))
                .await
                .expect("narrate");
        }
    }
    let partitions: BTreeSet<u32> = ids
        .iter()
        .map(|id| rift::domain::memory::partition_of(id, rift::domain::memory::DEFAULT_PARTITIONS))
        .collect();
    assert!(
        partitions.len() > 10,
        "over many partitions: {partitions:?}"
    );

    // Quiet: the whole listing, in order, each task once, and nothing written meanwhile.
    let before = changes_per_master(cluster).await;
    let quiet = listed_across_partitions(&mut client, 7, TaskStatus::Unspecified)
        .await
        .tasks;
    let completed = listed_across_partitions(&mut client, 4, TaskStatus::Completed)
        .await
        .tasks;
    assert_eq!(
        changes_per_master(cluster).await,
        before,
        "a listing changed Redis"
    );
    assert_listing_order(&quiet);
    let listed: BTreeSet<&str> = quiet.iter().map(|task| task.task_id.as_str()).collect();
    assert!(ids.iter().all(|id| listed.contains(id.as_str())));
    // The filter keeps exactly the completed tasks, in the same order.
    let expected: Vec<&str> = quiet
        .iter()
        .filter(|task| task.status() == TaskStatus::Completed)
        .map(|task| task.task_id.as_str())
        .collect();
    let filtered: Vec<&str> = completed.iter().map(|task| task.task_id.as_str()).collect();
    assert_eq!(filtered, expected);
    assert_eq!(
        ids.iter()
            .enumerate()
            .filter(|(n, id)| n % 3 == 0 && filtered.contains(&id.as_str()))
            .count(),
        TASKS / 3
    );

    // Writers between pages: listed and unlisted tasks move to the top, new tasks appear.
    let mut writer = rift.client().await;
    let mut written = BTreeSet::new();
    let busy = list_every_page(&mut client, 5, TaskStatus::Unspecified, async |pages| {
        for id in [
            ids[pages % TASKS].clone(),
            ids[TASKS - 1 - pages % TASKS].clone(),
            format!("list-new-{pages}"),
        ] {
            let version = writer
                .analyze(patient_analyze(&id, ""))
                .await
                .expect("analyze")
                .into_inner()
                .version;
            written.insert((id, version));
        }
    })
    .await;
    assert_partitioned_tokens(&busy);
    let Listing {
        tasks: busy, as_of, ..
    } = busy;
    assert!(as_of.starts_with("v1:"), "a merged token: {as_of}");
    assert_listing_order(&busy);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &busy {
        *seen.entry(task.task_id.as_str()).or_default() += 1;
    }
    let quiet_ids: BTreeSet<&str> = quiet.iter().map(|task| task.task_id.as_str()).collect();
    assert_eq!(
        seen.keys().copied().collect::<BTreeSet<_>>(),
        quiet_ids,
        "every task that existed throughout, none created since"
    );
    assert!(
        seen.values().all(|count| *count == 1),
        "each once: {seen:?}"
    );
    assert!(
        written.len() > 30,
        "{} writes during the listing",
        written.len()
    );
    eprintln!(
        "cluster listing: {} tasks over {} partitions in pages of 5, {} writes meanwhile, each \
         pre-existing task once",
        busy.len(),
        rift::domain::memory::DEFAULT_PARTITIONS,
        written.len()
    );

    // Following every task from `as_of`: exactly the writes made after the listing began.
    let mut follow = subscribe(&mut client, "", &as_of).await;
    let mut delivered = BTreeSet::new();
    for _ in 0..written.len() {
        let notification = next(&mut follow).await;
        assert!(
            delivered.insert((notification.task_id.clone(), version(&notification) as u64)),
            "once: {notification:?}"
        );
    }
    assert_eq!(
        delivered, written,
        "no gap, nothing from before the listing"
    );
    let marker = client
        .analyze(patient_analyze("list-marker", ""))
        .await
        .expect("analyze");
    let live = next(&mut follow).await;
    assert_eq!(
        (live.task_id.as_str(), version(&live) as u64),
        ("list-marker", marker.into_inner().version),
        "then live, with nothing else in between"
    );

    // The same listing over the WebSocket: its as_of is the merged token too.
    let mut ws = WsClient::connect(rift.http_addr).await;
    let reply = ws.command("List tasks with status completed").await;
    assert!(reply.contains("\"as_of\": \"v1:"), "{reply}");
}
