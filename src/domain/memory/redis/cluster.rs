//! `--redis-mode cluster`: which master owns a slot, followed through failovers and reshards.
//!
//! Rift routes itself instead of using the `redis` crate's cluster client, because that client
//! re-sends a command after an I/O error or a redirect on its own: a write script whose reply
//! was lost ran 9 times in a probe. Here every write goes to one master, once; only a reply
//! that says the script did not run (`MOVED`: the slot has another owner) is sent again, once,
//! to the node the reply names. Everything else that means "try again" (`ASK`, `TRYAGAIN`,
//! `CLUSTERDOWN`, connection trouble) answers the caller `UNAVAILABLE` with a retry delay, and
//! the caller's retry with the same request id is safe. (`ASK` is not followed with `ASKING`:
//! every write script names several keys, and an importing node answers such a command with
//! `TRYAGAIN` unless all of them are already there: README, Operations, Cluster, "Routing".)
//!
//! A [`Router`] keeps the slot map (`CLUSTER SLOTS`, asked of the known masters, then the seed
//! nodes) and one [`Node`] per master: its request connection (a reconnecting
//! `ConnectionManager`), and with `--durability replicated` its own write link and group
//! commit, since `WAIT` confirms only what went over the same connection to the same master.
//! The map is read again every [`REFRESH_INTERVAL`] and at once after trouble
//! ([`Router::suspect`]).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo as _,
    RedisConnectionInfo, Value, aio::ConnectionManagerConfig,
};
use tokio::sync::{Notify, watch};

use super::{super::replication::ReplicatedWrites, classify};
use crate::domain::{MemoryError, memory::sentinel::Master};

/// How often the slot map is read again, besides after every trouble.
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two reads of the map, so a burst of failing calls asks once.
const REFRESH_BACKOFF: Duration = Duration::from_millis(50);

/// One master, as Rift reaches it.
#[derive(Debug)]
pub(super) struct Node {
    /// Unique per node this router ever made: a connection opened for one is dropped once
    /// another owns the slot.
    pub(super) id: u64,
    /// `host:port`.
    pub(super) address: String,
    /// Its request connection (and the client to open others).
    pub(super) master: Master,
    /// With `--durability replicated`: its write link and group commits.
    pub(super) replicated: Option<Arc<ReplicatedWrites>>,
}

/// Which master owns which slots, as last read.
#[derive(Debug, Default)]
struct Topology {
    /// `(first slot, last slot, owner)`, by first slot.
    ranges: Vec<(u16, u16, Arc<Node>)>,
}

impl Topology {
    fn owner(&self, slot: u16) -> Option<&Arc<Node>> {
        self.ranges
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, node)| node)
    }
}

