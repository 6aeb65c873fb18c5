//! `grpc.health.v1`: readiness and liveness under service names of their own.
//!
//! - `""` (the whole server), `rift.v1.Rift` and [`READINESS_SERVICE`]: SERVING while memory
//!   answers and has room, NOT_SERVING while it is unreachable, refuses this server or is
//!   full, and from the moment shutdown begins. A readiness probe.
//! - [`LIVENESS_SERVICE`]: SERVING as long as the process serves at all, whatever memory
//!   does, so a Redis outage never gets every Rift restarted. A liveness probe.

use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use super::SERVICE_NAME;
use crate::domain::Agents;

/// The health service name that reflects readiness (memory), like `""` and `rift.v1.Rift`.
pub const READINESS_SERVICE: &str = "readiness";
/// The health service name that stays SERVING while the process serves: for liveness probes.
pub const LIVENESS_SERVICE: &str = "liveness";

/// Mirrors readiness into `grpc.health.v1` until shutdown, then reports NOT_SERVING.
pub(super) async fn report_health(
    agents: Agents,
    reporter: HealthReporter,
    shutdown: CancellationToken,
) {
    reporter
        .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
        .await;
    let mut readiness = agents.readiness();
    loop {
        let status = if readiness.borrow_and_update().is_ready() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        report(&reporter, status).await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = readiness.changed() => if changed.is_err() { break },
        }
    }
    report(&reporter, ServingStatus::NotServing).await;
}

/// The same status for every name that reflects readiness.
async fn report(reporter: &HealthReporter, status: ServingStatus) {
    for service in ["", SERVICE_NAME, READINESS_SERVICE] {
        reporter.set_service_status(service, status).await;
    }
}
