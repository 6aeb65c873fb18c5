//! A WebSocket client for the tests that speak to `/ws`: commands in, replies and pushes told
//! apart.
//!
//! Every read waits at most [`WAIT`] and fails the test with what it was waiting for.

use std::{collections::VecDeque, net::SocketAddr, time::Duration};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// Longest any one frame is waited for; generous for a loaded two-core machine.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A connection to `/ws`.
pub(crate) struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Pushes read while waiting for a reply, oldest first.
    pushes: VecDeque<Value>,
}

impl WsClient {
    pub(crate) async fn connect(http_addr: SocketAddr) -> Self {
        let (socket, _) = tokio::time::timeout(WAIT, connect_async(format!("ws://{http_addr}/ws")))
            .await
            .expect("WebSocket handshake timed out")
            .expect("WebSocket handshake");
        Self {
            socket,
            pushes: VecDeque::new(),
        }
    }

    /// Connects presenting `Authorization: Bearer <token>`.
    pub(crate) async fn connect_with_token(http_addr: SocketAddr, token: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = format!("ws://{http_addr}/ws")
            .into_client_request()
            .expect("a WebSocket request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("a header value"),
        );
        let (socket, _) = tokio::time::timeout(WAIT, connect_async(request))
            .await
            .expect("WebSocket handshake timed out")
            .expect("WebSocket handshake");
        Self {
            socket,
            pushes: VecDeque::new(),
        }
    }

    pub(crate) async fn send(&mut self, message: Message) {
        self.socket.send(message).await.expect("send a frame");
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// The next frame off the wire; `None` once the connection has ended.
    pub(crate) async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(WAIT, self.socket.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("no frame within {WAIT:?}"),
        }
    }

    /// The next reply: the next text frame that is not a push. Pushes read meanwhile are kept.
    pub(crate) async fn reply(&mut self) -> String {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => match push_of(&text) {
                    Some(push) => self.pushes.push_back(push),
                    None => return text.as_str().to_owned(),
                },
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("expected a reply, got {other:?}"),
            }
        }
    }

    /// Sends `text` and returns its reply.
    pub(crate) async fn command(&mut self, text: &str) -> String {
        self.send_text(text).await;
        self.reply().await
    }

    /// Sends `text` and returns its reply, which must be JSON.
    pub(crate) async fn command_json(&mut self, text: &str) -> Value {
        let reply = self.command(text).await;
        json(&reply)
    }

    /// Sends `text` and returns the body of the error frame it must get.
    pub(crate) async fn command_error(&mut self, text: &str) -> Value {
        let reply = self.command_json(text).await;
        match reply.get("error") {
            Some(error) => error.clone(),
            None => panic!("{text:?} should fail, got {reply}"),
        }
    }

    /// The next push frame, whole: `{"notification": ...}` or `{"watch_ended": ...}`.
    pub(crate) async fn push(&mut self) -> Value {
        if let Some(push) = self.pushes.pop_front() {
            return push;
        }
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => match push_of(&text) {
                    Some(push) => return push,
                    None => panic!("expected a push, got the reply {text}"),
                },
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("expected a push, got {other:?}"),
            }
        }
    }

    /// The body of the next notification.
    pub(crate) async fn notification(&mut self) -> Value {
        let push = self.push().await;
        match push.get("notification") {
            Some(body) => body.clone(),
            None => panic!("expected a notification, got {push}"),
        }
    }

    /// Waits for the server's close frame; fails on any other frame.
    pub(crate) async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match self.next_message().await {
                Some(Message::Close(frame)) => return frame,
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                None => panic!("the connection ended without a close frame"),
                Some(other) => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    pub(crate) fn into_inner(self) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        self.socket
    }
}

/// A push frame, if `text` is one: a JSON object keyed `notification` or `watch_ended`.
pub(crate) fn push_of(text: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    (object.contains_key("notification") || object.contains_key("watch_ended")).then_some(value)
}

pub(crate) use crate::support::json;

#[allow(unused_imports)] // Used by some of the binaries that include this file.
pub(crate) use rift::grpc::code_name;
