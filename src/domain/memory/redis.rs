//! The Redis memory: one Lua script per agent write, on one server, a master followed through
//! Sentinel, or the masters of a Redis Cluster.
//!
//! Where keys live is [`layout`]'s business: the prototype's keys in `single` and `sentinel`
//! mode; in `cluster` mode, tasks in fixed partitions whose keys and stream share one hash
//! slot, so a write is still one script in one round trip, routed by [`cluster`] to the
//! slot's master. Each partition has a history of its own (stream, epoch); a cluster memory
//! hands out one view per partition ([`Memory::partitions`]) for the notifier to tail.
//!
//! Two kinds of connection, on purpose:
//! - a [`ConnectionManager`] for request traffic: multiplexed, reconnecting by itself, every
//!   call bounded by `op_timeout` so a Redis that went away answers `UNAVAILABLE` quickly;
//! - one connection per [`Tail`] for `XREAD BLOCK`, whose response timeout is longer than the
//!   block, because a blocking read would otherwise trip the short timeout and, on a shared
//!   connection, stall every command queued behind it.
//!
//! # A write Rift gave up on never lands
//!
//! A call that times out is still queued on the connection: a Redis that was stalled (paused,
//! swapping, blocked by a slow command) runs it when it resumes. So every write script carries
//! the moment Rift gives up on it ([`GiveUp`]: `op_timeout` from the call, or the caller's
//! deadline if earlier) and refuses to write once Redis's clock (`TIME`) is past it. The
//! `UNAVAILABLE` a caller gets after a timeout therefore means "not written".
//!
//! Clock assumption: Redis's clock does not run behind Rift's. If it runs `d` behind, a write
//! can still land up to `d` after Rift answered; keep both hosts on NTP, well within
//! `op_timeout`.

mod cluster;
pub(super) mod layout;
pub(super) mod migrate;

use std::{
    collections::HashMap,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use redis::{
    AsyncCommands, AsyncConnectionConfig, ErrorKind, RedisError, Script, ScriptInvocation, Value,
    aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
    streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply},
};
use serde_json::Map;

use self::{
    cluster::{Node, Router},
    layout::{DEFAULT_PARTITIONS, HistoryKeys, Keys, LAYOUT_KEY, Layout, TaskKeys, key_slot},
};
use super::{
    AnalysisStored, AnalysisWrite, Durability, History, ListPosition, ListQuery, ListSnapshot,
    ListedTask, Located, Memory, NarrativeStored, NarrativeWrite, ProgressObserved, RedisMode,
    ReportSource, ReportStored, ReportWrite, Tail, TaskPage, TaskState, TaskView, WriteGuard,
    replication::ReplicatedWrites, sentinel::Master, unix_ms,
};
use crate::domain::{
    AnalysisStats, CoreError, EventId, MemoryError, Notification, TaskId, analysis,
    records::{self, keys},
};

/// The master name Sentinel's own example configuration monitors.
pub const DEFAULT_SENTINEL_MASTER: &str = "mymaster";

/// How to reach Redis and how to behave when it does not answer.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db`, `rediss://…`, or `unix:///path/to/socket`.
    pub url: String,
    /// Approximate cap on the notification stream (`XADD MAXLEN ~`).
    pub max_events: usize,
    /// Upper bound on any one request-path call, reconnect included.
    pub op_timeout: Duration,
    /// How long one tail read blocks (`XREAD BLOCK`).
    pub tail_block: Duration,
    /// What an acknowledged write has reached: the master's memory, or a replica too.
    pub durability: Durability,
    /// What `url` names: one server, Sentinels, or Cluster seed nodes.
    pub mode: RedisMode,
    /// In `RedisMode::Sentinel`, the name of the master the Sentinels monitor.
    pub sentinel_master: String,
    /// How long a task's keys are kept after the write that last wrote them
    /// (`--task-ttl-secs`); `None` keeps them until deleted.
    pub task_ttl: Option<Duration>,
    /// In `RedisMode::Cluster`, the partitions tasks are spread over (`--redis-partitions`),
    /// fixed when a deployment is created.
    pub partitions: u32,
}

impl RedisConfig {
    /// Redis at `url`, with the default limits and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_events: super::DEFAULT_MAX_EVENTS,
            op_timeout: Duration::from_millis(800),
            tail_block: Duration::from_secs(2),
            durability: Durability::Memory,
            mode: RedisMode::Single,
            sentinel_master: DEFAULT_SENTINEL_MASTER.to_owned(),
            task_ttl: None,
            partitions: DEFAULT_PARTITIONS,
        }
    }
}

/// The scripts, hashed once; `invoke_async` sends `EVALSHA` and loads the script only after a
/// `NOSCRIPT` (a fresh or restarted Redis).
#[derive(Debug)]
struct Scripts {
    analyze: Script,
    narrate: Script,
    progress: Script,
    delete: Script,
    history: Script,
    task_history: Script,
    get_task: Script,
    list_tasks: Script,
    report_source: Script,
    report: Script,
}

const PRELUDE: &str = include_str!("scripts/prelude.lua");
const TASK_STATE: &str = include_str!("scripts/task_state.lua");
const ANALYZE: &str = include_str!("scripts/analyze.lua");

/// A write script as Redis runs it: the prelude, the task state, then the body.
fn write_script(body: &str) -> String {
    format!("{PRELUDE}\n{}\n{body}", task_state())
}

/// A read script that derives task states: the task state, then the body.
fn state_script(body: &str) -> String {
    format!("{}\n{body}", task_state())
}

/// `task_state.lua`, after the narrative's fixed parts it compares stored narratives with
/// (from `records`, where ConceptAgent's narrative is spelled).
fn task_state() -> String {
    format!(
        "local NARRATIVE_OPENING = {:?}\nlocal NARRATIVE_MIDDLE = {:?}\nlocal NARRATIVE_CLOSING = {:?}\n{TASK_STATE}",
        records::NARRATIVE_OPENING,
        records::NARRATIVE_MIDDLE,
        records::NARRATIVE_CLOSING,
    )
}

/// A script call as Rift makes it: the script's text (loaded once, then called by its SHA1 with
/// `EVALSHA`), and its KEYS and ARGV in the order the script reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptCall {
    /// The script as Rift loads it (`SCRIPT LOAD`).
    pub source: String,
    /// `KEYS`, in order.
    pub keys: Vec<String>,
    /// `ARGV`, in order.
    pub args: Vec<String>,
}

/// TechAgent's write of `data` to task `task_id`, with no expected version, no request id and
/// `deadline`, as the one script call Rift makes for it; for tools that run it straight against
/// Redis (`rift-bench` beside `redis-benchmark`). Built by the code that builds Rift's own call.
pub fn analyze_script_call(
    task_id: &str,
    data: &[serde_json::Value],
    max_events: usize,
    deadline: SystemTime,
) -> Result<ScriptCall, CoreError> {
    let task = TaskId::parse(task_id)?;
    let summary = analysis::summary(data.len());
    let record_json = records::analysis_json(&task, &summary, &AnalysisStats::of(data));
    let data_json = records::data_json(data);
    let write = AnalysisWrite {
        task: &task,
        record_json: &record_json,
        summary: &summary,
        data_json: &data_json,
        expected_version: None,
        guard: WriteGuard {
            deadline: Some(deadline),
            ..WriteGuard::default()
        },
    };
    let mut call = ScriptCall {
        source: write_script(ANALYZE),
        ..ScriptCall::default()
    };
    // Repeated as is, the call sets the epoch (if none) to this one candidate: a tool's own.
    let guard = Guard {
        deadline_ms: deadline_arg(Some(deadline)),
        candidate_epoch: "rift-bench",
    };
    analyze_args(
        &mut call,
        &write,
        &Keys::prototype().task(&task),
        &max_events.max(1).to_string(),
        &guard,
        "",
    );
    Ok(call)
}

