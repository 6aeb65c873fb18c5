//! grpc-web on the gRPC port, as a browser speaks it: HTTP/1.1, `application/grpc-web+proto`,
//! trailers in the body, CORS preflight. The client is tonic's generated one over tonic-web's
//! client layer and a plain HTTP/1.1 hyper client, on a Rift backed by a real Redis.

use std::time::Duration;

use crate::support::{
    grpc::{error_info, strings, violated_field},
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use rift::pb::{self, rift_client::RiftClient};
use tonic::{Code, body::Body};
use tonic_web::{GrpcWebCall, GrpcWebClientService};
use tower::ServiceExt as _;

type Http1 = Client<HttpConnector, GrpcWebCall<Body>>;

/// An HTTP/1.1-only client: hyper's legacy client never upgrades to HTTP/2 without
/// `http2_only`, so every call below really is grpc-web over HTTP/1.1.
fn http1() -> Client<HttpConnector, Body> {
    Client::builder(TokioExecutor::new()).build_http()
}

type Checked = tower::util::MapResponse<Http1, fn(Response<Incoming>) -> Response<Incoming>>;

/// The generated client speaking grpc-web.
type WebClient = RiftClient<GrpcWebClientService<Checked>>;

fn grpc_web_client(rift: &TestRift) -> WebClient {
    grpc_web_client_at(rift.grpc_addr)
}

fn grpc_web_client_at(addr: std::net::SocketAddr) -> WebClient {
    let http: Http1 = Client::builder(TokioExecutor::new()).build_http();
    let checked: Checked = http.map_response(check_grpc_web);
    let origin = format!("http://{addr}").parse().expect("origin URI");
    RiftClient::with_origin(GrpcWebClientService::new(checked), origin)
}

/// Every response the generated client gets must be HTTP/1.1 and grpc-web, checked before
/// tonic-web decodes it.
fn check_grpc_web(response: Response<Incoming>) -> Response<Incoming> {
    assert_eq!(
        response.version(),
        Version::HTTP_11,
        "grpc-web over HTTP/1.1"
    );
    assert_eq!(
        content_type(response.headers()),
        "application/grpc-web+proto"
    );
    response
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Reads the next notification, failing rather than hanging if none comes.
async fn next(stream: &mut tonic::Streaming<pb::Notification>) -> pb::Notification {
    tokio::time::timeout(Duration::from_secs(30), stream.message())
        .await
        .expect("a notification within 30 s")
        .expect("stream error")
        .expect("stream ended early")
}

#[tokio::test]
async fn unary_calls_over_grpc_web() {
    let (_redis, rift) = TestRift::with_redis().await;
    let mut client = grpc_web_client(&rift);

    let analysis = client
        .analyze(pb::AnalyzeRequest {
            task_id: "101".into(),
            data: strings(&["data1", "data2", "data3"]),
            ..Default::default()
        })
        .await
        .expect("analyze over grpc-web")
        .into_inner();
    assert_eq!(
        (analysis.task_id.as_str(), analysis.summary.as_str()),
        ("101", "Analyzed 3 items")
    );
    assert_eq!(analysis.version, 1);

    let narrative = client
        .narrate(pb::NarrateRequest {
            task_id: "101".into(),
            ..Default::default()
        })
        .await
        .expect("narrate over grpc-web")
        .into_inner();
    assert_eq!(
        narrative.narrative,
        "The analysis for task 101 concluded: Analyzed 3 items."
    );

    let progress = client
        .progress(pb::ProgressRequest {
            task_id: "101".into(),
        })
        .await
        .expect("progress over grpc-web")
        .into_inner();
    assert_eq!(progress.status(), pb::TaskStatus::Completed);
}

#[tokio::test]
async fn errors_keep_their_details_over_grpc_web() {
    let (_redis, rift) = TestRift::with_redis().await;
    let mut client = grpc_web_client(&rift);

    let status = client
        .narrate(pb::NarrateRequest {
            task_id: "never-analyzed".into(),
            ..Default::default()
        })
        .await
        .expect_err("narrate before analyze");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let info = error_info(&status);
    assert_eq!(info.reason, "ANALYSIS_MISSING");

    let status = client
        .analyze(pb::AnalyzeRequest {
            task_id: "no spaces".into(),
            data: vec![],
            ..Default::default()
        })
        .await
        .expect_err("invalid task id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_field(&status), "task_id");
}

/// Replay then live on one open HTTP/1.1 response: the second event arrives while the stream
/// is open, so grpc-web streams incrementally rather than buffering the whole call. Resuming
/// from the first id replays exactly the second.
#[tokio::test]
async fn subscribe_streams_and_resumes_over_grpc_web() {
    let (_redis, rift) = TestRift::with_redis().await;
    let mut client = grpc_web_client(&rift);
    client
        .analyze(pb::AnalyzeRequest {
            task_id: "web".into(),
            data: strings(&["a"]),
            ..Default::default()
        })
        .await
        .expect("analyze");

    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            task_id: "web".into(),
            after: "0".into(),
        })
        .await
        .expect("subscribe over grpc-web")
        .into_inner();
    let first = next(&mut stream).await;
    assert_eq!(
        (first.task_id.as_str(), first.action.as_str()),
        ("web", "analysis_stored")
    );

    // Another connection, while this one's response is still open.
    grpc_web_client(&rift)
        .narrate(pb::NarrateRequest {
            task_id: "web".into(),
            ..Default::default()
        })
        .await
        .expect("narrate");
    let second = next(&mut stream).await;
    assert_eq!(second.action, "narrative_stored");
    assert_eq!(second.agent, "ConceptAgent");
    drop(stream);

    let mut resumed = client
        .subscribe(pb::SubscribeRequest {
            task_id: "web".into(),
            after: first.id.clone(),
        })
        .await
        .expect("resume over grpc-web")
        .into_inner();
    let replayed = next(&mut resumed).await;
    assert_eq!(replayed.id, second.id);
    assert_eq!(replayed.action, "narrative_stored");
}

/// A page sends its token as `authorization` metadata, which grpc-web carries as a header: the
/// same check as native gRPC applies.
#[tokio::test]
async fn bearer_tokens_work_over_grpc_web() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "reader reader-token-0123456789\n").expect("write the tokens file");
    let rift = RiftProcess::spawn(&[
        "--redis-url",
        &redis.url(),
        "--tokens-file",
        tokens.to_str().expect("utf-8 path"),
    ])
    .await;
    let mut client = grpc_web_client_at(rift.grpc_addr);
    let progress = || {
        tonic::Request::new(pb::ProgressRequest {
            task_id: "101".into(),
        })
    };

    let status = client.progress(progress()).await.expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut request = progress();
    request.metadata_mut().insert(
        "authorization",
        "Bearer reader-token-0123456789".parse().expect("ascii"),
    );
    let answer = client
        .progress(request)
        .await
        .expect("progress with a reader token")
        .into_inner();
    assert_eq!(answer.status(), pb::TaskStatus::NotStarted);
}

