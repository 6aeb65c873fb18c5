//! The memory contract, held against both backends.
//!
//! Every check is an `async fn(Arc<dyn Memory>)` that knows nothing of the backend;
//! [`contract!`] turns each into two tests, `in_process::<check>` on an [`InProcessMemory`] and
//! `redis::<check>` on a [`RedisMemory`] over a `redis-server` of its own. Since every check
//! asserts exact values, both backends answer alike wherever the contract says anything.
//!
//! Two tests stand apart: one replays the same writes on both backends and compares the
//! notifications; the other covers what only Redis can do: go away, and come back.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::support::redis::RedisServer;
use rift::domain::{
    AnalysisStats, EventId, MemoryError, Notification, TaskId, TaskStatus,
    memory::{
        AnalysisStored, AnalysisWrite, History, InProcessMemory, Memory, NarrativeStored,
        NarrativeWrite, ProgressObserved, WriteGuard,
    },
    records,
};
use serde_json::{Value, json};

/// A cap no check reaches: nothing is trimmed.
const ROOMY: usize = 100_000;
/// A cap the trimming check exceeds many times over.
const TINY: usize = 10;
/// A safety net for waits that must end, far above how long they should take. The checks
/// never assert durations; this only turns a hang into a failure.
const GENEROUS: Duration = Duration::from_secs(30);

/// Which memory a check runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    InProcess,
    Redis,
}

/// Runs `check` on a fresh memory of `backend` keeping about `max_events` notifications.
async fn run<C, F>(backend: Backend, max_events: usize, check: C)
where
    C: FnOnce(Arc<dyn Memory>) -> F,
    F: Future<Output = ()>,
{
    match backend {
        Backend::InProcess => check(Arc::new(InProcessMemory::new(max_events))).await,
        Backend::Redis => {
            // Lives until the check is done.
            let server = RedisServer::start();
            check(Arc::new(server.memory(max_events))).await;
        }
    }
}

/// `check: max_events, …` → `in_process::check` and `redis::check`.
macro_rules! contract {
    ($($check:ident: $max_events:expr),* $(,)?) => {
        mod in_process {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::run(Backend::InProcess, $max_events, super::$check).await;
                }
            )*
        }
        mod redis {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::run(Backend::Redis, $max_events, super::$check).await;
                }
            )*
        }
    };
}

contract! {
    answers_ping: ROOMY,
    analysis_versions_count_up: ROOMY,
    narrative_needs_an_analysis: ROOMY,
    narrative_is_built_on_the_latest_analysis: ROOMY,
    progress_moves_through_its_states: ROOMY,
    completion_is_recorded_once_per_analysis: ROOMY,
    events_come_in_order_strictly_after_the_cursor: ROOMY,
    notification_payloads: ROOMY,
    history_tracks_the_newest_id: ROOMY,
    history_is_trimmed_to_about_max_events: TINY,
    tail_returns_events_written_after_it_started: ROOMY,
    tail_returns_when_nothing_happens: ROOMY,
    concurrent_analyses_get_consecutive_versions: ROOMY,
}

// ---------------------------------------------------------------------------------------------
// The checks.

async fn answers_ping(memory: Arc<dyn Memory>) {
    memory.ping().await.expect("ping");
}

async fn analysis_versions_count_up(memory: Arc<dyn Memory>) {
    for expected in 1..=3 {
        let stored = analyze(&*memory, "a", "Analyzed 1 items").await;
        assert_eq!(stored.version, expected);
    }
    // Versions count per task.
    assert_eq!(analyze(&*memory, "b", "Analyzed 1 items").await.version, 1);
}

async fn narrative_needs_an_analysis(memory: Arc<dyn Memory>) {
    assert_eq!(narrate(&*memory, "n").await, None);
    // Another task's analysis does not count.
    analyze(&*memory, "other", "Analyzed 1 items").await;
    let before = memory.history().await.expect("history");
    assert_eq!(narrate(&*memory, "n").await, None);
    // Nothing was written, so nothing was announced.
    assert_eq!(memory.history().await.expect("history"), before);
    assert_eq!(events(&*memory).await.len(), 1);
}

