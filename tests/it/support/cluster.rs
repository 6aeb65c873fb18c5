//! A Redis Cluster of the test's own: six `redis-server --cluster-enabled yes` on free ports of
//! 127.0.0.1 (each port `P` chosen with `P + 10000`, its cluster bus port, free too), joined by
//! `redis-cli --cluster create --cluster-replicas 1`: three masters, three replicas.
//!
//! Started once per test function (nextest runs each in a process of its own), which then runs
//! several scenarios on it. Readiness is polled (`cluster_state:ok` on every node, every
//! master's replica linked), never guessed with a sleep; nodes are killed by pid.

use std::{
    collections::BTreeMap,
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use redis::{AsyncConnectionConfig, Client, aio::MultiplexedConnection};
use tempfile::TempDir;

use super::redis::{find_binary, wait_for_log_line};

/// Generous for joins, failovers and reshards on a loaded two-core machine.
pub(crate) const SETTLE: Duration = Duration::from_secs(90);
/// How long a master may not answer before the others fail it over.
pub(crate) const NODE_TIMEOUT_MS: u64 = 2000;

/// One cluster node, killed on drop.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Node {
    fn start(port: u16) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rift-cluster-")
            .tempdir()
            .expect("create a temporary directory for a cluster node");
        let mut node = Self {
            port,
            child: None,
            dir,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let stderr_path = self.dir.path().join("stderr.log");
        let mut child = Command::new(find_binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file"])
            .arg(self.dir.path().join("nodes.conf"))
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--logfile", "", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_path).expect("create a node's stderr file"))
            .spawn()
            .expect("run redis-server --cluster-enabled yes");
        if let Err((failure, seen)) = wait_for_log_line(&mut child, "ready to accept connections") {
            let _ = child.kill();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!("cluster node {failure}\n--- stdout ---\n{seen}--- stderr ---\n{stderr}");
        }
        self.child = Some(child);
    }

    /// Kills the node (SIGKILL) and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed node again with its cluster config, empty (no persistence): it
    /// rejoins as a replica of whoever took its slots.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://{}", self.address())
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three masters and three replicas.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Node>,
}

impl Cluster {
    /// Starts six nodes, creates the cluster, and returns once every node says
    /// `cluster_state:ok` and every master has its replica linked.
    pub(crate) async fn start() -> Self {
        let ports = free_port_pairs(6);
        let nodes: Vec<Node> = ports.into_iter().map(Node::start).collect();
        let addresses: Vec<String> = nodes.iter().map(Node::address).collect();
        let output = Command::new(redis_cli())
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes };
        cluster
            .until("every node ok, every master with a linked replica", || {
                cluster.settled()
            })
            .await;
        cluster
    }

    /// `--redis-url` for Rift: every node, comma-separated.
    pub(crate) fn url(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether every running node says `cluster_state:ok`, every slot is served, and every
    /// master has a replica whose link is up.
    pub(crate) async fn settled(&self) -> bool {
        if !self.serving().await {
            return false;
        }
        let Some(masters) = self.masters().await else {
            return false;
        };
        if masters.len() != 3 {
            return false;
        }
        for port in masters {
            let Ok(mut connection) = connect(port).await else {
                return false;
            };
            let info: redis::RedisResult<String> = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut connection)
                .await;
            match info {
                Ok(info)
                    if info.contains("connected_slaves:1") && info.contains("state=online") => {}
                _ => return false,
            }
        }
        true
    }

    /// The masters' ports, by the first slot they own (from `CLUSTER SLOTS` of a running
    /// node); `None` if no node answers.
    pub(crate) async fn masters(&self) -> Option<Vec<u16>> {
        let map = self.slot_map().await?;
        let mut masters: Vec<u16> = Vec::new();
        for (_, (_, port)) in map {
            if !masters.contains(&port) {
                masters.push(port);
            }
        }
        Some(masters)
    }

    /// `first slot -> (last slot, master port)`.
    pub(crate) async fn slot_map(&self) -> Option<BTreeMap<u16, (u16, u16)>> {
        for node in self.nodes.iter().filter(|node| node.is_running()) {
            let Ok(mut connection) = connect(node.port).await else {
                continue;
            };
            let slots: redis::RedisResult<Vec<redis::Value>> = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async(&mut connection)
                .await;
            let Ok(slots) = slots else { continue };
            let mut map = BTreeMap::new();
            for range in slots {
                let redis::Value::Array(fields) = range else {
                    continue;
                };
                let (Some(redis::Value::Int(first)), Some(redis::Value::Int(last))) =
                    (fields.first(), fields.get(1))
                else {
                    continue;
                };
                let Some(redis::Value::Array(master)) = fields.get(2) else {
                    continue;
                };
                let Some(redis::Value::Int(port)) = master.get(1) else {
                    continue;
                };
                map.insert(*first as u16, (*last as u16, *port as u16));
            }
            return Some(map);
        }
        None
    }

    /// A connection to the node on `port`.
    pub(crate) async fn connection(&self, port: u16) -> MultiplexedConnection {
        connect(port).await.expect("connect to a cluster node")
    }

    /// The node on `port`.
    pub(crate) fn node_mut(&mut self, port: u16) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of the cluster")
    }

    /// Whether every running node says `cluster_state:ok` with every slot served (replicas
    /// or not).
    pub(crate) async fn serving(&self) -> bool {
        for node in self.nodes.iter().filter(|node| node.is_running()) {
            let Ok(mut connection) = connect(node.port).await else {
                return false;
            };
            let info: redis::RedisResult<String> = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut connection)
                .await;
            match info {
                Ok(info)
                    if info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384") => {}
                _ => return false,
            }
        }
        true
    }

    /// Polls `done` every 50 ms until it holds; panics after [`SETTLE`].
    pub(crate) async fn until<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + SETTLE;
        while !done().await {
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle ({what}) within {SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the master on `port` (SIGKILL) and waits until another node serves its slots and
    /// every running node says the cluster is ok.
    pub(crate) async fn kill_master_and_fail_over(&mut self, port: u16) {
        self.node_mut(port).kill();
        self.until("the killed master's slots served by another", || async {
            let map = self.slot_map().await;
            map.is_some_and(|map| map.values().all(|(_, owner)| *owner != port))
                && self.serving().await
        })
        .await;
    }

    /// The port of the master holding a key that matches `pattern`.
    pub(crate) async fn master_holding(&self, pattern: &str) -> u16 {
        self.keys_per_master(pattern)
            .await
            .into_iter()
            .find(|(_, keys)| !keys.is_empty())
            .map(|(port, _)| port)
            .unwrap_or_else(|| panic!("no master holds a key matching {pattern}"))
    }

    /// Keys matching `pattern` on each master, by master port.
    pub(crate) async fn keys_per_master(&self, pattern: &str) -> BTreeMap<u16, Vec<String>> {
        let mut found = BTreeMap::new();
        for port in self.masters().await.expect("a slot map") {
            let mut connection = self.connection(port).await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut connection)
                .await
                .expect("KEYS");
            found.insert(port, keys);
        }
        found
    }
}

/// `count` ports of 127.0.0.1, each free with its cluster bus port (`+ 10000`) free too.
fn free_port_pairs(count: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut held = Vec::new();
    while ports.len() < count {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let Some(bus) = port.checked_add(10000) else {
            continue;
        };
        if ports.contains(&port) || ports.contains(&bus) {
            continue;
        }
        if let Ok(bus_listener) = std::net::TcpListener::bind(("127.0.0.1", bus)) {
            ports.push(port);
            // Held until all are chosen, so no two pairs overlap.
            held.push((listener, bus_listener));
        }
    }
    ports
}

/// `redis-cli` beside the `redis-server` the tests use, else on `PATH`.
pub(crate) fn redis_cli() -> PathBuf {
    let server = find_binary();
    let beside = server.with_file_name("redis-cli");
    if beside.is_file() {
        return beside;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-cli"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-cli not found beside {} or on PATH. The cluster tests create a real \
                 Redis Cluster with it: install it with `apt-get install -y redis-tools` (or \
                 redis-server, which brings it), or run `bash scripts/test.sh`.",
                server.display()
            )
        })
}

async fn connect(port: u16) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    Client::open(format!("redis://127.0.0.1:{port}"))?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}
