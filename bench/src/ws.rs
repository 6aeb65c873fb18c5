//! The WebSocket client side: connections that send the prototype's natural-language commands
//! one at a time, each waiting for its reply, and check what comes back. The server is Rift or
//! the Python prototype ([`Server`]), so both are measured by the same tool in the same run.

use anyhow::Context as _;
use futures::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message, client::IntoClientRequest as _, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use crate::{
    driver::{CallError, Caller, Kind},
    target::{Target, numeric_run_tag, run_tag, sample_data},
};

/// Which server is under load: what task ids it takes and what its replies must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Server {
    /// Rift: any task id; a reply must start as the prototype's does (Rift's carries more
    /// fields), or be an error frame.
    Rift,
    /// The Python prototype (`../shared/prototype/`): numeric task ids only (anything else is
    /// "Sorry, I didn't understand your query"), and each reply exactly the prototype's text.
    Prototype,
}

impl Server {
    /// A tag that keeps this run's task ids apart, in a form the server accepts.
    pub(crate) fn run_tag(self) -> String {
        match self {
            Server::Rift => run_tag(),
            Server::Prototype => numeric_run_tag(),
        }
    }

    /// The task id of the `index`-th connection of the run tagged `tag`.
    pub(crate) fn task_id(self, tag: &str, index: usize) -> String {
        match self {
            Server::Rift => format!("{tag}-{index}"),
            // `tag` has a fixed width, so the numbers after it keep the ids apart.
            Server::Prototype => format!("{tag}{index:05}"),
        }
    }
}

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens one WebSocket to Rift, with the token when there is one, Nagle off.
pub(crate) async fn connect(target: &Target) -> anyhow::Result<Socket> {
    let mut request = target
        .ws_url
        .as_str()
        .into_client_request()
        .with_context(|| format!("bad WebSocket URL {}", target.ws_url))?;
    if let Some(authorization) = target.authorization() {
        request
            .headers_mut()
            .insert("authorization", HeaderValue::from_str(&authorization)?);
    }
    // tungstenite zero-fills its read buffer, 128 KiB by default, before each read: at tens of
    // thousands of replies a second that memset was the load tool's largest cost. Replies are
    // small; Rift's side reads 4 KiB at a time for the same reason.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .with_context(|| format!("connecting to {}", target.ws_url))?;
    Ok(socket)
}

/// The three commands of one task, as text frames built once.
#[derive(Debug)]
struct Commands([Message; 3]);

impl Commands {
    fn for_task(task_id: &str, items: usize) -> Self {
        let data = serde_json::to_string(&sample_data(items)).unwrap_or_default();
        Self([
            Message::text(format!("Analyze data for task {task_id} with data: {data}")),
            Message::text(format!("Generate a narrative for task {task_id}")),
            Message::text(format!("Check progress for task {task_id}")),
        ])
    }
}

/// What the replies to one task's commands must be.
#[derive(Debug, Clone)]
pub(crate) enum Replies {
    /// Rift's: each starts as the prototype's does.
    Rift,
    /// The prototype's, exactly: Analyze, Narrate, then Progress completed or in progress (a
    /// task with no narrative yet).
    Prototype {
        exact: [String; 3],
        in_progress: String,
    },
}

impl Replies {
    /// The replies `server` gives to the commands of `task_id` with `items` items.
    pub(crate) fn of(server: Server, task_id: &str, items: usize) -> Self {
        match server {
            Server::Rift => Replies::Rift,
            Server::Prototype => {
                // What the prototype's agents return, as its `json.dumps` writes them.
                let summary = format!("Analyzed {items} items");
                let progress = |status: &str| {
                    format!("{{\"task_id\": \"{task_id}\", \"status\": \"{status}\"}}")
                };
                Replies::Prototype {
                    exact: [
                        format!("{{\"task_id\": \"{task_id}\", \"summary\": \"{summary}\"}}"),
                        format!("The analysis for task {task_id} concluded: {summary}."),
                        progress("completed"),
                    ],
                    in_progress: progress("in-progress"),
                }
            }
        }
    }

    /// Whether `reply` is what `kind` must answer; an error frame is an error with its code.
    pub(crate) fn check(&self, kind: Kind, reply: &str) -> Result<(), CallError> {
        if reply.starts_with("{\"error\"") {
            let code = serde_json::from_str::<serde_json::Value>(reply)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "ERROR".into());
            return Err(CallError::new(code, reply));
        }
        let expected = match self {
            Replies::Rift => match kind {
                Kind::Analyze | Kind::Progress => reply.starts_with("{\"task_id\""),
                Kind::Narrate => reply.starts_with("The analysis for task "),
            },
            Replies::Prototype { exact, in_progress } => {
                reply == exact[kind.index()] || (kind == Kind::Progress && reply == in_progress)
            }
        };
        if expected {
            Ok(())
        } else {
            Err(CallError::new("UNEXPECTED", reply))
        }
    }
}

