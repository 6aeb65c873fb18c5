//! `rift migrate`: moves a deployment from one Redis in the prototype's layout (`single`, or
//! the master of a `sentinel` group) into an empty Redis Cluster in the partitioned layout.
//!
//! Offline: stop every writer (Rift and the prototype) first; the copy is not atomic. What is
//! copied, byte for byte, with each key's remaining time to live:
//! - every task's keys (analysis, narrative, progress, context hash, the newest id a deletion
//!   left, ReportAgent's report and the items it profiles) under the task's partition's tag,
//!   and its place (last-change score) in its partition's task index;
//! - every retained notification into its task's partition stream **with its id**: per-task
//!   order, the `rift_prev` chain and per-task resume tokens stay valid (ids are increasing
//!   within each partition, since they were in the one stream);
//! - the epoch into every partition's meta hash, so versions and request ids held by clients
//!   stay valid;
//! - every remembered request id, beside the task its notification names (one whose
//!   notification was trimmed cannot be placed and is dropped: a retry of it writes again).
//!
//! The target must hold no notifications yet: ids could not be kept in a stream that already
//! has later ones. Its layout is recorded (`rift:layout`) before anything is copied.

use std::collections::{BTreeMap, HashMap};

use redis::{AsyncConnectionConfig, Client, aio::MultiplexedConnection};

use super::{
    Keys, Layout, RedisConfig, RedisMemory, RedisMode,
    layout::{LAYOUT_KEY, TaskKeys},
};
use crate::domain::{MemoryError, TaskId, memory::Memory, records::keys};

/// What a migration copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Tasks with at least one key.
    pub tasks: usize,
    /// Task keys written (strings and hashes).
    pub keys: usize,
    /// Notifications copied, ids kept.
    pub notifications: usize,
    /// Remembered request ids copied.
    pub requests: usize,
    /// Request ids whose notification was trimmed away: not copied.
    pub requests_dropped: usize,
    /// Keys whose name holds no valid task id: not copied.
    pub skipped: usize,
    /// Partitions of the target.
    pub partitions: usize,
}

/// A hash's fields and values, as `HGETALL` gives them.
type HashFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Notifications read from the source per round trip.
const PAGE: usize = 1000;

/// Copies the deployment at `from` (one server, the prototype's layout) into the cluster
/// `to` names (`mode` must be `Cluster`). See the module docs.
pub async fn migrate(from: &str, to: RedisConfig) -> Result<Migrated, MemoryError> {
    if to.mode != RedisMode::Cluster {
        return Err(MemoryError::Refused(
            "rift migrate moves data into a Redis Cluster: --to lists its seed nodes".into(),
        ));
    }
    let mut source = connect(from).await?;
    let found: Option<String> = redis::cmd("GET")
        .arg(LAYOUT_KEY)
        .query_async(&mut source)
        .await
        .map_err(super::classify)?;
    Layout::Prototype.check(found.as_deref()).map_err(|why| {
        MemoryError::Refused(format!(
            "the source is not in the prototype's layout: {why}"
        ))
    })?;
    let target = RedisMemory::open(to)?;
    target.check_layout().await?.map_err(MemoryError::Refused)?;
    let partitions = target.keys.partition_count();
    for partition in 0..partitions {
        let stream = target.keys.history(partition).stream;
        let exists: bool = target
            .read(target.slot(partition), |mut c| async move {
                redis::cmd("EXISTS").arg(&stream).query_async(&mut c).await
            })
            .await?;
        if exists {
            return Err(MemoryError::Refused(
                "the cluster already holds Rift notifications: migrate into an empty cluster"
                    .into(),
            ));
        }
    }
    let mut migrated = Migrated {
        partitions,
        ..Migrated::default()
    };
    copy_epoch(&mut source, &target).await?;
    copy_tasks(&mut source, &target, &mut migrated).await?;
    let tasks_of_events = copy_notifications(&mut source, &target, &mut migrated).await?;
    copy_requests(&mut source, &target, &tasks_of_events, &mut migrated).await?;
    tracing::info!(?migrated, "migration done");
    Ok(migrated)
}

async fn connect(url: &str) -> Result<MultiplexedConnection, MemoryError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(30)));
    Client::open(url)
        .map_err(|e| MemoryError::Unavailable(format!("invalid Redis URL: {e}")))?
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(super::classify)
}

