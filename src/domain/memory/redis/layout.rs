//! Where a task's data lives in Redis: the one place key names are built.
//!
//! Two layouts:
//! - **prototype** (`single`, `sentinel`): the Python prototype's keys exactly
//!   ([`records::keys`]), one notification stream `shared:notifications`;
//! - **partitioned** (`cluster`): tasks map to `N` fixed partitions, `p = FNV-1a-32(task id) mod
//!   N`. Every key of a task, its partition's stream and the partition's meta hash carry the
//!   partition's hash tag (`TechAgent:analysis:{p3.17}:101`), so they share one hash slot and
//!   each write stays one script in one round trip. Partition `p`'s tag is `p<p>.<k>` for the
//!   first `k` whose slot falls in the `p`-th `1/N` of the slot space, so partitions spread
//!   evenly over masters that own contiguous, even shares of the slots (what
//!   `redis-cli --cluster create` and `rebalance` make): 32 partitions are 11/10/11 on 3.
//!
//! The layout a deployment was created with is stored under [`LAYOUT_KEY`]; Rift refuses to
//! run against data laid out otherwise ([`Layout::check`]).

use std::sync::Arc;

use crate::domain::{
    TaskId,
    records::keys::{self, NOTIFICATIONS},
};

/// Partitions of a cluster deployment unless `--redis-partitions` says otherwise.
pub const DEFAULT_PARTITIONS: u32 = 32;
/// The most partitions a deployment may have: far more than masters anyone runs, few enough
/// that choosing the tags stays instant.
pub const MAX_PARTITIONS: u32 = 1024;
/// Redis Cluster's hash slots.
pub(crate) const SLOTS: u16 = 16384;
/// Where the layout a deployment was created with is stored (a string, see
/// [`Layout::stored`]).
pub const LAYOUT_KEY: &str = "rift:layout";
/// What a single-server Rift reads as the layout of a Redis Cluster node (its `GET` of
/// [`LAYOUT_KEY`] is answered `MOVED`).
pub(crate) const CLUSTER_NODE: &str = "(a Redis Cluster node)";

/// How data is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The prototype's keys, one stream.
    Prototype,
    /// `partitions` partitions, tasks placed by FNV-1a-32 of their id.
    Partitioned {
        /// Fixed when the deployment is created.
        partitions: u32,
    },
}

impl Layout {
    /// The value stored under [`LAYOUT_KEY`].
    pub fn stored(self) -> String {
        match self {
            Layout::Prototype => "prototype".to_owned(),
            Layout::Partitioned { partitions } => {
                format!("partitioned v1 partitions={partitions} hash=fnv1a32")
            }
        }
    }

    /// How the layout reads to an operator.
    fn describe(stored: &str) -> String {
        match stored.strip_prefix("partitioned v1 partitions=") {
            Some(rest) => {
                let partitions = rest.split(' ').next().unwrap_or(rest);
                format!("--redis-mode cluster --redis-partitions {partitions}")
            }
            None if stored == "prototype" => "the prototype's layout (single or sentinel)".into(),
            None if stored == CLUSTER_NODE => "--redis-mode cluster (a cluster node)".into(),
            None => format!("an unknown layout {stored:?}"),
        }
    }

    /// Whether data stored as `found` (under [`LAYOUT_KEY`]; `None`: no layout recorded) may
    /// be used with this layout. A prototype deployment records none, so `None` is the
    /// prototype's, or nothing yet.
    /// The error says what to do.
    pub fn check(self, found: Option<&str>) -> Result<(), String> {
        let Some(found) = found else {
            return Ok(());
        };
        if found == self.stored() || (self == Layout::Prototype && found == "prototype") {
            return Ok(());
        }
        Err(format!(
            "the data in Redis is laid out for {}, but this Rift runs with {}: start Rift with \
             the deployment's layout, or move the data with `rift migrate`",
            Self::describe(found),
            Self::describe(&self.stored()),
        ))
    }
}

/// The key names of one deployment, by layout.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    layout: Layout,
    /// Partitioned: each partition's hash tag and its slot.
    partitions: Arc<[Partition]>,
}

#[derive(Debug)]
struct Partition {
    tag: String,
    slot: u16,
}

/// Every key one write of a task touches.
#[derive(Debug, Clone)]
pub(crate) struct TaskKeys {
    /// The task's partition (0 in the prototype layout).
    pub(crate) partition: usize,
    /// Partitioned: the hash tag, for request keys.
    tag: Option<Arc<str>>,
    pub(crate) analysis: String,
    pub(crate) narrative: String,
    pub(crate) progress: String,
    pub(crate) context: String,
    pub(crate) channel: String,
    pub(crate) last_event: String,
    pub(crate) stream: String,
    pub(crate) meta: String,
    /// The task index of the task's history (`rift:tasks`), which ListTasks pages through.
    pub(crate) index: String,
    /// The items of the latest analysis, for ReportAgent.
    pub(crate) data: String,
    /// ReportAgent's report.
    pub(crate) report: String,
}

