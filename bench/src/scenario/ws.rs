//! WebSocket load: C connections, each sending the prototype's natural-language commands one at
//! a time and waiting for the reply before the next.

use std::time::Duration;

use serde_json::json;

use crate::{
    driver::{self, Caller as _, Kind, Op, Timing, parse_duration},
    report::Report,
    target::{Target, run_tag},
    ws,
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WsArgs {
    /// Command each connection sends.
    #[arg(long, value_enum, default_value_t = Op::Analyze)]
    pub(crate) op: Op,
    /// Concurrent connections, each with one command in flight.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// Measured time.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Unmeasured time before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Items per Analyze.
    #[arg(long, default_value_t = 3)]
    pub(crate) items: usize,
}

pub(crate) async fn run(target: &Target, args: &WsArgs) -> anyhow::Result<Report> {
    let tag = run_tag();
    let mut callers = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency.max(1) {
        let mut caller = ws::WsCaller::connect(target, &format!("{tag}-{i}"), args.items).await?;
        // An analysis first, so Narrate has something to narrate.
        caller
            .call(Kind::Analyze)
            .await
            .map_err(|e| anyhow::anyhow!("preparing connection {i}: {} {}", e.code, e.message))?;
        callers.push(caller);
    }
    let timing = Timing {
        duration: args.duration,
        warmup: args.warmup,
    };
    let operations = driver::drive(callers, args.op, timing).await?;
    Ok(Report {
        scenario: "ws",
        params: json!({
            "op": args.op,
            "concurrency": args.concurrency,
            "items": args.items,
            "timing": timing,
        }),
        failures: driver::error_failures(&operations),
        operations,
        ..Report::default()
    })
}
