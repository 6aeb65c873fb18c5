//! The one error type of the domain, and the memory layer's own failures.
//!
//! Adapters map [`CoreError`] once, at their edge: the gRPC adapter into a `tonic::Status` with
//! details, the WebSocket adapter into a JSON error frame. Messages here are safe to show to a
//! caller; internal detail (Redis error texts, say) is logged where it happens, never carried.

use std::time::Duration;

/// Why an operation failed, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A request field is malformed. `field` names it as the API spells it.
    #[error("invalid {field}: {description}")]
    InvalidArgument { field: String, description: String },
    /// The request is well-formed but the task is not in a state that allows it.
    #[error("{description}")]
    FailedPrecondition {
        /// Stable, machine-readable, e.g. `ANALYSIS_MISSING`.
        reason: &'static str,
        description: String,
    },
    /// A configured limit was exceeded.
    #[error("{description}")]
    ResourceExhausted {
        /// Stable, machine-readable, e.g. `TOO_MANY_ITEMS`.
        reason: &'static str,
        description: String,
    },
    /// The write conflicts with the current state (`expected_version` mismatch).
    #[error("{description}")]
    Aborted {
        reason: &'static str,
        description: String,
        current_version: u64,
    },
    /// The caller's versions or request id belong to a history memory no longer holds (it
    /// came back empty since): nothing was written; read again and decide.
    #[error(
        "memory's history was reset since the epoch given; nothing was written: read the task again (current epoch {current_epoch})"
    )]
    EpochChanged { current_epoch: String },
    /// A subscriber left its buffer full too long and was cut off; it resumes after this id.
    #[error(
        "subscriber too slow: stopped after {resume_after}; subscribe again with after = {resume_after}"
    )]
    SubscriberTooSlow { resume_after: String },
    /// No valid credentials.
    #[error("{description}")]
    Unauthenticated { description: String },
    /// Valid credentials, insufficient role.
    #[error("{description}")]
    PermissionDenied { description: String },
    /// The caller's deadline (or the server's request timeout) passed; nothing was written.
    #[error("the deadline passed before the operation completed")]
    DeadlineExceeded,
    /// The memory layer cannot be reached; retrying later may succeed.
    #[error("shared memory is unavailable, retry after {retry_after:?}")]
    Unavailable { retry_after: Duration },
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Something that should not happen; the detail went to the log.
    #[error("internal error")]
    Internal,
}

/// Reason codes carried in error details; clients match on these, so they never change.
pub mod reason {
    pub const ANALYSIS_MISSING: &str = "ANALYSIS_MISSING";
    pub const TOO_MANY_ITEMS: &str = "TOO_MANY_ITEMS";
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    pub const VERSION_MISMATCH: &str = "VERSION_MISMATCH";
    pub const OVERLOADED: &str = "OVERLOADED";
    pub const TOO_MANY_SUBSCRIBERS: &str = "TOO_MANY_SUBSCRIBERS";
    pub const TOO_MANY_CONNECTIONS: &str = "TOO_MANY_CONNECTIONS";
    pub const SUBSCRIBER_TOO_SLOW: &str = "SUBSCRIBER_TOO_SLOW";
    pub const EPOCH_CHANGED: &str = "EPOCH_CHANGED";
}

impl CoreError {
    pub(crate) fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A failure of the memory layer itself, before the domain decides what it means.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Connection refused, dropped or timed out.
    #[error("memory unavailable: {0}")]
    Unavailable(String),
    /// The write's deadline had passed when memory got to it; nothing was written.
    #[error("deadline passed before the write")]
    DeadlineExceeded,
    /// `expected_version` did not match; nothing was written.
    #[error("version mismatch: current version is {current}")]
    VersionMismatch { current: u64 },
    /// The request id was used before for a different request.
    #[error("request id reused for a different request")]
    RequestIdReused,
    /// The write named an epoch that is not memory's (see `WriteGuard::epoch`); nothing was
    /// written.
    #[error("the history's epoch is {current}, not the one the write named")]
    EpochChanged { current: String },
    /// The store refuses Rift itself (credentials, permissions, its own state) until an
    /// operator acts; retrying does not help.
    #[error("memory refused Rift: {0}")]
    Refused(String),
    /// The store answered with something Rift did not write (or no longer understands).
    #[error("unexpected data in memory: {0}")]
    Corrupt(String),
}

impl From<MemoryError> for CoreError {
    fn from(error: MemoryError) -> Self {
        match error {
            MemoryError::Unavailable(detail) => {
                tracing::warn!(%detail, "memory unavailable");
                CoreError::Unavailable {
                    retry_after: Duration::from_secs(1),
                }
            }
            MemoryError::DeadlineExceeded => CoreError::DeadlineExceeded,
            MemoryError::VersionMismatch { current } => CoreError::Aborted {
                reason: reason::VERSION_MISMATCH,
                description: format!(
                    "expected_version does not match: the current version is {current}"
                ),
                current_version: current,
            },
            MemoryError::RequestIdReused => CoreError::InvalidArgument {
                field: "request_id".into(),
                description: "was already used for a different request".into(),
            },
            MemoryError::EpochChanged { current } => CoreError::EpochChanged {
                current_epoch: current,
            },
            MemoryError::Refused(detail) => {
                tracing::error!(
                    %detail,
                    "memory refused Rift: check its credentials, ACL and server state"
                );
                CoreError::Internal
            }
            MemoryError::Corrupt(detail) => {
                tracing::error!(%detail, "unexpected data in memory");
                CoreError::Internal
            }
        }
    }
}
