//! The four agents behind one facade, [`Agents`], which both adapters call.
//!
//! - TechAgent (`analyze`) analyses a data list and stores the result.
//! - ConceptAgent (`narrate`) turns the latest analysis into a narrative.
//! - TaskAgent (`progress`) reports where a task stands and records completion.
//! - ReportAgent (`report`) profiles the items of the latest analysis and charts them.
//!
//! - Reads without side effects (`get_task`, `list_tasks`, see [`super::tasks`]) show tasks as
//!   stored, recording nothing.
//! - An admin (`delete_task`) removes a task.
//!
//! Validation, access control, deadlines, idempotency and load shedding live here, not in the
//! adapters, so gRPC and WebSocket treat the same call the same way. Every operation takes the
//! [`Caller`] as the transport saw it, so no adapter can forget to authorize.

use std::{
    fmt::Write as _,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use super::{
    AnalysisStats, CoreError, MemoryError, Readiness, TaskFilter, TaskId, analysis,
    auth::{Access, Operation},
    charts::{self, Chart},
    error::reason,
    memory::{
        AnalysisWrite, ListQuery, Memory, NarrativeWrite, ReportWrite, RequestKey, TaskState,
        WriteGuard,
    },
    merged::{Notifiers, Subscription},
    notifier::NotifierConfig,
    profile::Profile,
    records,
    tasks::{self, PageToken, TaskDetails, TaskList},
    telemetry::Telemetry,
};

/// Request limits; over them is an error, never a crash or an unbounded allocation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items per Analyze.
    pub max_items: usize,
    /// Unary operations in progress at once; more are shed with `RESOURCE_EXHAUSTED`.
    pub max_in_flight: usize,
    /// Subscriptions open at once in this process.
    pub max_subscribers: usize,
    /// Server-side deadline of every unary operation, whatever the caller asked.
    pub request_timeout: Duration,
    /// How long a request id is remembered for idempotent retries.
    pub idempotency_window: Duration,
}

impl Limits {
    /// Refuses data of `count` items when over [`Limits::max_items`]: checked by the domain,
    /// and by an adapter before it builds the items at all.
    pub fn check_items(&self, count: usize) -> Result<(), CoreError> {
        if count > self.max_items {
            return Err(CoreError::invalid(
                "data",
                format!("has {count} items; at most {} are accepted", self.max_items),
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_items: 10_000,
            max_in_flight: 1024,
            max_subscribers: 10_000,
            request_timeout: Duration::from_secs(10),
            idempotency_window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Everything the domain needs besides memory.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// Request limits.
    pub limits: Limits,
    /// The fan-out's buffers and patience.
    pub notifier: NotifierConfig,
    /// Who may do what.
    pub access: Access,
    /// How often memory is pinged for health; `None` uses one second.
    pub health_interval: Option<Duration>,
}

/// Who is calling and by when they need an answer, as the transport saw it.
#[derive(Clone, Default)]
pub struct Caller {
    /// The bearer token presented, if any.
    pub token: Option<String>,
    /// The caller's deadline (gRPC `grpc-timeout`), if any.
    pub deadline: Option<SystemTime>,
}

/// Never shows the token, only whether there is one.
impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Caller {
    /// A caller presenting `token` (or none), with no deadline of its own.
    pub fn with_token(token: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_owned),
            deadline: None,
        }
    }

    /// The same caller, needing an answer by `deadline` (if any).
    pub fn deadline(mut self, deadline: Option<SystemTime>) -> Self {
        self.deadline = deadline;
        self
    }
}

/// Optional parts of an Analyze.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyzeOptions<'a> {
    /// Idempotency key; empty means none.
    pub request_id: Option<&'a str>,
    /// Write only if this is the current version.
    pub expected_version: Option<u64>,
    /// The epoch `expected_version` and `request_id` belong to (from an earlier answer): when
    /// memory's history is no longer that one, nothing is written (`EpochChanged`).
    pub epoch: Option<&'a str>,
}

/// TechAgent's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The task analysed.
    pub task_id: String,
    /// The prototype's summary sentence: `Analyzed 3 items`.
    pub summary: String,
    /// The analysis version this write created (1 for the first).
    pub version: u64,
    /// What the data held.
    pub stats: AnalysisStats,
    /// The history `version` belongs to; versions repeat only across epochs.
    pub epoch: String,
}

