//! What both listeners share below the adapters: which requests reach them at all, and how
//! long and how many connections may hold them.
//!
//! # Layout
//!
//! - `names`: the `Host` and `Origin` policy ([`Names`]): the server's own names and the
//!   origins allowed to drive it from a browser.
//! - `guard`: the outermost layer of both listeners, refusing what [`Names`] does not allow
//!   (421 for a foreign `Host`, 403 for a foreign `Origin`).
//! - `accepted`: what every accepted connection gets: TLS if configured ([`Accepted`]), a
//!   handshake deadline and its listener's permit ([`Handshake`]), TCP keepalive.
//! - `http`: the HTTP listener's accept loop, with a connection cap and a header-read timeout.
//! - `tls`: the rustls server config both listeners share ([`TlsConfig`]), mutual TLS with a
//!   client CA.
//! - `descriptors`: the open-file limit raised at startup, a reserve kept, each listener's
//!   share of the rest.
//! - `args`: the flags ([`TransportArgs`]), flattened into `rift serve`'s.

mod accepted;
mod args;
pub mod descriptors;
mod guard;
pub mod http;
mod names;
mod tls;

use std::{sync::Arc, time::Duration};

pub use self::{
    accepted::{Accepted, HANDSHAKE_BYTES, Handshake, configure_accepted},
    args::TransportArgs,
    guard::{Guard, GuardLayer, RefusalBody, host_of},
    names::{Names, Refusal},
    tls::{TlsConfig, TlsError, install_crypto_provider, server_config},
};

/// Connections the HTTP listener takes beyond the WebSocket limit: `/readyz`, `/metrics`, the
/// dashboard's files, and an upgrade past the limit, which is answered (close 1013) rather than
/// left in the kernel's queue.
pub const HTTP_HEADROOM: usize = 64;

/// What the operator says about the transport, besides each adapter's limits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// DNS names the server answers to besides loopback names and IP addresses
    /// (`--public-host`); `*.example.com` names every subdomain.
    pub public_hosts: Vec<String>,
    /// Browser origins allowed besides the server's own (`--allowed-origins`).
    pub allowed_origins: Vec<String>,
    /// How long a new connection has to send its first bytes (the HTTP/2 preface, an HTTP/1
    /// request head) before it is closed.
    pub handshake_timeout: Duration,
    /// How long an HTTP/1 client has to send a whole request head.
    pub header_read_timeout: Duration,
    /// HTTP/2 ping interval and deadline for its answer, and the idle time before TCP keepalive
    /// probes; `None`: neither.
    pub keepalive: Option<Duration>,
    /// gRPC calls in progress at once on one connection; more are shed with
    /// `RESOURCE_EXHAUSTED`, on that connection only.
    pub max_in_flight_per_connection: usize,
    /// Connections open at once on the HTTP listener, WebSockets included: the WebSocket
    /// limit plus [`HTTP_HEADROOM`], so probes and the one WebSocket too many (told 1013) still
    /// get in when the WebSockets are all taken.
    pub max_http_connections: usize,
    /// TLS on both listeners; `None`: plaintext.
    pub tls: Option<TlsConfig>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            public_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            handshake_timeout: Duration::from_secs(5),
            header_read_timeout: Duration::from_secs(10),
            keepalive: Some(Duration::from_secs(30)),
            max_in_flight_per_connection: 64,
            max_http_connections: 10_000 + HTTP_HEADROOM,
            tls: None,
        }
    }
}

/// What both listeners share, made once at startup: the config, the names policy built from
/// it, and the TLS acceptor.
#[derive(Clone)]
pub struct Edge {
    /// The transport config.
    pub config: TransportConfig,
    /// The `Host` and `Origin` policy.
    pub names: Arc<Names>,
    /// TLS on both listeners, or plaintext.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("config", &self.config)
            .field("names", &self.names)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}