/// KEYS and ARGV of TechAgent's write script, in the order `scripts/analyze.lua` reads them.
fn analyze_args(
    call: &mut impl ScriptArgs,
    write: &AnalysisWrite<'_>,
    keys: &TaskKeys,
    max_events: &str,
    guard: &Guard<'_>,
    ttl: &str,
) {
    let expected_version = write.expected_version.map(|v| v.to_string());
    // As JSON: the script puts the notification's payload together from it (analyze.lua), so
    // Redis does not encode JSON on every Analyze. A string always serializes.
    let summary_json = serde_json::to_string(write.summary).unwrap_or_default();
    call.key(&keys.analysis)
        .key(&keys.context)
        .key(&keys.progress)
        .key(&keys.stream)
        .key(&keys.channel)
        .key(&keys.last_event)
        .key(&keys.index)
        .key(&keys.data)
        .arg(write.task.as_str())
        .arg(write.record_json)
        .arg(&summary_json)
        .arg(max_events)
        .arg(expected_version.as_deref().unwrap_or_default())
        .arg(write.data_json);
    guarded(call, &write.guard, guard, keys);
    retained(call, ttl);
    traced(call);
}

/// Where a script call's KEYS and ARGV go: Rift's own invocation, or a [`ScriptCall`] for tools.
trait ScriptArgs {
    fn key(&mut self, key: &str) -> &mut Self;
    fn arg(&mut self, arg: &str) -> &mut Self;
}

impl ScriptArgs for ScriptInvocation<'_> {
    fn key(&mut self, key: &str) -> &mut Self {
        ScriptInvocation::key(self, key)
    }

    fn arg(&mut self, arg: &str) -> &mut Self {
        ScriptInvocation::arg(self, arg)
    }
}

impl ScriptArgs for ScriptCall {
    fn key(&mut self, key: &str) -> &mut Self {
        self.keys.push(key.to_owned());
        self
    }

    fn arg(&mut self, arg: &str) -> &mut Self {
        self.args.push(arg.to_owned());
        self
    }
}

impl Scripts {
    /// The scripts as the layout runs them. Partitioned (cluster), each starts with a shebang,
    /// so Redis refuses any access outside the slot of its declared keys (a layout bug
    /// caught, not a key written on the wrong node), and publishes with `SPUBLISH`, which
    /// stays on the shard, where a classic `PUBLISH` is broadcast to every node.
    fn new(layout: Layout) -> Self {
        type Source = fn(&str) -> String;
        let (write, read): (Source, Source) = match layout {
            Layout::Prototype => (write_script, str::to_owned),
            Layout::Partitioned { .. } => (
                |body| format!("#!lua\n{}", sharded_publish(&write_script(body))),
                |body| format!("#!lua flags=no-writes\n{body}"),
            ),
        };
        Self {
            analyze: Script::new(&write(ANALYZE)),
            narrate: Script::new(&write(include_str!("scripts/narrate.lua"))),
            progress: Script::new(&write(include_str!("scripts/progress.lua"))),
            delete: Script::new(&write(include_str!("scripts/delete.lua"))),
            history: Script::new(&read(include_str!("scripts/history.lua"))),
            task_history: Script::new(&read(include_str!("scripts/task_history.lua"))),
            get_task: Script::new(&read(&state_script(include_str!("scripts/get_task.lua")))),
            list_tasks: Script::new(&read(&state_script(include_str!("scripts/list_tasks.lua")))),
            report_source: Script::new(&read(&state_script(include_str!(
                "scripts/report_source.lua"
            )))),
            report: Script::new(&write(include_str!("scripts/report.lua"))),
        }
    }
}

/// A write script publishing with `SPUBLISH` (cluster) instead of `PUBLISH`.
fn sharded_publish(script: &str) -> String {
    script.replace("redis.call('PUBLISH',", "redis.call('SPUBLISH',")
}

/// What Rift adds to a write's own guard for the script: the deadline it gives the script
/// (unix ms: the earlier of the guard's and the moment Rift gives up), and a candidate epoch.
#[derive(Debug)]
struct Guard<'a> {
    deadline_ms: String,
    candidate_epoch: &'a str,
}

/// Appends a write's guard to a script call: the meta key, then the request key (if any), as
/// the last keys; and five last arguments: the deadline, the candidate epoch, the expected
/// epoch (empty for any), request fingerprint and window (ms; both empty without a request
/// key). `prelude.lua` reads them in that order.
fn guarded(call: &mut impl ScriptArgs, write: &WriteGuard<'_>, guard: &Guard<'_>, keys: &TaskKeys) {
    call.key(&keys.meta)
        .arg(&guard.deadline_ms)
        .arg(guard.candidate_epoch)
        .arg(write.epoch.unwrap_or_default());
    match write.request {
        Some(request) => {
            call.key(&keys.request(request.id))
                .arg(request.fingerprint)
                .arg(&request.window.as_millis().max(1).to_string());
        }
        None => {
            call.arg("").arg("");
        }
    }
}

/// Appends the task retention in ms (empty: for ever) as the second-to-last argument of a
/// write script call: `prelude.lua` reads `ARGV[#ARGV - 1]`. Call it just before [`traced`].
fn retained(call: &mut impl ScriptArgs, ttl: &str) {
    call.arg(ttl);
}

/// Appends the writer's trace context as the last argument of a write script call (empty when
/// untraced): `prelude.lua` reads `ARGV[#ARGV]` and stores it with the notification, in the
/// same round trip. Call it after every other argument.
fn traced(call: &mut impl ScriptArgs) {
    call.arg(&crate::traces::current_traceparent().unwrap_or_default());
}

/// The KEYS and first ARGV of an agent step that stores `result` and announces it, in the
/// order `narrate.lua` and `report.lua` read them: the result, the context hash, the history,
/// the task's channel and newest-event key, the task index; then the task id.
fn announced_step(call: &mut impl ScriptArgs, result: &str, keys: &TaskKeys, task: &TaskId) {
    call.key(result)
        .key(&keys.context)
        .key(&keys.stream)
        .key(&keys.channel)
        .key(&keys.last_event)
        .key(&keys.index)
        .arg(task.as_str());
}

fn deadline_arg(deadline: Option<SystemTime>) -> String {
    deadline.map_or(0, unix_ms).to_string()
}

/// Candidate epochs: a random base per process and a counter, so every write offers one never
/// offered before. A fixed candidate would be wrong: the same process, setting it again after
/// Redis came back empty, would make the new history look like the old one.
#[derive(Debug)]
struct EpochCandidates {
    base: String,
    next: std::sync::atomic::AtomicU64,
}

impl EpochCandidates {
    fn new() -> Self {
        Self {
            base: uuid::Uuid::new_v4().simple().to_string()[..16].to_owned(),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}-{n:x}", self.base)
    }
}

/// The moment a request-path call is abandoned, on both clocks: the wall clock for the
/// script's own guard (compared with Redis's `TIME`), the monotonic one for the wait.
#[derive(Debug, Clone, Copy)]
struct GiveUp {
    at: tokio::time::Instant,
    /// The deadline a write script is given: the earlier of the caller's and `wall`.
    script_deadline: SystemTime,
    /// Whether `script_deadline` is the caller's: then a script refused for lateness means
    /// the caller's time ran out; otherwise only Rift's own wait did, and the caller may
    /// retry.
    caller_binds: bool,
}

impl GiveUp {
    /// `timeout` from now. The wall clock is read first, so the script's deadline is never
    /// later than the moment the wait ends.
    fn after(timeout: Duration) -> Self {
        Self::within(timeout, None)
    }

    /// [`GiveUp::after`], for a write whose caller must be answered by `deadline`.
    fn within(timeout: Duration, deadline: Option<SystemTime>) -> Self {
        let wall = SystemTime::now() + timeout;
        let at = tokio::time::Instant::now() + timeout;
        let caller_binds = deadline.is_some_and(|deadline| deadline <= wall);
        Self {
            at,
            script_deadline: deadline.map_or(wall, |deadline| deadline.min(wall)),
            caller_binds,
        }
    }

    /// The script's deadline argument, in unix ms.
    fn deadline_arg(&self) -> String {
        unix_ms(self.script_deadline).to_string()
    }

    /// A script's refusal for lateness, as the caller should see it: past the caller's own
    /// deadline it is `DeadlineExceeded`; past only Rift's wait (Redis ran the script too
    /// late, e.g. while a failover starved it) it is a refusal before execution, so
    /// `Unavailable`, and a retry with the same request id is safe.
    fn explain(&self, error: MemoryError, op_timeout: Duration) -> MemoryError {
        match error {
            MemoryError::DeadlineExceeded if !self.caller_binds => {
                MemoryError::Unavailable(format!(
                    "Redis reached the write only after Rift's {op_timeout:?} wait; not applied"
                ))
            }
            other => other,
        }
    }
}

