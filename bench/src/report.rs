//! What a scenario measured, and how it is written: text, one fact per line, or JSON.
//!
//! A scenario that checks correctness lists what failed in [`Report::failures`]; the binary then
//! exits non-zero.

use std::{collections::BTreeMap, io::Write};

use serde::Serialize;

use crate::{process::ServerMemory, recorder::Latency};

/// What a scenario measured.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Report {
    pub(crate) scenario: &'static str,
    /// The settings it ran with.
    pub(crate) params: serde_json::Value,
    /// Per operation, plus `all` when there are several.
    pub(crate) operations: Vec<OperationReport>,
    /// The server's memory, when `--server-pid` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<ServerMemory>,
    /// Scenario-specific figures (delivery counts, bytes per connection, ratios, ...).
    pub(crate) figures: BTreeMap<String, serde_json::Value>,
    /// Failed correctness checks; empty when all passed.
    pub(crate) failures: Vec<String>,
}

/// Throughput, latency and errors of one operation.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct OperationReport {
    pub(crate) name: String,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    /// Successful calls per second of measured time.
    pub(crate) throughput_per_s: f64,
    pub(crate) latency: Latency,
    /// Error counts by code (gRPC status code, or the WebSocket error frame's code).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) error_codes: BTreeMap<String, u64>,
    /// One message per error code, to tell what went wrong.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) error_samples: BTreeMap<String, String>,
}

impl Report {
    pub(crate) fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub(crate) fn figure(&mut self, name: &str, value: impl Serialize) {
        self.figures.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
    }

    /// Human-readable, one fact per line.
    pub(crate) fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "scenario: {}", self.scenario)?;
        writeln!(out, "params: {}", self.params)?;
        if !self.operations.is_empty() {
            writeln!(
                out,
                "{:<10} {:>10} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8}",
                "op",
                "ok",
                "errors",
                "per second",
                "mean ms",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms"
            )?;
            for op in &self.operations {
                let l = &op.latency;
                writeln!(
                    out,
                    "{:<10} {:>10} {:>7} {:>11.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                    op.name,
                    op.ok,
                    op.errors,
                    op.throughput_per_s,
                    l.mean_ms,
                    l.p50_ms,
                    l.p90_ms,
                    l.p99_ms,
                    l.max_ms
                )?;
                for (code, count) in &op.error_codes {
                    let sample = op.error_samples.get(code).map_or("", String::as_str);
                    writeln!(out, "  error {code} x{count}: {sample}")?;
                }
            }
        }
        if let Some(server) = &self.server {
            writeln!(
                out,
                "server pid {}: rss before {} KiB, after {} KiB, peak {} KiB",
                server.pid, server.rss_before_kib, server.rss_after_kib, server.peak_kib
            )?;
        }
        for (name, value) in &self.figures {
            writeln!(out, "{name}: {value}")?;
        }
        if self.failures.is_empty() {
            writeln!(out, "checks: passed")?;
        } else {
            for failure in &self.failures {
                writeln!(out, "FAILED: {failure}")?;
            }
        }
        Ok(())
    }
}
