//! `UNAVAILABLE` means "not written": a write Rift gave up on does not land when a stalled
//! Redis resumes.
//!
//! The test's redis-server is frozen (SIGSTOP) under concurrent writers, so their calls queue
//! on Rift's connection and are answered `UNAVAILABLE` after `--redis-timeout-ms`; only once
//! every call was answered is it let go (SIGCONT), and Redis runs the queued scripts. None of
//! them may write, and none may announce anything.
//!
//! Run with `--nocapture` to see the figures.

#![allow(clippy::print_stderr)]

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::support::{grpc::patient_analyze, redis::RedisServer, rift::TestRift};
use redis::{AsyncCommands, streams::StreamRangeReply};
use rift::{
    domain::memory::RedisConfig,
    pb::rift_client::RiftClient,
    server::{Config, MemoryConfig},
};
use tokio::sync::watch;
use tonic::{Code, transport::Channel};

const WRITERS: usize = 8;
/// Rift's `--redis-timeout-ms` in this test: how long a stalled call waits.
const REDIS_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Default)]
struct Answers {
    /// Request ids answered OK.
    acknowledged: Vec<String>,
    /// Request ids answered UNAVAILABLE.
    unavailable: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    acknowledged: usize,
    unavailable: usize,
}

/// Analyzes `task` with a fresh request id per call until `stop`.
async fn writer(
    mut client: RiftClient<Channel>,
    task: String,
    stop: Arc<AtomicBool>,
    counts: watch::Sender<Counts>,
) -> Answers {
    let mut answers = Answers::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let request_id = format!("{task}-{n}");
        match client.analyze(patient_analyze(&task, &request_id)).await {
            Ok(_) => {
                answers.acknowledged.push(request_id);
                counts.send_modify(|c| c.acknowledged += 1);
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                answers.unavailable.push(request_id);
                counts.send_modify(|c| c.unavailable += 1);
            }
        }
    }
    answers
}

async fn until(counts: &mut watch::Receiver<Counts>, what: &str, done: impl Fn(&Counts) -> bool) {
    let reached = tokio::time::timeout(Duration::from_secs(60), counts.wait_for(|c| done(c)))
        .await
        .is_ok_and(|waited| waited.is_ok());
    assert!(reached, "never reached {what}: {:?}", *counts.borrow());
}

/// `errorstat_<code>:count=N` from `INFO errorstats`.
fn error_count(info: &str, code: &str) -> usize {
    let prefix = format!("errorstat_{code}:count=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |count| count.trim().parse().expect("a count"))
}

#[tokio::test]
async fn writes_answered_unavailable_during_a_stall_never_land() {
    let redis = RedisServer::start();
    let rift = TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            op_timeout: REDIS_TIMEOUT,
            ..RedisConfig::new(redis.url())
        }),
        ..Config::default()
    })
    .await;
    let client = rift.client().await;

    let stop = Arc::new(AtomicBool::new(false));
    let (counts, mut counted) = watch::channel(Counts::default());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                client.clone(),
                format!("stall-{w}"),
                stop.clone(),
                counts.clone(),
            ))
        })
        .collect();

    until(&mut counted, "writes before the stall", |c| {
        c.acknowledged >= 20 * WRITERS
    })
    .await;
    redis.pause();
    // Every writer keeps calling while Redis is frozen: each call queues one more script.
    let before = counted.borrow().unavailable;
    until(&mut counted, "UNAVAILABLE answers during the stall", |c| {
        c.unavailable >= before + 3 * WRITERS
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut answers = Answers::default();
    for writer in writers {
        let done = writer.await.expect("writer");
        answers.acknowledged.extend(done.acknowledged);
        answers.unavailable.extend(done.unavailable);
    }
    // Every call has been answered; only now does Redis run what was queued.
    let resumed_at = SystemTime::now();
    redis.resume();

    // A write after the stall, on the same connection as the queued scripts, so they have all
    // run by the time it is answered.
    let mut client = client;
    client
        .analyze(patient_analyze("after-stall", "after-stall-1"))
        .await
        .expect("a write once Redis runs again");

    let mut connection = redis.connection().await;
    let mut landed_before_stall = Vec::new();
    for request_id in &answers.unavailable {
        let exists: bool = connection
            .exists(format!("rift:request:{request_id}"))
            .await
            .expect("EXISTS");
        if exists {
            landed_before_stall.push(request_id.clone());
        }
    }
    let stream: StreamRangeReply = connection
        .xrange_all("shared:notifications")
        .await
        .expect("XRANGE");
    let resumed_ms = resumed_at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    let mut late = Vec::new();
    for entry in &stream.ids {
        let task: String = entry.get("task_id").expect("task_id");
        if task == "after-stall" {
            continue;
        }
        *per_task.entry(task.clone()).or_default() += 1;
        let ms: u64 = entry
            .id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .expect("a stream id");
        if ms >= resumed_ms {
            late.push((entry.id.clone(), task));
        }
    }
    let info: String = redis::cmd("INFO")
        .arg("errorstats")
        .query_async(&mut connection)
        .await
        .expect("INFO errorstats");
    let refused = error_count(&info, "RIFTDEADLINE");
    eprintln!(
        "{} acknowledged, {} UNAVAILABLE: {} refused by the script's deadline once Redis ran \
         again, {} had run before the stall (their answers were stuck in Redis)",
        answers.acknowledged.len(),
        answers.unavailable.len(),
        refused,
        landed_before_stall.len(),
    );

    assert!(
        late.is_empty(),
        "notifications written after the stall, although every call had been answered: {late:?}"
    );
    // Each UNAVAILABLE call queued one script: it either ran before the stall (its reply never
    // left Redis in time) or, after it, was refused by its deadline.
    assert_eq!(
        refused + landed_before_stall.len(),
        answers.unavailable.len(),
        "every stalled write is accounted for"
    );
    // At most the calls in flight when Redis froze, one per writer.
    assert!(
        landed_before_stall.len() <= WRITERS,
        "{landed_before_stall:?}"
    );
    // Every acknowledged write is there, and nothing else but those that ran before the stall.
    let acknowledged: HashSet<&String> = answers.acknowledged.iter().collect();
    for request_id in &answers.acknowledged {
        let exists: bool = connection
            .exists(format!("rift:request:{request_id}"))
            .await
            .expect("EXISTS");
        assert!(exists, "acknowledged {request_id} is missing");
    }
    let written: usize = per_task.values().sum();
    assert_eq!(
        written,
        acknowledged.len() + landed_before_stall.len(),
        "one notification per write that ran: {per_task:?}"
    );
}
