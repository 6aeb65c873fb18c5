//! Rift and the Python prototype on one Redis, as a user migrating runs them: the prototype's
//! own agents (`../shared/prototype/app`, started for real) write beside Rift, and Rift's
//! answers stay right. It keeps no version bookkeeping, so Rift derives a task's status and
//! versions from what is stored.

use rift::pb::{self, rift_client::RiftClient};
use tonic::transport::Channel;

use crate::support::{
    json, prototype::Prototype, redis::RedisServer, rift::TestRift, ws::WsClient,
};

/// A Redis on TCP (the prototype speaks only TCP), the prototype and Rift on it.
struct Fleet {
    _redis: RedisServer,
    prototype: Prototype,
    rift: TestRift,
}

impl Fleet {
    async fn start() -> Self {
        let redis = RedisServer::start_master(&[]);
        let prototype = Prototype::start(&redis);
        let rift = TestRift::on_redis(&redis.url()).await;
        Self {
            _redis: redis,
            prototype,
            rift,
        }
    }

    async fn progress(&self, task_id: &str) -> pb::ProgressResponse {
        client(&self.rift)
            .await
            .progress(pb::ProgressRequest {
                task_id: task_id.into(),
            })
            .await
            .expect("Progress")
            .into_inner()
    }

    async fn get_task(&self, task_id: &str) -> pb::GetTaskResponse {
        client(&self.rift)
            .await
            .get_task(pb::GetTaskRequest {
                task_id: task_id.into(),
                with_report: false,
            })
            .await
            .expect("GetTask")
            .into_inner()
    }
}

async fn client(rift: &TestRift) -> RiftClient<Channel> {
    rift.client().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentences_closing_punctuation_is_not_part_of_the_task_id() {
    let fleet = Fleet::start().await;
    let mut prototype = fleet.prototype.connect().await;
    let reply = prototype
        .command(r#"Analyze data for task 101 with data: ["a", "b"]"#)
        .await;
    assert_eq!(
        json(&reply),
        serde_json::json!({"task_id": "101", "summary": "Analyzed 2 items"})
    );

    let mut rift = WsClient::connect(fleet.rift.http_addr).await;
    for text in [
        "Check progress for task 101.",
        "Check progress for task 101?",
        "check progress for task 101 !",
    ] {
        let reply = json(&rift.command(text).await);
        assert_eq!(reply["task_id"], "101", "{text}: {reply}");
        assert_eq!(reply["status"], "in-progress", "{text}: {reply}");
    }
    let narrative = rift.command("Generate a narrative for task 101.").await;
    assert_eq!(
        narrative,
        "The analysis for task 101 concluded: Analyzed 2 items."
    );
    let shown = json(&rift.command("Show task 101!").await);
    assert_eq!(shown["status"], "completed", "{shown}");

    // Other text after the id is an error naming the command's form, never another task.
    let error = rift
        .command_error("Check progress for task 101 please")
        .await;
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"please\"") && message.contains("Check progress for task 101"),
        "{error}"
    );
    // Nothing was asked of a task "101." or "101 please".
    assert_eq!(
        fleet.get_task("101.").await.status(),
        pb::TaskStatus::NotStarted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrative_the_prototype_wrote_on_rifts_analysis_is_current() {
    let fleet = Fleet::start().await;
    let mut rift = client(&fleet.rift).await;
    rift.analyze(pb::AnalyzeRequest {
        task_id: "7".into(),
        data: crate::support::grpc::strings(&["x", "y", "z"]),
        ..Default::default()
    })
    .await
    .expect("Analyze");
    let mut prototype = fleet.prototype.connect().await;
    assert_eq!(
        prototype.command("Generate a narrative for task 7").await,
        "The analysis for task 7 concluded: Analyzed 3 items."
    );

    let progress = fleet.progress("7").await;
    assert_eq!(progress.status(), pb::TaskStatus::Completed, "{progress:?}");
    assert_eq!(
        (
            progress.analysis_version,
            progress.narrative_analysis_version
        ),
        (1, 1)
    );
    let task = fleet.get_task("7").await;
    let narrative = task.narrative.expect("a narrative");
    assert_eq!(narrative.analysis_version, 1);
    assert_eq!(
        narrative.text,
        "The analysis for task 7 concluded: Analyzed 3 items."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prototype_reanalysis_makes_rifts_narrative_stale() {
    let fleet = Fleet::start().await;
    let mut rift = client(&fleet.rift).await;
    rift.analyze(pb::AnalyzeRequest {
        task_id: "8".into(),
        data: crate::support::grpc::strings(&["x"]),
        ..Default::default()
    })
    .await
    .expect("Analyze");
    rift.narrate(pb::NarrateRequest {
        task_id: "8".into(),
        ..Default::default()
    })
    .await
    .expect("Narrate");
    assert_eq!(
        fleet.progress("8").await.status(),
        pb::TaskStatus::Completed
    );

    // The same item count: the summary, and so the narrative's text, would not change.
    let mut prototype = fleet.prototype.connect().await;
    prototype
        .command(r#"Analyze data for task 8 with data: ["other"]"#)
        .await;
    let progress = fleet.progress("8").await;
    assert_eq!(progress.status(), pb::TaskStatus::Stale, "{progress:?}");
    assert_eq!(
        (
            progress.analysis_version,
            progress.narrative_analysis_version
        ),
        (2, 1)
    );
    let task = fleet.get_task("8").await;
    let analysis = task.analysis.expect("an analysis");
    assert_eq!(
        (analysis.version, analysis.summary.as_str()),
        (2, "Analyzed 1 items")
    );
    assert_eq!(analysis.stats, None, "the prototype keeps no statistics");

    // Rift narrates the prototype's analysis, and its next analysis comes after it.
    let narrated = rift
        .narrate(pb::NarrateRequest {
            task_id: "8".into(),
            ..Default::default()
        })
        .await
        .expect("Narrate")
        .into_inner();
    assert_eq!(narrated.analysis_version, 2);
    assert_eq!(
        fleet.progress("8").await.status(),
        pb::TaskStatus::Completed
    );
    let analysed = rift
        .analyze(pb::AnalyzeRequest {
            task_id: "8".into(),
            data: crate::support::grpc::strings(&["y"]),
            expected_version: Some(2),
            ..Default::default()
        })
        .await
        .expect("Analyze with the derived version")
        .into_inner();
    assert_eq!(analysed.version, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_only_the_prototype_wrote_is_version_one() {
    let fleet = Fleet::start().await;
    let mut prototype = fleet.prototype.connect().await;
    prototype
        .command("Analyze data for task 9 with data: [1, 2, 3, 4]")
        .await;
    let progress = fleet.progress("9").await;
    assert_eq!(progress.status(), pb::TaskStatus::InProgress);
    assert_eq!(progress.analysis_version, 1, "0 would mean no analysis");

    prototype.command("Generate a narrative for task 9").await;
    let progress = fleet.progress("9").await;
    assert_eq!(progress.status(), pb::TaskStatus::Completed, "{progress:?}");
    assert_eq!(
        (
            progress.analysis_version,
            progress.narrative_analysis_version
        ),
        (1, 1)
    );

    // The prototype narrates an older analysis than the one it then stores: stale.
    prototype
        .command("Analyze data for task 9 with data: [1]")
        .await;
    let progress = fleet.progress("9").await;
    assert_eq!(progress.status(), pb::TaskStatus::Stale, "{progress:?}");
    assert_eq!(
        progress.narrative_analysis_version, 0,
        "built on an unknown analysis"
    );
}
