//! The frames the server sends, and the one mapping from errors to error frames.
//!
//! Every frame is one of:
//!
//! - a reply to a natural-language command, as the prototype sent it: the narrative as bare
//!   text; analysis and progress as JSON objects whose first key is `task_id`; `help` and watch
//!   confirmations as text;
//! - a reply to a typed request: `{"id": 7, "result": {...}}` or `{"id": 7, "error": {...}}`
//!   (`id` only when the request had one); to text in a typed frame, `"operation"` after the
//!   `id` names the operation the text named (`{"id": 7, "operation": "progress", ...}`);
//! - an error for a natural-language command or an unreadable frame: `{"error": {...}}`;
//! - a push for the active watch: `{"notification": {...}}`, or `{"watch_ended": {...}}` when
//!   the watch stops on an error.
//!
//! A client tells them apart by the first key: no reply starts with `notification` or
//! `watch_ended`. Exactly one reply goes out per command frame; pushes come between replies.
//!
//! Errors are `{"code", "message", "hint"}` plus, where known, `field`, `reason` and
//! `retry_after_ms`. `code` is the name of the error's canonical code ([`CoreError::code`]), the
//! status the same failure gets over gRPC, so clients of both transports branch on the same
//! codes. A typed request naming an operation that does not exist is `UNIMPLEMENTED`, as gRPC
//! answers an unknown method.
//!
//! JSON is laid out like Python's `json.dumps` (`", "` and `": "`), as the prototype's replies
//! were: its users grep for `"task_id": "101"`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    command::ParseError,
    operations::{self, ANALYZE, OPERATIONS, PROGRESS, TEXT_KEY, UNWATCH},
};
use crate::domain::{
    Analysis, AnalysisStats, Code, CoreError, EventId, Narrative, Notification, Progress, Report,
    StoredReport, TaskDetails, TaskList, charts::Chart, profile::Profile, reason,
    records::python_json,
};

/// The body of every error frame.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "Error", deny_unknown_fields)]
pub(crate) struct ErrorBody {
    /// The canonical code: the status the same failure gets over gRPC, by name.
    #[schemars(schema_with = "code_schema")]
    pub(crate) code: Code,
    pub(crate) message: String,
    /// What to send instead; always present, so a person at a terminal is never left guessing.
    pub(crate) hint: String,
    /// The request field at fault, as the API spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// Stable machine-readable reason, as in gRPC's `ErrorInfo` (`ANALYSIS_MISSING`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after_ms: Option<u64>,
    /// With `ABORTED`: the task's current analysis version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) current_version: Option<u64>,
}

const HELP_HINT: &str = "send \"help\" for the commands and their form";

/// Every name a [`Code`] serializes as, from `google.rpc.Code`'s numbers.
fn code_schema(_: &mut SchemaGenerator) -> Schema {
    let mut names: Vec<&str> = (0..=16).map(|n| Code::from_number(n).as_str()).collect();
    names.dedup();
    json_schema!({"type": "string", "enum": names})
}

impl ErrorBody {
    fn new(code: Code, message: String, hint: String) -> Self {
        Self {
            code,
            message,
            hint,
            field: None,
            reason: None,
            retry_after_ms: None,
            current_version: None,
        }
    }

    /// A binary frame: commands are text.
    pub(crate) fn binary_frame() -> Self {
        Self {
            field: Some("frame".into()),
            ..Self::new(
                Code::InvalidArgument,
                "binary frames are not accepted".into(),
                format!("send commands as text frames; {HELP_HINT}"),
            )
        }
    }

    /// A frame over the configured limit (but under the hard cap, so it could be read).
    pub(crate) fn frame_too_large(bytes: usize, limit: usize) -> Self {
        CoreError::ResourceExhausted {
            reason: reason::MESSAGE_TOO_LARGE,
            description: format!("the frame has {bytes} bytes; at most {limit} are accepted"),
        }
        .into()
    }
}