/// One connection, the commands of its task and the replies they must get.
#[derive(Debug)]
pub(crate) struct WsCaller {
    socket: Socket,
    commands: Commands,
    replies: Replies,
}

impl WsCaller {
    /// Connects to `server`, to send the commands of `task_id` with `items` items.
    pub(crate) async fn connect(
        target: &Target,
        server: Server,
        task_id: &str,
        items: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            socket: connect(target).await?,
            commands: Commands::for_task(task_id, items),
            replies: Replies::of(server, task_id, items),
        })
    }
}

/// Sends `command` and reads the reply to `kind`, checked against `replies`.
pub(crate) async fn exchange(
    socket: &mut Socket,
    command: Message,
    kind: Kind,
    replies: &Replies,
) -> Result<(), CallError> {
    socket
        .send(command)
        .await
        .map_err(|e| CallError::new("SEND", e.to_string()))?;
    loop {
        let reply = match socket.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                return Err(CallError::new("CLOSED", format!("{frame:?}")));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(CallError::new("RECEIVE", e.to_string())),
            None => return Err(CallError::new("CLOSED", "the server closed the connection")),
        };
        return replies.check(kind, reply.as_str());
    }
}

impl Caller for WsCaller {
    async fn call(&mut self, kind: Kind) -> Result<(), CallError> {
        let command = self.commands.0[kind.index()].clone();
        exchange(&mut self.socket, command, kind, &self.replies).await
    }
}

/// Closes politely; errors do not matter at the end of a run.
pub(crate) async fn close(mut socket: Socket) {
    let _ = socket.close(None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rift_replies_are_checked() {
        let rift = Replies::of(Server::Rift, "bench-1-2-0", 3);
        assert!(
            rift.check(Kind::Analyze, "{\"task_id\": \"1\", \"summary\": \"x\"}")
                .is_ok()
        );
        assert!(
            rift.check(Kind::Narrate, "The analysis for task 1 concluded: x.")
                .is_ok()
        );
        let error = rift
            .check(
                Kind::Narrate,
                "{\"error\": {\"code\": \"FAILED_PRECONDITION\", \"message\": \"m\"}}",
            )
            .expect_err("error frame");
        assert_eq!(error.code, "FAILED_PRECONDITION");
        assert_eq!(
            rift.check(Kind::Progress, "help")
                .expect_err("unexpected")
                .code,
            "UNEXPECTED"
        );
    }

    #[test]
    fn prototype_replies_must_be_exactly_the_prototypes() {
        let tag = Server::Prototype.run_tag();
        assert!(tag.bytes().all(|b| b.is_ascii_digit()), "{tag}");
        let id = Server::Prototype.task_id(&tag, 7);
        assert!(
            id.bytes().all(|b| b.is_ascii_digit()) && id.ends_with("00007"),
            "{id}"
        );
        let replies = Replies::of(Server::Prototype, "101", 3);
        for (kind, reply) in [
            (
                Kind::Analyze,
                r#"{"task_id": "101", "summary": "Analyzed 3 items"}"#,
            ),
            (
                Kind::Narrate,
                "The analysis for task 101 concluded: Analyzed 3 items.",
            ),
            (
                Kind::Progress,
                r#"{"task_id": "101", "status": "completed"}"#,
            ),
            (
                Kind::Progress,
                r#"{"task_id": "101", "status": "in-progress"}"#,
            ),
        ] {
            assert!(replies.check(kind, reply).is_ok(), "{kind:?} {reply}");
        }
        for (kind, reply) in [
            (
                Kind::Analyze,
                "Sorry, I didn't understand your query. Please try again.",
            ),
            // Another task's, or another item count's.
            (
                Kind::Analyze,
                r#"{"task_id": "102", "summary": "Analyzed 3 items"}"#,
            ),
            (
                Kind::Narrate,
                "The analysis for task 101 concluded: Analyzed 4 items.",
            ),
            (Kind::Narrate, "No analysis found for task 101"),
            // Rift's longer analysis is not the prototype's.
            (
                Kind::Analyze,
                r#"{"task_id": "101", "summary": "Analyzed 3 items", "version": 1}"#,
            ),
        ] {
            assert_eq!(
                replies.check(kind, reply).expect_err(reply).code,
                "UNEXPECTED",
                "{reply}"
            );
        }
    }
}
