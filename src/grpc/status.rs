//! Domain errors as gRPC statuses, mapped once, with `google.rpc` details clients can parse.
//!
//! The status code is the error's canonical [`domain::Code`]; only the details are decided
//! here.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{self, CoreError, reason};

/// `ErrorInfo.domain` of every error Rift raises.
pub const ERROR_DOMAIN: &str = "rift.v1";

/// The status a domain error becomes: its canonical code ([`CoreError::code`]), a safe
/// message, and details a program can match on (`BadRequest` field violations, `ErrorInfo`
/// reasons, `RetryInfo`).
pub fn into_status(error: CoreError) -> Status {
    let code = Code::from(error.code());
    let message = error.to_string();
    let details = match error {
        CoreError::InvalidArgument { field, description } => {
            ErrorDetails::with_bad_request_violation(field, description)
        }
        CoreError::FailedPrecondition { reason, .. }
        | CoreError::ResourceExhausted { reason, .. } => {
            ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new())
        }
        CoreError::Aborted {
            reason,
            current_version,
            ..
        } => ErrorDetails::with_error_info(
            reason,
            ERROR_DOMAIN,
            HashMap::from([("current_version".to_owned(), current_version.to_string())]),
        ),
        CoreError::EpochChanged { current_epoch } => ErrorDetails::with_error_info(
            reason::EPOCH_CHANGED,
            ERROR_DOMAIN,
            HashMap::from([("current_epoch".to_owned(), current_epoch)]),
        ),
        CoreError::SubscriberTooSlow { resume_after } => ErrorDetails::with_error_info(
            reason::SUBSCRIBER_TOO_SLOW,
            ERROR_DOMAIN,
            HashMap::from([("resume_after".to_owned(), resume_after)]),
        ),
        CoreError::Unavailable { retry_after } => ErrorDetails::with_retry_info(Some(retry_after)),
        CoreError::Unauthenticated { .. }
        | CoreError::PermissionDenied { .. }
        | CoreError::DeadlineExceeded
        | CoreError::MemoryRefused
        | CoreError::ShuttingDown
        | CoreError::Internal => return Status::new(code, message),
    };
    Status::with_error_details(code, message, details)
}

/// The canonical name of a status code (`UNAVAILABLE`), as [`domain::Code`] spells it: error
/// frames, metrics labels and the CLI all use it.
pub fn code_name(code: Code) -> &'static str {
    domain::Code::from(code).as_str()
}

/// The same number on the wire: tonic's codes are `google.rpc.Code`'s.
impl From<domain::Code> for Code {
    fn from(code: domain::Code) -> Self {
        Code::from_i32(code.number())
    }
}

impl From<Code> for domain::Code {
    fn from(code: Code) -> Self {
        domain::Code::from_number(i32::from(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_number_and_name() {
        for number in 0..=16 {
            let tonic = Code::from_i32(number);
            let canonical = domain::Code::from(tonic);
            assert_eq!(Code::from(canonical), tonic);
            // tonic's own name for it, e.g. `InvalidArgument`, is the same word in another case.
            assert_eq!(
                format!("{tonic:?}").to_lowercase(),
                canonical.as_str().replace('_', "").to_lowercase()
            );
        }
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let status = into_status(CoreError::InvalidArgument {
            field: "task_id".into(),
            description: "must not be empty".into(),
        });
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations[0].field, "task_id");
    }

    #[test]
    fn missing_analysis_carries_a_reason() {
        let status = into_status(CoreError::FailedPrecondition {
            reason: reason::ANALYSIS_MISSING,
            description: "no analysis".into(),
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        let info = status
            .get_error_details()
            .error_info()
            .cloned()
            .expect("info");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("ANALYSIS_MISSING", "rift.v1")
        );
    }
}
