//! The gRPC adapter without a socket: [`RiftService`]'s trait methods called directly
//! (`Rift::analyze(&service, Request::new(...))`), for what the adapter itself decides: how a
//! bad request comes back (code and details, in every call), and what it reads from metadata
//! (tokens, `grpc-timeout`). Answers to good requests are checked over loopback (`grpc_flow`).
//!
//! What needs the server (message size limits, reflection, grpc-web, the status rewriting
//! layer, HTTP/2) is tested over loopback in `grpc_flow` and the others.

use std::sync::Arc;

use prost_types::{ListValue, Value, value::Kind};
use rift::{
    domain::{
        Agents, CoreConfig, Limits,
        auth::{Access, Role, Tokens},
        memory::InProcessMemory,
    },
    grpc::{BoundedAnalyzeRequest, RiftService},
    pb::{self, rift_server::Rift},
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Code, Request, Status};

use crate::support::grpc::{strings, violated_field};

const READER: &str = "reader-token-0123456789";
const WRITER: &str = "writer-token-0123456789";

/// The service over in-process memory; its background tasks stop when the guard drops.
fn service(core: CoreConfig) -> (RiftService, DropGuard) {
    let shutdown = CancellationToken::new();
    let agents = Agents::start(Arc::new(InProcessMemory::new(1000)), core, shutdown.clone());
    (RiftService::new(agents), shutdown.drop_guard())
}

fn open() -> (RiftService, DropGuard) {
    service(CoreConfig::default())
}

/// An Analyze as the server decodes it (its data still encoded, see `grpc::bounded`).
fn analyze(task_id: &str, data: Vec<Value>) -> Request<BoundedAnalyzeRequest> {
    Request::new(
        pb::AnalyzeRequest {
            task_id: task_id.into(),
            data,
            ..Default::default()
        }
        .into(),
    )
}

fn number(x: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(x)),
    }
}

fn with_metadata<T>(mut request: Request<T>, key: &'static str, value: &str) -> Request<T> {
    request
        .metadata_mut()
        .insert(key, value.parse().expect("metadata value"));
    request
}

/// Subscribe's error; its stream type has no `Debug`, so `expect_err` cannot be used.
async fn subscribe_error(service: &RiftService, task_id: &str, after: &str) -> Status {
    let request = Request::new(pb::SubscribeRequest {
        task_id: task_id.into(),
        after: after.into(),
    });
    match Rift::subscribe(service, request).await {
        Ok(_) => panic!("subscribe({task_id:?}, {after:?}) was accepted"),
        Err(status) => status,
    }
}

#[tokio::test]
async fn bad_task_ids_are_invalid_arguments_naming_the_field_in_every_call() {
    let (service, _guard) = open();
    for bad in ["", "a:b", "a b", "101*", "ü", &"x".repeat(129)] {
        let statuses = [
            Rift::analyze(&service, analyze(bad, vec![]))
                .await
                .expect_err(bad),
            Rift::narrate(
                &service,
                Request::new(pb::NarrateRequest {
                    task_id: bad.into(),
                    ..Default::default()
                }),
            )
            .await
            .expect_err(bad),
            Rift::progress(
                &service,
                Request::new(pb::ProgressRequest {
                    task_id: bad.into(),
                }),
            )
            .await
            .expect_err(bad),
            Rift::delete_task(
                &service,
                Request::new(pb::DeleteTaskRequest {
                    task_id: bad.into(),
                }),
            )
            .await
            .expect_err(bad),
        ];
        for status in statuses {
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
            assert_eq!(violated_field(&status), "task_id", "{bad:?}");
        }
        // Empty is Subscribe's "every task", so only the others are refused there.
        if !bad.is_empty() {
            let status = subscribe_error(&service, bad, "").await;
            assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
            assert_eq!(violated_field(&status), "task_id", "{bad:?}");
        }
    }
}