/// Memory in Redis, shared by every Rift process using the same server. Connects lazily, so
/// Rift starts while Redis is down.
#[derive(Debug, Clone)]
pub struct RedisMemory {
    /// The servers writes and reads go to.
    servers: Servers,
    /// Where every key is.
    keys: Keys,
    /// The partition whose history `events_after`, `history`, `locate` and `open_tail` read:
    /// 0, the only one, unless this is one of [`Memory::partitions`].
    partition: usize,
    config: RedisConfig,
    scripts: Arc<Scripts>,
    /// `config.max_events` as the scripts' `MAXLEN` argument, formatted once.
    maxlen: Arc<str>,
    /// `config.task_ttl` in ms as the scripts' retention argument ('' for none), formatted once.
    ttl: Arc<str>,
    epochs: Arc<EpochCandidates>,
    /// Set once the data's layout was found to be this memory's ([`Memory::check_layout`]);
    /// the refusal, for good, if it was not.
    layout_checked: Arc<tokio::sync::OnceCell<Result<(), String>>>,
}

/// The servers of a deployment.
#[derive(Debug, Clone)]
enum Servers {
    /// `single` and `sentinel`: one master, fixed or followed.
    Master {
        master: Master,
        /// With `Durability::Replicated`: the write link and its group commits.
        replicated: Option<Arc<ReplicatedWrites>>,
    },
    /// `cluster`: the master owning each slot.
    Cluster(Arc<Router>),
}

/// Where one call goes: a master, and its write link with `--durability replicated`.
#[derive(Debug, Clone)]
struct Target {
    master: Master,
    replicated: Option<Arc<ReplicatedWrites>>,
}

impl Target {
    fn of(node: &Node) -> Self {
        Self {
            master: node.master.clone(),
            replicated: node.replicated.clone(),
        }
    }
}

/// A write that did not go through: the slot has another owner (`MOVED`, so the script did
/// not run and may be sent there once), or any other failure.
enum Failed {
    Moved(String),
    Error(MemoryError),
}

impl From<MemoryError> for Failed {
    fn from(error: MemoryError) -> Self {
        Failed::Error(error)
    }
}

