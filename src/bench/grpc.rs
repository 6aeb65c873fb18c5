//! Unary gRPC load: C callers over a few HTTP/2 connections, and optionally the same Analyze
//! script run straight against Redis by `redis-benchmark` with the same concurrency, in the
//! same run, for the ratio.
//!
//! One HTTP/2 connection carries many calls at once but is served by one connection task on
//! each side, so callers are spread over `--connections` channels.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use super::{
    Kind, Op, Report, Target, Timing, calls,
    driver::{self, CallError, Caller},
    parse_duration, run_tag, sample_data,
};
use crate::pb::{self, rift_client::RiftClient};

#[derive(Debug, Clone, clap::Args)]
pub struct GrpcArgs {
    /// Operation each caller runs.
    #[arg(long, value_enum, default_value_t = Op::Analyze)]
    pub op: Op,
    /// Concurrent callers, each with one call in flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the callers share; default one per 16 callers.
    #[arg(long)]
    pub connections: Option<usize>,
    /// Measured time.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured time before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Items per Analyze (`data1`, `data2`, ...).
    #[arg(long, default_value_t = 3)]
    pub items: usize,
    /// Then run Rift's Analyze script straight against Redis with redis-benchmark at the same
    /// concurrency, and report the ratio (needs --redis-url and redis-benchmark on PATH).
    #[arg(long)]
    pub vs_redis_benchmark: bool,
    /// The server's --max-events, so redis-benchmark trims the stream as Rift does.
    #[arg(long, default_value_t = 100_000)]
    pub max_events: usize,
}

/// Opens `count` channels to Rift's gRPC address.
pub(crate) async fn channels(target: &Target, count: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let channel = Channel::from_shared(format!("http://{}", target.grpc_addr))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to Rift's gRPC at {}", target.grpc_addr))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Adds the bearer token, when there is one.
pub(crate) fn authorized<T>(
    message: T,
    token: Option<&MetadataValue<tonic::metadata::Ascii>>,
) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", token.clone());
    }
    request
}

pub(crate) fn bearer(
    target: &Target,
) -> anyhow::Result<Option<MetadataValue<tonic::metadata::Ascii>>> {
    target
        .authorization()
        .map(|authorization| {
            authorization
                .parse()
                .context("the token is not valid in a header")
        })
        .transpose()
}

pub(crate) fn proto_data(items: usize) -> Vec<prost_types::Value> {
    sample_data(items)
        .into_iter()
        .map(|item| prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(item)),
        })
        .collect()
}

/// One gRPC caller: its own task, on a shared channel.
#[derive(Clone)]
pub(crate) struct GrpcCaller {
    pub(crate) client: RiftClient<Channel>,
    pub(crate) task_id: String,
    pub(crate) data: Vec<prost_types::Value>,
    pub(crate) token: Option<MetadataValue<tonic::metadata::Ascii>>,
}

fn call_error(status: &tonic::Status) -> CallError {
    CallError::new(format!("{:?}", status.code()), status.message())
}

impl GrpcCaller {
    /// This caller's Analyze request, with the token when there is one.
    pub(crate) fn analyze_request(&self) -> Request<pb::AnalyzeRequest> {
        authorized(
            pb::AnalyzeRequest {
                task_id: self.task_id.clone(),
                data: self.data.clone(),
                ..Default::default()
            },
            self.token.as_ref(),
        )
    }

    pub(crate) async fn analyze(&mut self) -> Result<pb::AnalyzeResponse, tonic::Status> {
        let request = self.analyze_request();
        self.client.analyze(request).await.map(|r| r.into_inner())
    }
}

impl Caller for GrpcCaller {
    async fn call(&mut self, kind: Kind) -> Result<(), CallError> {
        let answered = match kind {
            Kind::Analyze => self.analyze().await.map(drop),
            Kind::Narrate => {
                let request = authorized(
                    pb::NarrateRequest {
                        task_id: self.task_id.clone(),
                        ..Default::default()
                    },
                    self.token.as_ref(),
                );
                self.client.narrate(request).await.map(drop)
            }
            Kind::Progress => {
                let request = authorized(
                    pb::ProgressRequest {
                        task_id: self.task_id.clone(),
                    },
                    self.token.as_ref(),
                );
                self.client.progress(request).await.map(drop)
            }
        };
        answered.map_err(|status| call_error(&status))
    }
}

/// Builds the callers: `concurrency` of them over `connections` channels, each on a task of its
/// own that already has an analysis (so Narrate has something to narrate).
pub(crate) async fn callers(
    target: &Target,
    concurrency: usize,
    connections: usize,
    items: usize,
    tag: &str,
) -> anyhow::Result<Vec<GrpcCaller>> {
    let channels = channels(target, connections).await?;
    let token = bearer(target)?;
    let data = proto_data(items);
    let mut callers = Vec::with_capacity(concurrency);
    for i in 0..concurrency.max(1) {
        let mut caller = GrpcCaller {
            client: RiftClient::new(channels[i % channels.len()].clone()),
            task_id: format!("{tag}-{i}"),
            data: data.clone(),
            token: token.clone(),
        };
        caller
            .analyze()
            .await
            .with_context(|| format!("preparing task {}", caller.task_id))?;
        callers.push(caller);
    }
    Ok(callers)
}

pub(crate) async fn run(target: &Target, args: &GrpcArgs) -> anyhow::Result<Report> {
    let connections = args
        .connections
        .unwrap_or_else(|| args.concurrency.div_ceil(16))
        .max(1);
    let tag = run_tag();
    let callers = callers(target, args.concurrency, connections, args.items, &tag).await?;
    let timing = Timing {
        duration: args.duration,
        warmup: args.warmup,
    };
    let operations = driver::drive(callers, args.op, timing).await?;
    let mut report = Report {
        scenario: "grpc",
        params: json!({
            "op": args.op,
            "concurrency": args.concurrency,
            "connections": connections,
            "items": args.items,
            "timing": timing,
        }),
        failures: driver::error_failures(&operations),
        operations,
        ..Report::default()
    };
    if args.vs_redis_benchmark {
        let redis_url = target
            .redis_url
            .as_deref()
            .context("--vs-redis-benchmark needs --redis-url")?;
        let grpc_ok = report.operations.first().map_or(0, |op| op.ok);
        let requests = grpc_ok.max(10_000);
        let direct = calls::redis_benchmark_analyze(
            redis_url,
            args.concurrency,
            requests,
            args.items,
            args.max_events,
            &tag,
        )
        .await?;
        let grpc_rps = report
            .operations
            .iter()
            .find(|op| op.name == "analyze")
            .map_or(0.0, |op| op.throughput_per_s);
        report.figure("redis_benchmark", &direct);
        if direct.rps > 0.0 {
            report.figure(
                "grpc_analyze_to_redis_benchmark_ratio",
                (grpc_rps / direct.rps * 1000.0).round() / 1000.0,
            );
        }
    }
    Ok(report)
}
