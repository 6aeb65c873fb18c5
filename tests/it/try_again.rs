//! Redis answers that mean "try again" reach callers as `UNAVAILABLE` with `RetryInfo`, never
//! `INTERNAL`; Redis refusing Rift itself (credentials) is `UNAVAILABLE` without a retry
//! hint: retrying does not help.
//!
//! Each answer is produced for real, by the redis-server the test starts: a replica
//! (`READONLY`), a replica whose master is gone (`MASTERDOWN`), a master short of replicas
//! (`NOREPLICAS`), a server loading its dataset (`LOADING`), a password Rift lacks (`NOAUTH`).

use std::time::Duration;

use crate::support::{
    grpc::patient_analyze,
    redis::{RedisServer, wait_for_replicas},
    rift::TestRift,
};
use rift::pb::rift_client::RiftClient;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

async fn analyze_fails(client: &mut RiftClient<Channel>, task_id: &str) -> Status {
    client
        .analyze(patient_analyze(task_id, &format!("{task_id}-1")))
        .await
        .expect_err("Redis cannot take this write")
}

/// `UNAVAILABLE`, with a `RetryInfo` delay.
fn assert_try_again(status: &Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let retry = status
        .get_error_details()
        .retry_info()
        .cloned()
        .unwrap_or_else(|| panic!("no RetryInfo in {status:?}"));
    assert!(retry.retry_delay.is_some(), "{status:?}");
}

/// Keys Redis holds besides the test's own markers: what a refused write would have left.
async fn written_keys(redis: &RedisServer) -> Vec<String> {
    let mut connection = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    keys.into_iter()
        .filter(|key| !key.starts_with("rift-test:"))
        .collect()
}

#[tokio::test]
async fn a_write_to_a_replica_is_readonly_try_again() {
    let master = RedisServer::start_master(&[]);
    let replica = RedisServer::start_replica_of(&master, &[]);
    wait_for_replicas(&master, 1).await;
    let rift = TestRift::on_redis(&replica.url()).await;
    let mut client = rift.client().await;
    let status = analyze_fails(&mut client, "to-replica").await;
    assert_try_again(&status);
    assert_eq!(written_keys(&master).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_replica_without_its_master_is_masterdown_try_again() {
    let mut master = RedisServer::start_master(&[]);
    let replica = RedisServer::start_replica_of(&master, &["--replica-serve-stale-data", "no"]);
    wait_for_replicas(&master, 1).await;
    master.stop();
    let rift = TestRift::on_redis(&replica.url()).await;
    let mut client = rift.client().await;
    let status = analyze_fails(&mut client, "no-master").await;
    assert_try_again(&status);
    // Rift answered; now show that the replica itself said MASTERDOWN, not that it was slow.
    let mut connection = replica.connection().await;
    let direct: redis::RedisResult<String> = redis::cmd("GET")
        .arg("x")
        .query_async(&mut connection)
        .await;
    let error = direct.expect_err("the replica refuses to serve");
    assert_eq!(error.code(), Some("MASTERDOWN"), "{error:?}");
}

#[tokio::test]
async fn a_master_short_of_replicas_is_noreplicas_try_again() {
    let master = RedisServer::start_master(&["--min-replicas-to-write", "1"]);
    let rift = TestRift::on_redis(&master.url()).await;
    let mut client = rift.client().await;
    let status = analyze_fails(&mut client, "no-replica").await;
    assert_try_again(&status);
    assert_eq!(written_keys(&master).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_server_loading_its_dataset_is_loading_try_again() {
    let mut redis = RedisServer::start();
    let mut connection = redis.connection().await;
    let mut fill = redis::pipe();
    for key in 0..4_000 {
        fill.set(format!("rift-test:fill:{key}"), key).ignore();
    }
    let _: () = fill.query_async(&mut connection).await.expect("fill");
    let _: () = redis::cmd("SAVE")
        .query_async(&mut connection)
        .await
        .expect("SAVE");
    drop(connection);
    // 4,000 keys at 5 ms each: loading lasts 20 s, far longer than this test needs it to.
    redis.restart_loading_slowly(Duration::from_millis(5));
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    let status = analyze_fails(&mut client, "loading").await;
    assert_try_again(&status);
    let mut connection = redis.connection().await;
    let direct: redis::RedisResult<String> = redis::cmd("GET")
        .arg("rift-test:fill:1")
        .query_async(&mut connection)
        .await;
    let error = direct.expect_err("still loading");
    assert_eq!(error.code(), Some("LOADING"), "{error:?}");
}

#[tokio::test]
async fn a_password_rift_lacks_is_not_try_again() {
    let redis = RedisServer::start_with_args(&["--requirepass", "rift-test-secret"]);
    let rift = TestRift::on_redis(&redis.url()).await;
    let mut client = rift.client().await;
    let status = analyze_fails(&mut client, "no-auth").await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.get_error_details().retry_info().is_none(),
        "{status:?}"
    );
}
