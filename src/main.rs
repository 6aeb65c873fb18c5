//! The `rift` binary: parses the command line once, sets up logging, hands over to the library:
//! `rift serve` to the server, the client commands (`analyze`, `narrate`, ...) to [`rift::cli`].

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};
use rift::{
    domain::{
        CoreConfig, Limits, NotifierConfig,
        auth::{Access, Tokens},
        memory::{
            DEFAULT_MAX_EVENTS, DEFAULT_PARTITIONS, DEFAULT_SENTINEL_MASTER, Durability,
            MAX_PARTITIONS, RedisConfig, RedisMode,
        },
    },
    grpc::GrpcConfig,
    server::{self, Config, Listeners, MemoryConfig},
    transport::TransportArgs,
    ws::WsConfig,
};
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: the request path allocates many small, short-lived
/// buffers, and glibc's consolidation showed up in profiles (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "rift",
    version,
    about = "Agents collaborating on tasks through shared memory"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, env = "RIFT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC and WebSocket. Memory is in-process unless a Redis URL is given.
    Serve(Box<ServeArgs>),
    #[command(flatten)]
    Client(rift::cli::Command),
    /// Print the shell completion script of rift for SHELL (README: "Shell completions and man
    /// pages").
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Copy a deployment from one Redis in the prototype's layout (single, or a Sentinel
    /// group's master) into an empty Redis Cluster (README: "Cluster"). Stop every writer
    /// first.
    Migrate(MigrateArgs),
    /// Print the AsyncAPI 3 document of the WebSocket API at /ws, as JSON.
    Asyncapi,
    /// Print the man page `rift(1)`, or write one page per command into a directory.
    Man {
        /// Write `rift.1` and a `rift-<command>.1` for each command here instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// gRPC listen address (Analyze, Narrate, Progress, Subscribe, reflection, health).
    #[arg(long, env = "RIFT_GRPC_ADDR", default_value = "127.0.0.1:50051", value_parser = listen_addr)]
    grpc_addr: SocketAddr,
    /// HTTP listen address (dashboard at /, WebSocket at /ws, /healthz, and /metrics unless
    /// --metrics-addr is given).
    #[arg(long, env = "RIFT_HTTP_ADDR", default_value = "127.0.0.1:8000", value_parser = listen_addr)]
    http_addr: SocketAddr,
    /// Serve /metrics on this address instead of the HTTP port, e.g. to keep it off the
    /// public one.
    #[arg(long, env = "RIFT_METRICS_ADDR", value_parser = listen_addr)]
    metrics_addr: Option<SocketAddr>,
    /// Threads serving requests; default: one per core. On a machine shared with Redis (one
    /// thread) and other busy processes, fewer can be faster: Rift's threads stop waking each
    /// other for work (BENCHMARKS.md).
    #[arg(long, env = "RIFT_WORKER_THREADS")]
    worker_threads: Option<usize>,
    /// Redis URL (redis://host:port/db, unix:///path.sock); REDIS_URL is read too.
    /// Without one, memory is in-process.
    #[arg(long, env = "RIFT_REDIS_URL")]
    redis_url: Option<String>,
    /// What --redis-url names: `single` (one server), `sentinel` (Sentinels, comma-separated:
    /// `redis://h1:26379,redis://h2:26379`; Rift follows the master they name), or `cluster`
    /// (seed nodes).
    #[arg(long, env = "RIFT_REDIS_MODE", default_value_t = RedisMode::default())]
    redis_mode: RedisMode,
    /// In sentinel mode, the name of the master the Sentinels monitor.
    #[arg(long, env = "RIFT_REDIS_SENTINEL_MASTER", default_value = DEFAULT_SENTINEL_MASTER)]
    redis_sentinel_master: String,
    /// In cluster mode, the partitions tasks are spread over. Fixed when a deployment is
    /// created (stored in Redis under `rift:layout`): Rift refuses to start with another.
    #[arg(long, env = "RIFT_REDIS_PARTITIONS", default_value_t = DEFAULT_PARTITIONS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PARTITIONS)))]
    redis_partitions: u32,
    /// Notifications retained for replay (approximate on Redis: XADD MAXLEN ~).
    #[arg(long, env = "RIFT_MAX_EVENTS", default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: usize,
    /// Most items one Analyze accepts.
    #[arg(long, env = "RIFT_MAX_ITEMS", default_value_t = Limits::default().max_items)]
    max_items: usize,
    /// Largest gRPC request message, in bytes.
    #[arg(long, env = "RIFT_MAX_MESSAGE_BYTES", default_value_t = GrpcConfig::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Largest WebSocket frame, in bytes.
    #[arg(long, env = "RIFT_MAX_FRAME_BYTES", default_value_t = WsConfig::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// How often each WebSocket connection is pinged, in milliseconds.
    #[arg(long, env = "RIFT_WS_PING_INTERVAL_MS", default_value_t = millis(WsConfig::default().ping_interval), value_parser = clap::value_parser!(u64).range(1..))]
    ws_ping_interval_ms: u64,
    /// How long a WebSocket peer has to answer a ping (any frame counts) before it is
    /// dropped, in milliseconds.
    #[arg(long, env = "RIFT_WS_PONG_TIMEOUT_MS", default_value_t = millis(WsConfig::default().pong_timeout), value_parser = clap::value_parser!(u64).range(1..))]
    ws_pong_timeout_ms: u64,
    /// Connections open at once, on each of the gRPC and HTTP listeners.
    #[arg(long, env = "RIFT_MAX_CONNECTIONS", default_value_t = GrpcConfig::default().max_connections)]
    max_connections: usize,
    /// Concurrent gRPC calls, subscriptions included, per connection.
    #[arg(long, env = "RIFT_MAX_STREAMS_PER_CONNECTION", default_value_t = GrpcConfig::default().max_streams_per_connection)]
    max_streams_per_connection: u32,
    /// Longest a Redis call may take before the caller gets UNAVAILABLE, in milliseconds.
    #[arg(long, env = "RIFT_REDIS_TIMEOUT_MS", default_value_t = millis(RedisConfig::new("").op_timeout))]
    redis_timeout_ms: u64,
    /// What an acknowledged write has reached on Redis: `memory` (the master's) or
    /// `replicated` (at least one replica too, confirmed with WAIT; UNAVAILABLE if it cannot
    /// be confirmed within --redis-timeout-ms, and then retry with the same request_id).
    #[arg(long, env = "RIFT_DURABILITY", default_value_t = Durability::default())]
    durability: Durability,
    /// Retention on Redis: a task's keys expire this many seconds after the write that last
    /// wrote them (every Analyze, Narrate and recorded completion renews them). Without it,
    /// tasks are kept until DeleteTask.
    #[arg(long, env = "RIFT_TASK_TTL_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    task_ttl_secs: Option<u64>,
    /// How long in-flight calls get to finish at shutdown, in seconds.
    #[arg(long, env = "RIFT_DRAIN_TIMEOUT_SECS", default_value_t = Config::default().drain_timeout.as_secs())]
    drain_timeout_secs: u64,
    /// File of `<role> <token>` lines (roles: reader, writer, admin). Without it, no token is
    /// asked for, and only loopback addresses may be served.
    #[arg(long, env = "RIFT_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,
    /// Serve a non-loopback address without tokens.
    #[arg(long, env = "RIFT_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
    /// Unary calls in progress at once; more get RESOURCE_EXHAUSTED.
    #[arg(long, env = "RIFT_MAX_IN_FLIGHT", default_value_t = Limits::default().max_in_flight)]
    max_in_flight: usize,
    /// Subscriptions open at once.
    #[arg(long, env = "RIFT_MAX_SUBSCRIBERS", default_value_t = Limits::default().max_subscribers)]
    max_subscribers: usize,
    /// Server-side deadline of every call, in milliseconds.
    #[arg(long, env = "RIFT_REQUEST_TIMEOUT_MS", default_value_t = millis(Limits::default().request_timeout))]
    request_timeout_ms: u64,
    /// How long a request_id is remembered for idempotent retries, in seconds.
    #[arg(long, env = "RIFT_IDEMPOTENCY_WINDOW_SECS", default_value_t = Limits::default().idempotency_window.as_secs())]
    idempotency_window_secs: u64,
    #[command(flatten)]
    transport: TransportArgs,
}

