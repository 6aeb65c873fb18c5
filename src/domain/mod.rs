//! The domain: agents, the memory layer and notifications. No transport lives here.
//!
//! Adapters (`crate::grpc`, `crate::ws`) call [`Agents`] and map [`CoreError`] at their edge;
//! nothing in this module imports tonic or axum.

mod agents;
pub mod analysis;
pub mod auth;
pub mod charts;
mod error;
pub mod event;
pub mod memory;
mod merged;
mod notifier;
pub mod profile;
mod readiness;
pub mod records;
mod task;
pub mod tasks;
mod telemetry;

pub use self::{
    agents::{
        Agents, Analysis, AnalyzeOptions, Caller, CoreConfig, Limits, Narrative, Progress, Report,
        TaskStatus,
    },
    analysis::AnalysisStats,
    error::{Code, CoreError, MemoryError, reason},
    event::{EventId, Notification, Published, Resume, TaskFilter, WireFormat},
    merged::{Subscription, TOKEN_PREFIX},
    notifier::NotifierConfig,
    readiness::Readiness,
    task::{MAX_TASK_ID_LEN, TaskId},
    tasks::{StoredAnalysis, StoredNarrative, StoredReport, TaskDetails, TaskList, TaskSummary},
};
