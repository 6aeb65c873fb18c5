//! The embedded memory: the same contract as Redis, held in this process.
//!
//! Used when no Redis URL is given, and as the reference the contract tests hold Redis to.
//! Nothing survives a restart and nothing is shared between processes.
//!
//! Its epoch is drawn once and never changes: nothing it holds is lost while it lives, so it
//! never causes `history_reset` or `history_diverged` for a live subscriber, and a write that
//! names another epoch can only name one of an earlier process (refused, as on Redis).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant, SystemTime},
};

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::{
    AnalysisStored, AnalysisWrite, Epoch, History, ListPosition, ListQuery, ListSnapshot,
    ListedTask, Located, Memory, NarrativeStored, NarrativeWrite, ProgressObserved, ReportSource,
    ReportStored, ReportWrite, Tail, TaskPage, TaskState, TaskView, WriteGuard,
};
use crate::domain::{
    EventId, MemoryError, Notification, TaskId, TaskStatus,
    event::{action, agent},
    records,
};

/// How long a tail read waits before returning empty, like a bounded `XREAD BLOCK`.
const TAIL_WAIT: Duration = Duration::from_secs(1);

/// Memory inside the process, for a machine without Redis: nothing is shared with another
/// process or kept across restarts. Clones share the same store.
#[derive(Debug, Clone)]
pub struct InProcessMemory {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// This memory's one epoch.
    epoch: Epoch,
    /// The newest event id; tails wait on it instead of polling.
    newest: watch::Sender<EventId>,
}

#[derive(Debug, Default)]
struct State {
    tasks: HashMap<TaskId, TaskRecord>,
    events: VecDeque<Notification>,
    max_events: usize,
    last: EventId,
    trimmed: bool,
    /// Idempotency keys: fingerprint, remembered result, and when to forget them.
    requests: HashMap<String, Remembered>,
    /// Size at which expired keys are next swept out of `requests`: doubling it after each
    /// sweep keeps the sweeps amortised O(1) per write instead of a scan under the lock on
    /// every one.
    sweep_at: usize,
}

#[derive(Debug, Clone)]
struct Remembered {
    fingerprint: String,
    result: RememberedResult,
    expires: Instant,
}

#[derive(Debug, Clone)]
enum RememberedResult {
    Analysis(AnalysisStored),
    Narrative(NarrativeStored),
}

#[derive(Debug, Default)]
struct TaskRecord {
    analysis: Option<String>,
    analysis_version: u64,
    narrative: Option<String>,
    narrative_analysis_version: u64,
    progress: Option<String>,
    /// The items of the latest analysis, for ReportAgent.
    data: Option<String>,
    report: Option<String>,
    report_analysis_version: u64,
    /// The task's first notification: a listing that began before it leaves the task out.
    first_event: Option<EventId>,
    /// Its newest notifications, oldest first, at most [`KEPT_CHANGES`]: where a listing that
    /// began between two of them places the task.
    changes: VecDeque<EventId>,
}

/// How many of a task's newest notifications it keeps for listings: one that began before all
/// of them (the task written that often since) can no longer be continued.
const KEPT_CHANGES: usize = 64;

impl TaskRecord {
    fn state(&self) -> TaskState {
        TaskState {
            has_analysis: self.analysis.is_some(),
            analysis_version: self.analysis_version,
            has_narrative: self.narrative.is_some(),
            narrative_analysis_version: self.narrative_analysis_version,
            report_analysis_version: self.report_analysis_version,
        }
    }

    fn last_event(&self) -> Option<EventId> {
        self.changes.back().copied()
    }
}

impl InProcessMemory {
    /// Keeps at most `max_events` notifications, like the Redis stream's `MAXLEN`.
    pub fn new(max_events: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    max_events: max_events.max(1),
                    ..State::default()
                }),
                newest: watch::Sender::new(EventId::ZERO),
                epoch: uuid::Uuid::new_v4().simple().to_string(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-written in a way later readers
        // would misread (every write finishes before announcing), so poisoning is ignored.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn announce(&self, id: EventId) {
        self.shared.newest.send_replace(id);
    }

    fn epoch(&self) -> Epoch {
        self.shared.epoch.clone()
    }

    /// Refuses a write that names an epoch other than this memory's.
    fn check_epoch(&self, guard: &WriteGuard<'_>) -> Result<(), MemoryError> {
        match guard.epoch {
            Some(expected) if expected != self.shared.epoch => Err(MemoryError::EpochChanged {
                current: self.epoch(),
            }),
            _ => Ok(()),
        }
    }
}

