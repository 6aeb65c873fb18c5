//! A Sentinel group of the test's own: a master, a replica and three Sentinels
//! (`redis-server <generated config> --sentinel`), all on free ports of 127.0.0.1, with
//! failure detection fast enough for a test ([`DOWN_AFTER_MS`]) so a failover takes seconds.
//! [`SentinelGroup::start_tls`] starts one on TLS only: every server and Sentinel listens on
//! a TLS port alone, and replication and Sentinel's own links use TLS too.
//!
//! Readiness is read from the logs (`+monitor` for a Sentinel), and failovers are observed by
//! asking the Sentinels, never guessed with a sleep.

use std::{
    fs,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use redis::{AsyncConnectionConfig, Client, TlsCertificates};
use tempfile::TempDir;

use super::redis::{RedisServer, find_binary, free_port, wait_for_log_line, wait_for_replicas};

/// The master name the Sentinels monitor (Rift's default).
pub(crate) const MASTER_NAME: &str = "mymaster";
/// How long a server may not answer before a Sentinel thinks it down. 1000 ms was too short on
/// a loaded two-core machine: a new master starved of CPU for a second was failed over again, to
/// the old master restarted empty, which wiped it (the Sentinels' own logs: `+sdown` of the new
/// master a second after `+switch-master`, then `+switch-master` back). Acknowledged writes
/// were lost by Redis then, not by Rift, which followed and announced `history_reset`.
const DOWN_AFTER_MS: u64 = 5000;
/// Generous for failure detection, election and promotion on a loaded two-core machine.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// PEM files for a group on TLS only: the servers' certificate and key (for 127.0.0.1), and
/// the CA that signed it.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub(crate) cert: String,
    pub(crate) key: String,
    pub(crate) ca: String,
}

impl TlsFiles {
    /// As `redis-server` arguments; clients need no certificate of their own.
    fn args(&self) -> Vec<&str> {
        vec![
            "--tls-cert-file",
            &self.cert,
            "--tls-key-file",
            &self.key,
            "--tls-ca-cert-file",
            &self.ca,
            "--tls-auth-clients",
            "no",
        ]
    }

    /// The CA, for the test's own connections (it cannot set `SSL_CERT_FILE` for itself).
    fn ca_pem(&self) -> Vec<u8> {
        fs::read(&self.ca).expect("read the CA file")
    }
}

/// One `redis-server --sentinel`, killed on drop.
#[derive(Debug)]
pub(crate) struct Sentinel {
    port: u16,
    /// The CA PEM when this Sentinel listens on TLS only.
    ca: Option<Vec<u8>>,
    child: Child,
    /// Holds the config file Sentinel rewrites; removed after the process is gone.
    _dir: TempDir,
}