/// A browser on another origin first sends a preflight; Rift must allow the grpc-web headers
/// and expose the status headers, or the browser hides the answer from the page. The origin
/// must be allowed (`--allowed-origins`), and the answer names it, never `*`.
#[tokio::test]
async fn cors_lets_an_allowed_origin_call() {
    let redis = RedisServer::start();
    let rift = TestRift::start(rift::server::Config {
        transport: rift::transport::TransportConfig {
            allowed_origins: vec!["http://dashboard.example".into()],
            ..Default::default()
        },
        ..crate::support::rift::redis_config(&redis.url())
    })
    .await;
    let url = format!("http://{}/rift.v1.Rift/Progress", rift.grpc_addr);

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri(&url)
        .header(header::ORIGIN, "http://dashboard.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,x-grpc-web,x-user-agent,authorization",
        )
        .body(Body::empty())
        .expect("preflight request");
    let response = http1().request(preflight).await.expect("preflight");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        header_str(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "http://dashboard.example"
    );
    let allowed = header_str(headers, header::ACCESS_CONTROL_ALLOW_HEADERS).to_ascii_lowercase();
    for name in [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{name} not in {allowed:?}");
    }
    assert!(header_str(headers, header::ACCESS_CONTROL_ALLOW_METHODS).contains("POST"));

    // The call itself: a grpc-web frame for ProgressRequest{task_id: "x"}.
    let message = [0x0a, 0x01, b'x'];
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("len").to_be_bytes());
    frame.extend_from_slice(&message);
    let call = Request::builder()
        .method(Method::POST)
        .uri(&url)
        .header(header::ORIGIN, "http://dashboard.example")
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Body::new(http_body_util::Full::new(bytes::Bytes::from(
            frame,
        ))))
        .expect("grpc-web request");
    let response = http1().request(call).await.expect("grpc-web call");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    let headers = response.headers();
    assert_eq!(
        header_str(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "http://dashboard.example"
    );
    let exposed = header_str(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS).to_ascii_lowercase();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(name), "{name} not in {exposed:?}");
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
