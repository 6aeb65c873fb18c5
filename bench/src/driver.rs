//! C concurrent callers in a closed loop: each sends one operation, waits for its answer,
//! records the latency, and sends the next, until the warmup and the measured duration have
//! passed, or, given a count, until that many operations were measured between them all (what
//! `scripts/callgrind.sh` needs: the same work in every run). Each caller is a task with its own
//! histograms, merged when all are done.
//!
//! Also what every load scenario shares: the operations ([`Op`], [`Kind`]), the loop's flags
//! ([`LoadArgs`]) and how long it runs ([`Timing`], [`parse_duration`] for the flags).

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::ValueEnum;
use serde::Serialize;

use crate::{recorder::Recorder, report::OperationReport};

/// Which operation callers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    Analyze,
    Narrate,
    Progress,
    /// Each caller cycles Analyze, Narrate, Progress: the task flow.
    Mix,
}

impl Op {
    /// The single operation the `i`-th call of a caller runs.
    pub(crate) fn nth(self, i: u64) -> Kind {
        match self {
            Op::Analyze => Kind::Analyze,
            Op::Narrate => Kind::Narrate,
            Op::Progress => Kind::Progress,
            Op::Mix => Kind::ALL[(i % 3) as usize],
        }
    }
}

/// One operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Analyze,
    Narrate,
    Progress,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Analyze, Kind::Narrate, Kind::Progress];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Analyze => "analyze",
            Kind::Narrate => "narrate",
            Kind::Progress => "progress",
        }
    }
}

/// The closed loop's settings, the same for every transport.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LoadArgs {
    /// Operation each caller runs.
    #[arg(long, value_enum, default_value_t = Op::Analyze)]
    pub(crate) op: Op,
    /// Concurrent callers (gRPC callers, or WebSocket connections), each with one request in
    /// flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Measured time.
    #[arg(long, default_value = "10s", value_parser = parse_duration, conflicts_with = "count")]
    pub(crate) duration: Duration,
    /// Measure exactly this many operations, shared among the callers, instead of running for
    /// `--duration`: the same work in every run, for instruction counts.
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Unmeasured time before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Items per Analyze (`data1`, `data2`, ...).
    #[arg(long, default_value_t = 3)]
    pub(crate) items: usize,
}

impl LoadArgs {
    pub(crate) fn timing(&self) -> Timing {
        Timing {
            duration: self.duration,
            warmup: self.warmup,
            count: self.count,
        }
    }
}

