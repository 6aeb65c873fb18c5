//! A `redis-server` of the test's own: a temporary directory, a unix socket in it, no
//! persistence, no TCP port. Starting one takes a few milliseconds, so every test gets a fresh
//! server and tests run in parallel without sharing keys.
//!
//! Replication needs TCP: [`RedisServer::start_master`] also listens on a free port of
//! 127.0.0.1, and [`RedisServer::start_replica_of`] starts a replica of such a master;
//! [`RedisServer::start_master_tls`] makes that port a TLS one (its replicas' too).
//!
//! Readiness is read from the server's log (on stdout), never guessed with a sleep.
//! A missing `redis-server` fails the test with instructions; it is never a skip.

use std::{
    env,
    fs::{self, File},
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use redis::{AsyncConnectionConfig, Client, aio::MultiplexedConnection};
use rift::domain::memory::{RedisConfig, RedisMemory};
use tempfile::TempDir;

/// Names the `redis-server` binary to use instead of searching for one.
const BINARY_ENV: &str = "RIFT_REDIS_SERVER";
/// Searched after `PATH`: where Debian and most installs put it.
const BINARY_DIRS: [&str; 3] = ["/usr/bin", "/usr/sbin", "/usr/local/bin"];
/// From spawn to "ready", generous for a loaded two-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server`, killed on drop.
#[derive(Debug)]
pub(crate) struct RedisServer {
    binary: PathBuf,
    socket: PathBuf,
    /// Append-only file with an fsync per write, so a kill loses nothing acknowledged.
    durable: bool,
    /// A TCP port on 127.0.0.1 too, for replicas (replication needs TCP); chosen free.
    port: Option<u16>,
    /// That port speaks TLS only (`--port 0 --tls-port <port>`), replication too; the
    /// certificate files come in `args`. The unix socket stays plain text.
    tls: bool,
    /// Further `redis-server` arguments, on every start.
    args: Vec<String>,
    child: Option<Child>,
    /// Declared last so it is removed after the server is gone.
    dir: TempDir,
}

impl RedisServer {
    /// `INFO commandstats` as `command -> (calls, usec)`.
    pub(crate) async fn commandstats(&self) -> std::collections::BTreeMap<String, (u64, u64)> {
        let mut connection = self.connection().await;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut connection)
            .await
            .expect("INFO commandstats");
        info.lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let field = |key: &str| -> Option<u64> {
                    rest.split(',')
                        .find_map(|kv| kv.strip_prefix(key))?
                        .parse()
                        .ok()
                };
                Some((name.to_owned(), (field("calls=")?, field("usec=")?)))
            })
            .collect()
    }

    /// Holds every write (scripts included) for `millis`, as a slow or stuck Redis would
    /// (`CLIENT PAUSE ... WRITE`); reads go on.
    pub(crate) async fn pause_writes(&self, millis: u64) {
        let mut connection = self.connection().await;
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(millis)
            .arg("WRITE")
            .query_async(&mut connection)
            .await
            .expect("CLIENT PAUSE");
    }

    /// Ends a [`RedisServer::pause_writes`] early.
    pub(crate) async fn unpause(&self) {
        let mut connection = self.connection().await;
        let _: () = redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async(&mut connection)
            .await
            .expect("CLIENT UNPAUSE");
    }

    /// Starts a server and waits until it accepts connections. Panics, with the server's log,
    /// if it does not within ten seconds.
    pub(crate) fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`RedisServer::start`], with an append-only file synced on every write: a
    /// [`RedisServer::restart`] after [`RedisServer::stop`] (a kill) keeps every acknowledged
    /// write.
    pub(crate) fn start_durable() -> Self {
        Self::start_with(true)
    }

    /// Like [`RedisServer::start`], with further `redis-server` arguments (`["--requirepass",
    /// "secret"]`) on this start and every restart.
    pub(crate) fn start_with_args(args: &[&str]) -> Self {
        Self::launch(false, false, false, args)
    }

    /// A server that replicas can follow: it also listens on a free TCP port of 127.0.0.1,
    /// and starts a full resync at once (no diskless-sync delay).
    pub(crate) fn start_master(args: &[&str]) -> Self {
        let mut all = vec!["--repl-diskless-sync-delay", "0"];
        all.extend_from_slice(args);
        Self::launch(false, true, false, &all)
    }

    /// Like [`RedisServer::start_master`], its TCP port speaking TLS only, with `args` naming
    /// the certificate files (`--tls-cert-file`, ...).
    pub(crate) fn start_master_tls(args: &[&str]) -> Self {
        let mut all = vec!["--repl-diskless-sync-delay", "0"];
        all.extend_from_slice(args);
        Self::launch(false, true, true, &all)
    }

    /// A replica of `master` (started with [`RedisServer::start_master`]), itself on TCP too
    /// so it can be promoted and followed, over TLS if `master` is. It is ready to serve; [`wait_for_replicas`] tells
    /// when it has synced.
    pub(crate) fn start_replica_of(master: &RedisServer, args: &[&str]) -> Self {
        let port = master.port().to_string();
        let mut all = vec![
            "--replicaof",
            "127.0.0.1",
            port.as_str(),
            "--repl-diskless-sync-delay",
            "0",
        ];
        all.extend_from_slice(args);
        Self::launch(false, true, master.tls, &all)
    }

    fn start_with(durable: bool) -> Self {
        Self::launch(durable, false, false, &[])
    }

    fn launch(durable: bool, tcp: bool, tls: bool, args: &[&str]) -> Self {
        let binary = find_binary();
        let dir = tempfile::Builder::new()
            .prefix("rift-redis-")
            .tempdir()
            .expect("create a temporary directory for redis-server");
        let mut server = Self {
            binary,
            socket: dir.path().join("redis.sock"),
            durable,
            port: tcp.then(free_port),
            tls,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            child: None,
            dir,
        };
        server.spawn();
        server
    }

    /// The TCP port of a server started with [`RedisServer::start_master`] or as a replica.
    pub(crate) fn port(&self) -> u16 {
        self.port.expect("this redis-server listens on TCP")
    }

    /// `unix:///…/redis.sock`, as `RedisConfig::url` and `redis::Client::open` take it.
    pub(crate) fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A plain client on this server.
    pub(crate) fn client(&self) -> Client {
        redis_client(&self.url())
    }

    /// A connection for reading keys back, without the default 500 ms response timeout (a
    /// loaded machine should not fail a test that is not about timeouts).
    pub(crate) async fn connection(&self) -> MultiplexedConnection {
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        self.client()
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connect to the test redis-server")
    }

    /// A [`RedisMemory`] on this server, with timeouts suited to tests: a long `op_timeout`,
    /// since no test here is about slowness, and a short tail block so idle tails return soon.
    pub(crate) fn memory(&self, max_events: usize) -> RedisMemory {
        RedisMemory::open(RedisConfig {
            max_events,
            op_timeout: Duration::from_secs(5),
            tail_block: Duration::from_millis(200),
            ..RedisConfig::new(self.url())
        })
        .expect("open RedisMemory on the test redis-server")
    }

    /// Kills the server (SIGKILL) and waits for it: an outage, not a shutdown.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: there is nothing left to stop.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered, queued
    /// commands run once it is [`RedisServer::resume`]d: a stall, not an outage.
    pub(crate) fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a [`RedisServer::pause`]d server run again (SIGCONT).
    pub(crate) fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Stops the server if it runs, then starts a new one on the same socket, empty.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stops the server, then starts it again on the same socket, loading the RDB file its
    /// directory holds (write it with `SAVE` first) at `per_key` a key; returns while it is
    /// still loading, when every command is answered `LOADING`.
    pub(crate) fn restart_loading_slowly(&mut self, per_key: Duration) {
        self.stop();
        let delay = per_key.as_micros().max(1).to_string();
        self.spawn_until(
            &[
                "--key-load-delay",
                &delay,
                // Answer clients (LOADING) between every kilobyte loaded.
                "--loading-process-events-interval-bytes",
                "1024",
            ],
            "loading rdb produced by",
        );
    }

    fn spawn(&mut self) {
        // Redis 7.0 logs "Ready to accept connections" for TCP but "The server is now ready
        // to accept connections at <path>" for a unix socket alone; 7.2 says "Ready to
        // accept connections unix".
        self.spawn_until(&[], "ready to accept connections");
    }

    /// Starts the server with `extra` arguments for this start only, and returns once a log
    /// line contains `ready` (lower case).
    fn spawn_until(&mut self, extra: &[&str], ready: &str) {
        let stderr_path = self.dir.path().join("stderr.log");
        let stderr = File::create(&stderr_path).expect("create redis-server's stderr file");
        let port = self.port.unwrap_or(0).to_string();
        let (plain, tls) = if self.tls {
            ("0", vec!["--tls-port", &port, "--tls-replication", "yes"])
        } else {
            (port.as_str(), vec![])
        };
        let mut child = Command::new(&self.binary)
            .args(["--port", plain])
            .args(tls)
            .args(["--bind", "127.0.0.1", "--unixsocket"])
            .arg(&self.socket)
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                if self.durable { "yes" } else { "no" },
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            // Log to stdout, where readiness is read from.
            .args(["--logfile", "", "--daemonize", "no"])
            .args(&self.args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        let failure = match wait_for_log_line(&mut child, ready) {
            Ok(()) => {
                self.child = Some(child);
                return;
            }
            Err((failure, seen)) => format!("{failure}\n--- stdout ---\n{seen}"),
        };
        let _ = child.kill();
        let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
        let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!(
            "redis-server ({}) {failure} ({status})\n--- stderr ---\n{stderr}",
            self.binary.display()
        );
    }
}

