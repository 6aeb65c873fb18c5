//! `grpc.health.v1`: SERVING while memory answers, NOT_SERVING while it does not and from the
//! moment shutdown begins.

use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use super::SERVICE_NAME;
use crate::domain::Agents;

/// Mirrors memory availability into `grpc.health.v1` until shutdown, then reports NOT_SERVING.
pub(super) async fn report_health(
    agents: Agents,
    reporter: HealthReporter,
    shutdown: CancellationToken,
) {
    let mut available = agents.availability();
    loop {
        let status = if *available.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        report(&reporter, status).await;
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = available.changed() => if changed.is_err() { break },
        }
    }
    report(&reporter, ServingStatus::NotServing).await;
}

/// The same status for the whole server ("") and for `rift.v1.Rift`.
async fn report(reporter: &HealthReporter, status: ServingStatus) {
    for service in ["", SERVICE_NAME] {
        reporter.set_service_status(service, status).await;
    }
}
