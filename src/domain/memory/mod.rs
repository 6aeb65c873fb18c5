//! The memory layer: where agents keep what they write, and the history of notifications.
//!
//! [`Memory`] is the contract; [`RedisMemory`] is the product, [`InProcessMemory`] the embedded
//! default so `rift serve` runs on a machine without Redis. One contract test suite
//! (`tests/memory_contract.rs`) runs against both.
//!
//! Every write is one atomic step that stores the agent's keys, updates the shared context and
//! appends the notification, so no reader ever sees a write without its notification or the
//! reverse. On Redis that step is one Lua script: one round trip.
//!
//! # Epochs: a history that is gone is never taken for the one that is there
//!
//! Every history has an [`Epoch`]: a random id of its incarnation, set by the first write that
//! finds none. When Redis comes back empty (a restart or failover without persistence, a
//! `FLUSHALL`) the next write sets a new one, so versions, request ids and notification ids of
//! the lost history can be told from the new one's: writes return the epoch they were made in,
//! a write that names an older epoch ([`WriteGuard::epoch`]) is refused
//! ([`MemoryError::EpochChanged`]), and the notifier compares epochs and resume ids
//! ([`Located::continuity`]) to announce `history_reset` and `history_diverged`.
//!
//! [`InProcessMemory`] keeps one epoch for its whole life and never loses what it holds, so
//! while it runs neither notice can arise from it; a client that resumes from an id of an
//! earlier process (the history is gone with that process) gets the notice all the same,
//! since the notifier derives it from [`Located`] alone.

mod in_process;
mod redis;
mod replication;
mod sentinel;

use std::{
    fmt::Debug,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;

pub use self::{
    in_process::InProcessMemory,
    redis::{
        DEFAULT_SENTINEL_MASTER, RedisConfig, RedisMemory, ScriptCall, analyze_script_call,
        layout::{DEFAULT_PARTITIONS, LAYOUT_KEY, Layout, MAX_PARTITIONS, partition_of},
        masked_url,
        migrate::{Migrated, migrate},
    },
};
use super::{EventId, MemoryError, Notification, TaskId};

/// Notifications either memory retains for replay unless configured otherwise.
pub const DEFAULT_MAX_EVENTS: usize = 100_000;

/// What an acknowledged write has reached (`--durability`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// The master's memory: lost if the master dies before a replica or its disk has it.
    #[default]
    Memory,
    /// At least one replica too, confirmed with `WAIT` before the write is acknowledged; a
    /// write that cannot be confirmed in time is `Unavailable`, and may exist on the master
    /// unconfirmed, so retry it with the same request id.
    Replicated,
}

impl Durability {
    /// Every value with its name on the command line, for parsing and help alike.
    pub const NAMES: [(&'static str, Durability); 2] = [
        ("memory", Durability::Memory),
        ("replicated", Durability::Replicated),
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, durability)| *durability == self)
            .map_or("memory", |(name, _)| name)
    }
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, durability)| *durability)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::NAMES.iter().map(|(name, _)| *name).collect();
                format!("{name:?} is not one of {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Rift reaches Redis (`--redis-mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RedisMode {
    /// One Redis server at `--redis-url` (or a proxy in front of one).
    #[default]
    Single,
    /// `--redis-url` lists Sentinels; Rift follows the master they name through failovers.
    /// Keys and stream exactly as in `Single`.
    Sentinel,
    /// `--redis-url` lists seed nodes of a Redis Cluster.
    Cluster,
}

impl RedisMode {
    /// Every value with its name on the command line, for parsing and help alike.
    pub const NAMES: [(&'static str, RedisMode); 3] = [
        ("single", RedisMode::Single),
        ("sentinel", RedisMode::Sentinel),
        ("cluster", RedisMode::Cluster),
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, mode)| *mode == self)
            .map_or("single", |(name, _)| name)
    }
}

impl std::str::FromStr for RedisMode {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, mode)| *mode)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::NAMES.iter().map(|(name, _)| *name).collect();
                format!("{name:?} is not one of {}", names.join(", "))
            })
    }
}