async fn narrative_is_built_on_the_latest_analysis(memory: Arc<dyn Memory>) {
    analyze(&*memory, "n", "Analyzed 2 items").await;
    let first = narrate(&*memory, "n")
        .await
        .expect("an analysis to narrate");
    assert_eq!(first.narrative, "Story of n: Analyzed 2 items.");
    assert_eq!(first.analysis_version, 1);

    analyze(&*memory, "n", "Analyzed 5 items").await;
    let second = narrate(&*memory, "n")
        .await
        .expect("an analysis to narrate");
    assert_eq!(second.narrative, "Story of n: Analyzed 5 items.");
    assert_eq!(second.analysis_version, 2);
    assert!(second.event > first.event);
}

async fn progress_moves_through_its_states(memory: Arc<dyn Memory>) {
    let status = |observed: &ProgressObserved| TaskStatus::of(&observed.state);

    let never_seen = observe(&*memory, "p").await;
    assert_eq!(status(&never_seen), TaskStatus::NotStarted);
    assert_eq!(never_seen.state, Default::default());
    assert_eq!(never_seen.recorded, None);

    analyze(&*memory, "p", "Analyzed 1 items").await;
    let analysed = observe(&*memory, "p").await;
    assert_eq!(status(&analysed), TaskStatus::InProgress);
    assert!(analysed.state.has_analysis && !analysed.state.has_narrative);
    assert_eq!(analysed.state.analysis_version, 1);
    assert_eq!(analysed.recorded, None);

    narrate(&*memory, "p")
        .await
        .expect("an analysis to narrate");
    let narrated = observe(&*memory, "p").await;
    assert_eq!(status(&narrated), TaskStatus::Completed);
    assert_eq!(narrated.state.analysis_version, 1);
    assert_eq!(narrated.state.narrative_analysis_version, 1);

    analyze(&*memory, "p", "Analyzed 2 items").await;
    let reanalysed = observe(&*memory, "p").await;
    assert_eq!(status(&reanalysed), TaskStatus::Stale);
    assert_eq!(reanalysed.state.analysis_version, 2);
    assert_eq!(reanalysed.state.narrative_analysis_version, 1);
    assert_eq!(reanalysed.recorded, None);

    narrate(&*memory, "p")
        .await
        .expect("an analysis to narrate");
    let renarrated = observe(&*memory, "p").await;
    assert_eq!(status(&renarrated), TaskStatus::Completed);
    assert_eq!(renarrated.state.narrative_analysis_version, 2);
}

async fn completion_is_recorded_once_per_analysis(memory: Arc<dyn Memory>) {
    analyze(&*memory, "c", "Analyzed 1 items").await;
    narrate(&*memory, "c")
        .await
        .expect("an analysis to narrate");
    let first = observe(&*memory, "c")
        .await
        .recorded
        .expect("the first look at a completed task records it");
    assert_eq!(observe(&*memory, "c").await.recorded, None);
    assert_eq!(observe(&*memory, "c").await.recorded, None);

    // A new analysis makes the recorded completion untrue; narrating again completes the task
    // again, and that is recorded again, once.
    analyze(&*memory, "c", "Analyzed 2 items").await;
    assert_eq!(observe(&*memory, "c").await.recorded, None);
    narrate(&*memory, "c")
        .await
        .expect("an analysis to narrate");
    let second = observe(&*memory, "c")
        .await
        .recorded
        .expect("completion after re-analysis is recorded");
    assert!(second > first);
    assert_eq!(observe(&*memory, "c").await.recorded, None);

    let completions: Vec<EventId> = events(&*memory)
        .await
        .into_iter()
        .filter(|n| n.action == "progress_completed")
        .map(|n| n.id)
        .collect();
    assert_eq!(completions, [first, second]);
}

