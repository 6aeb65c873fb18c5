//! Redis's side of the story: how many Redis calls each agent write makes, from
//! `INFO commandstats` before and after a known number of writes, and Rift's Analyze script run
//! straight against Redis by `redis-benchmark`.
//!
//! Redis 7 counts the commands a script runs under their own names too (`cmdstat_hset`, ...),
//! so the top-level calls are `cmdstat_evalsha`; every delta is reported so nothing hides.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use redis::{AsyncConnectionConfig, ConnectionAddr, aio::MultiplexedConnection};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Kind, Report, Target, grpc, run_tag, sample_data};
use crate::domain::{
    AnalysisStats, TaskId, analysis,
    memory::{analyze_script_source, unix_ms},
    records::{self, keys},
};

#[derive(Debug, Clone, clap::Args)]
pub struct CallsArgs {
    /// Writes of each kind (Analyze, Narrate, Progress), one after another.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Items per Analyze.
    #[arg(long, default_value_t = 3)]
    pub items: usize,
}

async fn connect(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    redis::Client::open(url)
        .with_context(|| format!("invalid Redis URL {url:?}"))?
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .with_context(|| format!("connecting to Redis at {url}"))
}

/// `cmdstat_<name>` → calls.
async fn command_calls(
    connection: &mut MultiplexedConnection,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await?;
    Ok(parse_commandstats(&info))
}

fn parse_commandstats(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

fn deltas(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(name, &calls)| {
            let delta = calls.saturating_sub(before.get(name).copied().unwrap_or(0));
            (delta > 0).then(|| (name.clone(), delta))
        })
        .collect()
}

pub(crate) async fn run(target: &Target, args: &CallsArgs) -> anyhow::Result<Report> {
    let url = target
        .redis_url
        .as_deref()
        .context("the calls scenario reads INFO commandstats: give --redis-url")?;
    let mut redis = connect(url).await?;
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
        let before = command_calls(&mut redis).await?;
        for _ in 0..args.count {
            call(&mut caller, kind).await?;
        }
        let after = command_calls(&mut redis).await?;
        let delta = deltas(&before, &after);
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

/// `used_cpu_sys + used_cpu_user` from `INFO cpu`: Redis's CPU time so far.
pub(crate) async fn redis_cpu_seconds(url: &str) -> anyhow::Result<f64> {
    let mut redis = connect(url).await?;
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut redis)
        .await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            matches!(name, "used_cpu_sys" | "used_cpu_user")
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .sum())
}

async fn call(caller: &mut grpc::GrpcCaller, kind: Kind) -> anyhow::Result<()> {
    use super::driver::Caller as _;
    caller.call(kind).await.map_err(|error| {
        anyhow::anyhow!("{} failed: {} {}", kind.name(), error.code, error.message)
    })
}

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

/// Runs Rift's Analyze script (loaded from the same text Rift loads) with `redis-benchmark`:
/// `requests` EVALSHA calls from `concurrency` connections, the arguments Rift would send for
/// `items` items, task ids drawn at random (`__rand_int__`).
pub(crate) async fn redis_benchmark_analyze(
    url: &str,
    concurrency: usize,
    requests: u64,
    items: usize,
    max_events: usize,
    tag: &str,
) -> anyhow::Result<RedisBenchmark> {
    let mut redis = connect(url).await?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(analyze_script_source())
        .query_async(&mut redis)
        .await
        .context("SCRIPT LOAD")?;
    let task_text = format!("{tag}-rb-__rand_int__");
    let task = TaskId::parse(&task_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let data: Vec<Value> = sample_data(items).into_iter().map(Value::String).collect();
    let summary = analysis::summary(data.len());
    let record = records::analysis_json(&task, &summary, &AnalysisStats::of(&data));
    let deadline = unix_ms(SystemTime::now()) + 24 * 3600 * 1000;
    let script_args = [
        "EVALSHA".to_owned(),
        sha,
        "5".into(),
        keys::analysis(&task),
        keys::context(&task),
        keys::progress(&task),
        keys::NOTIFICATIONS.into(),
        keys::updates_channel(&task),
        task_text.clone(),
        record,
        summary,
        max_events.max(1).to_string(),
        // expected_version: any.
        String::new(),
        // The guard: deadline_ms, no fingerprint, no window.
        deadline.to_string(),
        String::new(),
        String::new(),
    ];
    // One call by hand first: a script whose arguments drifted from what these are would
    // answer errors, which redis-benchmark counts as fast successes.
    let mut check = redis::cmd(&script_args[0]);
    for arg in &script_args[1..] {
        check.arg(arg.replace("__rand_int__", "000000000000"));
    }
    let checked: redis::Value = check
        .query_async(&mut redis)
        .await
        .context("running the analyze script with redis-benchmark's arguments")?;
    anyhow::ensure!(
        matches!(&checked, redis::Value::Array(reply) if reply.len() == 3),
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
        "redis-benchmark {} -c {concurrency} -n {requests} -r 1000 --csv EVALSHA <sha of prelude.lua + analyze.lua> 5 <keys of task {task_text}> <args as Rift sends them>",
        address.join(" ")
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
    fn reads_commandstats_and_deltas() {
        let before = parse_commandstats(
            "# Commandstats\r\ncmdstat_evalsha:calls=10,usec=5,usec_per_call=0.5,rejected_calls=0,failed_calls=0\r\ncmdstat_ping:calls=3,usec=1\r\n",
        );
        let after = parse_commandstats(
            "cmdstat_evalsha:calls=110,usec=5\r\ncmdstat_ping:calls=3,usec=1\r\ncmdstat_script|load:calls=1,usec=2\r\n",
        );
        assert_eq!(before["evalsha"], 10);
        let delta = deltas(&before, &after);
        assert_eq!(delta.get("evalsha"), Some(&100));
        assert_eq!(delta.get("ping"), None);
        assert_eq!(delta.get("script|load"), Some(&1));
    }

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
