//! The transport's command-line flags, flattened into `rift serve`'s.

use std::{path::PathBuf, time::Duration};

use super::{TlsConfig, TransportConfig};

/// Flags of [`TransportConfig`] (`--max-connections`, the WebSocket limit, sets the HTTP
/// listener's cap with [`super::HTTP_HEADROOM`] more, in `rift serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct TransportArgs {
    /// A DNS name this server is reached by (repeat, or separate with commas), e.g. the name
    /// behind a proxy; `*.example.com` names every subdomain. Requests with any other `Host`
    /// get 421 (DNS rebinding); loopback names and IP addresses need no listing.
    #[arg(long, env = "RIFT_PUBLIC_HOST", value_delimiter = ',')]
    pub public_host: Vec<String>,
    /// A browser origin (`scheme://host[:port]`) allowed to call besides the server's own
    /// (repeat, or separate with commas). WebSocket upgrades and grpc-web calls from any
    /// other page get 403.
    #[arg(long, env = "RIFT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// How long a new connection has to send its first bytes (HTTP/2 preface, HTTP/1 request
    /// head) before it is closed, in milliseconds.
    #[arg(long, env = "RIFT_HANDSHAKE_TIMEOUT_MS", default_value_t = millis(TransportConfig::default().handshake_timeout), value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout_ms: u64,
    /// How long an HTTP/1 client has to send a whole request head, in milliseconds.
    #[arg(long, env = "RIFT_HEADER_READ_TIMEOUT_MS", default_value_t = millis(TransportConfig::default().header_read_timeout), value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// HTTP/2 keepalive: a ping every this many seconds, and a peer that has not answered
    /// within as many more is dropped; TCP keepalive probes after this much silence. 0: off.
    #[arg(long, env = "RIFT_KEEPALIVE_SECS", default_value_t = TransportConfig::default().keepalive.map_or(0, |keepalive| keepalive.as_secs()))]
    pub keepalive_secs: u64,
    /// gRPC calls in progress at once on one connection; more are shed with
    /// RESOURCE_EXHAUSTED on that connection, so one heavy caller does not starve the rest.
    #[arg(long, env = "RIFT_MAX_IN_FLIGHT_PER_CONNECTION", default_value_t = TransportConfig::default().max_in_flight_per_connection, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_in_flight_per_connection: usize,
    /// TLS on both listeners (gRPC and grpc-web, the dashboard, `wss://`): the certificate
    /// chain, PEM, leaf first. Needs --tls-key.
    #[arg(long, env = "RIFT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM.
    #[arg(long, env = "RIFT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: only clients with a certificate from these CAs (PEM) may connect.
    #[arg(long, env = "RIFT_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

/// A default duration as a flag's whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl TransportArgs {
    /// The config these flags say, for a server taking `max_websockets` WebSockets.
    pub fn into_config(self, max_websockets: usize) -> TransportConfig {
        let Self {
            public_host,
            allowed_origins,
            handshake_timeout_ms,
            header_read_timeout_ms,
            keepalive_secs,
            max_in_flight_per_connection,
            tls_cert,
            tls_key,
            tls_client_ca,
        } = self;
        TransportConfig {
            public_hosts: public_host,
            allowed_origins,
            handshake_timeout: Duration::from_millis(handshake_timeout_ms),
            header_read_timeout: Duration::from_millis(header_read_timeout_ms),
            keepalive: (keepalive_secs > 0).then(|| Duration::from_secs(keepalive_secs)),
            max_in_flight_per_connection,
            max_http_connections: max_websockets.saturating_add(super::HTTP_HEADROOM),
            tls: tls_cert.zip(tls_key).map(|(cert, key)| TlsConfig {
                cert,
                key,
                client_ca: tls_client_ca,
            }),
        }
    }
}