impl RedisMemory {
    /// Prepares the connection without waiting for Redis: Rift starts (and reports
    /// NOT_SERVING) while Redis is down, and connects as soon as it is up.
    pub fn open(config: RedisConfig) -> Result<Self, MemoryError> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.op_timeout))
            .set_response_timeout(Some(config.op_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250));
        let replicated = config.durability == Durability::Replicated;
        let master = match config.mode {
            RedisMode::Single => Master::fixed(&config.url, manager_config)?,
            RedisMode::Sentinel => Master::followed(
                &config.url,
                &config.sentinel_master,
                manager_config,
                config.op_timeout,
            )?,
            RedisMode::Cluster => {
                let router =
                    Router::open(&config.url, manager_config, config.op_timeout, replicated)?;
                return Ok(Self::on(
                    Servers::Cluster(router),
                    Keys::partitioned(config.partitions),
                    config,
                ));
            }
        };
        let replicated =
            replicated.then(|| Arc::new(ReplicatedWrites::new(master.clone(), config.op_timeout)));
        Ok(Self::on(
            Servers::Master { master, replicated },
            Keys::prototype(),
            config,
        ))
    }

    fn on(servers: Servers, keys: Keys, config: RedisConfig) -> Self {
        let layout = keys.layout();
        Self {
            servers,
            keys,
            partition: 0,
            maxlen: config.max_events.max(1).to_string().into(),
            ttl: config
                .task_ttl
                .map(|ttl| ttl.as_millis().max(1).to_string())
                .unwrap_or_default()
                .into(),
            config,
            scripts: Arc::new(Scripts::new(layout)),
            epochs: Arc::new(EpochCandidates::new()),
            layout_checked: Arc::default(),
        }
    }

    /// The slot of `partition`'s keys: where a cluster call about it goes (`None` with one
    /// master).
    fn slot(&self, partition: usize) -> Option<u16> {
        match self.servers {
            Servers::Master { .. } => None,
            Servers::Cluster(_) => self.keys.slot(partition),
        }
    }

    /// This memory's history keys.
    fn history_keys(&self) -> HistoryKeys {
        self.keys.history(self.partition)
    }

    /// Where a call about `slot` goes, waiting for it until `give_up`.
    async fn target_until(&self, slot: Option<u16>, give_up: GiveUp) -> Result<Target, Failed> {
        let target = async {
            match (&self.servers, slot) {
                (Servers::Master { master, replicated }, _) => Ok(Target {
                    master: master.clone(),
                    replicated: replicated.clone(),
                }),
                (Servers::Cluster(router), Some(slot)) => {
                    Ok(Target::of(&*router.owner(slot).await?))
                }
                (Servers::Cluster(_), None) => Err(MemoryError::Corrupt(
                    "a cluster call without a slot: a layout bug".into(),
                )),
            }
        };
        match tokio::time::timeout_at(give_up.at, target).await {
            Ok(target) => Ok(target?),
            Err(_) => Err(self.no_answer().into()),
        }
    }

    /// The request connection of `target`, waiting for one until `give_up`.
    async fn connection_until(
        &self,
        target: &Target,
        give_up: GiveUp,
    ) -> Result<ConnectionManager, MemoryError> {
        match tokio::time::timeout_at(give_up.at, target.master.current()).await {
            Ok(current) => Ok(current?.connection),
            Err(_) => Err(self.no_answer()),
        }
    }

    /// Something went wrong that a moved master or slot explains: find out where it is now.
    fn suspect(&self) {
        match &self.servers {
            Servers::Master { master, .. } => master.suspect(),
            Servers::Cluster(router) => router.suspect(),
        }
    }

    fn no_answer(&self) -> MemoryError {
        self.suspect();
        MemoryError::Unavailable(format!(
            "no answer from Redis within {:?}",
            self.config.op_timeout
        ))
    }

    /// Runs one request-path read within `op_timeout` on the request connection of the
    /// master owning `slot` (any with one master).
    async fn read<T, F>(
        &self,
        slot: Option<u16>,
        call: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, MemoryError>
    where
        F: Future<Output = Result<T, RedisError>>,
    {
        let give_up = self.give_up();
        let target = self
            .target_until(slot, give_up)
            .await
            .map_err(Failed::into_error)?;
        let connection = self.connection_until(&target, give_up).await?;
        self.bounded_until(give_up, call(connection)).await
    }

    /// One page of `partition`'s listing, against its `snapshot` (`None`: now).
    async fn list_partition(
        &self,
        partition: usize,
        snapshot: Option<EventId>,
        query: &ListQuery,
    ) -> Result<PartitionPage, MemoryError> {
        let history = self.keys.history(partition);
        let mut call = self.scripts.list_tasks.prepare_invoke();
        let (after_ms, after_id) = query
            .after
            .as_ref()
            .map(|after| (after.ms.to_string(), after.task_id.as_str()))
            .unwrap_or_default();
        call.key(&history.index)
            .key(&history.stream)
            .arg(snapshot.map(|id| id.to_string()).unwrap_or_default())
            .arg(after_ms)
            .arg(after_id)
            .arg(query.page_size.max(1))
            .arg(query.status.unwrap_or_default())
            .arg(super::LIST_SCAN_LIMIT)
            .arg(super::LIST_MAX_CHANGED)
            .arg(&history.context_prefix)
            .arg(&history.last_event_prefix);
        let reply = self
            .read(self.slot(partition), |mut connection| async move {
                call.invoke_async::<Vec<Value>>(&mut connection).await
            })
            .await?;
        let mut fields = Fields::of(reply);
        let snapshot = parse_id(&fields.text()?)?;
        let next_ms = fields.text()?;
        let next_id = fields.text()?;
        let next = if next_ms.is_empty() {
            None
        } else {
            Some(ListPosition {
                ms: next_ms
                    .parse()
                    .map_err(|_| MemoryError::Corrupt(format!("not a position: {next_ms:?}")))?,
                task_id: next_id,
            })
        };
        let mut tasks = Vec::new();
        while fields.remaining() {
            let task_id = fields.text()?;
            let position_ms = fields.number()?;
            let has_analysis = fields.number()? == 1;
            let analysis_version = fields.number()?;
            let has_narrative = fields.number()? == 1;
            let narrative_analysis_version = fields.number()?;
            let report_analysis_version = fields.number()?;
            let last_event = parse_optional_id(&fields.text()?)?;
            tasks.push(ListedTask {
                task_id,
                position_ms,
                state: TaskState {
                    has_analysis,
                    analysis_version,
                    has_narrative,
                    narrative_analysis_version,
                    report_analysis_version,
                },
                last_event,
            });
        }
        Ok(PartitionPage {
            snapshot,
            tasks,
            next,
        })
    }

    /// When a call starting now is abandoned.
    fn give_up(&self) -> GiveUp {
        GiveUp::after(self.config.op_timeout)
    }

    /// When a write starting now is abandoned, for a caller to be answered by `deadline`.
    fn give_up_within(&self, deadline: Option<SystemTime>) -> GiveUp {
        GiveUp::within(self.config.op_timeout, deadline)
    }

    /// Ends a write call's arguments with its guard (deadline, epoch, request key), the
    /// retention and the trace; returns when Rift gives up on it.
    fn guard_write(
        &self,
        call: &mut impl ScriptArgs,
        write: &WriteGuard<'_>,
        keys: &TaskKeys,
    ) -> GiveUp {
        let give_up = self.give_up_within(write.deadline);
        let candidate = self.epochs.next();
        let guard = Guard {
            deadline_ms: give_up.deadline_arg(),
            candidate_epoch: &candidate,
        };
        guarded(call, write, &guard, keys);
        retained(call, &self.ttl);
        traced(call);
        give_up
    }

    /// Runs one request-path call until `give_up`; a write's script was given the same moment.
    async fn bounded_until<T>(
        &self,
        give_up: GiveUp,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, MemoryError> {
        match tokio::time::timeout_at(give_up.at, call).await {
            Ok(result) => result.map_err(|error| self.classify(error)),
            Err(_) => Err(self.no_answer()),
        }
    }

    /// [`classify`], and a hint to the master follower or the router when the error could
    /// mean the master moved.
    fn classify(&self, error: RedisError) -> MemoryError {
        let error = classify(error);
        if matches!(error, MemoryError::Unavailable(_)) {
            self.suspect();
        }
        error
    }

    fn max_events(&self) -> &str {
        &self.maxlen
    }

    /// Runs a write script until `give_up` on the master owning `slot`. A `MOVED` reply (the
    /// script did not run: the slot has another owner) is sent again, once, to the node it
    /// names; no other failure is retried, so a write is never applied twice by a retry.
    async fn run_write<T>(
        &self,
        call: &ScriptInvocation<'_>,
        slot: Option<u16>,
        give_up: GiveUp,
        written: impl Fn(&T) -> bool + Send + Sync,
    ) -> Result<T, MemoryError>
    where
        T: redis::FromRedisValue + Send,
    {
        self.check_layout_once().await?;
        let target = self
            .target_until(slot, give_up)
            .await
            .map_err(Failed::into_error)?;
        let written = match self.write_on(&target, call, give_up, &written).await {
            Err(Failed::Moved(address)) => {
                let Servers::Cluster(router) = &self.servers else {
                    return Err(MemoryError::Unavailable(format!("MOVED to {address}")));
                };
                router.suspect();
                let node = router.node_at(&address)?;
                tracing::debug!(%address, "slot moved; sending the write to its new owner");
                self.write_on(&Target::of(&node), call, give_up, &written)
                    .await
                    .map_err(Failed::into_error)
            }
            other => other.map_err(Failed::into_error),
        };
        written.map_err(|error| give_up.explain(error, self.config.op_timeout))
    }

    /// One attempt of [`RedisMemory::run_write`] on `target`. With `Durability::Memory`, on
    /// its request connection; with `Durability::Replicated`, on its write link, and when
    /// `written` says the reply wrote something (or replays a write), only answered once a
    /// replica confirms.
    async fn write_on<T>(
        &self,
        target: &Target,
        call: &ScriptInvocation<'_>,
        give_up: GiveUp,
        written: &(impl Fn(&T) -> bool + Send + Sync),
    ) -> Result<T, Failed>
    where
        T: redis::FromRedisValue + Send,
    {
        let Some(replicated) = &target.replicated else {
            let mut connection = self.connection_until(target, give_up).await?;
            return match tokio::time::timeout_at(
                give_up.at,
                call.invoke_async::<T>(&mut connection),
            )
            .await
            {
                Ok(Ok(reply)) => Ok(reply),
                Ok(Err(error)) => Err(self.failed(error)),
                Err(_) => Err(self.no_answer().into()),
            };
        };
        let write = async {
            let mut link = replicated.link().await?;
            let reply = match call.invoke_async::<T>(&mut link.connection).await {
                Ok(reply) => reply,
                Err(error) => {
                    replicated.failed(&link, &error).await;
                    return Err(self.failed(error));
                }
            };
            if written(&reply) {
                replicated.confirm(&link, give_up.at).await?;
            }
            Ok(reply)
        };
        match tokio::time::timeout_at(give_up.at, write).await {
            Ok(result) => result,
            Err(_) => {
                self.suspect();
                Err(MemoryError::Unavailable(format!(
                    "no confirmed answer from Redis within {:?}",
                    self.config.op_timeout
                ))
                .into())
            }
        }
    }

    /// A write's error: `MOVED` in cluster mode is worth one more try where it points.
    fn failed(&self, error: RedisError) -> Failed {
        if matches!(self.servers, Servers::Cluster(_))
            && error.code() == Some("MOVED")
            && let Some((address, _)) = error.redirect_node()
        {
            return Failed::Moved(address.to_owned());
        }
        Failed::Error(self.classify(error))
    }

    /// Checks the layout before the first write, if startup could not (Redis was down then).
    async fn check_layout_once(&self) -> Result<(), MemoryError> {
        self.check_layout().await?.map_err(MemoryError::Refused)
    }

    /// Reads the layout recorded under [`LAYOUT_KEY`], recording this memory's if none is
    /// (cluster only: the prototype's layout records nothing, so the prototype's data stays
    /// as it was).
    async fn recorded_layout(&self) -> Result<Option<String>, MemoryError> {
        let slot = self.slot(0).map(|_| key_slot(LAYOUT_KEY));
        let layout = self.keys.layout();
        self.read(slot, |mut connection| async move {
            if layout != Layout::Prototype {
                let _: () = redis::cmd("SET")
                    .arg(LAYOUT_KEY)
                    .arg(layout.stored())
                    .arg("NX")
                    .query_async(&mut connection)
                    .await?;
            }
            match connection.get::<_, Option<String>>(LAYOUT_KEY).await {
                // A single-server URL naming a cluster node: the prototype's keys cannot
                // live there.
                Err(error) if error.code() == Some("MOVED") => {
                    Ok(Some(layout::CLUSTER_NODE.to_owned()))
                }
                reply => reply,
            }
        })
        .await
    }

    /// Where this memory's history stands, its epoch, and whether it holds `id`: one script.
    async fn locate_in_history(&self, id: Option<EventId>) -> Result<Located, MemoryError> {
        let history = self.history_keys();
        let mut call = self.scripts.history.prepare_invoke();
        call.key(&history.stream)
            .key(&history.meta)
            .arg(id.map(|id| id.to_string()).unwrap_or_default());
        let (last, first_retained, trimmed, present, epoch) = self
            .read(self.slot(self.partition), |mut connection| async move {
                call.invoke_async::<(String, String, u8, u8, String)>(&mut connection)
                    .await
            })
            .await?;
        Ok(Located {
            history: History {
                last: parse_id(&last)?,
                first_retained: parse_id(&first_retained)?,
                trimmed: trimmed == 1,
            },
            present: present == 1,
            epoch: Some(epoch).filter(|epoch| !epoch.is_empty()),
        })
    }

    /// One call on every master (each once): all must succeed.
    async fn on_every_master<F>(
        &self,
        call: impl Fn(ConnectionManager) -> F,
    ) -> Result<(), MemoryError>
    where
        F: Future<Output = Result<(), RedisError>>,
    {
        let Servers::Cluster(router) = &self.servers else {
            return self.read(None, call).await;
        };
        let give_up = self.give_up();
        let masters = match tokio::time::timeout_at(give_up.at, router.masters()).await {
            Ok(masters) => masters?,
            Err(_) => return Err(self.no_answer()),
        };
        let calls = masters.iter().map(|node| {
            let call = &call;
            async move {
                let target = Target::of(node);
                let connection = self.connection_until(&target, give_up).await?;
                self.bounded_until(give_up, call(connection)).await
            }
        });
        futures::future::try_join_all(calls).await.map(drop)
    }
}

impl Failed {
    fn into_error(self) -> MemoryError {
        match self {
            Failed::Moved(address) => {
                MemoryError::Unavailable(format!("MOVED to {address}: the slot moved again"))
            }
            Failed::Error(error) => error,
        }
    }
}

/// What an error reply of Redis means to Rift, whatever command it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// Nothing was done and the same call may succeed shortly: a failover, a resharding, a
    /// restart under way. Callers get `UNAVAILABLE` with `RetryInfo`.
    TryAgain,
    /// Redis refuses Rift itself (credentials, permissions, its own state) until an operator
    /// acts: retrying does not help, so callers get `UNAVAILABLE` without a retry delay and
    /// the log says why, once.
    Refused,
    /// `maxmemory` reached under `noeviction`: nothing was written, and nothing will be until
    /// room is made. Callers get `RESOURCE_EXHAUSTED` (`MEMORY_FULL`).
    Full,
}

