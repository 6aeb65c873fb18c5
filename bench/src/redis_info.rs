//! What Redis says of itself: command counts (`INFO commandstats`) and CPU time (`INFO cpu`).

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context as _;
use redis::{AsyncConnectionConfig, aio::MultiplexedConnection};

/// A plain connection to `url`, patient enough for a busy Redis.
pub(crate) async fn connect(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    redis::Client::open(url)
        .with_context(|| format!("invalid Redis URL {url:?}"))?
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .with_context(|| format!("connecting to Redis at {url}"))
}

/// `cmdstat_<name>` → calls. Redis 7 counts the commands a script runs under their own names too
/// (`cmdstat_hset`, ...), so a script's top-level calls are `cmdstat_evalsha`.
pub(crate) async fn command_calls(
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

/// What `after` counts more than `before`, by name; names that did not move are left out.
pub(crate) fn deltas(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(name, &calls)| {
            let delta = calls.saturating_sub(before.get(name).copied().unwrap_or(0));
            (delta > 0).then(|| (name.clone(), delta))
        })
        .collect()
}

/// `used_cpu_sys + used_cpu_user` from `INFO cpu`: Redis's CPU time so far.
pub(crate) async fn cpu_seconds(url: &str) -> anyhow::Result<f64> {
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
}
