//! The frames the server sends, and the one mapping from errors to error frames.
//!
//! Every frame is one of:
//!
//! - a reply to a natural-language command, as the prototype sent it: the narrative as bare
//!   text; analysis and progress as JSON objects whose first key is `task_id`; `help` and watch
//!   confirmations as text;
//! - a reply to a typed request: `{"id": 7, "result": {...}}` or `{"id": 7, "error": {...}}`
//!   (`id` only when the request had one);
//! - an error for a natural-language command or an unreadable frame: `{"error": {...}}`;
//! - a push for the active watch: `{"notification": {...}}`, or `{"watch_ended": {...}}` when
//!   the watch stops on an error.
//!
//! A client tells them apart by the first key: no reply starts with `notification` or
//! `watch_ended`. Exactly one reply goes out per command frame; pushes come between replies.
//!
//! Errors are `{"code", "message", "hint"}` plus, where known, `field`, `reason` and
//! `retry_after_ms`. `code` is the gRPC canonical name of the status the same failure gets over
//! gRPC (`crate::grpc::into_status`), so clients of both transports branch on the same codes.
//!
//! JSON is laid out like Python's `json.dumps` (`", "` and `": "`), as the prototype's replies
//! were: its users grep for `"task_id": "101"`.

use serde::Serialize;
use serde_json::{Map, Value};

use super::command::{ParseError, TEMPLATES};
use crate::domain::{
    Analysis, AnalysisStats, CoreError, EventId, Narrative, Notification, Progress, reason,
    records::python_json,
};

/// gRPC canonical status names, as error frames spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Code {
    InvalidArgument,
    FailedPrecondition,
    ResourceExhausted,
    Aborted,
    Unauthenticated,
    PermissionDenied,
    DeadlineExceeded,
    Unavailable,
    /// A typed request naming an operation that does not exist, as gRPC answers an unknown
    /// method.
    Unimplemented,
    Internal,
}

impl Code {
    /// The name as the frame spells it, for metrics and logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Aborted => "ABORTED",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
        }
    }
}

/// The body of every error frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ErrorBody {
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

/// The one mapping from domain errors to error frames; codes mirror `crate::grpc::into_status`.
impl From<CoreError> for ErrorBody {
    fn from(error: CoreError) -> Self {
        let message = error.to_string();
        match error {
            CoreError::InvalidArgument { field, .. } => Self {
                hint: field_hint(&field).to_owned(),
                field: Some(field),
                ..Self::new(Code::InvalidArgument, message, String::new())
            },
            CoreError::FailedPrecondition { reason, .. } => Self {
                reason: Some(reason),
                ..Self::new(
                    Code::FailedPrecondition,
                    message,
                    reason_hint(reason).to_owned(),
                )
            },
            CoreError::ResourceExhausted { reason, .. } => Self {
                reason: Some(reason),
                ..Self::new(
                    Code::ResourceExhausted,
                    message,
                    reason_hint(reason).to_owned(),
                )
            },
            CoreError::Aborted {
                reason,
                current_version,
                ..
            } => Self {
                reason: Some(reason),
                current_version: Some(current_version),
                ..Self::new(
                    Code::Aborted,
                    message,
                    format!("read the task again; its current version is {current_version}"),
                )
            },
            CoreError::EpochChanged { .. } => Self {
                reason: Some(reason::EPOCH_CHANGED),
                ..Self::new(
                    Code::Aborted,
                    message,
                    "memory lost its history since; read the task again, then decide".into(),
                )
            },
            CoreError::SubscriberTooSlow { resume_after } => Self {
                reason: Some(reason::SUBSCRIBER_TOO_SLOW),
                ..Self::new(
                    Code::ResourceExhausted,
                    message,
                    format!("read notifications faster; resume with `from {resume_after}`"),
                )
            },
            CoreError::Unauthenticated { .. } => Self::new(
                Code::Unauthenticated,
                message,
                "connect with `Authorization: Bearer <token>` (websocat -H), the \
                 `bearer.<token>` subprotocol, or ?token=<token>"
                    .into(),
            ),
            CoreError::PermissionDenied { .. } => Self::new(
                Code::PermissionDenied,
                message,
                "use a token with a higher role".into(),
            ),
            CoreError::DeadlineExceeded => Self::new(
                Code::DeadlineExceeded,
                message,
                "nothing was written; send the command again".into(),
            ),
            CoreError::Unavailable { retry_after } => Self {
                retry_after_ms: Some(u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX)),
                ..Self::new(
                    Code::Unavailable,
                    message,
                    "shared memory is not answering; send the command again in a moment".into(),
                )
            },
            CoreError::ShuttingDown => Self::new(
                Code::Unavailable,
                message,
                "reconnect once the server is back".into(),
            ),
            CoreError::Internal => Self::new(
                Code::Internal,
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
                        "closest command: {} (e.g. {}); {HELP_HINT}",
                        closest.grammar, closest.example
                    ),
                )
            },
            ParseError::Invalid { field, .. } => Self {
                field: Some(field.into()),
                ..Self::new(Code::InvalidArgument, message, field_hint(field).to_owned())
            },
            ParseError::UnknownRequest { closest, .. } => Self::new(
                Code::Unimplemented,
                message,
                format!(
                    "closest operation: {closest:?}; typed requests are analyze, narrate, \
                     progress, watch, unwatch and help"
                ),
            ),
        }
    }
}