/// Every key of the source matching `pattern`, by `SCAN`.
async fn scan(
    source: &mut MultiplexedConnection,
    pattern: &str,
) -> Result<Vec<String>, MemoryError> {
    let mut cursor = 0u64;
    let mut found = Vec::new();
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(source)
            .await
            .map_err(super::classify)?;
        found.extend(keys);
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}

/// Runs `pipe` on the master of `partition`.
async fn run_on(
    target: &RedisMemory,
    partition: usize,
    pipe: redis::Pipeline,
) -> Result<(), MemoryError> {
    target
        .read(target.slot(partition), |mut c| {
            let pipe = &pipe;
            async move { pipe.query_async::<()>(&mut c).await }
        })
        .await
}

async fn copy_epoch(
    source: &mut MultiplexedConnection,
    target: &RedisMemory,
) -> Result<(), MemoryError> {
    let epoch: Option<String> = redis::cmd("HGET")
        .arg(keys::META)
        .arg(keys::EPOCH_FIELD)
        .query_async(source)
        .await
        .map_err(super::classify)?;
    let Some(epoch) = epoch else {
        return Ok(());
    };
    for partition in 0..target.keys.partition_count() {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(target.keys.history(partition).meta)
            .arg(keys::EPOCH_FIELD)
            .arg(&epoch)
            .ignore();
        run_on(target, partition, pipe).await?;
    }
    Ok(())
}

/// The task keys of the prototype's layout, by the prefix before the task id.
const TASK_PREFIXES: [&str; 5] = [
    "TechAgent:analysis:",
    "ConceptAgent:narrative:",
    "TaskAgent:progress:",
    "shared:task_context:",
    "rift:task_last:",
];

async fn copy_tasks(
    source: &mut MultiplexedConnection,
    target: &RedisMemory,
    migrated: &mut Migrated,
) -> Result<(), MemoryError> {
    let mut tasks = BTreeMap::new();
    for prefix in TASK_PREFIXES {
        for key in scan(source, &format!("{prefix}*")).await? {
            match TaskId::parse(&key[prefix.len()..]) {
                Ok(task) => {
                    tasks.insert(task.as_str().to_owned(), task);
                }
                Err(_) => migrated.skipped += 1,
            }
        }
    }
    let prototype = Keys::prototype();
    for task in tasks.values() {
        let from = prototype.task(task);
        let to = target.keys.task(task);
        let mut pipe = redis::pipe();
        let strings = |keys: &TaskKeys| {
            [
                keys.analysis.clone(),
                keys.narrative.clone(),
                keys.progress.clone(),
                keys.last_event.clone(),
                keys.data.clone(),
                keys.report.clone(),
            ]
        };
        for (from_key, to_key) in strings(&from).into_iter().zip(strings(&to)) {
            let (value, ttl): (Option<Vec<u8>>, i64) = redis::pipe()
                .cmd("GET")
                .arg(&from_key)
                .cmd("PTTL")
                .arg(&from_key)
                .query_async(source)
                .await
                .map_err(super::classify)?;
            if let Some(value) = value {
                pipe.cmd("SET").arg(&to_key).arg(value);
                if ttl > 0 {
                    pipe.arg("PX").arg(ttl);
                }
                pipe.ignore();
                migrated.keys += 1;
            }
        }
        let (fields, ttl): (HashFields, i64) = redis::pipe()
            .cmd("HGETALL")
            .arg(&from.context)
            .cmd("PTTL")
            .arg(&from.context)
            .query_async(source)
            .await
            .map_err(super::classify)?;
        if !fields.is_empty() {
            pipe.cmd("DEL").arg(&to.context).ignore();
            pipe.cmd("HSET").arg(&to.context);
            for (field, value) in fields {
                pipe.arg(field).arg(value);
            }
            pipe.ignore();
            if ttl > 0 {
                pipe.cmd("PEXPIRE").arg(&to.context).arg(ttl).ignore();
            }
            migrated.keys += 1;
        }
        // Its place in the task index (ListTasks), with the same last-change score.
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(&from.index)
            .arg(task.as_str())
            .query_async(source)
            .await
            .map_err(super::classify)?;
        if let Some(score) = score {
            pipe.cmd("ZADD")
                .arg(&to.index)
                .arg(score)
                .arg(task.as_str())
                .ignore();
        }
        run_on(target, to.partition, pipe).await?;
        migrated.tasks += 1;
    }
    Ok(())
}