async fn events_come_in_order_strictly_after_the_cursor(memory: Arc<dyn Memory>) {
    assert_eq!(events(&*memory).await, []);
    let mut written = Vec::new();
    for task in ["e1", "e2", "e3", "e4", "e5"] {
        written.push(analyze(&*memory, task, "Analyzed 1 items").await.event);
    }
    assert!(written.windows(2).all(|w| w[0] < w[1]), "{written:?}");

    assert_eq!(ids_after(&*memory, EventId::ZERO, 100).await, written);
    // Strictly after: the cursor itself is not repeated.
    assert_eq!(ids_after(&*memory, written[1], 100).await, written[2..]);
    assert_eq!(ids_after(&*memory, written[4], 100).await, []);
    // Any id works as a cursor, not only ids of retained events.
    let earlier = EventId {
        ms: written[0].ms - 1,
        seq: 7,
    };
    assert_eq!(ids_after(&*memory, earlier, 100).await, written);
    // The limit takes the oldest first.
    assert_eq!(ids_after(&*memory, EventId::ZERO, 2).await, written[..2]);
    assert_eq!(ids_after(&*memory, EventId::ZERO, 0).await, []);

    // Paging with the last id seen visits every event once.
    let mut paged = Vec::new();
    let mut cursor = EventId::ZERO;
    loop {
        let page = ids_after(&*memory, cursor, 2).await;
        let Some(&last) = page.last() else { break };
        assert!(page.len() <= 2);
        cursor = last;
        paged.extend(page);
    }
    assert_eq!(paged, written);
}

async fn notification_payloads(memory: Arc<dyn Memory>) {
    let analysis = analyze(&*memory, "101", "Analyzed 3 items").await;
    let narrative = narrate(&*memory, "101")
        .await
        .expect("an analysis to narrate");
    let progress = observe(&*memory, "101").await.recorded.expect("completed");

    let seen = events(&*memory).await;
    let expected = [
        (
            analysis.event,
            "TechAgent",
            "analysis_stored",
            json!({"task_id": "101", "summary": "Analyzed 3 items", "version": 1}),
        ),
        (
            narrative.event,
            "ConceptAgent",
            "narrative_stored",
            json!({
                "task_id": "101",
                "narrative": "Story of 101: Analyzed 3 items.",
                "analysis_version": 1,
            }),
        ),
        (
            progress,
            "TaskAgent",
            "progress_completed",
            json!({"task_id": "101", "status": "completed", "analysis_version": 1}),
        ),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:#?}");
    for (notification, (id, agent, action, payload)) in seen.iter().zip(expected) {
        assert_eq!(notification.id, id);
        assert_eq!(notification.task_id, "101");
        assert_eq!(notification.agent, agent);
        assert_eq!(notification.action, action);
        assert_eq!(Value::Object(notification.payload.clone()), payload);
    }
}

async fn history_tracks_the_newest_id(memory: Arc<dyn Memory>) {
    assert_eq!(history(&*memory).await, History::default());
    let analysis = analyze(&*memory, "h", "Analyzed 1 items").await;
    assert_eq!(history(&*memory).await.last, analysis.event);
    let narrative = narrate(&*memory, "h")
        .await
        .expect("an analysis to narrate");
    assert_eq!(history(&*memory).await.last, narrative.event);
    let progress = observe(&*memory, "h").await.recorded.expect("completed");
    assert_eq!(
        history(&*memory).await,
        History {
            last: progress,
            first_retained: analysis.event,
            trimmed: false,
        }
    );
    // A look that records nothing moves nothing.
    observe(&*memory, "h").await;
    assert_eq!(history(&*memory).await.last, progress);
}

async fn history_is_trimmed_to_about_max_events(memory: Arc<dyn Memory>) {
    // Redis trims `MAXLEN ~` by whole stream nodes (100 entries by default), so only "some
    // were trimmed and fewer remain" holds on both backends, not an exact count.
    const WRITES: usize = 350;
    let mut written = Vec::with_capacity(WRITES);
    for n in 0..WRITES {
        written.push(
            analyze(&*memory, &format!("t{}", n % 7), "Analyzed 1 items")
                .await
                .event,
        );
    }
    let retained = ids_after(&*memory, EventId::ZERO, 10 * WRITES).await;
    assert!(
        (TINY..WRITES).contains(&retained.len()),
        "{} retained",
        retained.len()
    );
    // What is retained is the newest, unbroken.
    assert_eq!(retained, written[WRITES - retained.len()..]);

    let history = history(&*memory).await;
    assert_eq!(
        history,
        History {
            last: written[WRITES - 1],
            first_retained: retained[0],
            trimmed: true,
        }
    );
    // A reader that stopped before the retained history may have lost events; one that read
    // up to just before it, or into it, has not.
    assert!(history.lost_after(EventId::ZERO));
    assert!(history.lost_after(written[0]));
    assert!(!history.lost_after(retained[0].predecessor()));
    assert!(!history.lost_after(retained[0]));
    assert!(!history.lost_after(history.last));
}

async fn tail_returns_events_written_after_it_started(memory: Arc<dyn Memory>) {
    let before = analyze(&*memory, "tail", "Analyzed 1 items").await;
    let mut tail = memory.open_tail();

    let writer = {
        let memory = memory.clone();
        tokio::spawn(async move {
            let analysis = analyze(&*memory, "tail", "Analyzed 2 items").await;
            let narrative = narrate(&*memory, "tail").await.expect("narrated");
            [analysis.event, narrative.event]
        })
    };

    // The writer may finish before the first read or while it blocks; either way the tail
    // hands over everything after the cursor, possibly over several batches.
    let deadline = Instant::now() + GENEROUS;
    let mut cursor = before.event;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "tail saw only {seen:?}");
        let batch = tokio::time::timeout(GENEROUS, tail.next_batch(cursor, 10))
            .await
            .expect("a tail read returns")
            .expect("tail read");
        for notification in batch {
            cursor = notification.id;
            seen.push(notification.id);
        }
    }
    let written = writer.await.expect("writer");
    assert_eq!(seen, written);
}