impl State {
    fn append(&mut self, task: &TaskId, agent: &str, action: &str, payload: Value) -> EventId {
        let now_ms = super::unix_ms(SystemTime::now());
        // Ids keep increasing even if the wall clock steps back, as Redis stream ids do.
        let id = if now_ms > self.last.ms {
            EventId { ms: now_ms, seq: 0 }
        } else {
            self.last.successor()
        };
        let payload = match payload {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.events.push_back(Notification {
            id,
            task_id: task.to_string(),
            agent: agent.to_owned(),
            action: action.to_owned(),
            payload,
            traceparent: crate::traces::current_traceparent(),
        });
        self.last = id;
        if let Some(record) = self.tasks.get_mut(task) {
            record.first_event.get_or_insert(id);
            record.changes.push_back(id);
            if record.changes.len() > KEPT_CHANGES {
                record.changes.pop_front();
            }
        }
        while self.events.len() > self.max_events {
            self.events.pop_front();
            self.trimmed = true;
        }
        id
    }

    /// The remembered result for `guard`'s request key, after checking its fingerprint; also
    /// refuses writes past their deadline. An expired key counts as absent.
    fn admit(&mut self, guard: &WriteGuard<'_>) -> Result<Option<RememberedResult>, MemoryError> {
        if let Some(request) = guard.request {
            let now = Instant::now();
            let live = self
                .requests
                .get(request.id)
                .filter(|remembered| remembered.expires > now);
            if let Some(remembered) = live {
                if remembered.fingerprint != request.fingerprint {
                    return Err(MemoryError::RequestIdReused);
                }
                return Ok(Some(remembered.result.clone()));
            }
        }
        if guard
            .deadline
            .is_some_and(|deadline| SystemTime::now() > deadline)
        {
            return Err(MemoryError::DeadlineExceeded);
        }
        Ok(None)
    }

    fn remember(&mut self, guard: &WriteGuard<'_>, result: RememberedResult) {
        if let Some(request) = guard.request {
            if self.requests.len() >= self.sweep_at {
                let now = Instant::now();
                self.requests
                    .retain(|_, remembered| remembered.expires > now);
                self.sweep_at = (self.requests.len() * 2).max(1024);
            }
            self.requests.insert(
                request.id.to_owned(),
                Remembered {
                    fingerprint: request.fingerprint.to_owned(),
                    result,
                    expires: Instant::now() + request.window,
                },
            );
        }
    }

    fn history(&self) -> History {
        History {
            last: self.last,
            first_retained: self.events.front().map_or(EventId::ZERO, |n| n.id),
            trimmed: self.trimmed,
        }
    }

    fn after(&self, after: EventId, limit: usize) -> Vec<Notification> {
        let start = self.events.partition_point(|n| n.id <= after);
        self.events.range(start..).take(limit).cloned().collect()
    }
}

#[async_trait]
impl Memory for InProcessMemory {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn store_analysis(
        &self,
        write: AnalysisWrite<'_>,
    ) -> Result<AnalysisStored, MemoryError> {
        let mut state = self.state();
        if let Some(RememberedResult::Analysis(stored)) = state.admit(&write.guard)? {
            return Ok(AnalysisStored {
                replayed: true,
                ..stored
            });
        }
        self.check_epoch(&write.guard)?;
        let current = state
            .tasks
            .get(write.task)
            .map_or(0, |t| t.analysis_version);
        if write
            .expected_version
            .is_some_and(|expected| expected != current)
        {
            return Err(MemoryError::VersionMismatch { current });
        }
        let record = state.tasks.entry(write.task.clone()).or_default();
        record.analysis = Some(write.record_json.to_owned());
        record.data = Some(write.data_json.to_owned());
        record.analysis_version += 1;
        record.progress = None;
        let version = record.analysis_version;
        let event = state.append(
            write.task,
            agent::TECH,
            action::ANALYSIS_STORED,
            json!({"task_id": write.task.as_str(), "summary": write.summary, "version": version}),
        );
        let stored = AnalysisStored {
            version,
            event,
            replayed: false,
            epoch: self.epoch(),
        };
        state.remember(&write.guard, RememberedResult::Analysis(stored.clone()));
        drop(state);
        self.announce(event);
        Ok(stored)
    }