/// The one mapping from domain errors to error frames: the error's own code, and a hint.
impl From<CoreError> for ErrorBody {
    fn from(error: CoreError) -> Self {
        let code = error.code();
        let message = error.to_string();
        match error {
            CoreError::InvalidArgument { field, .. } => Self {
                hint: field_hint(&field),
                field: Some(field),
                ..Self::new(code, message, String::new())
            },
            CoreError::FailedPrecondition { reason, .. } => Self {
                reason: Some(reason),
                ..Self::new(code, message, reason_hint(reason))
            },
            CoreError::ResourceExhausted { reason, .. } => Self {
                reason: Some(reason),
                ..Self::new(code, message, reason_hint(reason))
            },
            CoreError::Aborted {
                reason,
                current_version,
                ..
            } => Self {
                reason: Some(reason),
                current_version: Some(current_version),
                ..Self::new(
                    code,
                    message,
                    format!("read the task again; its current version is {current_version}"),
                )
            },
            CoreError::EpochChanged { .. } => Self {
                reason: Some(reason::EPOCH_CHANGED),
                ..Self::new(
                    code,
                    message,
                    "memory lost its history since; read the task again, then decide".into(),
                )
            },
            CoreError::SubscriberTooSlow { resume_after } => Self {
                reason: Some(reason::SUBSCRIBER_TOO_SLOW),
                ..Self::new(
                    code,
                    message,
                    format!("read notifications faster; resume with `from {resume_after}`"),
                )
            },
            CoreError::Unauthenticated { .. } => Self::new(
                code,
                message,
                "connect with the header `Authorization: Bearer <token>` (websocat \
                 -H='Authorization: Bearer <token>' ws://.../ws), the `bearer.<token>` \
                 subprotocol, or ?token=<token>"
                    .into(),
            ),
            CoreError::PermissionDenied { .. } => {
                Self::new(code, message, "use a token with a higher role".into())
            }
            CoreError::DeadlineExceeded => Self::new(
                code,
                message,
                "nothing was written; send the command again".into(),
            ),
            CoreError::Unavailable { retry_after } => Self {
                retry_after_ms: Some(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)),
                ..Self::new(
                    code,
                    message,
                    "shared memory is not answering; send the command again in a moment".into(),
                )
            },
            CoreError::MemoryRefused => Self::new(
                code,
                message,
                "the server's shared memory refuses it; retrying will not help until an \
                 operator fixes it (see the server log)"
                    .into(),
            ),
            CoreError::ShuttingDown => {
                Self::new(code, message, "reconnect once the server is back".into())
            }
            CoreError::Internal => Self::new(
                code,
                message,
                "retry; if it keeps failing, the server log has the detail".into(),
            ),
        }
    }
}

impl From<ParseError> for ErrorBody {
    fn from(error: ParseError) -> Self {
        let message = error.to_string();
        match error {
            ParseError::Unrecognized { closest, .. } => Self {
                field: Some("command".into()),
                ..Self::new(
                    Code::InvalidArgument,
                    message,
                    format!(
                        "closest command: {closest} (e.g. {}); {HELP_HINT}",
                        closest.example
                    ),
                )
            },
            ParseError::Invalid { field, .. } => Self {
                field: Some(field.into()),
                ..Self::new(Code::InvalidArgument, message, field_hint(field))
            },
            ParseError::UnknownRequest { closest, .. } => Self::new(
                Code::Unimplemented,
                message,
                format!(
                    "closest operation: {closest:?}; typed requests are {}, or {TEXT_KEY} \
                     carrying a command",
                    typed_operations()
                ),
            ),
        }
    }
}

fn field_hint(field: &str) -> String {
    match field {
        "task_id" => {
            "a task id is 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', e.g. 101".into()
        }
        "after" => {
            "resume after a notification id such as 1700000000000-0, or 0 for everything retained"
                .into()
        }
        "request" => format!(
            "a typed request is one JSON object naming one operation, with an optional \"id\" \
             the reply echoes, such as {}",
            ANALYZE.typed_example
        ),
        TEXT_KEY => format!(
            "{TEXT_KEY} is a command as a JSON string, e.g. {{\"{TEXT_KEY}\": \"{}\"}}",
            PROGRESS.forms[0].example
        ),
        field if field.starts_with("data") => {
            format!("data is a JSON list, e.g. {}", ANALYZE.forms[0].example)
        }
        _ => HELP_HINT.into(),
    }
}

fn reason_hint(reason: &str) -> String {
    match reason {
        reason::ANALYSIS_MISSING => {
            format!("analyze the task first: {}", ANALYZE.forms[0].grammar)
        }
        reason::MESSAGE_TOO_LARGE => "send a smaller frame".into(),
        _ => HELP_HINT.into(),
    }
}

