//! Rift's Analyze script run straight against Redis by `redis-benchmark`, as Rift calls it, for
//! the ratio of what Rift serves to what Redis alone does.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use redis::ConnectionAddr;
use serde::Serialize;
use serde_json::Value;

use crate::{redis_info, target::sample_data};

/// What `redis-benchmark` measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RedisBenchmark {
    pub(crate) command: String,
    pub(crate) concurrency: usize,
    pub(crate) requests: u64,
    pub(crate) rps: f64,
    pub(crate) avg_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// Runs Rift's Analyze script with `redis-benchmark`, as Rift calls it
/// ([`rift::domain::memory::analyze_script_call`]): `requests` EVALSHA calls from
/// `concurrency` connections, for `items` items, task ids drawn at random (`__rand_int__`).
pub(crate) async fn run_analyze(
    url: &str,
    concurrency: usize,
    requests: u64,
    items: usize,
    max_events: usize,
    tag: &str,
) -> anyhow::Result<RedisBenchmark> {
    let mut redis = redis_info::connect(url).await?;
    let task_text = format!("{tag}-rb-__rand_int__");
    let data: Vec<Value> = sample_data(items).into_iter().map(Value::String).collect();
    let deadline = SystemTime::now() + Duration::from_secs(24 * 3600);
    let call = rift::domain::memory::analyze_script_call(&task_text, &data, max_events, deadline)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(&call.source)
        .query_async(&mut redis)
        .await
        .context("SCRIPT LOAD")?;
    let script_args: Vec<String> = ["EVALSHA".to_owned(), sha, call.keys.len().to_string()]
        .into_iter()
        .chain(call.keys)
        .chain(call.args)
        .collect();
    // One call by hand first: a script that refused these arguments would answer errors, which
    // redis-benchmark counts as fast successes.
    let mut check = redis::cmd(&script_args[0]);
    for arg in &script_args[1..] {
        check.arg(arg.replace("__rand_int__", "000000000000"));
    }
    let checked: redis::Value = check
        .query_async(&mut redis)
        .await
        .context("running the analyze script with redis-benchmark's arguments")?;
    anyhow::ensure!(
        matches!(&checked, redis::Value::Array(reply) if reply.len() == 4),
        "the analyze script answered {checked:?} to redis-benchmark's arguments"
    );
    let client = redis::Client::open(url)?;
    let address: Vec<String> = match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(host, port) => {
            vec!["-h".into(), host.clone(), "-p".into(), port.to_string()]
        }
        ConnectionAddr::Unix(path) => vec!["-s".into(), path.display().to_string()],
        other => anyhow::bail!("redis-benchmark cannot reach {other:?}"),
    };
    let output = tokio::process::Command::new("redis-benchmark")
        .args(&address)
        .args(["-c", &concurrency.to_string()])
        .args(["-n", &requests.to_string()])
        .args(["-r", "1000", "--csv"])
        .args(&script_args)
        .output()
        .await
        .context("running redis-benchmark (apt-get install redis-tools)")?;
    anyhow::ensure!(
        output.status.success(),
        "redis-benchmark failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut parsed =
        parse_csv(&stdout).with_context(|| format!("redis-benchmark said {stdout:?}"))?;
    parsed.command = format!(
        "redis-benchmark {} -c {concurrency} -n {requests} -r 1000 --csv EVALSHA <sha of prelude.lua + analyze.lua> {} <keys of task {task_text}> <args as Rift sends them>",
        address.join(" "),
        script_args[2]
    );
    parsed.concurrency = concurrency;
    parsed.requests = requests;
    Ok(parsed)
}

/// The result line of `redis-benchmark --csv`:
/// `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`.
fn parse_csv(stdout: &str) -> Option<RedisBenchmark> {
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('"') && !line.starts_with("\"test\""))?;
    let fields: Vec<f64> = line
        .rsplitn(8, ',')
        .take(7)
        .map(|field| field.trim_matches('"').parse().ok())
        .collect::<Option<Vec<f64>>>()?;
    // rsplitn yields from the right: max, p99, p95, p50, min, avg, rps.
    let [max, p99, _p95, p50, _min, avg, rps] = fields[..] else {
        return None;
    };
    Some(RedisBenchmark {
        command: String::new(),
        concurrency: 0,
        requests: 0,
        rps,
        avg_ms: avg,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_benchmark_csv() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"EVALSHA abc 1 k:__rand_int__ a,b \",\"47619.05\",\"0.060\",\"0.016\",\"0.047\",\"0.087\",\"0.135\",\"2.951\"\n";
        let parsed = parse_csv(out).expect("parsed");
        assert_eq!(parsed.rps, 47619.05);
        assert_eq!(parsed.p50_ms, 0.047);
        assert_eq!(parsed.p99_ms, 0.135);
        assert_eq!(parsed.max_ms, 2.951);
    }
}
