//! Rift: agents that collaborate on tasks through shared memory, served over gRPC and
//! WebSocket.
//!
//! # Layout
//!
//! - [`domain`]: the agents ([`domain::Agents`]), the memory layer ([`domain::memory`]: Redis
//!   or in-process) and the notification fan-out. Knows no transport.
//! - [`grpc`]: the tonic adapter: the `rift.v1.Rift` service, error mapping to `Status`
//!   with details, reflection and health.
//! - [`ws`]: the axum WebSocket adapter: natural-language commands and typed JSON frames
//!   onto the same [`domain::Agents`].
//! - [`transport`]: below the adapters, on both listeners: the `Host` and `Origin` policy.
//! - [`server`]: wiring: builds the domain from a [`server::Config`] and serves every adapter
//!   on already-bound listeners until a shutdown token fires.
//! - [`dashboard`]: the browser dashboard at `/`, files compiled in; it talks to [`ws`].
//! - [`telemetry`]: what the adapters share to observe calls: call metrics, request ids, and
//!   the Prometheus text of a server's registry, on which the domain and each adapter
//!   register their own metrics.
//! - [`traces`]: OpenTelemetry: the OTLP exporter the `OTEL_*` variables switch on, and the W3C
//!   trace context from callers into spans and from writers to subscribers.
//! - [`cli`]: the command-line client (`rift analyze`, `narrate`, `progress`, `task`, `tasks`,
//!   `watch`) over the generated gRPC client.
//! - [`pb`]: code generated from `proto/rift/v1/rift.proto`.

pub mod cli;
pub mod dashboard;
pub mod domain;
pub mod grpc;
pub mod server;
pub mod telemetry;
pub mod traces;
pub mod transport;
pub mod ws;

/// Code generated from `proto/`, and the descriptor set served by reflection.
pub mod pb {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("rift.v1");
    // `rift_server`, generated apart: see `build.rs`.
    include!(concat!(env!("OUT_DIR"), "/server/rift.v1.rs"));

    /// Encoded `FileDescriptorSet` of Rift's protos, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/rift_descriptor.bin"));
}
