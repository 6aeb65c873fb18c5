//! Rift under test: in this process on ephemeral ports, or as a separate `rift` process.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use rift::{
    domain::memory::RedisConfig,
    pb::rift_client::RiftClient,
    server::{self, Config, Listeners, MemoryConfig},
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpListener,
    process::{Child, Command},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::redis::RedisServer;

/// A Rift served in this process on `127.0.0.1:0`; shut down on drop.
pub(crate) struct TestRift {
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) http_addr: SocketAddr,
    shutdown: CancellationToken,
    serving: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestRift {
    /// Serves `config`. The listeners are bound before this returns, so clients may connect
    /// at once: the kernel queues connections until the server accepts them.
    pub(crate) async fn start(config: Config) -> Self {
        let grpc = TcpListener::bind("127.0.0.1:0").await.expect("bind gRPC");
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind HTTP");
        let grpc_addr = grpc.local_addr().expect("gRPC addr");
        let http_addr = http.local_addr().expect("HTTP addr");
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(server::serve(
            config,
            Listeners {
                grpc,
                http,
                metrics: None,
            },
            shutdown.clone(),
        ));
        Self {
            grpc_addr,
            http_addr,
            shutdown,
            serving: Some(serving),
        }
    }

    pub(crate) async fn in_process() -> Self {
        Self::start(Config::default()).await
    }

    pub(crate) async fn on_redis(url: &str) -> Self {
        Self::start(redis_config(url)).await
    }

    /// A fresh `redis-server` and a Rift on it; keep the server alive as long as Rift.
    pub(crate) async fn with_redis() -> (RedisServer, Self) {
        let redis = RedisServer::start();
        let rift = Self::on_redis(&redis.url()).await;
        (redis, rift)
    }

    pub(crate) async fn client(&self) -> RiftClient<Channel> {
        RiftClient::connect(format!("http://{}", self.grpc_addr))
            .await
            .expect("connect to Rift")
    }

    pub(crate) async fn health(&self) -> HealthClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to health");
        HealthClient::new(channel)
    }

    /// Cancels the shutdown token and waits for `serve` to return.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let serving = self.serving.take().expect("still serving");
        serving.await.expect("serve task panicked")
    }
}

impl Drop for TestRift {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The default config with Redis at `url` as memory.
pub(crate) fn redis_config(url: &str) -> Config {
    Config {
        memory: MemoryConfig::Redis(RedisConfig::new(url)),
        ..Config::default()
    }
}

/// Waits, via `grpc.health.v1.Health/Watch`, until the server reports `status`.
pub(crate) async fn wait_for_health(
    health: &mut HealthClient<Channel>,
    status: tonic_health::pb::health_check_response::ServingStatus,
) {
    let mut updates = health
        .watch(HealthCheckRequest {
            service: "rift.v1.Rift".into(),
        })
        .await
        .expect("health watch")
        .into_inner();
    let deadline = Duration::from_secs(30);
    let reached = tokio::time::timeout(deadline, async {
        while let Some(update) = updates.message().await.expect("health update") {
            if update.status() == status {
                return;
            }
        }
        panic!("health watch ended before reaching {status:?}");
    })
    .await;
    assert!(
        reached.is_ok(),
        "health never reached {status:?} within {deadline:?}"
    );
}

/// A `rift serve` child process with its bound addresses, read from its JSON log.
pub(crate) struct RiftProcess {
    pub(crate) grpc_addr: SocketAddr,
    pub(crate) http_addr: SocketAddr,
    /// Given `--metrics-addr`: where `/metrics` is served instead of `http_addr`.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// The log record announcing the addresses (its fields: memory, tokens, ...).
    pub(crate) serving: serde_json::Value,
    child: Child,
    /// Its log lines after the one announcing the addresses.
    log: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl RiftProcess {
    pub(crate) async fn spawn(extra_args: &[&str]) -> Self {
        Self::spawn_with("127.0.0.1:0", &[], extra_args).await
    }

    /// Serves HTTP on `http_addr` (gRPC on an ephemeral port), with `env` set.
    pub(crate) async fn spawn_with(
        http_addr: &str,
        env: &[(&str, &str)],
        extra_args: &[&str],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rift"));
        command
            .args(["--log-format", "json", "serve"])
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", http_addr])
            .args(extra_args)
            .env_remove("REDIS_URL")
            .env_remove("RIFT_REDIS_URL")
            .envs(env.iter().copied());
        Self::start(command).await
    }

    /// Runs `command`, a `rift ... serve` that logs JSON, until it logs its addresses.
    pub(crate) async fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the rift binary");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut seen = Vec::new();
        let (grpc_addr, http_addr, metrics_addr, serving) = loop {
            let line = lines
                .next_line()
                .await
                .expect("read rift's log")
                .unwrap_or_else(|| panic!("rift exited before serving; log:\n{}", seen.join("\n")));
            let record: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let fields = &record["fields"];
            if let (Some(grpc), Some(http)) = (fields["grpc"].as_str(), fields["http"].as_str()) {
                break (
                    grpc.parse().expect("gRPC address"),
                    http.parse().expect("HTTP address"),
                    fields["metrics"]
                        .as_str()
                        .map(|metrics| metrics.parse().expect("metrics address")),
                    record.clone(),
                );
            }
            seen.push(line);
        };
        // Keep draining the log so the child never blocks on a full pipe.
        let (sender, log) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = sender.send(line);
            }
        });
        Self {
            grpc_addr,
            http_addr,
            metrics_addr,
            serving,
            child,
            log,
        }
    }

    /// The next JSON log line for which `matches` holds, within 30 seconds.
    pub(crate) async fn log_line(
        &mut self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = self.log.recv().await {
                let record = serde_json::from_str(&line).unwrap_or_default();
                if matches(&record) {
                    return Some(record);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(record)) => record,
            Ok(None) => panic!("rift exited before logging {what}"),
            Err(_) => panic!("rift did not log {what} within 30 s"),
        }
    }

    /// Kills the process outright (SIGKILL): no drain, no close frames.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.expect("kill rift");
    }

    pub(crate) async fn client(&self) -> RiftClient<Channel> {
        RiftClient::connect(format!("http://{}", self.grpc_addr))
            .await
            .expect("connect to the rift process")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("the rift process is running")
    }

    /// Sends SIGTERM, waits for the exit, and returns every JSON log line not read yet.
    pub(crate) async fn terminate_with_log(mut self) -> Vec<serde_json::Value> {
        let mut log = std::mem::replace(&mut self.log, tokio::sync::mpsc::unbounded_channel().1);
        let status = self.terminate().await;
        assert!(
            status.success(),
            "rift exits cleanly on SIGTERM: {status:?}"
        );
        let mut lines = Vec::new();
        // The reader task ends at end of file, once the process is gone.
        while let Some(line) = log.recv().await {
            lines.push(serde_json::from_str(&line).unwrap_or_default());
        }
        lines
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("child pid");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}");
        self.child.wait().await.expect("wait for rift")
    }
}
