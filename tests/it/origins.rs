//! No web page drives a local Rift (issue 12, §1): a foreign `Origin` is refused on `/ws` and
//! on grpc-web (its CORS preflight included, never answered with `*`), a `Host` that is not
//! one of the server's names (DNS rebinding) is refused on every route of both ports, and the
//! dashboard from its own origin still works. Raw HTTP/1.1 and WebSocket clients send the
//! headers a browser would; a real headless Chromium on another origin tries it too.

use std::{net::SocketAddr, time::Duration};

use rift::{
    pb::{self, rift_client::RiftClient},
    server::Config,
    transport::TransportConfig,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

use crate::support::{browser::Page, grpc::strings, rift::TestRift, ws::WsClient};

const FOREIGN: &str = "http://evil.example";

/// A server that also answers to `rift.example` and lets `https://app.example` call it.
fn listed() -> Config {
    Config {
        transport: TransportConfig {
            public_hosts: vec!["rift.example".into()],
            allowed_origins: vec!["https://app.example".into()],
            ..TransportConfig::default()
        },
        ..Config::default()
    }
}

/// One HTTP/1.1 request on a fresh connection with these headers (`Host` among them, if any;
/// `Connection: close` unless they name a `Connection`): the status and the whole response,
/// or its head alone for a 101 (Switching Protocols).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream.write_all(body).await.expect("send body");
    let mut response = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.expect("read the response");
            response.extend_from_slice(&buffer[..n]);
            if n == 0 || complete(&response) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("a response within 30 s");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    (status, response)
}

/// Whether `response` is whole: a 101's head, or a head and the `Content-Length` it gives.
fn complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    if head.starts_with("http/1.1 101") {
        return true;
    }
    head.lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|length| length.trim().parse::<usize>().ok())
        .is_some_and(|length| response.len() >= end + 4 + length)
}

/// The headers of a WebSocket upgrade.
const UPGRADE: [(&str, &str); 4] = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
];

async fn upgrade_status(rift: &TestRift, host: &str, origin: Option<&str>) -> u16 {
    let mut headers = vec![("Host", host)];
    headers.extend(UPGRADE);
    headers.extend(origin.map(|origin| ("Origin", origin)));
    request(rift.http_addr, "GET", "/ws", &headers, b"").await.0
}

#[tokio::test]
async fn a_foreign_origin_is_refused_at_the_websocket_upgrade() {
    let rift = TestRift::start(listed()).await;
    let host = rift.http_addr.to_string();
    let own = format!("http://{host}");
    assert_eq!(upgrade_status(&rift, &host, Some(FOREIGN)).await, 403);
    assert_eq!(upgrade_status(&rift, &host, Some("null")).await, 403);
    // Same host, another port: another origin.
    let other_port = format!("http://127.0.0.1:{}", rift.http_addr.port() ^ 1);
    assert_eq!(upgrade_status(&rift, &host, Some(&other_port)).await, 403);
    // The page's own origin, a listed one, and programs (no Origin) upgrade.
    assert_eq!(upgrade_status(&rift, &host, Some(&own)).await, 101);
    assert_eq!(
        upgrade_status(&rift, &host, Some("https://app.example")).await,
        101
    );
    assert_eq!(upgrade_status(&rift, &host, None).await, 101);

    // Refused before anything ran: the foreign page's command never reached the agents.
    let refused = WsClient::try_connect_with_headers(rift.http_addr, &[("origin", FOREIGN)])
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("--allowed-origins"), "{refused:?}");
    let mut own_page = WsClient::connect_with_headers(rift.http_addr, &[("origin", &own)]).await;
    let reply = own_page.command("Check progress for task 101").await;
    assert!(reply.contains(r#""status": "not-started""#), "{reply}");
}

#[tokio::test]
async fn a_rebinding_host_is_refused_on_every_route() {
    let rift = TestRift::start(listed()).await;
    let port = rift.http_addr.port();
    let evil = format!("evil.example:{port}");
    for path in ["/", "/metrics", "/readyz", "/livez", "/dashboard.js"] {
        let (status, response) =
            request(rift.http_addr, "GET", path, &[("Host", &evil)], b"").await;
        assert_eq!(status, 421, "{path}: {response}");
        assert!(response.contains("--public-host"), "{response}");
    }
    assert_eq!(upgrade_status(&rift, &evil, None).await, 421);
    // The server's own names.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("dash.localhost:{port}"),
        format!("[::1]:{port}"),
        format!("rift.example:{port}"),
    ] {
        let (status, response) = request(rift.http_addr, "GET", "/", &[("Host", &host)], b"").await;
        assert_eq!(status, 200, "{host}: {response}");
    }

    // The gRPC port: grpc-web over HTTP/1.1 and native gRPC over HTTP/2 alike.
    let grpc_evil = format!("evil.example:{}", rift.grpc_addr.port());
    let (status, _) = request(
        rift.grpc_addr,
        "POST",
        "/rift.v1.Rift/Progress",
        &[
            ("Host", &grpc_evil),
            ("Content-Type", "application/grpc-web+proto"),
            ("X-Grpc-Web", "1"),
        ],
        &grpc_web_frame(&[0x0a, 0x01, b'x']),
    )
    .await;
    assert_eq!(status, 421);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", rift.grpc_addr))
        .expect("endpoint")
        .origin(format!("http://{grpc_evil}").parse().expect("uri"))
        .connect()
        .await
        .expect("connect");
    let status = RiftClient::new(channel)
        .progress(pb::ProgressRequest {
            task_id: "x".into(),
        })
        .await
        .expect_err("a rebinding :authority is refused");
    assert!(status.message().contains("421"), "{status:?}");
    let mut client = rift.client().await;
    client
        .progress(pb::ProgressRequest {
            task_id: "x".into(),
        })
        .await
        .expect("its own address is served");
}

