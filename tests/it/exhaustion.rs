//! Unauthenticated callers cannot take every slot, and nothing waits for ever (issue 12, §2):
//! gRPC sockets that never complete the HTTP/2 handshake are closed, and so are HTTP/2 peers
//! that stop answering pings; HTTP clients that send their headers too slowly are closed; with
//! few descriptors, a flood of half-sent HTTP requests leaves the gRPC port serving; one
//! connection flooding calls is shed on its own while a canary on another is served; with
//! tokens, a WebSocket upgrade without a valid one is refused before the socket exists; a
//! WebSocket peer that answers no ping is let go, one that does is kept.

use std::{net::SocketAddr, time::Duration};

use rift::{
    domain::{
        CoreConfig, Limits,
        auth::{Access, Role, Tokens},
    },
    pb,
    server::Config,
    transport::TransportConfig,
    ws::WsConfig,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;
use tonic::Code;

use crate::support::{
    grpc::strings,
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
    ws::WsClient,
};

/// Transport timers short enough for a test (none of them is asserted as a time).
fn quick_transport() -> TransportConfig {
    TransportConfig {
        handshake_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_millis(300),
        keepalive: Some(Duration::from_millis(300)),
        ..TransportConfig::default()
    }
}

/// Reads `stream` until the server closes it, or fails the test after [`PATIENCE`]; what
/// the server sent.
async fn closed_by_server(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    assert!(
        tokio::time::timeout(PATIENCE, read).await.is_ok(),
        "{what}: still open after {PATIENCE:?}"
    );
    received
}

#[tokio::test]
async fn grpc_sockets_that_never_complete_the_handshake_are_closed() {
    let rift = TestRift::start(Config {
        grpc: rift::grpc::GrpcConfig {
            max_connections: 4,
            ..Default::default()
        },
        transport: quick_transport(),
        ..Config::default()
    })
    .await;
    // Twice the connection limit: silent, or a few bytes of the preface and then silence.
    let mut sockets = Vec::new();
    for n in 0..8 {
        let mut socket = TcpStream::connect(rift.grpc_addr).await.expect("connect");
        if n % 2 == 1 {
            socket.write_all(b"PRI * HTTP/2.0").await.expect("write");
        }
        sockets.push(socket);
    }
    for (n, socket) in sockets.iter_mut().enumerate() {
        closed_by_server(socket, &format!("silent socket {n}")).await;
    }
    // Their slots are free again.
    let mut client = rift.client().await;
    client
        .progress(pb::ProgressRequest {
            task_id: "x".into(),
        })
        .await
        .expect("a real caller is served");
}

#[tokio::test]
async fn an_http2_peer_that_answers_no_ping_is_closed() {
    let rift = TestRift::start(Config {
        transport: quick_transport(),
        ..Config::default()
    })
    .await;
    let mut socket = TcpStream::connect(rift.grpc_addr).await.expect("connect");
    // The preface and an empty SETTINGS frame: the handshake, then not another byte, so no
    // PING is ever acknowledged.
    socket
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("handshake");
    let received = closed_by_server(&mut socket, "a peer that answers no ping").await;
    // Frames: 3 bytes length, 1 type (6: PING), 1 flags, 4 stream id.
    let mut frames = &received[..];
    let mut types = Vec::new();
    while frames.len() >= 9 {
        let length =
            usize::from(frames[0]) << 16 | usize::from(frames[1]) << 8 | usize::from(frames[2]);
        types.push(frames[3]);
        frames = &frames[(9 + length).min(frames.len())..];
    }
    assert!(
        types.contains(&6),
        "the server pinged first: frame types {types:?}"
    );
}

#[tokio::test]
async fn http_clients_that_send_headers_too_slowly_are_closed() {
    let rift = TestRift::start(Config {
        transport: quick_transport(),
        ..Config::default()
    })
    .await;
    let host = format!("Host: {}\r\n", rift.http_addr);
    // Nothing at all; 20 bytes of a request; a request line and a header, never ended.
    let starts: [&[u8]; 3] = [
        b"",
        b"GET / HTTP/1.1\r\nHost",
        &[
            b"GET /readyz HTTP/1.1\r\n",
            host.as_bytes(),
            b"X-Slow: 1\r\n",
        ]
        .concat(),
    ];
    for start in starts {
        let mut socket = TcpStream::connect(rift.http_addr).await.expect("connect");
        socket.write_all(start).await.expect("write");
        let received = closed_by_server(&mut socket, &String::from_utf8_lossy(start)).await;
        let text = String::from_utf8_lossy(&received);
        assert!(!text.contains("200 OK"), "{text}");
    }
    // A whole request is still answered.
    let mut socket = TcpStream::connect(rift.http_addr).await.expect("connect");
    let request = format!("GET /livez HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("write");
    let received = closed_by_server(&mut socket, "a whole request").await;
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
}

/// With 256 descriptors, 300 half-sent HTTP requests (whose timers do not run out here) take
/// the HTTP listener's share only: the gRPC port still answers. Before, the HTTP listener took
/// every descriptor and the gRPC port could accept nothing.
#[tokio::test]
async fn a_flood_on_the_http_port_leaves_the_grpc_port_its_descriptors() {
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-c", r#"ulimit -n 256 && exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_rift"))
        .args(["--log-format", "json", "serve"])
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .args([
            "--handshake-timeout-ms",
            "600000",
            "--header-read-timeout-ms",
            "600000",
        ])
        .env_remove("REDIS_URL")
        .env_remove("RIFT_REDIS_URL");
    let rift = RiftProcess::start(command).await;
    let fields = &rift.serving["fields"];
    assert_eq!(fields["open_files"], 256, "{fields}");
    assert_eq!(fields["http_connections"], 64, "{fields}");
    assert_eq!(fields["grpc_connections"], 64, "{fields}");
    let mut flood = Vec::new();
    for _ in 0..300 {
        let mut socket = TcpStream::connect(rift.http_addr).await.expect("connect");
        socket
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            .await
            .expect("write");
        flood.push(socket);
    }
    let health = health_check(rift.grpc_addr).await;
    assert_eq!(
        health.map(|response| response.status()),
        Ok(tonic_health::pb::health_check_response::ServingStatus::Serving)
    );
    drop(flood);
}

/// `grpc.health.v1.Health/Check` for the whole server, with a deadline far beyond what it
/// takes when the port accepts.
async fn health_check(addr: SocketAddr) -> Result<tonic_health::pb::HealthCheckResponse, Code> {
    let call = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .map_err(|_| Code::Unavailable)?;
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| status.code())
    };
    tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap_or(Err(Code::DeadlineExceeded))
}

