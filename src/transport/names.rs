//! Which `Host` and `Origin` a request may carry: the server's own names, and the origins
//! allowed to drive it from a browser.
//!
//! Two attacks from an ordinary web page against a Rift on the operator's machine:
//!
//! - Cross-site: the page opens `ws://127.0.0.1:8000/ws` or sends a grpc-web call to the gRPC
//!   port. The browser says who is asking in `Origin`, so a foreign origin is refused.
//! - DNS rebinding: the page's own name (`evil.example`) is made to resolve to 127.0.0.1, so
//!   its requests are same-origin as far as the browser knows. The browser still sends
//!   `Host: evil.example`, so a name the server does not answer to is refused.
//!
//! A name is the server's when it is an IP literal (no DNS, so nothing to rebind: the Origin
//! check covers pages on other addresses), `localhost` or a `*.localhost` name (browsers
//! resolve those to loopback themselves), or listed with `--public-host`. An origin is allowed
//! when it is the server's own (its host the request's `Host`, its port that one or another of
//! the server's listeners: the dashboard on the HTTP port calls the gRPC port) or listed with
//! `--allowed-origins`. Requests without `Origin` come from programs, not pages, and pass.

use std::net::IpAddr;

/// The names a server answers to and the origins it lets in; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// `--public-host`: DNS names (lowercase, no port); `*.example.com` matches subdomains.
    public_hosts: Vec<String>,
    /// `--allowed-origins`, normalised as [`Origin::normalised`] writes them.
    allowed_origins: Vec<String>,
    /// The ports of the server's own listeners.
    own_ports: Vec<u16>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `Host` names no name of this server: 421 Misdirected Request.
    #[error(
        "Host {0:?} is not a name of this server: give it with --public-host if it is one \
         (loopback names and IP addresses need nothing)"
    )]
    Host(String),
    /// `Origin` is not allowed: 403 Forbidden.
    #[error(
        "Origin {0:?} may not call this server: only its own origin and those given with \
         --allowed-origins may"
    )]
    Origin(String),
}