/// The typed names of the operations, as a sentence lists them: `analyze, ... and help`.
fn typed_operations() -> String {
    let names: Vec<&str> = OPERATIONS.iter().map(|operation| operation.typed).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, others)) => format!("{} and {last}", others.join(", ")),
        None => String::new(),
    }
}

/// What a command produced, before it is rendered for the form it came in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Analysis(Analysis),
    Narrative(Narrative),
    Progress(Progress),
    /// A watch started; `task_id` empty is every task. `replaced` is the task id of the watch it
    /// replaced, if one was active.
    Watching {
        task_id: String,
        after: String,
        replaced: Option<String>,
    },
    /// The watch stopped; `None` if there was none.
    Unwatched(Option<String>),
    Help,
    /// A task was deleted (`deleted` false: it had nothing stored).
    Deleted {
        task_id: String,
        deleted: bool,
    },
    /// A task as stored (boxed: far larger than the other outcomes).
    Task(Box<TaskDetails>),
    /// A report stored.
    Report(Box<Report>),
    /// A page of tasks.
    Tasks(TaskList),
}

/// The reply to a natural-language command.
pub(crate) fn text_reply(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Analysis(analysis) => python_json(&AnalysisBody::of(analysis)),
        Outcome::Narrative(narrative) => narrative.narrative.clone(),
        Outcome::Progress(progress) => python_json(&ProgressBody::of(progress)),
        Outcome::Watching {
            task_id,
            after,
            replaced,
        } => {
            let mut text = String::new();
            if let Some(old) = replaced {
                text.push_str(&format!("Stopped watching {}. ", target(old)));
            }
            text.push_str(&format!("Watching {}", target(task_id)));
            text.push_str(&match after.trim() {
                "" => ": new events only.".to_owned(),
                "0" => ": every retained event, then new ones.".to_owned(),
                after => format!(": every event after {after}, then new ones."),
            });
            text.push_str(&format!(
                " Notifications arrive as {{\"notification\": ...}} frames; send \"{}\" to stop.",
                UNWATCH.forms[0].example
            ));
            text
        }
        Outcome::Unwatched(Some(task_id)) => format!("Stopped watching {}.", target(task_id)),
        Outcome::Unwatched(None) => "Not watching anything.".to_owned(),
        Outcome::Help => help_text(),
        Outcome::Deleted { task_id, deleted } => python_json(&DeletedBody {
            task_id,
            deleted: *deleted,
        }),
        Outcome::Task(task) => python_json(&TaskResult::of(task)),
        Outcome::Report(report) => python_json(&ReportResult::of(report)),
        Outcome::Tasks(list) => python_json(&TaskListResult::of(list)),
    }
}

/// An error frame for a natural-language command or an unreadable frame.
pub(crate) fn error_frame(error: &ErrorBody) -> String {
    typed_reply(None, None, Err(error))
}

/// The reply to a typed request; `operation` is the typed name of the operation a text in a
/// typed frame named, which the client did not.
pub(crate) fn typed_reply(
    id: Option<&Value>,
    operation: Option<&str>,
    outcome: Result<&Outcome, &ErrorBody>,
) -> String {
    #[derive(Serialize)]
    struct Success<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        operation: Option<&'a str>,
        result: ResultBody<'a>,
    }
    #[derive(Serialize)]
    struct Failure<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        operation: Option<&'a str>,
        error: &'a ErrorBody,
    }
    match outcome {
        Ok(outcome) => python_json(&Success {
            id,
            operation,
            result: ResultBody::of(outcome),
        }),
        Err(error) => python_json(&Failure {
            id,
            operation,
            error,
        }),
    }
}

/// A push for the active watch: `{"notification": {...}}`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "NotificationFrame", deny_unknown_fields)]
pub(super) struct NotificationFrame<'a> {
    notification: NotificationBody<'a>,
}

