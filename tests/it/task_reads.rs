//! GetTask and ListTasks: what they return, that they write nothing (Redis's own counters say
//! so), and listings that stay exact while tasks are being written.

use std::collections::{BTreeMap, BTreeSet};

use rift::pb::{self, rift_client::RiftClient};
use tonic::transport::Channel;

use crate::support::{
    grpc::{list_every_page, list_page, strings},
    redis::RedisServer,
    rift::TestRift,
    ws::WsClient,
};

async fn analyze(client: &mut RiftClient<Channel>, task_id: &str, items: &[&str]) -> u64 {
    client
        .analyze(pb::AnalyzeRequest {
            task_id: task_id.into(),
            data: strings(items),
            ..Default::default()
        })
        .await
        .expect("Analyze")
        .into_inner()
        .version
}

async fn narrate(client: &mut RiftClient<Channel>, task_id: &str) {
    client
        .narrate(pb::NarrateRequest {
            task_id: task_id.into(),
            ..Default::default()
        })
        .await
        .expect("Narrate");
}

async fn get_task(client: &mut RiftClient<Channel>, task_id: &str) -> pb::GetTaskResponse {
    client
        .get_task(pb::GetTaskRequest {
            task_id: task_id.into(),
            with_report: false,
        })
        .await
        .expect("GetTask")
        .into_inner()
}

