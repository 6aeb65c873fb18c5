//! A WebSocket client for the tests that speak to `/ws`: commands in, replies and pushes told
//! apart.
//!
//! Every read waits at most [`WAIT`] and fails the test with what it was waiting for.
//!
//! Every frame is held against the AsyncAPI document (`rift::ws::asyncapi`): each typed frame
//! sent is checked against its operation's request schema, and each frame received against the
//! message it must be: a push against `notification` / `watchEnded`, a reply against the reply
//! of what was sent. A frame the schema refuses must get an error reply, and one it accepts must
//! not be refused for its shape, so the document says exactly what the adapter accepts.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::OnceLock,
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// Longest any one frame is waited for; generous for a loaded two-core machine.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// An upgrade the server refused.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body, an error frame for a refused credential.
    pub(crate) body: String,
}

/// A connection to `/ws`.
pub(crate) struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Pushes read while waiting for a reply, oldest first.
    pushes: VecDeque<Value>,
    /// What each frame sent and not yet answered was, oldest first: what its reply must be.
    sent: VecDeque<Sent>,
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
            sent: VecDeque::new(),
        }
    }

    /// Connects presenting `Authorization: Bearer <token>`.
    pub(crate) async fn connect_with_token(http_addr: SocketAddr, token: &str) -> Self {
        Self::connect_with_headers(http_addr, &[("authorization", &format!("Bearer {token}"))])
            .await
    }

    /// Connects with these headers on the upgrade request.
    pub(crate) async fn connect_with_headers(
        http_addr: SocketAddr,
        headers: &[(&'static str, &str)],
    ) -> Self {
        match Self::try_connect_with_headers(http_addr, headers).await {
            Ok(client) => client,
            Err(refused) => panic!("WebSocket handshake refused: {refused:?}"),
        }
    }

    /// Connects with these headers on the upgrade request, or says how the server refused
    /// the upgrade: its HTTP status and body.
    pub(crate) async fn try_connect_with_headers(
        http_addr: SocketAddr,
        headers: &[(&'static str, &str)],
    ) -> Result<Self, Refused> {
        use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest as _};
        let mut request = format!("ws://{http_addr}/ws")
            .into_client_request()
            .expect("a WebSocket request");
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("a header value"));
        }
        let connected = tokio::time::timeout(WAIT, connect_async(request))
            .await
            .expect("WebSocket handshake timed out");
        let socket = match connected {
            Ok((socket, _)) => socket,
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().clone().unwrap_or_default();
                return Err(Refused {
                    status: response.status().as_u16(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
            }
            Err(error) => panic!("WebSocket handshake: {error}"),
        };
        Ok(Self {
            socket,
            pushes: VecDeque::new(),
            sent: VecDeque::new(),
        })
    }

    pub(crate) async fn send(&mut self, message: Message) {
        match &message {
            Message::Text(text) => self.sent.push_back(Sent::of(text.as_str())),
            Message::Binary(_) => self.sent.push_back(Sent::Refusable),
            _ => {}
        }
        self.socket.send(message).await.expect("send a frame");
    }

    pub(crate) async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// The next frame off the wire; `None` once the connection has ended.
    pub(crate) async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(WAIT, self.socket.next()).await {
            Ok(Some(Ok(message))) => {
                if let Message::Text(text) = &message {
                    self.check_received(text.as_str());
                }
                Some(message)
            }
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

    /// Holds a received frame to the document: a push to its message, a reply to what the
    /// oldest unanswered frame was.
    fn check_received(&mut self, text: &str) {
        let protocol = protocol();
        let json: Option<Value> = serde_json::from_str(text).ok();
        if let Some(push) = push_of(text) {
            let schema = if push.get("notification").is_some() {
                "NotificationFrame"
            } else {
                "WatchEndedFrame"
            };
            protocol.check(schema, &push, text);
            return;
        }
        // An error reply is well-formed wherever it comes.
        let error = json.as_ref().and_then(|value| value.get("error"));
        if let (Some(value), Some(_)) = (&json, error) {
            protocol.check("ErrorReply", value, text);
        }
        match self.sent.pop_front() {
            Some(Sent::Typed {
                operation: Some(reply),
                conforms: true,
            }) => match error {
                Some(error) => assert!(
                    error["code"] != "UNIMPLEMENTED"
                        && !matches!(
                            error["field"].as_str(),
                            Some("request" | "text" | "traceparent")
                        ),
                    "the AsyncAPI document accepts a frame that Rift refused for its shape: {text}"
                ),
                None => {
                    let value = json
                        .as_ref()
                        .unwrap_or_else(|| panic!("a typed reply is JSON: {text}"));
                    protocol.check(&reply, value, text);
                }
            },
            Some(
                Sent::Typed {
                    conforms: false, ..
                }
                | Sent::Typed {
                    operation: None, ..
                }
                | Sent::Refusable,
            )
            | None => assert!(
                error.is_some(),
                "the AsyncAPI document refuses a frame that Rift answered without an error: {text}"
            ),
            Some(Sent::Command) => {
                if let (Some(value), None) = (&json, error) {
                    protocol.check("CommandReply", value, text);
                }
            }
        }
    }
}

/// What a frame sent was, for what its reply must be.
#[derive(Debug)]
enum Sent {
    /// A typed frame: the reply schema of the operation it names, and whether the document's
    /// request schema accepts it.
    Typed {
        operation: Option<String>,
        conforms: bool,
    },
    /// Natural language.
    Command,
    /// A binary frame: refused with an error frame.
    Refusable,
}

impl Sent {
    fn of(text: &str) -> Self {
        if !text.trim_start().starts_with('{') {
            return Sent::Command;
        }
        let protocol = protocol();
        let value: Option<Value> = serde_json::from_str(text).ok();
        let named = value
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|object| {
                let mut names = object
                    .keys()
                    .filter(|key| !matches!(key.as_str(), "id" | "traceparent"));
                match (names.next(), names.next()) {
                    (Some(name), None) => protocol.operations.get(name.as_str()),
                    _ => None,
                }
            });
        match (named, value) {
            (Some((request, reply)), Some(value)) => Sent::Typed {
                conforms: protocol.valid(request, &value),
                operation: Some(reply.clone()),
            },
            _ => Sent::Typed {
                operation: None,
                conforms: false,
            },
        }
    }
}

/// The AsyncAPI document's schemas, compiled once per test binary.
struct Protocol {
    document: Value,
    validators: std::sync::Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
    /// Typed name (and `text`) to its request and reply schemas.
    operations: HashMap<String, (String, String)>,
}

fn protocol() -> &'static Protocol {
    static PROTOCOL: OnceLock<Protocol> = OnceLock::new();
    PROTOCOL.get_or_init(|| {
        let document = rift::ws::asyncapi();
        let mut operations = HashMap::new();
        for (name, operation) in document["operations"].as_object().expect("operations") {
            let schema_of = |message: &Value| -> Option<String> {
                let message = message["$ref"].as_str()?.rsplit('/').next()?;
                let payload =
                    document["channels"]["ws"]["messages"][message]["payload"]["$ref"].as_str()?;
                Some(payload.rsplit('/').next()?.to_owned())
            };
            if operation["action"] != "receive" {
                continue;
            }
            let request = schema_of(&operation["messages"][0]).expect("a request schema");
            let reply = schema_of(&operation["reply"]["messages"][0]).expect("a reply schema");
            operations.insert(name.clone(), (request, reply));
        }
        Protocol {
            document,
            validators: Default::default(),
            operations,
        }
    })
}

impl Protocol {
    fn validator(&self, schema: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut validators = self.validators.lock().expect("validators");
        validators
            .entry(schema.to_owned())
            .or_insert_with(|| {
                let root = serde_json::json!({
                    "allOf": [{"$ref": format!("#/components/schemas/{schema}")}],
                    "components": self.document["components"],
                });
                std::sync::Arc::new(
                    jsonschema::draft7::new(&root)
                        .unwrap_or_else(|error| panic!("schema {schema}: {error}")),
                )
            })
            .clone()
    }

    fn valid(&self, schema: &str, value: &Value) -> bool {
        self.validator(schema).is_valid(value)
    }

    fn check(&self, schema: &str, value: &Value, text: &str) {
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "frame does not match {schema} of the AsyncAPI document: {text}\n{}",
            errors.join("\n")
        );
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
