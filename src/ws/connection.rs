//! One WebSocket connection: reads frames, runs their commands on [`Agents`], and pushes the
//! notifications of its watch.
//!
//! The loop selects over the next frame, the next notification, the ping timer and the
//! shutdown token, and handles one frame at a time, so replies leave in the order commands
//! came. Every [`WsConfig::ping_interval`] it sends a ping: proxies see traffic and keep a live
//! connection open, and a peer that has sent nothing (not even the pong) within
//! [`WsConfig::pong_timeout`] of it is gone, so it frees its slot. It ends when the client
//! leaves, when the server shuts down (close 1001), when the client stops reading for
//! [`SEND_TIMEOUT`] or answers no ping, or on a frame tungstenite cannot read: over the hard cap (close 1009),
//! invalid UTF-8 in a text frame (1007, as RFC 6455 requires) or a protocol violation (1002).
//! Whatever the way out, the connection's state, its watch included, is dropped with it.

use std::{
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::StreamExt;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{
    WsConfig,
    command::{self, Command},
    frame::{self, ErrorBody, Outcome},
    operations::{self, Parsed, Request},
};
use crate::{
    domain::{
        Agents, AnalyzeOptions, Caller, Code, CoreError, Published, Subscription, TaskStatus,
        WireFormat, auth::Operation,
    },
    telemetry::{CallMetrics, RequestId},
    traces,
};

/// How long one frame may take to leave before the client counts as gone. Bounds what a client
/// that stops reading can hold up: its own connection, and the drain at shutdown.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a closing handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the socket stays open after a close frame sent when unread input remains. Closing a
/// TCP socket with unread input makes the kernel send a reset, which discards our own unsent
/// bytes: the close frame would be lost on the way.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

pub(super) struct Connection {
    socket: WebSocket,
    agents: Agents,
    /// The credentials the upgrade request carried; every command is authorized with them.
    caller: Caller,
    config: WsConfig,
    shutdown: CancellationToken,
    /// Where its commands are counted.
    calls: CallMetrics,
    /// The caller's span named by the upgrade's `traceparent`: the parent of every command's
    /// span that does not name its own.
    trace_parent: Option<opentelemetry::Context>,
    watch: Option<Watch>,
    /// When the peer last sent a frame of any kind.
    last_heard: Instant,
    /// The ping in flight, if one is: when it was sent.
    ping_sent: Option<Instant>,
    /// Fires when the next ping is due, or, with one in flight, when its answer is overdue.
    ping_timer: Pin<Box<Sleep>>,
}

/// The connection's one active watch.
struct Watch {
    /// Empty: every task.
    task_id: String,
    /// The token the watch began with.
    after: String,
    /// The last notification delivered; its token is formatted only if the watch ends.
    last_delivered: Option<Arc<Published>>,
    subscription: Subscription,
}

impl Watch {
    /// Where to resume: after the last notification delivered, or where the watch began.
    fn resume_after(&self) -> String {
        self.last_delivered.as_ref().map_or_else(
            || self.after.clone(),
            |published| published.resume_token().into_owned(),
        )
    }
}

/// The client is gone, or must be let go: end the loop.
struct Gone;

enum Event {
    Shutdown,
    Frame(Option<Result<Message, axum::Error>>),
    Notification(Option<Result<Arc<Published>, CoreError>>),
    PingTimer,
}

impl Connection {
    pub(super) fn new(
        socket: WebSocket,
        agents: Agents,
        caller: Caller,
        config: WsConfig,
        shutdown: CancellationToken,
        calls: CallMetrics,
        trace_parent: Option<opentelemetry::Context>,
    ) -> Self {
        Self {
            socket,
            agents,
            caller,
            config,
            shutdown,
            calls,
            trace_parent,
            watch: None,
            last_heard: Instant::now(),
            ping_sent: None,
            ping_timer: Box::pin(tokio::time::sleep(config.ping_interval)),
        }
    }

    /// Turns away a connection over the limit: one error frame, then close 1013 (try again
    /// later).
    pub(super) async fn refuse(mut socket: WebSocket, max_connections: usize) {
        let error = ErrorBody::from(CoreError::ResourceExhausted {
            reason: crate::domain::reason::TOO_MANY_CONNECTIONS,
            description: format!(
                "{max_connections} connections are open, the most this server allows"
            ),
        });
        let _ = socket
            .send(Message::Text(frame::error_frame(&error).into()))
            .await;
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::AGAIN,
                reason: "too many connections".into(),
            })))
            .await;
    }

    pub(super) async fn run(mut self) {
        tracing::debug!("websocket connected");
        loop {
            let event = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => Event::Shutdown,
                frame = self.socket.recv() => Event::Frame(frame),
                item = next_notification(&mut self.watch) => Event::Notification(item),
                () = &mut self.ping_timer => Event::PingTimer,
            };
            let handled = match event {
                Event::Shutdown => {
                    self.close(close_code::AWAY, "server shutting down").await;
                    Err(Gone)
                }
                Event::Frame(None) => Err(Gone),
                Event::Frame(Some(Err(error))) => {
                    self.unreadable(&error).await;
                    Err(Gone)
                }
                Event::Frame(Some(Ok(message))) => {
                    self.last_heard = Instant::now();
                    if let (Message::Pong(_), Some(sent)) = (&message, self.ping_sent) {
                        // Answered: the next ping is due an interval after this one.
                        self.ping_sent = None;
                        let next = sent + self.config.ping_interval;
                        self.ping_timer.as_mut().reset(next.into());
                    }
                    self.on_message(message).await
                }
                Event::Notification(item) => self.on_notification(item).await,
                Event::PingTimer => self.on_ping_timer().await,
            };
            if handled.is_err() {
                break;
            }
        }
        tracing::debug!("websocket closed");
    }

    /// Sends the ping that is due, or, if one is in flight, lets the peer go unless it has
    /// been heard from since. Any frame counts as an answer, not only the pong: a peer busy
    /// sending commands is alive.
    async fn on_ping_timer(&mut self) -> Result<(), Gone> {
        let now = Instant::now();
        if let Some(sent) = self.ping_sent.take() {
            if self.last_heard < sent {
                tracing::debug!(
                    timeout = ?self.config.pong_timeout,
                    "websocket peer answered no ping; dropping it"
                );
                self.close(close_code::AWAY, "no answer to ping").await;
                return Err(Gone);
            }
            let next = sent + self.config.ping_interval;
            self.ping_timer.as_mut().reset(next.max(now).into());
            return Ok(());
        }
        let sending = tokio::time::timeout(
            SEND_TIMEOUT,
            self.socket.send(Message::Ping(bytes::Bytes::new())),
        );
        let sent = tokio::select! {
            () = self.shutdown.cancelled() => return Err(Gone),
            sent = sending => sent,
        };
        if !matches!(sent, Ok(Ok(()))) {
            tracing::debug!("websocket ping could not be sent; dropping the peer");
            return Err(Gone);
        }
        self.ping_sent = Some(now);
        self.ping_timer
            .as_mut()
            .reset((now + self.config.pong_timeout).into());
        Ok(())
    }

    async fn on_message(&mut self, message: Message) -> Result<(), Gone> {
        let limit = self.config.max_frame_bytes;
        let started = Instant::now();
        let error = match message {
            Message::Text(text) if text.len() <= limit => {
                let reply = self.reply_to(text.as_str()).await;
                return self.send(reply).await;
            }
            Message::Text(text) => {
                tracing::debug!(bytes = text.len(), limit, "frame over the limit");
                ErrorBody::frame_too_large(text.len(), limit)
            }
            Message::Binary(bytes) if bytes.len() > limit => {
                ErrorBody::frame_too_large(bytes.len(), limit)
            }
            Message::Binary(_) => ErrorBody::binary_frame(),
            // Pings are answered by tungstenite; a close is answered too, and the next read
            // then reports the end.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => return Ok(()),
        };
        self.finished(INVALID, Err(&error), started);
        self.send(frame::error_frame(&error)).await
    }

    /// Runs one command frame in a span of its own (`ws_command`, with a fresh `request_id`;
    /// its parent the frame's `traceparent`, else the upgrade's), and records it.
    async fn reply_to(&mut self, text: &str) -> String {
        let started = Instant::now();
        let parsed = operations::parse_frame(text);
        let operation = match &parsed {
            Parsed::Text(request) | Parsed::Typed { request, .. } => request
                .as_ref()
                .map_or(INVALID, |request| request.operation.name),
        };
        let span = tracing::info_span!(
            "ws_command",
            request_id = %RequestId::generate(),
            operation,
            trace_id = tracing::field::Empty
        );
        let own_parent = match &parsed {
            Parsed::Typed {
                traceparent: Some(traceparent),
                ..
            } => traces::parent_of(traceparent),
            _ => None,
        };
        traces::adopt(&span, own_parent.as_ref().or(self.trace_parent.as_ref()));
        async move {
            let (reply, outcome) = match parsed {
                Parsed::Text(request) => {
                    let outcome = self.execute(request).await;
                    let reply = match &outcome {
                        Ok(outcome) => frame::text_reply(outcome),
                        Err(error) => frame::error_frame(error),
                    };
                    (reply, outcome)
                }
                Parsed::Typed {
                    id, named, request, ..
                } => {
                    let outcome = self.execute(request).await;
                    let reply = frame::typed_reply(id.as_ref(), named, outcome.as_ref());
                    (reply, outcome)
                }
            };
            self.finished(operation, outcome.as_ref().map(|_| ()), started);
            reply
        }
        .instrument(span)
        .await
    }

    /// Records a command: metrics, and the access log line (in the command's span).
    fn finished(&self, operation: &'static str, outcome: Result<(), &ErrorBody>, started: Instant) {
        let code = outcome.map_or_else(|error| error.code, |()| Code::Ok);
        self.calls
            .finished(operation, code.as_str(), started.elapsed());
    }

    async fn execute(
        &mut self,
        request: Result<Request, command::ParseError>,
    ) -> Result<Outcome, ErrorBody> {
        let Request { command, .. } = request.inspect_err(|error| {
            tracing::debug!(%error, "frame is not a command");
        })?;
        let outcome = match command {
            Command::Analyze {
                task_id,
                data,
                request_id,
                expected_version,
            } => Outcome::Analysis(
                self.agents
                    .analyze(
                        &self.caller,
                        &task_id,
                        &data,
                        AnalyzeOptions {
                            request_id: Some(&request_id),
                            expected_version,
                            epoch: None,
                        },
                    )
                    .await?,
            ),
            Command::Narrate {
                task_id,
                request_id,
            } => Outcome::Narrative(
                self.agents
                    .narrate(&self.caller, &task_id, Some(&request_id), None)
                    .await?,
            ),
            Command::Progress { task_id } => {
                Outcome::Progress(self.agents.progress(&self.caller, &task_id).await?)
            }
            Command::DeleteTask { task_id } => {
                let deleted = self.agents.delete_task(&self.caller, &task_id).await?;
                Outcome::Deleted { task_id, deleted }
            }
            Command::GetTask {
                task_id,
                with_report,
            } => Outcome::Task(Box::new(
                self.agents
                    .get_task(&self.caller, &task_id, with_report)
                    .await?,
            )),
            Command::Report { task_id } => {
                Outcome::Report(Box::new(self.agents.report(&self.caller, &task_id).await?))
            }
            Command::ListTasks {
                page_size,
                page_token,
                status,
            } => {
                let status = (!status.is_empty())
                    .then(|| TaskStatus::parse(&status))
                    .transpose()?;
                Outcome::Tasks(
                    self.agents
                        .list_tasks(&self.caller, page_size, &page_token, status)
                        .await?,
                )
            }
            Command::Watch { task_id, after } => {
                let subscription = self
                    .agents
                    .subscribe(&self.caller, &task_id, &after)
                    .await?;
                let replaced = self
                    .watch
                    .replace(Watch {
                        task_id: task_id.clone(),
                        after: after.trim().to_owned(),
                        last_delivered: None,
                        subscription,
                    })
                    .map(|old| old.task_id);
                Outcome::Watching {
                    task_id,
                    after,
                    replaced,
                }
            }
            Command::Unwatch => Outcome::Unwatched(self.watch.take().map(|old| old.task_id)),
            Command::Help => {
                self.agents.authorize(&self.caller, Operation::Help)?;
                Outcome::Help
            }
        };
        Ok(outcome)
    }

    async fn on_notification(
        &mut self,
        item: Option<Result<Arc<Published>, CoreError>>,
    ) -> Result<(), Gone> {
        match item {
            Some(Ok(published)) => {
                if let Some(watch) = &mut self.watch {
                    watch.last_delivered = Some(published.clone());
                }
                // Every watcher of the event sends the same frame: made once, shared.
                let encoded = published.encoded(WireFormat::Json, |notification| {
                    frame::notification_frame(notification, published.token()).into()
                });
                match Utf8Bytes::try_from(encoded.clone()) {
                    Ok(text) => self.send(text).await,
                    Err(error) => {
                        tracing::error!(%error, "notification frame is not UTF-8");
                        Ok(())
                    }
                }
            }
            Some(Err(error)) => {
                let Some(watch) = self.watch.take() else {
                    return Ok(());
                };
                tracing::debug!(%error, task_id = %watch.task_id, "watch ended on an error");
                self.send(frame::watch_ended_frame(
                    &watch.task_id,
                    &watch.resume_after(),
                    error.into(),
                ))
                .await
            }
            // The subscription ends by itself only at shutdown, which the loop sees next.
            None => {
                self.watch = None;
                Ok(())
            }
        }
    }

    /// Sends one frame, giving up on a client that does not take it within [`SEND_TIMEOUT`] or
    /// when the server shuts down.
    async fn send(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Gone> {
        let sending =
            tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into())));
        let sent = tokio::select! {
            () = self.shutdown.cancelled() => return Err(Gone),
            sent = sending => sent,
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::debug!(%error, "websocket send failed");
                Err(Gone)
            }
            Err(_) => {
                tracing::warn!(
                    timeout = ?SEND_TIMEOUT,
                    "websocket client stopped reading; dropping it"
                );
                Err(Gone)
            }
        }
    }

    /// Starts the closing handshake and waits, briefly, for the client's close.
    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            if self.socket.send(frame).await.is_ok() {
                // Reading on until the client's close (or the end) drains its input, so the
                // TCP connection ends cleanly.
                while let Some(Ok(_)) = self.socket.recv().await {}
            }
        })
        .await;
    }

    /// A frame tungstenite refused: its stream has ended, but a close frame can still go out.
    async fn unreadable(&mut self, error: &axum::Error) {
        let Some((code, reason)) = close_for(error) else {
            tracing::debug!(%error, "websocket read failed");
            return;
        };
        tracing::info!(%error, code, "closing websocket on an unreadable frame");
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let sent = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.send(frame)).await;
        if matches!(sent, Ok(Ok(()))) {
            // The rest of the refused frame is still unread: see CLOSE_LINGER.
            tokio::select! {
                () = self.shutdown.cancelled() => {}
                () = tokio::time::sleep(CLOSE_LINGER) => {}
            }
        }
    }
}