/// Redis error codes by meaning; any code not listed (and not one of the scripts' own `RIFT*`
/// codes) means Redis holds data Rift does not understand, or a bug such as `CROSSSLOT`.
const REPLY_CODES: &[(&str, Meaning)] = &[
    // Cluster: the slot moved or is moving, or the cluster is reconfiguring.
    ("MOVED", Meaning::TryAgain),
    ("ASK", Meaning::TryAgain),
    ("TRYAGAIN", Meaning::TryAgain),
    ("CLUSTERDOWN", Meaning::TryAgain),
    // Fewer replicas than `min-replicas-to-write` are in sync.
    ("NOREPLICAS", Meaning::TryAgain),
    // A replica: Rift reached a demoted master, or a replica before the failover finished.
    ("READONLY", Meaning::TryAgain),
    // Loading its dataset after a restart or a full resync.
    ("LOADING", Meaning::TryAgain),
    // A replica whose master is down, with `replica-serve-stale-data no`.
    ("MASTERDOWN", Meaning::TryAgain),
    // Another script runs past `busy-reply-threshold`.
    ("BUSY", Meaning::TryAgain),
    ("NOAUTH", Meaning::Refused),
    ("WRONGPASS", Meaning::Refused),
    ("NOPERM", Meaning::Refused),
    // Writes refused since the last RDB save failed (`stop-writes-on-bgsave-error`).
    ("MISCONF", Meaning::Refused),
    // `maxmemory` reached under `noeviction`. A script is refused only at its first write
    // (Redis keeps scripts atomic), so nothing of it was written.
    ("OOM", Meaning::Full),
];

fn meaning_of(code: &str) -> Option<Meaning> {
    REPLY_CODES
        .iter()
        .find(|(listed, _)| *listed == code)
        .map(|(_, meaning)| *meaning)
}

/// Connection trouble and "try again" replies are `Unavailable`; Redis refusing Rift itself
/// is `Refused`; the scripts' own refusals (`RIFT*` codes) become their typed errors; anything
/// else means Redis holds data Rift does not understand.
pub(super) fn classify(error: RedisError) -> MemoryError {
    match error.code() {
        Some("RIFTDEADLINE") => return MemoryError::DeadlineExceeded,
        Some("RIFTREUSED") => return MemoryError::RequestIdReused,
        Some("RIFTEPOCH") => {
            let current = error.detail().unwrap_or_default().trim().to_owned();
            return MemoryError::EpochChanged { current };
        }
        Some("RIFTLISTING") => {
            return MemoryError::ListingExpired(
                error.detail().unwrap_or_default().trim().to_owned(),
            );
        }
        Some("RIFTVERSION") => {
            let current = error.detail().and_then(|d| d.trim().parse().ok());
            if let Some(current) = current {
                return MemoryError::VersionMismatch { current };
            }
        }
        _ => {}
    }
    let meaning = error.code().and_then(meaning_of).or_else(|| {
        // Redis answers a large command from a connection that has not authenticated with a
        // protocol error (and closes it) instead of NOAUTH: the same refusal.
        if error.kind() == ErrorKind::AuthenticationFailed
            || error
                .to_string()
                .contains("Protocol error: unauthenticated")
        {
            Some(Meaning::Refused)
        } else if error.is_io_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_unrecoverable_error()
        {
            Some(Meaning::TryAgain)
        } else {
            None
        }
    });
    match meaning {
        Some(Meaning::TryAgain) => MemoryError::Unavailable(error.to_string()),
        Some(Meaning::Refused) => MemoryError::Refused(error.to_string()),
        Some(Meaning::Full) => MemoryError::Full(error.to_string()),
        None => MemoryError::Corrupt(error.to_string()),
    }
}

#[async_trait]
impl Memory for RedisMemory {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn store_analysis(
        &self,
        write: AnalysisWrite<'_>,
    ) -> Result<AnalysisStored, MemoryError> {
        let keys = self.keys.task(write.task);
        let give_up = self.give_up_within(write.guard.deadline);
        let candidate = self.epochs.next();
        let mut call = self.scripts.analyze.prepare_invoke();
        let guard = Guard {
            deadline_ms: give_up.deadline_arg(),
            candidate_epoch: &candidate,
        };
        analyze_args(
            &mut call,
            &write,
            &keys,
            self.max_events(),
            &guard,
            &self.ttl,
        );
        let (version, id, replayed, epoch) = self
            .run_write::<(u64, String, u8, String)>(
                &call,
                self.slot(keys.partition),
                give_up,
                |_| true,
            )
            .await?;
        Ok(AnalysisStored {
            version,
            event: parse_id(&id)?,
            replayed: replayed == 1,
            epoch,
        })
    }

    async fn store_narrative(
        &self,
        write: NarrativeWrite<'_>,
    ) -> Result<Option<NarrativeStored>, MemoryError> {
        let task = write.task;
        let keys = self.keys.task(task);
        let mut call = self.scripts.narrate.prepare_invoke();
        announced_step(&mut call, &keys.narrative, &keys, task);
        call.arg(write.prefix)
            .arg(write.suffix)
            .arg(self.max_events());
        let give_up = self.guard_write(&mut call, &write.guard, &keys);
        let (found, epoch, narrative, analysis_version, id, replayed) = self
            .run_write::<(u8, String, String, u64, String, u8)>(
                &call,
                self.slot(keys.partition),
                give_up,
                |reply| reply.0 == 1,
            )
            .await?;
        if found == 0 {
            return Ok(None);
        }
        Ok(Some(NarrativeStored {
            narrative,
            analysis_version,
            event: parse_id(&id)?,
            replayed: replayed == 1,
            epoch,
        }))
    }

    async fn observe_progress(
        &self,
        task: &TaskId,
        completed_record: &str,
        deadline: Option<SystemTime>,
    ) -> Result<ProgressObserved, MemoryError> {
        let keys = self.keys.task(task);
        let give_up = self.give_up_within(deadline);
        let mut call = self.scripts.progress.prepare_invoke();
        call.key(&keys.progress)
            .key(&keys.context)
            .key(&keys.stream)
            .key(&keys.channel)
            .key(&keys.last_event)
            .arg(task.as_str())
            .arg(completed_record)
            .key(&keys.index)
            .key(&keys.meta)
            .arg(self.max_events())
            .arg(give_up.deadline_arg())
            .arg(self.epochs.next());
        retained(&mut call, &self.ttl);
        traced(&mut call);
        let (has_analysis, analysis_version, has_narrative, narrative_version, recorded, epoch) =
            self.run_write::<(u8, u64, u8, u64, String, String)>(
                &call,
                self.slot(keys.partition),
                give_up,
                |reply| !reply.4.is_empty(),
            )
            .await?;
        let recorded = parse_optional_id(&recorded)?;
        Ok(ProgressObserved {
            state: TaskState {
                has_analysis: has_analysis == 1,
                analysis_version,
                has_narrative: has_narrative == 1,
                narrative_analysis_version: narrative_version,
                // Progress does not read the report.
                report_analysis_version: 0,
            },
            recorded,
            epoch,
        })
    }