/// Copies the stream, ids kept; returns the task of every notification id copied.
async fn copy_notifications(
    source: &mut MultiplexedConnection,
    target: &RedisMemory,
    migrated: &mut Migrated,
) -> Result<HashMap<String, String>, MemoryError> {
    let mut tasks_of_events = HashMap::new();
    let mut copied_per_partition = vec![(0usize, String::new()); target.keys.partition_count()];
    let mut start = "-".to_owned();
    loop {
        let page: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(keys::NOTIFICATIONS)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(source)
            .await
            .map_err(super::classify)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        start = format!("({last}");
        let complete = page.len() < PAGE;
        let mut pipes: BTreeMap<usize, redis::Pipeline> = BTreeMap::new();
        for (id, fields) in page {
            let task = fields
                .chunks(2)
                .find(|pair| pair[0] == b"task_id")
                .and_then(|pair| pair.get(1))
                .and_then(|task| String::from_utf8(task.clone()).ok())
                .ok_or_else(|| MemoryError::Corrupt(format!("notification {id} has no task_id")))?;
            let partition = target.keys.partition_of(&task);
            let stream = target.keys.history(partition).stream;
            let pipe = pipes.entry(partition).or_insert_with(redis::pipe);
            pipe.cmd("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(target.max_events())
                .arg(&id);
            for field in fields {
                pipe.arg(field);
            }
            pipe.ignore();
            let copied = &mut copied_per_partition[partition];
            copied.0 += 1;
            copied.1.clone_from(&id);
            migrated.notifications += 1;
            tasks_of_events.insert(id, task);
        }
        for (partition, pipe) in pipes {
            run_on(target, partition, pipe).await?;
        }
        if complete {
            break;
        }
    }
    // A source trimmed before the copy: the partitions say so too, so a token older than what
    // is retained is told `history_truncated` (history.lua compares entries-added with the
    // length).
    if trimmed(source).await? {
        for (partition, (copied, last)) in copied_per_partition.iter().enumerate() {
            if *copied == 0 {
                continue;
            }
            let stream = target.keys.history(partition).stream;
            let mut pipe = redis::pipe();
            pipe.cmd("XSETID")
                .arg(&stream)
                .arg(last)
                .arg("ENTRIESADDED")
                .arg(copied + 1)
                .ignore();
            run_on(target, partition, pipe).await?;
        }
    }
    Ok(tasks_of_events)
}

/// Whether the source stream ever lost entries to trimming (entries-added beyond its length).
async fn trimmed(source: &mut MultiplexedConnection) -> Result<bool, MemoryError> {
    let exists: bool = redis::cmd("EXISTS")
        .arg(keys::NOTIFICATIONS)
        .query_async(source)
        .await
        .map_err(super::classify)?;
    if !exists {
        return Ok(false);
    }
    let info: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(keys::NOTIFICATIONS)
        .query_async(source)
        .await
        .map_err(super::classify)?;
    let field = |name: &str| -> Option<i64> {
        info.chunks(2).find_map(|pair| match pair {
            [redis::Value::BulkString(key), redis::Value::Int(value)] if key == name.as_bytes() => {
                Some(*value)
            }
            [redis::Value::SimpleString(key), redis::Value::Int(value)] if key == name => {
                Some(*value)
            }
            _ => None,
        })
    };
    Ok(match (field("entries-added"), field("length")) {
        (Some(added), Some(length)) => added > length,
        _ => true,
    })
}

async fn copy_requests(
    source: &mut MultiplexedConnection,
    target: &RedisMemory,
    tasks_of_events: &HashMap<String, String>,
    migrated: &mut Migrated,
) -> Result<(), MemoryError> {
    const PREFIX: &str = "rift:request:";
    for key in scan(source, &format!("{PREFIX}*")).await? {
        let (value, ttl): (Option<String>, i64) = redis::pipe()
            .cmd("GET")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key)
            .query_async(source)
            .await
            .map_err(super::classify)?;
        let Some(value) = value else { continue };
        // The remembered result names the notification it made (`id`), which names the task.
        let event = serde_json::from_str::<serde_json::Value>(&value)
            .ok()
            .and_then(|remembered| remembered["id"].as_str().map(str::to_owned));
        let task = event
            .and_then(|event| tasks_of_events.get(&event))
            .and_then(|task| TaskId::parse(task).ok());
        let Some(task) = task else {
            migrated.requests_dropped += 1;
            continue;
        };
        let to = target.keys.task(&task);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(to.request(&key[PREFIX.len()..]))
            .arg(value);
        if ttl > 0 {
            pipe.arg("PX").arg(ttl);
        }
        pipe.ignore();
        run_on(target, to.partition, pipe).await?;
        migrated.requests += 1;
    }
    Ok(())
}