async fn tail_returns_when_nothing_happens(memory: Arc<dyn Memory>) {
    let last = analyze(&*memory, "idle", "Analyzed 1 items").await.event;
    let mut tail = memory.open_tail();
    for _ in 0..2 {
        let batch = tokio::time::timeout(GENEROUS, tail.next_batch(last, 10))
            .await
            .expect("an idle tail read returns")
            .expect("tail read");
        assert_eq!(batch, []);
    }
}

async fn concurrent_analyses_get_consecutive_versions(memory: Arc<dyn Memory>) {
    const WORKERS: usize = 16;
    const WRITES_PER_WORKER: usize = 10;
    // Four workers per task, so writes to one task race each other.
    const TASKS: usize = 4;

    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let memory = memory.clone();
            tokio::spawn(async move {
                let task = format!("race{}", worker % TASKS);
                let mut stored = Vec::with_capacity(WRITES_PER_WORKER);
                for _ in 0..WRITES_PER_WORKER {
                    stored.push((
                        task.clone(),
                        analyze(&*memory, &task, "Analyzed 1 items").await,
                    ));
                }
                stored
            })
        })
        .collect();

    let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut writes: BTreeMap<EventId, (String, u64)> = BTreeMap::new();
    for worker in workers {
        for (task, stored) in worker.await.expect("worker") {
            versions
                .entry(task.clone())
                .or_default()
                .push(stored.version);
            let duplicate = writes.insert(stored.event, (task, stored.version));
            assert_eq!(duplicate, None, "two writes share id {}", stored.event);
        }
    }
    let per_task = (WORKERS / TASKS * WRITES_PER_WORKER) as u64;
    assert_eq!(versions.len(), TASKS);
    for (task, mut seen) in versions {
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=per_task).collect::<Vec<_>>(),
            "versions of {task}"
        );
    }

    // Every write has exactly one notification, naming the version that write got.
    let announced = events(&*memory).await;
    assert_eq!(announced.len(), WORKERS * WRITES_PER_WORKER);
    for notification in announced {
        let (task, version) = writes
            .remove(&notification.id)
            .unwrap_or_else(|| panic!("{} is no write's, or announced twice", notification.id));
        assert_eq!(notification.task_id, task);
        assert_eq!(notification.payload["version"], json!(version));
    }
    assert!(writes.is_empty(), "writes never announced: {writes:?}");
}

// ---------------------------------------------------------------------------------------------
// Across backends, and Redis alone.