impl TaskKeys {
    /// The remembered result of request `id`: beside the task's keys, in the same slot.
    pub(crate) fn request(&self, id: &str) -> String {
        match &self.tag {
            None => keys::request(id),
            Some(tag) => format!("rift:request:{{{tag}}}:{id}"),
        }
    }
}

/// A partition's history: its stream and meta hash, its task index, and the prefixes a
/// listing builds its tasks' context and deleted-task keys from.
#[derive(Debug, Clone)]
pub(crate) struct HistoryKeys {
    pub(crate) stream: String,
    pub(crate) meta: String,
    pub(crate) index: String,
    pub(crate) context_prefix: String,
    pub(crate) last_event_prefix: String,
}

impl Keys {
    /// The prototype's keys.
    pub(crate) fn prototype() -> Self {
        Self {
            layout: Layout::Prototype,
            partitions: Arc::new([]),
        }
    }

    /// The keys of a deployment of `partitions` partitions (1 ..= [`MAX_PARTITIONS`]).
    pub(crate) fn partitioned(partitions: u32) -> Self {
        let partitions = partitions.clamp(1, MAX_PARTITIONS);
        let tags = (0..partitions).map(|p| {
            let tag = tag_of(p, partitions);
            Partition {
                slot: slot_of_tag(&tag),
                tag,
            }
        });
        Self {
            layout: Layout::Partitioned { partitions },
            partitions: tags.collect(),
        }
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// Partitions with a history each: 1 in the prototype layout.
    pub(crate) fn partition_count(&self) -> usize {
        self.partitions.len().max(1)
    }

    /// The partition `task` lives in (0 in the prototype layout).
    pub(crate) fn partition_of(&self, task: &str) -> usize {
        match self.layout {
            Layout::Prototype => 0,
            Layout::Partitioned { partitions } => partition_of(task, partitions) as usize,
        }
    }

    /// The hash slot of `partition`'s keys (partitioned layout); the prototype's keys have
    /// no single slot.
    pub(crate) fn slot(&self, partition: usize) -> Option<u16> {
        self.partitions.get(partition).map(|p| p.slot)
    }

    /// The hash tag of `partition`.
    pub(crate) fn tag(&self, partition: usize) -> Option<&str> {
        self.partitions.get(partition).map(|p| p.tag.as_str())
    }

    /// Every key of `task`.
    pub(crate) fn task(&self, task: &TaskId) -> TaskKeys {
        let partition = self.partition_of(task.as_str());
        let Some(Partition { tag, .. }) = self.partitions.get(partition) else {
            return TaskKeys {
                partition: 0,
                tag: None,
                analysis: keys::analysis(task),
                narrative: keys::narrative(task),
                progress: keys::progress(task),
                context: keys::context(task),
                channel: keys::updates_channel(task),
                last_event: keys::last_event(task),
                stream: NOTIFICATIONS.to_owned(),
                meta: keys::META.to_owned(),
                index: keys::TASK_INDEX.to_owned(),
                data: keys::data(task),
                report: keys::report(task),
            };
        };
        TaskKeys {
            partition,
            tag: Some(tag.as_str().into()),
            analysis: format!("TechAgent:analysis:{{{tag}}}:{task}"),
            narrative: format!("ConceptAgent:narrative:{{{tag}}}:{task}"),
            progress: format!("TaskAgent:progress:{{{tag}}}:{task}"),
            context: format!("shared:task_context:{{{tag}}}:{task}"),
            channel: format!("task_updates:{{{tag}}}:{task}"),
            last_event: format!("rift:task_last:{{{tag}}}:{task}"),
            stream: format!("{NOTIFICATIONS}:{{{tag}}}"),
            meta: format!("{}:{{{tag}}}", keys::META),
            index: format!("{}:{{{tag}}}", keys::TASK_INDEX),
            data: format!("rift:data:{{{tag}}}:{task}"),
            report: format!("rift:report:{{{tag}}}:{task}"),
        }
    }

    /// The stream and meta hash of `partition` (the prototype's one history for any).
    pub(crate) fn history(&self, partition: usize) -> HistoryKeys {
        match self.partitions.get(partition) {
            None => HistoryKeys {
                stream: NOTIFICATIONS.to_owned(),
                meta: keys::META.to_owned(),
                index: keys::TASK_INDEX.to_owned(),
                context_prefix: keys::CONTEXT_PREFIX.to_owned(),
                last_event_prefix: keys::LAST_EVENT_PREFIX.to_owned(),
            },
            Some(Partition { tag, .. }) => HistoryKeys {
                stream: format!("{NOTIFICATIONS}:{{{tag}}}"),
                meta: format!("{}:{{{tag}}}", keys::META),
                index: format!("{}:{{{tag}}}", keys::TASK_INDEX),
                context_prefix: format!("{}{{{tag}}}:", keys::CONTEXT_PREFIX),
                last_event_prefix: format!("{}{{{tag}}}:", keys::LAST_EVENT_PREFIX),
            },
        }
    }
}

/// FNV-1a, 32 bits: fixed for ever, since it decides where stored tasks are.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The partition of `task` among `partitions`.
pub fn partition_of(task: &str, partitions: u32) -> u32 {
    fnv1a32(task.as_bytes()) % partitions.max(1)
}

/// Partition `p`'s tag: `p<p>.<k>` for the first `k` whose slot lies in the `p`-th share.
fn tag_of(p: u32, partitions: u32) -> String {
    let slots = u32::from(SLOTS);
    let start = p * slots / partitions;
    let end = (p + 1) * slots / partitions;
    (0u32..)
        .map(|k| format!("p{p}.{k}"))
        .find(|tag| (start..end).contains(&u32::from(slot_of_tag(tag))))
        .unwrap_or_else(|| format!("p{p}"))
}

/// CRC16-XMODEM, as Redis Cluster hashes keys.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |mut crc, byte| {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn slot_of_tag(tag: &str) -> u16 {
    crc16(tag.as_bytes()) % SLOTS
}