impl std::fmt::Display for RedisMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Conditions every write carries into its atomic step.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteGuard<'a> {
    /// Memory refuses the write (`DeadlineExceeded`) once its own clock is past this, so a
    /// write that reaches it late is never applied. Redis also refuses it once past the
    /// moment Rift stops waiting for the answer (`RedisConfig::op_timeout`), so a write
    /// answered `Unavailable` never lands later either.
    pub deadline: Option<SystemTime>,
    /// Idempotency: a repeated key returns the first result instead of writing again.
    pub request: Option<RequestKey<'a>>,
    /// The epoch the caller's `expected_version` and request id belong to, from an earlier
    /// answer; when memory's history is another one, the write is refused (`EpochChanged`).
    pub epoch: Option<&'a str>,
}

/// The id of one incarnation of memory's history; opaque.
pub type Epoch = String;

/// An idempotency key with the fingerprint of the request it was first used for.
#[derive(Debug, Clone, Copy)]
pub struct RequestKey<'a> {
    /// Validated like a task id.
    pub id: &'a str,
    /// Digest of the request; the same id with another fingerprint is `RequestIdReused`.
    pub fingerprint: &'a str,
    /// How long the key is remembered.
    pub window: Duration,
}

/// TechAgent's write: the analysis record replaces the previous one and gets the next version.
///
/// Notification payload: `{"task_id", "summary", "version"}`.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisWrite<'a> {
    /// The task analysed.
    pub task: &'a TaskId,
    /// The JSON stored under `TechAgent:analysis:<id>` and in the context hash.
    pub record_json: &'a str,
    /// The notification's `summary`.
    pub summary: &'a str,
    /// The items (a JSON list), kept for ReportAgent under `rift:data:<id>`.
    pub data_json: &'a str,
    /// Write only if the current version is this (0: no analysis yet).
    pub expected_version: Option<u64>,
    /// Deadline and idempotency key.
    pub guard: WriteGuard<'a>,
}

/// What an [`AnalysisWrite`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisStored {
    /// The analysis version it became.
    pub version: u64,
    /// Its notification.
    pub event: EventId,
    /// True when this is the remembered result of an earlier call with the same request id.
    pub replayed: bool,
    /// The history the version belongs to.
    pub epoch: Epoch,
}

/// ConceptAgent's write. The narrative is `prefix + summary + suffix`, composed inside the same
/// atomic step that reads the latest analysis, so it always names the version it was built on.
///
/// Notification payload: `{"task_id", "narrative", "analysis_version"}`.
#[derive(Debug, Clone, Copy)]
pub struct NarrativeWrite<'a> {
    /// The task narrated.
    pub task: &'a TaskId,
    /// Text before the latest analysis's summary.
    pub prefix: &'a str,
    /// Text after it.
    pub suffix: &'a str,
    /// Deadline and idempotency key.
    pub guard: WriteGuard<'a>,
}

/// What a [`NarrativeWrite`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarrativeStored {
    /// The narrative as stored.
    pub narrative: String,
    /// The analysis version it was built on.
    pub analysis_version: u64,
    /// Its notification.
    pub event: EventId,
    /// True when this is the remembered result of an earlier call with the same request id.
    pub replayed: bool,
    /// The history the versions belong to.
    pub epoch: Epoch,
}

/// What a report is made from: the latest analysis's version and the items Rift kept with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSource {
    /// Whether there is an analysis.
    pub has_analysis: bool,
    /// Its version.
    pub analysis_version: u64,
    /// Its items (a JSON list); `None` when Rift kept none for it (another writer stored it).
    pub data: Option<String>,
}

/// ReportAgent's write: the report of the analysis version it was built on.
///
/// Notification payload: `{"task_id", "analysis_version"}`.
#[derive(Debug, Clone, Copy)]
pub struct ReportWrite<'a> {
    /// The task.
    pub task: &'a TaskId,
    /// What is stored under `rift:report:<id>`.
    pub report_json: &'a str,
    /// The analysis version profiled: refused ([`MemoryError::VersionMismatch`]) when it is
    /// no longer the latest.
    pub analysis_version: u64,
    /// Deadline (no idempotency key: writing the same report again is harmless).
    pub guard: WriteGuard<'a>,
}