#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The Redis holding the deployment now (redis://host:port/db).
    #[arg(long)]
    from: String,
    /// Seed nodes of the cluster to move it into, comma-separated.
    #[arg(long)]
    to: String,
    /// Partitions of the new deployment: fixed from now on (give `rift serve` the same).
    #[arg(long, env = "RIFT_REDIS_PARTITIONS", default_value_t = DEFAULT_PARTITIONS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PARTITIONS)))]
    redis_partitions: u32,
    /// Notifications each partition's stream retains (`XADD MAXLEN ~`), as `rift serve`'s.
    #[arg(long, env = "RIFT_MAX_EVENTS", default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: usize,
    /// Longest one call to the cluster may take, in milliseconds.
    #[arg(long, env = "RIFT_REDIS_TIMEOUT_MS", default_value_t = 5000)]
    redis_timeout_ms: u64,
}

/// A listen address: `IP:port`, or `host:port` with a name resolved once, at startup, to its
/// first address (`localhost:50051` is `127.0.0.1:50051` where localhost is that).
fn listen_addr(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse() {
        return Ok(addr);
    }
    let needs = "give host:port or IP:port, e.g. 127.0.0.1:50051 or localhost:50051";
    if value
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!("{value:?} is not an address: {needs}"));
    }
    std::net::ToSocketAddrs::to_socket_addrs(value)
        .map_err(|error| format!("cannot resolve {value:?} ({error}): {needs}"))?
        .next()
        .ok_or_else(|| format!("{value:?} resolves to no address: {needs}"))
}