/// ConceptAgent's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    /// The task narrated.
    pub task_id: String,
    /// The narrative text.
    pub narrative: String,
    /// The analysis version the narrative was built on.
    pub analysis_version: u64,
    /// The history `analysis_version` belongs to.
    pub epoch: String,
}

/// ReportAgent's result: the profile of the items of one analysis version, and its charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The task reported on.
    pub task_id: String,
    /// The analysis version profiled.
    pub analysis_version: u64,
    /// The profile.
    pub profile: Profile,
    /// Its charts (SVG).
    pub charts: Vec<Chart>,
    /// The history `analysis_version` belongs to.
    pub epoch: String,
}

/// Where a task stands, as TaskAgent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// No analysis yet.
    NotStarted,
    /// Analysed, not narrated yet.
    InProgress,
    /// The narrative is built on the latest analysis.
    Completed,
    /// The narrative is built on an older analysis than the latest.
    Stale,
}

impl TaskStatus {
    /// The status of a task in `state`.
    pub fn of(state: &TaskState) -> Self {
        if !state.has_analysis {
            TaskStatus::NotStarted
        } else if !state.has_narrative {
            TaskStatus::InProgress
        } else if state.is_completed() {
            TaskStatus::Completed
        } else {
            TaskStatus::Stale
        }
    }

    /// Every status, in the order a task goes through them.
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::NotStarted,
        TaskStatus::InProgress,
        TaskStatus::Completed,
        TaskStatus::Stale,
    ];

    /// The status spelled `name` as [`TaskStatus::as_str`] does, in any case, `_` for `-`.
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(TaskStatus::as_str).collect();
                CoreError::invalid("status", format!("must be one of {}", names.join(", ")))
            })
    }

    /// The prototype's spelling: `not-started`, `in-progress`, `completed`, `stale`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskStatus::NotStarted => "not-started",
            TaskStatus::InProgress => "in-progress",
            TaskStatus::Completed => "completed",
            TaskStatus::Stale => "stale",
        }
    }
}

/// TaskAgent's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The task asked about.
    pub task_id: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// The latest analysis version (0: none).
    pub analysis_version: u64,
    /// The analysis version the latest narrative was built on (0: none).
    pub narrative_analysis_version: u64,
    /// The history the versions belong to.
    pub epoch: String,
}

/// The domain's entry point: the agents, over one memory, with one notifier.
#[derive(Debug, Clone)]
pub struct Agents {
    memory: Arc<dyn Memory>,
    notifier: Notifiers,
    limits: Limits,
    access: Arc<Access>,
    in_flight: Arc<Semaphore>,
    readiness: Arc<watch::Sender<Readiness>>,
    /// The operator-facing state last logged (`Refused`, `Full`, or `Ready` for none), so a
    /// refusal interrupted by a dropped connection is not logged again.
    alerted: Arc<std::sync::Mutex<Readiness>>,
    telemetry: Telemetry,
}