/// One connection floods writes that Redis holds; a canary on a connection of its own is
/// still admitted (held by Redis like the rest, not shed), and served once Redis answers. The server takes 32 calls at once; one connection may have 8 in progress.
/// Before the per-connection limit the flood took all 32 and the canary was shed.
#[tokio::test]
async fn a_flooding_connection_is_shed_and_a_canary_on_its_own_is_served() {
    const FLOOD: usize = 256;
    let redis = RedisServer::start();
    let rift = TestRift::start(Config {
        core: CoreConfig {
            limits: Limits {
                max_in_flight: 32,
                request_timeout: Duration::from_secs(120),
                ..Limits::default()
            },
            ..CoreConfig::default()
        },
        transport: TransportConfig {
            max_in_flight_per_connection: 8,
            ..TransportConfig::default()
        },
        // Redis holds the calls until the test lets it; Rift does not give up on it first.
        memory: rift::server::MemoryConfig::Redis(rift::domain::memory::RedisConfig {
            op_timeout: Duration::from_secs(120),
            ..rift::domain::memory::RedisConfig::new(redis.url())
        }),
        ..Config::default()
    })
    .await;
    let flooder = rift.client().await;
    let mut canary = rift.client().await;
    canary
        .analyze(pb::AnalyzeRequest {
            task_id: "canary".into(),
            data: strings(&["a"]),
            ..Default::default()
        })
        .await
        .expect("seed");
    redis.pause_writes(120_000).await;
    let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
    for n in 0..FLOOD {
        let mut client = flooder.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let result = client
                .analyze(pb::AnalyzeRequest {
                    task_id: format!("flood-{n}"),
                    data: strings(&["a"]),
                    ..Default::default()
                })
                .await;
            let _ = sender.send(result.map(|_| ()));
        });
    }
    drop(sender);
    // Every call but those Redis holds is shed at once: at least FLOOD - 32 (the server's
    // limit) answers, before and after the per-connection limit alike.
    for _ in 0..FLOOD - 32 {
        let status = results
            .recv()
            .await
            .expect("a result")
            .expect_err("shed while Redis holds the admitted calls");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    }
    // The canary is admitted, not shed: Redis holds it too, until its own deadline.
    let mut held = tonic::Request::new(pb::ProgressRequest {
        task_id: "canary".into(),
    });
    held.set_timeout(Duration::from_secs(2));
    let status = canary.progress(held).await.expect_err("Redis holds it");
    // Shed would be RESOURCE_EXHAUSTED; admitted, it waits for Redis until its deadline.
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Unavailable),
        "the canary was admitted: {status:?}"
    );
    redis.unpause().await;
    let progress = canary
        .progress(pb::ProgressRequest {
            task_id: "canary".into(),
        })
        .await
        .expect("the canary on its own connection is served");
    assert_eq!(progress.into_inner().status(), pb::TaskStatus::InProgress);
    // The flood's admitted calls complete once Redis lets them; the rest were shed. (How many
    // complete is not fixed: on a loaded machine some of the flood's calls leave the client
    // only after Redis is let go, and are admitted then.)
    let mut completed = 0;
    while let Some(result) = results.recv().await {
        match result {
            Ok(()) => completed += 1,
            Err(status) => assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}"),
        }
    }
    assert!(completed >= 1, "the flood's admitted calls complete");
}

