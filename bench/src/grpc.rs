//! The gRPC client side: channels to Rift, the bearer token, and callers that each run
//! Analyze, Narrate or Progress on a task of their own over the generated client.

use anyhow::Context as _;
use rift::pb::{self, rift_client::RiftClient};
use tonic::{Request, metadata::MetadataValue, transport::Channel};

use crate::{
    driver::{CallError, Caller, Kind},
    target::{Target, sample_data},
};

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
#[derive(Debug, Clone)]
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
