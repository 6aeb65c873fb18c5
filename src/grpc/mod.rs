//! The gRPC adapter: `rift.v1.Rift` over [`Agents`](crate::domain::Agents), plus reflection
//! (v1 and v1alpha) and `grpc.health.v1`.
//!
//! The same port speaks grpc-web (HTTP/1.1 or HTTP/2, with CORS), so a browser calls the typed
//! API directly, server-streaming Subscribe included, without a proxy, from the server's own
//! origin or one the operator allowed (`--allowed-origins`).
//!
//! Health follows the memory layer: SERVING while it answers, NOT_SERVING while it does not
//! and from the moment shutdown begins.
//!
//! # Layout
//!
//! - `server`: assembly: the services and the layers around them, on an injected listener.
//! - `authorize`: the bearer token checked from the headers, before a body is read.
//! - `service`: `rift.v1.Rift` over the agents; `convert`, `encoded` and `bounded` for its
//!   messages.
//! - `status`: domain errors as statuses, once; `status_rewrite`: tonic's own statuses made
//!   conventional.
//! - `observe`: request ids, spans, call metrics and access lines.
//! - `cors` (allowed origins only, from [`crate::transport::Names`]), `connections` (the
//!   accept loop: connection limit, TLS handshakes, handshake deadline; `coalesce`, its
//!   writes), `health`.

mod authorize;
mod bounded;
mod coalesce;
mod connections;
mod convert;
mod cors;
mod encoded;
mod health;
mod observe;
mod server;
mod service;
mod status;
mod status_rewrite;

pub use self::{
    bounded::BoundedAnalyzeRequest,
    convert::{json_from_proto, proto_from_json},
    encoded::EncodedNotification,
    health::{LIVENESS_SERVICE, READINESS_SERVICE},
    observe::REQUEST_ID_HEADER,
    server::{GrpcConfig, serve},
    service::RiftService,
    status::{ERROR_DOMAIN, code_name, into_status},
};

/// Service name health reports under, besides the whole server ("").
pub const SERVICE_NAME: &str = "rift.v1.Rift";
