//! Following tasks live over the WebSocket: `Watch task`, `Watch all tasks`, `from <id>`,
//! `Stop watching`, and the end of every connection at shutdown.
//!
//! "Nothing else arrived" is never proven by waiting: a later event is made to happen, and the
//! next notification must be that one, since notifications arrive in order.

use crate::support::rift::TestRift;
use crate::support::ws::{self, WsClient};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn analyze(task_id: &str, items: usize) -> String {
    format!(
        "Analyze data for task {task_id} with data: {}",
        json!(vec!["x"; items])
    )
}

fn id_of(notification: &Value) -> String {
    notification["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {notification}"))
        .to_owned()
}

#[tokio::test]
async fn watching_on_the_same_socket_sees_every_agent() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    assert_eq!(
        client.command("Watch task 101").await,
        "Watching task 101: new events only. Notifications arrive as {\"notification\": ...} \
         frames; send \"Stop watching\" to stop."
    );

    client
        .command(r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#)
        .await;
    let analyzed = client.notification().await;
    assert_eq!(analyzed["task_id"], json!("101"));
    assert_eq!(analyzed["agent"], json!("TechAgent"));
    assert_eq!(analyzed["action"], json!("analysis_stored"));
    assert_eq!(analyzed["payload"]["summary"], json!("Analyzed 3 items"));
    assert!(
        analyzed["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{analyzed}"
    );

    client.command("Generate a narrative for task 101").await;
    let narrated = client.notification().await;
    assert_eq!(
        (&narrated["agent"], &narrated["action"]),
        (&json!("ConceptAgent"), &json!("narrative_stored"))
    );
    client.command("Check progress for task 101").await;
    let completed = client.notification().await;
    assert_eq!(
        (&completed["agent"], &completed["action"]),
        (&json!("TaskAgent"), &json!("progress_completed"))
    );
    assert_ne!(id_of(&analyzed), id_of(&narrated));
}

#[tokio::test]
async fn watching_sees_writes_from_other_connections_and_only_its_task() {
    let rift = TestRift::in_process().await;
    let mut watcher = WsClient::connect(rift.http_addr).await;
    let mut writer = WsClient::connect(rift.http_addr).await;
    watcher.command("Watch task mine").await;

    writer.command(&analyze("other", 1)).await;
    writer.command(&analyze("mine", 2)).await;
    let seen = watcher.notification().await;
    assert_eq!(seen["task_id"], json!("mine"));
    assert_eq!(seen["payload"]["summary"], json!("Analyzed 2 items"));

    let mut everything = WsClient::connect(rift.http_addr).await;
    assert!(
        everything
            .command("Watch all tasks")
            .await
            .starts_with("Watching all tasks: new events only.")
    );
    writer.command(&analyze("a", 1)).await;
    writer.command(&analyze("b", 1)).await;
    assert_eq!(everything.notification().await["task_id"], json!("a"));
    assert_eq!(everything.notification().await["task_id"], json!("b"));
}

#[tokio::test]
async fn from_id_replays_exactly_the_events_after_it() {
    let rift = TestRift::in_process().await;
    let mut writer = WsClient::connect(rift.http_addr).await;
    let mut recorder = WsClient::connect(rift.http_addr).await;
    recorder.command("Watch task r").await;
    for items in 1..=3 {
        writer.command(&analyze("r", items)).await;
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(&recorder.notification().await));
    }

    let mut resumed = WsClient::connect(rift.http_addr).await;
    assert!(
        resumed
            .command(&format!("Watch task r from {}", ids[0]))
            .await
            .starts_with(&format!(
                "Watching task r: every event after {}, then new ones.",
                ids[0]
            ))
    );
    assert_eq!(id_of(&resumed.notification().await), ids[1]);
    assert_eq!(id_of(&resumed.notification().await), ids[2]);
    // Replay then live without a gap or a repeat: the next one is the next event.
    writer.command(&analyze("r", 4)).await;
    let live = resumed.notification().await;
    assert_eq!(live["payload"]["summary"], json!("Analyzed 4 items"));
    assert_eq!(id_of(&live), id_of(&recorder.notification().await));

    let mut everything = WsClient::connect(rift.http_addr).await;
    everything.command("Watch all tasks from 0").await;
    for id in &ids {
        assert_eq!(&id_of(&everything.notification().await), id);
    }
}

