//! `--durability replicated`: an acknowledged write is on a replica; one that cannot be
//! confirmed is `UNAVAILABLE`, and retrying it with the same request id is safe.
//!
//! A master and a replica started by the test (TCP between them, as replication needs).
//!
//! Run with `--nocapture` to see the figures.

#![allow(clippy::print_stderr)]

use std::{collections::BTreeMap, time::Duration};

use crate::support::{
    grpc::patient_analyze,
    redis::{RedisServer, wait_for_replicas},
    rift::TestRift,
};
use redis::AsyncCommands;
use rift::{
    domain::memory::{Durability, RedisConfig},
    pb::{self, rift_client::RiftClient},
    server::{Config, MemoryConfig},
};
use tonic::{Code, transport::Channel};

const WRITERS: usize = 8;
const WRITES: usize = 25;
/// Rift's `--redis-timeout-ms` where the test is not about it: room for a loaded machine.
const PATIENT: Duration = Duration::from_secs(5);
/// Rift's `--redis-timeout-ms` where writes are meant to time out.
const SHORT: Duration = Duration::from_millis(800);

async fn rift_on(master: &RedisServer, durability: Durability, timeout: Duration) -> TestRift {
    TestRift::start(Config {
        memory: MemoryConfig::Redis(RedisConfig {
            op_timeout: timeout,
            durability,
            ..RedisConfig::new(master.url())
        }),
        ..Config::default()
    })
    .await
}

/// `WRITES` analyses of `task`, one request id each; the ids acknowledged.
async fn writer(mut client: RiftClient<Channel>, task: String) -> Vec<String> {
    let mut acknowledged = Vec::new();
    for n in 1..=WRITES {
        let request_id = format!("{task}-{n}");
        client
            .analyze(patient_analyze(&task, &request_id))
            .await
            .unwrap_or_else(|status| panic!("{request_id}: {status:?}"));
        acknowledged.push(request_id);
    }
    acknowledged
}

/// Analyzes with `request_id` until a replica confirms it, retrying on `UNAVAILABLE` as a
/// client should: the same request id, so a retry never writes twice.
async fn until_confirmed(
    client: &mut RiftClient<Channel>,
    task: &str,
    request_id: &str,
) -> pb::AnalyzeResponse {
    let mut last = None;
    for _ in 0..10 {
        match client.analyze(patient_analyze(task, request_id)).await {
            Ok(response) => return response.into_inner(),
            Err(status) if status.code() == Code::Unavailable => last = Some(status),
            Err(status) => panic!("{request_id}: {status:?}"),
        }
    }
    panic!("{request_id} never confirmed: {last:?}");
}

/// How many times Redis ran `command` (`INFO commandstats`).
async fn calls(redis: &RedisServer, command: &str) -> usize {
    redis
        .commandstats()
        .await
        .get(command)
        .map_or(0, |&(calls, _)| calls as usize)
}

#[tokio::test]
async fn every_acknowledged_write_is_on_the_replica_when_the_master_dies() {
    let mut master = RedisServer::start_master(&[]);
    let replica = RedisServer::start_replica_of(&master, &[]);
    wait_for_replicas(&master, 1).await;
    let rift = rift_on(&master, Durability::Replicated, PATIENT).await;
    let client = rift.client().await;

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(client.clone(), format!("dur-{w}"))))
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    let scripts = calls(&master, "evalsha").await;
    let waits = calls(&master, "wait").await;
    // The master dies at once: whatever is on the replica now is all a failover would keep.
    master.stop();

    let mut connection = replica.connection().await;
    for request_id in &acknowledged {
        let present: bool = connection
            .exists(format!("rift:request:{request_id}"))
            .await
            .expect("EXISTS on the replica");
        assert!(present, "acknowledged {request_id} is not on the replica");
    }
    for w in 0..WRITERS {
        let version: Option<u64> = connection
            .hget(
                format!("shared:task_context:dur-{w}"),
                "rift_analysis_version",
            )
            .await
            .expect("HGET on the replica");
        assert_eq!(version, Some(WRITES as u64), "dur-{w}");
    }
    let stream: usize = connection
        .xlen("shared:notifications")
        .await
        .expect("XLEN on the replica");
    assert_eq!(stream, acknowledged.len(), "one notification per write");
    eprintln!(
        "{} acknowledged writes, all on the replica; {scripts} scripts confirmed by {waits} WAITs",
        acknowledged.len()
    );
    // Confirmations are shared by the writes in flight together: fewer WAITs than writes.
    assert!(waits < scripts, "{waits} WAITs for {scripts} scripts");
}

#[tokio::test]
async fn with_the_replica_stopped_writes_are_unavailable_and_a_retry_is_safe() {
    let master = RedisServer::start_master(&[]);
    let replica = RedisServer::start_replica_of(&master, &[]);
    wait_for_replicas(&master, 1).await;
    let rift = rift_on(&master, Durability::Replicated, SHORT).await;
    let mut client = rift.client().await;
    until_confirmed(&mut client, "r", "r-1").await;

    replica.pause();
    let mut unconfirmed = Vec::new();
    for n in 2..=4 {
        let request_id = format!("r-{n}");
        let status = client
            .analyze(patient_analyze("r", &request_id))
            .await
            .expect_err("no replica can confirm it");
        // Rift's own answer, well before the client's deadline.
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        unconfirmed.push(request_id);
    }
    replica.resume();

    // The same request ids again: each written once, whether or not the first try had
    // reached the master; now confirmed.
    let mut versions = BTreeMap::new();
    for request_id in &unconfirmed {
        let response = until_confirmed(&mut client, "r", request_id).await;
        versions.insert(request_id.clone(), response.version);
    }
    assert_eq!(
        versions.values().copied().collect::<Vec<_>>(),
        [2, 3, 4],
        "{versions:?}"
    );
    let mut connection = replica.connection().await;
    let version: Option<u64> = connection
        .hget("shared:task_context:r", "rift_analysis_version")
        .await
        .expect("HGET on the replica");
    assert_eq!(
        version,
        Some(4),
        "no write applied twice, all on the replica"
    );
}

/// The default, for contrast: the write the test above cannot get confirmed is acknowledged
/// here with the replica stopped, though it exists on the master alone.
#[tokio::test]
async fn memory_durability_acknowledges_without_a_replica() {
    let master = RedisServer::start_master(&[]);
    let replica = RedisServer::start_replica_of(&master, &[]);
    wait_for_replicas(&master, 1).await;
    let rift = rift_on(&master, Durability::Memory, PATIENT).await;
    let mut client = rift.client().await;
    replica.pause();
    let acknowledged = client.analyze(patient_analyze("m", "m-1")).await;
    replica.resume();
    acknowledged.expect("acknowledged without any replica");
}
