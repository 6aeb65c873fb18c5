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
            MemoryError::Corrupt(detail) => {
                tracing::error!(%detail, "unexpected data in memory");
                CoreError::Internal
            }
        }
    }
}
