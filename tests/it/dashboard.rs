//! The dashboard in a real headless Chromium: commands typed in its box (read by the server's
//! parser, answered with its errors and hints), changes made over gRPC appearing on its board,
//! a crash of the server it talks to, and its token.
//!
//! Every wait is for something the page shows (see `support/browser.rs`), never for time.

use std::net::TcpListener;

use crate::support::browser::Page;
use crate::support::{
    grpc::strings,
    redis::RedisServer,
    rift::{RiftProcess, TestRift},
};
use rift::{
    domain::auth::{Access, Role, Tokens},
    pb::{AnalyzeRequest, NarrateRequest, ProgressRequest, ReportRequest},
    server::Config,
};

/// A JavaScript expression for the board row of `task`.
fn row(task: &str) -> String {
    format!("document.querySelector('#board tr[data-task=\"{task}\"]')")
}

/// A predicate: the row of `task` shows `status` with these versions (`""`: no narrative).
fn task_shows(task: &str, status: &str, analysis: u64, narrative: &str) -> String {
    let row = row(task);
    format!(
        "{row} && {row}.dataset.status === '{status}' && {row}.dataset.analysisVersion === \
         '{analysis}' && {row}.dataset.narrativeVersion === '{narrative}'"
    )
}

/// A predicate: the feed has a notification `action` about `task`.
fn feed_has(task: &str, action: &str) -> String {
    format!("document.querySelector('#feed li[data-task=\"{task}\"][data-action=\"{action}\"]')")
}

const LIVE: &str = "document.querySelector('#connection').dataset.state === 'live'";

/// The newest reply in the replies list, as `{kind, code, text}`, once it has its answer.
const LAST_REPLY: &str = "(() => { const r = document.querySelector('#replies li'); \
    return r && r.dataset.kind !== 'pending' && \
    { kind: r.dataset.kind, code: r.dataset.code || '', text: r.innerText }; })()";

/// A port for a server that must come back on the same address after a crash: bound on
/// `127.0.0.1:0`, so the kernel picks a free one, then released for the server to take.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("address").port()
}