/// Waits until a line `child` logs on its (piped) stdout contains `ready` (lower case), within
/// [`READY_TIMEOUT`]; else why not, with the lines seen. A thread keeps draining the pipe
/// afterwards so the server never blocks on a full pipe; it ends when the server exits.
pub(crate) fn wait_for_log_line(child: &mut Child, ready: &str) -> Result<(), (String, String)> {
    wait_for_log_line_within(child, ready, READY_TIMEOUT)
}

/// [`wait_for_log_line`] with another limit: for a slower starter than redis-server.
pub(crate) fn wait_for_log_line_within(
    child: &mut Child,
    ready: &str,
    limit: Duration,
) -> Result<(), (String, String)> {
    let stdout = child.stdout.take().expect("the server's stdout is piped");
    let (lines, log) = mpsc::channel::<String>();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader
            .read_until(b'\n', &mut line)
            .is_ok_and(|read| read > 0)
        {
            let _ = lines.send(String::from_utf8_lossy(&line).into_owned());
            line.clear();
        }
    });
    let deadline = Instant::now() + limit;
    let mut seen = String::new();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(remaining) {
            Ok(line) => {
                let is_ready = line.to_ascii_lowercase().contains(ready);
                seen.push_str(&line);
                if is_ready {
                    return Ok(());
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err((format!("not ready within {limit:?}"), seen));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(("exited before it was ready".into(), seen));
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until `count` replicas have acknowledged everything written to `master` so far
/// (`WAIT`, on a write of its own): a replica that has synced answers it, so no sleep guesses.
pub(crate) async fn wait_for_replicas(master: &RedisServer, count: usize) {
    let mut connection = master.connection().await;
    let _: () = redis::cmd("SET")
        .arg("rift-test:replicated")
        .arg(1)
        .query_async(&mut connection)
        .await
        .expect("SET on the master");
    let acknowledged: usize = redis::cmd("WAIT")
        .arg(count)
        .arg(READY_TIMEOUT.as_millis() as u64)
        .query_async(&mut connection)
        .await
        .expect("WAIT on the master");
    assert!(
        acknowledged >= count,
        "{acknowledged} of {count} replicas synced within {READY_TIMEOUT:?}"
    );
}

/// A TCP port of 127.0.0.1 nobody listens on right now. Another process could take it before
/// redis-server binds it; that fails the start loudly rather than sharing a server.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("find a free TCP port on 127.0.0.1")
}

/// A plain client for `url`, for reading back what Rift wrote.
pub(crate) fn redis_client(url: &str) -> Client {
    Client::open(url).unwrap_or_else(|e| panic!("invalid Redis URL {url:?}: {e}"))
}

/// `$RIFT_REDIS_SERVER`, else `redis-server` on `PATH` or in the usual directories.
pub(crate) fn find_binary() -> PathBuf {
    if let Some(path) = env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{BINARY_ENV}={} is not a file; point it at a redis-server binary",
            path.display()
        );
        return path;
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(BINARY_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found on PATH or in {BINARY_DIRS:?}. The Redis tests need a \
                 real server (7.0 or newer): install it with `apt-get install -y redis-server`, \
                 or run `bash scripts/test.sh`, which installs it. To use another binary, set \
                 {BINARY_ENV}=/path/to/redis-server."
            )
        })
}
