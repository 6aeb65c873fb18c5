//! The `rift-bench` command line, where no server is needed: every scenario is offered, and a
//! scenario missing what it needs fails naming the flag before it connects to anything. The
//! scenarios themselves run against a real Rift in rift's `tests/bench_smoke.rs`.

use std::process::{Command, Output};

fn rift_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rift-bench"))
        .args(args)
        .output()
        .expect("run rift-bench")
}

#[test]
fn help_lists_every_scenario() {
    let output = rift_bench(&["--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for scenario in ["grpc", "ws", "subscribe", "idle", "calls"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(&format!("{scenario} "))),
            "no {scenario} in:\n{help}"
        );
    }
}

#[test]
fn a_scenario_missing_what_it_needs_fails_naming_it() {
    for (args, flag) in [
        (&["calls", "--count", "1"][..], "--redis-url"),
        (&["idle", "-n", "1"][..], "--server-pid"),
    ] {
        let output = rift_bench(args);
        assert!(!output.status.success(), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(flag),
            "{args:?} did not name {flag}: {stderr}"
        );
    }
}

#[test]
fn durations_are_checked_when_parsed() {
    let output = rift_bench(&["grpc", "--duration", "soon"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a duration"), "{stderr}");
}