async fn send_command(page: &mut Page, command: &str) -> serde_json::Value {
    page.type_into("#command-input", command).await;
    page.press_enter().await;
    let sent = serde_json::to_string(command).expect("json");
    page.wait_for(
        &format!("the reply to {command}"),
        &format!(
            "document.querySelector('#replies li .sent')?.textContent === {sent} && {LAST_REPLY}"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_board_follows_commands_grpc_writes_and_a_server_crash() {
    let redis = RedisServer::start();
    let redis_url = redis.url();
    let http = format!("127.0.0.1:{}", free_port());
    let rift = RiftProcess::spawn_with(&http, &[], &["--redis-url", &redis_url]).await;

    let mut page = Page::open(&format!("http://{http}/")).await;
    page.wait_for("the page to go live", LIVE).await;

    // A command typed in the page's box, as a person would.
    let reply = send_command(
        &mut page,
        r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#,
    )
    .await;
    assert_eq!(reply["kind"], "result", "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .is_some_and(|text| text.contains("Analyzed 3 items (version 1)")),
        "{reply}"
    );
    page.wait_for(
        "task 101 analysed",
        &task_shows("101", "in-progress", 1, ""),
    )
    .await;
    page.wait_for("its notification", &feed_has("101", "analysis_stored"))
        .await;
    let reply = send_command(&mut page, "generate a  NARRATIVE for task 101").await;
    assert_eq!(reply["kind"], "result", "{reply}");
    page.wait_for("task 101 narrated", &task_shows("101", "completed", 1, "1"))
        .await;

    // A refusal comes back as the server's error, code and hint included.
    let reply = send_command(&mut page, "Generate a narrative for task nope").await;
    assert_eq!(reply["code"], "FAILED_PRECONDITION", "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .is_some_and(|text| text.contains("task nope has no analysis yet")),
        "{reply}"
    );

    // A change from outside the page, over gRPC.
    let mut client = rift.client().await;
    let analysis = client
        .analyze(AnalyzeRequest {
            task_id: "101".into(),
            data: strings(&["a", "b", "c", "d"]),
            ..Default::default()
        })
        .await
        .expect("analyze over gRPC")
        .into_inner();
    assert_eq!(analysis.version, 2);
    page.wait_for("task 101 stale", &task_shows("101", "stale", 2, "1"))
        .await;
    page.wait_for(
        "the stale mark",
        "document.querySelector('#board tr[data-task=\"101\"] .stale-mark')",
    )
    .await;

    // For a person to look at: target/tmp/dashboard.png.
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    page.screenshot(&screenshot).await;

    // The server the page talks to dies; another one on the same Redis takes writes while the
    // page is cut off.
    let last_seen = page
        .evaluate("document.querySelector('#last-id').textContent")
        .await
        .expect("last id");
    rift.kill().await;
    page.wait_for(
        "the page to notice",
        "document.querySelector('#connection').dataset.state === 'reconnecting'",
    )
    .await;
    let other = TestRift::on_redis(&redis_url).await;
    let mut other_client = other.client().await;
    other_client
        .narrate(NarrateRequest {
            task_id: "101".into(),
            ..Default::default()
        })
        .await
        .expect("narrate while the page is away");
    other_client
        .analyze(AnalyzeRequest {
            task_id: "102".into(),
            data: strings(&["x"]),
            ..Default::default()
        })
        .await
        .expect("analyze while the page is away");

    // Back on the same address: the page reconnects by itself and resumes where it left off.
    let rift = RiftProcess::spawn_with(&http, &[], &["--redis-url", &redis_url]).await;
    page.wait_for("the page to go live again", LIVE).await;
    page.wait_for(
        "what happened while it was away",
        &format!(
            "({}) && ({})",
            task_shows("101", "completed", 2, "2"),
            task_shows("102", "in-progress", 1, "")
        ),
    )
    .await;
    // And what happens after.
    let progress = rift
        .client()
        .await
        .progress(ProgressRequest {
            task_id: "101".into(),
        })
        .await
        .expect("progress after the restart")
        .into_inner();
    assert_eq!(progress.analysis_version, 2);
    page.wait_for(
        "the recorded completion",
        &feed_has("101", "progress_completed"),
    )
    .await;

    // The page resumed after the last notification it had, rather than replaying everything.
    let watches: Vec<serde_json::Value> = page
        .frames_sent()
        .await
        .iter()
        .filter_map(|frame| serde_json::from_str::<serde_json::Value>(frame).ok())
        .filter_map(|frame| frame.get("watch").cloned())
        .collect();
    assert_eq!(
        watches,
        [
            serde_json::json!({"task_id": "", "after": "0"}),
            serde_json::json!({"task_id": "", "after": last_seen}),
        ]
    );

    // Every notification in the shared history, once each, in order: none missed across the
    // crash, none replayed twice.
    let feed = page
        .evaluate(
            "[...document.querySelectorAll('#feed li[data-id]')].map(li => li.dataset.id).reverse()",
        )
        .await
        .expect("feed ids");
    let feed: Vec<String> = serde_json::from_value(feed).expect("ids");
    let mut connection = redis.connection().await;
    let stream: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("shared:notifications")
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .expect("XRANGE");
    let history: Vec<String> = stream.ids.into_iter().map(|entry| entry.id).collect();
    assert_eq!(history.len(), 6, "{history:?}");
    assert_eq!(feed, history);
    let count = page
        .evaluate("document.querySelector('#feed-count').textContent")
        .await;
    assert_eq!(count, Ok("6".into()));
    assert_eq!(page.errors(), &[] as &[String]);
    page.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_passes_its_token_to_the_websocket() {
    let tokens = Tokens::from_pairs([(Role::Writer, "writer-token"), (Role::Reader, "read/er=")]);
    let mut config = Config::default();
    config.core.access = Access::from_tokens(tokens);
    let rift = TestRift::start(config).await;
    let base = format!("http://{}/", rift.http_addr);

    // A token that is a valid subprotocol name travels as `bearer.<token>`.
    let mut page = Page::open(&format!("{base}?token=writer-token")).await;
    page.wait_for("the page to go live", LIVE).await;
    let reply = send_command(
        &mut page,
        r#"Analyze data for task t1 with data: [1, 2.50, 12345678901234567890]"#,
    )
    .await;
    assert_eq!(reply["kind"], "result", "{reply}");
    page.wait_for("task t1", &task_shows("t1", "in-progress", 1, ""))
        .await;

    // One that is not (`/`, `=`) travels as ?token=; a reader may watch, not write.
    page.navigate(&format!("{base}?token=read%2Fer%3D")).await;
    page.wait_for("the page to go live", LIVE).await;
    page.wait_for(
        "the board replayed",
        &task_shows("t1", "in-progress", 1, ""),
    )
    .await;
    let reply = send_command(&mut page, "Generate a narrative for task t1").await;
    assert_eq!(reply["code"], "PERMISSION_DENIED", "{reply}");

    // None at all: the page says why it is not live.
    page.navigate(&base).await;
    let state = page
        .wait_for(
            "the refusal",
            "document.querySelector('#connection').dataset.state === 'refused' && \
             document.querySelector('#connection').textContent",
        )
        .await;
    assert!(
        state
            .as_str()
            .is_some_and(|s| s.starts_with("UNAUTHENTICATED")),
        "{state}"
    );
    assert_eq!(page.errors(), &[] as &[String]);
    page.close().await;
}

/// Whether `text` contains `part`, for assertions on a reply's text.
fn shows(reply: &serde_json::Value, part: &str) -> bool {
    reply["text"]
        .as_str()
        .is_some_and(|text| text.contains(part))
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_commands_are_answered_by_the_servers_parser() {
    let rift = TestRift::in_process().await;
    let mut page = Page::open(&format!("http://{}/", rift.http_addr)).await;
    page.wait_for("the page to go live", LIVE).await;
    let reply = send_command(&mut page, "Analyze data for task 1 with data: [bad").await;
    assert_eq!(reply["code"], "INVALID_ARGUMENT", "{reply}");
    // The server's message and hint, word for word.
    assert!(shows(&reply, "data is not valid JSON"), "{reply}");
    assert!(
        shows(
            &reply,
            r#"data is a JSON list, e.g. Analyze data for task 101 with data: ["data1", "data2", "data3"]"#
        ),
        "{reply}"
    );
    let reply = send_command(&mut page, "Check progres for task 1").await;
    assert_eq!(reply["code"], "INVALID_ARGUMENT", "{reply}");
    assert!(
        shows(
            &reply,
            "closest command: Check progress for task <task_id> (e.g. Check progress for task 101)"
        ),
        "{reply}"
    );
    // Well-formed but refused by the server: its validation, not the page's.
    let reply = send_command(&mut page, "Check progress for task bad id!").await;
    assert_eq!(reply["code"], "INVALID_ARGUMENT", "{reply}");
    assert!(
        reply["text"]
            .as_str()
            .is_some_and(|text| text.contains("task_id")),
        "{reply}"
    );
    let reply = send_command(&mut page, "help").await;
    assert_eq!(reply["kind"], "result", "{reply}");
    assert!(shows(&reply, "Delete task <task_id> (admin)"), "{reply}");
    // The commands listed under the box are the server's help.
    let forms = page
        .wait_for(
            "the server's commands under the box",
            "document.querySelectorAll('#command-forms code').length > 1 && \
             document.querySelector('#command-forms').textContent",
        )
        .await;
    for grammar in [
        "Analyze data for task <task_id> with data: <JSON list>",
        "Watch all tasks [from <notification id>]",
        "Delete task <task_id> (admin)",
    ] {
        assert!(
            forms.as_str().is_some_and(|forms| forms.contains(grammar)),
            "{grammar:?} missing from {forms}"
        );
    }

    // A watch typed in the box runs on the server, and the board goes back to following every
    // task: a write elsewhere still reaches it.
    let reply = send_command(&mut page, "Watch task 1").await;
    assert_eq!(reply["kind"], "result", "{reply}");
    assert!(shows(&reply, "watching task 1"), "{reply}");
    assert!(shows(&reply, "went back to watching all"), "{reply}");
    rift.client()
        .await
        .analyze(AnalyzeRequest {
            task_id: "w2".into(),
            data: strings(&["x"]),
            ..Default::default()
        })
        .await
        .expect("analyze over gRPC");
    page.wait_for(
        "a task the person's watch did not cover",
        &task_shows("w2", "in-progress", 1, ""),
    )
    .await;

    // What went out: the text as typed, in a typed frame; no page-made typed request.
    let sent: Vec<serde_json::Value> = page
        .frames_sent()
        .await
        .iter()
        .filter_map(|frame| serde_json::from_str(frame).ok())
        .collect();
    let texts: Vec<&str> = sent
        .iter()
        .filter_map(|frame| frame.get("text")?.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Analyze data for task 1 with data: [bad",
            "Check progres for task 1",
            "Check progress for task bad id!",
            "help",
            "Watch task 1",
        ]
    );
    assert!(
        sent.iter()
            .all(|frame| ["text", "watch", "help", "list_tasks"]
                .iter()
                .any(|key| frame.get(key).is_some())),
        "{sent:?}"
    );
    assert_eq!(page.errors(), &[] as &[String]);
    page.close().await;
}

/// The bars of the items' histogram on the task page, as `[[count, height], ...]`.
const HISTOGRAM_BARS: &str = "[...document.querySelectorAll('#task-charts \
     figure[data-kind=\"histogram\"][data-field=\"\"] rect.bar')].map((bar) => \
     [Number(bar.dataset.count), Number(bar.getAttribute('height'))])";

/// The ids of the board's visible rows, in order.
const VISIBLE_ROWS: &str = "[...document.querySelectorAll('#board tbody tr')].filter((row) => !row.hidden).map((row) => row.dataset.task).join(',')";

#[tokio::test(flavor = "multi_thread")]
async fn the_board_is_listed_filtered_and_a_task_page_shows_its_report() {
    let (_redis, rift) = TestRift::with_redis().await;
    let mut client = rift.client().await;
    let numbers = [1.0, 2.0, 3.0, 4.0, 10.0]
        .into_iter()
        .map(|x| prost_types::Value {
            kind: Some(prost_types::value::Kind::NumberValue(x)),
        })
        .collect();
    // Written before the page opens: the board must come from ListTasks, not a replay.
    for (task, data) in [
        ("h", numbers),
        ("s", strings(&["x", "y", "x"])),
        ("c", strings(&["<script>alert(1)</script>"])),
    ] {
        client
            .analyze(AnalyzeRequest {
                task_id: task.into(),
                data,
                ..Default::default()
            })
            .await
            .expect("analyze");
    }
    for task in ["h", "c"] {
        client
            .narrate(NarrateRequest {
                task_id: task.into(),
                ..Default::default()
            })
            .await
            .expect("narrate");
    }
    let report = client
        .report(ReportRequest {
            task_id: "h".into(),
        })
        .await
        .expect("report")
        .into_inner();
    let histogram = report
        .profile
        .and_then(|p| p.values)
        .and_then(|v| v.numbers);
    let expected: Vec<u64> = histogram
        .and_then(|n| n.histogram)
        .map(|h| h.counts)
        .expect("a histogram");
    assert_eq!(expected, [3, 1, 0, 1]);

    let mut page = Page::open(&format!("http://{}/", rift.http_addr)).await;
    page.wait_for("the page to go live", LIVE).await;
    page.wait_for("the listed board", &task_shows("h", "completed", 1, "1"))
        .await;
    page.wait_for("task s", &task_shows("s", "in-progress", 1, ""))
        .await;
    let counts = page
        .evaluate(
            "['all', 'completed', 'in-progress', 'stale'].map((s) => document.querySelector(`#count-${s}`).textContent).join(',')",
        )
        .await;
    assert_eq!(counts, Ok("3,2,1,0".into()));
    assert_eq!(
        page.evaluate("document.querySelector('#feed-count').textContent")
            .await,
        Ok("0".into()),
        "nothing replayed: the board is the listing"
    );

    // Filters: by status, then by id.
    page.evaluate(
        "(() => { const f = document.querySelector('#status-filter'); f.value = 'completed'; \
         f.dispatchEvent(new Event('change')); return true; })()",
    )
    .await
    .expect("filter");
    page.wait_for("completed tasks only", &format!("{VISIBLE_ROWS} === 'c,h'"))
        .await;
    page.evaluate(
        "(() => { const f = document.querySelector('#status-filter'); f.value = ''; \
         f.dispatchEvent(new Event('change')); return true; })()",
    )
    .await
    .expect("filter");
    page.type_into("#task-search", "s").await;
    page.wait_for("the search", &format!("{VISIBLE_ROWS} === 's'"))
        .await;

    // A live write reaches the listed board.
    client
        .narrate(NarrateRequest {
            task_id: "s".into(),
            ..Default::default()
        })
        .await
        .expect("narrate");
    page.wait_for("task s narrated", &task_shows("s", "completed", 1, "1"))
        .await;

    // The task's page: its chart matches the data, bar for bar.
    page.evaluate("(() => { location.hash = '#task=h'; return true; })()")
        .await
        .expect("open the task page");
    let bars = page
        .wait_for(
            "the histogram",
            &format!("(() => {{ const b = {HISTOGRAM_BARS}; return b.length === 4 && b; }})()"),
        )
        .await;
    let bars: Vec<(u64, f64)> = serde_json::from_value(bars).expect("bars");
    let counts: Vec<u64> = bars.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, expected, "the chart's bars are the profile's bins");
    let tallest = bars.iter().map(|(_, height)| *height).fold(0.0, f64::max);
    for (count, height) in &bars {
        let proportional = tallest * *count as f64 / 3.0;
        assert!((height - proportional).abs() < 0.01, "{bars:?}");
    }
    page.wait_for(
        "the narrative and the task's history",
        "document.querySelector('#task-narrative')?.textContent === \
         'The analysis for task h concluded: Analyzed 5 items.' && \
         document.querySelectorAll('#task-history li').length === 3 && \
         document.querySelector('#task-history li[data-action=\"report_stored\"]')",
    )
    .await;
    let screenshot =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-task-page.png");
    page.screenshot(&screenshot).await;

    // Another task's page: the hostile string is text, never markup.
    page.evaluate("(() => { location.hash = '#task=c'; return true; })()")
        .await
        .expect("open the task page");
    page.wait_for(
        "task c's page",
        "document.querySelector('#task-status')?.textContent === 'completed'",
    )
    .await;
    assert_eq!(
        page.evaluate("document.querySelectorAll('script').length")
            .await,
        Ok(1.into()),
        "only the page's own script"
    );
    assert_eq!(page.errors(), &[] as &[String]);
    page.close().await;
}
