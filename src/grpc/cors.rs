//! CORS for grpc-web callers in browsers.

use tonic::codegen::http;

use super::REQUEST_ID_HEADER;

/// CORS for grpc-web callers on any origin: they carry no cookies, so `*` is safe, and every
/// header grpc-web sends or reads must be named (`authorization` for bearer tokens).
pub(super) fn browser_cors() -> tower_http::cors::CorsLayer {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
    use tower_http::cors::{Any, CorsLayer};
    CorsLayer::new()
        .allow_origin(Any)
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
