//! `rift.v1.Rift` over the domain: decode, call [`Agents`], encode. Nothing else happens here.

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{convert, status::into_status};
use crate::{
    domain::Agents,
    pb::{self, rift_server::Rift},
};

/// The gRPC face of [`Agents`].
#[derive(Debug, Clone)]
pub struct RiftService {
    agents: Agents,
}

impl RiftService {
    pub fn new(agents: Agents) -> Self {
        Self { agents }
    }
}

type NotificationStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<pb::Notification, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Rift for RiftService {
    async fn analyze(
        &self,
        request: Request<pb::AnalyzeRequest>,
    ) -> Result<Response<pb::AnalyzeResponse>, Status> {
        let request = request.into_inner();
        let data = request
            .data
            .into_iter()
            .enumerate()
            .map(|(i, value)| convert::json_from_proto(value, &|| format!("data[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(into_status)?;
        let analysis = self
            .agents
            .analyze(&request.task_id, &data)
            .await
            .map_err(into_status)?;
        Ok(Response::new(analysis.into()))
    }

    async fn narrate(
        &self,
        request: Request<pb::NarrateRequest>,
    ) -> Result<Response<pb::NarrateResponse>, Status> {
        let narrative = self
            .agents
            .narrate(&request.get_ref().task_id)
            .await
            .map_err(into_status)?;
        Ok(Response::new(narrative.into()))
    }

    async fn progress(
        &self,
        request: Request<pb::ProgressRequest>,
    ) -> Result<Response<pb::ProgressResponse>, Status> {
        let progress = self
            .agents
            .progress(&request.get_ref().task_id)
            .await
            .map_err(into_status)?;
        Ok(Response::new(progress.into()))
    }

    type SubscribeStream = NotificationStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let request = request.get_ref();
        let subscription = self
            .agents
            .subscribe(&request.task_id, &request.after)
            .await
            .map_err(into_status)?;
        let stream = subscription.map(|item| item.map(pb::Notification::from).map_err(into_status));
        Ok(Response::new(Box::pin(stream)))
    }
}
