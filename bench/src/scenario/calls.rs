//! Redis calls per agent write: `INFO commandstats` before and after a known number of writes
//! of each kind over gRPC; every delta is reported, so nothing hides.

use anyhow::Context as _;
use serde_json::json;

use crate::{
    driver::{Caller as _, Kind},
    grpc, redis_info,
    report::Report,
    target::{Target, run_tag},
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CallsArgs {
    /// Writes of each kind (Analyze, Narrate, Progress), one after another.
    #[arg(long, default_value_t = 1000)]
    pub(crate) count: u64,
    /// Items per Analyze.
    #[arg(long, default_value_t = 3)]
    pub(crate) items: usize,
}

pub(crate) async fn run(target: &Target, args: &CallsArgs) -> anyhow::Result<Report> {
    let url = target
        .redis_url
        .as_deref()
        .context("the calls scenario reads INFO commandstats: give --redis-url")?;
    let mut redis = redis_info::connect(url).await?;
    let tag = run_tag();
    let mut callers = grpc::callers(target, 1, 1, args.items, &tag).await?;
    let mut caller = callers.pop().context("one caller")?;
    let mut report = Report {
        scenario: "calls",
        params: json!({ "count": args.count, "items": args.items }),
        ..Report::default()
    };
    // One call of each kind first: the first call of a script on a fresh Redis is answered
    // NOSCRIPT and sent again after SCRIPT LOAD, which is not the steady state measured here.
    for kind in Kind::ALL {
        call(&mut caller, kind).await?;
    }
    for kind in Kind::ALL {
        let before = redis_info::command_calls(&mut redis).await?;
        for _ in 0..args.count {
            call(&mut caller, kind).await?;
        }
        let after = redis_info::command_calls(&mut redis).await?;
        let delta = redis_info::deltas(&before, &after);
        let evalsha = delta.get("evalsha").copied().unwrap_or(0);
        if evalsha != args.count {
            report.failures.push(format!(
                "{} x{}: {evalsha} EVALSHA calls, expected exactly {}",
                kind.name(),
                args.count,
                args.count
            ));
        }
        report.figure(
            &format!("{}_evalsha_per_call", kind.name()),
            evalsha as f64 / args.count.max(1) as f64,
        );
        report.figure(&format!("{}_commandstats_delta", kind.name()), &delta);
    }
    Ok(report)
}

async fn call(caller: &mut grpc::GrpcCaller, kind: Kind) -> anyhow::Result<()> {
    caller.call(kind).await.map_err(|error| {
        anyhow::anyhow!("{} failed: {} {}", kind.name(), error.code, error.message)
    })
}
