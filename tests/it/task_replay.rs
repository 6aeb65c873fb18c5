//! A per-task replay (`Subscribe(task_id, after)`, WebSocket `Watch task <id> from <id>`)
//! reads that task's entries only, however many other tasks' entries the stream retains.
//!
//! Cost is asserted by what Redis did (`INFO commandstats`: how many `XRANGE` calls, one entry
//! each, and no other stream read), never by time. Run with `--nocapture` for the figures.

#![allow(clippy::print_stderr)]

use crate::support::{
    grpc::{patient_analyze, subscribe},
    redis::RedisServer,
    rift::TestRift,
    ws::WsClient,
};
use rift::pb;

/// Entries of other tasks, written straight into the stream in the prototype's layout.
const OTHERS: usize = 40_000;
/// Analyses of the task replayed, spread among them.
const MINE: usize = 6;

async fn reset_stats(redis: &RedisServer) {
    let mut connection = redis.connection().await;
    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut connection)
        .await
        .expect("CONFIG RESETSTAT");
}

/// `count` entries of other tasks, as another writer (the prototype) would append them.
async fn others(redis: &RedisServer, from: usize, count: usize) {
    let mut connection = redis.connection().await;
    let mut pipe = redis::pipe();
    for n in from..from + count {
        let task = format!("other-{}", n % 1000);
        pipe.cmd("XADD")
            .arg("shared:notifications")
            .arg("*")
            .arg("task_id")
            .arg(&task)
            .arg("agent")
            .arg("TechAgent")
            .arg("action")
            .arg("analysis_stored")
            .arg("payload")
            .arg(format!(
                r#"{{"task_id": "{task}", "summary": "Analyzed 0 items"}}"#
            ))
            .ignore();
    }
    let () = pipe
        .query_async(&mut connection)
        .await
        .expect("XADD the others");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_task_replay_reads_only_that_tasks_entries() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    let mut ids = Vec::new();
    for n in 0..MINE {
        others(&redis, n * OTHERS / MINE, OTHERS / MINE).await;
        let response = client
            .analyze(patient_analyze("mine", ""))
            .await
            .expect("analyze")
            .into_inner();
        assert_eq!(response.version, n as u64 + 1);
    }
    // Deleted and written again: the replay still reaches the events before the deletion.
    let mut admin = rift.client().await;
    admin
        .delete_task(pb::DeleteTaskRequest {
            task_id: "mine".into(),
        })
        .await
        .expect("delete");
    client
        .analyze(patient_analyze("mine", ""))
        .await
        .expect("analyze after the deletion");
    let events = MINE + 2;

    // gRPC, from the beginning.
    reset_stats(&redis).await;
    let mut stream = subscribe(&mut client, "mine", "0").await;
    for n in 0..events {
        let notification = stream.message().await.expect("stream").expect("an event");
        assert_eq!(notification.task_id, "mine", "event {n}");
        ids.push(notification.id);
    }
    let mut actions: Vec<String> = Vec::new();
    let stats = redis.commandstats().await;
    let (xrange_calls, _) = stats.get("xrange").copied().unwrap_or_default();
    let (script_calls, script_usec) = stats.get("evalsha").copied().unwrap_or_default();
    eprintln!(
        "per-task replay of {events} events among {OTHERS} others: {xrange_calls} XRANGE calls, \
         {script_calls} scripts, {script_usec} µs of script time in Redis"
    );
    // One XRANGE of one entry per event of the task (a replay through the whole stream
    // would have paged through every other task's entries); besides, each check of where
    // history stands the notifier's tail makes meanwhile (a script, `history.lua`) reads the
    // oldest entry and looks for one id: at most two more XRANGE calls of one entry each.
    let checks = script_calls.saturating_sub(1);
    assert!(
        xrange_calls >= events as u64 && xrange_calls <= events as u64 + 2 * checks,
        "{xrange_calls} XRANGE calls for {events} events and {checks} checks: {stats:?}"
    );
    drop(stream);

    // gRPC, resuming inside the task's history: only what follows, in order.
    let mut resumed = subscribe(&mut client, "mine", &ids[2]).await;
    for expected in &ids[3..] {
        let notification = resumed.message().await.expect("stream").expect("an event");
        actions.push(notification.action.clone());
        assert_eq!(&notification.id, expected);
    }
    assert!(actions.contains(&"task_deleted".to_owned()), "{actions:?}");
    drop(resumed);

    // WebSocket, the same replay.
    reset_stats(&redis).await;
    let mut ws = WsClient::connect(rift.http_addr).await;
    ws.command(&format!("Watch task mine from {}", ids[2]))
        .await;
    for expected in &ids[3..] {
        let notification = ws.notification().await;
        assert_eq!(notification["id"].as_str(), Some(expected.as_str()));
    }
    let stats = redis.commandstats().await;
    let (xrange_calls, _) = stats.get("xrange").copied().unwrap_or_default();
    let (script_calls, _) = stats.get("evalsha").copied().unwrap_or_default();
    // The resume id is checked (`history.lua`: two XRANGE of one entry), then one XRANGE per
    // event after it; the tail's checks as above.
    let after = (events - 3) as u64;
    let checks = script_calls.saturating_sub(1);
    assert!(
        xrange_calls >= after && xrange_calls <= after + 2 * checks,
        "{xrange_calls} XRANGE calls for {after} events and {checks} checks: {stats:?}"
    );
}
