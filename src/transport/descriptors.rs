//! File descriptors: every connection takes one, and a process out of them can accept
//! nothing, on any listener, probes included.
//!
//! At startup the soft `RLIMIT_NOFILE` is raised to the hard limit (distributions default the
//! soft one to 1,024 for compatibility with `select`, which Rift does not use). Of what is
//! then allowed, [`RESERVED`] stay for everything that is not a client connection (Redis
//! connections, the log, files), and each of the two listeners may hold half of the rest, so
//! a flood on one cannot starve the other.

/// Descriptors kept for everything that is not a client connection.
pub const RESERVED: u64 = 128;

/// Raises the soft descriptor limit as far as the hard one allows; returns the limit in force
/// (`None` where it cannot be read).
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// Connections each of the two listeners may hold under `limit` descriptors.
pub fn listener_share(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(RESERVED) / 2)
        .unwrap_or(usize::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_listener_gets_half_of_what_the_reserve_leaves() {
        assert_eq!(listener_share(1024), 448);
        assert_eq!(listener_share(256), 64);
        assert_eq!(listener_share(100), 1);
    }
}
