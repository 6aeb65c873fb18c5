//! What Rift leaves in Redis, read back with a plain client: the Python prototype's keys,
//! values and channel byte for byte, Rift's notification stream beside them, prototype-written
//! values read as Rift's own, and one Redis call per agent write.

use std::{sync::Arc, time::Duration};

use crate::support::redis::RedisServer;
use futures::StreamExt;
use redis::{AsyncCommands, aio::MultiplexedConnection};
use rift::domain::{
    Agents, AnalysisStats, AnalyzeOptions, Caller, CoreConfig, TaskId, TaskStatus,
    memory::{AnalysisWrite, Memory, NarrativeWrite, WriteGuard},
    records,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A safety net for waits that must end; never a duration under test.
const GENEROUS: Duration = Duration::from_secs(30);

/// The agents over a fresh Redis; their background tasks stop when the token is dropped.
struct Harness {
    server: RedisServer,
    agents: Agents,
    _shutdown: tokio_util::sync::DropGuard,
}

impl Harness {
    fn start() -> Self {
        let server = RedisServer::start();
        let shutdown = CancellationToken::new();
        let agents = Agents::start(
            Arc::new(server.memory(100_000)),
            CoreConfig::default(),
            shutdown.clone(),
        );
        Self {
            server,
            agents,
            _shutdown: shutdown.drop_guard(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_write_the_prototypes_keys() {
    let harness = Harness::start();
    let agents = &harness.agents;
    let mut redis = harness.server.connection().await;

    // The prototype's per-task channel, on a connection of its own.
    let mut updates = harness
        .server
        .client()
        .get_async_pubsub()
        .await
        .expect("pub/sub connection");
    updates
        .subscribe("task_updates:101")
        .await
        .expect("SUBSCRIBE");
    let mut updates = updates.into_on_message();

    let analysis = agents
        .analyze(
            &Caller::default(),
            "101",
            &[json!("data1"), json!("data2"), json!("data3")],
            AnalyzeOptions::default(),
        )
        .await
        .expect("analyze");
    assert_eq!(analysis.version, 1);

    let stored: String = redis.get("TechAgent:analysis:101").await.expect("GET");
    assert!(
        stored.starts_with(r#"{"task_id": "101", "summary": "Analyzed 3 items""#),
        "{stored}"
    );
    let in_context: String = redis
        .hget("shared:task_context:101", "TechAgent_analysis")
        .await
        .expect("HGET");
    assert_eq!(in_context, stored);

    let message = tokio::time::timeout(GENEROUS, updates.next())
        .await
        .expect("a message on task_updates:101")
        .expect("the subscription is open");
    assert_eq!(message.get_channel_name(), "task_updates:101");
    let message: Value =
        serde_json::from_str(&message.get_payload::<String>().expect("a text message"))
            .expect("a JSON message");
    let first_id = message["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        message,
        json!({
            "id": first_id,
            "task_id": "101",
            "agent": "TechAgent",
            "action": "analysis_stored",
            "payload": {"task_id": "101", "summary": "Analyzed 3 items", "version": 1},
        })
    );

    let narrative = agents
        .narrate(&Caller::default(), "101", None, None)
        .await
        .expect("narrate");
    let text = "The analysis for task 101 concluded: Analyzed 3 items.";
    assert_eq!(narrative.narrative, text);
    let stored: String = redis.get("ConceptAgent:narrative:101").await.expect("GET");
    assert_eq!(stored, text);
    let in_context: String = redis
        .hget("shared:task_context:101", "ConceptAgent_narrative")
        .await
        .expect("HGET");
    assert_eq!(in_context, text);

    let progress = agents
        .progress(&Caller::default(), "101")
        .await
        .expect("progress");
    assert_eq!(progress.status, TaskStatus::Completed);
    let stored: String = redis.get("TaskAgent:progress:101").await.expect("GET");
    assert_eq!(stored, r#"{"task_id": "101", "status": "completed"}"#);

    // The context hash holds the prototype's two fields, Rift's two version counters and the
    // task's newest notification.
    let mut fields: Vec<String> = redis.hkeys("shared:task_context:101").await.expect("HKEYS");
    fields.sort();
    assert_eq!(
        fields,
        [
            "ConceptAgent_narrative",
            "TechAgent_analysis",
            "rift_analysis_digest",
            "rift_analysis_version",
            "rift_last_event",
            "rift_narrative_analysis_version",
            "rift_narrative_digest",
        ]
    );

    // The stream: one entry per write, fields in a fixed order, payloads as JSON text.
    let entries = stream(&mut redis).await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_eq!(entries[0].0, first_id);
    let expected = [
        (
            "TechAgent",
            "analysis_stored",
            json!({"task_id": "101", "summary": "Analyzed 3 items", "version": 1}),
        ),
        (
            "ConceptAgent",
            "narrative_stored",
            json!({"task_id": "101", "narrative": text, "analysis_version": 1}),
        ),
        (
            "TaskAgent",
            "progress_completed",
            json!({"task_id": "101", "status": "completed", "analysis_version": 1}),
        ),
    ];
    let last: String = redis
        .hget("shared:task_context:101", "rift_last_event")
        .await
        .expect("HGET");
    assert_eq!(last, entries[2].0, "the task's newest notification");
    for (n, ((id, fields), (agent, action, payload))) in entries.iter().zip(expected).enumerate() {
        let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        // The prototype's four fields; then, but on the task's first, the previous one of the
        // same task (Rift's own, for per-task replay).
        if n == 0 {
            assert_eq!(
                names,
                ["task_id", "agent", "action", "payload"],
                "entry {id}"
            );
        } else {
            assert_eq!(
                names,
                ["task_id", "agent", "action", "payload", "rift_prev"],
                "entry {id}"
            );
            assert_eq!(
                fields[4].1,
                entries[n - 1].0,
                "entry {id} names the one before"
            );
        }
        assert_eq!(fields[0].1, "101");
        assert_eq!(fields[1].1, agent);
        assert_eq!(fields[2].1, action);
        let stored: Value = serde_json::from_str(&fields[3].1).expect("a JSON payload");
        assert_eq!(stored, payload, "entry {id}");
    }
}

/// Values the prototype wrote by hand are Rift's to narrate and complete; they carry no
/// version, so Rift counts the prototype's analysis as version 1 (one more than it recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_what_the_prototype_wrote() {
    let harness = Harness::start();
    let agents = &harness.agents;
    let mut redis = harness.server.connection().await;
    let analysis = r#"{"task_id": "7", "summary": "Analyzed 2 items"}"#;
    let () = redis
        .set("TechAgent:analysis:7", analysis)
        .await
        .expect("SET");
    let () = redis
        .hset("shared:task_context:7", "TechAgent_analysis", analysis)
        .await
        .expect("HSET");

    let progress = agents
        .progress(&Caller::default(), "7")
        .await
        .expect("progress");
    assert_eq!(progress.status, TaskStatus::InProgress);
    assert_eq!(progress.analysis_version, 1);

    let narrative = agents
        .narrate(&Caller::default(), "7", None, None)
        .await
        .expect("narrate");
    assert_eq!(
        narrative.narrative,
        "The analysis for task 7 concluded: Analyzed 2 items."
    );
    assert_eq!(narrative.analysis_version, 1);

    let progress = agents
        .progress(&Caller::default(), "7")
        .await
        .expect("progress");
    assert_eq!(progress.status, TaskStatus::Completed);
    assert_eq!(progress.analysis_version, 1);
    let stored: String = redis.get("TaskAgent:progress:7").await.expect("GET");
    assert_eq!(stored, r#"{"task_id": "7", "status": "completed"}"#);

    // Rift's own first analysis of the task follows the prototype's, and leaves the narrative
    // behind.
    let analysis = agents
        .analyze(
            &Caller::default(),
            "7",
            &[json!(1)],
            AnalyzeOptions::default(),
        )
        .await
        .expect("analyze");
    assert_eq!(analysis.version, 2);
    let progress = agents
        .progress(&Caller::default(), "7")
        .await
        .expect("progress");
    assert_eq!(progress.status, TaskStatus::Stale);
    let stale: Option<String> = redis.get("TaskAgent:progress:7").await.expect("GET");
    assert_eq!(
        stale, None,
        "a new analysis withdraws the completion record"
    );
}

/// Each agent write is one `EVALSHA`: the keys, the context and the notification change in
/// one atomic step and one round trip.
///
/// Counted with `MONITOR`, which names the client of every command and shows commands run by
/// a script as coming from `lua`. `INFO` counters cannot tell the two apart on Redis 7.0: an
/// `EVAL` running ten `SET`s raises `total_commands_processed` by eleven and `cmdstat_set` by
/// ten. The memory runs bare, without `Agents`, so no notifier or health probe adds traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_call_per_write() {
    const ROUNDS: usize = 5;
    const SENTINEL: &str = "rift-layout-sentinel";
    let server = RedisServer::start();
    let memory = server.memory(100_000);
    // Connected (and each script loaded) before monitoring starts, so only the writes show.
    let mut redis = server.connection().await;
    let _: String = redis::cmd("PING")
        .query_async(&mut redis)
        .await
        .expect("PING");
    write_once_each(&memory).await;

    let monitor = server.client().get_async_monitor().await.expect("MONITOR");
    for _ in 0..ROUNDS {
        write_once_each(&memory).await;
    }
    // Everything before the sentinel's echo has been shown.
    let _: String = redis::cmd("ECHO")
        .arg(SENTINEL)
        .query_async(&mut redis)
        .await
        .expect("ECHO");

    let mut lines = monitor.into_on_message::<String>();
    let mut from_clients = Vec::new();
    let mut inside_scripts = 0;
    loop {
        let line = tokio::time::timeout(GENEROUS, lines.next())
            .await
            .expect("MONITOR shows the sentinel")
            .expect("MONITOR is open");
        if line.contains(SENTINEL) {
            break;
        }
        // `<time> [<db> <client>] "<command>" "<arg>"…`; `<client>` is `lua` inside a script.
        let (client, command) = line
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once("] "))
            .unwrap_or_else(|| panic!("unexpected MONITOR line {line:?}"));
        if client.ends_with(" lua") {
            inside_scripts += 1;
        } else {
            let name = command.split(' ').next().unwrap_or_default();
            from_clients.push(name.trim_matches('"').to_ascii_lowercase());
        }
    }
    assert_eq!(from_clients, vec!["evalsha"; 3 * ROUNDS]);
    // The scripts' own commands were seen too, so the split above is real.
    assert!(inside_scripts > from_clients.len(), "{inside_scripts}");
}

/// One analysis, one narrative and one completed progress on task `w`.
async fn write_once_each(memory: &dyn Memory) {
    let task = TaskId::parse("w").expect("valid task id");
    let record = records::analysis_json(&task, "Analyzed 0 items", &AnalysisStats::default());
    memory
        .store_analysis(AnalysisWrite {
            task: &task,
            record_json: &record,
            summary: "Analyzed 0 items",
            data_json: "[]",
            expected_version: None,
            guard: WriteGuard::default(),
        })
        .await
        .expect("store_analysis");
    memory
        .store_narrative(NarrativeWrite {
            task: &task,
            prefix: "Story: ",
            suffix: ".",
            guard: WriteGuard::default(),
        })
        .await
        .expect("store_narrative")
        .expect("an analysis to narrate");
    let completed = records::progress_completed_json(&task);
    let observed = memory
        .observe_progress(&task, &completed, None)
        .await
        .expect("observe_progress");
    assert!(observed.recorded.is_some(), "each round completes the task");
}

/// Every entry of the notification stream: id and fields in order.
async fn stream(redis: &mut MultiplexedConnection) -> Vec<(String, Vec<(String, String)>)> {
    redis::cmd("XRANGE")
        .arg("shared:notifications")
        .arg("-")
        .arg("+")
        .query_async(redis)
        .await
        .expect("XRANGE")
}
