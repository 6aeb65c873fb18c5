//! The transport's command-line flags, flattened into `rift serve`'s.

use super::TransportConfig;

/// Flags of [`TransportConfig`].
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
}

impl TransportArgs {
    /// The config these flags say.
    pub fn into_config(self) -> TransportConfig {
        let Self {
            public_host,
            allowed_origins,
        } = self;
        TransportConfig {
            public_hosts: public_host,
            allowed_origins,
        }
    }
}
