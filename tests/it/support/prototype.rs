//! The Python prototype Rift replaces (`../shared/prototype/app`), run for real on a test's
//! Redis: its uvicorn server on a free port, and its WebSocket commands.
//!
//! It needs fastapi, uvicorn, redis and websockets, which `scripts/test.sh` installs into the
//! project's `.venv` (`scripts/requirements-test.txt`); a missing one fails the test with how
//! to get it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

use super::{
    redis::{RedisServer, free_port, wait_for_log_line},
    tools,
};

/// The prototype's app directory: `$RIFT_PROTOTYPE_DIR`, else `../shared/prototype/app`.
fn app_dir() -> PathBuf {
    let dir = std::env::var_os("RIFT_PROTOTYPE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/prototype/app"),
        PathBuf::from,
    );
    assert!(
        dir.join("main.py").is_file(),
        "the prototype is not at {} (it ships in ../shared/prototype beside the project); set \
         RIFT_PROTOTYPE_DIR to its app directory",
        dir.display()
    );
    dir
}

/// The prototype serving on 127.0.0.1 against `redis` (which must listen on TCP); killed on
/// drop.
pub(crate) struct Prototype {
    child: Child,
    port: u16,
}

impl Prototype {
    /// Starts it and waits for uvicorn's "running on" line.
    pub(crate) fn start(redis: &RedisServer) -> Self {
        let uvicorn = tools::find(
            "uvicorn",
            "RIFT_UVICORN",
            "fastapi uvicorn redis websockets",
        );
        let port = free_port();
        // uvicorn logs to stderr; `2>&1` lets one pipe carry everything to the log reader.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(&uvicorn)
            .args([
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(app_dir())
            .env("PROTOTYPE_REDIS_HOST", "127.0.0.1")
            .env("PROTOTYPE_REDIS_PORT", redis.port().to_string())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start the prototype with {}: {e}", uvicorn.display()));
        if let Err((why, log)) = wait_for_log_line(&mut child, "uvicorn running on") {
            let _ = child.kill();
            panic!(
                "the prototype did not start ({why}); if a module is missing, run `bash \
                 scripts/test.sh` or `.venv/bin/pip install fastapi uvicorn redis websockets`. \
                 Its log:\n{log}"
            );
        }
        Self { child, port }
    }

    /// A WebSocket connection to its `/ws`.
    pub(crate) async fn connect(&self) -> PrototypeClient {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", self.port))
                .await
                .expect("connect to the prototype's /ws");
        PrototypeClient { socket }
    }
}

impl Drop for Prototype {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One connection to the prototype's WebSocket.
pub(crate) struct PrototypeClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

impl PrototypeClient {
    /// Sends a command as a user types it and returns the prototype's reply.
    pub(crate) async fn command(&mut self, text: &str) -> String {
        self.socket
            .send(Message::text(text))
            .await
            .expect("send to the prototype");
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(reply))) => return reply.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("the prototype did not answer {text:?}: {other:?}"),
            }
        }
    }
}
