//! Building gRPC requests and reading the rich error details Rift attaches to a status.

use std::time::Duration;

use prost_types::{Value, value::Kind};
use rift::pb::{self, rift_client::RiftClient};
use tonic::{Request, Streaming, transport::Channel};
use tonic_types::{ErrorInfo, StatusExt};

/// `message` with a client deadline far beyond Rift's own Redis timeout: a slow or stalled
/// Redis is answered by Rift (`UNAVAILABLE`), never by the client giving up.
pub(crate) fn patient<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(Duration::from_secs(20));
    request
}

/// An Analyze of `task_id` with no data and `request_id` (empty: none), [`patient`].
pub(crate) fn patient_analyze(task_id: &str, request_id: &str) -> Request<pb::AnalyzeRequest> {
    patient(pb::AnalyzeRequest {
        task_id: task_id.into(),
        data: vec![],
        request_id: request_id.into(),
        ..Default::default()
    })
}

/// Analyzes `task` with `request_id` until acknowledged, retrying `UNAVAILABLE` with the same
/// request id as a client should, for up to `within`; returns how many attempts were refused.
pub(crate) async fn until_acknowledged(
    client: &mut RiftClient<Channel>,
    task: &str,
    request_id: &str,
    within: Duration,
) -> usize {
    let deadline = std::time::Instant::now() + within;
    let mut refused = 0;
    loop {
        match client.analyze(patient_analyze(task, request_id)).await {
            Ok(_) => return refused,
            Err(status) if status.code() == tonic::Code::Unavailable => {
                refused += 1;
                assert!(
                    std::time::Instant::now() < deadline,
                    "{request_id} not acknowledged within {within:?}: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{request_id}: {status:?}"),
        }
    }
}

/// The prototype's flow on `task_id`, each step [`patient`]: Analyze (no data), Narrate,
/// Progress; their answers, for the caller's own assertions.
pub(crate) async fn complete_task(
    client: &mut RiftClient<Channel>,
    task_id: &str,
) -> (pb::AnalyzeResponse, pb::ProgressResponse) {
    let analysis = client
        .analyze(patient_analyze(task_id, ""))
        .await
        .expect("analyze")
        .into_inner();
    client
        .narrate(patient(pb::NarrateRequest {
            task_id: task_id.into(),
            ..Default::default()
        }))
        .await
        .expect("narrate");
    let progress = client
        .progress(patient(pb::ProgressRequest {
            task_id: task_id.into(),
        }))
        .await
        .expect("progress")
        .into_inner();
    (analysis, progress)
}

/// A Subscribe stream of `task_id` (empty: every task) after the resume token `after`.
pub(crate) async fn subscribe(
    client: &mut RiftClient<Channel>,
    task_id: &str,
    after: &str,
) -> Streaming<pb::Notification> {
    client
        .subscribe(pb::SubscribeRequest {
            task_id: task_id.into(),
            after: after.into(),
        })
        .await
        .expect("subscribe")
        .into_inner()
}

/// `items` as protobuf string values, the shape `AnalyzeRequest.data` takes.
pub(crate) fn strings(items: &[&str]) -> Vec<Value> {
    items
        .iter()
        .map(|s| Value {
            kind: Some(Kind::StringValue((*s).to_owned())),
        })
        .collect()
}

/// The ErrorInfo detail of `status`, where Rift puts the machine-readable reason.
pub(crate) fn error_info(status: &tonic::Status) -> ErrorInfo {
    status
        .get_error_details()
        .error_info()
        .cloned()
        .expect("ErrorInfo detail")
}

/// The field a status's BadRequest details blame.
pub(crate) fn violated_field(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let bad_request = details.bad_request().expect("BadRequest details");
    bad_request.field_violations[0].field.clone()
}

/// The `version` a notification's payload carries.
pub(crate) fn version(notification: &pb::Notification) -> f64 {
    match notification
        .payload
        .as_ref()
        .and_then(|p| p.fields.get("version"))
    {
        Some(Value {
            kind: Some(Kind::NumberValue(v)),
        }) => *v,
        other => panic!("no version in {notification:?}: {other:?}"),
    }
}

/// One page of ListTasks, [`patient`].
pub(crate) async fn list_page(
    client: &mut RiftClient<Channel>,
    page_size: i32,
    page_token: &str,
    status: pb::TaskStatus,
) -> pb::ListTasksResponse {
    client
        .list_tasks(patient(pb::ListTasksRequest {
            page_size,
            page_token: page_token.into(),
            status: status.into(),
        }))
        .await
        .expect("ListTasks")
        .into_inner()
}

/// A whole listing, page by page.
pub(crate) struct Listing {
    /// Every page's tasks, in order.
    pub(crate) tasks: Vec<pb::TaskSummary>,
    /// The first page's `as_of`.
    pub(crate) as_of: String,
    /// The page tokens the listing went on with, in order.
    pub(crate) tokens: Vec<String>,
}

/// Every page of a listing, each checked to hold at most its page size (50 for 0, the
/// default); `between` runs after each page but the last.
pub(crate) async fn list_every_page(
    client: &mut RiftClient<Channel>,
    page_size: i32,
    status: pb::TaskStatus,
    mut between: impl AsyncFnMut(usize),
) -> Listing {
    let most = if page_size == 0 {
        50
    } else {
        page_size as usize
    };
    let mut listing = Listing {
        tasks: Vec::new(),
        as_of: String::new(),
        tokens: Vec::new(),
    };
    let mut token = String::new();
    for pages in 1.. {
        let page = list_page(client, page_size, &token, status).await;
        assert!(page.tasks.len() <= most, "{} tasks", page.tasks.len());
        if pages == 1 {
            listing.as_of = page.as_of.clone();
        }
        listing.tasks.extend(page.tasks);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        listing.tokens.push(token.clone());
        between(pages).await;
        assert!(pages < 10_000, "the listing does not end");
    }
    listing
}