    async fn store_narrative(
        &self,
        write: NarrativeWrite<'_>,
    ) -> Result<Option<NarrativeStored>, MemoryError> {
        let mut state = self.state();
        if let Some(RememberedResult::Narrative(stored)) = state.admit(&write.guard)? {
            return Ok(Some(NarrativeStored {
                replayed: true,
                ..stored
            }));
        }
        self.check_epoch(&write.guard)?;
        let Some(record) = state.tasks.get_mut(write.task) else {
            return Ok(None);
        };
        let Some(analysis) = record.analysis.as_deref() else {
            return Ok(None);
        };
        let summary = records::summary_of(analysis).ok_or_else(|| {
            MemoryError::Corrupt(format!("analysis of {} has no summary", write.task))
        })?;
        let narrative = format!("{}{summary}{}", write.prefix, write.suffix);
        let analysis_version = record.analysis_version;
        record.narrative = Some(narrative.clone());
        record.narrative_analysis_version = analysis_version;
        let event = state.append(
            write.task,
            agent::CONCEPT,
            action::NARRATIVE_STORED,
            json!({
                "task_id": write.task.as_str(),
                "narrative": narrative,
                "analysis_version": analysis_version,
            }),
        );
        let stored = NarrativeStored {
            narrative,
            analysis_version,
            event,
            replayed: false,
            epoch: self.epoch(),
        };
        state.remember(&write.guard, RememberedResult::Narrative(stored.clone()));
        drop(state);
        self.announce(event);
        Ok(Some(stored))
    }

    async fn observe_progress(
        &self,
        task: &TaskId,
        completed_record: &str,
        deadline: Option<SystemTime>,
    ) -> Result<ProgressObserved, MemoryError> {
        let mut state = self.state();
        if deadline.is_some_and(|deadline| SystemTime::now() > deadline) {
            return Err(MemoryError::DeadlineExceeded);
        }
        let Some(record) = state.tasks.get_mut(task) else {
            return Ok(ProgressObserved {
                state: TaskState::default(),
                recorded: None,
                epoch: self.epoch(),
            });
        };
        let task_state = record.state();
        let mut recorded = None;
        if task_state.is_completed() && record.progress.as_deref() != Some(completed_record) {
            record.progress = Some(completed_record.to_owned());
            let id = state.append(
                task,
                agent::TASK,
                action::PROGRESS_COMPLETED,
                json!({
                    "task_id": task.as_str(),
                    "status": "completed",
                    "analysis_version": task_state.analysis_version,
                }),
            );
            recorded = Some(id);
        }
        drop(state);
        if let Some(id) = recorded {
            self.announce(id);
        }
        Ok(ProgressObserved {
            state: task_state,
            recorded,
            epoch: self.epoch(),
        })
    }

    async fn get_task(&self, task: &TaskId, with_report: bool) -> Result<TaskView, MemoryError> {
        let state = self.state();
        let Some(record) = state.tasks.get(task) else {
            return Ok(TaskView {
                epoch: Some(self.epoch()),
                ..TaskView::default()
            });
        };
        Ok(TaskView {
            state: record.state(),
            analysis: record.analysis.clone(),
            narrative: record.narrative.clone(),
            last_event: record.last_event(),
            epoch: Some(self.epoch()),
            report: record.report.clone().filter(|_| with_report),
        })
    }

    async fn report_source(&self, task: &TaskId) -> Result<ReportSource, MemoryError> {
        let state = self.state();
        Ok(state
            .tasks
            .get(task)
            .map(|record| ReportSource {
                has_analysis: record.analysis.is_some(),
                analysis_version: record.analysis_version,
                data: record.data.clone(),
            })
            .unwrap_or_default())
    }

    async fn store_report(&self, write: ReportWrite<'_>) -> Result<ReportStored, MemoryError> {
        let mut state = self.state();
        state.admit(&write.guard)?;
        self.check_epoch(&write.guard)?;
        let current = state
            .tasks
            .get(write.task)
            .map_or(0, |record| record.analysis_version);
        if current != write.analysis_version {
            return Err(MemoryError::VersionMismatch { current });
        }
        let record = state.tasks.entry(write.task.clone()).or_default();
        record.report = Some(write.report_json.to_owned());
        record.report_analysis_version = write.analysis_version;
        let event = state.append(
            write.task,
            agent::REPORT,
            action::REPORT_STORED,
            json!({"task_id": write.task.as_str(), "analysis_version": write.analysis_version}),
        );
        drop(state);
        self.announce(event);
        Ok(ReportStored {
            event,
            epoch: self.epoch(),
        })
    }