#[tokio::test]
async fn data_without_a_json_form_names_the_item() {
    let (service, _guard) = open();
    let nan = Rift::analyze(&service, analyze("t", vec![number(1.0), number(f64::NAN)]))
        .await
        .expect_err("NaN");
    assert_eq!(nan.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&nan), "data[1]");

    // Nested: the top-level item that holds it is named.
    let nested = Value {
        kind: Some(Kind::ListValue(ListValue {
            values: vec![number(2.0), number(f64::INFINITY)],
        })),
    };
    let infinity = Rift::analyze(
        &service,
        analyze("t", vec![number(1.0), number(2.0), nested]),
    )
    .await
    .expect_err("infinity");
    assert_eq!(infinity.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&infinity), "data[2]");
}

#[tokio::test]
async fn too_many_items_and_bad_resume_tokens_are_invalid_arguments() {
    let (service, _guard) = service(CoreConfig {
        limits: Limits {
            max_items: 5,
            ..Default::default()
        },
        ..Default::default()
    });
    let too_many = Rift::analyze(&service, analyze("t", strings(&["a"; 6])))
        .await
        .expect_err("6 items > 5");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&too_many), "data");
    Rift::analyze(&service, analyze("t", strings(&["a"; 5])))
        .await
        .expect("5 items are within the limit");

    let bad_after = subscribe_error(&service, "", "yesterday").await;
    assert_eq!(bad_after.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&bad_after), "after");
}

#[tokio::test]
async fn tokens_are_read_from_the_authorization_metadata() {
    let (service, _guard) = service(CoreConfig {
        access: Access::from_tokens(Tokens::from_pairs([
            (Role::Reader, READER),
            (Role::Writer, WRITER),
        ])),
        ..Default::default()
    });
    let code = |result: Result<tonic::Response<pb::AnalyzeResponse>, Status>| {
        result.err().map(|status| status.code())
    };
    let analyze_t = || analyze("t", vec![]);

    assert_eq!(
        code(Rift::analyze(&service, analyze_t()).await),
        Some(Code::Unauthenticated),
        "no token"
    );
    for scheme_not_bearer in [format!("Basic {WRITER}"), WRITER.to_owned()] {
        let request = with_metadata(analyze_t(), "authorization", &scheme_not_bearer);
        assert_eq!(
            code(Rift::analyze(&service, request).await),
            Some(Code::Unauthenticated),
            "{scheme_not_bearer:?}"
        );
    }
    let reader = with_metadata(analyze_t(), "authorization", &format!("Bearer {READER}"));
    assert_eq!(
        code(Rift::analyze(&service, reader).await),
        Some(Code::PermissionDenied),
        "a reader analyzing"
    );
    // The scheme is case-insensitive, and spaces around the token do not count.
    for writer in [format!("Bearer {WRITER}"), format!("bearer  {WRITER} ")] {
        let request = with_metadata(analyze_t(), "authorization", &writer);
        assert_eq!(
            code(Rift::analyze(&service, request).await),
            None,
            "{writer:?}"
        );
    }
}

#[tokio::test]
async fn a_grpc_timeout_already_spent_is_deadline_exceeded_and_nothing_is_written() {
    let (service, _guard) = open();
    // One nanosecond: gone before the call reaches memory, whatever the machine's speed.
    let request = with_metadata(analyze("late", vec![]), "grpc-timeout", "1n");
    let status = Rift::analyze(&service, request)
        .await
        .expect_err("deadline spent");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    let progress = Rift::progress(
        &service,
        Request::new(pb::ProgressRequest {
            task_id: "late".into(),
        }),
    )
    .await
    .expect("progress")
    .into_inner();
    assert_eq!(progress.status(), pb::TaskStatus::NotStarted);
    assert_eq!(progress.analysis_version, 0);

    // A malformed timeout is no deadline at all: the call goes through.
    let request = with_metadata(analyze("late", vec![]), "grpc-timeout", "5x");
    let analysis = Rift::analyze(&service, request)
        .await
        .expect("no deadline")
        .into_inner();
    assert_eq!(analysis.version, 1);
}