    async fn delete_task(
        &self,
        task: &TaskId,
        deadline: Option<SystemTime>,
    ) -> Result<Option<EventId>, MemoryError> {
        let keys = self.keys.task(task);
        let give_up = self.give_up_within(deadline);
        let mut call = self.scripts.delete.prepare_invoke();
        call.key(&keys.analysis)
            .key(&keys.narrative)
            .key(&keys.progress)
            .key(&keys.context)
            .key(&keys.stream)
            .key(&keys.channel)
            .key(&keys.last_event)
            .key(&keys.index)
            .key(&keys.meta)
            .key(&keys.report)
            .key(&keys.data)
            .arg(task.as_str())
            .arg(self.max_events())
            .arg(give_up.deadline_arg())
            .arg(self.epochs.next());
        retained(&mut call, &self.ttl);
        traced(&mut call);
        let id = self
            .run_write::<String>(&call, self.slot(keys.partition), give_up, |id| {
                !id.is_empty()
            })
            .await?;
        parse_optional_id(&id)
    }

    async fn get_task(&self, task: &TaskId, with_report: bool) -> Result<TaskView, MemoryError> {
        let keys = self.keys.task(task);
        let mut call = self.scripts.get_task.prepare_invoke();
        call.key(&keys.context)
            .key(&keys.meta)
            .key(&keys.report)
            .arg(task.as_str())
            .arg(if with_report { "1" } else { "" });
        let reply = self
            .read(self.slot(keys.partition), |mut connection| async move {
                call.invoke_async::<Vec<Value>>(&mut connection).await
            })
            .await?;
        let mut fields = Fields::of(reply);
        let analysis = fields.text()?;
        let has_analysis = fields.number()? == 1;
        let analysis_version = fields.number()?;
        let narrative = fields.text()?;
        let has_narrative = fields.number()? == 1;
        let narrative_analysis_version = fields.number()?;
        let report_analysis_version = fields.number()?;
        let last_event = parse_optional_id(&fields.text()?)?;
        let epoch = fields.text()?;
        let report = Some(fields.text()?).filter(|report| !report.is_empty());
        Ok(TaskView {
            report,
            state: TaskState {
                has_analysis,
                analysis_version,
                has_narrative,
                narrative_analysis_version,
                report_analysis_version,
            },
            analysis: has_analysis.then_some(analysis),
            narrative: has_narrative.then_some(narrative),
            last_event,
            epoch: Some(epoch).filter(|epoch| !epoch.is_empty()),
        })
    }

    async fn report_source(&self, task: &TaskId) -> Result<ReportSource, MemoryError> {
        let keys = self.keys.task(task);
        let mut call = self.scripts.report_source.prepare_invoke();
        call.key(&keys.context).key(&keys.data).arg(task.as_str());
        let (has_analysis, analysis_version, data) = self
            .read(self.slot(keys.partition), |mut connection| async move {
                call.invoke_async::<(u8, u64, String)>(&mut connection)
                    .await
            })
            .await?;
        Ok(ReportSource {
            has_analysis: has_analysis == 1,
            analysis_version,
            data: Some(data).filter(|data| !data.is_empty()),
        })
    }

    async fn store_report(&self, write: ReportWrite<'_>) -> Result<ReportStored, MemoryError> {
        let task = write.task;
        let keys = self.keys.task(task);
        let mut call = self.scripts.report.prepare_invoke();
        announced_step(&mut call, &keys.report, &keys, task);
        call.arg(write.report_json)
            .arg(write.analysis_version)
            .arg(self.max_events());
        let give_up = self.guard_write(&mut call, &write.guard, &keys);
        let (epoch, id) = self
            .run_write::<(String, String)>(&call, self.slot(keys.partition), give_up, |_| true)
            .await?;
        Ok(ReportStored {
            event: parse_id(&id)?,
            epoch,
        })
    }

    async fn list_tasks(&self, query: &ListQuery) -> Result<TaskPage, MemoryError> {
        let Servers::Cluster(_) = self.servers else {
            let snapshot = query.one_history_snapshot()?;
            let page = self.list_partition(self.partition, snapshot, query).await?;
            return Ok(TaskPage {
                snapshot: ListSnapshot::One(page.snapshot),
                tasks: page.tasks,
                next: page.next,
            });
        };
        // Every partition's page from the same cursor, each against its own snapshot, all at
        // once (calls to one master share its connection, so they go out pipelined).
        let count = self.keys.partition_count();
        let snapshots = match &query.snapshot {
            None => vec![None; count],
            Some(ListSnapshot::Partitions(at)) if at.len() <= count => {
                let mut at: Vec<_> = at.iter().copied().map(Some).collect();
                at.resize(count, Some(EventId::ZERO));
                at
            }
            Some(ListSnapshot::Partitions(_)) => {
                return Err(MemoryError::ListingExpired(
                    "it began in a deployment with more partitions".into(),
                ));
            }
            Some(ListSnapshot::One(_)) => {
                return Err(MemoryError::ListingExpired(
                    "it began in a deployment without partitions".into(),
                ));
            }
        };
        let pages = futures::future::try_join_all(
            snapshots
                .into_iter()
                .enumerate()
                .map(|(partition, snapshot)| self.list_partition(partition, snapshot, query)),
        )
        .await?;
        Ok(merge_pages(pages, query.page_size.max(1)))
    }

    async fn events_after(
        &self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        let stream = self.history_keys().stream;
        // `(` makes the start exclusive (Redis 6.2+): strictly after the resume id.
        let reply = self
            .read(self.slot(self.partition), |mut connection| async move {
                connection
                    .xrange_count::<_, _, _, _, StreamRangeReply>(
                        &stream,
                        format!("({after}"),
                        "+",
                        limit,
                    )
                    .await
            })
            .await?;
        reply.ids.into_iter().map(notification_from_entry).collect()
    }

    async fn task_events_after(
        &self,
        task: &TaskId,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        let keys = self.keys.task(task);
        let mut call = self.scripts.task_history.prepare_invoke();
        call.key(&keys.context)
            .key(&keys.last_event)
            .key(&keys.stream)
            .arg(after.to_string())
            .arg(limit.max(1));
        let reply = self
            .read(self.slot(keys.partition), |mut connection| async move {
                call.invoke_async::<StreamRangeReply>(&mut connection).await
            })
            .await?;
        reply.ids.into_iter().map(notification_from_entry).collect()
    }

    async fn history(&self) -> Result<History, MemoryError> {
        self.locate_in_history(None)
            .await
            .map(|located| located.history)
    }

    async fn locate(&self, id: EventId) -> Result<Located, MemoryError> {
        self.locate_in_history(Some(id)).await
    }

    fn open_tail(&self) -> Box<dyn Tail> {
        let route = match (&self.servers, self.slot(self.partition)) {
            (Servers::Cluster(router), Some(slot)) => Route::Slot(router.clone(), slot),
            (Servers::Master { master, .. }, _) => Route::Master(master.clone()),
            (Servers::Cluster(router), None) => Route::Slot(router.clone(), 0),
        };
        Box::new(RedisTail {
            route,
            stream: self.history_keys().stream,
            connection: None,
            block: self.config.tail_block,
            connect_timeout: self.config.op_timeout,
        })
    }

    fn partitions(&self) -> Vec<Arc<dyn Memory>> {
        if !matches!(self.servers, Servers::Cluster(_)) {
            return Vec::new();
        }
        (0..self.keys.partition_count())
            .map(|partition| {
                Arc::new(Self {
                    partition,
                    ..self.clone()
                }) as Arc<dyn Memory>
            })
            .collect()
    }

    fn partition_of(&self, task: &TaskId) -> usize {
        self.keys.partition_of(task.as_str())
    }

    async fn check_layout(&self) -> Result<Result<(), String>, MemoryError> {
        if let Some(checked) = self.layout_checked.get() {
            return Ok(checked.clone());
        }
        let found = self.recorded_layout().await?;
        let outcome = self.keys.layout().check(found.as_deref());
        let _ = self.layout_checked.set(outcome.clone());
        Ok(outcome)
    }

