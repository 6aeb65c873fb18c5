//! What both listeners share below the adapters: which requests reach them at all.
//!
//! # Layout
//!
//! - `names`: the `Host` and `Origin` policy ([`Names`]): the server's own names and the
//!   origins allowed to drive it from a browser.
//! - `args`: the flags ([`TransportArgs`]), flattened into `rift serve`'s.
//! - `guard`: the outermost layer of both listeners, refusing what [`Names`] does not allow
//!   (421 for a foreign `Host`, 403 for a foreign `Origin`).

mod args;
mod guard;
mod names;

pub use self::{
    args::TransportArgs,
    guard::{Guard, GuardLayer, RefusalBody, host_of},
    names::{Names, Refusal},
};

/// What the operator says about the transport, besides each adapter's limits.
#[derive(Debug, Clone, Default)]
pub struct TransportConfig {
    /// DNS names the server answers to besides loopback names and IP addresses
    /// (`--public-host`); `*.example.com` names every subdomain.
    pub public_hosts: Vec<String>,
    /// Browser origins allowed besides the server's own (`--allowed-origins`).
    pub allowed_origins: Vec<String>,
}
