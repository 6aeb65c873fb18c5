//! The WebSocket adapter: natural-language commands and typed JSON requests onto the same
//! [`Agents`] as gRPC, and live notifications over the same socket.
//!
//! `GET /ws` upgrades to a WebSocket on which every text frame is one command and gets exactly
//! one reply; `help` lists the commands. A person types
//! `Analyze data for task 101 with data: ["data1", "data2", "data3"]`; a program sends
//! `{"analyze": {"task_id": "101", "data": ["data1"]}, "id": 1}`, or what a person typed as
//! `{"text": "Check progress for task 101", "id": 2}`. `Watch task 101` (or `Watch all tasks`,
//! optionally `from <id>`) pushes `{"notification": {...}}` frames between replies until
//! `Stop watching`; a connection has at most one watch, and a new one replaces it.
//!
//! # Layout
//!
//! - `operations`: the one table of operations (names, natural-language forms, typed requests,
//!   access) and the parser reading frames with it; `help`, hints and suggestions come from it.
//! - `command`: what a client asks for (`Command`), why a frame is not a command, and the
//!   pieces the grammar is read with (keywords, JSON data, edit distance).
//! - `frame`: the JSON the server sends, and the one mapping from errors to error frames.
//! - `connection`: the per-socket loop.
//! - `asyncapi`: the AsyncAPI 3 document of `/ws` ([`asyncapi`]), made from the table and the
//!   frames' types.
//!
//! # Metrics
//!
//! The adapter registers its own: its calls (`rift_calls_total` and
//! `rift_call_duration_seconds` with `transport="websocket"`, one per command frame, `operation`
//! the command's name or `invalid`) and `rift_websocket_connections`, the connections open now.
//!
//! # Bad input
//!
//! A bad frame gets one error frame, `{"error": {"code", "message", "hint"}}`, with the code
//! the same failure gets over gRPC, and the socket keeps serving. Binary frames are refused that
//! way too. Frames over [`WsConfig::max_frame_bytes`] are read and refused with
//! `RESOURCE_EXHAUSTED` up to twice that size (the hard cap, [`WsConfig::hard_cap`]); past the
//! hard cap tungstenite stops reading, so the server closes with 1009 (message too big) instead.
//! Text that is not UTF-8 ends the connection with 1007, as RFC 6455 requires.

mod asyncapi;
mod command;
mod connection;
mod frame;
mod operations;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{Query, State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{self, AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL},
    },
    response::{IntoResponse as _, Response},
    routing::get,
};
use prometheus::{IntGauge, Registry};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use self::connection::Connection;
use crate::{
    domain::{
        Agents, Caller, CoreError,
        auth::{self, Operation},
    },
    telemetry::CallMetrics,
};

/// The AsyncAPI 3.0 document of `/ws`: every operation with its typed request, natural-language
/// forms and replies, the error frames and the watch's pushes, their JSON Schemas made from the
/// types the adapter reads and writes. `rift asyncapi` prints it.
pub fn asyncapi() -> serde_json::Value {
    asyncapi::document()
}

/// Limits of the WebSocket adapter.
#[derive(Debug, Clone, Copy)]
pub struct WsConfig {
    /// Largest frame accepted; up to [`WsConfig::hard_cap`], bigger gets a `RESOURCE_EXHAUSTED`
    /// error frame and the socket stays open.
    pub max_frame_bytes: usize,
    /// Connections open at once; one more gets a `RESOURCE_EXHAUSTED` error frame and close
    /// 1013 (try again later).
    pub max_connections: usize,
    /// How often each connection is pinged.
    pub ping_interval: Duration,
    /// How long after a ping the peer has to be heard from (any frame, the pong included)
    /// before the connection closes and frees its slot.
    pub pong_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1024 * 1024,
            max_connections: 10_000,
            // Under the idle timeouts of common proxies (60 s and more).
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(20),
        }
    }
}

impl WsConfig {
    /// The largest message read at all: twice the limit. Frames between the limit and the cap
    /// are read, so they can be answered with an error; bigger ones close the connection (1009)
    /// without being buffered.
    pub fn hard_cap(&self) -> usize {
        self.max_frame_bytes.saturating_mul(2)
    }
}

