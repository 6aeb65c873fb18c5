//! Which Redis server is the master: fixed (`--redis-mode single`), or the one the Sentinels
//! name (`--redis-mode sentinel`), followed through failovers.
//!
//! The `redis` crate resolves a master through Sentinel once but does not follow a failover
//! (its issue #1438): a [`ConnectionManager`] reconnects to the address it was built with, and
//! a restarted old master accepts writes as a master for seconds before Sentinel demotes it.
//! So in sentinel mode a [`Follower`] task asks the Sentinels
//! (`SENTINEL get-master-addr-by-name`) every [`RESOLVE_INTERVAL`], and at once when a call
//! reports trouble ([`Master::suspect`]: connection errors, timeouts, `READONLY`, ...), checks
//! with `ROLE` that the server named really is a master, and, when the master changed, hands
//! out a new [`Current`]: a new client and connection manager, with the next generation. Every
//! user of the master (the request connection, the notifier's tail, the write link of
//! `--durability replicated`) asks for the current one on each use and drops connections of
//! an older generation, so nothing keeps writing to a demoted or restarted old master.
//!
//! When the Sentinels answer but the server they name is not a master (a failover in
//! progress), there is no current master and calls get `UNAVAILABLE` until there is one; when
//! no Sentinel answers, the last master is kept (it may well be fine, and a demoted one
//! answers `READONLY`).

use std::{
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo as _,
    RedisConnectionInfo, Role,
    aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
};
use tokio::sync::{Notify, watch};

use super::redis::classify;
use crate::domain::MemoryError;

/// How often the Sentinels are asked who the master is, besides after every trouble.
pub(super) const RESOLVE_INTERVAL: Duration = Duration::from_secs(1);

/// Least time between two resolutions, so a burst of failing calls asks once.
const RESOLVE_BACKOFF: Duration = Duration::from_millis(50);

/// The master as Rift reaches it now.
#[derive(Clone)]
pub(super) struct Current {
    /// Opens connections of its own (the tail's, the write link's).
    pub(super) client: Client,
    /// The request connection: multiplexed, reconnecting by itself to this master.
    pub(super) connection: ConnectionManager,
    /// Which master this is, counting from 1; a connection opened for one generation is
    /// dropped once another is current.
    pub(super) generation: u64,
    /// `host:port`, as Sentinel names it.
    address: String,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("address", &self.address)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Where the master is: one fixed server, or followed through Sentinel.
#[derive(Debug, Clone)]
pub(super) enum Master {
    /// `single`: one server for the process's life.
    Fixed(Box<Current>),
    /// `sentinel`: whichever server the Sentinels name.
    Followed(Arc<Follower>),
}

impl Master {
    /// One fixed server at `url`.
    pub(super) fn fixed(url: &str, manager: ConnectionManagerConfig) -> Result<Self, MemoryError> {
        let client = Client::open(url)
            .map_err(|e| MemoryError::Unavailable(format!("invalid Redis URL: {e}")))?;
        Self::fixed_client(client, manager)
    }

    /// One fixed server reached with `client` (a cluster master, `--redis-mode cluster`).
    pub(super) fn fixed_client(
        client: Client,
        manager: ConnectionManagerConfig,
    ) -> Result<Self, MemoryError> {
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager)
            .map_err(|e| MemoryError::Unavailable(e.to_string()))?;
        Ok(Self::Fixed(Box::new(Current {
            address: client.get_connection_info().addr().to_string(),
            client,
            connection,
            generation: 1,
        })))
    }