/// One agent write, as the gRPC stream's `Notification` carries it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Notification", deny_unknown_fields)]
struct NotificationBody<'a> {
    /// The resume token: `Watch ... from <id>` goes on strictly after it. The notification's
    /// id (`<ms>-<seq>`), except on a watch of every task in cluster mode, where it is where
    /// the watch stands in every partition (`v1:<p>=<ms>-<seq>,...`); opaque either way.
    id: String,
    task_id: &'a str,
    /// `TechAgent`, `ConceptAgent`, `TaskAgent`, or `Rift` for notices about the stream.
    agent: &'a str,
    /// `analysis_stored`, `narrative_stored`, `progress_completed`, `task_deleted`, or
    /// `history_truncated`.
    action: &'a str,
    /// The write's details, by action.
    payload: &'a Map<String, Value>,
    /// RFC 3339, UTC, from the id: the Timestamp gRPC sends, in its JSON form.
    time: String,
    /// The writer's W3C trace context, when it was traced.
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
}

/// A notification of the active watch. `id` is the resume token, as on the gRPC stream: the
/// notification's id, or `token` when the subscription gave another
/// ([`crate::domain::Published::resume_token`]).
pub(crate) fn notification_frame(notification: &Notification, token: Option<&str>) -> String {
    python_json(&NotificationFrame {
        notification: NotificationBody {
            id: token.map_or_else(|| notification.id.to_string(), str::to_owned),
            task_id: &notification.task_id,
            agent: &notification.agent,
            action: &notification.action,
            payload: &notification.payload,
            time: rfc3339(notification.id),
            traceparent: notification.traceparent.as_deref(),
        },
    })
}

/// The push when the active watch stops on an error: `{"watch_ended": {...}}`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WatchEndedFrame", deny_unknown_fields)]
pub(super) struct WatchEndedFrame<'a> {
    watch_ended: WatchEndedBody<'a>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WatchEnded", deny_unknown_fields)]
struct WatchEndedBody<'a> {
    /// The watch's task id; empty: every task.
    task_id: &'a str,
    /// Where to pick the watch up again: `Watch ... from <resume_after>`.
    resume_after: &'a str,
    error: ErrorBody,
}

/// The active watch stopped on `error`; `resume_after` is where to pick it up again.
pub(crate) fn watch_ended_frame(task_id: &str, resume_after: &str, error: ErrorBody) -> String {
    let command = operations::watch_command(task_id, resume_after);
    python_json(&WatchEndedFrame {
        watch_ended: WatchEndedBody {
            task_id,
            resume_after,
            error: ErrorBody {
                hint: format!("{}; resume with: {command}", error.hint),
                ..error
            },
        },
    })
}

fn target(task_id: &str) -> String {
    if task_id.is_empty() {
        "all tasks".to_owned()
    } else {
        format!("task {task_id}")
    }
}

/// One command a line, unpadded: line-oriented clients such as websocat print a frame's
/// newlines as spaces, and the text must read well either way.
fn help_text() -> String {
    let mut text = String::from("Commands (any case, any spacing; one reply each):\n");
    for usage in operations::usages() {
        text.push_str(&format!("- {usage} (e.g. {})\n", usage.example));
    }
    text.push_str(
        "Watches push {\"notification\": {...}} frames; errors come as {\"error\": {\"code\", \
         \"message\", \"hint\"}}. Programs may send typed JSON requests instead, one operation \
         each and an optional \"id\" the reply echoes: ",
    );
    let examples: Vec<&str> = OPERATIONS
        .iter()
        .map(|operation| operation.typed_example)
        .collect();
    text.push_str(&examples.join(", "));
    text.push_str(&format!(
        "; {{\"{TEXT_KEY}\": \"<command>\", \"id\": 1}} runs a command above and replies as to \
         a typed request, naming its \"operation\"."
    ));
    text
}

/// Analysis and progress replies: the prototype's two keys first, in its order.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "AnalysisResult", deny_unknown_fields)]
pub(super) struct AnalysisBody<'a> {
    task_id: &'a str,
    summary: &'a str,
    version: u64,
    stats: &'a AnalysisStats,
}

impl<'a> AnalysisBody<'a> {
    fn of(analysis: &'a Analysis) -> Self {
        Self {
            task_id: &analysis.task_id,
            summary: &analysis.summary,
            version: analysis.version,
            stats: &analysis.stats,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "NarrativeResult", deny_unknown_fields)]
pub(super) struct NarrativeBody<'a> {
    task_id: &'a str,
    narrative: &'a str,
    analysis_version: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ProgressResult", deny_unknown_fields)]
pub(super) struct ProgressBody<'a> {
    task_id: &'a str,
    /// The prototype's spelling: `not-started`, `in-progress`, `completed`, `stale`.
    status: &'static str,
    analysis_version: u64,
    narrative_analysis_version: u64,
}

