//! Telemetry: Prometheus metrics and request ids, shared by the domain and both adapters.
//!
//! One [`Telemetry`] per server, with a registry of its own, so two servers in one process
//! (tests) never mix their counts. The adapters record calls ([`Telemetry::call_finished`])
//! and open WebSocket connections; the domain records what only it sees: memory failures,
//! availability flips, and how late live notifications reach their subscribers. Nothing here
//! knows a transport: `GET /metrics` (in `crate::server`) serves [`Telemetry::render`].
//!
//! # Metrics
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `rift_calls_total` | counter | `operation`, `transport` (`grpc`, `websocket`), `code` |
//! | `rift_call_duration_seconds` | histogram | `operation`, `transport` |
//! | `rift_websocket_connections` | gauge | |
//! | `rift_subscribers` | gauge | |
//! | `rift_notification_delivery_delay_seconds` | histogram | |
//! | `rift_notification_lagged_total` | counter | |
//! | `rift_memory_unavailable_total` | counter | |
//! | `rift_memory_available` | gauge | |
//! | `rift_memory_availability_changes_total` | counter | `to` (`up`, `down`) |
//!
//! `code` is the gRPC canonical status name (`OK`, `INVALID_ARGUMENT`, ...) on both
//! transports, as WebSocket error frames spell it.

use std::{
    fmt,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The content type of [`Telemetry::render`]'s output.
pub const METRICS_CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Which adapter served a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    WebSocket,
}

impl Transport {
    pub fn as_str(&self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::WebSocket => "websocket",
        }
    }
}

/// Latency buckets, in seconds: from half a millisecond (an in-process call) to ten seconds
/// (the default request timeout).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metrics of one server. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    metrics: Arc<Metrics>,
}

struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    latency: HistogramVec,
    websocket_connections: IntGauge,
    subscribers: IntGauge,
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

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let registry = Registry::new();
        let calls = IntCounterVec::new(
            Opts::new(
                "rift_calls_total",
                "Calls served, by operation, transport and status code.",
            ),
            &["operation", "transport", "code"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rift_call_duration_seconds",
                "Time from request to final status, by operation and transport (for Subscribe: \
                 how long the stream lasted).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation", "transport"],
        );
        let websocket_connections = IntGauge::new(
            "rift_websocket_connections",
            "WebSocket connections open now.",
        );
        let subscribers = IntGauge::new(
            "rift_subscribers",
            "Notification subscriptions open now (gRPC Subscribe streams and WebSocket watches).",
        );
        let delivery_delay = Histogram::with_opts(
            HistogramOpts::new(
                "rift_notification_delivery_delay_seconds",
                "From a notification's time to its first hand-over to a live subscriber's \
                 transport, once per event (replayed history is not counted).",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        );
        let lagged = IntCounter::new(
            "rift_notification_lagged_total",
            "Live notifications a slow subscriber missed in the shared buffer and re-read from \
             memory.",
        );
        let memory_unavailable = IntCounter::new(
            "rift_memory_unavailable_total",
            "Memory (Redis) calls that found it unreachable: requests, health probes, replays and \
             the notification tail.",
        );
        let memory_available = IntGauge::new(
            "rift_memory_available",
            "1 while memory answers, 0 while it does not.",
        );
        let memory_changes = IntCounterVec::new(
            Opts::new(
                "rift_memory_availability_changes_total",
                "Memory availability flips: to=\"down\" when it stopped answering, to=\"up\" when \
                 it came back (a reconnect).",
            ),
            &["to"],
        );
        let metrics = (|| {
            let metrics = Metrics {
                registry,
                calls: calls?,
                latency: latency?,
                websocket_connections: websocket_connections?,
                subscribers: subscribers?,
                delivery_delay: delivery_delay?,
                lagged: lagged?,
                memory_unavailable: memory_unavailable?,
                memory_available: memory_available?,
                memory_changes: memory_changes?,
                memory_state: AtomicU8::new(UNKNOWN),
            };
            metrics.register()?;
            prometheus::Result::Ok(metrics)
        })()
        // Names and labels are constants: a failure is a programming error a test catches.
        .expect("metric definitions are valid");
        Self {
            metrics: Arc::new(metrics),
        }
    }

    /// One call finished with `code` (a gRPC canonical status name) after `elapsed`: counted,
    /// timed, and written to the access log (`rift::access`, at debug) in the current span.
    pub fn call_finished(
        &self,
        operation: &str,
        transport: Transport,
        code: &str,
        elapsed: Duration,
    ) {
        let transport = transport.as_str();
        self.metrics
            .calls
            .with_label_values(&[operation, transport, code])
            .inc();
        self.metrics
            .latency
            .with_label_values(&[operation, transport])
            .observe(elapsed.as_secs_f64());
        tracing::debug!(
            target: "rift::access",
            operation,
            transport,
            code,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "call finished"
        );
    }

    /// Counts a WebSocket connection as open until the returned guard is dropped.
    pub fn websocket_opened(&self) -> OpenConnection {
        let gauge = self.metrics.websocket_connections.clone();
        gauge.inc();
        OpenConnection(gauge)
    }

    /// A live notification minted at `time` is handed to a subscriber now.
    pub fn notification_delivered(&self, time: SystemTime) {
        // Another host's clock (Redis mints the ids) may be a little ahead: count that as 0.
        let delay = SystemTime::now()
            .duration_since(time)
            .unwrap_or(Duration::ZERO);
        self.metrics.delivery_delay.observe(delay.as_secs_f64());
    }

    /// A subscriber fell `missed` notifications behind the shared buffer.
    pub fn subscriber_lagged(&self, missed: u64) {
        self.metrics.lagged.inc_by(missed);
    }

    /// A memory call found memory unreachable.
    pub fn memory_unavailable(&self) {
        self.metrics.memory_unavailable.inc();
    }

    /// Memory answered (`true`) or could not be reached (`false`); counts the flips.
    pub fn memory_observed(&self, available: bool) {
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

    /// Sets the subscriber gauge; the owner of the count calls it before [`Telemetry::render`].
    pub fn set_subscribers(&self, count: usize) {
        self.metrics
            .subscribers
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Every metric, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.metrics.registry.gather())
            .unwrap_or_else(|error| {
                tracing::error!(%error, "cannot encode metrics");
                String::new()
            })
    }
}

