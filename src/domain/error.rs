//! The one error type of the domain, its canonical codes, and the memory layer's own failures.
//!
//! Every [`CoreError`] has one canonical [`Code`] ([`CoreError::code`]), decided here and
//! nowhere else. Adapters map the error once, at their edge, and take the code from it: the
//! gRPC adapter into a `tonic::Status` with details, the WebSocket adapter into a JSON error
//! frame that spells the code's name. Messages here are safe to show to a caller; internal
//! detail (Redis error texts, say) is logged where it happens, never carried.

use std::time::Duration;

/// The canonical status codes of gRPC (`google.rpc.Code`), as a transport-neutral vocabulary:
/// the gRPC adapter sends them as they are, the WebSocket adapter spells their names in error
/// frames, metrics label calls of both transports with the names.
///
/// The discriminants are the codes' numbers in `google.rpc.Code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The caller cancelled (or abandoned) the call.
    Cancelled = 1,
    /// An error with no better code.
    Unknown = 2,
    /// A request field is malformed, whatever the state.
    InvalidArgument = 3,
    /// The deadline passed before the operation completed.
    DeadlineExceeded = 4,
    /// Something the request names does not exist.
    NotFound = 5,
    /// Something the request would create exists already.
    AlreadyExists = 6,
    /// Valid credentials, insufficient permission.
    PermissionDenied = 7,
    /// A limit or quota was reached.
    ResourceExhausted = 8,
    /// The state does not allow the operation.
    FailedPrecondition = 9,
    /// A concurrency conflict, such as a version mismatch.
    Aborted = 10,
    /// Out of the valid range.
    OutOfRange = 11,
    /// The operation does not exist.
    Unimplemented = 12,
    /// Something that should not happen.
    Internal = 13,
    /// Temporarily unavailable; retrying may succeed.
    Unavailable = 14,
    /// Unrecoverable data loss.
    DataLoss = 15,
    /// No valid credentials.
    Unauthenticated = 16,
}

impl Code {
    /// The name as the gRPC specification spells it: `OK`, `INVALID_ARGUMENT`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code numbered `number` in `google.rpc.Code`; `Unknown` for any other number, as the
    /// gRPC specification asks of a receiver.
    pub const fn from_number(number: i32) -> Self {
        match number {
            0 => Code::Ok,
            1 => Code::Cancelled,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }

    /// The code's number in `google.rpc.Code`.
    pub const fn number(self) -> i32 {
        self as i32
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as its name (`"UNAVAILABLE"`), as JSON error frames carry it.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why an operation failed, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A request field is malformed. `field` names it as the API spells it.
    #[error("invalid {field}: {description}")]
    InvalidArgument {
        /// The field at fault, e.g. `task_id` or `data[3]`.
        field: String,
        /// What is wrong with it.
        description: String,
    },
    /// The request is well-formed but the task is not in a state that allows it.
    #[error("{description}")]
    FailedPrecondition {
        /// Stable, machine-readable, e.g. `ANALYSIS_MISSING`.
        reason: &'static str,
        /// What to do about it, for a person.
        description: String,
    },
    /// A configured limit was exceeded.
    #[error("{description}")]
    ResourceExhausted {
        /// Stable, machine-readable, e.g. `OVERLOADED`.
        reason: &'static str,
        /// Which limit, for a person.
        description: String,
    },
    /// The write conflicts with the current state (`expected_version` mismatch).
    #[error("{description}")]
    Aborted {
        /// Stable, machine-readable: `VERSION_MISMATCH`.
        reason: &'static str,
        /// The conflict, for a person.
        description: String,
        /// The task's analysis version now, to read again from.
        current_version: u64,
    },
    /// The caller's versions or request id belong to a history memory no longer holds (it
    /// came back empty since): nothing was written; read again and decide.
    #[error(
        "memory's history was reset since the epoch given; nothing was written: read the task again (current epoch {current_epoch})"
    )]
    EpochChanged {
        /// Memory's epoch now, to hold from here on.
        current_epoch: String,
    },
    /// A subscriber left its buffer full too long and was cut off; it resumes after this id.
    #[error(
        "subscriber too slow: stopped after {resume_after}; subscribe again with after = {resume_after}"
    )]
    SubscriberTooSlow {
        /// The last notification delivered: the resume token to subscribe again with.
        resume_after: String,
    },
    /// No valid credentials.
    #[error("{description}")]
    Unauthenticated {
        /// What was missing or wrong.
        description: String,
    },
    /// Valid credentials, insufficient role.
    #[error("{description}")]
    PermissionDenied {
        /// The role needed.
        description: String,
    },
    /// The caller's deadline (or the server's request timeout) passed; nothing was written.
    #[error("the deadline passed before the operation completed")]
    DeadlineExceeded,
    /// The memory layer cannot be reached; retrying later may succeed.
    #[error("shared memory is unavailable, retry after {retry_after:?}")]
    Unavailable {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// Memory refuses this server itself (its credentials, its permissions, its
    /// configuration) until an operator acts: retrying does not help, so unlike
    /// [`CoreError::Unavailable`] no retry delay is suggested. The detail went to the log once.
    #[error(
        "shared memory refuses this server (credentials or configuration); an operator must fix it, retrying will not help"
    )]
    MemoryRefused,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Something that should not happen; the detail went to the log.
    #[error("internal error")]
    Internal,
}