/// The slot map and the masters' connections; see the module docs.
pub(super) struct Router {
    seeds: Vec<ConnectionInfo>,
    /// Credentials for every node, from the first seed URL.
    settings: RedisConnectionInfo,
    manager: ConnectionManagerConfig,
    op_timeout: Duration,
    replicated: bool,
    topology: watch::Sender<Option<Arc<Topology>>>,
    /// Every node made so far, by address: kept across reads of the map, so connections are.
    nodes: Mutex<HashMap<String, Arc<Node>>>,
    next_node: AtomicU64,
    trouble: Notify,
    /// The refreshing task, started by the first call (inside the runtime); it ends once the
    /// router is dropped.
    started: OnceLock<()>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("seeds", &self.seeds.len())
            .field("topology", &*self.topology.borrow())
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router over the cluster whose seed nodes `urls` lists (comma-separated).
    pub(super) fn open(
        urls: &str,
        manager: ConnectionManagerConfig,
        op_timeout: Duration,
        replicated: bool,
    ) -> Result<Arc<Self>, MemoryError> {
        let seeds = urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| {
                url.into_connection_info()
                    .map_err(|e| MemoryError::Unavailable(format!("invalid Redis URL: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = seeds.first() else {
            return Err(MemoryError::Unavailable(
                "--redis-mode cluster needs at least one seed node URL".into(),
            ));
        };
        // Cluster nodes have one database.
        let settings = first.redis_settings().clone().set_db(0);
        let (topology, _) = watch::channel(None);
        Ok(Arc::new(Self {
            seeds,
            settings,
            manager,
            op_timeout,
            replicated,
            topology,
            nodes: Mutex::new(HashMap::new()),
            next_node: AtomicU64::new(1),
            trouble: Notify::new(),
            started: OnceLock::new(),
        }))
    }

    /// The master owning `slot`, waiting up to the operation timeout for a slot map.
    pub(super) async fn owner(self: &Arc<Self>, slot: u16) -> Result<Arc<Node>, MemoryError> {
        let topology = self.topology().await?;
        topology.owner(slot).cloned().ok_or_else(|| {
            self.suspect();
            MemoryError::Unavailable(format!("no master owns slot {slot} (CLUSTERDOWN)"))
        })
    }

    /// The owner of `slot` as last read, without waiting; `None` while unknown.
    pub(super) fn owner_now(&self, slot: u16) -> Option<Arc<Node>> {
        self.topology
            .borrow()
            .as_ref()
            .and_then(|topology| topology.owner(slot).cloned())
    }

    /// Every master of the map, waiting for one like [`Router::owner`].
    pub(super) async fn masters(self: &Arc<Self>) -> Result<Vec<Arc<Node>>, MemoryError> {
        let topology = self.topology().await?;
        let mut masters: Vec<Arc<Node>> = Vec::new();
        for (_, _, node) in &topology.ranges {
            if !masters.iter().any(|known| known.id == node.id) {
                masters.push(node.clone());
            }
        }
        Ok(masters)
    }

    async fn topology(self: &Arc<Self>) -> Result<Arc<Topology>, MemoryError> {
        self.started.get_or_init(|| {
            tokio::spawn(refresh_loop(Arc::downgrade(self)));
        });
        let mut watching = self.topology.subscribe();
        if watching.borrow().is_none() {
            self.trouble.notify_one();
        }
        let read = tokio::time::timeout(
            self.op_timeout,
            watching.wait_for(|topology| topology.is_some()),
        )
        .await;
        match read {
            Ok(Ok(topology)) => Ok(topology.clone().expect("waited for a slot map")),
            _ => Err(MemoryError::Unavailable(format!(
                "no cluster node answered CLUSTER SLOTS within {:?}",
                self.op_timeout
            ))),
        }
    }

    /// The node at `address` (`host:port`, as a `MOVED` reply names it), made if new.
    pub(super) fn node_at(&self, address: &str) -> Result<Arc<Node>, MemoryError> {
        let mut nodes = self.nodes.lock().map_err(|_| poisoned())?;
        if let Some(node) = nodes.get(address) {
            return Ok(node.clone());
        }
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| MemoryError::Corrupt(format!("not a node address: {address:?}")))?;
        let client = ConnectionAddr::Tcp(host.to_owned(), port)
            .into_connection_info()
            .map(|info: ConnectionInfo| info.set_redis_settings(self.settings.clone()))
            .and_then(Client::open)
            .map_err(|e| MemoryError::Unavailable(format!("cannot reach {address}: {e}")))?;
        let master = Master::fixed_client(client, self.manager.clone())?;
        let node = Arc::new(Node {
            id: self.next_node.fetch_add(1, Ordering::Relaxed),
            address: address.to_owned(),
            replicated: self
                .replicated
                .then(|| Arc::new(ReplicatedWrites::new(master.clone(), self.op_timeout))),
            master,
        });
        nodes.insert(address.to_owned(), node.clone());
        Ok(node)
    }

    /// A call failed in a way a changed slot map explains: read it again now.
    pub(super) fn suspect(&self) {
        self.trouble.notify_one();
    }

    /// Reads the slot map from the first node that answers: the known masters, then the
    /// seeds.
    async fn read_map(&self) -> Option<Topology> {
        let known: Vec<String> = self
            .topology
            .borrow()
            .as_ref()
            .map(|topology| {
                topology
                    .ranges
                    .iter()
                    .map(|(_, _, node)| node.address.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut asked = Vec::new();
        for address in known {
            if asked.contains(&address) {
                continue;
            }
            if let Ok(node) = self.node_at(&address)
                && let Ok(master) = node.master.current().await
                && let Some(map) = self.ask(&master.client).await
            {
                return Some(map);
            }
            asked.push(address);
        }
        for seed in &self.seeds {
            let info = seed.clone().set_redis_settings(self.settings.clone());
            if let Ok(client) = Client::open(info)
                && let Some(map) = self.ask(&client).await
            {
                return Some(map);
            }
        }
        None
    }

    /// `CLUSTER SLOTS` of one node, on a short-lived connection bounded like every call.
    async fn ask(&self, client: &Client) -> Option<Topology> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.op_timeout))
            .set_response_timeout(Some(self.op_timeout));
        let ask = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async::<Value>(&mut connection)
                .await
        };
        let reply = match tokio::time::timeout(self.op_timeout, ask).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => {
                tracing::debug!(error = %classify(error), "a cluster node did not give its slot map");
                return None;
            }
            Err(_) => return None,
        };
        let asked_host = match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.as_str(),
            _ => "",
        };
        let mut ranges = Vec::new();
        for (first, last, address) in parse_slots(&reply, asked_host)? {
            let node = self.node_at(&address).ok()?;
            ranges.push((first, last, node));
        }
        ranges.sort_by_key(|(first, _, _)| *first);
        Some(Topology { ranges })
    }

    /// Applies a map read: logs owners that changed; forgets nodes that own nothing.
    fn apply(&self, topology: Topology) {
        let changed = {
            let current = self.topology.borrow();
            let owners = |topology: &Topology| -> Vec<(u16, u16, String)> {
                topology
                    .ranges
                    .iter()
                    .map(|(first, last, node)| (*first, *last, node.address.clone()))
                    .collect()
            };
            current
                .as_ref()
                .is_none_or(|current| owners(current) != owners(&topology))
        };
        if !changed {
            return;
        }
        let masters: Vec<&str> = topology
            .ranges
            .iter()
            .map(|(_, _, node)| node.address.as_str())
            .collect();
        tracing::info!(
            ranges = topology.ranges.len(),
            masters = ?masters,
            "following the cluster's slot map"
        );
        if let Ok(mut nodes) = self.nodes.lock() {
            nodes.retain(|address, _| masters.contains(&address.as_str()));
        }
        self.topology.send_replace(Some(Arc::new(topology)));
    }
}

