//! The WebSocket client side: connections to Rift that send the prototype's natural-language
//! commands one at a time, each waiting for its reply, and check what comes back.

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
    target::{Target, sample_data},
};

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

/// One connection and the commands of its task.
#[derive(Debug)]
pub(crate) struct WsCaller {
    socket: Socket,
    commands: Commands,
}

impl WsCaller {
    /// Connects, to send the commands of `task_id` with `items` items.
    pub(crate) async fn connect(
        target: &Target,
        task_id: &str,
        items: usize,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            socket: connect(target).await?,
            commands: Commands::for_task(task_id, items),
        })
    }
}

/// The reply to `kind`, read and checked: what the prototype answers, or the error frame's code.
pub(crate) async fn exchange(
    socket: &mut Socket,
    command: Message,
    kind: Kind,
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
        return check_reply(kind, reply.as_str());
    }
}

fn check_reply(kind: Kind, reply: &str) -> Result<(), CallError> {
    if reply.starts_with("{\"error\"") {
        let code = serde_json::from_str::<serde_json::Value>(reply)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "ERROR".into());
        return Err(CallError::new(code, reply));
    }
    let expected = match kind {
        Kind::Analyze | Kind::Progress => reply.starts_with("{\"task_id\""),
        Kind::Narrate => reply.starts_with("The analysis for task "),
    };
    if expected {
        Ok(())
    } else {
        Err(CallError::new("UNEXPECTED", reply))
    }
}

impl Caller for WsCaller {
    async fn call(&mut self, kind: Kind) -> Result<(), CallError> {
        let command = self.commands.0[kind.index()].clone();
        exchange(&mut self.socket, command, kind).await
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
    fn replies_are_checked() {
        assert!(check_reply(Kind::Analyze, "{\"task_id\": \"1\", \"summary\": \"x\"}").is_ok());
        assert!(check_reply(Kind::Narrate, "The analysis for task 1 concluded: x.").is_ok());
        let error = check_reply(
            Kind::Narrate,
            "{\"error\": {\"code\": \"FAILED_PRECONDITION\", \"message\": \"m\"}}",
        )
        .expect_err("error frame");
        assert_eq!(error.code, "FAILED_PRECONDITION");
        assert_eq!(
            check_reply(Kind::Progress, "help")
                .expect_err("unexpected")
                .code,
            "UNEXPECTED"
        );
    }
}