impl Names {
    /// The policy for a server on `own_ports`, with the operator's lists (entries that are
    /// not names or origins are an error naming them).
    pub fn new(
        public_hosts: &[String],
        allowed_origins: &[String],
        own_ports: impl IntoIterator<Item = u16>,
    ) -> Result<Self, String> {
        let public_hosts = public_hosts
            .iter()
            .map(|host| {
                let name = host.trim().trim_end_matches('.').to_ascii_lowercase();
                let bare = name.strip_prefix("*.").unwrap_or(&name);
                if bare.is_empty() || bare.contains([':', '/', ' ']) {
                    Err(format!(
                        "--public-host {host:?}: give a host name without scheme or port, \
                         e.g. rift.example.com or *.example.com"
                    ))
                } else {
                    Ok(name)
                }
            })
            .collect::<Result<_, _>>()?;
        let allowed_origins = allowed_origins
            .iter()
            .map(|origin| {
                Origin::parse(origin.trim())
                    .map(|origin| origin.normalised())
                    .ok_or_else(|| {
                        format!(
                            "--allowed-origins {origin:?}: give scheme://host[:port], \
                             e.g. https://app.example.com"
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            public_hosts,
            allowed_origins,
            own_ports: own_ports.into_iter().collect(),
        })
    }

    /// Checks a request's `Host` (or HTTP/2 `:authority`) and `Origin`. A request without a
    /// `Host` (HTTP/1.0) passes the first check; one without `Origin` the second.
    pub fn check(&self, host: Option<&str>, origin: Option<&str>) -> Result<(), Refusal> {
        let host = match host {
            Some(host) => {
                let parsed = Authority::parse(host)
                    .filter(|authority| self.is_own_name(&authority.host))
                    .ok_or_else(|| Refusal::Host(host.to_owned()))?;
                Some(parsed)
            }
            None => None,
        };
        match origin {
            Some(origin) if !self.origin_allowed(origin, host.as_ref()) => {
                Err(Refusal::Origin(origin.to_owned()))
            }
            _ => Ok(()),
        }
    }

    /// Whether a page of `origin` may call, on a request to `host` (already checked).
    pub fn origin_allowed_for(&self, origin: &str, host: Option<&str>) -> bool {
        self.origin_allowed(origin, host.and_then(Authority::parse).as_ref())
    }

    fn origin_allowed(&self, origin: &str, host: Option<&Authority>) -> bool {
        // "null": a sandboxed frame, a file, a redirect across origins: nobody to trust.
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        if self.allowed_origins.contains(&origin.normalised()) {
            return true;
        }
        let Some(host) = host else {
            return false;
        };
        if origin.authority.host != host.host {
            return false;
        }
        let port = origin.port();
        // The page's own server, or another listener of the same server on the same name.
        host.port.unwrap_or(origin.default_port()) == port || self.own_ports.contains(&port)
    }

    fn is_own_name(&self, host: &str) -> bool {
        if host.parse::<IpAddr>().is_ok() || host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        self.public_hosts
            .iter()
            .any(|name| match name.strip_prefix("*.") {
                Some(parent) => host
                    .strip_suffix(parent)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => name == host,
            })
    }
}

/// `host[:port]`, the host lowercase, without the brackets of an IPv6 literal or a final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

impl Authority {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            host.parse::<std::net::Ipv6Addr>().ok()?;
            match after {
                "" => (host, None),
                port => (host, Some(port.strip_prefix(':')?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        let port = match port {
            Some(port) => Some(port.parse().ok()?),
            None => None,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
        valid.then_some(Self { host, port })
    }
}

/// A browser's `Origin`: `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    authority: Authority,
}

impl Origin {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_end_matches('/');
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, text.strip_prefix("http://")?)
        };
        Some(Self {
            https,
            authority: Authority::parse(rest)?,
        })
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    fn port(&self) -> u16 {
        self.authority.port.unwrap_or(self.default_port())
    }

    /// `scheme://host:port`, the port always written, so equal origins compare equal.
    fn normalised(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = &self.authority.host;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        format!("{scheme}://{host}:{}", self.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(
            &["rift.example.com".into(), "*.rift.internal".into()],
            &["https://app.example.com".into()],
            [8000, 50051],
        )
        .expect("valid lists")
    }

    #[test]
    fn loopback_names_addresses_and_public_hosts_are_own_names() {
        let names = names();
        for host in [
            "127.0.0.1:8000",
            "localhost:8000",
            "LOCALHOST",
            "dash.localhost:8000",
            "[::1]:8000",
            "10.1.2.3",
            "rift.example.com",
            "rift.example.com.:443",
            "a.rift.internal:50051",
        ] {
            assert_eq!(names.check(Some(host), None), Ok(()), "{host}");
        }
        for host in [
            "evil.example:8000",
            "rift.example.com.evil.example",
            "rift.internal",
            "localhost.evil.example",
            "",
            "bad host",
            "[not-v6]:80",
        ] {
            assert!(
                matches!(names.check(Some(host), None), Err(Refusal::Host(_))),
                "{host}"
            );
        }
        assert_eq!(names.check(None, None), Ok(()), "HTTP/1.0 sends no Host");
    }

    #[test]
    fn only_own_and_listed_origins_pass() {
        let names = names();
        let host = Some("127.0.0.1:8000");
        for origin in [
            "http://127.0.0.1:8000",
            // The dashboard (HTTP port) calling the gRPC port.
            "http://127.0.0.1:50051",
            "https://app.example.com",
            "https://app.example.com:443/",
        ] {
            assert_eq!(names.check(host, Some(origin)), Ok(()), "{origin}");
        }
        for origin in [
            "http://evil.example",
            "http://localhost:8000",
            "http://127.0.0.1:9999",
            "http://app.example.com",
            "null",
            "file://",
        ] {
            assert!(
                matches!(names.check(host, Some(origin)), Err(Refusal::Origin(_))),
                "{origin}"
            );
        }
        // A proxy's name, on the default port.
        assert_eq!(
            names.check(Some("rift.example.com"), Some("https://rift.example.com")),
            Ok(())
        );
        assert!(names.check(None, Some("http://127.0.0.1:8000")).is_err());
    }

    #[test]
    fn bad_list_entries_are_named() {
        assert!(Names::new(&["http://x".into()], &[], []).is_err());
        assert!(Names::new(&[], &["app.example.com".into()], []).is_err());
    }
}
