//! The WebSocket commands end to end: a real server on ephemeral ports, a real client.
//!
//! The prototype's session first, byte for byte where it promised bytes, then what Rift adds:
//! tolerance, help, hints, typed requests, text in a typed frame.

use crate::support::rift::TestRift;
use crate::support::ws::{WsClient, json};
use serde_json::json;

const ANALYZE_101: &str = r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#;

#[tokio::test]
async fn the_prototype_session_in_order() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;

    let analysis = client.command(ANALYZE_101).await;
    assert!(
        analysis.starts_with(r#"{"task_id": "101", "summary": "Analyzed 3 items""#),
        "{analysis}"
    );
    let analysis = json(&analysis);
    assert_eq!(analysis["version"], json!(1));
    assert_eq!(analysis["stats"]["item_count"], json!(3));

    assert_eq!(
        client.command("Generate a narrative for task 101").await,
        "The analysis for task 101 concluded: Analyzed 3 items."
    );

    let progress = client.command("Check progress for task 101").await;
    assert!(
        progress.starts_with(r#"{"task_id": "101", "status": "completed""#),
        "{progress}"
    );
}

#[tokio::test]
async fn commands_ignore_case_and_extra_spaces() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;

    for (i, text) in [
        r#"analyze data for task 7 with data: ["a"]"#,
        r#"ANALYZE DATA FOR TASK 7 WITH DATA: ["a"]"#,
        "   Analyze   data  for\ttask  7   with   data :   [\"a\"]   ",
    ]
    .into_iter()
    .enumerate()
    {
        let reply = client.command_json(text).await;
        assert_eq!(reply["summary"], json!("Analyzed 1 items"), "{text:?}");
        assert_eq!(reply["version"], json!(i + 1), "{text:?}");
    }
    for text in [
        "generate a narrative for task 7",
        "  GENERATE   A NARRATIVE  FOR TASK   7  ",
    ] {
        assert_eq!(
            client.command(text).await,
            "The analysis for task 7 concluded: Analyzed 1 items.",
            "{text:?}"
        );
    }
    for text in ["check progress for task 7", " CHECK  Progress FOR task 7 "] {
        assert_eq!(
            client.command_json(text).await["status"],
            json!("completed"),
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn help_shows_the_grammar_with_an_example_each() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let help = client.command("help").await;
    for example in [
        ANALYZE_101,
        "Generate a narrative for task 101",
        "Check progress for task 101",
        "Watch task 101",
        "Watch all tasks from 0",
        "Stop watching",
    ] {
        assert!(help.contains(example), "{example:?} missing from:\n{help}");
    }
    assert_eq!(client.command("  HELP ").await, help);
}

#[tokio::test]
async fn help_lists_every_operation_delete_task_included() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let help = client.command("help").await;
    for part in [
        "- Delete task <task_id> (admin) (e.g. Delete task 101)",
        r#"{"analyze": {"task_id": "101", "data": ["data1"]}}"#,
        r#"{"narrate": {"task_id": "101"}}"#,
        r#"{"progress": {"task_id": "101"}}"#,
        r#"{"watch": {"task_id": "101", "after": "0"}}"#,
        r#"{"unwatch": {}}"#,
        r#"{"help": {}}"#,
        r#"{"delete_task": {"task_id": "101"}}"#,
        r#"{"text": "<command>", "id": 1}"#,
    ] {
        assert!(help.contains(part), "{part:?} missing from:\n{help}");
    }
    let reply = client.command_json(r#"{"help": {}}"#).await;
    assert!(
        reply["result"]["commands"]
            .as_array()
            .is_some_and(|commands| commands.contains(
                &json!({"grammar": "Delete task <task_id> (admin)", "example": "Delete task 101"})
            )),
        "{reply}"
    );
    let reply = client.command_json(r#"{"delete_tsk": {}}"#).await;
    assert_eq!(reply["error"]["code"], json!("UNIMPLEMENTED"));
    let hint = reply["error"]["hint"].as_str().unwrap_or_default();
    assert!(
        hint.starts_with(r#"closest operation: "delete_task"; "#),
        "{hint}"
    );
    for name in [
        "analyze",
        "narrate",
        "progress",
        "watch",
        "unwatch",
        "help",
        "delete_task",
        "text",
    ] {
        assert!(hint.contains(name), "{name:?} missing from {hint}");
    }
}

#[tokio::test]
async fn text_in_a_typed_frame_runs_the_command_and_names_its_operation() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let reply = client
        .command_json(r#"{"text": "Analyze data for task t with data: [1, 2]", "id": 1}"#)
        .await;
    assert_eq!(reply["id"], json!(1), "{reply}");
    assert_eq!(reply["operation"], json!("analyze"), "{reply}");
    assert_eq!(
        reply["result"]["summary"],
        json!("Analyzed 2 items"),
        "{reply}"
    );
    assert_eq!(
        client
            .command_json(r#"{"id": "p", "text": "  CHECK progress for task t "}"#)
            .await,
        json!({"id": "p", "operation": "progress", "result": {
            "task_id": "t", "status": "in-progress", "analysis_version": 1,
            "narrative_analysis_version": 0,
        }})
    );
    // The text's own errors, with the grammar's hint; no operation was named.
    let reply = client
        .command_json(r#"{"text": "Chek progress for task t", "id": 3}"#)
        .await;
    assert_eq!(reply["id"], json!(3), "{reply}");
    assert!(reply.get("operation").is_none(), "{reply}");
    assert_eq!(reply["error"]["code"], json!("INVALID_ARGUMENT"), "{reply}");
    assert_eq!(reply["error"]["field"], json!("command"), "{reply}");
    assert!(
        reply["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("closest command: Check progress for task <task_id> ")),
        "{reply}"
    );
    // The domain's refusals name the operation they refused.
    let reply = client
        .command_json(r#"{"text": "Generate a narrative for task none", "id": 4}"#)
        .await;
    assert_eq!(reply["operation"], json!("narrate"), "{reply}");
    assert_eq!(
        reply["error"]["code"],
        json!("FAILED_PRECONDITION"),
        "{reply}"
    );
    let reply = client
        .command_json(r#"{"text": "Delete task t", "id": 5}"#)
        .await;
    assert_eq!(
        reply,
        json!({"id": 5, "operation": "delete_task", "result": {"task_id": "t", "deleted": true}})
    );
    let reply = client.command_json(r#"{"text": 7, "id": 6}"#).await;
    assert_eq!(reply["error"]["field"], json!("text"), "{reply}");
}

#[tokio::test]
async fn progress_reports_every_status() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let status = async |client: &mut WsClient| {
        client.command_json("Check progress for task s1").await["status"].clone()
    };
    assert_eq!(status(&mut client).await, json!("not-started"));
    client
        .command("Analyze data for task s1 with data: [1]")
        .await;
    assert_eq!(status(&mut client).await, json!("in-progress"));
    client.command("Generate a narrative for task s1").await;
    assert_eq!(status(&mut client).await, json!("completed"));
    client
        .command("Analyze data for task s1 with data: [1, 2]")
        .await;
    let stale = client.command_json("Check progress for task s1").await;
    assert_eq!(
        stale,
        json!({"task_id": "s1", "status": "stale", "analysis_version": 2, "narrative_analysis_version": 1})
    );
}

#[tokio::test]
async fn narrating_before_analyzing_is_a_failed_precondition() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    let error = client
        .command_error("Generate a narrative for task nothing-yet")
        .await;
    assert_eq!(error["code"], json!("FAILED_PRECONDITION"));
    assert_eq!(error["reason"], json!("ANALYSIS_MISSING"));
    assert!(
        error["hint"]
            .as_str()
            .is_some_and(|h| h.contains("Analyze data for task"))
    );
}

#[tokio::test]
async fn unknown_commands_get_the_closest_command_as_hint() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;
    for (text, closest) in [
        (
            r#"Analyse data for task 101 with data: ["x"]"#,
            "Analyze data for task <task_id> with data: <JSON list>",
        ),
        (
            "Check progres for task 101",
            "Check progress for task <task_id>",
        ),
        (
            "generate narrative 101",
            "Generate a narrative for task <task_id>",
        ),
        ("stop watch", "Stop watching"),
        ("hlep", "help"),
    ] {
        let error = client.command_error(text).await;
        assert_eq!(error["code"], json!("INVALID_ARGUMENT"), "{text:?}");
        assert_eq!(error["field"], json!("command"), "{text:?}");
        let hint = error["hint"].as_str().unwrap_or_default();
        assert!(
            hint.starts_with(&format!("closest command: {closest} ")),
            "{text:?}: {hint}"
        );
    }
    // Still serving.
    assert_eq!(
        client.command_json("Check progress for task 101").await["status"],
        json!("not-started")
    );
}

#[tokio::test]
async fn typed_requests_reach_the_same_operations_and_echo_their_id() {
    let rift = TestRift::in_process().await;
    let mut client = WsClient::connect(rift.http_addr).await;

    let reply = client
        .command_json(
            r#"{"analyze": {"task_id": "101", "data": ["data1", "data2", "data3"]}, "id": 7}"#,
        )
        .await;
    assert_eq!(reply["id"], json!(7));
    assert_eq!(reply["result"]["task_id"], json!("101"));
    assert_eq!(reply["result"]["summary"], json!("Analyzed 3 items"));
    assert_eq!(reply["result"]["version"], json!(1));

    let reply = client
        .command_json(r#"{"id": "n-1", "narrate": {"task_id": "101"}}"#)
        .await;
    assert_eq!(
        reply,
        json!({"id": "n-1", "result": {
            "task_id": "101",
            "narrative": "The analysis for task 101 concluded: Analyzed 3 items.",
            "analysis_version": 1,
        }})
    );

    // Without an id, the reply has none.
    let reply = client
        .command_json(r#"{"progress": {"task_id": "101"}}"#)
        .await;
    assert_eq!(
        reply,
        json!({"result": {"task_id": "101", "status": "completed", "analysis_version": 1, "narrative_analysis_version": 1}})
    );

    // Errors echo the id too.
    let reply = client
        .command_json(r#"{"narrate": {"task_id": "202"}, "id": 9}"#)
        .await;
    assert_eq!(reply["id"], json!(9));
    assert_eq!(reply["error"]["code"], json!("FAILED_PRECONDITION"));

    let reply = client
        .command_json(r#"{"narate": {"task_id": "101"}, "id": 10}"#)
        .await;
    assert_eq!(reply["id"], json!(10));
    assert_eq!(reply["error"]["code"], json!("UNIMPLEMENTED"));
    assert!(
        reply["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("\"narrate\"")),
        "{reply}"
    );

    let reply = client
        .command_json(r#"{"narrate": {"taskid": "101"}, "id": 11}"#)
        .await;
    assert_eq!(reply["id"], json!(11));
    assert_eq!(reply["error"]["code"], json!("INVALID_ARGUMENT"));

    let reply = client.command_json(r#"{"help": {}, "id": 12}"#).await;
    assert_eq!(reply["id"], json!(12));
    assert!(
        reply["result"]["commands"]
            .as_array()
            .is_some_and(|c| c.len() == 11)
    );
}

#[tokio::test]
async fn connections_do_not_share_watches_but_share_memory() {
    let rift = TestRift::in_process().await;
    let mut first = WsClient::connect(rift.http_addr).await;
    let mut second = WsClient::connect(rift.http_addr).await;
    first
        .command("Analyze data for task shared with data: [1, 2]")
        .await;
    assert_eq!(
        second.command("Generate a narrative for task shared").await,
        "The analysis for task shared concluded: Analyzed 2 items."
    );
    assert_eq!(
        first.command("Stop watching").await,
        "Not watching anything."
    );
}