    async fn ping(&self) -> Result<(), MemoryError> {
        self.on_every_master(|mut connection| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
        })
        .await
    }

    async fn probe_room(&self) -> Result<(), MemoryError> {
        // Refused with `OOM` while Redis is still at `maxmemory`; expires on its own. In a
        // cluster, on every master: each slot of the probe's key is one master's.
        let probes: Vec<String> = match &self.servers {
            Servers::Master { .. } => vec![keys::ROOM_PROBE.to_owned()],
            Servers::Cluster(_) => (0..self.keys.partition_count())
                .filter_map(|p| self.keys.tag(p))
                .map(|tag| format!("{}:{{{tag}}}", keys::ROOM_PROBE))
                .collect(),
        };
        let Servers::Cluster(router) = &self.servers else {
            return self
                .read(None, |mut connection| async move {
                    redis::cmd("SET")
                        .arg(keys::ROOM_PROBE)
                        .arg("")
                        .arg("PX")
                        .arg(1000)
                        .query_async::<()>(&mut connection)
                        .await
                })
                .await;
        };
        // One probe per master: the first partition each master owns.
        let mut probed = Vec::new();
        for (partition, probe) in probes.iter().enumerate() {
            let Some(slot) = self.keys.slot(partition) else {
                continue;
            };
            let owner = router.owner_now(slot).map(|node| node.id);
            if owner.is_some() && probed.contains(&owner) {
                continue;
            }
            probed.push(owner);
            self.read(Some(slot), |mut connection| async move {
                redis::cmd("SET")
                    .arg(probe)
                    .arg("")
                    .arg("PX")
                    .arg(1000)
                    .query_async::<()>(&mut connection)
                    .await
            })
            .await?;
        }
        Ok(())
    }

    fn address(&self) -> String {
        masked_url(&self.config.url)
    }
}

/// `url` with its password, wherever it is (`redis://user:pass@`, `redis://:pass@`,
/// `?password=`), replaced by `***`: what log lines may show. A list of URLs (Sentinels) is
/// masked URL by URL.
pub fn masked_url(url: &str) -> String {
    url.split(',').map(masked_one).collect::<Vec<_>>().join(",")
}

fn masked_one(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let mut masked = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((user_info, host)) => {
                    let user = user_info.split_once(':').map_or("", |(user, _)| user);
                    format!("{user}:***@{host}")
                }
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => before_query.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") || name == "pass" => {
                    format!("{name}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&pairs.join("&"));
    }
    masked
}

/// Where a tail reads: the one master, or the master owning its partition's slot.
enum Route {
    Master(Master),
    Slot(Arc<Router>, u16),
}

impl Route {
    /// A client of the server to read from now, and its generation.
    async fn client(&self) -> Result<(redis::Client, u64), MemoryError> {
        match self {
            Route::Master(master) => {
                let current = master.current().await?;
                Ok((current.client, current.generation))
            }
            Route::Slot(router, slot) => {
                let node = router.owner(*slot).await?;
                let current = node.master.current().await?;
                Ok((current.client, node.id))
            }
        }
    }

    /// The generation current now, without waiting; 0 when there is none.
    fn generation(&self) -> u64 {
        match self {
            Route::Master(master) => master.generation(),
            Route::Slot(router, slot) => router.owner_now(*slot).map_or(0, |node| node.id),
        }
    }

    fn suspect(&self) {
        match self {
            Route::Master(master) => master.suspect(),
            Route::Slot(router, _) => router.suspect(),
        }
    }
}

/// The notifier's reader of one history: its own connection, reopened after any failure.
struct RedisTail {
    route: Route,
    stream: String,
    /// The tail's connection, and the generation of the master it reaches.
    connection: Option<(MultiplexedConnection, u64)>,
    block: Duration,
    connect_timeout: Duration,
}

#[async_trait]
impl Tail for RedisTail {
    async fn next_batch(
        &mut self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        let options = StreamReadOptions::default()
            .block(self.block.as_millis() as usize)
            .count(limit.max(1));
        let stream = self.stream.clone();
        let connection = self.connection().await?;
        let reply = connection
            .xread_options::<_, _, Option<StreamReadReply>>(
                &[stream],
                &[after.to_string()],
                &options,
            )
            .await;
        self.settle(reply)?
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(notification_from_entry)
            .collect()
    }

    async fn newest(&mut self) -> Result<EventId, MemoryError> {
        let stream = self.stream.clone();
        let connection = self.connection().await?;
        // The newest entry survives `MAXLEN ~` trimming, so it is the newest id minted.
        let reply = connection
            .xrevrange_count::<_, _, _, _, StreamRangeReply>(stream, "+", "-", 1)
            .await;
        self.settle(reply)?
            .ids
            .first()
            .map_or(Ok(EventId::ZERO), |entry| parse_id(&entry.id))
    }
}

impl RedisTail {
    /// A reply, or its error with the connection dropped, to be opened afresh next time.
    fn settle<T>(&mut self, reply: redis::RedisResult<T>) -> Result<T, MemoryError> {
        reply.map_err(|error| {
            self.connection = None;
            let error = classify(error);
            if matches!(error, MemoryError::Unavailable(_)) {
                self.route.suspect();
            }
            error
        })
    }

    /// The tail's own connection, opened on first use and again after a failure.
    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, MemoryError> {
        let generation = self.route.generation();
        let connection = match self.connection.take() {
            // A connection to an earlier master is dropped: it may be a demoted one.
            Some((connection, opened_for)) if opened_for == generation => connection,
            _ => {
                let (client, generation) = self.route.client().await?;
                // Longer than the block, so a healthy blocking read never times out, yet a
                // half-open connection is still noticed.
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.block + Duration::from_secs(2)));
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|error| {
                        self.route.suspect();
                        classify(error)
                    })?;
                self.connection = Some((connection, generation));
                return Ok(&mut self.connection.as_mut().expect("just set").0);
            }
        };
        Ok(&mut self.connection.insert((connection, generation)).0)
    }
}

/// A read script's flat reply, taken field by field in the order the script returns them.
struct Fields(std::vec::IntoIter<Value>);

impl Fields {
    fn of(reply: Vec<Value>) -> Self {
        Self(reply.into_iter())
    }

    fn remaining(&self) -> bool {
        self.0.len() > 0
    }

    fn next(&mut self) -> Result<Value, MemoryError> {
        self.0
            .next()
            .ok_or_else(|| MemoryError::Corrupt("a script's reply ended early".into()))
    }

    fn text(&mut self) -> Result<String, MemoryError> {
        redis::from_redis_value::<String>(self.next()?)
            .map_err(|e| MemoryError::Corrupt(format!("a script's reply: {e}")))
    }

    fn number(&mut self) -> Result<u64, MemoryError> {
        redis::from_redis_value::<u64>(self.next()?)
            .map_err(|e| MemoryError::Corrupt(format!("a script's reply: {e}")))
    }
}

/// An id a script may leave empty: "" is none.
fn parse_optional_id(raw: &str) -> Result<Option<EventId>, MemoryError> {
    if raw.is_empty() {
        Ok(None)
    } else {
        parse_id(raw).map(Some)
    }
}

fn parse_id(raw: &str) -> Result<EventId, MemoryError> {
    raw.parse()
        .map_err(|()| MemoryError::Corrupt(format!("not a stream id: {raw:?}")))
}

fn notification_from_entry(entry: StreamId) -> Result<Notification, MemoryError> {
    let id = parse_id(&entry.id)?;
    let mut fields: HashMap<String, Value> = entry.map;
    let mut text = |name: &str| -> Result<String, MemoryError> {
        match fields.remove(name) {
            Some(value) => redis::from_redis_value::<String>(value)
                .map_err(|e| MemoryError::Corrupt(format!("notification {id} field {name}: {e}"))),
            None => Err(MemoryError::Corrupt(format!(
                "notification {id} has no {name}"
            ))),
        }
    };
    let task_id = text("task_id")?;
    let agent = text("agent")?;
    let action = text("action")?;
    let payload = text("payload")?;
    // cjson encodes an empty table as `{}`; anything that is not an object becomes empty.
    let payload = match serde_json::from_str(&payload) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(e) => {
            return Err(MemoryError::Corrupt(format!(
                "notification {id} payload: {e}"
            )));
        }
    };
    // Written only by a traced write (see `traced`).
    let traceparent = fields
        .remove("traceparent")
        .and_then(|value| redis::from_redis_value::<String>(value).ok());
    Ok(Notification {
        id,
        task_id,
        agent,
        action,
        payload,
        traceparent,
    })
}

/// One partition's page of a listing: its snapshot, the tasks it listed, and where it
/// stopped looking if more remain in it.
#[derive(Debug)]
struct PartitionPage {
    snapshot: EventId,
    tasks: Vec<ListedTask>,
    next: Option<ListPosition>,
}

