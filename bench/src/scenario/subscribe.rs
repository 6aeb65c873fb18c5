//! Subscribe fan-out: S gRPC subscribers on one task while writers analyze it at E events/s.
//!
//! Delivery latency is measured end to end: from the moment a writer sends the Analyze whose
//! notification it is, to the moment a subscriber receives that notification. Writers learn
//! the version their write got from its response; each notification carries its version; the
//! two are joined after the run, so nothing on the receive path waits for a writer.
//!
//! The task is fresh, so its versions are exactly 1..=N: every subscriber must receive each of
//! them exactly once, in increasing id order.
//!
//! Subscribers read only what they check, the id and the payload's version, a connection's
//! worth of streams per task, straight off HTTP/2 ([`crate::h2_subscribers`]): a million
//! deliveries a second is otherwise as much work for the load tool as for Rift, on the same
//! two cores.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use rift::pb::{self, rift_client::RiftClient};
use serde_json::json;
use tokio::{sync::oneshot, time::MissedTickBehavior};

use crate::{
    driver::{ErrorTally, count_error, error_fields, parse_duration},
    grpc,
    h2_subscribers::{self, Ending, micros_since},
    recorder::Recorder,
    report::{OperationReport, Report},
    target::{Target, run_tag},
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SubscribeArgs {
    /// Subscribers, all following the same task.
    #[arg(long, short = 's', default_value_t = 1000)]
    pub(crate) subscribers: usize,
    /// Events per second the writers emit, together.
    #[arg(long, short = 'e', default_value_t = 1000)]
    pub(crate) rate: u32,
    /// How long the writers write.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// HTTP/2 connections the subscribers share; default one per 100 subscribers.
    #[arg(long)]
    pub(crate) connections: Option<usize>,
    /// HTTP/2 connections the writes go over, in turn.
    #[arg(long, default_value_t = 2)]
    pub(crate) writer_connections: usize,
    /// How long to wait, once writing stops, for the last deliveries.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) drain: Duration,
    /// Items per Analyze.
    #[arg(long, default_value_t = 3)]
    pub(crate) items: usize,
}

/// What one writer sent: (version, microseconds since the start when it was sent).
#[derive(Debug, Default)]
struct Sent {
    events: Vec<(u64, u32)>,
    latency: Recorder,
    errors: ErrorTally,
}

/// Writes in an open loop: one Analyze every `1 / rate` seconds whatever the answers' latency
/// (a closed loop would slow down with the server and hide its latency), at most
/// `MAX_WRITES_IN_FLIGHT` outstanding.
async fn write_paced(
    callers: Vec<grpc::GrpcCaller>,
    rate: u32,
    start: Instant,
    until: Instant,
) -> Sent {
    const MAX_WRITES_IN_FLIGHT: usize = 1024;
    let mut sent = Sent::default();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let reap = |sent: &mut Sent, done: Result<_, tokio::task::JoinError>| match done {
        Ok((Ok(version), offset, latency)) => {
            sent.latency.record(latency);
            sent.events.push((version, offset));
        }
        Ok((Err(status), _, _)) => {
            let status: tonic::Status = status;
            count_error(
                &mut sent.errors,
                format!("{:?}", status.code()),
                status.message().to_owned(),
                1,
            );
        }
        Err(error) => count_error(&mut sent.errors, "PANIC".into(), error.to_string(), 1),
    };
    for i in 0.. {
        ticks.tick().await;
        if Instant::now() >= until {
            break;
        }
        while let Some(done) = in_flight.try_join_next() {
            reap(&mut sent, done);
        }
        if in_flight.len() >= MAX_WRITES_IN_FLIGHT
            && let Some(done) = in_flight.join_next().await
        {
            reap(&mut sent, done);
        }
        let caller = &callers[i % callers.len()];
        let mut client = caller.client.clone();
        let request = caller.analyze_request();
        in_flight.spawn(async move {
            let offset = micros_since(start);
            let at = Instant::now();
            let answer = client
                .analyze(request)
                .await
                .map(|response| response.into_inner().version);
            (answer, offset, at.elapsed())
        });
    }
    while let Some(done) = in_flight.join_next().await {
        reap(&mut sent, done);
    }
    sent
}

/// The task's analysis version as Rift reports it (Progress: a read while nothing is narrated).
async fn stored_version(target: &Target, task_id: &str) -> anyhow::Result<u64> {
    let channel = grpc::channels(target, 1).await?.remove(0);
    let request = grpc::authorized(
        pb::ProgressRequest {
            task_id: task_id.to_owned(),
        },
        grpc::bearer(target)?.as_ref(),
    );
    let progress = RiftClient::new(channel)
        .progress(request)
        .await
        .context("reading the last version written")?;
    Ok(progress.into_inner().analysis_version)
}

pub(crate) async fn run(target: &Target, args: &SubscribeArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    let subscribers = args.subscribers.max(1);
    let connections = args
        .connections
        .unwrap_or_else(|| subscribers.div_ceil(100))
        .max(1);
    let task_id = format!("{}-sub", run_tag());
    let token = grpc::bearer(target)?;
    let expected_events = (f64::from(args.rate) * args.duration.as_secs_f64()).ceil() as usize;
    let start = Instant::now();
    let ending = Ending::new();

    let request = pb::SubscribeRequest {
        task_id: task_id.clone(),
        after: String::new(),
    };
    let plan = h2_subscribers::Plan {
        addr: target.grpc_addr,
        authorization: target.authorization(),
        request,
        capacity: expected_events + 16,
        start,
    };
    let mut readiness = Vec::with_capacity(connections);
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        // The subscribers dealt out as evenly as they go.
        let count = subscribers / connections + usize::from(c < subscribers % connections);
        let (ready, is_ready) = oneshot::channel();
        readiness.push(is_ready);
        tasks.push(tokio::spawn(h2_subscribers::read_connection(
            plan.clone(),
            count,
            ready,
            ending.for_reader(),
        )));
    }
    let mut not_ready = Vec::new();
    for is_ready in readiness {
        match tokio::time::timeout(Duration::from_secs(60), is_ready).await {
            Ok(Ok(errors)) => not_ready.extend(errors),
            Ok(Err(_)) => not_ready.push("subscriber task ended".into()),
            Err(_) => not_ready.push("not subscribed within 60 s".into()),
        }
    }
    let subscribed_in = start.elapsed();

    let writing_from = Instant::now();
    let until = writing_from + args.duration;
    let data = grpc::proto_data(args.items);
    let writer_channels = grpc::channels(target, args.writer_connections.max(1)).await?;
    let writers: Vec<_> = writer_channels
        .into_iter()
        .map(|channel| grpc::GrpcCaller {
            client: RiftClient::new(channel),
            task_id: task_id.clone(),
            data: data.clone(),
            token: token.clone(),
        })
        .collect();
    let sent = write_paced(writers, args.rate, start, until).await;
    let write_latency = sent.latency;
    let write_errors = sent.errors;
    let mut send_offsets: Vec<Option<u32>> = Vec::new();
    for (version, offset) in sent.events {
        let index = usize::try_from(version).context("version")?;
        if send_offsets.len() <= index {
            send_offsets.resize(index + 1, None);
        }
        send_offsets[index] = Some(offset);
    }
    let writing_took = writing_from.elapsed();
    // Versions are 1..=last on a fresh task. A write whose answer was an error may still have
    // been applied (the server gave up waiting, Redis did not), so the last version is asked
    // of Rift rather than taken from the answers.
    let last_version = stored_version(target, &task_id)
        .await?
        .max(send_offsets.len().saturating_sub(1) as u64);
    if send_offsets.len() <= last_version as usize {
        send_offsets.resize(last_version as usize + 1, None);
    }
    ending.writers_done(last_version);
    let drain_ending = ending.clone();
    let drain = args.drain;
    tokio::spawn(async move {
        tokio::time::sleep(drain).await;
        drain_ending.stop();
    });
    let mut delivery = Recorder::new();
    let mut seen = vec![false; send_offsets.len()];
    let (mut delivered, mut missing, mut duplicates, mut out_of_order, mut unknown) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut subscriber_errors: BTreeMap<String, u64> = BTreeMap::new();
    for received in futures::future::try_join_all(tasks)
        .await?
        .into_iter()
        .flatten()
    {
        if let Some(error) = received.error {
            *subscriber_errors.entry(error).or_insert(0) += 1;
        }
        out_of_order += received.out_of_order;
        seen.iter_mut().for_each(|s| *s = false);
        for (version, at) in received.events {
            let version = version as usize;
            match seen.get_mut(version) {
                Some(seen) if version > 0 => {
                    if *seen {
                        duplicates += 1;
                        continue;
                    }
                    *seen = true;
                    delivered += 1;
                    if let Some(sent) = send_offsets[version] {
                        delivery.record(Duration::from_micros(u64::from(at.saturating_sub(sent))));
                    }
                }
                // A version nobody wrote in this run.
                _ => unknown += 1,
            }
        }
        missing += seen.iter().skip(1).filter(|s| !**s).count() as u64;
    }
    ending.stop();

    let measured = args.duration.as_secs_f64();
    let mut report = Report {
        scenario: "subscribe",
        params: json!({
            "subscribers": subscribers,
            "connections": connections,
            "rate_per_s": args.rate,
            "writer_connections": args.writer_connections,
            "duration_s": measured,
            "items": args.items,
        }),
        ..Report::default()
    };
    report.operations.push(OperationReport {
        name: "delivery".into(),
        ok: delivered,
        errors: missing,
        throughput_per_s: delivered as f64 / measured,
        latency: delivery.summary(),
        ..OperationReport::default()
    });
    let (write_error_count, error_codes, error_samples) = error_fields(&write_errors);
    report.operations.push(OperationReport {
        name: "write".into(),
        ok: write_latency.count(),
        errors: write_error_count,
        throughput_per_s: write_latency.count() as f64 / writing_took.as_secs_f64(),
        latency: write_latency.summary(),
        error_codes,
        error_samples,
    });
    let expected = last_version * subscribers as u64;
    report.figure("events_written", last_version);
    report.figure("expected_deliveries", expected);
    report.figure("delivered_once", delivered);
    report.figure("missing", missing);
    report.figure("duplicates", duplicates);
    report.figure("out_of_order", out_of_order);
    report.figure("unknown_versions", unknown);
    report.figure("writes_answered_with_error", write_error_count);
    report.figure("subscribe_all_s", subscribed_in.as_secs_f64());
    if !subscriber_errors.is_empty() {
        report.figure("subscriber_errors", &subscriber_errors);
    }
    if !not_ready.is_empty() {
        report.failures.push(format!(
            "{} subscribers never subscribed: {:?}",
            not_ready.len(),
            not_ready.first()
        ));
    }
    if last_version == 0 {
        report.failures.push("no event was written".into());
    }
    if missing > 0 || delivered != expected {
        report.failures.push(format!(
            "{missing} deliveries missing ({delivered} of {expected})"
        ));
    }
    if duplicates > 0 {
        report
            .failures
            .push(format!("{duplicates} duplicate deliveries"));
    }
    if unknown > 0 {
        report
            .failures
            .push(format!("{unknown} deliveries of versions never written"));
    }
    if out_of_order > 0 {
        report
            .failures
            .push(format!("{out_of_order} deliveries out of id order"));
    }
    if !write_errors.is_empty() {
        report
            .failures
            .push(format!("writes failed: {write_errors:?}"));
    }
    Ok(report)
}
