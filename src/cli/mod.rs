//! The command-line client: `rift analyze | narrate | report | progress | task | tasks |
//! watch | delete-task` against
//! a running Rift, over the same typed gRPC API as every other client, and `rift health`, the
//! standard `grpc.health.v1` probe a container's HEALTHCHECK runs (no shell or curl needed).
//!
//! Output is for people by default and one JSON object per line with `--json`, for scripts.
//! Results go to stdout; failures go to stderr as the gRPC code, message and decoded
//! `google.rpc` details, with a non-zero exit status ([`exit_code`]).
//!
//! - `render`: responses and errors as text or JSON.
//! - `page`: a report as one self-contained HTML page (`rift report --html`).

mod page;
mod render;

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Subcommand};
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, errors::InvalidMetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

pub use self::render::CallError;
use crate::{grpc::proto_from_json, pb};

/// The client subcommands of the `rift` binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// TechAgent: analyse a task's data and store the analysis.
    Analyze(AnalyzeArgs),
    /// ConceptAgent: narrate a task's latest analysis.
    Narrate(NarrateArgs),
    /// TaskAgent: report where a task stands (records completion).
    Progress(TaskArgs),
    /// Follow agent writes as they happen, for one task or all of them.
    Watch(WatchArgs),
    /// Admin: remove everything stored for a task.
    DeleteTask(TaskArgs),
    /// ReportAgent: profile and chart a task's latest analysis, and store the report.
    Report(ReportArgs),
    /// Show a task as stored: analysis, narrative, report, status (reads only).
    Task(TaskArgs),
    /// List tasks, most recently changed first (reads only).
    Tasks(TasksArgs),
    /// Probe Rift's gRPC health service; exit 0 only when it answers SERVING.
    Health(HealthArgs),
}

impl Command {
    fn options(&self) -> &ClientOptions {
        match self {
            Command::Analyze(args) => &args.options,
            Command::Narrate(args) => &args.options,
            Command::Progress(args) | Command::DeleteTask(args) | Command::Task(args) => {
                &args.options
            }
            Command::Tasks(args) => &args.options,
            Command::Report(args) => &args.options,
            Command::Watch(args) => &args.options,
            Command::Health(args) => &args.options,
        }
    }
}

/// Where Rift is, who is asking, and how to print.
#[derive(Debug, Clone, Args)]
pub struct ClientOptions {
    /// Rift's gRPC address; `http://` is assumed when no scheme is given, `https://` is TLS
    /// (system roots unless --tls-ca).
    #[arg(long, env = "RIFT_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// TLS: trust these CAs (PEM) instead of the system's; implies TLS for an address without
    /// a scheme.
    #[arg(long, env = "RIFT_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Mutual TLS: the client certificate chain (PEM); needs --client-key.
    #[arg(long, env = "RIFT_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Mutual TLS: the client certificate's private key (PEM).
    #[arg(long, env = "RIFT_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Bearer token, sent as `authorization: Bearer <token>` on every call.
    #[arg(long, env = "RIFT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON, one object per line (errors too, on stderr), instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `rift analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Task id: 1-128 characters of [A-Za-z0-9._-].
    pub task: String,
    /// The items, as a JSON list: '["data1", 2, null, {"k": "v"}]'.
    #[arg(long)]
    pub data: String,
    /// Idempotency key: a retry with the same id returns the original answer.
    #[arg(long, value_name = "ID", default_value = "")]
    pub request_id: String,
    /// Refuse (ABORTED) unless the task's current analysis version is this (0: none yet).
    #[arg(long, value_name = "N")]
    pub expected_version: Option<u64>,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift narrate`.
#[derive(Debug, Args)]
pub struct NarrateArgs {
    /// Task id.
    pub task: String,
    /// Idempotency key: a retry with the same id returns the original answer.
    #[arg(long, value_name = "ID", default_value = "")]
    pub request_id: String,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift progress` and `rift delete-task`: a task and nothing else.
#[derive(Debug, Args)]
pub struct TaskArgs {
    /// Task id.
    pub task: String,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Task id.
    pub task: String,
    /// Also write the report as one self-contained HTML page (tables and inline charts) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only tasks of this status: not-started, in-progress, completed or stale.
    #[arg(long)]
    pub status: Option<String>,
    /// Tasks per page (0: the server's default, 50).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub page_size: i32,
    /// Continue a listing: the next page token an earlier `rift tasks` printed. Without it,
    /// every page is listed.
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Only this task's notifications; every task's when omitted.
    pub task: Option<String>,
    /// Resume token: "0" for everything still retained, or the id of the last notification
    /// seen to get exactly what came after it. Without it, only what happens from now on.
    #[arg(long = "from", value_name = "ID")]
    pub from: Option<String>,
    /// Exit after this many notifications (otherwise, until Rift ends the stream).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Where Rift is, who is asking, and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// `rift health`: which service to probe, and where.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The service to ask about: `rift.v1.Rift` follows memory availability (readiness);
    /// "" is the whole server.
    #[arg(long, default_value = crate::grpc::SERVICE_NAME)]
    pub service: String,
    /// Where Rift is and how to print.
    #[command(flatten)]
    pub options: ClientOptions,
}

/// The health service answered, but not SERVING. Exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{service:?} is {status}")]
pub struct NotServing {
    service: String,
    status: String,
}

/// A failure before any call: the command line itself is wrong. Exit status 2, like clap's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// Runs `command` with results on `output`, then reports any failure on stderr in the
/// command's format and turns it into the exit status. What `main` calls.
pub async fn execute(command: Command) -> ExitCode {
    let json = command.options().json;
    let result = run(command, &mut std::io::stdout().lock()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `rift watch | head -1`: the reader left, which is how such a pipeline ends.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            // Nowhere left to report a failure to write to stderr.
            let _ = render::error(&mut stderr, &error, json);
            exit_code(&error)
        }
    }
}