    /// The master named `name` by the Sentinels at `urls` (comma-separated `redis://` or
    /// `rediss://` URLs). Credentials and TLS (with its settings: `#insecure`) of the first URL
    /// are used for the master too, since Sentinel names it by host and port alone; a
    /// database number, for the master only.
    pub(super) fn followed(
        urls: &str,
        name: &str,
        manager: ConnectionManagerConfig,
        op_timeout: Duration,
    ) -> Result<Self, MemoryError> {
        let sentinels = urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| {
                url.into_connection_info()
                    .map_err(|e| MemoryError::Unavailable(format!("invalid Sentinel URL: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = sentinels.first() else {
            return Err(MemoryError::Unavailable(
                "--redis-mode sentinel needs at least one Sentinel URL".into(),
            ));
        };
        let node = first.clone();
        let sentinels = sentinels
            .into_iter()
            .map(|info| {
                // Sentinels have no databases: `SELECT` would fail the handshake.
                let settings = without_db(info.redis_settings());
                Client::open(info.set_redis_settings(settings))
                    .map_err(|e| MemoryError::Unavailable(format!("invalid Sentinel URL: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (current, _) = watch::channel(None);
        Ok(Self::Followed(Arc::new(Follower {
            sentinels,
            name: name.to_owned(),
            node,
            manager,
            op_timeout,
            current,
            trouble: Notify::new(),
            started: OnceLock::new(),
        })))
    }

    /// The master now; in sentinel mode, waits up to the operation timeout for one to be
    /// resolved, then `Unavailable`.
    pub(super) async fn current(&self) -> Result<Current, MemoryError> {
        match self {
            Self::Fixed(current) => Ok((**current).clone()),
            Self::Followed(follower) => follower.current().await,
        }
    }

    /// The generation current now, without waiting; 0 when there is none.
    pub(super) fn generation(&self) -> u64 {
        match self {
            Self::Fixed(current) => current.generation,
            Self::Followed(follower) => follower
                .current
                .borrow()
                .as_ref()
                .map_or(0, |current| current.generation),
        }
    }

    /// A call failed in a way a moved master explains: ask the Sentinels again now.
    pub(super) fn suspect(&self) {
        if let Self::Followed(follower) = self {
            follower.trouble.notify_one();
        }
    }
}

/// Follows the master through the Sentinels; see the module docs.
pub(super) struct Follower {
    sentinels: Vec<Client>,
    name: String,
    /// How the master is reached, but for its address: the first Sentinel's connection info
    /// (TLS or not, credentials, database); see [`node_at`].
    node: ConnectionInfo,
    manager: ConnectionManagerConfig,
    op_timeout: Duration,
    current: watch::Sender<Option<Current>>,
    trouble: Notify,
    /// The resolving task, started by the first call (inside the runtime); it ends once the
    /// follower is dropped.
    started: OnceLock<()>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("sentinels", &self.sentinels.len())
            .field("name", &self.name)
            .field("current", &*self.current.borrow())
            .finish_non_exhaustive()
    }
}

impl Follower {
    async fn current(self: &Arc<Self>) -> Result<Current, MemoryError> {
        self.started.get_or_init(|| {
            tokio::spawn(follow(Arc::downgrade(self)));
        });
        let mut watching = self.current.subscribe();
        if watching.borrow().is_none() {
            self.trouble.notify_one();
        }
        let resolved = tokio::time::timeout(
            self.op_timeout,
            watching.wait_for(|current| current.is_some()),
        )
        .await;
        match resolved {
            Ok(Ok(current)) => Ok(current.clone().expect("waited for a master")),
            _ => Err(MemoryError::Unavailable(format!(
                "no master {:?} known to the Sentinels within {:?}",
                self.name, self.op_timeout
            ))),
        }
    }

    /// Asks the Sentinels in turn; the first that names a master decides.
    async fn resolve(&self) -> Resolution {
        for sentinel in &self.sentinels {
            match self.ask(sentinel).await {
                Ok(Some((host, port))) => return self.verify(host, port).await,
                Ok(None) => {
                    tracing::warn!(master = %self.name, "a Sentinel knows no such master");
                }
                Err(error) => {
                    tracing::debug!(%error, "a Sentinel did not answer");
                }
            }
        }
        Resolution::NoAnswer
    }

    /// A short-lived connection for one question, bounded like every other call.
    async fn connect(&self, client: &Client) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.op_timeout))
            .set_response_timeout(Some(self.op_timeout));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    async fn ask(&self, sentinel: &Client) -> Result<Option<(String, u16)>, MemoryError> {
        let ask = async {
            let mut connection = self.connect(sentinel).await?;
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.name)
                .query_async::<Option<(String, u16)>>(&mut connection)
                .await
        };
        bounded(self.op_timeout, ask).await
    }

    /// Whether `host:port` says it is a master (`ROLE`), and the client to reach it.
    async fn verify(&self, host: String, port: u16) -> Resolution {
        let address = format!("{host}:{port}");
        let Ok(client) = Client::open(node_at(&self.node, host, port)) else {
            return Resolution::NotMaster(address);
        };
        let role = async {
            let mut connection = self.connect(&client).await?;
            redis::cmd("ROLE")
                .query_async::<Role>(&mut connection)
                .await
        };
        match bounded(self.op_timeout, role).await {
            Ok(Role::Primary { .. }) => Resolution::Master {
                address,
                client: Box::new(client),
            },
            Ok(_) => Resolution::NotMaster(address),
            Err(error) => {
                tracing::debug!(%error, %address, "the master named by Sentinel did not answer");
                Resolution::NotMaster(address)
            }
        }
    }

    /// Applies one resolution: a new master gets the next generation.
    fn apply(&self, resolution: Resolution, generations: &mut u64) {
        match resolution {
            Resolution::Master { address, client } => {
                let same = self
                    .current
                    .borrow()
                    .as_ref()
                    .is_some_and(|current| current.address == address);
                if same {
                    return;
                }
                let connection = match ConnectionManager::new_lazy_with_config(
                    (*client).clone(),
                    self.manager.clone(),
                ) {
                    Ok(connection) => connection,
                    Err(error) => {
                        tracing::warn!(%error, %address, "cannot prepare a connection to the master");
                        return;
                    }
                };
                *generations += 1;
                tracing::info!(%address, generation = *generations, master = %self.name, "following the master Sentinel names");
                self.current.send_replace(Some(Current {
                    client: *client,
                    connection,
                    generation: *generations,
                    address,
                }));
            }
            Resolution::NotMaster(address) => {
                if self.current.borrow().is_some() {
                    tracing::warn!(%address, master = %self.name, "the server Sentinel names is not a master (yet): no master until it is");
                }
                self.current.send_replace(None);
            }
            Resolution::NoAnswer => {
                tracing::warn!(master = %self.name, "no Sentinel answered; keeping the last master");
            }
        }
    }
}

/// What one round of asking found.
enum Resolution {
    /// The server Sentinel names, confirmed master by `ROLE` (its client boxed: with TLS
    /// support it is ten times the size of the other variants).
    Master {
        address: String,
        client: Box<Client>,
    },
    /// Sentinel named a server that is not (or not reachably) a master.
    NotMaster(String),
    /// No Sentinel answered.
    NoAnswer,
}

/// The resolving loop: every interval, and after trouble; ends when the follower is gone.
async fn follow(follower: Weak<Follower>) {
    let mut generations = 0;
    loop {
        let Some(strong) = follower.upgrade() else {
            return;
        };
        let resolution = strong.resolve().await;
        strong.apply(resolution, &mut generations);
        let trouble = async {
            strong.trouble.notified().await;
            tokio::time::sleep(RESOLVE_BACKOFF).await;
        };
        let _ = tokio::time::timeout(RESOLVE_INTERVAL, trouble).await;
    }
}

async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, MemoryError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(MemoryError::Unavailable(format!(
            "no answer within {timeout:?}"
        ))),
    }
}

/// `node` with the address `host:port`: over TLS (with the same settings) when `node` is
/// reached over TLS, so `rediss://` Sentinels lead to a master reached over TLS as well,
/// never in plain text.
fn node_at(node: &ConnectionInfo, host: String, port: u16) -> ConnectionInfo {
    let addr = match node.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host, port),
    };
    node.clone().set_addr(addr)
}