#[tokio::test]
async fn stop_watching_stops_and_a_new_watch_replaces_the_old() {
    let rift = TestRift::in_process().await;
    let mut watcher = WsClient::connect(rift.http_addr).await;
    let mut writer = WsClient::connect(rift.http_addr).await;

    watcher.command("Watch task first").await;
    assert!(
        watcher
            .command("Watch task second")
            .await
            .starts_with("Stopped watching task first. Watching task second")
    );
    writer.command(&analyze("first", 1)).await;
    writer.command(&analyze("second", 1)).await;
    assert_eq!(watcher.notification().await["task_id"], json!("second"));

    assert_eq!(
        watcher.command("Stop watching").await,
        "Stopped watching task second."
    );
    assert_eq!(
        watcher.command("Stop watching").await,
        "Not watching anything."
    );
    writer.command(&analyze("second", 2)).await;
    watcher.command("Watch task third").await;
    writer.command(&analyze("third", 1)).await;
    // Had the stopped watch delivered "second", it would come first.
    assert_eq!(watcher.notification().await["task_id"], json!("third"));
}

#[tokio::test]
async fn typed_watch_and_unwatch() {
    let rift = TestRift::in_process().await;
    let mut watcher = WsClient::connect(rift.http_addr).await;
    assert_eq!(
        watcher
            .command_json(r#"{"watch": {"task_id": "t"}, "id": 1}"#)
            .await,
        json!({"id": 1, "result": {"task_id": "t", "after": ""}})
    );
    let reply = watcher
        .command_json(r#"{"analyze": {"task_id": "t", "data": []}, "id": 2}"#)
        .await;
    assert_eq!(reply["id"], json!(2));
    assert_eq!(watcher.notification().await["task_id"], json!("t"));
    assert_eq!(
        watcher.command_json(r#"{"watch": {}, "id": 3}"#).await,
        json!({"id": 3, "result": {"task_id": "", "after": "", "replaced": "t"}})
    );
    assert_eq!(
        watcher.command_json(r#"{"unwatch": {}, "id": 4}"#).await,
        json!({"id": 4, "result": {"stopped": true, "task_id": ""}})
    );
    assert_eq!(
        watcher.command_json(r#"{"unwatch": {}, "id": 5}"#).await,
        json!({"id": 5, "result": {"stopped": false}})
    );
}

#[tokio::test]
async fn bad_resume_tokens_are_invalid_arguments() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    for text in [
        "Watch task 101 from yesterday",
        "Watch all tasks from 1-2-3",
        "Watch task 101 from",
        r#"{"watch": {"task_id": "101", "after": "x"}}"#,
    ] {
        let error = client.command_error(text).await;
        assert_eq!(error["code"], json!("INVALID_ARGUMENT"), "{text:?}");
        assert_eq!(error["field"], json!("after"), "{text:?}");
    }
    assert_eq!(
        client.command("Stop watching").await,
        "Not watching anything."
    );
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_going_away() {
    let rift = TestRift::in_process().await;
    let mut idle = WsClient::connect(rift.http_addr).await;
    let mut watching = WsClient::connect(rift.http_addr).await;
    assert!(idle.command("help").await.starts_with("Commands"));
    watching.command("Watch all tasks from 0").await;

    let stopped = tokio::spawn(rift.stop());
    for client in [&mut idle, &mut watching] {
        let close = client.closed().await.expect("a close frame with a code");
        assert_eq!(close.code, CloseCode::Away, "{close:?}");
    }
    tokio::time::timeout(ws::WAIT, stopped)
        .await
        .expect("serve returns once every connection has closed")
        .expect("serve task")
        .expect("serve");
}