/// With every WebSocket slot taken (`--max-connections 2`), one more upgrade is answered
/// (an error frame, close 1013) and the probes still answer: the HTTP listener keeps headroom
/// beyond the WebSocket limit.
#[tokio::test]
async fn with_every_websocket_taken_probes_answer_and_one_more_is_told_to_retry() {
    let rift = RiftProcess::spawn(&["--max-connections", "2"]).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut client = WsClient::connect(rift.http_addr).await;
        let reply = client.command("Check progress for task 1").await;
        assert!(reply.contains("not-started"), "{reply}");
        open.push(client);
    }
    let mut one_more = WsClient::connect(rift.http_addr).await;
    let refusal = one_more.reply().await;
    assert!(refusal.contains("RESOURCE_EXHAUSTED"), "{refusal}");
    let close = one_more.closed().await.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1013, "{close:?}");
    let mut probe = TcpStream::connect(rift.http_addr).await.expect("connect");
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        rift.http_addr
    );
    probe.write_all(request.as_bytes()).await.expect("write");
    let response = closed_by_server(&mut probe, "a probe").await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    drop(open);
}

const READER: &str = "reader-token-0123456789";

/// Generous for a loaded two-core machine; nothing waits this long when it works.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn with_tokens_a_websocket_upgrade_needs_a_valid_one() {
    let mut config = Config::default();
    config.core.access = Access::from_tokens(Tokens::from_pairs([(Role::Reader, READER)]));
    let rift = TestRift::start(config).await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer not-a-token-of-this-server")],
        vec![("sec-websocket-protocol", "rift, bearer.not-a-token")],
    ] {
        let refused = WsClient::try_connect_with_headers(rift.http_addr, &headers)
            .await
            .err()
            .unwrap_or_else(|| panic!("{headers:?}: the upgrade is refused"));
        assert_eq!(refused.status, 401, "{headers:?}: {refused:?}");
        let body = crate::support::json(&refused.body);
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
    }
    // A reader gets its socket; what it may do is checked per command.
    let mut reader = WsClient::connect_with_token(rift.http_addr, READER).await;
    let reply = reader.command("Check progress for task 1").await;
    assert!(reply.contains("not-started"), "{reply}");
    let error = reader.command_error("Delete task 1").await;
    assert_eq!(error["code"], "PERMISSION_DENIED", "{error}");
}

/// Pings every 100 ms, answers due within `pong_timeout`.
fn quick_pings(pong_timeout: Duration) -> Config {
    Config {
        ws: WsConfig {
            ping_interval: Duration::from_millis(100),
            pong_timeout,
            ..WsConfig::default()
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn a_websocket_peer_that_answers_no_ping_is_let_go() {
    let rift = TestRift::start(quick_pings(Duration::from_millis(300))).await;
    // A peer that upgrades, then never sends another byte: no pong, ever.
    let mut stream = TcpStream::connect(rift.http_addr).await.expect("connect");
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        rift.http_addr
    );
    stream.write_all(upgrade.as_bytes()).await.expect("upgrade");
    let mut received = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(
        ended.is_ok(),
        "the server still holds a silent peer after {PATIENCE:?}"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    let frames = &received[text.find("\r\n\r\n").expect("end of head") + 4..];
    // Server frames are unmasked: opcode byte, then length. 0x89 is a ping, 0x88 a close.
    assert_eq!(frames.first(), Some(&0x89), "a ping first: {frames:?}");
    assert!(frames.contains(&0x88), "then a close: {frames:?}");
}

#[tokio::test]
async fn a_websocket_peer_that_answers_pings_is_kept() {
    // A deadline a loaded machine cannot miss: this is about being kept, not about time.
    let rift = TestRift::start(quick_pings(PATIENCE)).await;
    let mut client = WsClient::connect(rift.http_addr).await;
    // Several ping rounds, each answered (tungstenite answers while reading): the socket stays.
    let mut pings = 0;
    while pings < 5 {
        match client.next_message().await {
            Some(Message::Ping(_)) => pings += 1,
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    let reply = client.command("Check progress for task 1").await;
    assert!(reply.contains("not-started"), "{reply}");
}
