//! The README's grpcurl usage, run with a real grpcurl (1.8.6 from PyPI, which speaks only
//! reflection v1alpha) against a real server.

use std::{net::SocketAddr, process::Output};

use crate::support::{json, redis::RedisServer, rift::TestRift, tools};
use tokio::process::Command;

/// `grpcurl -plaintext <flags> <addr> <rest>`: flags go before the address, the verb or
/// method after it.
async fn grpcurl(addr: SocketAddr, args: &[&str]) -> Output {
    let (flags, rest) = split_flags(args);
    Command::new(tools::grpcurl())
        .arg("-plaintext")
        .args(flags)
        .arg(addr.to_string())
        .args(rest)
        .output()
        .await
        .expect("run grpcurl")
}

/// Flags are `-name value` pairs at the front.
fn split_flags<'a>(args: &'a [&'a str]) -> (&'a [&'a str], &'a [&'a str]) {
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += 2;
    }
    args.split_at(i.min(args.len()))
}

/// Runs grpcurl and returns its stdout, failing with stderr if it failed.
async fn ok(addr: SocketAddr, args: &[&str]) -> String {
    let output = grpcurl(addr, args).await;
    assert!(
        output.status.success(),
        "grpcurl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn grpcurl_lists_describes_and_drives_the_task_flow_on_redis() {
    let redis = RedisServer::start();
    let rift = TestRift::on_redis(&redis.url()).await;
    let addr = rift.grpc_addr;

    let services = ok(addr, &["list"]).await;
    for service in ["rift.v1.Rift", "grpc.health.v1.Health"] {
        assert!(
            services.lines().any(|l| l == service),
            "{service} not in:\n{services}"
        );
    }
    let described = ok(addr, &["describe", "rift.v1.Rift"]).await;
    for rpc in [
        "rpc Analyze",
        "rpc Narrate",
        "rpc Progress",
        "rpc Subscribe",
    ] {
        assert!(described.contains(rpc), "{rpc} not in:\n{described}");
    }
    let message = ok(addr, &["describe", "rift.v1.AnalyzeRequest"]).await;
    assert!(
        message.contains("repeated .google.protobuf.Value data"),
        "{message}"
    );

    let analysis = json(
        &ok(
            addr,
            &[
                "-d",
                r#"{"task_id": "101", "data": ["data1", "data2", "data3"]}"#,
                "rift.v1.Rift/Analyze",
            ],
        )
        .await,
    );
    assert_eq!(analysis["taskId"], "101");
    assert_eq!(analysis["summary"], "Analyzed 3 items");
    assert_eq!(analysis["version"], "1");

    let narrative = json(
        &ok(
            addr,
            &["-d", r#"{"task_id": "101"}"#, "rift.v1.Rift/Narrate"],
        )
        .await,
    );
    assert_eq!(
        narrative["narrative"],
        "The analysis for task 101 concluded: Analyzed 3 items."
    );

    let progress = json(
        &ok(
            addr,
            &["-d", r#"{"task_id": "101"}"#, "rift.v1.Rift/Progress"],
        )
        .await,
    );
    assert_eq!(progress["status"], "COMPLETED");

    let health = json(&ok(addr, &["grpc.health.v1.Health/Check"]).await);
    assert_eq!(health["status"], "SERVING");

    // Replay of everything retained; grpcurl stops at -max-time, having printed the events.
    let replay = grpcurl(
        addr,
        &[
            "-max-time",
            "2",
            "-d",
            r#"{"after": "0"}"#,
            "rift.v1.Rift/Subscribe",
        ],
    )
    .await;
    let printed = String::from_utf8_lossy(&replay.stdout);
    for action in ["analysis_stored", "narrative_stored", "progress_completed"] {
        assert!(
            printed.contains(action),
            "{action} not replayed:\n{printed}"
        );
    }

    let refused = grpcurl(
        addr,
        &["-d", r#"{"task_id": "a:b"}"#, "rift.v1.Rift/Narrate"],
    )
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("InvalidArgument"), "{stderr}");
    assert!(
        stderr.contains("google.rpc.BadRequest"),
        "details decoded: {stderr}"
    );

    let missing = grpcurl(
        addr,
        &["-d", r#"{"task_id": "nope"}"#, "rift.v1.Rift/Narrate"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("FailedPrecondition"), "{stderr}");
    assert!(
        stderr.contains("ANALYSIS_MISSING"),
        "reason decoded: {stderr}"
    );
}
