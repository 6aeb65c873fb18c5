//! Rift's Analyze script call, as Rift makes it, for shell tools that run it straight against
//! Redis (`scripts/replay-cost.sh`): prints `{"source", "keys", "args"}` as JSON for task
//! `TASK` with the items `["data1", "data2", "data3"]`, single-mode keys, a stream cap of
//! `MAXLEN` and a deadline a day away.
//!
//! `cargo run --example analyze_call -- TASK MAXLEN`
//!
//! A task id may hold redis-benchmark's `__rand_int__`, which it replaces on every call.

#![allow(clippy::print_stdout)]

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args().skip(1);
    let (Some(task), Some(maxlen)) = (argv.next(), argv.next()) else {
        anyhow::bail!("usage: analyze_call TASK MAXLEN");
    };
    let data: Vec<Value> = ["data1", "data2", "data3"].map(Value::from).to_vec();
    let deadline = SystemTime::now() + Duration::from_secs(24 * 3600);
    let call = rift::domain::memory::analyze_script_call(&task, &data, maxlen.parse()?, deadline)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let printed = json!({ "source": call.source, "keys": call.keys, "args": call.args });
    println!("{printed}");
    Ok(())
}
