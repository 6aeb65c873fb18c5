//! The three agents behind one facade, [`Agents`], which both adapters call.
//!
//! - TechAgent (`analyze`) analyses a data list and stores the result.
//! - ConceptAgent (`narrate`) turns the latest analysis into a narrative.
//! - TaskAgent (`progress`) reports where a task stands and records completion.
//!
//! Validation lives here, not in the adapters, so gRPC and WebSocket refuse the same inputs
//! with the same errors.

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    AnalysisStats, CoreError, Resume, TaskFilter, TaskId, analysis,
    error::reason,
    memory::{AnalysisWrite, Memory, NarrativeWrite, TaskState},
    notifier::{Notifier, NotifierConfig, Subscription},
    records,
};

/// Request limits; over them is an error, never a crash or an unbounded allocation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items per Analyze.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_items: 10_000 }
    }
}

/// Everything the domain needs besides memory.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    pub limits: Limits,
    pub notifier: NotifierConfig,
    /// How often memory is pinged for health; `None` uses one second.
    pub health_interval: Option<Duration>,
}

/// TechAgent's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub task_id: String,
    pub summary: String,
    pub version: u64,
    pub stats: AnalysisStats,
}

/// ConceptAgent's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrative {
    pub task_id: String,
    pub narrative: String,
    pub analysis_version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    NotStarted,
    InProgress,
    Completed,
    /// The narrative is built on an older analysis than the latest.
    Stale,
}

impl TaskStatus {
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
    pub task_id: String,
    pub status: TaskStatus,
    pub analysis_version: u64,
    pub narrative_analysis_version: u64,
}

/// The domain's entry point: the agents, over one memory, with one notifier.
#[derive(Debug, Clone)]
pub struct Agents {
    memory: Arc<dyn Memory>,
    notifier: Notifier,
    limits: Limits,
    available: Arc<watch::Sender<bool>>,
}

impl Agents {
    /// Starts the notifier and the memory health probe; both stop when `shutdown` is cancelled.
    pub fn start(memory: Arc<dyn Memory>, config: CoreConfig, shutdown: CancellationToken) -> Self {
        let notifier = Notifier::start(memory.clone(), config.notifier, shutdown.clone());
        let agents = Self {
            memory,
            notifier,
            limits: config.limits,
            available: Arc::new(watch::Sender::new(false)),
        };
        let interval = config.health_interval.unwrap_or(Duration::from_secs(1));
        tokio::spawn(agents.clone().probe_memory(interval, shutdown));
        agents
    }

    /// `redis` or `in-process`.
    pub fn backend(&self) -> &'static str {
        self.memory.backend()
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// TechAgent: analyse `data` for `task_id` and store the analysis as its next version.
    pub async fn analyze(&self, task_id: &str, data: &[Value]) -> Result<Analysis, CoreError> {
        let task = TaskId::parse(task_id)?;
        if data.len() > self.limits.max_items {
            return Err(CoreError::invalid(
                "data",
                format!(
                    "has {} items; at most {} are accepted",
                    data.len(),
                    self.limits.max_items
                ),
            ));
        }
        let summary = analysis::summary(data.len());
        let stats = AnalysisStats::of(data);
        let record_json = records::analysis_json(&task, &summary, &stats);
        let stored = self.observed(
            self.memory
                .store_analysis(AnalysisWrite {
                    task: &task,
                    record_json: &record_json,
                    summary: &summary,
                })
                .await,
        )?;
        Ok(Analysis {
            task_id: task.to_string(),
            summary,
            version: stored.version,
            stats,
        })
    }

    /// ConceptAgent: narrate the latest analysis of `task_id`.
    pub async fn narrate(&self, task_id: &str) -> Result<Narrative, CoreError> {
        let task = TaskId::parse(task_id)?;
        let prefix = format!("The analysis for task {task} concluded: ");
        let stored = self.observed(
            self.memory
                .store_narrative(NarrativeWrite {
                    task: &task,
                    prefix: &prefix,
                    suffix: ".",
                })
                .await,
        )?;
        let stored = stored.ok_or_else(|| CoreError::FailedPrecondition {
            reason: reason::ANALYSIS_MISSING,
            description: format!("task {task} has no analysis yet: analyze it first"),
        })?;
        Ok(Narrative {
            task_id: task.to_string(),
            narrative: stored.narrative,
            analysis_version: stored.analysis_version,
        })
    }

    /// TaskAgent: where `task_id` stands; records completion the first time it is seen.
    pub async fn progress(&self, task_id: &str) -> Result<Progress, CoreError> {
        let task = TaskId::parse(task_id)?;
        let record = records::progress_completed_json(&task);
        let observed = self.observed(self.memory.observe_progress(&task, &record).await)?;
        Ok(Progress {
            task_id: task.to_string(),
            status: TaskStatus::of(&observed.state),
            analysis_version: observed.state.analysis_version,
            narrative_analysis_version: observed.state.narrative_analysis_version,
        })
    }

    /// Notifications about `task_id` (empty: every task) after the resume token `after`.
    ///
    /// Without a resume token, "now" is fixed before this returns: whatever is written after
    /// the caller holds the subscription is delivered.
    pub async fn subscribe(&self, task_id: &str, after: &str) -> Result<Subscription, CoreError> {
        let filter = TaskFilter::parse(task_id)?;
        let resume = Resume::parse(after)?;
        self.observed_core(self.notifier.subscribe(filter, resume).await)
    }

    /// Subscribers in this process.
    pub fn subscriber_count(&self) -> usize {
        self.notifier.subscriber_count()
    }

    /// Whether memory answered lately; flips at once on an unavailable error, and back when a
    /// probe or a call succeeds.
    pub fn availability(&self) -> watch::Receiver<bool> {
        self.available.subscribe()
    }

    /// Like [`Self::observed`] for results already mapped: an `Unavailable` still marks memory
    /// down.
    fn observed_core<T>(&self, result: Result<T, CoreError>) -> Result<T, CoreError> {
        if matches!(result, Err(CoreError::Unavailable { .. })) {
            self.available
                .send_if_modified(|now| std::mem::replace(now, false));
        }
        result
    }

    fn observed<T>(&self, result: Result<T, super::MemoryError>) -> Result<T, CoreError> {
        let available = match &result {
            Ok(_) => true,
            Err(super::MemoryError::Unavailable(_)) => false,
            // Memory answered, if with something odd: it is up.
            Err(super::MemoryError::Corrupt(_)) => true,
        };
        self.available
            .send_if_modified(|now| std::mem::replace(now, available) != available);
        result.map_err(CoreError::from)
    }

    async fn probe_memory(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            let result = self.memory.ping().await;
            if let Err(error) = &result {
                tracing::debug!(%error, "memory probe failed");
            }
            let _ = self.observed(result);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
