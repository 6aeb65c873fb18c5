//! WebSocket load: C connections, each sending the prototype's natural-language commands one at
//! a time and waiting for the reply before the next, to Rift or to the prototype itself
//! (`--server prototype`), so both are measured by the same tool.

use serde_json::json;

use crate::{
    driver::{self, Caller as _, Kind, LoadArgs},
    report::Report,
    target::Target,
    ws::{self, Server},
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WsArgs {
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    /// The server at --ws-url: Rift, or the Python prototype (numeric task ids, its exact
    /// replies checked).
    #[arg(long, value_enum, default_value_t = Server::Rift)]
    pub(crate) server: Server,
}

pub(crate) async fn run(target: &Target, args: &WsArgs) -> anyhow::Result<Report> {
    let WsArgs { load, server } = args;
    let tag = server.run_tag();
    let mut callers = Vec::with_capacity(load.concurrency);
    for i in 0..load.concurrency.max(1) {
        let task_id = server.task_id(&tag, i);
        let mut caller = ws::WsCaller::connect(target, *server, &task_id, load.items).await?;
        // An analysis first, so Narrate has something to narrate.
        caller
            .call(Kind::Analyze)
            .await
            .map_err(|e| anyhow::anyhow!("preparing connection {i}: {} {}", e.code, e.message))?;
        callers.push(caller);
    }
    let timing = load.timing();
    let operations = driver::drive(callers, load.op, timing).await?;
    Ok(Report {
        scenario: "ws",
        params: json!({
            "server": server,
            "op": load.op,
            "concurrency": load.concurrency,
            "items": load.items,
            "timing": timing,
        }),
        failures: driver::error_failures(&operations),
        operations,
        ..Report::default()
    })
}
