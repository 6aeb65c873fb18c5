//! What the domain measures: memory availability and the notification fan-out.
//!
//! The domain records through [`Telemetry`], which knows no transport and no registry; a
//! server exposes it by registering it ([`crate::domain::Agents::register_metrics`]).
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `rift_subscribers` | gauge | |
//! | `rift_notification_delivery_delay_seconds` | histogram | |
//! | `rift_notification_lagged_total` | counter | |
//! | `rift_memory_unavailable_total` | counter | |
//! | `rift_memory_available` | gauge | |
//! | `rift_memory_availability_changes_total` | counter | `to` (`up`, `down`) |

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, SystemTime},
};

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    core::{Collector, Desc},
    proto::MetricFamily,
};

use crate::telemetry::LATENCY_BUCKETS;

/// The domain's metrics. Cheap to clone; every clone records into the same metrics.
#[derive(Clone)]
pub(crate) struct Telemetry {
    metrics: Arc<Metrics>,
}

struct Metrics {
    delivery_delay: Histogram,
    lagged: IntCounter,
    memory_unavailable: IntCounter,
    memory_available: IntGauge,
    memory_changes: IntCounterVec,
    /// Last availability seen: [`UNKNOWN`], [`DOWN`] or [`UP`]. The first observation is not
    /// a change, so a start is not counted as a reconnect.
    memory_state: AtomicU8,
}

const UNKNOWN: u8 = 0;
const DOWN: u8 = 1;
const UP: u8 = 2;

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    pub(crate) fn new() -> Self {
        let metrics = (|| {
            prometheus::Result::Ok(Metrics {
                delivery_delay: Histogram::with_opts(
                    HistogramOpts::new(
                        "rift_notification_delivery_delay_seconds",
                        "From a notification's time to its first hand-over to a live \
                         subscriber's transport, once per event (replayed history is not \
                         counted).",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                )?,
                lagged: IntCounter::new(
                    "rift_notification_lagged_total",
                    "Live notifications a slow subscriber missed in the shared buffer and \
                     re-read from memory.",
                )?,
                memory_unavailable: IntCounter::new(
                    "rift_memory_unavailable_total",
                    "Memory (Redis) calls that found it unreachable: requests, health probes, \
                     replays and the notification tail.",
                )?,
                memory_available: IntGauge::new(
                    "rift_memory_available",
                    "1 while memory answers, 0 while it does not.",
                )?,
                memory_changes: IntCounterVec::new(
                    Opts::new(
                        "rift_memory_availability_changes_total",
                        "Memory availability flips: to=\"down\" when it stopped answering, \
                         to=\"up\" when it came back (a reconnect).",
                    ),
                    &["to"],
                )?,
                memory_state: AtomicU8::new(UNKNOWN),
            })
        })()
        // Names and labels are constants: a failure is a programming error a test catches.
        .expect("metric definitions are valid");
        Self {
            metrics: Arc::new(metrics),
        }
    }

    /// Puts these metrics on `registry`, with `rift_subscribers` read from `subscribers`
    /// whenever the registry is gathered.
    pub(crate) fn register(
        &self,
        registry: &Registry,
        subscribers: impl Fn() -> usize + Send + Sync + 'static,
    ) -> prometheus::Result<()> {
        let metrics = &self.metrics;
        registry.register(Box::new(metrics.delivery_delay.clone()))?;
        registry.register(Box::new(metrics.lagged.clone()))?;
        registry.register(Box::new(metrics.memory_unavailable.clone()))?;
        registry.register(Box::new(metrics.memory_available.clone()))?;
        registry.register(Box::new(metrics.memory_changes.clone()))?;
        registry.register(Box::new(Subscribers {
            gauge: IntGauge::new(
                "rift_subscribers",
                "Notification subscriptions open now (gRPC Subscribe streams and WebSocket \
                 watches).",
            )?,
            count: Box::new(subscribers),
        }))
    }

    /// A live notification minted at `time` is handed to a subscriber now.
    pub(crate) fn notification_delivered(&self, time: SystemTime) {
        // Another host's clock (Redis mints the ids) may be a little ahead: count that as 0.
        let delay = SystemTime::now()
            .duration_since(time)
            .unwrap_or(Duration::ZERO);
        self.metrics.delivery_delay.observe(delay.as_secs_f64());
    }

    /// A subscriber fell `missed` notifications behind the shared buffer.
    pub(crate) fn subscriber_lagged(&self, missed: u64) {
        self.metrics.lagged.inc_by(missed);
    }

    /// A memory call found memory unreachable.
    pub(crate) fn memory_unavailable(&self) {
        self.metrics.memory_unavailable.inc();
    }

    /// Memory answered (`true`) or could not be reached (`false`); counts the flips.
    pub(crate) fn memory_observed(&self, available: bool) {
        let state = if available { UP } else { DOWN };
        // Called after every memory call: a plain load while nothing changed.
        if self.metrics.memory_state.load(Ordering::Relaxed) == state {
            return;
        }
        self.metrics.memory_available.set(i64::from(available));
        let before = self.metrics.memory_state.swap(state, Ordering::Relaxed);
        if before != UNKNOWN && before != state {
            let to = if available { "up" } else { "down" };
            self.metrics.memory_changes.with_label_values(&[to]).inc();
        }
    }
}

/// `rift_subscribers`: the count is the notifier's own, read when the registry is gathered, so
/// it is never a copy that could drift.
struct Subscribers {
    gauge: IntGauge,
    count: Box<dyn Fn() -> usize + Send + Sync>,
}

impl Collector for Subscribers {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.gauge
            .set(i64::try_from((self.count)()).unwrap_or(i64::MAX));
        self.gauge.collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::telemetry::render;

    #[test]
    fn only_availability_changes_count_and_the_first_observation_is_not_one() {
        let telemetry = Telemetry::new();
        let registry = Registry::new();
        telemetry.register(&registry, || 0).expect("register");
        telemetry.memory_observed(true);
        telemetry.memory_observed(true);
        let text = render(&registry);
        assert!(text.contains("rift_memory_available 1"), "{text}");
        assert!(
            !text.contains("rift_memory_availability_changes_total{"),
            "{text}"
        );
        telemetry.memory_observed(false);
        telemetry.memory_observed(false);
        telemetry.memory_observed(true);
        let text = render(&registry);
        assert!(
            text.contains(r#"rift_memory_availability_changes_total{to="down"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rift_memory_availability_changes_total{to="up"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn subscribers_are_counted_when_gathered() {
        let open = Arc::new(AtomicUsize::new(3));
        let registry = Registry::new();
        let counted = open.clone();
        Telemetry::new()
            .register(&registry, move || counted.load(Ordering::Relaxed))
            .expect("register");
        assert!(render(&registry).contains("rift_subscribers 3"));
        open.store(1, Ordering::Relaxed);
        assert!(render(&registry).contains("rift_subscribers 1"));
    }
}
