//! WebSocket load: C connections, each sending the prototype's natural-language commands one at
//! a time and waiting for the reply before the next.

use std::time::Duration;

use anyhow::Context as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message, client::IntoClientRequest as _, http::HeaderValue, protocol::WebSocketConfig,
    },
};

use super::{
    Kind, Op, Report, Target, Timing,
    driver::{self, CallError, Caller},
    parse_duration, run_tag, sample_data,
};

#[derive(Debug, Clone, clap::Args)]
pub struct WsArgs {
    /// Command each connection sends.
    #[arg(long, value_enum, default_value_t = Op::Analyze)]
    pub op: Op,
    /// Concurrent connections, each with one command in flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// Measured time.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured time before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Items per Analyze.
    #[arg(long, default_value_t = 3)]
    pub items: usize,
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

pub(crate) struct WsCaller {
    socket: Socket,
    commands: Commands,
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

pub(crate) async fn run(target: &Target, args: &WsArgs) -> anyhow::Result<Report> {
    let tag = run_tag();
    let mut callers = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency.max(1) {
        let mut caller = WsCaller {
            socket: connect(target).await?,
            commands: Commands::for_task(&format!("{tag}-{i}"), args.items),
        };
        // An analysis first, so Narrate has something to narrate.
        caller
            .call(Kind::Analyze)
            .await
            .map_err(|e| anyhow::anyhow!("preparing connection {i}: {} {}", e.code, e.message))?;
        callers.push(caller);
    }
    let timing = Timing {
        duration: args.duration,
        warmup: args.warmup,
    };
    let operations = driver::drive(callers, args.op, timing).await?;
    Ok(Report {
        scenario: "ws",
        params: json!({
            "op": args.op,
            "concurrency": args.concurrency,
            "items": args.items,
            "timing": timing,
        }),
        failures: driver::error_failures(&operations),
        operations,
        ..Report::default()
    })
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
