//! `rift.v1.Rift` over the domain: decode, call [`Agents`], encode. Nothing else happens here.

use std::time::{Duration, SystemTime};

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, metadata::MetadataMap};

use super::{BoundedAnalyzeRequest, EncodedNotification, status::into_status};
use crate::{
    domain::{Agents, AnalyzeOptions, Caller, CoreError, auth},
    pb::{self, rift_server::Rift},
};

/// The gRPC face of [`Agents`].
#[derive(Debug, Clone)]
pub struct RiftService {
    agents: Agents,
}

impl RiftService {
    /// The service over `agents`.
    pub fn new(agents: Agents) -> Self {
        Self { agents }
    }
}

type NotificationStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<EncodedNotification, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Rift for RiftService {
    async fn analyze(
        &self,
        request: Request<BoundedAnalyzeRequest>,
    ) -> Result<Response<pb::AnalyzeResponse>, Status> {
        let caller = caller(request.metadata());
        // Before the data is built: a caller who may not analyze costs no conversion.
        self.agents
            .authorize(&caller, auth::Operation::Analyze)
            .map_err(into_status)?;
        let request = request.into_inner();
        let data = request.data(&self.agents.limits()).map_err(into_status)?;
        let analysis = self
            .agents
            .analyze(
                &caller,
                &request.task_id,
                &data,
                AnalyzeOptions {
                    request_id: Some(request.request_id.as_str()),
                    expected_version: request.expected_version,
                    epoch: Some(request.epoch.as_str()),
                },
            )
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
            .narrate(
                &caller(request.metadata()),
                &request.get_ref().task_id,
                Some(request.get_ref().request_id.as_str()),
                Some(request.get_ref().epoch.as_str()),
            )
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
            .progress(&caller(request.metadata()), &request.get_ref().task_id)
            .await
            .map_err(into_status)?;
        Ok(Response::new(progress.into()))
    }

    type SubscribeStream = NotificationStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = caller(request.metadata());
        let request = request.get_ref();
        let subscription = self
            .agents
            .subscribe(&caller, &request.task_id, &request.after)
            .await
            .map_err(into_status)?;
        // A subscription ends by itself only at shutdown (an error item ends the call first):
        // saying so with UNAVAILABLE, not OK, tells the client to resume elsewhere.
        let stream = subscription
            .map(|item| item.map(EncodedNotification::of).map_err(into_status))
            .chain(futures::stream::once(async {
                Err(into_status(CoreError::ShuttingDown))
            }));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn delete_task(
        &self,
        request: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::DeleteTaskResponse>, Status> {
        let task_id = &request.get_ref().task_id;
        let deleted = self
            .agents
            .delete_task(&caller(request.metadata()), task_id)
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::DeleteTaskResponse {
            task_id: task_id.clone(),
            deleted,
        }))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::GetTaskResponse>, Status> {
        let task = self
            .agents
            .get_task(
                &caller(request.metadata()),
                &request.get_ref().task_id,
                request.get_ref().with_report,
            )
            .await
            .map_err(into_status)?;
        Ok(Response::new(task.into()))
    }

    async fn report(
        &self,
        request: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::ReportResponse>, Status> {
        let report = self
            .agents
            .report(&caller(request.metadata()), &request.get_ref().task_id)
            .await
            .map_err(into_status)?;
        Ok(Response::new(report.into()))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let caller = caller(request.metadata());
        let request = request.get_ref();
        let list = self
            .agents
            .list_tasks(
                &caller,
                i64::from(request.page_size),
                &request.page_token,
                super::convert::status_from_proto(request.status),
            )
            .await
            .map_err(into_status)?;
        Ok(Response::new(list.into()))
    }
}

/// The caller as gRPC metadata describes it: `authorization: Bearer <token>` and the
/// `grpc-timeout` deadline.
fn caller(metadata: &MetadataMap) -> Caller {
    let token = metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(auth::bearer_token);
    let deadline = metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map(|timeout| SystemTime::now() + timeout - answer_margin(timeout));
    Caller::with_token(token).deadline(deadline)
}

/// How much before the caller's deadline Rift gives up: the client's own timer started before
/// the request was sent, so an answer sent exactly at the deadline arrives after it, and the
/// client reports its own expiry instead (tonic's client even calls it CANCELLED). A tenth of
/// the timeout, at most 100 ms, lets Rift's DEADLINE_EXCEEDED arrive first.
fn answer_margin(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_millis(100))
}

/// `grpc-timeout`: at most eight digits and a unit (H, M, S, m, u, n), per the gRPC spec.
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(amount * 3600),
        'M' => Duration::from_secs(amount * 60),
        'S' => Duration::from_secs(amount),
        'm' => Duration::from_millis(amount),
        'u' => Duration::from_micros(amount),
        'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("100n"), Some(Duration::from_nanos(100)));
        for bad in ["", "S", "5", "5x", "123456789S", "-1S", "1.5S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
