//! Whether this server can do its work, as memory's latest answers say: what health,
//! `/readyz` and the gRPC health service report.
//!
//! Readiness is about memory only. Liveness (the process answers at all) never depends on
//! it, so an orchestrator restarts a Rift that hangs but not every Rift when Redis is down.

/// What memory's latest answers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Memory answers and has room: ready.
    Ready,
    /// Memory cannot be reached (or has not been yet); retrying may succeed.
    Unavailable,
    /// Memory refuses this server (wrong or missing password, missing permissions, its own
    /// configuration) until an operator acts.
    Refused,
    /// Memory answers but is full (Redis `OOM` at `maxmemory`): writes fail until room is
    /// made; reads still work.
    Full,
}

impl Readiness {
    /// Whether callers can expect their writes to succeed.
    pub fn is_ready(self) -> bool {
        self == Readiness::Ready
    }

    /// Whether memory answered at all (full counts: it answered).
    pub fn is_reachable(self) -> bool {
        matches!(self, Readiness::Ready | Readiness::Full)
    }

    /// One line for a person, as `/readyz` and `/healthz` print it.
    pub fn describe(self) -> &'static str {
        match self {
            Readiness::Ready => "serving",
            Readiness::Unavailable => "memory unavailable",
            Readiness::Refused => {
                "memory refuses this server: check its credentials and configuration"
            }
            Readiness::Full => "memory full",
        }
    }
}