/// How long callers run.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Timing {
    /// Measured, unless `count` is given.
    #[serde(serialize_with = "serialize_secs")]
    pub(crate) duration: Duration,
    /// Run but not measured, before `duration` (or the counted operations).
    #[serde(serialize_with = "serialize_secs")]
    pub(crate) warmup: Duration,
    /// Operations to measure, between all callers, instead of `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) count: Option<u64>,
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return Err(format!("unknown unit {unit:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

/// One caller: a connection (or a share of one) and the requests it sends.
pub(crate) trait Caller: Send + 'static {
    /// Runs one `kind` and waits for the answer; an error reply is a [`CallError`].
    fn call(&mut self, kind: Kind) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// An error answer: its code (gRPC status code or WebSocket error code) and message.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    pub(crate) code: String,
    pub(crate) message: String,
}

impl CallError {
    pub(crate) fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Errors by code: how many, and the first message seen, as a sample.
pub(crate) type ErrorTally = BTreeMap<String, (u64, String)>;

/// Counts `count` errors of `code`; `message` is kept only if `code` is new.
pub(crate) fn count_error(errors: &mut ErrorTally, code: String, message: String, count: u64) {
    errors.entry(code).or_insert((0, message)).0 += count;
}

/// `errors` as a report has them: the total, the count by code and a sample message by code.
pub(crate) fn error_fields(
    errors: &ErrorTally,
) -> (u64, BTreeMap<String, u64>, BTreeMap<String, String>) {
    let total = errors.values().map(|(count, _)| count).sum();
    let codes = errors.iter().map(|(c, (n, _))| (c.clone(), *n)).collect();
    let samples = errors
        .iter()
        .map(|(c, (_, m))| (c.clone(), m.clone()))
        .collect();
    (total, codes, samples)
}

/// What one caller saw.
#[derive(Debug, Default)]
struct Tally {
    latency: [Recorder; 3],
    errors: [ErrorTally; 3],
}

impl Tally {
    fn record(&mut self, kind: Kind, latency: Duration, result: Result<(), CallError>) {
        match result {
            Ok(()) => self.latency[kind.index()].record(latency),
            Err(error) => {
                count_error(&mut self.errors[kind.index()], error.code, error.message, 1);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            for (code, (count, message)) in theirs {
                count_error(mine, code, message, count);
            }
        }
    }
}

/// Runs every caller for `timing`; one report per operation that ran, then `all` for a mix.
pub(crate) async fn drive<C: Caller>(
    callers: Vec<C>,
    op: Op,
    timing: Timing,
) -> anyhow::Result<Vec<OperationReport>> {
    let start = Instant::now();
    let measure_from = start + timing.warmup;
    let end = measure_from + timing.duration;
    // With a count, each measured call first takes one of `count` tickets; the callers stop
    // when none is left, whatever the time.
    let tickets = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            let tickets = Arc::clone(&tickets);
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut i = 0;
                loop {
                    let sent = Instant::now();
                    let measured = sent >= measure_from;
                    let done = match timing.count {
                        Some(count) => measured && tickets.fetch_add(1, Ordering::Relaxed) >= count,
                        None => sent >= end,
                    };
                    if done {
                        break;
                    }
                    let kind = op.nth(i);
                    i += 1;
                    let result = caller.call(kind).await;
                    if measured {
                        tally.record(kind, sent.elapsed(), result);
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await?);
    }
    let measured = match timing.count {
        Some(_) => measure_from.elapsed().as_secs_f64(),
        None => timing.duration.as_secs_f64(),
    };
    let kinds: Vec<Kind> = match op {
        Op::Mix => Kind::ALL.to_vec(),
        single => vec![single.nth(0)],
    };
    let mut reports: Vec<OperationReport> = kinds
        .iter()
        .map(|kind| {
            let latency = &total.latency[kind.index()];
            let (errors, error_codes, error_samples) = error_fields(&total.errors[kind.index()]);
            OperationReport {
                name: kind.name().to_owned(),
                ok: latency.count(),
                errors,
                throughput_per_s: latency.count() as f64 / measured,
                latency: latency.summary(),
                error_codes,
                error_samples,
            }
        })
        .collect();
    if kinds.len() > 1 {
        let mut all = Recorder::new();
        for recorder in &total.latency {
            all.merge(recorder);
        }
        let mut error_codes = BTreeMap::new();
        for report in &reports {
            for (code, count) in &report.error_codes {
                *error_codes.entry(code.clone()).or_insert(0) += count;
            }
        }
        reports.push(OperationReport {
            name: "all".into(),
            ok: all.count(),
            errors: reports.iter().map(|r| r.errors).sum(),
            throughput_per_s: all.count() as f64 / measured,
            latency: all.summary(),
            error_codes,
            error_samples: BTreeMap::new(),
        });
    }
    Ok(reports)
}

/// Fails the report when any call failed: a load figure is only worth something error-free.
pub(crate) fn error_failures(operations: &[OperationReport]) -> Vec<String> {
    operations
        .iter()
        .filter(|op| op.name != "all" && op.errors > 0)
        .map(|op| {
            format!(
                "{} had {} errors: {:?}",
                op.name, op.errors, op.error_samples
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn mix_cycles_the_task_flow() {
        let kinds: Vec<_> = (0..4).map(|i| Op::Mix.nth(i)).collect();
        assert_eq!(
            kinds,
            [Kind::Analyze, Kind::Narrate, Kind::Progress, Kind::Analyze]
        );
        assert_eq!(Op::Narrate.nth(7), Kind::Narrate);
    }
}