    async fn list_tasks(&self, query: &ListQuery) -> Result<TaskPage, MemoryError> {
        let state = self.state();
        let snapshot = query.one_history_snapshot()?.unwrap_or(state.last);
        let after_cursor = |ms: u64, id: &str| match &query.after {
            None => true,
            Some(after) => (ms, id) < (after.ms, after.task_id.as_str()),
        };
        let mut placed = Vec::new();
        for (id, record) in &state.tasks {
            if record.analysis.is_none() || record.first_event.is_none_or(|first| first > snapshot)
            {
                continue;
            }
            let kept = record.changes.partition_point(|change| *change <= snapshot);
            let Some(position) = kept.checked_sub(1).map(|at| record.changes[at]) else {
                return Err(MemoryError::ListingExpired(format!(
                    "task {id} was written more than {KEPT_CHANGES} times since it began"
                )));
            };
            if after_cursor(position.ms, id.as_str()) {
                placed.push((position.ms, id, record));
            }
        }
        placed.sort_unstable_by(|a, b| (b.0, b.1.as_str()).cmp(&(a.0, a.1.as_str())));
        let mut page = TaskPage {
            snapshot: ListSnapshot::One(snapshot),
            tasks: Vec::new(),
            next: None,
        };
        for (scanned, (ms, id, record)) in placed.iter().enumerate() {
            if page.tasks.len() == query.page_size.max(1) || scanned == super::LIST_SCAN_LIMIT {
                let (ms, id, _) = placed[scanned - 1];
                page.next = Some(ListPosition {
                    ms,
                    task_id: id.to_string(),
                });
                break;
            }
            let task_state = record.state();
            if query
                .status
                .is_none_or(|status| TaskStatus::of(&task_state).as_str() == status)
            {
                page.tasks.push(ListedTask {
                    task_id: id.to_string(),
                    position_ms: *ms,
                    state: task_state,
                    last_event: record.last_event(),
                });
            }
        }
        Ok(page)
    }

    async fn delete_task(
        &self,
        task: &TaskId,
        deadline: Option<SystemTime>,
    ) -> Result<Option<EventId>, MemoryError> {
        let mut state = self.state();
        if deadline.is_some_and(|deadline| SystemTime::now() > deadline) {
            return Err(MemoryError::DeadlineExceeded);
        }
        if state.tasks.remove(task).is_none() {
            return Ok(None);
        }
        let id = state.append(
            task,
            agent::RIFT,
            action::TASK_DELETED,
            json!({"task_id": task.as_str()}),
        );
        drop(state);
        self.announce(id);
        Ok(Some(id))
    }

    async fn events_after(
        &self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        Ok(self.state().after(after, limit))
    }

    async fn history(&self) -> Result<History, MemoryError> {
        Ok(self.state().history())
    }

    async fn locate(&self, id: EventId) -> Result<Located, MemoryError> {
        let state = self.state();
        let present = state
            .events
            .binary_search_by(|notification| notification.id.cmp(&id))
            .is_ok();
        Ok(Located {
            history: state.history(),
            present,
            epoch: Some(self.epoch()),
        })
    }

    fn open_tail(&self) -> Box<dyn Tail> {
        Box::new(InProcessTail {
            memory: self.clone(),
            newest: self.shared.newest.subscribe(),
        })
    }

    async fn ping(&self) -> Result<(), MemoryError> {
        Ok(())
    }
}

struct InProcessTail {
    memory: InProcessMemory,
    newest: watch::Receiver<EventId>,
}

#[async_trait]
impl Tail for InProcessTail {
    async fn next_batch(
        &mut self,
        after: EventId,
        limit: usize,
    ) -> Result<Vec<Notification>, MemoryError> {
        // Timing out is the normal "nothing new" answer; the sender lives as long as the memory.
        let _ =
            tokio::time::timeout(TAIL_WAIT, self.newest.wait_for(|newest| *newest > after)).await;
        Ok(self.memory.state().after(after, limit))
    }

    async fn newest(&mut self) -> Result<EventId, MemoryError> {
        Ok(*self.newest.borrow())
    }
}
