//! Telemetry the adapters share: call metrics, request ids, and the Prometheus text of a
//! server's registry.
//!
//! Each part of Rift registers its own metrics, where they are measured, on the one
//! [`prometheus::Registry`] of its server (one per server, so two servers in one process, as in
//! tests, never mix their counts):
//!
//! - the domain, memory and the notification fan-out (`crate::domain::Agents::register_metrics`);
//! - each adapter, its calls ([`CallMetrics`], labelled with the transport the adapter names)
//!   and, for WebSocket, its open connections.
//!
//! `GET /metrics` (in `crate::server`) serves [`render`]. Nothing here knows a transport or the
//! domain. The README's "Metrics and logs" lists every metric.

use std::{
    fmt,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The content type of [`render`]'s output.
pub const METRICS_CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Latency buckets, in seconds: from half a millisecond (an in-process call) to ten seconds
/// (the default request timeout).
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric of `registry`, in the Prometheus text exposition format.
pub fn render(registry: &Registry) -> String {
    TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cannot encode metrics");
            String::new()
        })
}

/// The calls one adapter served: `rift_calls_total` (labels `operation`, `transport`, `code`)
/// and `rift_call_duration_seconds` (`operation`, `transport`). Cheap to clone.
///
/// Every adapter registers its own pair with its `transport` as a constant label; the registry
/// shows them as one metric with both transports. `code` is the canonical status name (`OK`,
/// `INVALID_ARGUMENT`, ...) on every transport, as `crate::domain::Code` spells it.
#[derive(Debug, Clone)]
pub struct CallMetrics {
    transport: &'static str,
    calls: IntCounterVec,
    latency: HistogramVec,
}

impl CallMetrics {
    /// Registers the call metrics of the adapter serving `transport` (`grpc`, `websocket`).
    pub fn register(registry: &Registry, transport: &'static str) -> prometheus::Result<Self> {
        let calls = IntCounterVec::new(
            Opts::new(
                "rift_calls_total",
                "Calls served, by operation, transport and status code.",
            )
            .const_label("transport", transport),
            &["operation", "code"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rift_call_duration_seconds",
                "Time from request to final status, by operation and transport (for Subscribe: \
                 how long the stream lasted).",
            )
            .const_label("transport", transport)
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            transport,
            calls,
            latency,
        })
    }

    /// One call finished with `code` (a canonical status name) after `elapsed`: counted, timed,
    /// and written to the access log (`rift::access`, at debug) in the current span.
    pub fn finished(&self, operation: &str, code: &str, elapsed: Duration) {
        self.calls.with_label_values(&[operation, code]).inc();
        self.latency
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        tracing::debug!(
            target: "rift::access",
            operation,
            transport = self.transport,
            code,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "call finished"
        );
    }
}

/// Standard error for log lines, where a line that cannot be written is dropped, never an
/// error: a closed pipe (`rift serve 2>&1 | head` once `head` exits) or a full non-blocking
/// one must not take the server down or stop it from shutting down. (A failed write would
/// otherwise reach the log layer's own error report, which panics on the same closed stderr,
/// inside whatever task was logging.)
#[derive(Debug, Clone, Copy, Default)]
pub struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::io::stderr().write(buf) {
            Ok(written) => Ok(written),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => Err(error),
            // Dropped: there is nowhere to report it.
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// The id that ties one call's log lines together, and that the caller gets back
/// (`x-request-id`). Both adapters mint them; the domain never sees them.
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

    /// The id as text.
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
    fn calls_of_both_transports_render_as_one_metric_with_their_labels() {
        let registry = Registry::new();
        let grpc = CallMetrics::register(&registry, "grpc").expect("register gRPC");
        let websocket = CallMetrics::register(&registry, "websocket").expect("register WebSocket");
        grpc.finished("Analyze", "OK", Duration::from_millis(3));
        websocket.finished("Analyze", "INVALID_ARGUMENT", Duration::from_millis(1));
        let text = render(&registry);
        assert!(
            text.contains(r#"rift_calls_total{code="OK",operation="Analyze",transport="grpc"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rift_calls_total{code="INVALID_ARGUMENT",operation="Analyze",transport="websocket"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rift_call_duration_seconds_count{operation="Analyze",transport="websocket"} 1"#
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE rift_calls_total counter").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn a_transport_registers_its_calls_once() {
        let registry = Registry::new();
        CallMetrics::register(&registry, "grpc").expect("first");
        assert!(CallMetrics::register(&registry, "grpc").is_err());
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