fn field_hint(field: &str) -> &'static str {
    match field {
        "task_id" => "a task id is 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', e.g. 101",
        "after" => {
            "resume after a notification id such as 1700000000000-0, or 0 for everything retained"
        }
        "request" => {
            r#"a typed request is one JSON object such as {"analyze": {"task_id": "101", "data": ["data1"]}, "id": 1}"#
        }
        field if field.starts_with("data") => {
            r#"data is a JSON list, e.g. Analyze data for task 101 with data: ["data1", "data2", "data3"]"#
        }
        _ => HELP_HINT,
    }
}

fn reason_hint(reason: &str) -> &'static str {
    match reason {
        reason::ANALYSIS_MISSING => {
            "analyze the task first: Analyze data for task <task_id> with data: <JSON list>"
        }
        reason::MESSAGE_TOO_LARGE => "send a smaller frame",
        _ => HELP_HINT,
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
            text.push_str(
                " Notifications arrive as {\"notification\": ...} frames; \
                 send \"Stop watching\" to stop.",
            );
            text
        }
        Outcome::Unwatched(Some(task_id)) => format!("Stopped watching {}.", target(task_id)),
        Outcome::Unwatched(None) => "Not watching anything.".to_owned(),
        Outcome::Help => help_text(),
        Outcome::Deleted { task_id, deleted } => python_json(&DeletedBody {
            task_id,
            deleted: *deleted,
        }),
    }
}

/// An error frame for a natural-language command or an unreadable frame.
pub(crate) fn error_frame(error: &ErrorBody) -> String {
    typed_reply(None, Err(error))
}

/// The reply to a typed request.
pub(crate) fn typed_reply(id: Option<&Value>, outcome: Result<&Outcome, &ErrorBody>) -> String {
    #[derive(Serialize)]
    struct Success<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        result: ResultBody<'a>,
    }
    #[derive(Serialize)]
    struct Failure<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a Value>,
        error: &'a ErrorBody,
    }
    match outcome {
        Ok(outcome) => python_json(&Success {
            id,
            result: ResultBody::of(outcome),
        }),
        Err(error) => python_json(&Failure { id, error }),
    }
}

/// A notification of the active watch. `id` is the resume token, as on the gRPC stream.
pub(crate) fn notification_frame(notification: &Notification) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        notification: Body<'a>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        id: String,
        task_id: &'a str,
        agent: &'a str,
        action: &'a str,
        payload: &'a Map<String, Value>,
        /// RFC 3339, UTC, from the id: the Timestamp gRPC sends, in its JSON form.
        time: String,
    }
    python_json(&Frame {
        notification: Body {
            id: notification.id.to_string(),
            task_id: &notification.task_id,
            agent: &notification.agent,
            action: &notification.action,
            payload: &notification.payload,
            time: rfc3339(notification.id),
        },
    })
}