/// What a [`ReportWrite`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportStored {
    /// Its notification.
    pub event: EventId,
    /// The history the version belongs to.
    pub epoch: Epoch,
}

/// What memory holds about a task's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskState {
    /// Whether an analysis is stored.
    pub has_analysis: bool,
    /// 0 when there is no analysis. One another writer (the prototype) stored without
    /// versions counts as one version newer than the last Rift recorded.
    pub analysis_version: u64,
    /// Whether a narrative is stored.
    pub has_narrative: bool,
    /// The analysis version the narrative was built on (0 without one, or when another
    /// writer built it on an analysis no longer known).
    pub narrative_analysis_version: u64,
    /// The analysis version the stored report was built on (0: no report).
    pub report_analysis_version: u64,
}

impl TaskState {
    /// Completed: the narrative is built on the latest analysis. The Redis progress script
    /// mirrors this rule; keep them together.
    pub fn is_completed(&self) -> bool {
        self.has_analysis
            && self.has_narrative
            && self.narrative_analysis_version >= self.analysis_version
    }
}

/// A task as stored, read without writing anything (`GetTask`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskView {
    /// Its state, derived as for Progress.
    pub state: TaskState,
    /// The stored analysis record (JSON), if any.
    pub analysis: Option<String>,
    /// The stored narrative, if any.
    pub narrative: Option<String>,
    /// The task's newest notification, if any.
    pub last_event: Option<EventId>,
    /// `None` while no write has set one.
    pub epoch: Option<Epoch>,
    /// The stored report (JSON), when asked for and there is one.
    pub report: Option<String>,
}

/// Where a listing stands: the position of the last task a page looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    /// The millisecond of that task's last change as of the snapshot.
    pub ms: u64,
    /// That task's id.
    pub task_id: String,
}

/// Where a listing began: the newest notification of the history, or of each partition's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSnapshot {
    /// One history (`single`, `sentinel`, in-process).
    One(EventId),
    /// A history per partition (`cluster`), by partition; [`EventId::ZERO`] where a partition
    /// had none.
    Partitions(Vec<EventId>),
}

impl ListSnapshot {
    /// The snapshot as a resume token of a subscription to every task: the id itself, or the
    /// merged token (`v1:<p>=<id>,…`) a merged subscription resumes from. Empty for one
    /// history without a notification yet.
    pub fn resume_token(&self) -> String {
        match self {
            ListSnapshot::One(id) if *id == EventId::ZERO => String::new(),
            other => other.to_string(),
        }
    }

    /// Reads what [`Display`](std::fmt::Display) wrote.
    pub fn parse(text: &str) -> Option<Self> {
        match crate::domain::merged::parse_positions(text) {
            Some(at) => at.map(ListSnapshot::Partitions),
            None => text.parse().ok().map(ListSnapshot::One),
        }
    }
}

/// The id (`<ms>-<seq>`), or the merged token of the partitions' ids.
impl std::fmt::Display for ListSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListSnapshot::One(id) => write!(f, "{id}"),
            ListSnapshot::Partitions(at) => {
                f.write_str(&crate::domain::merged::positions_token(at.iter().copied()))
            }
        }
    }
}

/// One page to read of a listing of tasks, most recently changed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The newest notification when the listing began (in every partition); `None` begins
    /// one now.
    pub snapshot: Option<ListSnapshot>,
    /// Where the previous page ended; `None` from the start.
    pub after: Option<ListPosition>,
    /// The most tasks to return.
    pub page_size: usize,
    /// Only tasks of this status (`TaskStatus::as_str`); `None` for any.
    pub status: Option<&'static str>,
}

impl ListQuery {
    /// The snapshot of a listing over one history: `None` to begin one now; a listing begun
    /// over partitions cannot be continued here.
    pub fn one_history_snapshot(&self) -> Result<Option<EventId>, MemoryError> {
        match &self.snapshot {
            None => Ok(None),
            Some(ListSnapshot::One(id)) => Ok(Some(*id)),
            Some(ListSnapshot::Partitions(_)) => Err(MemoryError::ListingExpired(
                "it began in a deployment with partitions".into(),
            )),
        }
    }
}