impl Agents {
    /// Starts the notifier and the memory health probe; both stop when `shutdown` is cancelled.
    pub fn start(memory: Arc<dyn Memory>, config: CoreConfig, shutdown: CancellationToken) -> Self {
        let telemetry = Telemetry::new();
        let notifier = Notifiers::start(
            memory.clone(),
            config.notifier,
            telemetry.clone(),
            shutdown.clone(),
        );
        let agents = Self {
            memory,
            notifier,
            limits: config.limits,
            access: Arc::new(config.access),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight.max(1))),
            readiness: Arc::new(watch::Sender::new(Readiness::Unavailable)),
            alerted: Arc::new(std::sync::Mutex::new(Readiness::Ready)),
            telemetry,
        };
        let interval = config.health_interval.unwrap_or(Duration::from_secs(1));
        tokio::spawn(agents.clone().probe_memory(interval, shutdown));
        agents
    }

    /// `redis` or `in-process`.
    pub fn backend(&self) -> &'static str {
        self.memory.backend()
    }

    /// The request limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether no tokens are configured, so none is asked for.
    pub fn is_open(&self) -> bool {
        self.access.is_open()
    }

    /// Checks that `caller` may perform `operation`; the operations below call it themselves,
    /// adapters call it for what they serve on their own (help).
    pub fn authorize(&self, caller: &Caller, operation: Operation) -> Result<(), CoreError> {
        self.access.authorize(caller.token.as_deref(), operation)
    }

    /// TechAgent: analyse `data` for `task_id` and store the analysis as its next version.
    pub async fn analyze(
        &self,
        caller: &Caller,
        task_id: &str,
        data: &[Value],
        options: AnalyzeOptions<'_>,
    ) -> Result<Analysis, CoreError> {
        self.authorize(caller, Operation::Analyze)?;
        let task = TaskId::parse(task_id)?;
        self.limits.check_items(data.len())?;
        let request_id = parse_request_id(options.request_id)?;
        let fingerprint = request_id.map(|_| {
            fingerprint(&[
                "analyze",
                task.as_str(),
                &serde_json::to_string(&Canonical::List(data)).unwrap_or_default(),
                &format!("{:?}", options.expected_version),
            ])
        });
        let summary = analysis::summary(data.len());
        let stats = AnalysisStats::of(data);
        let record_json = records::analysis_json(&task, &summary, &stats);
        let data_json = records::data_json(data);
        let deadline = self.deadline(caller);
        let write = AnalysisWrite {
            task: &task,
            record_json: &record_json,
            summary: &summary,
            data_json: &data_json,
            expected_version: options.expected_version,
            guard: self.guard(deadline, request_id, fingerprint.as_deref(), options.epoch),
        };
        let stored = self
            .bounded(deadline, self.memory.store_analysis(write))
            .await?;
        Ok(Analysis {
            task_id: task.to_string(),
            summary,
            version: stored.version,
            stats,
            epoch: stored.epoch,
        })
    }

    /// ConceptAgent: narrate the latest analysis of `task_id`. `epoch`, as in
    /// [`AnalyzeOptions::epoch`], guards `request_id` across a history reset.
    pub async fn narrate(
        &self,
        caller: &Caller,
        task_id: &str,
        request_id: Option<&str>,
        epoch: Option<&str>,
    ) -> Result<Narrative, CoreError> {
        self.authorize(caller, Operation::Narrate)?;
        let task = TaskId::parse(task_id)?;
        let request_id = parse_request_id(request_id)?;
        let fingerprint = request_id.map(|_| fingerprint(&["narrate", task.as_str()]));
        let prefix = records::narrative_prefix(&task);
        let deadline = self.deadline(caller);
        let write = NarrativeWrite {
            task: &task,
            prefix: &prefix,
            suffix: records::NARRATIVE_CLOSING,
            guard: self.guard(deadline, request_id, fingerprint.as_deref(), epoch),
        };
        let stored = self
            .bounded(deadline, self.memory.store_narrative(write))
            .await?;
        let stored = stored.ok_or_else(|| CoreError::FailedPrecondition {
            reason: reason::ANALYSIS_MISSING,
            description: format!("task {task} has no analysis yet: analyze it first"),
        })?;
        Ok(Narrative {
            task_id: task.to_string(),
            narrative: stored.narrative,
            analysis_version: stored.analysis_version,
            epoch: stored.epoch,
        })
    }

    /// TaskAgent: where `task_id` stands; records completion the first time it is seen.
    pub async fn progress(&self, caller: &Caller, task_id: &str) -> Result<Progress, CoreError> {
        self.authorize(caller, Operation::Progress)?;
        let task = TaskId::parse(task_id)?;
        let record = records::progress_completed_json(&task);
        let deadline = self.deadline(caller);
        let observed = self
            .bounded(
                deadline,
                self.memory.observe_progress(&task, &record, Some(deadline)),
            )
            .await?;
        Ok(Progress {
            task_id: task.to_string(),
            status: TaskStatus::of(&observed.state),
            analysis_version: observed.state.analysis_version,
            narrative_analysis_version: observed.state.narrative_analysis_version,
            epoch: observed.epoch,
        })
    }

    /// `task_id` as stored: analysis, narrative, report and status, read without writing
    /// anything (Progress's status, without recording completion).
    /// `with_report` adds the stored report's profile and charts.
    pub async fn get_task(
        &self,
        caller: &Caller,
        task_id: &str,
        with_report: bool,
    ) -> Result<TaskDetails, CoreError> {
        self.authorize(caller, Operation::GetTask)?;
        let task = TaskId::parse(task_id)?;
        let deadline = self.deadline(caller);
        let view = self
            .bounded(deadline, self.memory.get_task(&task, with_report))
            .await?;
        TaskDetails::of(task.to_string(), view)
    }

    /// ReportAgent: profile the items of the latest analysis of `task_id`, chart them, and
    /// store the report, built on that analysis version. Analysed again meanwhile, it profiles
    /// the new analysis instead (once; a second change in between is `ABORTED`).
    pub async fn report(&self, caller: &Caller, task_id: &str) -> Result<Report, CoreError> {
        self.authorize(caller, Operation::Report)?;
        let task = TaskId::parse(task_id)?;
        let deadline = self.deadline(caller);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let source = self
                .bounded(deadline, self.memory.report_source(&task))
                .await?;
            let data = match source.data {
                Some(data) if source.has_analysis => data,
                _ if !source.has_analysis => {
                    return Err(CoreError::FailedPrecondition {
                        reason: reason::ANALYSIS_MISSING,
                        description: format!("task {task} has no analysis yet: analyze it first"),
                    });
                }
                _ => {
                    return Err(CoreError::FailedPrecondition {
                        reason: reason::DATA_MISSING,
                        description: format!(
                            "the latest analysis of task {task} was stored by a writer that keeps \
                             no items (the prototype): analyze it with Rift to report on it"
                        ),
                    });
                }
            };
            let items: Vec<Value> = serde_json::from_str(&data).map_err(|error| {
                tracing::error!(%error, task_id = %task, "stored items are not a JSON list");
                CoreError::Internal
            })?;
            let profile = Profile::of(&items);
            let charts = charts::of(&profile);
            let record = records::ReportRecord {
                task_id: task.to_string(),
                analysis_version: source.analysis_version,
                profile,
                charts,
            };
            let report_json = records::report_json(&record);
            let write = ReportWrite {
                task: &task,
                report_json: &report_json,
                analysis_version: source.analysis_version,
                guard: self.guard(deadline, None, None, None),
            };
            match self
                .bounded(deadline, self.memory.store_report(write))
                .await
            {
                Ok(stored) => {
                    return Ok(Report {
                        task_id: record.task_id,
                        analysis_version: record.analysis_version,
                        profile: record.profile,
                        charts: record.charts,
                        epoch: stored.epoch,
                    });
                }
                Err(CoreError::Aborted { .. }) if attempts == 1 => continue,
                Err(error) => return Err(error),
            }
        }
    }

    /// A page of the tasks, most recently changed first, read without writing anything:
    /// `page_size` 0 is the default, `page_token` empty starts a listing, `status` keeps only
    /// tasks of that status. Every task that exists throughout a listing appears in it once,
    /// whatever is written meanwhile.
    pub async fn list_tasks(
        &self,
        caller: &Caller,
        page_size: i64,
        page_token: &str,
        status: Option<TaskStatus>,
    ) -> Result<TaskList, CoreError> {
        self.authorize(caller, Operation::ListTasks)?;
        let page_size = tasks::page_size(page_size)?;
        let token = (!page_token.is_empty())
            .then(|| PageToken::decode(page_token, status))
            .transpose()?;
        let (snapshot, after) = token.map(|token| (token.snapshot, token.after)).unzip();
        let query = ListQuery {
            snapshot,
            after,
            page_size,
            status: status.map(|status| status.as_str()),
        };
        let deadline = self.deadline(caller);
        let page = self
            .bounded(deadline, self.memory.list_tasks(&query))
            .await?;
        Ok(TaskList::of(page, status))
    }

    /// Admin: removes every key of `task_id`; `false` when it had nothing stored.
    pub async fn delete_task(&self, caller: &Caller, task_id: &str) -> Result<bool, CoreError> {
        self.authorize(caller, Operation::DeleteTask)?;
        let task = TaskId::parse(task_id)?;
        let deadline = self.deadline(caller);
        let deleted = self
            .bounded(deadline, self.memory.delete_task(&task, Some(deadline)))
            .await?;
        Ok(deleted.is_some())
    }

    /// Notifications about `task_id` (empty: every task) after the resume token `after`.
    ///
    /// Without a resume token, "now" is fixed before this returns: whatever is written after
    /// the caller holds the subscription is delivered.
    pub async fn subscribe(
        &self,
        caller: &Caller,
        task_id: &str,
        after: &str,
    ) -> Result<Subscription, CoreError> {
        self.authorize(caller, Operation::Subscribe)?;
        let filter = TaskFilter::parse(task_id)?;
        if self.notifier.subscriber_count() >= self.limits.max_subscribers {
            return Err(CoreError::ResourceExhausted {
                reason: reason::TOO_MANY_SUBSCRIBERS,
                description: format!(
                    "{} subscriptions are open, the most this server allows",
                    self.limits.max_subscribers
                ),
            });
        }
        let subscribed = self.notifier.subscribe(filter, after).await;
        if matches!(subscribed, Err(CoreError::Unavailable { .. })) {
            self.telemetry.memory_unavailable();
            self.mark(Readiness::Unavailable, None);
        }
        subscribed
    }

    /// Subscribers in this process.
    pub fn subscriber_count(&self) -> usize {
        self.notifier.subscriber_count()
    }

    /// Puts the domain's metrics (memory, and the notification fan-out) on `registry`; a
    /// server registers them once.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        let notifier = self.notifier.clone();
        self.telemetry
            .register(registry, move || notifier.subscriber_count())
    }

    /// What memory's latest answers say: flips at once when a call finds memory unreachable,
    /// refusing or full, and back when a probe or a call succeeds (only a probe that finds
    /// room again ends [`Readiness::Full`]).
    pub fn readiness(&self) -> watch::Receiver<Readiness> {
        self.readiness.subscribe()
    }

    /// The earlier of the caller's deadline and the server's own request timeout.
    fn deadline(&self, caller: &Caller) -> SystemTime {
        let server = SystemTime::now() + self.limits.request_timeout;
        caller.deadline.map_or(server, |asked| asked.min(server))
    }

    fn guard<'a>(
        &self,
        deadline: SystemTime,
        request_id: Option<&'a str>,
        fingerprint: Option<&'a str>,
        epoch: Option<&'a str>,
    ) -> WriteGuard<'a> {
        WriteGuard {
            epoch: epoch.filter(|epoch| !epoch.is_empty()),
            deadline: Some(deadline),
            request: request_id
                .zip(fingerprint)
                .map(|(id, fingerprint)| RequestKey {
                    id,
                    fingerprint,
                    window: self.limits.idempotency_window,
                }),
        }
    }

    /// Runs one memory call: shed when too many are in flight, cut off at the deadline, and
    /// its outcome recorded for health.
    async fn bounded<T>(
        &self,
        deadline: SystemTime,
        call: impl Future<Output = Result<T, MemoryError>>,
    ) -> Result<T, CoreError> {
        let _permit = self
            .in_flight
            .try_acquire()
            .map_err(|_| CoreError::ResourceExhausted {
                reason: reason::OVERLOADED,
                description: "too many requests in progress; retry shortly".into(),
            })?;
        let remaining = deadline
            .duration_since(SystemTime::now())
            .map_err(|_| CoreError::DeadlineExceeded)?;
        match tokio::time::timeout(remaining, call).await {
            Ok(result) => self.observed(result),
            // Memory also refuses the write past the deadline, so giving up here cannot leave
            // a write that lands later.
            Err(_) => Err(CoreError::DeadlineExceeded),
        }
    }

    /// Records what memory's latest answer says; a change into or out of a state an operator
    /// must act on is logged here, once, rather than once per call.
    fn mark(&self, readiness: Readiness, detail: Option<&str>) {
        self.telemetry.memory_observed(readiness.is_reachable());
        // Every call ends here: a read lock while nothing changed, the write lock only on a flip.
        if *self.readiness.borrow() == readiness
            || !self
                .readiness
                .send_if_modified(|now| std::mem::replace(now, readiness) != readiness)
        {
            return;
        }
        if readiness == Readiness::Unavailable {
            return;
        }
        let before = {
            let mut alerted = self
                .alerted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *alerted, readiness)
        };
        if before == readiness {
            return;
        }
        let address = self.memory.address();
        let detail = detail.unwrap_or_default();
        match readiness {
            Readiness::Refused => tracing::error!(
                memory = self.memory.backend(),
                %address,
                %detail,
                "memory refuses this server: check the credentials in the memory URL, the \
                 ACL and the server's state; calls answer UNAVAILABLE until it is fixed"
            ),
            Readiness::Full => tracing::warn!(
                memory = self.memory.backend(),
                %address,
                %detail,
                "memory is full: writes answer RESOURCE_EXHAUSTED (MEMORY_FULL) until room is \
                 made (delete tasks, --task-ttl-secs, or raise maxmemory)"
            ),
            Readiness::Ready => {
                tracing::info!(memory = self.memory.backend(), %address, "memory serves again");
            }
            Readiness::Unavailable => {}
        }
    }

    fn observed<T>(&self, result: Result<T, MemoryError>) -> Result<T, CoreError> {
        match &result {
            Err(MemoryError::Unavailable(_)) => {
                self.telemetry.memory_unavailable();
                self.mark(Readiness::Unavailable, None);
            }
            Err(MemoryError::Refused(detail)) => {
                self.telemetry.memory_unavailable();
                self.mark(Readiness::Refused, Some(detail));
            }
            Err(MemoryError::Full(detail)) => self.mark(Readiness::Full, Some(detail)),
            // Memory answered. Only a probe that finds room ends `Full`: a read succeeding
            // says nothing about room for the next write.
            _ if *self.readiness.borrow() == Readiness::Full => {}
            _ => self.mark(Readiness::Ready, None),
        }
        result.map_err(CoreError::from)
    }

    async fn probe_memory(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            let result = if *self.readiness.borrow() == Readiness::Full {
                self.memory.probe_room().await
            } else {
                self.memory.ping().await
            };
            match result {
                Ok(()) => self.mark(Readiness::Ready, None),
                Err(error) => {
                    tracing::debug!(%error, "memory probe failed");
                    let _ = self.observed::<()>(Err(error));
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// A request id, validated like a task id (it becomes part of a key); empty means none.
fn parse_request_id(raw: Option<&str>) -> Result<Option<&str>, CoreError> {
    match raw.filter(|id| !id.is_empty()) {
        None => Ok(None),
        Some(id) => TaskId::parse_field(id, "request_id").map(|_| Some(id)),
    }
}

/// Data as the request fingerprint sees it: every number as the double it stands for, so `1`
/// (as WebSocket JSON writes it) and `1.0` (gRPC has only doubles) are the same request, and
/// a retry over the other transport is recognised. Statistics see the same doubles.
enum Canonical<'a> {
    /// The data list itself.
    List(&'a [Value]),
    /// One value in it, at any depth.
    Value(&'a Value),
}

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        let list = |values: &[Value], serializer: S| {
            let mut seq = serializer.serialize_seq(Some(values.len()))?;
            for value in values {
                seq.serialize_element(&Canonical::Value(value))?;
            }
            seq.end()
        };
        match self {
            Canonical::List(values) => list(values, serializer),
            Canonical::Value(Value::Array(values)) => list(values, serializer),
            Canonical::Value(Value::Number(n)) => {
                serializer.serialize_f64(n.as_f64().unwrap_or_default())
            }
            Canonical::Value(Value::Object(map)) => {
                let mut object = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    object.serialize_entry(key, &Canonical::Value(value))?;
                }
                object.end()
            }
            Canonical::Value(other) => other.serialize(serializer),
        }
    }
}

/// SHA-256 (hex) of the parts, each length-prefixed so no two requests share an encoding.
fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_see_numbers_as_doubles() {
        let canonical = |data: Value| {
            let Value::Array(items) = data else {
                return String::new();
            };
            serde_json::to_string(&Canonical::List(&items)).unwrap_or_default()
        };
        assert_eq!(
            canonical(serde_json::json!(["x", 1, {"k": [2, 0.5]}])),
            canonical(serde_json::json!(["x", 1.0, {"k": [2.0, 0.5]}]))
        );
        assert_ne!(
            canonical(serde_json::json!([1])),
            canonical(serde_json::json!(["1"]))
        );
    }

    #[test]
    fn callers_never_show_their_token() {
        let shown = format!("{:?}", Caller::with_token(Some("secret-token-0123456789")));
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
