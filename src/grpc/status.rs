//! Domain errors as gRPC statuses, mapped once, with `google.rpc` details clients can parse.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{CoreError, reason};

/// `ErrorInfo.domain` of every error Rift raises.
pub const ERROR_DOMAIN: &str = "rift.v1";

/// The status a domain error becomes: a safe message, and details a program can match on
/// (`BadRequest` field violations, `ErrorInfo` reasons, `RetryInfo`).
pub fn into_status(error: CoreError) -> Status {
    let message = error.to_string();
    match error {
        CoreError::InvalidArgument { field, description } => Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request_violation(field, description),
        ),
        CoreError::FailedPrecondition { reason, .. } => Status::with_error_details(
            Code::FailedPrecondition,
            message,
            ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()),
        ),
        CoreError::ResourceExhausted { reason, .. } => Status::with_error_details(
            Code::ResourceExhausted,
            message,
            ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()),
        ),
        CoreError::Aborted {
            reason,
            current_version,
            ..
        } => Status::with_error_details(
            Code::Aborted,
            message,
            ErrorDetails::with_error_info(
                reason,
                ERROR_DOMAIN,
                HashMap::from([("current_version".to_owned(), current_version.to_string())]),
            ),
        ),
        CoreError::EpochChanged { current_epoch } => Status::with_error_details(
            Code::Aborted,
            message,
            ErrorDetails::with_error_info(
                reason::EPOCH_CHANGED,
                ERROR_DOMAIN,
                HashMap::from([("current_epoch".to_owned(), current_epoch)]),
            ),
        ),
        CoreError::SubscriberTooSlow { resume_after } => Status::with_error_details(
            Code::ResourceExhausted,
            message,
            ErrorDetails::with_error_info(
                reason::SUBSCRIBER_TOO_SLOW,
                ERROR_DOMAIN,
                HashMap::from([("resume_after".to_owned(), resume_after)]),
            ),
        ),
        CoreError::Unauthenticated { .. } => Status::unauthenticated(message),
        CoreError::PermissionDenied { .. } => Status::permission_denied(message),
        CoreError::DeadlineExceeded => Status::deadline_exceeded(message),
        CoreError::Unavailable { retry_after } => Status::with_error_details(
            Code::Unavailable,
            message,
            ErrorDetails::with_retry_info(Some(retry_after)),
        ),
        CoreError::ShuttingDown => Status::unavailable(message),
        CoreError::Internal => Status::internal(message),
    }
}

/// The canonical name of a status code, as the gRPC spec spells it: error frames, metrics
/// labels and the CLI all use it.
pub fn code_name(code: Code) -> &'static str {
    match code {
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

#[cfg(test)]
mod tests {
    use super::*;

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
