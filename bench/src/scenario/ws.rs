//! WebSocket load: C connections, each sending the prototype's natural-language commands one at
//! a time and waiting for the reply before the next.

use serde_json::json;

use crate::{
    driver::{self, Caller as _, Kind, LoadArgs},
    report::Report,
    target::{Target, run_tag},
    ws,
};

pub(crate) async fn run(target: &Target, args: &LoadArgs) -> anyhow::Result<Report> {
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
    let timing = args.timing();
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