/// Runs one client command, writing its results to `output`.
pub async fn run(command: Command, output: &mut impl Write) -> anyhow::Result<()> {
    let format = render::Format::from_json_flag(command.options().json);
    match command {
        Command::Analyze(AnalyzeArgs {
            task,
            data,
            request_id,
            expected_version,
            options,
        }) => {
            let data = parse_data(&data)?;
            let mut client = connect(&options)?;
            let response = client
                .analyze(pb::AnalyzeRequest {
                    task_id: task,
                    data,
                    request_id,
                    expected_version,
                    ..Default::default()
                })
                .await
                .map_err(CallError)?;
            render::analysis(output, format, &response.into_inner())?;
        }
        Command::Narrate(NarrateArgs {
            task,
            request_id,
            options,
        }) => {
            let mut client = connect(&options)?;
            let response = client
                .narrate(pb::NarrateRequest {
                    task_id: task,
                    request_id,
                    ..Default::default()
                })
                .await
                .map_err(CallError)?;
            render::narrative(output, format, &response.into_inner())?;
        }
        Command::Progress(TaskArgs { task, options }) => {
            let mut client = connect(&options)?;
            let response = client
                .progress(pb::ProgressRequest { task_id: task })
                .await
                .map_err(CallError)?;
            render::progress(output, format, &response.into_inner())?;
        }
        Command::DeleteTask(TaskArgs { task, options }) => {
            let mut client = connect(&options)?;
            let response = client
                .delete_task(pb::DeleteTaskRequest { task_id: task })
                .await
                .map_err(CallError)?;
            render::deletion(output, format, &response.into_inner())?;
        }
        Command::Report(ReportArgs {
            task,
            html,
            options,
        }) => {
            let mut client = connect(&options)?;
            let response = client
                .report(pb::ReportRequest { task_id: task })
                .await
                .map_err(CallError)?
                .into_inner();
            if let Some(path) = &html {
                std::fs::write(path, page::report_page(&response))
                    .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?;
            }
            render::report(output, format, &response, html.as_deref())?;
        }
        Command::Task(TaskArgs { task, options }) => {
            let mut client = connect(&options)?;
            let response = client
                .get_task(pb::GetTaskRequest {
                    task_id: task,
                    with_report: false,
                })
                .await
                .map_err(CallError)?;
            render::task(output, format, &response.into_inner())?;
        }
        Command::Tasks(TasksArgs {
            status,
            page_size,
            page_token,
            options,
        }) => {
            let status = match status {
                None => pb::TaskStatus::Unspecified,
                Some(name) => crate::domain::TaskStatus::parse(&name)
                    .map(pb::TaskStatus::from)
                    .map_err(|error| UsageError(format!("--status: {error}")))?,
            };
            let mut client = connect(&options)?;
            // One page when continuing a listing; every page otherwise.
            let one_page = page_token.is_some();
            let mut page_token = page_token.unwrap_or_default();
            loop {
                let page = client
                    .list_tasks(pb::ListTasksRequest {
                        page_size,
                        page_token,
                        status: status.into(),
                    })
                    .await
                    .map_err(CallError)?
                    .into_inner();
                render::tasks(output, format, &page, one_page)?;
                if one_page || page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        Command::Health(HealthArgs { service, options }) => {
            use tonic_health::pb::{
                HealthCheckRequest, health_check_response::ServingStatus,
                health_client::HealthClient,
            };
            let mut client = HealthClient::new(channel(&options)?);
            let status = client
                .check(HealthCheckRequest {
                    service: service.clone(),
                })
                .await
                .map_err(CallError)?
                .into_inner()
                .status();
            let name = status.as_str_name();
            if status != ServingStatus::Serving {
                return Err(NotServing {
                    service,
                    status: name.to_owned(),
                }
                .into());
            }
            render::health(output, format, &service, name)?;
        }
        Command::Watch(WatchArgs {
            task,
            from,
            count,
            options,
        }) => {
            let mut client = connect(&options)?;
            let task = task.unwrap_or_default();
            let after = from.unwrap_or_default();
            let mut stream = client
                .subscribe(pb::SubscribeRequest {
                    task_id: task.clone(),
                    after: after.clone(),
                })
                .await
                .map_err(CallError)?
                .into_inner();
            // The subscription is in place once the response has begun: say so on stderr, so a
            // person (or a script) knows that what happens from here on will be shown.
            let _ = writeln!(
                std::io::stderr(),
                "watching {} {}",
                if task.is_empty() {
                    "every task".to_owned()
                } else {
                    format!("task {task}")
                },
                match after.as_str() {
                    "" => "from now on".to_owned(),
                    "0" => "from the oldest retained notification".to_owned(),
                    id => format!("after {id}"),
                }
            );
            let mut seen = 0;
            while count.is_none_or(|count| seen < count) {
                let Some(notification) = stream.message().await.map_err(CallError)? else {
                    break;
                };
                render::notification(output, format, &notification)?;
                // Each line as it happens, not when a buffer fills.
                output.flush()?;
                seen += 1;
            }
        }
    }
    output.flush()?;
    Ok(())
}

/// 1 when Rift (or the network) refused the call, 2 when the command line was wrong.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `--data`: a JSON list, each item becoming one `google.protobuf.Value`.
fn parse_data(data: &str) -> anyhow::Result<Vec<prost_types::Value>> {
    match serde_json::from_str(data) {
        Ok(serde_json::Value::Array(items)) => Ok(items.into_iter().map(proto_from_json).collect()),
        Ok(_) => Err(UsageError(format!(
            "--data must be a JSON list, like '[\"data1\", 2]'; got {data}"
        ))
        .into()),
        Err(error) => Err(UsageError(format!("--data is not valid JSON: {error}")).into()),
    }
}

type Client = pb::rift_client::RiftClient<InterceptedService<Channel, BearerToken>>;

/// A client for `options.addr`. The connection is made on the first call, so an unreachable
/// Rift is reported like every other failure: as the call's `UNAVAILABLE` status.
fn connect(options: &ClientOptions) -> anyhow::Result<Client> {
    let token = BearerToken::new(options.token.as_deref())
        .map_err(|_| UsageError("--token must be printable ASCII".into()))?;
    Ok(pb::rift_client::RiftClient::with_interceptor(
        channel(options)?,
        token,
    ))
}

/// A lazily connecting channel to `options.addr`, over TLS for `https://` or with TLS flags.
fn channel(options: &ClientOptions) -> anyhow::Result<Channel> {
    let tls_flags = options.tls_ca.is_some() || options.client_cert.is_some();
    let addr = if options.addr.contains("://") {
        options.addr.clone()
    } else if tls_flags {
        format!("https://{}", options.addr)
    } else {
        format!("http://{}", options.addr)
    };
    let mut endpoint = Endpoint::from_shared(addr.clone())
        .map_err(|error| UsageError(format!("--addr {addr}: {error}")))?
        .connect_timeout(Duration::from_secs(10));
    if addr.starts_with("https://") {
        endpoint = endpoint.tls_config(client_tls(options)?)?;
    } else if tls_flags {
        return Err(
            UsageError(format!("--addr {addr}: TLS flags need an https:// address")).into(),
        );
    }
    Ok(endpoint.connect_lazy())
}

/// The client's TLS: `--tls-ca` or the system's roots, and a client certificate if given.
fn client_tls(options: &ClientOptions) -> anyhow::Result<ClientTlsConfig> {
    let read = |flag: &str, path: &PathBuf| {
        std::fs::read(path)
            .map_err(|error| UsageError(format!("{flag} {}: {error}", path.display())))
    };
    let mut tls = ClientTlsConfig::new();
    tls = match &options.tls_ca {
        Some(path) => tls.ca_certificate(Certificate::from_pem(read("--tls-ca", path)?)),
        None => tls.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&options.client_cert, &options.client_key) {
        tls = tls.identity(Identity::from_pem(
            read("--client-cert", cert)?,
            read("--client-key", key)?,
        ));
    }
    Ok(tls)
}

/// Adds `authorization: Bearer <token>` to every call when a token was given.
#[derive(Clone)]
pub struct BearerToken(Option<AsciiMetadataValue>);

impl BearerToken {
    /// The header for `token`; `None` sends none. Fails if the token cannot be a header value.
    pub fn new(token: Option<&str>) -> Result<Self, InvalidMetadataValue> {
        token
            .map(|token| format!("Bearer {token}").parse())
            .transpose()
            .map(Self)
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str(if self.0.is_some() {
            "BearerToken(<redacted>)"
        } else {
            "BearerToken(None)"
        })
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_travels_as_a_bearer_header() {
        let mut token = BearerToken::new(Some("s3cret")).expect("ascii token");
        let request = token.call(Request::new(())).expect("intercepted");
        assert_eq!(
            request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer s3cret")
        );
        assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
    }

    #[test]
    fn no_token_no_header() {
        let mut token = BearerToken::new(None).expect("no token");
        let request = token.call(Request::new(())).expect("intercepted");
        assert!(request.metadata().get("authorization").is_none());
    }

    #[test]
    fn data_must_be_a_json_list() {
        assert_eq!(parse_data(r#"["a", 1, null]"#).expect("list").len(), 3);
        for bad in [r#"{"a": 1}"#, "not json", "3"] {
            let error = parse_data(bad).expect_err(bad);
            assert!(error.downcast_ref::<UsageError>().is_some(), "{bad}");
        }
    }
}