impl Metrics {
    fn register(&self) -> prometheus::Result<()> {
        let registry = &self.registry;
        registry.register(Box::new(self.calls.clone()))?;
        registry.register(Box::new(self.latency.clone()))?;
        registry.register(Box::new(self.websocket_connections.clone()))?;
        registry.register(Box::new(self.subscribers.clone()))?;
        registry.register(Box::new(self.delivery_delay.clone()))?;
        registry.register(Box::new(self.lagged.clone()))?;
        registry.register(Box::new(self.memory_unavailable.clone()))?;
        registry.register(Box::new(self.memory_available.clone()))?;
        registry.register(Box::new(self.memory_changes.clone()))?;
        Ok(())
    }
}

/// An open WebSocket connection, counted by `rift_websocket_connections` until dropped.
#[derive(Debug)]
pub struct OpenConnection(IntGauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The id that ties one call's log lines together, and that the caller gets back
/// (`x-request-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Longest client-supplied id kept; a longer one is replaced.
    pub const MAX_LEN: usize = 128;

    /// A fresh id, UUID-shaped: a random 128-bit base drawn once per process, plus a counter.
    /// Unique per call like a v4 UUID, without asking the kernel for randomness on every
    /// request (which showed in the WebSocket profile).
    pub fn generate() -> Self {
        static BASE: OnceLock<u128> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u128());
        let n = u128::from(NEXT.fetch_add(1, Ordering::Relaxed));
        Self(
            uuid::Uuid::from_u128(base.wrapping_add(n))
                .hyphenated()
                .to_string(),
        )
    }

    /// The client's id if it is 1 to [`RequestId::MAX_LEN`] printable ASCII characters without
    /// spaces (safe in a log line and a header), else a fresh one.
    pub fn from_client(presented: Option<&str>) -> Self {
        match presented {
            Some(id)
                if !id.is_empty()
                    && id.len() <= Self::MAX_LEN
                    && id.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Self(id.to_owned())
            }
            _ => Self::generate(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_render_with_their_labels() {
        let telemetry = Telemetry::new();
        telemetry.call_finished("Analyze", Transport::Grpc, "OK", Duration::from_millis(3));
        telemetry.call_finished(
            "Analyze",
            Transport::WebSocket,
            "INVALID_ARGUMENT",
            Duration::from_millis(1),
        );
        let text = telemetry.render();
        assert!(
            text.contains(r#"rift_calls_total{code="OK",operation="Analyze",transport="grpc"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rift_call_duration_seconds_count{operation="Analyze",transport="websocket"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn only_availability_changes_count_and_the_first_observation_is_not_one() {
        let telemetry = Telemetry::new();
        telemetry.memory_observed(true);
        telemetry.memory_observed(true);
        let text = telemetry.render();
        assert!(text.contains("rift_memory_available 1"), "{text}");
        assert!(
            !text.contains("rift_memory_availability_changes_total{"),
            "{text}"
        );
        telemetry.memory_observed(false);
        telemetry.memory_observed(false);
        telemetry.memory_observed(true);
        let text = telemetry.render();
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
    fn open_connections_are_counted_until_dropped() {
        let telemetry = Telemetry::new();
        let first = telemetry.websocket_opened();
        let second = telemetry.websocket_opened();
        assert!(telemetry.render().contains("rift_websocket_connections 2"));
        drop(first);
        drop(second);
        assert!(telemetry.render().contains("rift_websocket_connections 0"));
    }

    #[test]
    fn request_ids_from_clients_are_kept_only_when_safe() {
        assert_eq!(
            RequestId::from_client(Some("req-7:a/b")).as_str(),
            "req-7:a/b"
        );
        for bad in ["", "has space", "line\nbreak", "é", &"x".repeat(129)] {
            let id = RequestId::from_client(Some(bad));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 36, "a UUID replaces {bad:?}");
        }
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