/// The hash slot of `key`, by Redis Cluster's rule: the first non-empty `{…}` decides.
pub(crate) fn key_slot(key: &str) -> u16 {
    let hashed = key
        .find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}')
                .filter(|close| *close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    slot_of_tag(hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str) -> TaskId {
        TaskId::parse(id).expect("task id")
    }

    #[test]
    fn slots_are_redis_clusters() {
        // The CRC16 test vector, and slots `redis-cli cluster keyslot` gives.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot("TechAgent:analysis:101"), 8689);
        assert_eq!(key_slot("shared:notifications"), 7471);
        assert_eq!(key_slot("a{user1000}.following"), key_slot("user1000"));
        // An empty tag does not count: the whole key is hashed.
        assert_eq!(key_slot("a{}b"), slot_of_tag("a{}b"));
    }

    #[test]
    fn the_prototype_layout_keeps_the_prototypes_keys() {
        let keys = Keys::prototype();
        let task_keys = keys.task(&task("101"));
        assert_eq!(task_keys.analysis, "TechAgent:analysis:101");
        assert_eq!(task_keys.narrative, "ConceptAgent:narrative:101");
        assert_eq!(task_keys.progress, "TaskAgent:progress:101");
        assert_eq!(task_keys.context, "shared:task_context:101");
        assert_eq!(task_keys.channel, "task_updates:101");
        assert_eq!(task_keys.stream, "shared:notifications");
        assert_eq!(task_keys.request("r1"), "rift:request:r1");
        assert_eq!(keys.partition_count(), 1);
    }

    #[test]
    fn every_key_of_a_task_shares_its_partitions_slot() {
        let keys = Keys::partitioned(DEFAULT_PARTITIONS);
        for id in ["101", "a", "task.with_dots-9", "zzz"] {
            let k = keys.task(&task(id));
            let slot = keys.slot(k.partition).expect("a slot");
            for key in [
                &k.analysis,
                &k.narrative,
                &k.progress,
                &k.context,
                &k.channel,
                &k.last_event,
                &k.stream,
                &k.meta,
                &k.request("r-1"),
            ] {
                assert_eq!(key_slot(key), slot, "{key}");
            }
            assert_eq!(keys.history(k.partition).stream, k.stream);
            assert!(
                k.analysis.starts_with("TechAgent:analysis:{p"),
                "{}",
                k.analysis
            );
        }
    }

    #[test]
    fn partitions_spread_evenly_over_even_slot_shares() {
        let keys = Keys::partitioned(32);
        // Three masters as `redis-cli --cluster create` splits the slots.
        let masters = [0..5461u16, 5461..10923, 10923..16384];
        let mut per_master = [0; 3];
        for p in 0..32 {
            let slot = keys.slot(p).expect("slot");
            let m = masters
                .iter()
                .position(|range| range.contains(&slot))
                .expect("a master");
            per_master[m] += 1;
        }
        assert_eq!(per_master, [11, 10, 11]);
        // Tasks over partitions: uniform ids land evenly.
        let mut per_partition = vec![0u32; 32];
        for n in 0..32_000 {
            per_partition[partition_of(&format!("task-{n}"), 32) as usize] += 1;
        }
        assert!(
            per_partition.iter().all(|&n| (850..1150).contains(&n)),
            "{per_partition:?}"
        );
    }

    #[test]
    fn a_different_layout_is_refused_with_what_to_do() {
        let cluster = Layout::Partitioned { partitions: 32 };
        assert!(cluster.check(None).is_ok());
        assert!(cluster.check(Some(&cluster.stored())).is_ok());
        let other = Layout::Partitioned { partitions: 16 }.stored();
        match cluster.check(Some(&other)) {
            Err(why) => {
                assert!(why.contains("--redis-partitions 16"), "{why}");
                assert!(why.contains("--redis-partitions 32"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Layout::Prototype.check(Some(&other)).is_err());
        assert!(Layout::Prototype.check(Some("prototype")).is_ok());
    }
}