fn poisoned() -> MemoryError {
    MemoryError::Unavailable("the cluster router's node table is poisoned".into())
}

/// `CLUSTER SLOTS`: `[[first, last, [host, port, id, …], replicas…], …]` as
/// `(first, last, "host:port" of the master)`. `None` if the reply is not of that form, or
/// names a master as `?` (misconfigured). A master's host given as NULL (an endpoint the node
/// does not know, behind a load balancer) or as an empty string (a node that does not know its
/// own address yet: a one-node cluster, or one not yet joined) is `asked_host`, the host the
/// reply came from, as the command's documentation asks of clients.
fn parse_slots(reply: &Value, asked_host: &str) -> Option<Vec<(u16, u16, String)>> {
    let Value::Array(ranges) = reply else {
        return None;
    };
    ranges
        .iter()
        .map(|range| {
            let Value::Array(fields) = range else {
                return None;
            };
            let first = int(fields.first()?)?;
            let last = int(fields.get(1)?)?;
            let Value::Array(master) = fields.get(2)? else {
                return None;
            };
            let host = match master.first()? {
                Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok()?,
                Value::SimpleString(text) => text.clone(),
                Value::Nil => String::new(),
                _ => return None,
            };
            let host = match host.as_str() {
                "?" => return None,
                "" => asked_host.to_owned(),
                _ => host,
            };
            let port = int(master.get(1)?)?;
            Some((first, last, format!("{host}:{port}")))
        })
        .collect()
}

fn int(value: &Value) -> Option<u16> {
    match value {
        Value::Int(n) => u16::try_from(*n).ok(),
        _ => None,
    }
}

/// The refreshing loop: every interval, and after trouble; ends when the router is gone.
async fn refresh_loop(router: Weak<Router>) {
    loop {
        let Some(strong) = router.upgrade() else {
            return;
        };
        match strong.read_map().await {
            Some(topology) => strong.apply(topology),
            None => tracing::warn!("no cluster node gave its slot map; keeping the last one"),
        }
        let trouble = async {
            strong.trouble.notified().await;
            tokio::time::sleep(REFRESH_BACKOFF).await;
        };
        let _ = tokio::time::timeout(REFRESH_INTERVAL, trouble).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_map_reads_as_ranges_of_masters() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(7000), bulk("id1")]),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(7003), bulk("id4")]),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(16383),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(7001), bulk("id2")]),
            ]),
        ]);
        assert_eq!(
            parse_slots(&reply, "seed.example"),
            Some(vec![
                (0, 5460, "127.0.0.1:7000".to_owned()),
                (5461, 16383, "127.0.0.1:7001".to_owned()),
            ])
        );
        assert_eq!(parse_slots(&Value::Nil, "seed.example"), None);
    }

    #[test]
    fn a_master_without_a_known_address_is_where_the_map_came_from() {
        let range = |host: Value| {
            Value::Array(vec![Value::Array(vec![
                Value::Int(0),
                Value::Int(16383),
                Value::Array(vec![
                    host,
                    Value::Int(7000),
                    Value::BulkString(b"id1".to_vec()),
                ]),
            ])])
        };
        // What a one-node cluster answers: it does not know its own address.
        assert_eq!(
            parse_slots(&range(Value::BulkString(Vec::new())), "10.0.0.5"),
            Some(vec![(0, 16383, "10.0.0.5:7000".to_owned())])
        );
        assert_eq!(
            parse_slots(&range(Value::Nil), "10.0.0.5"),
            Some(vec![(0, 16383, "10.0.0.5:7000".to_owned())])
        );
        assert_eq!(
            parse_slots(&range(Value::BulkString(b"?".to_vec())), "10.0.0.5"),
            None
        );
    }
}
