//! CORS for grpc-web callers in browsers.

use std::sync::Arc;

use tonic::codegen::http;

use super::REQUEST_ID_HEADER;
use crate::transport::{Names, host_of};

/// CORS for grpc-web callers on the origins `names` allows, never `*`: the origin is echoed
/// (with `Vary: Origin`) when allowed. The guard outside has already refused the others; this
/// asks the same policy, so no answer ever names an origin it did not allow. Every header
/// grpc-web sends or reads must be named (`authorization` for bearer tokens).
pub(super) fn browser_cors(names: Arc<Names>) -> tower_http::cors::CorsLayer {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, request| {
            origin.to_str().is_ok_and(|origin| {
                names.origin_allowed_for(origin, host_of(&request.uri, &request.headers))
            })
        }))
        .allow_methods([http::Method::POST])
        .allow_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
            HeaderName::from_static(REQUEST_ID_HEADER),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
            HeaderName::from_static(REQUEST_ID_HEADER),
        ])
        .max_age(std::time::Duration::from_secs(24 * 60 * 60))
}