impl<'a> ProgressBody<'a> {
    fn of(progress: &'a Progress) -> Self {
        Self {
            task_id: &progress.task_id,
            status: progress.status.as_str(),
            analysis_version: progress.analysis_version,
            narrative_analysis_version: progress.narrative_analysis_version,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "WatchingResult", deny_unknown_fields)]
pub(super) struct WatchingBody<'a> {
    /// Empty: every task.
    task_id: &'a str,
    after: &'a str,
    /// The task id of the watch this one replaced (empty: all tasks); absent if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "UnwatchedResult", deny_unknown_fields)]
pub(super) struct UnwatchedBody<'a> {
    /// Whether a watch was active.
    stopped: bool,
    /// The task id it watched (empty: all tasks), if one was active.
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "HelpResult", deny_unknown_fields)]
pub(super) struct HelpBody {
    commands: Vec<HelpEntry>,
}

/// The `result` of a typed reply: one body per operation, as the table names it
/// (`Operation::result`).
#[derive(Serialize)]
#[serde(untagged)]
enum ResultBody<'a> {
    Analysis(AnalysisBody<'a>),
    Narrative(NarrativeBody<'a>),
    Progress(ProgressBody<'a>),
    Watching(WatchingBody<'a>),
    Unwatched(UnwatchedBody<'a>),
    Help(HelpBody),
    Deleted(DeletedBody<'a>),
    Task(TaskResult<'a>),
    Tasks(TaskListResult<'a>),
    Report(ReportResult<'a>),
}

/// ReportAgent's report (`report`): the prototype's `task_id` first.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(super) struct ReportResult<'a> {
    task_id: &'a str,
    /// The analysis version whose items were profiled.
    analysis_version: u64,
    profile: &'a Profile,
    /// Self-contained SVG charts.
    charts: &'a [Chart],
}

impl<'a> ReportResult<'a> {
    fn of(report: &'a Report) -> Self {
        Self {
            task_id: &report.task_id,
            analysis_version: report.analysis_version,
            profile: &report.profile,
            charts: &report.charts,
        }
    }
}

/// A task as stored (`get_task`): the prototype's `task_id` first.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(super) struct TaskResult<'a> {
    task_id: &'a str,
    /// As Progress reports it, without recording anything.
    status: &'static str,
    /// Absent when the task has no analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    analysis: Option<StoredAnalysisBody<'a>>,
    /// Absent when the task has no narrative.
    #[serde(skip_serializing_if = "Option::is_none")]
    narrative: Option<StoredNarrativeBody<'a>>,
    /// Absent when the task has no report.
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<ReportStateBody<'a>>,
    /// The task's newest notification id (empty: none): `Watch task <id> from <it>` follows
    /// the task from this read on.
    last_notification_id: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "StoredAnalysis", deny_unknown_fields)]
struct StoredAnalysisBody<'a> {
    summary: &'a str,
    version: u64,
    /// Absent when its writer kept none (the prototype).
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a AnalysisStats>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "StoredNarrative", deny_unknown_fields)]
struct StoredNarrativeBody<'a> {
    text: &'a str,
    analysis_version: u64,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "StoredReport", deny_unknown_fields)]
struct ReportStateBody<'a> {
    /// The analysis version the report profiles.
    analysis_version: u64,
    /// The task was analysed again since.
    stale: bool,
    /// With `with_report`: the profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a Profile>,
    /// With `with_report`: the charts.
    #[serde(skip_serializing_if = "<[Chart]>::is_empty")]
    charts: &'a [Chart],
}

impl<'a> ReportStateBody<'a> {
    fn of(report: &'a StoredReport) -> Self {
        Self {
            analysis_version: report.analysis_version,
            stale: report.stale,
            profile: report.profile.as_ref(),
            charts: &report.charts,
        }
    }
}

