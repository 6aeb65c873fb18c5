//! The HTTP face without a socket: [`server::http_app`] answered with `Router::oneshot`, for
//! what a route decides by itself (status, headers, body). Whatever needs a connection (the
//! WebSocket session after its upgrade, metrics moved by real calls) is tested over loopback
//! in `ws_*` and `observability`.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use rift::{
    domain::{
        Agents, Caller, CoreConfig, CoreError,
        memory::{InProcessMemory, Memory},
    },
    server,
    ws::WsConfig,
};
use tokio_util::sync::{CancellationToken, DropGuard};
use tower::ServiceExt as _;

use crate::support::redis::RedisServer;

/// A safety net for waits that must end; never a duration under test.
const GENEROUS: Duration = Duration::from_secs(30);

/// The app over `memory` as `serve` assembles it without `--metrics-addr` (metrics on the
/// same port), with the agents behind it; background tasks stop when the guard drops.
fn app_on(memory: Arc<dyn Memory>) -> (Router, Agents, DropGuard) {
    let shutdown = CancellationToken::new();
    let agents = Agents::start(memory, CoreConfig::default(), shutdown.clone());
    let registry = prometheus::Registry::new();
    agents.register_metrics(&registry).expect("domain metrics");
    let app = server::http_app(
        agents.clone(),
        WsConfig::default(),
        &registry,
        shutdown.clone(),
    )
    .expect("the HTTP app")
    .merge(server::metrics_app(registry));
    (app, agents, shutdown.drop_guard())
}

fn app() -> (Router, DropGuard) {
    let (app, _, guard) = app_on(Arc::new(InProcessMemory::new(1000)));
    (app, guard)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("ASCII header")
    }
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    }
}

async fn get(app: &Router, path: &str) -> Answer {
    send(
        app,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

/// Waits until the agents see memory answer (their probe runs every second), or fails.
async fn wait_until_available(agents: &Agents) {
    let mut readiness = agents.readiness();
    tokio::time::timeout(GENEROUS, readiness.wait_for(|now| now.is_ready()))
        .await
        .expect("memory never seen up")
        .expect("agents running");
}

#[tokio::test]
async fn healthz_follows_memory() {
    let mut redis = RedisServer::start();
    let (app, agents, _guard) = app_on(Arc::new(redis.memory(1000)));
    wait_until_available(&agents).await;
    let answer = get(&app, "/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "serving\n");

    redis.stop();
    // A call that finds memory gone marks it down at once.
    let failed = agents.progress(&Caller::default(), "t").await;
    assert!(
        matches!(failed, Err(CoreError::Unavailable { .. })),
        "{failed:?}"
    );
    let answer = get(&app, "/healthz").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "memory unavailable\n");

    redis.restart();
    wait_until_available(&agents).await;
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let (app, _guard) = app();
    let answer = get(&app, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/plain; version=0.0.4"
    );
    for family in [
        "# TYPE rift_subscribers gauge",
        "# TYPE rift_memory_available gauge",
    ] {
        assert!(answer.body.contains(family), "{family}:\n{}", answer.body);
    }
    assert!(
        answer.body.lines().any(|line| line == "rift_subscribers 0"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_dashboard_files_come_with_their_types_and_security_headers() {
    let (app, _guard) = app();
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/dashboard.js", "text/javascript; charset=utf-8"),
        ("/dashboard.css", "text/css; charset=utf-8"),
    ] {
        let answer = get(&app, path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header(header::CONTENT_TYPE), content_type, "{path}");
        assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(answer.header(header::CACHE_CONTROL), "no-cache");
        let policy = answer.header(header::CONTENT_SECURITY_POLICY);
        assert!(
            policy.starts_with("default-src 'none';"),
            "{path}: {policy}"
        );
        assert!(policy.contains("connect-src 'self'"), "{path}: {policy}");
        assert!(!answer.body.is_empty(), "{path}");
    }
    let page = get(&app, "/").await.body;
    assert!(page.contains(r#"src="dashboard.js""#), "{page}");
    assert!(page.contains(r#"href="dashboard.css""#), "{page}");
}

#[tokio::test]
async fn a_plain_get_of_the_websocket_route_is_refused() {
    let (app, _guard) = app();
    let answer = get(&app, "/ws").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(answer.body.contains("upgrade"), "{}", answer.body);

    // An upgrade that names another protocol is no WebSocket either.
    let answer = send(
        &app,
        Request::get("/ws")
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "h2c")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);

    let answer = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/ws")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let (app, _guard) = app();
    for path in ["/nope", "/ws/extra", "/healthz/", "/dashboard.js.map"] {
        assert_eq!(
            get(&app, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