/// A default duration as a flag's whole milliseconds.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let ServeArgs {
            grpc_addr: _,
            http_addr: _,
            metrics_addr: _,
            worker_threads: _,
            redis_url,
            redis_mode,
            redis_sentinel_master,
            redis_partitions,
            max_events,
            max_items,
            max_message_bytes,
            max_frame_bytes,
            max_connections,
            max_streams_per_connection,
            redis_timeout_ms,
            durability,
            task_ttl_secs,
            drain_timeout_secs,
            tokens_file,
            allow_unauthenticated,
            max_in_flight,
            max_subscribers,
            request_timeout_ms,
            idempotency_window_secs,
            ws_ping_interval_ms,
            ws_pong_timeout_ms,
            transport,
        } = self;
        let tokens = match &tokens_file {
            Some(path) => Tokens::load(path)
                .with_context(|| format!("loading tokens from {}", path.display()))?,
            None => Tokens::default(),
        };
        let memory = match redis_url.or_else(|| std::env::var("REDIS_URL").ok()) {
            Some(url) => MemoryConfig::Redis(RedisConfig {
                max_events,
                op_timeout: Duration::from_millis(redis_timeout_ms),
                durability,
                task_ttl: task_ttl_secs.map(Duration::from_secs),
                mode: redis_mode,
                sentinel_master: redis_sentinel_master,
                partitions: redis_partitions,
                ..RedisConfig::new(url)
            }),
            None => {
                anyhow::ensure!(
                    durability == Durability::Memory,
                    "--durability {durability} needs Redis: give --redis-url"
                );
                anyhow::ensure!(
                    redis_mode == RedisMode::Single,
                    "--redis-mode {redis_mode} needs Redis: give --redis-url"
                );
                anyhow::ensure!(
                    task_ttl_secs.is_none(),
                    "--task-ttl-secs needs Redis: give --redis-url"
                );
                MemoryConfig::InProcess { max_events }
            }
        };
        Ok(Config {
            memory,
            core: CoreConfig {
                limits: Limits {
                    max_items,
                    max_in_flight,
                    max_subscribers,
                    request_timeout: Duration::from_millis(request_timeout_ms),
                    idempotency_window: Duration::from_secs(idempotency_window_secs),
                },
                notifier: NotifierConfig::default(),
                access: Access::from_tokens(tokens),
                health_interval: None,
            },
            grpc: GrpcConfig {
                max_message_bytes,
                max_connections,
                max_streams_per_connection,
            },
            ws: WsConfig {
                max_frame_bytes,
                max_connections,
                ping_interval: Duration::from_millis(ws_ping_interval_ms),
                pong_timeout: Duration::from_millis(ws_pong_timeout_ms),
            },
            transport: transport.into_config(max_connections),
            drain_timeout: Duration::from_secs(drain_timeout_secs),
            allow_unauthenticated,
        })
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Command::Serve(args) = &cli.command
        && let Some(threads) = args.worker_threads
    {
        runtime.worker_threads(threads.max(1));
    }
    runtime.enable_all().build()?.block_on(async {
        // Traces are the server's: a client command exports nothing.
        let traces = match &cli.command {
            Command::Serve(_) => rift::traces::Traces::from_env(|name| std::env::var(name).ok())?,
            _ => None,
        };
        init_tracing(cli.log_format, traces.as_ref());
        let result = run(cli.command).await;
        if let Some(traces) = traces {
            traces.shutdown().await;
        }
        result
    })
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            let listeners =
                Listeners::bind(args.grpc_addr, args.http_addr, args.metrics_addr).await?;
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            let config = args.into_config()?;
            server::serve(config, listeners, shutdown)
                .await
                .context("rift serve")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Client(command) => Ok(rift::cli::execute(command).await),
        Command::Migrate(args) => {
            let to = RedisConfig {
                mode: RedisMode::Cluster,
                partitions: args.redis_partitions,
                max_events: args.max_events,
                op_timeout: Duration::from_millis(args.redis_timeout_ms),
                ..RedisConfig::new(args.to)
            };
            let migrated = rift::domain::memory::migrate(&args.from, to)
                .await
                .context("rift migrate")?;
            print(
                format!(
                    "migrated {} tasks ({} keys), {} notifications (ids kept), {} request ids \
                     ({} dropped: their notification was trimmed), {} keys skipped, into {} \
                     partitions\n",
                    migrated.tasks,
                    migrated.keys,
                    migrated.notifications,
                    migrated.requests,
                    migrated.requests_dropped,
                    migrated.skipped,
                    migrated.partitions,
                )
                .as_bytes(),
            )
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rift", &mut script);
            print(&script)
        }
        Command::Asyncapi => {
            let document = serde_json::to_string_pretty(&rift::ws::asyncapi())?;
            print(format!("{document}\n").as_bytes())
        }
        Command::Man { out_dir: None } => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            print(&page)
        }
        Command::Man { out_dir: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `output` to stdout; a reader that left early (`rift man | head`) is no failure.
fn print(output: &[u8]) -> anyhow::Result<ExitCode> {
    match std::io::Write::write_all(&mut std::io::stdout().lock(), output) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Logs on stderr as `format` says, filtered by `RUST_LOG` (default `info`), and spans to
/// `traces` when they are on.
fn init_tracing(format: LogFormat, traces: Option<&rift::traces::Traces>) {
    use tracing_subscriber::{Layer as _, layer::SubscriberExt as _, util::SubscriberInitExt as _};
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(|| rift::telemetry::LossyStderr)
        // Its own report of a failed write goes to stderr with `eprintln!`, which panics when
        // stderr is closed.
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs.json().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces.map(|traces| traces.layer()))
        .init();
}

/// Cancels `shutdown` on SIGINT or SIGTERM. The handlers are installed before this returns
/// (not when the task first runs), so a signal sent as soon as the server logs that it serves
/// is never taken by the default action.
fn cancel_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::spawn(async move {
                    let name = tokio::select! {
                        _ = interrupt.recv() => "SIGINT",
                        _ = terminate.recv() => "SIGTERM",
                    };
                    // Cancelled before anything is logged: shutdown never depends on logging.
                    shutdown.cancel();
                    tracing::info!("{name} received");
                });
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGINT and SIGTERM");
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
        tracing::info!("Ctrl-C received");
    });
}