/// The `operation` label of frames that are not a command.
const INVALID: &str = "invalid";

/// The next item of the watch; pending forever without one, so `select!` waits on the rest.
async fn next_notification(watch: &mut Option<Watch>) -> Option<Result<Arc<Published>, CoreError>> {
    match watch {
        Some(watch) => watch.subscription.next().await,
        None => std::future::pending().await,
    }
}

/// The close code for a read error, if the connection is still there to be told.
///
/// axum wraps tungstenite's error without re-exporting its type, so the error is told apart by
/// its text; a unit test pins the texts of the tungstenite version in use.
fn close_for(error: &axum::Error) -> Option<(u16, &'static str)> {
    let text = error.to_string();
    if text.starts_with("Space limit exceeded") {
        Some((close_code::SIZE, "message too big"))
    } else if text.starts_with("UTF-8 encoding error") {
        Some((close_code::INVALID, "text frames must be UTF-8"))
    } else if text.starts_with("WebSocket protocol error") {
        Some((close_code::PROTOCOL, "protocol error"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::{
        self,
        error::{CapacityError, ProtocolError},
    };

    use super::*;

    #[test]
    fn read_errors_map_to_close_codes() {
        let wrap = |error: tungstenite::Error| axum::Error::new(error);
        let too_long = wrap(tungstenite::Error::Capacity(
            CapacityError::MessageTooLong {
                size: 3000,
                max_size: 2048,
            },
        ));
        assert_eq!(close_for(&too_long).map(|c| c.0), Some(close_code::SIZE));
        let utf8 = wrap(tungstenite::Error::Utf8("bad".into()));
        assert_eq!(close_for(&utf8).map(|c| c.0), Some(close_code::INVALID));
        let protocol = wrap(tungstenite::Error::Protocol(
            ProtocolError::NonZeroReservedBits,
        ));
        assert_eq!(
            close_for(&protocol).map(|c| c.0),
            Some(close_code::PROTOCOL)
        );
        let reset = wrap(tungstenite::Error::Io(
            std::io::ErrorKind::ConnectionReset.into(),
        ));
        assert_eq!(close_for(&reset), None);
    }
}