/// The most tasks one page looks at (whether or not they pass the status filter): a page may
/// hold fewer than asked for and still have a next one.
pub const LIST_SCAN_LIMIT: usize = 2_000;

/// The most tasks changed since a listing began that a page places; beyond it the listing is
/// [`MemoryError::ListingExpired`].
pub const LIST_MAX_CHANGED: usize = 10_000;

/// One task of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTask {
    /// Its id.
    pub task_id: String,
    /// Its place in the listing: the millisecond of its last change as of the snapshot.
    pub position_ms: u64,
    /// Its state now.
    pub state: TaskState,
    /// Its newest notification now.
    pub last_event: Option<EventId>,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The listing's snapshot, for the next page (and a subscription from it).
    pub snapshot: ListSnapshot,
    /// The tasks, in order.
    pub tasks: Vec<ListedTask>,
    /// Where the next page starts; `None` when this is the last.
    pub next: Option<ListPosition>,
}

/// The result of TaskAgent's look: the state, and the notification id if this look was the
/// one that recorded completion (`TaskAgent:progress:<id>`).
///
/// Notification payload when recorded: `{"task_id", "status": "completed", "analysis_version"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressObserved {
    /// The task's state as read.
    pub state: TaskState,
    /// The `progress_completed` notification, if this look recorded completion.
    pub recorded: Option<EventId>,
    /// The history the versions belong to.
    pub epoch: Epoch,
}

/// Where the retained notification history stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// The newest id ever minted (kept even when trimmed), or `ZERO`.
    pub last: EventId,
    /// The oldest id still retained, or `ZERO` when none is.
    pub first_retained: EventId,
    /// Whether any notification was ever trimmed away.
    pub trimmed: bool,
}

impl History {
    /// Whether some notification strictly after `after` may have been trimmed: `after` points
    /// before the retained history, with room for a trimmed event in between.
    pub fn lost_after(&self, after: EventId) -> bool {
        let oldest = if self.first_retained == EventId::ZERO {
            self.last.successor()
        } else {
            self.first_retained
        };
        self.trimmed && after.successor() < oldest
    }
}

/// Where the history stands, whether it still holds one id, and its epoch, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where the history stands.
    pub history: History,
    /// Whether the id asked about is retained.
    pub present: bool,
    /// `None` while no write has set one (an empty Redis, or one only the prototype wrote to).
    pub epoch: Option<Epoch>,
}

/// What became of the history a subscriber had read up to some id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// Nothing it could have missed is gone: resume after the id.
    Intact,
    /// Events after the id were trimmed away (`history_truncated`): resume from the oldest
    /// retained one.
    Truncated,
    /// Events it had received are gone (`history_diverged`): the id is missing inside the
    /// retained range, or is newer than anything retained (a failover to a replica that had
    /// not received them, an older dump restored, or a new primary whose clock is behind).
    Diverged,
    /// The id comes from a history that no longer exists (`history_reset`): it precedes a
    /// history that was never trimmed, or there is no history at all.
    Reset,
}

impl Located {
    /// The design's table, for a subscriber that had read up to `after`. Ids never minted by
    /// a stream but handed out by Rift (`0`, the id of a truncation notice: just before the
    /// oldest retained event) are intact as long as nothing between them and the retained
    /// history is gone.
    pub fn continuity(&self, after: EventId) -> Continuity {
        let history = &self.history;
        if after == EventId::ZERO || self.present {
            return Continuity::Intact;
        }
        if history.last == EventId::ZERO {
            return Continuity::Reset;
        }
        if after > history.last {
            return Continuity::Diverged;
        }
        let oldest = if history.first_retained == EventId::ZERO {
            history.last.successor()
        } else {
            history.first_retained
        };
        if after >= oldest {
            Continuity::Diverged
        } else if after.successor() >= oldest {
            Continuity::Intact
        } else if history.trimmed {
            Continuity::Truncated
        } else {
            Continuity::Reset
        }
    }
}

