//! C concurrent callers in a closed loop: each sends one operation, waits for its answer,
//! records the latency, and sends the next, until the warmup and the measured duration have
//! passed. Each caller is a task with its own histograms, merged when all are done.

use std::{
    collections::BTreeMap,
    future::Future,
    time::{Duration, Instant},
};

use super::{Kind, Op, OperationReport, Recorder, Timing};

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
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut i = 0;
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let kind = op.nth(i);
                    i += 1;
                    let result = caller.call(kind).await;
                    if sent >= measure_from {
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
    let measured = timing.duration.as_secs_f64();
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