async fn check_get_task_shows_what_is_stored(rift: &TestRift) {
    let mut client = rift.client().await;
    let nothing = get_task(&mut client, "none").await;
    assert_eq!(nothing.status(), pb::TaskStatus::NotStarted);
    assert_eq!(
        (&nothing.analysis, &nothing.narrative, &nothing.report),
        (&None, &None, &None)
    );
    assert_eq!(nothing.last_notification_id, "");

    analyze(&mut client, "101", &["data1", "data2", "data1"]).await;
    let analysed = get_task(&mut client, "101").await;
    assert_eq!(analysed.status(), pb::TaskStatus::InProgress);
    let analysis = analysed.analysis.expect("an analysis");
    assert_eq!(
        (analysis.summary.as_str(), analysis.version),
        ("Analyzed 3 items", 1)
    );
    let stats = analysis.stats.expect("Rift's statistics");
    assert_eq!(stats.item_count, 3);
    assert_eq!(stats.strings.expect("strings").distinct, 2);
    assert!(!analysed.last_notification_id.is_empty());

    narrate(&mut client, "101").await;
    let narrated = get_task(&mut client, "101").await;
    assert_eq!(narrated.status(), pb::TaskStatus::Completed);
    let narrative = narrated.narrative.expect("a narrative");
    assert_eq!(
        narrative.text,
        "The analysis for task 101 concluded: Analyzed 3 items."
    );
    assert_eq!(narrative.analysis_version, 1);
    assert_ne!(
        narrated.last_notification_id, analysed.last_notification_id,
        "the narrative's notification is the newest"
    );

    analyze(&mut client, "101", &["x"]).await;
    assert_eq!(
        get_task(&mut client, "101").await.status(),
        pb::TaskStatus::Stale
    );

    let invalid = client
        .get_task(pb::GetTaskRequest {
            task_id: "a b".into(),
            with_report: false,
        })
        .await
        .expect_err("an invalid id");
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_shows_what_is_stored_on_redis() {
    let (_redis, rift) = TestRift::with_redis().await;
    check_get_task_shows_what_is_stored(&rift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_shows_what_is_stored_in_process() {
    let rift = TestRift::in_process().await;
    check_get_task_shows_what_is_stored(&rift).await;
}

/// Tasks `t00`…, analysed in order (so `t00` changed least recently), every third narrated.
async fn populate(client: &mut RiftClient<Channel>, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = format!("t{n:02}");
        analyze(client, &id, &["a"]).await;
        if n % 3 == 0 {
            narrate(client, &id).await;
        }
        ids.push(id);
    }
    ids
}

async fn check_listing(rift: &TestRift) {
    let mut client = rift.client().await;
    let empty = list_page(&mut client, 0, "", pb::TaskStatus::Unspecified).await;
    assert!(empty.tasks.is_empty() && empty.next_page_token.is_empty());

    let ids = populate(&mut client, 20).await;
    // Most recently changed first: the last analysed comes first.
    let listed = list_every_page(&mut client, 0, pb::TaskStatus::Unspecified, async |_| {})
        .await
        .tasks;
    let order: Vec<&str> = listed.iter().map(|task| task.task_id.as_str()).collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(order, expected);
    let last = &listed[0];
    assert_eq!(last.status(), pb::TaskStatus::InProgress);
    assert!(!last.last_notification_id.is_empty());
    assert!(last.last_change.is_some());

    // A status filter, over small pages.
    let completed = list_every_page(&mut client, 2, pb::TaskStatus::Completed, async |_| {})
        .await
        .tasks;
    let completed: Vec<&str> = completed.iter().map(|task| task.task_id.as_str()).collect();
    assert_eq!(completed, ["t18", "t15", "t12", "t09", "t06", "t03", "t00"]);

    // A token belongs to its filter; garbage is no token.
    let first = list_page(&mut client, 2, "", pb::TaskStatus::Completed).await;
    let other = client
        .list_tasks(pb::ListTasksRequest {
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .expect_err("a token of another filter");
    assert_eq!(other.code(), tonic::Code::InvalidArgument);
    let garbage = client
        .list_tasks(pb::ListTasksRequest {
            page_token: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("garbage");
    assert_eq!(garbage.code(), tonic::Code::InvalidArgument);
    let negative = client
        .list_tasks(pb::ListTasksRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("a negative page size");
    assert_eq!(negative.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_orders_filters_and_pages_on_redis() {
    let (_redis, rift) = TestRift::with_redis().await;
    check_listing(&rift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_orders_filters_and_pages_in_process() {
    let rift = TestRift::in_process().await;
    check_listing(&rift).await;
}

/// AIP-158: while tasks are written between pages (listed ones and ones not yet listed, and
/// new ones), every task that existed throughout appears exactly once.
async fn check_listing_under_concurrent_writes(rift: &TestRift) {
    let mut client = rift.client().await;
    let ids = populate(&mut client, 40).await;
    let mut writer = rift.client().await;
    let deleted = "t05";
    // Any task but the deleted one (written again, it would not have existed throughout).
    let pick = |n: usize| {
        let id = &ids[n % ids.len()];
        if id == deleted { &ids[0] } else { id }
    };
    let listed = list_every_page(&mut client, 3, pb::TaskStatus::Unspecified, async |pages| {
        // Tasks listed already and tasks not listed yet move to the top...
        analyze(&mut writer, pick(pages), &["again"]).await;
        analyze(
            &mut writer,
            pick(ids.len() - 1 - pages % ids.len()),
            &["again"],
        )
        .await;
        narrate(&mut writer, pick(pages * 7)).await;
        // ...tasks come and go.
        analyze(&mut writer, &format!("new{pages}"), &["n"]).await;
        if pages == 2 {
            writer
                .delete_task(pb::DeleteTaskRequest {
                    task_id: deleted.into(),
                })
                .await
                .expect("DeleteTask");
        }
    })
    .await
    .tasks;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &listed {
        *seen.entry(task.task_id.as_str()).or_default() += 1;
    }
    for id in &ids {
        if id != deleted {
            assert_eq!(seen.get(id.as_str()), Some(&1), "{id} in {seen:?}");
        }
    }
    assert_eq!(seen.get(deleted), None, "a task deleted before its page");
    let created: BTreeSet<&str> = seen
        .keys()
        .copied()
        .filter(|id| id.starts_with("new"))
        .collect();
    assert!(
        created.is_empty(),
        "created after the listing began: {created:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_stable_under_concurrent_writes_on_redis() {
    let (_redis, rift) = TestRift::with_redis().await;
    check_listing_under_concurrent_writes(&rift).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_stable_under_concurrent_writes_in_process() {
    let rift = TestRift::in_process().await;
    check_listing_under_concurrent_writes(&rift).await;
}

/// Redis's counter of changes since the last save (never saved: `--save ''`), which every
/// write command raises.
async fn changes(redis: &RedisServer) -> u64 {
    let mut connection = redis.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query_async(&mut connection)
        .await
        .expect("INFO persistence");
    info.lines()
        .find_map(|line| line.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("rdb_changes_since_last_save")
}

/// Commands Redis counts as read-only, and the ones Rift's background work sends (the
/// notifier's blocking read, the health probe): all a read may cause.
const READ_ONLY: &[&str] = &[
    "evalsha",
    "eval",
    "hmget",
    "hget",
    "get",
    "zcount",
    "zrangebyscore",
    "zrevrangebyscore",
    "xrange",
    "xrevrange",
    "xread",
    "ping",
    "info",
    "script|load",
    "hello",
    "client|setinfo",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_and_list_tasks_write_nothing() {
    let (redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    populate(&mut client, 6).await;
    // Scripts loaded and connections open before counting.
    get_task(&mut client, "t00").await;
    list_page(&mut client, 2, "", pb::TaskStatus::Unspecified).await;
    let mut ws = WsClient::connect(rift.http_addr).await;
    ws.command("Show task t00").await;

    let changes_before = changes(&redis).await;
    let before = redis.commandstats().await;
    for id in ["t00", "t03", "t05", "missing"] {
        get_task(&mut client, id).await;
    }
    list_every_page(&mut client, 2, pb::TaskStatus::Unspecified, async |_| {}).await;
    list_every_page(&mut client, 1, pb::TaskStatus::Completed, async |_| {}).await;
    assert!(
        ws.command("Show task t01.")
            .await
            .contains("\"task_id\": \"t01\"")
    );
    assert!(
        ws.command("List tasks with status in-progress")
            .await
            .contains("t04")
    );
    let after = redis.commandstats().await;

    assert_eq!(
        changes(&redis).await,
        changes_before,
        "a read changed Redis"
    );
    let ran: BTreeMap<&str, u64> = after
        .iter()
        .map(|(name, (calls, _))| (name.as_str(), calls - before.get(name).map_or(0, |b| b.0)))
        .filter(|(_, calls)| *calls > 0)
        .collect();
    for name in ran.keys() {
        assert!(READ_ONLY.contains(name), "{name} ran during reads: {ran:?}");
    }
    // The reads did run (on scripts), so the check above is not vacuous.
    assert!(ran.get("evalsha").copied().unwrap_or(0) >= 8, "{ran:?}");
    assert!(
        ran.contains_key("hmget") && ran.contains_key("zrevrangebyscore"),
        "{ran:?}"
    );
}