impl<'a> TaskResult<'a> {
    fn of(task: &'a TaskDetails) -> Self {
        Self {
            task_id: &task.task_id,
            status: task.status.as_str(),
            analysis: task.analysis.as_ref().map(|analysis| StoredAnalysisBody {
                summary: &analysis.summary,
                version: analysis.version,
                stats: analysis.stats.as_ref(),
            }),
            narrative: task
                .narrative
                .as_ref()
                .map(|narrative| StoredNarrativeBody {
                    text: &narrative.text,
                    analysis_version: narrative.analysis_version,
                }),
            report: task.report.as_ref().map(ReportStateBody::of),
            last_notification_id: task.last_event.map(|id| id.to_string()).unwrap_or_default(),
        }
    }
}

/// A page of tasks (`list_tasks`), most recently changed first.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(super) struct TaskListResult<'a> {
    tasks: Vec<TaskSummaryBody<'a>>,
    /// Empty on the last page; otherwise `List tasks ... from <it>` (or `page_token`) gives
    /// the next.
    next_page_token: &'a str,
    /// The newest notification id when the listing began (empty: none): `Watch all tasks from
    /// <it>` follows every change since (in cluster mode a merged `v1:` token).
    as_of: &'a str,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "TaskSummary", deny_unknown_fields)]
struct TaskSummaryBody<'a> {
    task_id: &'a str,
    status: &'static str,
    analysis_version: u64,
    narrative_analysis_version: u64,
    /// Absent when the task has no report.
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<ReportStateBody<'a>>,
    /// RFC 3339: the last change as of the listing's beginning, which orders it.
    last_change: String,
    last_notification_id: String,
}

