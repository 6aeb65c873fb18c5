//! Wiring: builds the domain from a [`Config`] and serves every adapter on already-bound
//! listeners until a shutdown token fires.
//!
//! One Prometheus registry per server: the domain and each adapter register their own metrics
//! on it, and `GET /metrics` ([`metrics_app`]) serves it, on the HTTP listener or, given one,
//! on a metrics listener of its own.
//!
//! Shutdown order: health turns NOT_SERVING and subscription streams end (both watch the same
//! token), the servers stop accepting and let in-flight calls finish, and whatever is still
//! running when the drain deadline passes is abandoned.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    Router,
    http::{StatusCode, header},
    routing::get,
};
use prometheus::Registry;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    dashboard,
    domain::{
        Agents, CoreConfig,
        memory::{DEFAULT_MAX_EVENTS, InProcessMemory, Memory, RedisConfig, RedisMemory},
    },
    grpc::{self, GrpcConfig},
    telemetry::{self, METRICS_CONTENT_TYPE},
    transport::{self, Edge, GuardLayer, Names, TransportConfig, descriptors, http::HttpLimits},
    ws::{self, WsConfig},
};

/// Which memory backs the agents.
#[derive(Debug, Clone)]
pub enum MemoryConfig {
    /// Embedded, for a machine without Redis; keeps at most `max_events` notifications.
    InProcess {
        /// Notifications retained for replay.
        max_events: usize,
    },
    /// Redis, shared by every process using it.
    Redis(RedisConfig),
}

/// Everything `serve` needs besides its listeners.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which memory backs the agents.
    pub memory: MemoryConfig,
    /// The domain's limits, fan-out and access policy.
    pub core: CoreConfig,
    /// The gRPC adapter's limits.
    pub grpc: GrpcConfig,
    /// The WebSocket adapter's limits.
    pub ws: WsConfig,
    /// The names and origins both listeners answer.
    pub transport: TransportConfig,
    /// How long in-flight calls get to finish once shutdown begins.
    pub drain_timeout: Duration,
    /// Serve non-loopback addresses even though no tokens are configured.
    pub allow_unauthenticated: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            memory: MemoryConfig::InProcess {
                max_events: DEFAULT_MAX_EVENTS,
            },
            core: CoreConfig::default(),
            grpc: GrpcConfig::default(),
            ws: WsConfig::default(),
            transport: TransportConfig::default(),
            drain_timeout: Duration::from_secs(10),
            allow_unauthenticated: false,
        }
    }
}

/// The sockets Rift serves on, bound by the caller (tests bind `127.0.0.1:0`).
#[derive(Debug)]
pub struct Listeners {
    /// gRPC (and grpc-web).
    pub grpc: TcpListener,
    /// WebSocket and plain HTTP: the dashboard, `/healthz`, and `/metrics` unless `metrics` is
    /// given.
    pub http: TcpListener,
    /// `/metrics` alone, off the public port; `None` serves it on `http`.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds every address; `metrics` is optional.
    pub async fn bind(
        grpc: SocketAddr,
        http: SocketAddr,
        metrics: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            listen(addr).with_context(|| format!("binding the {what} address {addr}"))
        };
        Ok(Self {
            grpc: bind(grpc, "gRPC").await?,
            http: bind(http, "HTTP").await?,
            metrics: match metrics {
                Some(addr) => Some(bind(addr, "metrics").await?),
                None => None,
            },
        })
    }
}

/// Connections the kernel queues for a listener that is not accepting (at its connection cap):
/// the default of 128 would drop the SYNs of every caller past it, legitimate ones included.
const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with a [`LISTEN_BACKLOG`]-deep queue.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Builds the memory a config names. Redis is connected lazily: Rift starts while it is down.
pub fn open_memory(config: &MemoryConfig) -> anyhow::Result<Arc<dyn Memory>> {
    Ok(match config {
        MemoryConfig::InProcess { max_events } => Arc::new(InProcessMemory::new(*max_events)),
        MemoryConfig::Redis(redis) => Arc::new(RedisMemory::open(redis.clone())?),
    })
}