/// A cluster listing's page from every partition's page (all from the same cursor): the
/// first `page_size` tasks of them all in the listing's order (last change, then id, both
/// descending), up to where every partition has been looked through. A partition that
/// stopped early (page full, or scan limit) has looked at nothing after its `next`, so the
/// page may not go past the earliest such `next` in the order; within that, every task of
/// every partition is in hand, so the merge cuts the same order one index would.
fn merge_pages(pages: Vec<PartitionPage>, page_size: usize) -> TaskPage {
    let key = |ms: u64, id: &str| (ms, id.to_owned());
    let frontier = pages
        .iter()
        .filter_map(|page| page.next.as_ref())
        .map(|next| key(next.ms, &next.task_id))
        .max();
    let snapshot = ListSnapshot::Partitions(pages.iter().map(|page| page.snapshot).collect());
    let mut tasks: Vec<ListedTask> = pages
        .into_iter()
        .flat_map(|page| page.tasks)
        .filter(|task| {
            frontier
                .as_ref()
                .is_none_or(|frontier| key(task.position_ms, &task.task_id) >= *frontier)
        })
        .collect();
    tasks.sort_unstable_by(|a, b| (b.position_ms, &b.task_id).cmp(&(a.position_ms, &a.task_id)));
    let next = if tasks.len() > page_size {
        tasks.truncate(page_size);
        tasks.last().map(|last| ListPosition {
            ms: last.position_ms,
            task_id: last.task_id.clone(),
        })
    } else {
        frontier.map(|(ms, task_id)| ListPosition { ms, task_id })
    };
    TaskPage {
        snapshot,
        tasks,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CoreError;

    /// The error Redis's reply `-<text>` becomes, as the connection hands it over.
    fn reply(text: &str) -> RedisError {
        redis::parse_redis_value(format!("-{text}\r\n").as_bytes())
            .expect("a reply")
            .extract_error()
            .expect_err("an error reply")
    }

    #[test]
    fn a_script_late_for_rifts_own_wait_is_unavailable_not_the_callers_deadline() {
        let op_timeout = Duration::from_secs(2);
        let late = || classify(reply("RIFTDEADLINE the deadline passed before the write"));
        // The caller would have waited longer: only Rift's wait ran out, a retry may succeed.
        let patient = GiveUp::within(op_timeout, Some(SystemTime::now() + op_timeout * 5));
        assert!(matches!(
            patient.explain(late(), op_timeout),
            MemoryError::Unavailable(_)
        ));
        assert!(matches!(
            GiveUp::within(op_timeout, None).explain(late(), op_timeout),
            MemoryError::Unavailable(_)
        ));
        // The caller's own deadline came first: that is what ran out.
        let hurried = GiveUp::within(op_timeout, Some(SystemTime::now() + op_timeout / 4));
        assert!(matches!(
            hurried.explain(late(), op_timeout),
            MemoryError::DeadlineExceeded
        ));
    }

    #[test]
    fn replies_that_mean_try_again_are_unavailable() {
        for text in [
            "MOVED 3999 127.0.0.1:6381",
            "ASK 3999 127.0.0.1:6381",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "CLUSTERDOWN The cluster is down",
            "NOREPLICAS Not enough good replicas to write. script: 2dc6a2806cfb, on @user_script:1.",
            "READONLY You can't write against a read only replica. script: 2dc6a2806cfb, on @user_script:1.",
            "LOADING Redis is loading the dataset in memory",
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        ] {
            let error = classify(reply(text));
            assert!(
                matches!(error, MemoryError::Unavailable(_)),
                "{text}: {error:?}"
            );
            assert!(
                matches!(CoreError::from(error), CoreError::Unavailable { .. }),
                "{text}"
            );
        }
    }

    #[test]
    fn redis_refusing_rift_is_not_try_again() {
        for text in [
            "NOAUTH Authentication required.",
            "WRONGPASS invalid username-password pair or user is disabled.",
            "NOPERM User rift has no permissions to run the 'evalsha' command",
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
        ] {
            let error = classify(reply(text));
            assert!(
                matches!(error, MemoryError::Refused(_)),
                "{text}: {error:?}"
            );
            assert_eq!(CoreError::from(error), CoreError::MemoryRefused, "{text}");
        }
        assert!(matches!(
            classify(reply(
                "ERR Protocol error: unauthenticated multibulk length"
            )),
            MemoryError::Refused(_)
        ));
        let handshake = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert!(matches!(classify(handshake), MemoryError::Refused(_)));
    }

    #[test]
    fn a_full_redis_is_memory_full() {
        let error = classify(reply(
            "OOM command not allowed when used memory > 'maxmemory'. script: 2dc6a2806cfb, on @user_script:1.",
        ));
        assert!(matches!(error, MemoryError::Full(_)), "{error:?}");
        assert!(matches!(
            CoreError::from(error),
            CoreError::ResourceExhausted {
                reason: "MEMORY_FULL",
                ..
            }
        ));
    }

    #[test]
    fn passwords_are_masked_wherever_the_url_holds_them() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            (
                "redis://:s3cret@127.0.0.1:6379",
                "redis://:***@127.0.0.1:6379",
            ),
            (
                "redis://rift:s3cret@host:6379/2",
                "redis://rift:***@host:6379/2",
            ),
            ("rediss://s3cret@host", "rediss://:***@host"),
            (
                "unix:///run/redis.sock?db=1&pass=s3cret",
                "unix:///run/redis.sock?db=1&pass=***",
            ),
            (
                "redis://host/?password=s3cret",
                "redis://host/?password=***",
            ),
        ] {
            assert_eq!(masked_url(url), shown);
            assert!(!masked_url(url).contains("s3cret"));
        }
    }

    #[test]
    fn layout_bugs_and_unknown_replies_are_internal() {
        for text in [
            "CROSSSLOT Keys in request don't hash to the same slot",
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "ERR Error running script",
        ] {
            assert!(
                matches!(classify(reply(text)), MemoryError::Corrupt(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn connection_failures_are_unavailable() {
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::ConnectionRefused,
            std::io::ErrorKind::TimedOut,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            let error = RedisError::from(std::io::Error::from(kind));
            assert!(
                matches!(classify(error), MemoryError::Unavailable(_)),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn the_scripts_own_refusals_keep_their_meaning() {
        assert!(matches!(
            classify(reply("RIFTDEADLINE the deadline passed before the write")),
            MemoryError::DeadlineExceeded
        ));
        assert!(matches!(
            classify(reply("RIFTVERSION 3")),
            MemoryError::VersionMismatch { current: 3 }
        ));
        assert!(matches!(
            classify(reply(
                "RIFTREUSED request id reused for a different request"
            )),
            MemoryError::RequestIdReused
        ));
    }

    #[test]
    fn cluster_pages_merge_up_to_where_every_partition_was_looked_through() {
        let task = |ms, id: &str| ListedTask {
            task_id: id.into(),
            position_ms: ms,
            state: TaskState::default(),
            last_event: None,
        };
        let at = |ms, id: &str| ListPosition {
            ms,
            task_id: id.into(),
        };
        let page = |seq, tasks, next| PartitionPage {
            snapshot: EventId { ms: 100, seq },
            tasks,
            next,
        };
        let pages = || {
            // Partition 0 stopped after (7, b), its page full; 1 is done; 2 stopped at (5, z),
            // a task the status filter left out. Only what comes from (7, b) on is certain.
            vec![
                page(0, vec![task(9, "a"), task(7, "b")], Some(at(7, "b"))),
                page(1, vec![task(8, "c"), task(6, "d")], None),
                page(2, vec![task(7, "e")], Some(at(5, "z"))),
            ]
        };
        let ids = |page: &TaskPage| -> Vec<String> {
            page.tasks.iter().map(|t| t.task_id.clone()).collect()
        };
        let merged = merge_pages(pages(), 2);
        assert_eq!(ids(&merged), ["a", "c"]);
        assert_eq!(merged.next, Some(at(8, "c")));
        assert_eq!(merged.snapshot.to_string(), "v1:0=100-0,1=100-1,2=100-2");
        // A larger page stops at the frontier, with fewer tasks than asked and a next page.
        let merged = merge_pages(pages(), 10);
        assert_eq!(ids(&merged), ["a", "c", "e", "b"]);
        assert_eq!(merged.next, Some(at(7, "b")));
        // Every partition done: everything, and no next page.
        let merged = merge_pages(
            vec![page(0, vec![task(3, "x")], None), page(1, vec![], None)],
            10,
        );
        assert_eq!(ids(&merged), ["x"]);
        assert_eq!(merged.next, None);
    }
}