/// Where agents keep what they write, and the notification history: the contract both
/// memories meet (`tests/memory_contract.rs` runs against each).
#[async_trait]
pub trait Memory: Send + Sync + Debug + 'static {
    /// `redis` or `in-process`, for logs.
    fn backend(&self) -> &'static str;

    /// Stores an analysis as the task's next version and announces it, atomically.
    async fn store_analysis(&self, write: AnalysisWrite<'_>)
    -> Result<AnalysisStored, MemoryError>;

    /// `None` when the task has no analysis to narrate.
    async fn store_narrative(
        &self,
        write: NarrativeWrite<'_>,
    ) -> Result<Option<NarrativeStored>, MemoryError>;

    /// Reads the task's state; when it is completed and not yet recorded, stores
    /// `completed_record` under `TaskAgent:progress:<id>` and announces it, atomically.
    /// Refused past `deadline`, like a write.
    async fn observe_progress(
        &self,
        task: &TaskId,
        completed_record: &str,
        deadline: Option<SystemTime>,
    ) -> Result<ProgressObserved, MemoryError>;

    /// The task as stored, without writing anything; with the report's JSON when
    /// `with_report`.
    async fn get_task(&self, task: &TaskId, with_report: bool) -> Result<TaskView, MemoryError>;

    /// The latest analysis's version and items, read together.
    async fn report_source(&self, task: &TaskId) -> Result<ReportSource, MemoryError>;

    /// Stores a report and announces it (`report_stored`), atomically, if the analysis it was
    /// built on is still the latest.
    async fn store_report(&self, write: ReportWrite<'_>) -> Result<ReportStored, MemoryError>;

    /// A page of the tasks, most recently changed first, without writing anything; stable
    /// across pages under concurrent writes (see [`ListQuery`]).
    async fn list_tasks(&self, query: &ListQuery) -> Result<TaskPage, MemoryError>;

    /// Removes every key of the task and announces it (`task_deleted`, payload
    /// `{"task_id"}`); `None` when the task had nothing stored.
    async fn delete_task(
        &self,
        task: &TaskId,
        deadline: Option<SystemTime>,
    ) -> Result<Option<EventId>, MemoryError>;

    /// Up to `limit` retained notifications with ids strictly after `after`, oldest first.
    async fn events_after(
        &self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError>;

    /// Up to `limit` retained notifications of `task` with ids strictly after `after`, oldest
    /// first: a per-task replay. Redis follows the task's own chain of entries, so the cost
    /// is that of the task's history, not of everything retained; this default reads every
    /// task's, which is what in-process memory affords.
    async fn task_events_after(
        &self,
        task: &TaskId,
        mut after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        const PAGE: usize = 512;
        let limit = limit.max(1);
        let mut found = Vec::new();
        loop {
            let batch = self.events_after(after, PAGE).await?;
            let complete = batch.len() < PAGE;
            for notification in batch {
                after = notification.id;
                if notification.task_id == task.as_str() {
                    found.push(notification);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if complete {
                return Ok(found);
            }
        }
    }

    /// Where the retained history stands.
    async fn history(&self) -> Result<History, MemoryError>;

    /// The history, whether it holds `id`, and its epoch, in one atomic read: how a resuming
    /// subscriber learns what became of what it had read.
    async fn locate(&self, id: EventId) -> Result<Located, MemoryError>;

    /// A reader that waits for new notifications; the notifier runs one per process (per
    /// partition, see [`Memory::partitions`]).
    fn open_tail(&self) -> Box<dyn Tail>;

    /// A memory whose notifications are kept in several histories (Redis Cluster: one stream
    /// per partition) returns one memory per partition here: each reads that partition's
    /// history (`events_after`, `history`, `locate`, `open_tail`), and writes the same data
    /// as this one. Empty (the default): one history, this memory's own.
    fn partitions(&self) -> Vec<Arc<dyn Memory>> {
        Vec::new()
    }

    /// Which of [`Memory::partitions`] holds `task`'s notifications (0 with one history).
    fn partition_of(&self, _task: &TaskId) -> usize {
        0
    }

    /// Whether the stored data is laid out as this memory expects: `Ok(Err(why))` when it is
    /// not (Rift must not start; every write is refused), an error when memory cannot tell
    /// now (checked again before the first write).
    async fn check_layout(&self) -> Result<Result<(), String>, MemoryError> {
        Ok(Ok(()))
    }

    /// Cheap liveness check for health reporting.
    async fn ping(&self) -> Result<(), MemoryError>;

    /// Whether memory has room for a write again, once one failed as
    /// [`MemoryError::Full`]: a tiny write of its own, so it fails the same way while memory
    /// is still full. Memory that cannot fill up just pings.
    async fn probe_room(&self) -> Result<(), MemoryError> {
        self.ping().await
    }

    /// Where memory is, for an operator's log line, with any password masked.
    fn address(&self) -> String {
        self.backend().to_owned()
    }
}

/// Milliseconds since the Unix epoch, as memory compares deadlines.
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Blocking reads of new notifications, on a connection of its own.
#[async_trait]
pub trait Tail: Send {
    /// Waits a bounded time for notifications after `after`; may return none.
    async fn next_batch(
        &mut self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError>;

    /// The id of the newest notification (`ZERO` if none), without reading any: where a tail
    /// nobody listens to skips ahead to.
    async fn newest(&mut self) -> Result<EventId, MemoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> EventId {
        EventId { ms, seq }
    }

    /// A history that minted ids 100-0 ..= 200-0; retained from `first` on.
    fn located(first: EventId, trimmed: bool, present: bool) -> Located {
        Located {
            history: History {
                last: id(200, 0),
                first_retained: first,
                trimmed,
            },
            present,
            epoch: Some("e".into()),
        }
    }

    #[test]
    fn an_id_still_held_or_nothing_read_resumes_as_is() {
        let intact = located(id(100, 0), false, true);
        assert_eq!(intact.continuity(id(150, 0)), Continuity::Intact);
        let missing = located(id(100, 0), true, false);
        assert_eq!(missing.continuity(EventId::ZERO), Continuity::Intact);
    }

    #[test]
    fn an_id_trimmed_away_is_truncated_unless_nothing_lies_between() {
        let trimmed = located(id(150, 0), true, false);
        assert_eq!(trimmed.continuity(id(120, 0)), Continuity::Truncated);
        // The id of a truncation notice: just before the oldest retained event.
        assert_eq!(
            trimmed.continuity(id(150, 0).predecessor()),
            Continuity::Intact
        );
    }

    #[test]
    fn an_id_missing_inside_or_beyond_the_history_is_diverged() {
        let history = located(id(100, 0), false, false);
        assert_eq!(history.continuity(id(150, 7)), Continuity::Diverged);
        assert_eq!(history.continuity(id(250, 0)), Continuity::Diverged);
        // Trimmed or not: what the subscriber saw is gone.
        let trimmed = located(id(150, 0), true, false);
        assert_eq!(trimmed.continuity(id(250, 0)), Continuity::Diverged);
    }

    #[test]
    fn an_id_before_a_history_never_trimmed_or_any_id_on_no_history_is_a_reset() {
        let fresh = located(id(100, 0), false, false);
        assert_eq!(fresh.continuity(id(50, 0)), Continuity::Reset);
        let empty = Located {
            history: History::default(),
            present: false,
            epoch: None,
        };
        assert_eq!(empty.continuity(id(50, 0)), Continuity::Reset);
    }

    #[test]
    fn durability_and_mode_names_parse_back() {
        for (name, durability) in Durability::NAMES {
            assert_eq!(name.parse::<Durability>(), Ok(durability));
            assert_eq!(durability.to_string(), name);
        }
        assert!("disk".parse::<Durability>().is_err());
        for (name, mode) in RedisMode::NAMES {
            assert_eq!(name.parse::<RedisMode>(), Ok(mode));
            assert_eq!(mode.to_string(), name);
        }
        assert!("ring".parse::<RedisMode>().is_err());
        assert_eq!(Durability::default(), Durability::Memory);
    }
}