/// A grpc-web message frame around an encoded message.
fn grpc_web_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("len").to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

#[tokio::test]
async fn grpc_web_from_a_foreign_origin_is_refused_before_the_call() {
    let rift = TestRift::start(listed()).await;
    let mut client = rift.client().await;
    client
        .analyze(pb::AnalyzeRequest {
            task_id: "kept".into(),
            data: strings(&["a"]),
            ..Default::default()
        })
        .await
        .expect("analyze");
    let host = rift.grpc_addr.to_string();
    let preflight = |origin: &'static str| {
        let host = host.clone();
        let addr = rift.grpc_addr;
        async move {
            request(
                addr,
                "OPTIONS",
                "/rift.v1.Rift/DeleteTask",
                &[
                    ("Host", &host),
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type,x-grpc-web"),
                ],
                b"",
            )
            .await
        }
    };
    let (status, response) = preflight(FOREIGN).await;
    assert_eq!(status, 403, "{response}");
    assert!(
        !response
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{response}"
    );
    let (status, response) = preflight("https://app.example").await;
    assert_eq!(status, 200, "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("access-control-allow-origin: https://app.example\r\n"),
        "the allowed origin is named, never *: {response}"
    );

    // DeleteTask{task_id: "kept"} from the foreign origin: refused, the task still there.
    let delete = grpc_web_frame(&[&[0x0a, 0x04][..], b"kept"].concat());
    let (status, response) = request(
        rift.grpc_addr,
        "POST",
        "/rift.v1.Rift/DeleteTask",
        &[
            ("Host", &host),
            ("Origin", FOREIGN),
            ("Content-Type", "application/grpc-web+proto"),
            ("X-Grpc-Web", "1"),
        ],
        &delete,
    )
    .await;
    assert_eq!(status, 403, "{response}");
    let progress = client
        .progress(pb::ProgressRequest {
            task_id: "kept".into(),
        })
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.status(), pb::TaskStatus::InProgress, "not deleted");
}

/// Serves one blank page without a content security policy on `127.0.0.1:0`: another
/// origin for the browser, whose scripts may try to reach Rift.
async fn foreign_site() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    }
                }
                let page = "<!doctype html><title>elsewhere</title><p>another site</p>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

/// What a page's script gets opening a WebSocket to `url`: `open` or `refused`.
fn open_socket(url: &str) -> String {
    format!(
        "new Promise(resolve => {{ const s = new WebSocket({url:?}); \
         s.onopen = () => {{ s.close(); resolve('open'); }}; \
         s.onerror = () => resolve('refused'); }})"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_on_another_origin_cannot_reach_rift_in_a_real_browser() {
    let rift = TestRift::in_process().await;
    let mut client = rift.client().await;
    client
        .analyze(pb::AnalyzeRequest {
            task_id: "mine".into(),
            data: strings(&["a"]),
            ..Default::default()
        })
        .await
        .expect("analyze");
    let site = foreign_site().await;
    let mut page = Page::open(&format!("http://{site}/")).await;
    let ws = format!("ws://{}/ws", rift.http_addr);
    assert_eq!(page.evaluate(&open_socket(&ws)).await, Ok("refused".into()));
    // grpc-web DeleteTask from that page: the preflight is refused, so the call never leaves.
    let delete = format!(
        "fetch('http://{}/rift.v1.Rift/DeleteTask', {{ method: 'POST', \
         headers: {{ 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' }}, \
         body: new Uint8Array([0, 0, 0, 0, 6, 10, 4, 109, 105, 110, 101]) }}) \
         .then(r => 'answered ' + r.status, e => 'refused')",
        rift.grpc_addr
    );
    assert_eq!(page.evaluate(&delete).await, Ok("refused".into()));
    let progress = client
        .progress(pb::ProgressRequest {
            task_id: "mine".into(),
        })
        .await
        .expect("progress")
        .into_inner();
    assert_eq!(progress.status(), pb::TaskStatus::InProgress, "not deleted");

    // The dashboard, on its own origin, opens its socket and goes live.
    page.navigate(&format!("http://{}/", rift.http_addr)).await;
    page.wait_for(
        "the dashboard to go live",
        "document.querySelector('#connection').dataset.state === 'live'",
    )
    .await;
    assert_eq!(page.evaluate(&open_socket(&ws)).await, Ok("open".into()));
    page.close().await;
}
