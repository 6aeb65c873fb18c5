//! Building gRPC requests and reading the rich error details Rift attaches to a status.

use prost_types::{Value, value::Kind};
use tonic_types::{ErrorInfo, StatusExt};

/// `items` as protobuf string values, the shape `AnalyzeRequest.data` takes.
pub(crate) fn strings(items: &[&str]) -> Vec<Value> {
    items
        .iter()
        .map(|s| Value {
            kind: Some(Kind::StringValue((*s).to_owned())),
        })
        .collect()
}

/// The ErrorInfo detail of `status`, where Rift puts the machine-readable reason.
pub(crate) fn error_info(status: &tonic::Status) -> ErrorInfo {
    status
        .get_error_details()
        .error_info()
        .cloned()
        .expect("ErrorInfo detail")
}

/// The field a status's BadRequest details blame.
pub(crate) fn violated_field(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let bad_request = details.bad_request().expect("BadRequest details");
    bad_request.field_violations[0].field.clone()
}
