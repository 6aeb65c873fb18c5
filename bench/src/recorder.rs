//! Latency recording: one HDR histogram per task, merged once at the end, so recording never
//! takes a lock or allocates on the measured path.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency recorded exactly: a minute, in microseconds. Longer ones are clamped to it.
const MAX_MICROS: u64 = 60_000_000;

/// Latencies of one kind of operation, in microseconds, to three significant digits.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("constant bounds are valid"),
        }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        self.histogram
            .saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub(crate) fn merge(&mut self, other: &Recorder) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    pub(crate) fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Percentiles in milliseconds.
    pub(crate) fn summary(&self) -> Latency {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let h = &self.histogram;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// A latency distribution as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Latency {
    pub(crate) count: u64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merges_and_summarises() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for i in 1..=90 {
            a.record(Duration::from_micros(i * 10));
        }
        for _ in 0..10 {
            b.record(Duration::from_millis(5));
        }
        b.record(Duration::from_secs(3600));
        a.merge(&b);
        let summary = a.summary();
        assert_eq!(summary.count, 101);
        assert!((summary.p50_ms - 0.51).abs() < 0.01, "{summary:?}");
        assert!((summary.p99_ms - 5.0).abs() < 0.01, "{summary:?}");
        assert!((summary.max_ms - 60_000.0).abs() < 60.0, "{summary:?}");
        assert_eq!(Recorder::new().summary(), Latency::default());
    }
}
