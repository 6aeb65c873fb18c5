//! Unauthenticated callers cannot take every slot, and nothing waits for ever (issue 12, §2):
//! with tokens, a WebSocket upgrade without a valid one is refused before the socket exists;
//! a WebSocket peer that answers no ping is let go, one that does is kept.

use std::time::Duration;

use rift::{
    domain::auth::{Access, Role, Tokens},
    server::Config,
    ws::WsConfig,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{rift::TestRift, ws::WsClient};

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
