//! Statuses tonic produces itself, rewritten to the ones gRPC conventions (and the rest of
//! Rift) use.

use std::{
    collections::HashMap,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::{Code, Status, body::Body, codegen::http};
use tonic_types::{ErrorDetails, StatusExt};

use super::ERROR_DOMAIN;
use crate::domain::reason;

/// Three statuses tonic produces itself are not the ones gRPC conventions (and the rest of
/// Rift) use: an over-limit message is OUT_OF_RANGE (should be RESOURCE_EXHAUSTED, with a
/// reason clients can match), an expired `grpc-timeout` is CANCELLED (should be
/// DEADLINE_EXCEEDED), and an undecodable request is INTERNAL (should be INVALID_ARGUMENT). The status may come in the headers (trailers-only response) or in the
/// trailers, so both are rewritten.
pub(super) fn conventional_statuses(response: http::Response<Body>) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    rewrite_status(&mut parts.headers);
    http::Response::from_parts(parts, Body::new(RewrittenTrailers(body)))
}

fn rewrite_status(headers: &mut http::HeaderMap) {
    // Every response passes here; only the two codes above are decoded in full.
    let rewritable = headers.get("grpc-status").is_some_and(|code| {
        matches!(
            Code::from_bytes(code.as_bytes()),
            Code::OutOfRange | Code::Cancelled | Code::Internal
        )
    });
    if !rewritable {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let replacement = match status.code() {
        Code::OutOfRange if status.message().contains("message length too large") => {
            Status::with_error_details(
                Code::ResourceExhausted,
                status.message(),
                ErrorDetails::with_error_info(
                    reason::MESSAGE_TOO_LARGE,
                    ERROR_DOMAIN,
                    HashMap::new(),
                ),
            )
        }
        Code::Cancelled if status.message() == "Timeout expired" => {
            Status::deadline_exceeded("the deadline passed before the call completed")
        }
        // tonic's codec calls every undecodable request (a string that is not UTF-8, a
        // truncated field) INTERNAL; the fault is the request's.
        Code::Internal
            if status
                .message()
                .starts_with("failed to decode Protobuf message") =>
        {
            Status::with_error_details(
                Code::InvalidArgument,
                status.message(),
                ErrorDetails::with_bad_request_violation(
                    "request",
                    "is not a valid protobuf encoding of the method's request message",
                ),
            )
        }
        _ => return,
    };
    if replacement.add_header(headers).is_err() {
        tracing::warn!("could not rewrite a status");
    }
}

/// A response body whose trailers get [`rewrite_status`].
struct RewrittenTrailers(Body);

impl http_body::Body for RewrittenTrailers {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut polled = Pin::new(&mut self.0).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &mut polled
            && let Some(trailers) = frame.trailers_mut()
        {
            rewrite_status(trailers);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}