/// The active watch stopped on `error`; `resume_after` is where to pick it up again.
pub(crate) fn watch_ended_frame(task_id: &str, resume_after: &str, error: ErrorBody) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        watch_ended: Body<'a>,
    }
    #[derive(Serialize)]
    struct Body<'a> {
        task_id: &'a str,
        resume_after: &'a str,
        error: ErrorBody,
    }
    let command = match (task_id, resume_after) {
        ("", "") => "Watch all tasks".to_owned(),
        ("", after) => format!("Watch all tasks from {after}"),
        (task, "") => format!("Watch task {task}"),
        (task, after) => format!("Watch task {task} from {after}"),
    };
    python_json(&Frame {
        watch_ended: Body {
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
    for template in TEMPLATES {
        text.push_str(&format!(
            "- {} (e.g. {})\n",
            template.grammar, template.example
        ));
    }
    text.push_str(
        "Watches push {\"notification\": {...}} frames; errors come as {\"error\": {\"code\", \
         \"message\", \"hint\"}}. Programs may send typed JSON requests, with an optional id the \
         reply echoes: {\"analyze\": {\"task_id\": \"101\", \"data\": [\"data1\"]}, \"id\": 1}; \
         likewise narrate and progress {\"task_id\"}, watch {\"task_id\", \"after\"}, unwatch {}, \
         help {}.",
    );
    text
}

/// Analysis and progress replies: the prototype's two keys first, in its order.
#[derive(Serialize)]
struct AnalysisBody<'a> {
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

#[derive(Serialize)]
struct ProgressBody<'a> {
    task_id: &'a str,
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

/// The `result` of a typed reply.
#[derive(Serialize)]
#[serde(untagged)]
enum ResultBody<'a> {
    Analysis(AnalysisBody<'a>),
    Narrative {
        task_id: &'a str,
        narrative: &'a str,
        analysis_version: u64,
    },
    Progress(ProgressBody<'a>),
    Watching {
        /// Empty: every task.
        task_id: &'a str,
        after: &'a str,
        /// The task id of the watch this one replaced (empty: all tasks); absent if none.
        #[serde(skip_serializing_if = "Option::is_none")]
        replaced: Option<&'a str>,
    },
    Unwatched {
        stopped: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        task_id: Option<&'a str>,
    },
    Help {
        commands: Vec<HelpEntry>,
    },
    Deleted(DeletedBody<'a>),
}

#[derive(Serialize)]
struct DeletedBody<'a> {
    task_id: &'a str,
    deleted: bool,
}

#[derive(Serialize)]
struct HelpEntry {
    grammar: &'static str,
    example: &'static str,
}

impl<'a> ResultBody<'a> {
    fn of(outcome: &'a Outcome) -> Self {
        match outcome {
            Outcome::Analysis(analysis) => ResultBody::Analysis(AnalysisBody::of(analysis)),
            Outcome::Narrative(narrative) => ResultBody::Narrative {
                task_id: &narrative.task_id,
                narrative: &narrative.narrative,
                analysis_version: narrative.analysis_version,
            },
            Outcome::Progress(progress) => ResultBody::Progress(ProgressBody::of(progress)),
            Outcome::Watching {
                task_id,
                after,
                replaced,
            } => ResultBody::Watching {
                task_id,
                after,
                replaced: replaced.as_deref(),
            },
            Outcome::Unwatched(task_id) => ResultBody::Unwatched {
                stopped: task_id.is_some(),
                task_id: task_id.as_deref(),
            },
            Outcome::Help => ResultBody::Help {
                commands: TEMPLATES
                    .iter()
                    .map(|t| HelpEntry {
                        grammar: t.grammar,
                        example: t.example,
                    })
                    .collect(),
            },
            Outcome::Deleted { task_id, deleted } => ResultBody::Deleted(DeletedBody {
                task_id,
                deleted: *deleted,
            }),
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

    fn parse(frame: &str) -> Value {
        serde_json::from_str(frame).unwrap_or_else(|e| panic!("{frame}: {e}"))
    }

    #[test]
    fn code_names_are_the_serialized_names() {
        for code in [
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::ResourceExhausted,
            Code::Aborted,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::DeadlineExceeded,
            Code::Unavailable,
            Code::Unimplemented,
            Code::Internal,
        ] {
            assert_eq!(json!(code), json!(code.as_str()));
        }
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
            parse(&typed_reply(Some(&json!(5)), Ok(&outcome))),
            json!({"id": 5, "result": {"task_id": "7", "narrative": "n", "analysis_version": 2}})
        );
        let error = ErrorBody::binary_frame();
        assert_eq!(
            parse(&typed_reply(Some(&json!("a")), Err(&error)))["id"],
            json!("a")
        );
        assert!(parse(&error_frame(&error)).get("id").is_none());
    }

    #[test]
    fn codes_match_the_grpc_mapping() {
        let cases = [
            (
                CoreError::invalid("task_id", "must not be empty"),
                "INVALID_ARGUMENT",
            ),
            (
                CoreError::FailedPrecondition {
                    reason: reason::ANALYSIS_MISSING,
                    description: "none".into(),
                },
                "FAILED_PRECONDITION",
            ),
            (
                CoreError::ResourceExhausted {
                    reason: reason::TOO_MANY_ITEMS,
                    description: "many".into(),
                },
                "RESOURCE_EXHAUSTED",
            ),
            (
                CoreError::Unavailable {
                    retry_after: Duration::from_secs(1),
                },
                "UNAVAILABLE",
            ),
            (CoreError::ShuttingDown, "UNAVAILABLE"),
            (CoreError::Internal, "INTERNAL"),
        ];
        for (error, code) in cases {
            let status = crate::grpc::into_status(error.clone());
            let frame = parse(&error_frame(&ErrorBody::from(error)));
            assert_eq!(frame["error"]["code"], json!(code));
            // The gRPC code's name, e.g. InvalidArgument, is the same word in another case.
            assert_eq!(
                format!("{:?}", status.code()).to_lowercase(),
                code.replace('_', "").to_lowercase()
            );
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
        let frame = parse(&notification_frame(&Notification {
            id: EventId {
                ms: 1_700_000_000_123,
                seq: 4,
            },
            task_id: "101".into(),
            agent: "TechAgent".into(),
            action: "analysis_stored".into(),
            payload,
        }));
        assert_eq!(
            frame,
            json!({"notification": {
                "id": "1700000000123-4",
                "task_id": "101",
                "agent": "TechAgent",
                "action": "analysis_stored",
                "payload": {"summary": "Analyzed 3 items"},
                "time": "2023-11-14T22:13:20.123Z",
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
    fn help_lists_every_command_with_an_example() {
        let help = text_reply(&Outcome::Help);
        for template in TEMPLATES {
            assert!(help.contains(template.grammar), "{help}");
            assert!(help.contains(template.example), "{help}");
        }
    }
}