/// The same writes on both backends announce the same things (ids aside), including text that
/// needs escaping on the way through Lua's JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_match_across_backends() {
    async fn script(memory: Arc<dyn Memory>) -> Vec<(String, String, String, Value)> {
        analyze(&*memory, "x", "Analyzed 2 items").await;
        narrate(&*memory, "x").await.expect("narrated");
        observe(&*memory, "x").await;
        analyze(&*memory, "x", "Analyzed \"quoted\" / é ✓ items").await;
        observe(&*memory, "x").await;
        narrate(&*memory, "x").await.expect("narrated");
        observe(&*memory, "x").await;
        assert_eq!(narrate(&*memory, "y").await, None);
        events(&*memory)
            .await
            .into_iter()
            .map(|n| (n.task_id, n.agent, n.action, Value::Object(n.payload)))
            .collect()
    }
    let in_process = script(Arc::new(InProcessMemory::new(ROOMY))).await;
    let server = RedisServer::start();
    let redis = script(Arc::new(server.memory(ROOMY))).await;
    assert_eq!(in_process.len(), 6);
    assert_eq!(redis, in_process);
}

/// While Redis is down every call fails fast as `Unavailable`; once it is back the same memory
/// reconnects by itself, and reloads its scripts into the empty server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_memory_is_unavailable_while_down_and_recovers() {
    let mut server = RedisServer::start();
    let memory = server.memory(ROOMY);
    assert_eq!(analyze(&memory, "o", "Analyzed 1 items").await.version, 1);

    server.stop();
    let task = task_id("o");
    let record = records::analysis_json(&task, "Analyzed 1 items", &AnalysisStats::default());
    let write = AnalysisWrite {
        task: &task,
        record_json: &record,
        summary: "Analyzed 1 items",
        data_json: "[]",
        expected_version: None,
        guard: WriteGuard::default(),
    };
    let error = memory
        .store_analysis(write)
        .await
        .expect_err("Redis is down");
    assert!(matches!(error, MemoryError::Unavailable(_)), "{error:?}");
    let error = memory.ping().await.expect_err("Redis is down");
    assert!(matches!(error, MemoryError::Unavailable(_)), "{error:?}");

    server.restart();
    let deadline = Instant::now() + GENEROUS;
    while let Err(error) = memory.ping().await {
        assert!(Instant::now() < deadline, "never reconnected: {error}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The restarted server is empty: versions start over.
    assert_eq!(
        memory.store_analysis(write).await.expect("stored").version,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers: the agents' writes with fixed wording.

fn task_id(id: &str) -> TaskId {
    TaskId::parse(id).expect("valid task id")
}

async fn analyze(memory: &dyn Memory, task: &str, summary: &str) -> AnalysisStored {
    let task = task_id(task);
    let record = records::analysis_json(&task, summary, &AnalysisStats::default());
    memory
        .store_analysis(AnalysisWrite {
            task: &task,
            record_json: &record,
            summary,
            data_json: "[]",
            expected_version: None,
            guard: WriteGuard::default(),
        })
        .await
        .expect("store_analysis")
}

/// Narrates as `Story of <task>: <summary>.`.
async fn narrate(memory: &dyn Memory, task: &str) -> Option<NarrativeStored> {
    let task = task_id(task);
    let prefix = format!("Story of {task}: ");
    memory
        .store_narrative(NarrativeWrite {
            task: &task,
            prefix: &prefix,
            suffix: ".",
            guard: WriteGuard::default(),
        })
        .await
        .expect("store_narrative")
}

async fn observe(memory: &dyn Memory, task: &str) -> ProgressObserved {
    let task = task_id(task);
    let record = records::progress_completed_json(&task);
    memory
        .observe_progress(&task, &record, None)
        .await
        .expect("observe_progress")
}

async fn history(memory: &dyn Memory) -> History {
    memory.history().await.expect("history")
}

/// The ids of up to `limit` notifications after `after`.
async fn ids_after(memory: &dyn Memory, after: EventId, limit: usize) -> Vec<EventId> {
    let batch = memory
        .events_after(after, limit)
        .await
        .expect("events_after");
    batch.into_iter().map(|n| n.id).collect()
}

/// Every retained notification, oldest first.
async fn events(memory: &dyn Memory) -> Vec<Notification> {
    memory
        .events_after(EventId::ZERO, 10_000)
        .await
        .expect("events_after")
}