#[derive(Debug, Clone)]
struct WsState {
    agents: Agents,
    config: WsConfig,
    shutdown: CancellationToken,
    /// Numbers connections in logs.
    connections: Arc<AtomicU64>,
    /// One permit per open connection.
    open: Arc<Semaphore>,
    calls: CallMetrics,
    /// `rift_websocket_connections`.
    open_gauge: IntGauge,
}

/// Routes of the adapter (`/ws`), to merge into the HTTP app, its metrics registered on
/// `registry`. Every connection closes (1001) when `shutdown` is cancelled.
pub fn router(
    agents: Agents,
    config: WsConfig,
    registry: &Registry,
    shutdown: CancellationToken,
) -> prometheus::Result<Router> {
    let calls = CallMetrics::register(registry, "websocket")?;
    let open_gauge = IntGauge::new(
        "rift_websocket_connections",
        "WebSocket connections open now.",
    )?;
    registry.register(Box::new(open_gauge.clone()))?;
    Ok(Router::new()
        .route("/ws", get(upgrade))
        .with_state(WsState {
            agents,
            config,
            shutdown,
            connections: Arc::new(AtomicU64::new(0)),
            open: Arc::new(Semaphore::new(config.max_connections.max(1))),
            calls,
            open_gauge,
        }))
}

/// A connection counted by `rift_websocket_connections` until dropped.
struct Counted(IntGauge);

impl Counted {
    fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Bytes tungstenite reads from a socket at a time. Its default, 128 KiB, is allocated and
/// zero-filled by the first read of every connection: 128 KiB of resident memory per idle
/// connection. Commands are far smaller; a larger frame still arrives whole, in more reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The subprotocol Rift answers with; browsers offer it beside `bearer.<token>`, since they
/// cannot set an `Authorization` header on a WebSocket.
const SUBPROTOCOL: &str = "rift";

#[derive(Debug, Deserialize)]
struct UpgradeQuery {
    token: Option<String>,
}

/// `GET /ws`. With tokens, the credential is checked here, before the socket exists: a caller
/// without a valid token gets 401 and holds no connection slot. What each role may do is
/// checked per command.
async fn upgrade(
    State(state): State<WsState>,
    Query(query): Query<UpgradeQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let caller = Caller::with_token(presented_token(&headers, query.token.as_deref()));
    // Help needs the lowest role, so this asks for a valid token of any role. Checked before
    // the upgrade headers, so a page can learn why its socket was refused with a plain GET.
    if let Err(error) = state.agents.authorize(&caller, Operation::Help) {
        return refused(error);
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let trace_parent = crate::traces::parent_in_headers(&headers);
    let cap = state.config.hard_cap();
    let connection = state.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let permit = state.open.clone().try_acquire_owned().ok();
    upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(cap)
        .max_frame_size(cap)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            async move {
                let Some(_permit) = permit else {
                    Connection::refuse(socket, state.config.max_connections).await;
                    return;
                };
                let _counted = Counted::new(&state.open_gauge);
                // A child token per connection: the loop polls it once per frame, and polling
                // a token locks its waiter list, which the server's own token would make one
                // lock for every connection of the process.
                let shutdown = state.shutdown.child_token();
                Connection::new(
                    socket,
                    state.agents,
                    caller,
                    state.config,
                    shutdown,
                    state.calls,
                    trace_parent,
                )
                .run()
                .await;
            }
            .instrument(tracing::debug_span!("ws", connection))
        })
}

/// An upgrade refused for its credential: 401 (with `WWW-Authenticate`) or 403, the body the
/// error frame the same failure gets on an open socket.
fn refused(error: CoreError) -> Response {
    let status = match &error {
        CoreError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    tracing::debug!(%error, "websocket upgrade refused");
    let body = frame::error_frame(&frame::ErrorBody::from(error));
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The bearer token of an upgrade request: the `Authorization` header, a `bearer.<token>`
/// subprotocol, or the `token` query parameter, in that order.
fn presented_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(auth::bearer_token);
    let subprotocol = || {
        headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|protocol| protocol.trim().strip_prefix("bearer."))
    };
    header.or_else(subprotocol).or(query)
}