/// Secure by default: without tokens, only loopback addresses are served, unless the operator
/// said otherwise in so many words. The metrics listener is not checked: it serves no task data
/// and asks for no token in any case.
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
    // rustls' provider for both listeners and for Redis's `rediss://`.
    transport::install_crypto_provider();
    let mut config = config;
    // Each listener's share of the descriptors, so a flood on one leaves the other room.
    let descriptors = descriptors::raise_limit();
    let share = descriptors.map_or(usize::MAX, descriptors::listener_share);
    // Past its share a listener stops accepting: further clients wait in the kernel's accept
    // queue with no answer, so a limit the descriptors cannot back is said once, here.
    let configured = config
        .grpc
        .max_connections
        .max(config.transport.max_http_connections);
    if configured > share {
        tracing::warn!(
            descriptor_limit = descriptors,
            connections_per_listener = share,
            configured,
            "the open-file limit caps each listener below its configured connection limit; \
             raise the hard RLIMIT_NOFILE (e.g. LimitNOFILE=) to allow more"
        );
    }
    config.grpc.max_connections = config.grpc.max_connections.min(share);
    let http_limits = HttpLimits {
        max_connections: config.transport.max_http_connections.min(share),
        handshake_timeout: config.transport.handshake_timeout,
        header_read_timeout: config.transport.header_read_timeout,
        keepalive: config.transport.keepalive,
    };
    let own_ports = [&listeners.grpc, &listeners.http]
        .into_iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<std::io::Result<Vec<_>>>()?;
    let names = Arc::new(
        Names::new(
            &config.transport.public_hosts,
            &config.transport.allowed_origins,
            own_ports,
        )
        .map_err(anyhow::Error::msg)?,
    );
    let guard = GuardLayer::new(names.clone());
    let tls = match &config.transport.tls {
        Some(tls) => Some(tokio_rustls::TlsAcceptor::from(transport::server_config(
            tls,
        )?)),
        None => None,
    };
    let edge = Edge {
        config: config.transport.clone(),
        names,
        tls,
    };
    let memory = open_memory(&config.memory)?;
    match memory.check_layout().await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => anyhow::bail!("{why}"),
        Err(error) => {
            tracing::warn!(%error, "cannot check how the data in memory is laid out yet; checking before the first write");
        }
    }
    let metrics_addr = match &listeners.metrics {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    tracing::info!(
        memory = memory.backend(),
        memory_address = %memory.address(),
        tokens = if config.core.access.is_open() { "off: no token is asked for" } else { "on" },
        grpc = %listeners.grpc.local_addr()?,
        http = %listeners.http.local_addr()?,
        metrics = metrics_addr.map(tracing::field::display),
        tls = if edge.tls.is_some() { "on" } else { "off" },
        open_files = descriptors,
        grpc_connections = config.grpc.max_connections,
        http_connections = http_limits.max_connections,
        "rift serving; {}",
        match &config.memory {
            MemoryConfig::InProcess { .. } =>
                "in-process memory: nothing is shared or kept across restarts (give --redis-url for Redis)",
            MemoryConfig::Redis(_) => "Redis memory",
        }
    );
    let agents = Agents::start(memory, config.core, shutdown.clone());
    let registry = Registry::new();
    agents.register_metrics(&registry)?;

    let mut servers = JoinSet::new();
    servers.spawn(grpc::serve(
        listeners.grpc,
        agents.clone(),
        config.grpc,
        edge.clone(),
        registry.clone(),
        shutdown.clone(),
    ));
    let app = http_app(agents, config.ws, &registry, shutdown.clone())?;
    let app = match listeners.metrics {
        Some(listener) => {
            servers.spawn(serve_http(
                listener,
                metrics_app(registry).layer(guard.clone()),
                http_limits,
                edge.tls.clone(),
                shutdown.clone(),
                "metrics server",
            ));
            app
        }
        None => app.merge(metrics_app(registry)),
    };
    servers.spawn(serve_http(
        listeners.http,
        // Outermost: a foreign Host or Origin reaches no route.
        app.layer(guard),
        http_limits,
        edge.tls.clone(),
        shutdown.clone(),
        "HTTP server",
    ));

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

/// Serves `app` on `listener` within `limits` until `shutdown`, then lets in-flight requests
/// finish.
async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
    what: &'static str,
) -> anyhow::Result<()> {
    transport::http::serve(listener, app, limits, tls, shutdown)
        .await
        .context(what)
}

/// The HTTP face: the WebSocket adapter (its metrics registered on `registry`), the dashboard
/// (`/`) and the probes (`/livez`, `/readyz`, `/healthz`); [`metrics_app`] is merged in or served apart. WebSocket
/// connections close when `shutdown` is cancelled.
pub fn http_app(
    agents: Agents,
    ws_config: WsConfig,
    registry: &Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<Router> {
    let readiness = agents.readiness();
    let ws = ws::router(agents, ws_config, registry, shutdown)
        .context("registering the WebSocket adapter's metrics")?;
    let ready = move || {
        let now = *readiness.borrow();
        async move {
            let status = if now.is_ready() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, format!("{}\n", now.describe()))
        }
    };
    Ok(Router::new()
        // Readiness: memory answers and has room. `/healthz` is the older name of the same.
        .route("/readyz", get(ready.clone()))
        .route("/healthz", get(ready))
        // Liveness: the process serves, whatever memory does.
        .route("/livez", get(|| async { "live\n" }))
        .merge(dashboard::router())
        .merge(ws))
}

/// `GET /metrics`: every metric of `registry`, in the Prometheus text format.
pub fn metrics_app(registry: Registry) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = telemetry::render(&registry);
            async move { ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text) }
        }),
    )
}