impl<'a> TaskListResult<'a> {
    fn of(list: &'a TaskList) -> Self {
        Self {
            tasks: list
                .tasks
                .iter()
                .map(|task| TaskSummaryBody {
                    task_id: &task.task_id,
                    status: task.status.as_str(),
                    analysis_version: task.analysis_version,
                    narrative_analysis_version: task.narrative_analysis_version,
                    report: task.report.as_ref().map(ReportStateBody::of),
                    last_change: rfc3339(EventId {
                        ms: task.last_change_ms,
                        seq: 0,
                    }),
                    last_notification_id: task
                        .last_event
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                })
                .collect(),
            next_page_token: &list.next_page_token,
            as_of: &list.as_of,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DeletedResult", deny_unknown_fields)]
pub(super) struct DeletedBody<'a> {
    task_id: &'a str,
    /// False: the task had nothing stored.
    deleted: bool,
}

/// One natural-language form, as `help` lists it.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
struct HelpEntry {
    grammar: String,
    example: &'static str,
}

impl<'a> ResultBody<'a> {
    fn of(outcome: &'a Outcome) -> Self {
        match outcome {
            Outcome::Analysis(analysis) => ResultBody::Analysis(AnalysisBody::of(analysis)),
            Outcome::Narrative(narrative) => ResultBody::Narrative(NarrativeBody {
                task_id: &narrative.task_id,
                narrative: &narrative.narrative,
                analysis_version: narrative.analysis_version,
            }),
            Outcome::Progress(progress) => ResultBody::Progress(ProgressBody::of(progress)),
            Outcome::Watching {
                task_id,
                after,
                replaced,
            } => ResultBody::Watching(WatchingBody {
                task_id,
                after,
                replaced: replaced.as_deref(),
            }),
            Outcome::Unwatched(task_id) => ResultBody::Unwatched(UnwatchedBody {
                stopped: task_id.is_some(),
                task_id: task_id.as_deref(),
            }),
            Outcome::Help => ResultBody::Help(HelpBody {
                commands: operations::usages()
                    .map(|usage| HelpEntry {
                        grammar: usage.to_string(),
                        example: usage.example,
                    })
                    .collect(),
            }),
            Outcome::Deleted { task_id, deleted } => ResultBody::Deleted(DeletedBody {
                task_id,
                deleted: *deleted,
            }),
            Outcome::Task(task) => ResultBody::Task(TaskResult::of(task)),
            Outcome::Report(report) => ResultBody::Report(ReportResult::of(report)),
            Outcome::Tasks(list) => ResultBody::Tasks(TaskListResult::of(list)),
        }
    }
}

/// `2023-11-14T22:13:20.000Z` for the millisecond part of an id.
fn rfc3339(id: EventId) -> String {
    const DAY_MS: u64 = 86_400_000;
    let (days, in_day) = (id.ms / DAY_MS, id.ms % DAY_MS);
    let (year, month, day) = civil_from_days(days as i64);
    let (seconds, millis) = (in_day / 1000, in_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::domain::TaskStatus;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(frame: &str) -> Value {
        serde_json::from_str(frame).unwrap_or_else(|e| panic!("{frame}: {e}"))
    }

    #[test]
    fn analysis_reply_starts_like_the_prototypes() {
        let items = [json!("data1"), json!("data2"), json!("data3")];
        let reply = text_reply(&Outcome::Analysis(Analysis {
            task_id: "101".into(),
            summary: "Analyzed 3 items".into(),
            version: 1,
            stats: AnalysisStats::of(&items),
            epoch: "e".into(),
        }));
        assert!(
            reply.starts_with(
                r#"{"task_id": "101", "summary": "Analyzed 3 items", "version": 1, "stats": {"#
            ),
            "{reply}"
        );
    }

    #[test]
    fn narrative_reply_is_the_bare_sentence() {
        let reply = text_reply(&Outcome::Narrative(Narrative {
            task_id: "101".into(),
            narrative: "The analysis for task 101 concluded: Analyzed 3 items.".into(),
            analysis_version: 1,
            epoch: "e".into(),
        }));
        assert_eq!(
            reply,
            "The analysis for task 101 concluded: Analyzed 3 items."
        );
    }

    #[test]
    fn progress_reply_has_task_id_then_status() {
        let reply = text_reply(&Outcome::Progress(Progress {
            task_id: "101".into(),
            status: TaskStatus::Completed,
            analysis_version: 1,
            narrative_analysis_version: 1,
            epoch: "e".into(),
        }));
        assert_eq!(
            reply,
            r#"{"task_id": "101", "status": "completed", "analysis_version": 1, "narrative_analysis_version": 1}"#
        );
    }

    #[test]
    fn typed_replies_echo_the_id() {
        let outcome = Outcome::Narrative(Narrative {
            task_id: "7".into(),
            narrative: "n".into(),
            analysis_version: 2,
            epoch: "e".into(),
        });
        assert_eq!(
            parse(&typed_reply(Some(&json!(5)), None, Ok(&outcome))),
            json!({"id": 5, "result": {"task_id": "7", "narrative": "n", "analysis_version": 2}})
        );
        let error = ErrorBody::binary_frame();
        assert_eq!(
            parse(&typed_reply(Some(&json!("a")), None, Err(&error)))["id"],
            json!("a")
        );
        assert!(parse(&error_frame(&error)).get("id").is_none());
    }

    #[test]
    fn error_frames_carry_the_errors_own_code_and_a_hint() {
        let errors = [
            CoreError::invalid("task_id", "must not be empty"),
            CoreError::FailedPrecondition {
                reason: reason::ANALYSIS_MISSING,
                description: "none".into(),
            },
            CoreError::ResourceExhausted {
                reason: reason::OVERLOADED,
                description: "many".into(),
            },
            CoreError::Unavailable {
                retry_after: Duration::from_secs(1),
            },
            CoreError::MemoryRefused,
            CoreError::ShuttingDown,
            CoreError::Internal,
        ];
        for error in errors {
            let code = error.code();
            let frame = parse(&error_frame(&ErrorBody::from(error)));
            assert_eq!(frame["error"]["code"], json!(code.as_str()));
            assert!(!frame["error"]["hint"].as_str().unwrap_or("").is_empty());
        }
    }

    #[test]
    fn error_details_carry_field_reason_and_retry() {
        let frame = parse(&error_frame(&ErrorBody::from(CoreError::invalid(
            "task_id",
            "must not be empty",
        ))));
        assert_eq!(
            frame["error"]["message"],
            json!("invalid task_id: must not be empty")
        );
        assert_eq!(frame["error"]["field"], json!("task_id"));
        let frame = parse(&error_frame(&ErrorBody::from(CoreError::Unavailable {
            retry_after: Duration::from_millis(1500),
        })));
        assert_eq!(frame["error"]["retry_after_ms"], json!(1500));
        let frame = parse(&error_frame(&ErrorBody::frame_too_large(2000, 1024)));
        assert_eq!(frame["error"]["code"], json!("RESOURCE_EXHAUSTED"));
        assert_eq!(frame["error"]["reason"], json!("MESSAGE_TOO_LARGE"));
    }

    #[test]
    fn notifications_are_wrapped_and_timed() {
        let mut payload = Map::new();
        payload.insert("summary".into(), json!("Analyzed 3 items"));
        let frame = parse(&notification_frame(
            &Notification {
                id: EventId {
                    ms: 1_700_000_000_123,
                    seq: 4,
                },
                task_id: "101".into(),
                agent: "TechAgent".into(),
                action: "analysis_stored".into(),
                payload,
                traceparent: Some(TRACEPARENT.into()),
            },
            None,
        ));
        assert_eq!(
            frame,
            json!({"notification": {
                "id": "1700000000123-4",
                "task_id": "101",
                "agent": "TechAgent",
                "action": "analysis_stored",
                "payload": {"summary": "Analyzed 3 items"},
                "time": "2023-11-14T22:13:20.123Z",
                "traceparent": TRACEPARENT,
            }})
        );
    }

    #[test]
    fn rfc3339_dates() {
        let at = |ms| rfc3339(EventId { ms, seq: 0 });
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn watch_ended_says_how_to_resume() {
        let frame = parse(&watch_ended_frame(
            "101",
            "5-0",
            CoreError::Unavailable {
                retry_after: Duration::from_secs(1),
            }
            .into(),
        ));
        let body = &frame["watch_ended"];
        assert_eq!(body["resume_after"], json!("5-0"));
        assert_eq!(body["error"]["code"], json!("UNAVAILABLE"));
        assert!(
            body["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.ends_with("resume with: Watch task 101 from 5-0")),
            "{body}"
        );
    }

    #[test]
    fn help_lists_every_form_with_an_example_and_every_typed_request() {
        let help = text_reply(&Outcome::Help);
        for usage in operations::usages() {
            assert!(
                help.contains(&format!("- {usage} (e.g. {})\n", usage.example)),
                "{help}"
            );
        }
        for operation in OPERATIONS {
            assert!(help.contains(operation.typed_example), "{help}");
        }
        // DeleteTask included, marked as what only an admin may run.
        assert!(
            help.contains("- Delete task <task_id> (admin) (e.g. Delete task 101)"),
            "{help}"
        );
        assert!(
            help.contains(r#"{"delete_task": {"task_id": "101"}}"#),
            "{help}"
        );
        let typed = parse(&typed_reply(None, None, Ok(&Outcome::Help)));
        let commands = typed["result"]["commands"].as_array().expect("commands");
        assert_eq!(commands.len(), operations::usages().count());
        assert!(commands.contains(
            &json!({"grammar": "Delete task <task_id> (admin)", "example": "Delete task 101"})
        ));
    }

    #[test]
    fn hints_quote_the_table() {
        let hint_of = |error: ParseError| ErrorBody::from(error).hint;
        let unknown = hint_of(ParseError::UnknownRequest {
            kind: "x".into(),
            closest: "help",
        });
        for operation in OPERATIONS {
            assert!(unknown.contains(operation.typed), "{unknown}");
        }
        assert!(unknown.contains(TEXT_KEY), "{unknown}");
        let closest = operations::usages()
            .find(|usage| usage.example == "Delete task 101")
            .expect("DeleteTask has a form");
        assert_eq!(
            hint_of(ParseError::Unrecognized {
                input: "delet".into(),
                closest,
            }),
            "closest command: Delete task <task_id> (admin) (e.g. Delete task 101); send \"help\" \
             for the commands and their form"
        );
        let missing = ErrorBody::from(CoreError::FailedPrecondition {
            reason: reason::ANALYSIS_MISSING,
            description: "none".into(),
        });
        assert!(
            missing.hint.ends_with(ANALYZE.forms[0].grammar),
            "{}",
            missing.hint
        );
    }

    #[test]
    fn replies_to_text_in_a_typed_frame_name_the_operation() {
        let outcome = Outcome::Unwatched(None);
        assert_eq!(
            typed_reply(Some(&json!(3)), Some("unwatch"), Ok(&outcome)),
            r#"{"id": 3, "operation": "unwatch", "result": {"stopped": false}}"#
        );
        let error = ErrorBody::from(CoreError::PermissionDenied {
            description: "no".into(),
        });
        assert_eq!(
            parse(&typed_reply(None, Some("delete_task"), Err(&error)))["operation"],
            json!("delete_task")
        );
    }
}