impl Sentinel {
    fn start(master_port: u16, tls: Option<&TlsFiles>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rift-sentinel-")
            .tempdir()
            .expect("create a temporary directory for a Sentinel");
        let port = free_port();
        let config = dir.path().join("sentinel.conf");
        let listen = match tls {
            None => format!("port {port}\n"),
            Some(files) => format!(
                "port 0\ntls-port {port}\ntls-replication yes\ntls-cert-file {}\n\
                 tls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients no\n",
                files.cert, files.key, files.ca
            ),
        };
        fs::write(
            &config,
            format!(
                "{listen}bind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
                 sentinel failover-timeout {MASTER_NAME} 5000\n\
                 sentinel parallel-syncs {MASTER_NAME} 1\n",
                dir = dir.path().display()
            ),
        )
        .expect("write sentinel.conf");
        let stderr_path = dir.path().join("stderr.log");
        let mut child = Command::new(find_binary())
            .arg(&config)
            .arg("--sentinel")
            .args(["--logfile", "", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr_path).expect("create the Sentinel's stderr file"))
            .spawn()
            .expect("run redis-server --sentinel");
        if let Err((failure, seen)) = wait_for_log_line(&mut child, "+monitor master") {
            let _ = child.kill();
            let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
            panic!(
                "redis-server --sentinel {failure}\n--- stdout ---\n{seen}--- stderr ---\n{stderr}"
            );
        }
        Self {
            port,
            ca: tls.map(TlsFiles::ca_pem),
            child,
            _dir: dir,
        }
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` on TLS.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The master's port as this Sentinel names it.
    async fn master_port(&self) -> Option<u16> {
        let mut connection = connect(&self.url(), self.ca.as_deref()).await.ok()?;
        let reply: redis::RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME)
            .query_async(&mut connection)
            .await;
        reply.ok().flatten().map(|(_, port)| port)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A master, a replica, three Sentinels watching them.
#[derive(Debug)]
pub(crate) struct SentinelGroup {
    /// The servers, by the role they were started in; after a failover the Sentinels say
    /// which is master ([`SentinelGroup::master_port`]).
    pub(crate) servers: Vec<RedisServer>,
    pub(crate) sentinels: Vec<Sentinel>,
    /// The CA PEM when the group is on TLS only.
    ca: Option<Vec<u8>>,
}

impl SentinelGroup {
    /// Starts the group with `args` for both data servers, and returns once the replica has
    /// synced and every Sentinel monitors the master.
    pub(crate) async fn start(args: &[&str]) -> Self {
        Self::launch(args, None).await
    }

    /// Like [`SentinelGroup::start`] (no further arguments), on TLS only with `files`.
    pub(crate) async fn start_tls(files: &TlsFiles) -> Self {
        Self::launch(&files.args(), Some(files)).await
    }

    async fn launch(args: &[&str], tls: Option<&TlsFiles>) -> Self {
        let master = if tls.is_some() {
            RedisServer::start_master_tls(args)
        } else {
            RedisServer::start_master(args)
        };
        let replica = RedisServer::start_replica_of(&master, args);
        wait_for_replicas(&master, 1).await;
        let sentinels = (0..3)
            .map(|_| Sentinel::start(master.port(), tls))
            .collect();
        let group = Self {
            servers: vec![master, replica],
            sentinels,
            ca: tls.map(TlsFiles::ca_pem),
        };
        // Each Sentinel must have discovered the replica, or it could not fail over to it.
        group
            .until(|group| async move { group.replicas_known().await >= 1 })
            .await;
        group
    }

    /// `--redis-url` for Rift: every Sentinel, comma-separated.
    pub(crate) fn url(&self) -> String {
        self.sentinels
            .iter()
            .map(Sentinel::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The master's port as the first Sentinel that answers names it.
    pub(crate) async fn master_port(&self) -> Option<u16> {
        for sentinel in &self.sentinels {
            if let Some(port) = sentinel.master_port().await {
                return Some(port);
            }
        }
        None
    }

    /// The master's port if every Sentinel names the same one.
    async fn agreed_master_port(&self) -> Option<u16> {
        let mut agreed = None;
        for sentinel in &self.sentinels {
            let port = sentinel.master_port().await?;
            if agreed.is_some_and(|agreed| agreed != port) {
                return None;
            }
            agreed = Some(port);
        }
        agreed
    }

    /// The server that is master now, as the Sentinels say.
    pub(crate) async fn master(&mut self) -> &mut RedisServer {
        let port = self.master_port().await.expect("a Sentinel names a master");
        self.servers
            .iter_mut()
            .find(|server| server.port() == port)
            .expect("the master is one of the group's servers")
    }

    /// Kills the master (SIGKILL) and waits until every Sentinel names another one that says
    /// it is master (`ROLE`); returns the index of the killed server in `servers`. Only then
    /// may the killed one come back: a master restarted empty while a Sentinel still names it
    /// can be followed by the new one, which then resyncs to empty.
    pub(crate) async fn kill_master_and_fail_over(&mut self) -> usize {
        let old = self.master_port().await.expect("a master before the kill");
        let killed = self
            .servers
            .iter()
            .position(|server| server.port() == old)
            .expect("the master is one of the group's servers");
        self.servers[killed].stop();
        self.until(|group| async move {
            match group.agreed_master_port().await {
                Some(port) if port != old => is_master(port, group.ca.as_deref()).await,
                _ => false,
            }
        })
        .await;
        killed
    }

    /// Polls `done` every 50 ms until it holds; panics after [`FAILOVER_TIMEOUT`].
    async fn until<'a, F, Fut>(&'a self, done: F)
    where
        F: Fn(&'a Self) -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + FAILOVER_TIMEOUT;
        while !done(self).await {
            assert!(
                Instant::now() < deadline,
                "the Sentinel group did not settle within {FAILOVER_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The fewest replicas any Sentinel knows of the master.
    async fn replicas_known(&self) -> usize {
        let mut fewest = usize::MAX;
        for sentinel in &self.sentinels {
            let Ok(mut connection) = connect(&sentinel.url(), sentinel.ca.as_deref()).await else {
                return 0;
            };
            let replicas: redis::RedisResult<Vec<redis::Value>> = redis::cmd("SENTINEL")
                .arg("replicas")
                .arg(MASTER_NAME)
                .query_async(&mut connection)
                .await;
            fewest = fewest.min(replicas.map_or(0, |replicas| replicas.len()));
        }
        fewest
    }
}

/// Whether the server on `port` (TLS only, trusting `ca`, if given) answers `ROLE` as a master.
async fn is_master(port: u16, ca: Option<&[u8]>) -> bool {
    let scheme = if ca.is_some() { "rediss" } else { "redis" };
    let Ok(mut connection) = connect(&format!("{scheme}://127.0.0.1:{port}"), ca).await else {
        return false;
    };
    matches!(
        redis::cmd("ROLE")
            .query_async::<redis::Role>(&mut connection)
            .await,
        Ok(redis::Role::Primary { .. })
    )
}

/// A connection to `url`, trusting `ca` (PEM) alone when given.
async fn connect(
    url: &str,
    ca: Option<&[u8]>,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    let client = match ca {
        Some(ca) => Client::build_with_tls(
            url,
            TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.to_vec()),
            },
        )?,
        None => Client::open(url)?,
    };
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}