fn without_db(settings: &RedisConnectionInfo) -> RedisConnectionInfo {
    let mut plain = RedisConnectionInfo::default().set_protocol(settings.protocol());
    if let Some(username) = settings.username() {
        plain = plain.set_username(username);
    }
    if let Some(password) = settings.password() {
        plain = plain.set_password(password);
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_is_reached_over_tls_when_the_sentinels_are() {
        let tls = "rediss://:secret@10.0.0.1:26379/2#insecure"
            .into_connection_info()
            .expect("URL");
        let master = node_at(&tls, "10.0.0.2".into(), 6380);
        assert!(
            matches!(
                master.addr(),
                ConnectionAddr::TcpTls { host, port: 6380, insecure: true, .. } if host == "10.0.0.2"
            ),
            "{:?}",
            master.addr()
        );
        assert_eq!(master.redis_settings().password(), Some("secret"));
        assert_eq!(master.redis_settings().db(), 2);

        let plain = "redis://10.0.0.1:26379"
            .into_connection_info()
            .expect("URL");
        let master = node_at(&plain, "10.0.0.2".into(), 6380);
        assert!(
            matches!(master.addr(), ConnectionAddr::Tcp(host, 6380) if host == "10.0.0.2"),
            "{:?}",
            master.addr()
        );
    }
}