/// Reason codes carried in error details; clients match on these, so they never change.
pub mod reason {
    /// Narrate or Report before any Analyze of the task.
    pub const ANALYSIS_MISSING: &str = "ANALYSIS_MISSING";
    /// Report on an analysis another writer (the prototype) stored, without items to profile.
    pub const DATA_MISSING: &str = "DATA_MISSING";
    /// A gRPC message or WebSocket frame over its size limit.
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    /// `expected_version` is not the current version.
    pub const VERSION_MISMATCH: &str = "VERSION_MISMATCH";
    /// Too many calls in progress; shed.
    pub const OVERLOADED: &str = "OVERLOADED";
    /// The subscription limit is reached.
    pub const TOO_MANY_SUBSCRIBERS: &str = "TOO_MANY_SUBSCRIBERS";
    /// The connection limit is reached.
    pub const TOO_MANY_CONNECTIONS: &str = "TOO_MANY_CONNECTIONS";
    /// A subscriber was cut off for falling too far behind.
    pub const SUBSCRIBER_TOO_SLOW: &str = "SUBSCRIBER_TOO_SLOW";
    /// The write named an epoch memory no longer holds (`CoreError::EpochChanged`).
    pub const EPOCH_CHANGED: &str = "EPOCH_CHANGED";
    /// Shared memory is full (Redis `OOM` at `maxmemory`); nothing was written.
    pub const MEMORY_FULL: &str = "MEMORY_FULL";
    /// A `ListTasks` page token that can no longer be continued (the history it was taken
    /// against is trimmed, or too much changed since): start the listing again.
    pub const LISTING_EXPIRED: &str = "LISTING_EXPIRED";
}

impl CoreError {
    /// The canonical code of this error, the same on every transport.
    pub fn code(&self) -> Code {
        match self {
            CoreError::InvalidArgument { .. } => Code::InvalidArgument,
            CoreError::FailedPrecondition { .. } => Code::FailedPrecondition,
            CoreError::ResourceExhausted { .. } | CoreError::SubscriberTooSlow { .. } => {
                Code::ResourceExhausted
            }
            CoreError::Aborted { .. } | CoreError::EpochChanged { .. } => Code::Aborted,
            CoreError::Unauthenticated { .. } => Code::Unauthenticated,
            CoreError::PermissionDenied { .. } => Code::PermissionDenied,
            CoreError::DeadlineExceeded => Code::DeadlineExceeded,
            CoreError::Unavailable { .. } | CoreError::MemoryRefused | CoreError::ShuttingDown => {
                Code::Unavailable
            }
            CoreError::Internal => Code::Internal,
        }
    }

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
    VersionMismatch {
        /// The version in memory.
        current: u64,
    },
    /// The request id was used before for a different request.
    #[error("request id reused for a different request")]
    RequestIdReused,
    /// The write named an epoch that is not memory's (see `WriteGuard::epoch`); nothing was
    /// written.
    #[error("the history's epoch is {current}, not the one the write named")]
    EpochChanged {
        /// Memory's epoch.
        current: String,
    },
    /// The store refuses Rift itself (credentials, permissions, its own state) until an
    /// operator acts; retrying does not help.
    #[error("memory refused Rift: {0}")]
    Refused(String),
    /// The store is full (Redis `OOM` at `maxmemory`); nothing was written.
    #[error("memory is full: {0}")]
    Full(String),
    /// The store answered with something Rift did not write (or no longer understands).
    #[error("unexpected data in memory: {0}")]
    Corrupt(String),
    /// A listing cannot be continued from its page token; why, for a person.
    #[error("listing expired: {0}")]
    ListingExpired(String),
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
            // Logged once, when readiness changes (`Agents`), not once per call.
            MemoryError::Refused(_) => CoreError::MemoryRefused,
            MemoryError::Full(_) => CoreError::ResourceExhausted {
                reason: reason::MEMORY_FULL,
                description: "shared memory is full; nothing was written: free memory \
                              (delete tasks) or raise Redis's maxmemory"
                    .into(),
            },
            MemoryError::Corrupt(detail) => {
                tracing::error!(%detail, "unexpected data in memory");
                CoreError::Internal
            }
            MemoryError::ListingExpired(why) => CoreError::FailedPrecondition {
                reason: reason::LISTING_EXPIRED,
                description: format!(
                    "this listing can no longer be continued ({why}): list again without a \
                     page_token"
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_numbers() {
        for number in 0..=16 {
            let code = Code::from_number(number);
            assert_eq!(code.number(), number, "{code}");
        }
        assert_eq!(Code::from_number(17), Code::Unknown);
        assert_eq!(Code::from_number(-1), Code::Unknown);
    }

    #[test]
    fn codes_serialize_as_their_names() {
        for number in 0..=16 {
            let code = Code::from_number(number);
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::from(code.as_str()))
            );
        }
    }
}
