//! Wiring: builds the domain from a [`Config`] and serves every adapter on already-bound
//! listeners until a shutdown token fires.
//!
//! Shutdown order: health turns NOT_SERVING and subscription streams end (both watch the same
//! token), the servers stop accepting and let in-flight calls finish, and whatever is still
//! running when the drain deadline passes is abandoned.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    Router,
    http::{StatusCode, header},
    routing::get,
    serve::ListenerExt as _,
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    dashboard,
    domain::{
        Agents, CoreConfig,
        memory::{InProcessMemory, Memory, RedisConfig, RedisMemory},
    },
    grpc::{self, GrpcConfig},
    telemetry::METRICS_CONTENT_TYPE,
    ws::{self, WsConfig},
};

/// Which memory backs the agents.
#[derive(Debug, Clone)]
pub enum MemoryConfig {
    /// Embedded, for a machine without Redis; keeps at most `max_events` notifications.
    InProcess {
        max_events: usize,
    },
    Redis(RedisConfig),
}

/// Everything `serve` needs besides its listeners.
#[derive(Debug, Clone)]
pub struct Config {
    pub memory: MemoryConfig,
    pub core: CoreConfig,
    pub grpc: GrpcConfig,
    pub ws: WsConfig,
    /// How long in-flight calls get to finish once shutdown begins.
    pub drain_timeout: Duration,
    /// Serve non-loopback addresses even though no tokens are configured.
    pub allow_unauthenticated: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            memory: MemoryConfig::InProcess {
                max_events: 100_000,
            },
            core: CoreConfig::default(),
            grpc: GrpcConfig::default(),
            ws: WsConfig::default(),
            drain_timeout: Duration::from_secs(10),
            allow_unauthenticated: false,
        }
    }
}

/// The sockets Rift serves on, bound by the caller (tests bind `127.0.0.1:0`).
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    /// WebSocket and plain HTTP.
    pub http: TcpListener,
}

impl Listeners {
    pub async fn bind(
        grpc: std::net::SocketAddr,
        http: std::net::SocketAddr,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            grpc: TcpListener::bind(grpc)
                .await
                .with_context(|| format!("binding the gRPC address {grpc}"))?,
            http: TcpListener::bind(http)
                .await
                .with_context(|| format!("binding the HTTP address {http}"))?,
        })
    }
}

/// Builds the memory a config names. Redis is connected lazily: Rift starts while it is down.
pub fn open_memory(config: &MemoryConfig) -> anyhow::Result<Arc<dyn Memory>> {
    Ok(match config {
        MemoryConfig::InProcess { max_events } => Arc::new(InProcessMemory::new(*max_events)),
        MemoryConfig::Redis(redis) => Arc::new(RedisMemory::open(redis.clone())?),
    })
}

/// Secure by default: without tokens, only loopback addresses are served, unless the operator
/// said otherwise in so many words.
fn refuse_open_exposure(config: &Config, listeners: &Listeners) -> anyhow::Result<()> {
    if !config.core.access.is_open() || config.allow_unauthenticated {
        return Ok(());
    }
    for listener in [&listeners.grpc, &listeners.http] {
        let addr = listener.local_addr()?;
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "refusing to serve {addr} without authentication: give --tokens-file, \
             or --allow-unauthenticated to serve it open anyway"
        );
    }
    Ok(())
}

/// Serves gRPC and HTTP until `shutdown` is cancelled, then drains within the deadline.
/// Returns early with an error if a server fails.
pub async fn serve(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    refuse_open_exposure(&config, &listeners)?;
    let memory = open_memory(&config.memory)?;
    tracing::info!(
        memory = memory.backend(),
        grpc = %listeners.grpc.local_addr()?,
        http = %listeners.http.local_addr()?,
        "rift serving; {}",
        match &config.memory {
            MemoryConfig::InProcess { .. } =>
                "in-process memory: nothing is shared or kept across restarts (give --redis-url for Redis)",
            MemoryConfig::Redis(_) => "Redis memory",
        }
    );
    let agents = Agents::start(memory, config.core, shutdown.clone());

    let mut servers = JoinSet::new();
    servers.spawn(grpc::serve(
        listeners.grpc,
        agents.clone(),
        config.grpc,
        shutdown.clone(),
    ));
    let app = http_app(agents, config.ws, shutdown.clone());
    let http_shutdown = shutdown.clone();
    // Replies are small and latency-bound: Nagle's algorithm would hold them back.
    let http = listeners.http.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    servers.spawn(async move {
        axum::serve(http, app)
            .with_graceful_shutdown(http_shutdown.cancelled_owned())
            .await
            .context("HTTP server")
    });

    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(finished) = servers.join_next() => {
            // A server stopped before shutdown: take the rest down with it.
            shutdown.cancel();
            finished??;
        }
    }
    tracing::info!(deadline = ?config.drain_timeout, "shutting down; draining in-flight calls");
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while let Some(finished) = servers.join_next().await {
            finished??;
        }
        anyhow::Ok(())
    })
    .await;
    match drained {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("drain deadline passed; abandoning the calls still in flight");
            servers.shutdown().await;
            Ok(())
        }
    }
}

/// The HTTP face: the WebSocket adapter, the dashboard (`/`), a plain health probe and
/// Prometheus metrics. WebSocket connections close when `shutdown` is cancelled.
pub fn http_app(agents: Agents, ws_config: WsConfig, shutdown: CancellationToken) -> Router {
    let available = agents.availability();
    let metrics = agents.clone();
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let up = *available.borrow();
                async move {
                    if up {
                        (StatusCode::OK, "serving\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "memory unavailable\n")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let telemetry = metrics.telemetry();
                telemetry.set_subscribers(metrics.subscriber_count());
                let text = telemetry.render();
                async move { ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text) }
            }),
        )
        .merge(dashboard::router())
        .merge(ws::router(agents, ws_config, shutdown))
}
