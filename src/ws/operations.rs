//! The one table of the adapter's operations ([`OPERATIONS`]): for each, its name, its
//! natural-language forms, its typed request and the access it needs. The parser, `help`, the
//! hints that quote a command and the closest-command suggestions are all read from it.
//!
//! A frame comes in one of three forms, all reaching the same [`Command`]s:
//!
//! - **natural language**, for a person at `websocat`: `Check progress for task 101`. Keywords
//!   match in any case and with any whitespace between them; task ids, resume tokens and data
//!   are taken as written. An operation's [`Form`]s are its grammar.
//! - **a typed request**, for programs: one JSON object naming one operation by its typed name,
//!   with an optional `id` the reply echoes and an optional `traceparent`, the caller's W3C
//!   trace context (`crate::traces`): `{"progress": {"task_id": "101"}, "id": 7}`. A
//!   missing field is its empty value, as in protobuf, so a typed request and the matching gRPC
//!   call are refused alike.
//! - **text in a typed frame**, for a page or a program passing on what a person typed:
//!   `{"text": "Check progress for task 101", "id": 7}` is parsed as natural language and
//!   answered as a typed request, with the `operation` the text named. The dashboard sends its
//!   command box this way, so the grammar, its errors and its hints exist only here.
//!
//! A frame whose first non-blank character is `{` is typed; anything else is natural language.
//!
//! # Adding an operation
//!
//! A [`Command`] variant; a const [`Operation`] below (its forms and their readers, its typed
//! body and example, and the schemas of that body and of its reply's result), listed in
//! [`OPERATIONS`]; what it does in `connection` and how its reply reads in `frame`. Help,
//! hints, suggestions, the typed names, the AsyncAPI document (`asyncapi`) and the `operation`
//! label of metrics and logs follow from the table. A typed body is a serde struct beside its
//! operation and a result a serde struct in `frame`, both deriving `JsonSchema`, so the
//! document's schemas are those of the types the adapter really reads and writes.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::{
    command::{self, Command, MAX_DATA_DEPTH, ParseError, Usage, Words, is_blank, split_at_word},
    frame,
};
use crate::domain::auth::{self, Role};

/// One operation of the adapter.
#[derive(Debug)]
pub(crate) struct Operation {
    /// Its `operation` label in metrics and logs: gRPC's method name where there is one.
    pub(crate) name: &'static str,
    /// The key naming it in a typed request: `{"<typed>": {...}}`.
    pub(crate) typed: &'static str,
    /// How the domain authorizes it; `None`: nothing to authorize (it touches only the
    /// connection's own state).
    access: Option<auth::Operation>,
    /// Its natural-language forms, in the order `help` lists them; at least one.
    pub(crate) forms: &'static [Form],
    /// A typed request for it, as `help` shows it.
    pub(crate) typed_example: &'static str,
    /// Reads the body of its typed request.
    read_body: fn(Value) -> Result<Command, BodyError>,
    /// The JSON Schema of that body, from the struct `read_body` reads it into: the AsyncAPI
    /// document (`asyncapi`) is made from it.
    pub(crate) body_schema: fn(&mut SchemaGenerator) -> Schema,
    /// The JSON Schema of the `result` its typed reply carries (a body in `frame`).
    pub(crate) result_schema: fn(&mut SchemaGenerator) -> Schema,
}

impl Operation {
    /// The least role that may run it.
    pub(crate) fn role(&self) -> Role {
        self.access
            .map_or(Role::Reader, |access| access.required_role())
    }

    fn usage(&self, form: &Form) -> Usage {
        Usage {
            grammar: form.grammar,
            example: form.example,
            role: self.role(),
        }
    }
}

/// One natural-language form of an operation.
#[derive(Debug)]
pub(crate) struct Form {
    /// As `help` shows it: keywords, `<placeholders>` and `[optional parts]`.
    pub(crate) grammar: &'static str,
    pub(crate) example: &'static str,
    /// The leading keywords, lowercase; `[word]` is optional. No two forms' keywords match the
    /// same text, so the order forms are tried in does not matter.
    keywords: &'static str,
    /// Reads what follows the keywords; `Ok(None)` when the text only starts like this form,
    /// which makes it an unrecognized command.
    read: fn(&str) -> Result<Option<Command>, ParseError>,
}

/// Every operation, in the order `help` lists them.
pub(crate) const OPERATIONS: &[Operation] = &[
    ANALYZE,
    NARRATE,
    REPORT,
    PROGRESS,
    WATCH,
    UNWATCH,
    GET_TASK,
    LIST_TASKS,
    HELP,
    DELETE_TASK,
];

pub(crate) const ANALYZE: Operation = Operation {
    name: "Analyze",
    typed: "analyze",
    access: Some(auth::Operation::Analyze),
    forms: &[Form {
        grammar: "Analyze data for task <task_id> with data: <JSON list>",
        example: r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#,
        keywords: "analyze [data] for task",
        read: read_analyze,
    }],
    typed_example: r#"{"analyze": {"task_id": "101", "data": ["data1"]}}"#,
    read_body: |body| {
        let AnalyzeBody {
            task_id,
            data,
            request_id,
            expected_version,
        } = fields(body)?;
        Ok(Command::Analyze {
            task_id,
            data: command::data_list(data)?,
            request_id,
            expected_version,
        })
    },
    body_schema: |generator| generator.subschema_for::<AnalyzeBody>(),
    result_schema: |generator| generator.subschema_for::<frame::AnalysisBody<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AnalyzeBody {
    #[serde(default)]
    task_id: String,
    /// The items: a JSON list of any JSON values.
    #[serde(default = "empty_list")]
    #[schemars(with = "Vec<Value>")]
    data: Value,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

/// `<task_id> with data: <JSON list>`, after the keywords.
fn read_analyze(rest: &str) -> Result<Option<Command>, ParseError> {
    let mut search = rest;
    loop {
        let Some((before, after)) = split_at_word(search, "with") else {
            return Err(ParseError::invalid(
                "data",
                "missing `with data: <JSON list>` after the task id",
            ));
        };
        let mut tail = Words::new(after);
        if tail.eat("data") {
            // The colon is the prototype's; tolerate its absence like extra spaces.
            let json = tail.rest.trim_start();
            let json = json.strip_prefix(':').unwrap_or(json);
            let id_end = rest.len() - search.len() + before.len();
            return Ok(Some(Command::Analyze {
                task_id: rest[..id_end].trim().to_owned(),
                data: command::parse_data_text(json)?,
                request_id: String::new(),
                expected_version: None,
            }));
        }
        search = after;
    }
}

pub(crate) const NARRATE: Operation = Operation {
    name: "Narrate",
    typed: "narrate",
    access: Some(auth::Operation::Narrate),
    forms: &[Form {
        grammar: "Generate a narrative for task <task_id>",
        example: "Generate a narrative for task 101",
        keywords: "generate [a] narrative for task",
        read: |rest| {
            Ok(Some(Command::Narrate {
                task_id: task_id_at_end(rest, NARRATE.forms[0].example)?,
                request_id: String::new(),
            }))
        },
    }],
    typed_example: r#"{"narrate": {"task_id": "101"}}"#,
    read_body: |body| {
        let NarrateBody {
            task_id,
            request_id,
        } = fields(body)?;
        Ok(Command::Narrate {
            task_id,
            request_id,
        })
    },
    body_schema: |generator| generator.subschema_for::<NarrateBody>(),
    result_schema: |generator| generator.subschema_for::<frame::NarrativeBody<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NarrateBody {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    request_id: String,
}

pub(crate) const PROGRESS: Operation = Operation {
    name: "Progress",
    typed: "progress",
    access: Some(auth::Operation::Progress),
    forms: &[Form {
        grammar: "Check progress for task <task_id>",
        example: "Check progress for task 101",
        keywords: "check progress for task",
        read: |rest| {
            Ok(Some(Command::Progress {
                task_id: task_id_at_end(rest, PROGRESS.forms[0].example)?,
            }))
        },
    }],
    typed_example: r#"{"progress": {"task_id": "101"}}"#,
    read_body: |body| {
        let TaskBody { task_id } = fields(body)?;
        Ok(Command::Progress { task_id })
    },
    body_schema: |generator| generator.subschema_for::<TaskBody>(),
    result_schema: |generator| generator.subschema_for::<frame::ProgressBody<'static>>(),
};

/// The task id a command ends with. A sentence's closing `.`, `?` or `!` after it is
/// punctuation, not part of the id (`Check progress for task 101.` is about task 101); any
/// other text after it is refused with the command's example, never taken for another task.
fn task_id_at_end(rest: &str, example: &str) -> Result<String, ParseError> {
    let text = without_closing_punctuation(rest);
    let mut words = text.split_whitespace();
    let task_id = words.next().unwrap_or_default();
    if let Some(extra) = words.next() {
        return Err(ParseError::invalid(
            "task_id",
            format!(
                "invalid task_id: unexpected {extra:?} after the task id {task_id:?}; the \
                 command ends with its task id, as in `{example}`"
            ),
        ));
    }
    Ok(task_id.to_owned())
}

/// `text` trimmed, without the `.`, `?` and `!` that close a sentence.
fn without_closing_punctuation(text: &str) -> &str {
    text.trim().trim_end_matches(['.', '?', '!']).trim_end()
}

pub(crate) const GET_TASK: Operation = Operation {
    name: "GetTask",
    typed: "get_task",
    access: Some(auth::Operation::GetTask),
    forms: &[Form {
        grammar: "Show task <task_id>",
        example: "Show task 101",
        keywords: "show task",
        read: |rest| {
            Ok(Some(Command::GetTask {
                task_id: task_id_at_end(rest, GET_TASK.forms[0].example)?,
                with_report: false,
            }))
        },
    }],
    typed_example: r#"{"get_task": {"task_id": "101", "with_report": true}}"#,
    read_body: |body| {
        let GetTaskBody {
            task_id,
            with_report,
        } = fields(body)?;
        Ok(Command::GetTask {
            task_id,
            with_report,
        })
    },
    body_schema: |generator| generator.subschema_for::<GetTaskBody>(),
    result_schema: |generator| generator.subschema_for::<frame::TaskResult<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetTaskBody {
    #[serde(default)]
    task_id: String,
    /// Also the stored report's profile and charts.
    #[serde(default)]
    with_report: bool,
}

pub(crate) const REPORT: Operation = Operation {
    name: "Report",
    typed: "report",
    access: Some(auth::Operation::Report),
    forms: &[Form {
        grammar: "Generate a report for task <task_id>",
        example: "Generate a report for task 101",
        keywords: "generate [a] report for task",
        read: |rest| {
            Ok(Some(Command::Report {
                task_id: task_id_at_end(rest, REPORT.forms[0].example)?,
            }))
        },
    }],
    typed_example: r#"{"report": {"task_id": "101"}}"#,
    read_body: |body| {
        let TaskBody { task_id } = fields(body)?;
        Ok(Command::Report { task_id })
    },
    body_schema: |generator| generator.subschema_for::<TaskBody>(),
    result_schema: |generator| generator.subschema_for::<frame::ReportResult<'static>>(),
};

pub(crate) const LIST_TASKS: Operation = Operation {
    name: "ListTasks",
    typed: "list_tasks",
    access: Some(auth::Operation::ListTasks),
    forms: &[Form {
        grammar: "List tasks [with status <status>] [from <page token>]",
        example: "List tasks with status stale",
        keywords: "list tasks",
        read: read_list_tasks,
    }],
    typed_example: r#"{"list_tasks": {"page_size": 50, "status": "stale"}}"#,
    read_body: |body| {
        let ListTasksBody {
            page_size,
            page_token,
            status,
        } = fields(body)?;
        Ok(Command::ListTasks {
            page_size,
            page_token,
            status,
        })
    },
    body_schema: |generator| generator.subschema_for::<ListTasksBody>(),
    result_schema: |generator| generator.subschema_for::<frame::TaskListResult<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListTasksBody {
    /// 0: 50; at most 1000.
    #[serde(default)]
    page_size: i64,
    /// The `next_page_token` of the previous page; empty to begin.
    #[serde(default)]
    page_token: String,
    /// `not-started`, `in-progress`, `completed` or `stale`; empty for all.
    #[serde(default)]
    status: String,
}

/// `[with status <status>] [from <page token>]`, after `list tasks`; `None` for anything else.
fn read_list_tasks(rest: &str) -> Result<Option<Command>, ParseError> {
    let mut words = Words::new(without_closing_punctuation(rest));
    let mut status = String::new();
    let mut page_token = String::new();
    if words.eat("with") {
        if !words.eat("status") {
            return Ok(None);
        }
        let (word, after) = first_word(words.rest);
        if word.is_empty() {
            return Err(ParseError::invalid(
                "status",
                "invalid status: `with status` needs one of not-started, in-progress, \
                 completed, stale",
            ));
        }
        status = word.to_owned();
        words = Words::new(after);
    }
    if words.eat("from") {
        let (word, after) = first_word(words.rest);
        if word.is_empty() {
            return Err(ParseError::invalid(
                "page_token",
                "invalid page_token: `from` needs the next page token of an earlier listing",
            ));
        }
        page_token = word.to_owned();
        words = Words::new(after);
    }
    if !is_blank(words.rest) {
        return Ok(None);
    }
    Ok(Some(Command::ListTasks {
        page_size: 0,
        page_token,
        status,
    }))
}

/// The first whitespace-separated word of `text`, and what follows it.
fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    text.split_at(end)
}

/// The body of operations on one task.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    #[serde(default)]
    task_id: String,
}

pub(crate) const WATCH: Operation = Operation {
    name: "Watch",
    typed: "watch",
    access: Some(auth::Operation::Subscribe),
    forms: &[
        Form {
            grammar: "Watch task <task_id> [from <notification id>]",
            example: "Watch task 101",
            keywords: "watch task",
            read: read_watch_task,
        },
        Form {
            grammar: "Watch all tasks [from <notification id>]",
            example: "Watch all tasks from 0",
            keywords: "watch all tasks",
            // "Watch all tasks 101" is neither form: say which command it resembles.
            read: |rest| {
                Ok(resume_clause(rest)?.map(|after| Command::Watch {
                    task_id: String::new(),
                    after,
                }))
            },
        },
    ],
    typed_example: r#"{"watch": {"task_id": "101", "after": "0"}}"#,
    read_body: |body| {
        let WatchBody { task_id, after } = fields(body)?;
        Ok(Command::Watch { task_id, after })
    },
    body_schema: |generator| generator.subschema_for::<WatchBody>(),
    result_schema: |generator| generator.subschema_for::<frame::WatchingBody<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WatchBody {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    after: String,
}

/// The command that watches `task_id` (empty: every task) after `after` (empty: from now), as
/// the forms of [`WATCH`] spell it: what a client sends to pick up a watch that ended.
pub(crate) fn watch_command(task_id: &str, after: &str) -> String {
    let mut text = if task_id.is_empty() {
        "Watch all tasks".to_owned()
    } else {
        format!("Watch task {task_id}")
    };
    if !after.is_empty() {
        text.push_str(" from ");
        text.push_str(after);
    }
    text
}

/// `<task_id> [from <notification id>]`, after `watch task`.
fn read_watch_task(rest: &str) -> Result<Option<Command>, ParseError> {
    let (task_id, after) = match split_at_word(rest, "from") {
        Some((task_id, after)) => (task_id, resume_token(after)?),
        None => (rest, String::new()),
    };
    let task_id = task_id_at_end(task_id, WATCH.forms[0].example)?;
    let task_id = task_id.as_str();
    // An empty id means "every task" to the domain; here it is a slip, not a request for all.
    if task_id.is_empty() {
        return Err(ParseError::invalid(
            "task_id",
            "invalid task_id: must not be empty (to follow every task, send `Watch all tasks`)",
        ));
    }
    Ok(Some(Command::Watch {
        task_id: task_id.to_owned(),
        after,
    }))
}

/// Nothing (live), or `from <notification id>`; `None` when `rest` is something else.
fn resume_clause(rest: &str) -> Result<Option<String>, ParseError> {
    if is_blank(rest) {
        return Ok(Some(String::new()));
    }
    let mut words = Words::new(rest);
    if words.eat("from") {
        return resume_token(words.rest).map(Some);
    }
    Ok(None)
}

fn resume_token(text: &str) -> Result<String, ParseError> {
    let token = without_closing_punctuation(text);
    if token.is_empty() {
        return Err(ParseError::invalid(
            "after",
            "invalid after: `from` needs a notification id, or 0 for everything retained",
        ));
    }
    Ok(token.to_owned())
}

pub(crate) const UNWATCH: Operation = Operation {
    name: "Unwatch",
    typed: "unwatch",
    access: None,
    forms: &[Form {
        grammar: "Stop watching",
        example: "Stop watching",
        keywords: "stop watching",
        read: |rest| Ok(is_blank(rest).then_some(Command::Unwatch)),
    }],
    typed_example: r#"{"unwatch": {}}"#,
    read_body: |body| {
        let EmptyBody {} = fields(body)?;
        Ok(Command::Unwatch)
    },
    body_schema: |generator| generator.subschema_for::<EmptyBody>(),
    result_schema: |generator| generator.subschema_for::<frame::UnwatchedBody<'static>>(),
};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

pub(crate) const HELP: Operation = Operation {
    name: "Help",
    typed: "help",
    access: Some(auth::Operation::Help),
    forms: &[Form {
        grammar: "help",
        example: "help",
        keywords: "help",
        read: |rest| Ok(is_blank(rest).then_some(Command::Help)),
    }],
    typed_example: r#"{"help": {}}"#,
    read_body: |body| {
        let EmptyBody {} = fields(body)?;
        Ok(Command::Help)
    },
    body_schema: |generator| generator.subschema_for::<EmptyBody>(),
    result_schema: |generator| generator.subschema_for::<frame::HelpBody>(),
};

pub(crate) const DELETE_TASK: Operation = Operation {
    name: "DeleteTask",
    typed: "delete_task",
    access: Some(auth::Operation::DeleteTask),
    forms: &[Form {
        grammar: "Delete task <task_id>",
        example: "Delete task 101",
        keywords: "delete task",
        read: |rest| {
            Ok(Some(Command::DeleteTask {
                task_id: task_id_at_end(rest, DELETE_TASK.forms[0].example)?,
            }))
        },
    }],
    typed_example: r#"{"delete_task": {"task_id": "101"}}"#,
    read_body: |body| {
        let TaskBody { task_id } = fields(body)?;
        Ok(Command::DeleteTask { task_id })
    },
    body_schema: |generator| generator.subschema_for::<TaskBody>(),
    result_schema: |generator| generator.subschema_for::<frame::DeletedBody<'static>>(),
};

/// Why a typed body could not be read: its shape (named with the operation by the caller), or
/// a field the grammar's own checks refused.
#[derive(Debug)]
enum BodyError {
    Shape(serde_json::Error),
    Invalid(ParseError),
}

impl From<serde_json::Error> for BodyError {
    fn from(error: serde_json::Error) -> Self {
        Self::Shape(error)
    }
}

impl From<ParseError> for BodyError {
    fn from(error: ParseError) -> Self {
        Self::Invalid(error)
    }
}

fn fields<T: DeserializeOwned>(body: Value) -> Result<T, BodyError> {
    Ok(serde_json::from_value(body)?)
}

/// The key of a typed frame carrying natural-language text: `{"text": "<command>"}`.
pub(crate) const TEXT_KEY: &str = "text";

/// The key of a typed frame's id, which the reply echoes.
pub(crate) const ID_KEY: &str = "id";

/// The key of a typed frame's W3C trace context, beside its id.
pub(crate) const TRACEPARENT_KEY: &str = crate::traces::TRACEPARENT;

/// A command, and the operation it is one of.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) operation: &'static Operation,
    pub(crate) command: Command,
}

/// A parsed frame: which form it was in, and what it asks for.
#[derive(Debug)]
pub(crate) enum Parsed {
    Text(Result<Request, ParseError>),
    Typed {
        /// Echoed in the reply, whatever JSON it is.
        id: Option<Value>,
        /// The W3C trace context of the caller's span, beside `id`: the parent of this
        /// command's span (`crate::traces`).
        traceparent: Option<String>,
        /// For text in a typed frame that named an operation: its typed name, which the reply
        /// says, since the client did not name it.
        named: Option<&'static str>,
        request: Result<Request, ParseError>,
    },
}

/// Every natural-language form with its operation, in the order `help` lists them.
pub(crate) fn forms() -> impl Iterator<Item = (&'static Operation, &'static Form)> {
    OPERATIONS
        .iter()
        .flat_map(|operation| operation.forms.iter().map(move |form| (operation, form)))
}

/// Every natural-language form as `help` lists it.
pub(crate) fn usages() -> impl Iterator<Item = Usage> {
    forms().map(|(operation, form)| operation.usage(form))
}

/// Parses a text frame in whichever form it is.
pub(crate) fn parse_frame(text: &str) -> Parsed {
    if text.trim_start().starts_with('{') {
        parse_request(text)
    } else {
        Parsed::Text(parse_command(text))
    }
}

/// Parses a natural-language command.
pub(crate) fn parse_command(text: &str) -> Result<Request, ParseError> {
    let words = Words::new(text);
    for (operation, form) in forms() {
        let Some(rest) = words.keywords(form.keywords) else {
            continue;
        };
        if let Some(command) = (form.read)(rest)? {
            return Ok(Request { operation, command });
        }
    }
    Err(ParseError::Unrecognized {
        input: text.trim().chars().take(60).collect(),
        closest: closest_usage(text),
    })
}

/// The form `text` most resembles ([`command::distance_to`]); `help` for no words at all.
fn closest_usage(text: &str) -> Usage {
    let help = HELP.usage(&HELP.forms[0]);
    let words = command::leading_words(text);
    if words.is_empty() {
        return help;
    }
    forms()
        .map(|(operation, form)| {
            (
                command::distance_to(&words, form.keywords),
                operation.usage(form),
            )
        })
        // Compared as fractions distance/length without floating point; the first of equals
        // wins, so ties go to the form `help` lists first.
        .min_by(|((da, la), _), ((db, lb), _)| (da * lb).cmp(&(db * la)))
        .map_or(help, |(_, usage)| usage)
}

/// Parses a typed frame: the `id` to echo (once it could be read) and the request.
fn parse_request(text: &str) -> Parsed {
    let refused = |error| Parsed::Typed {
        id: None,
        traceparent: None,
        named: None,
        request: Err(error),
    };
    // The envelope adds two levels above `data`: `{"analyze": {"data": [...]}}`.
    if command::nests_deeper_than(text, MAX_DATA_DEPTH + 2) {
        return refused(command::too_deep());
    }
    let mut object: Map<String, Value> = match serde_json::from_str(text) {
        Ok(object) => object,
        Err(error) => {
            return refused(ParseError::invalid(
                "request",
                format!("a typed request is one JSON object: {error}"),
            ));
        }
    };
    let id = object.remove(ID_KEY);
    let traceparent = match object.remove(TRACEPARENT_KEY) {
        None => None,
        Some(Value::String(traceparent)) => Some(traceparent),
        Some(other) => {
            return Parsed::Typed {
                id,
                traceparent: None,
                named: None,
                request: Err(ParseError::invalid(
                    TRACEPARENT_KEY,
                    format!(
                        "the {TRACEPARENT_KEY} of a request is a W3C traceparent as a JSON \
                         string, not {}",
                        command::json_kind(&other)
                    ),
                )),
            };
        }
    };
    let (named, request) = match only_operation(object) {
        Ok((kind, body)) if kind == TEXT_KEY => {
            let request = text_of(body).and_then(|text| parse_command(&text));
            let named = request.as_ref().ok().map(|request| request.operation.typed);
            (named, request)
        }
        Ok((kind, body)) => (None, typed_request(kind, body)),
        Err(error) => (None, Err(error)),
    };
    Parsed::Typed {
        id,
        traceparent,
        named,
        request,
    }
}

/// The one operation a typed request names, and its body.
fn only_operation(object: Map<String, Value>) -> Result<(String, Value), ParseError> {
    let mut operations = object.into_iter();
    match (operations.next(), operations.next()) {
        (Some(only), None) => Ok(only),
        (None, _) => Err(ParseError::invalid(
            "request",
            format!(
                "the request names no operation: give one of {}",
                typed_names().collect::<Vec<_>>().join(", ")
            ),
        )),
        (Some((first, _)), Some((second, _))) => Err(ParseError::invalid(
            "request",
            format!("the request names several operations ({first}, {second}): send one per frame"),
        )),
    }
}

/// The names a typed request can start with: every operation's, then [`TEXT_KEY`].
pub(crate) fn typed_names() -> impl Iterator<Item = &'static str> {
    OPERATIONS
        .iter()
        .map(|operation| operation.typed)
        .chain([TEXT_KEY])
}

fn text_of(body: Value) -> Result<String, ParseError> {
    match body {
        Value::String(text) => Ok(text),
        other => Err(ParseError::invalid(
            TEXT_KEY,
            format!(
                "the {TEXT_KEY} of a request is a command as a JSON string, not {}",
                command::json_kind(&other)
            ),
        )),
    }
}

fn typed_request(kind: String, body: Value) -> Result<Request, ParseError> {
    // `{"unwatch": null}` reads as naturally as `{"unwatch": {}}`.
    let body = match body {
        Value::Null => Value::Object(Map::new()),
        // serde would also read a struct from a list; a body is an object.
        Value::Object(_) => body,
        other => {
            return Err(ParseError::invalid(
                "request",
                format!(
                    "the body of {kind} must be a JSON object, not {}",
                    command::json_kind(&other)
                ),
            ));
        }
    };
    let Some(operation) = OPERATIONS.iter().find(|operation| operation.typed == kind) else {
        let lowercase = kind.to_ascii_lowercase();
        let closest = typed_names()
            .min_by_key(|candidate| command::edit_distance(&lowercase, candidate))
            .unwrap_or(HELP.typed);
        return Err(ParseError::UnknownRequest { kind, closest });
    };
    let command = (operation.read_body)(body).map_err(|error| match error {
        BodyError::Shape(error) => {
            ParseError::invalid("request", format!("invalid {kind} request: {error}"))
        }
        BodyError::Invalid(error) => error,
    })?;
    Ok(Request { operation, command })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn command(text: &str) -> Command {
        parse_command(text)
            .map(|request| request.command)
            .unwrap_or_else(|error| panic!("{text:?}: {error:?}"))
    }

    fn refused(text: &str) -> ParseError {
        match parse_command(text) {
            Ok(request) => panic!("{text:?} parsed as {request:?}"),
            Err(error) => error,
        }
    }

    fn closest(text: &str) -> &'static str {
        match refused(text) {
            ParseError::Unrecognized { closest, .. } => closest.grammar,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    /// The id, the operation named for text in a typed frame, and the command.
    fn typed_in_full(
        text: &str,
    ) -> (
        Option<Value>,
        Option<&'static str>,
        Result<Command, ParseError>,
    ) {
        match parse_frame(text) {
            Parsed::Typed {
                id, named, request, ..
            } => (id, named, request.map(|request| request.command)),
            Parsed::Text(_) => panic!("{text:?} read as natural language"),
        }
    }

    fn typed(text: &str) -> (Option<Value>, Result<Command, ParseError>) {
        let (id, named, command) = typed_in_full(text);
        assert_eq!(named, None, "{text:?}");
        (id, command)
    }

    fn analyze(task_id: &str, data: Value) -> Command {
        Command::Analyze {
            task_id: task_id.into(),
            data: data.as_array().cloned().expect("a list"),
            request_id: String::new(),
            expected_version: None,
        }
    }

    /// The keywords of a form as a person would type them: every optional one, or none.
    fn spelled(keywords: &str, optional: bool) -> String {
        keywords
            .split(' ')
            .filter_map(
                |k| match k.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
                    Some(k) => optional.then_some(k),
                    None => Some(k),
                },
            )
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn every_form_example_is_its_own_operation_and_its_own_closest_match() {
        for (operation, form) in forms() {
            let request = parse_command(form.example)
                .unwrap_or_else(|error| panic!("{:?}: {error:?}", form.example));
            assert_eq!(
                request.operation.typed, operation.typed,
                "{:?}",
                form.example
            );
            // The example with its first word misspelled is a near miss of this form.
            let (first, rest) = form.example.split_at(form.example.find(' ').unwrap_or(4));
            let near_miss = format!("{}{rest}", &first[..first.len() - 1]);
            assert_eq!(closest(&near_miss), form.grammar, "{near_miss:?}");
        }
    }

    #[test]
    fn every_typed_example_is_its_own_operation() {
        for operation in OPERATIONS {
            let Parsed::Typed {
                named: None,
                request: Ok(request),
                ..
            } = parse_frame(operation.typed_example)
            else {
                panic!("{:?} is not a typed request", operation.typed_example);
            };
            assert_eq!(request.operation.typed, operation.typed);
        }
    }

    #[test]
    fn the_table_names_each_operation_once_and_gives_each_a_form() {
        for (i, operation) in OPERATIONS.iter().enumerate() {
            assert!(!operation.forms.is_empty(), "{}", operation.name);
            for other in &OPERATIONS[i + 1..] {
                assert_ne!(operation.name, other.name);
                assert_ne!(operation.typed, other.typed);
            }
            assert_ne!(operation.typed, TEXT_KEY);
        }
    }

    #[test]
    fn no_text_starts_with_the_keywords_of_two_forms() {
        for (_, form) in forms() {
            for optional in [true, false] {
                let text = spelled(form.keywords, optional);
                let matching: Vec<&str> = forms()
                    .filter(|(_, other)| Words::new(&text).keywords(other.keywords).is_some())
                    .map(|(_, other)| other.grammar)
                    .collect();
                assert_eq!(matching, [form.grammar], "{text:?}");
            }
        }
    }

    #[test]
    fn roles_come_from_the_domain() {
        assert_eq!(DELETE_TASK.role(), Role::Admin);
        assert_eq!(ANALYZE.role(), Role::Writer);
        assert_eq!(PROGRESS.role(), Role::Reader);
        assert_eq!(UNWATCH.role(), Role::Reader);
        let delete = usages()
            .find(|usage| usage.example == "Delete task 101")
            .expect("a form for DeleteTask");
        assert_eq!(delete.to_string(), "Delete task <task_id> (admin)");
    }

    #[test]
    fn watch_commands_are_spelled_as_the_forms_read_them() {
        for (task_id, after) in [("101", ""), ("101", "5-0"), ("", ""), ("", "0")] {
            assert_eq!(
                command(&watch_command(task_id, after)),
                Command::Watch {
                    task_id: task_id.into(),
                    after: after.into()
                }
            );
        }
        assert_eq!(watch_command("101", "5-0"), "Watch task 101 from 5-0");
    }

    #[test]
    fn typed_requests_carry_idempotency_and_versions() {
        assert_eq!(
            typed(
                r#"{"analyze": {"task_id": "1", "data": [], "request_id": "r-1", "expected_version": 2}}"#
            )
            .1,
            Ok(Command::Analyze {
                task_id: "1".into(),
                data: vec![],
                request_id: "r-1".into(),
                expected_version: Some(2),
            })
        );
        assert_eq!(
            typed(r#"{"narrate": {"task_id": "1", "request_id": "r-2"}}"#).1,
            Ok(Command::Narrate {
                task_id: "1".into(),
                request_id: "r-2".into(),
            })
        );
        assert_eq!(
            typed(r#"{"delete_task": {"task_id": "1"}}"#).1,
            Ok(Command::DeleteTask {
                task_id: "1".into()
            })
        );
        assert_eq!(
            command("DELETE  task 9"),
            Command::DeleteTask {
                task_id: "9".into()
            }
        );
    }

    #[test]
    fn the_prototype_commands() {
        assert_eq!(
            command(r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#),
            analyze("101", json!(["data1", "data2", "data3"]))
        );
        assert_eq!(
            command("Generate a narrative for task 101"),
            Command::Narrate {
                task_id: "101".into(),
                request_id: String::new(),
            }
        );
        assert_eq!(
            command("Check progress for task 101"),
            Command::Progress {
                task_id: "101".into()
            }
        );
        assert_eq!(command("help"), Command::Help);
    }

    #[test]
    fn keywords_ignore_case_and_extra_whitespace() {
        let expected = analyze("101", json!([1, 2]));
        for text in [
            "analyze data for task 101 with data: [1, 2]",
            "ANALYZE DATA FOR TASK 101 WITH DATA: [1,2]",
            "  Analyze   data\tfor  task   101   with  data :  [1, 2]  ",
            "Analyze data for task 101 with data:[1,2]",
            "Analyze data for task 101 with data [1, 2]",
            "Analyze for task 101 with data: [1, 2]",
            "analyze data for task 101\nwith data:\n[1,\n 2]",
        ] {
            assert_eq!(command(text), expected, "{text:?}");
        }
        for text in [
            "generate a narrative for task 101",
            "GENERATE  A  NARRATIVE FOR TASK 101 ",
            "Generate narrative for task 101",
        ] {
            assert_eq!(
                command(text),
                Command::Narrate {
                    task_id: "101".into(),
                    request_id: String::new(),
                },
                "{text:?}"
            );
        }
        assert_eq!(
            command("  check\tPROGRESS for   task  101  "),
            Command::Progress {
                task_id: "101".into()
            }
        );
        assert_eq!(command(" HELP "), Command::Help);
        assert_eq!(command("stop   WATCHING"), Command::Unwatch);
    }

    #[test]
    fn task_ids_keep_their_case_and_are_left_to_the_domain() {
        assert_eq!(
            command("check progress for task Task-A.1"),
            Command::Progress {
                task_id: "Task-A.1".into()
            }
        );
        // Invalid ids are passed on whole, so the domain refuses them as it does over gRPC.
        assert_eq!(
            command("Check progress for task a:b"),
            Command::Progress {
                task_id: "a:b".into()
            }
        );
        // Text after the id is refused here, with the form's example, never another task.
        let ParseError::Invalid { field, message } = refused("Check progress for task a:b c")
        else {
            panic!("not a field error");
        };
        assert_eq!(field, "task_id");
        assert!(
            message.contains("\"c\"") && message.contains(PROGRESS.forms[0].example),
            "{message}"
        );
        assert_eq!(
            command("Check progress for task"),
            Command::Progress {
                task_id: String::new()
            }
        );
        assert_eq!(
            command("Analyze data for task with data: []"),
            analyze("", json!([]))
        );
        assert_eq!(
            command("Analyze data for task with-x with data: [1]"),
            analyze("with-x", json!([1]))
        );
    }

    #[test]
    fn a_sentences_closing_punctuation_is_not_part_of_the_id() {
        for text in [
            "Check progress for task 101.",
            "Check progress for task 101?",
            "Check progress for task 101!",
            "Check progress for task 101 ?!",
        ] {
            assert_eq!(
                command(text),
                Command::Progress {
                    task_id: "101".into()
                },
                "{text}"
            );
        }
        assert_eq!(
            command("Show task v1.2."),
            Command::GetTask {
                task_id: "v1.2".into(),
                with_report: false
            }
        );
        let watch = |task_id: &str, after: &str| Command::Watch {
            task_id: task_id.into(),
            after: after.into(),
        };
        assert_eq!(command("Watch task 101 from 0."), watch("101", "0"));
        assert_eq!(command("Watch task 101."), watch("101", ""));
        assert_eq!(
            command("Generate a narrative for task 7!"),
            Command::Narrate {
                task_id: "7".into(),
                request_id: String::new()
            }
        );
    }

    #[test]
    fn list_tasks_takes_a_status_and_a_page_token() {
        let list = |status: &str, page_token: &str| Command::ListTasks {
            page_size: 0,
            page_token: page_token.into(),
            status: status.into(),
        };
        assert_eq!(command("List tasks"), list("", ""));
        assert_eq!(command("list TASKS"), list("", ""));
        assert_eq!(command("List tasks with status stale"), list("stale", ""));
        assert_eq!(
            command("List tasks with status completed from 1~5-0~4~a~completed"),
            list("completed", "1~5-0~4~a~completed")
        );
        assert_eq!(
            command("List tasks from 1~5-0~4~a~"),
            list("", "1~5-0~4~a~")
        );
        assert!(matches!(
            refused("List tasks please"),
            ParseError::Unrecognized { .. }
        ));
        assert!(matches!(
            refused("List tasks with status"),
            ParseError::Invalid {
                field: "status",
                ..
            }
        ));
    }

    #[test]
    fn data_must_be_a_json_list() {
        for (text, expected) in [
            ("Analyze data for task 1 with data: 12345", "not a number"),
            (
                r#"Analyze data for task 1 with data: "abc""#,
                "not a string",
            ),
            (
                r#"Analyze data for task 1 with data: {"a": 1}"#,
                "not an object",
            ),
            ("Analyze data for task 1 with data: [bad", "not valid JSON"),
            ("Analyze data for task 1 with data: [1, 2", "not valid JSON"),
            (
                "Analyze data for task 1 with data: [1] [2]",
                "not valid JSON",
            ),
            ("Analyze data for task 1 with data:", "missing"),
            ("Analyze data for task 1", "missing `with data"),
        ] {
            match refused(text) {
                ParseError::Invalid { field, message } => {
                    assert_eq!(field, "data", "{text:?}");
                    assert!(message.contains(expected), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("Analyze data for task 1 with data: {}", "[".repeat(10_000));
        match refused(&deep) {
            ParseError::Invalid { field, message } => {
                assert_eq!(field, "data");
                assert!(message.contains("deeper"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let ok = format!(
            "Analyze data for task 1 with data: {}{}",
            "[".repeat(MAX_DATA_DEPTH),
            "]".repeat(MAX_DATA_DEPTH)
        );
        assert!(matches!(command(&ok), Command::Analyze { data, .. } if data.len() == 1));
    }

    #[test]
    fn watch_commands() {
        let watch = |task_id: &str, after: &str| Command::Watch {
            task_id: task_id.into(),
            after: after.into(),
        };
        assert_eq!(command("Watch task 101"), watch("101", ""));
        assert_eq!(command("watch TASK 101 from 0"), watch("101", "0"));
        assert_eq!(
            command(" Watch  task  101  FROM  1700000000000-3 "),
            watch("101", "1700000000000-3")
        );
        assert_eq!(command("Watch all tasks"), watch("", ""));
        assert_eq!(command("watch ALL tasks from 0"), watch("", "0"));
        assert_eq!(command("Watch task from-x"), watch("from-x", ""));
        assert!(matches!(
            refused("Watch task"),
            ParseError::Invalid {
                field: "task_id",
                ..
            }
        ));
        assert!(matches!(
            refused("Watch task 101 from"),
            ParseError::Invalid { field: "after", .. }
        ));
        assert!(matches!(
            refused("Watch all tasks from  "),
            ParseError::Invalid { field: "after", .. }
        ));
        assert_eq!(
            closest("Watch all tasks 101"),
            "Watch all tasks [from <notification id>]"
        );
    }

    #[test]
    fn unknown_commands_name_the_closest() {
        let [watch_task, watch_all] = WATCH.forms else {
            panic!("two forms of watch");
        };
        for (text, expected) in [
            (
                "Analyse data for task 101 with data: [1]",
                ANALYZE.forms[0].grammar,
            ),
            ("analyze dta for tsk 101", ANALYZE.forms[0].grammar),
            ("Generate narrative 101", NARRATE.forms[0].grammar),
            ("Generate a narative for task 101", NARRATE.forms[0].grammar),
            ("Check progres for task 101", PROGRESS.forms[0].grammar),
            ("progress 101", PROGRESS.forms[0].grammar),
            ("watch tasks 101", watch_task.grammar),
            ("watch al tasks", watch_all.grammar),
            ("stop watch", UNWATCH.forms[0].grammar),
            ("stop watching now", UNWATCH.forms[0].grammar),
            ("hlep", HELP.forms[0].grammar),
            ("help me", HELP.forms[0].grammar),
            ("", HELP.forms[0].grammar),
            ("delete tsk 101", DELETE_TASK.forms[0].grammar),
        ] {
            assert_eq!(closest(text), expected, "{text:?}");
        }
    }

    #[test]
    fn long_garbage_is_cheap_to_refuse() {
        let blanks = " ".repeat(1 << 20);
        assert!(matches!(
            refused(&format!("Analyze data for task {blanks}x")),
            ParseError::Invalid { field: "data", .. }
        ));
        let noise = "x".repeat(1 << 20);
        assert!(matches!(
            refused(&noise),
            ParseError::Unrecognized { input, .. } if input.len() == 60
        ));
    }

    #[test]
    fn typed_requests() {
        assert_eq!(
            typed(r#"{"analyze": {"task_id": "101", "data": ["a", 1]}, "id": 7}"#),
            (Some(json!(7)), Ok(analyze("101", json!(["a", 1]))))
        );
        assert_eq!(
            typed(r#" {"id": "x", "narrate": {"task_id": "101"}}"#),
            (
                Some(json!("x")),
                Ok(Command::Narrate {
                    task_id: "101".into(),
                    request_id: String::new(),
                })
            )
        );
        assert_eq!(
            typed(r#"{"progress": {"task_id": "101"}}"#),
            (
                None,
                Ok(Command::Progress {
                    task_id: "101".into()
                })
            )
        );
        assert_eq!(
            typed(r#"{"watch": {"task_id": "101", "after": "0"}}"#).1,
            Ok(Command::Watch {
                task_id: "101".into(),
                after: "0".into()
            })
        );
        assert_eq!(
            typed(r#"{"watch": {}}"#).1,
            Ok(Command::Watch {
                task_id: String::new(),
                after: String::new()
            })
        );
        assert_eq!(typed(r#"{"unwatch": {}}"#).1, Ok(Command::Unwatch));
        assert_eq!(typed(r#"{"unwatch": null}"#).1, Ok(Command::Unwatch));
        assert_eq!(typed(r#"{"help": {}}"#).1, Ok(Command::Help));
        // Missing fields are empty, as in protobuf: the domain then refuses them as gRPC would.
        assert_eq!(typed(r#"{"analyze": {}}"#).1, Ok(analyze("", json!([]))));
    }

    #[test]
    fn bad_typed_requests() {
        let field_of = |text: &str| match typed(text).1 {
            Err(ParseError::Invalid { field, .. }) => field,
            other => panic!("{text:?}: {other:?}"),
        };
        assert_eq!(field_of("{bad"), "request");
        assert_eq!(field_of("{} {}"), "request");
        assert_eq!(field_of(r#"{"id": 1}"#), "request");
        assert_eq!(field_of(r#"{"narrate": {}, "progress": {}}"#), "request");
        assert_eq!(field_of(r#"{"narrate": {"taskid": "1"}}"#), "request");
        assert_eq!(field_of(r#"{"narrate": {"task_id": 101}}"#), "request");
        assert_eq!(field_of(r#"{"narrate": []}"#), "request");
        assert_eq!(field_of(r#"{"unwatch": {"x": 1}}"#), "request");
        assert_eq!(
            field_of(r#"{"analyze": {"task_id": "1", "data": 12345}}"#),
            "data"
        );
        let deep = format!(r#"{{"analyze": {{"data": {}"#, "[".repeat(10_000));
        assert_eq!(field_of(&deep), "data");
        // The id is echoed once the frame is a readable object, even if the rest is wrong.
        assert_eq!(typed(r#"{"id": 3, "narrate": 5}"#).0, Some(json!(3)));
        assert_eq!(
            typed(r#"{"id": 3, "narate": {}}"#),
            (
                Some(json!(3)),
                Err(ParseError::UnknownRequest {
                    kind: "narate".into(),
                    closest: "narrate"
                })
            )
        );
        assert!(matches!(
            typed(r#"{"delete_tsak": {}}"#).1,
            Err(ParseError::UnknownRequest {
                closest: "delete_task",
                ..
            })
        ));
        match typed(r#"{}"#).1 {
            Err(ParseError::Invalid { message, .. }) => {
                for operation in OPERATIONS {
                    assert!(message.contains(operation.typed), "{message}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_typed_frame_may_carry_a_traceparent_beside_its_id() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let frame = format!(
            r#"{{"progress": {{"task_id": "1"}}, "id": 3, "traceparent": "{traceparent}"}}"#
        );
        match parse_frame(&frame) {
            Parsed::Typed {
                id,
                traceparent: Some(carried),
                request: Ok(request),
                ..
            } => {
                assert_eq!(id, Some(json!(3)));
                assert_eq!(carried, traceparent);
                assert_eq!(request.operation.typed, "progress");
            }
            other => panic!("{frame}: {other:?}"),
        }
        // Not a string: refused, naming the field, with the id still echoed.
        match parse_frame(r#"{"progress": {}, "id": 4, "traceparent": 5}"#) {
            Parsed::Typed {
                id,
                request: Err(ParseError::Invalid { field, .. }),
                ..
            } => {
                assert_eq!(field, TRACEPARENT_KEY);
                assert_eq!(id, Some(json!(4)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_in_a_typed_frame_is_parsed_as_a_command() {
        assert_eq!(
            typed_in_full(r#"{"text": "Check progress for task 101", "id": 4}"#),
            (
                Some(json!(4)),
                Some("progress"),
                Ok(Command::Progress {
                    task_id: "101".into()
                })
            )
        );
        assert_eq!(
            typed_in_full(r#"{"id": "d", "text": "delete TASK 7"}"#),
            (
                Some(json!("d")),
                Some("delete_task"),
                Ok(Command::DeleteTask {
                    task_id: "7".into()
                })
            )
        );
        // The text's own errors, and no operation named.
        let (id, named, refused) =
            typed_in_full(r#"{"text": "Check progres for task 1", "id": 5}"#);
        assert_eq!((id, named), (Some(json!(5)), None));
        assert!(matches!(
            refused,
            Err(ParseError::Unrecognized { closest, .. }) if closest.grammar == PROGRESS.forms[0].grammar
        ));
        assert!(matches!(
            typed_in_full(r#"{"text": "Analyze data for task 1 with data: [bad"}"#).2,
            Err(ParseError::Invalid { field: "data", .. })
        ));
        // A text that is itself JSON is still read as natural language.
        assert!(matches!(
            typed_in_full(r#"{"text": "{\"help\": {}}"}"#).2,
            Err(ParseError::Unrecognized { .. })
        ));
        assert!(matches!(
            typed_in_full(r#"{"text": {"command": "help"}}"#).2,
            Err(ParseError::Invalid { field: "text", .. })
        ));
        assert!(matches!(
            typed_in_full(r#"{"text": "help", "help": {}}"#).2,
            Err(ParseError::Invalid {
                field: "request",
                ..
            })
        ));
        assert!(matches!(
            typed(r#"{"txt": {}}"#).1,
            Err(ParseError::UnknownRequest {
                closest: "text",
                ..
            })
        ));
    }

    #[test]
    fn only_a_leading_brace_makes_a_typed_request() {
        assert!(matches!(
            parse_frame("help"),
            Parsed::Text(Ok(Request {
                command: Command::Help,
                ..
            }))
        ));
        assert!(matches!(
            parse_frame(r#"help {"x": 1}"#),
            Parsed::Text(Err(_))
        ));
        assert!(matches!(parse_frame("  \n{}"), Parsed::Typed { .. }));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{Parsed, forms, parse_frame};
        use crate::ws::command::keyword_list;

        fn cases() -> ProptestConfig {
            ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES")
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(5_000),
            )
        }

        /// Every frame parses to something: a command, or an error to reply with.
        fn answers(text: &str) -> bool {
            match parse_frame(text) {
                Parsed::Text(_) => !text.trim_start().starts_with('{'),
                Parsed::Typed { .. } => text.trim_start().starts_with('{'),
            }
        }

        /// The keywords of every form, optional ones included.
        fn keywords() -> Vec<String> {
            forms()
                .map(|(_, form)| keyword_list(form.keywords).collect::<Vec<_>>().join(" "))
                .collect()
        }

        proptest! {
            #![proptest_config(cases())]

            #[test]
            fn any_text(text in "\\PC{0,300}") {
                prop_assert!(answers(&text));
            }

            #[test]
            fn near_commands(
                keywords in prop::sample::select(keywords()),
                rest in "[ \\t]{0,3}[A-Za-z0-9._:\\[\\]{}\",-]{0,40}( with data:? ?)?[\\[\\]{}0-9\",:a-z ]{0,60}",
            ) {
                let text = format!("{keywords}{rest}");
                prop_assert!(answers(&text));
                let typed = format!("{{\"text\": {}}}", serde_json::Value::String(text));
                prop_assert!(answers(&typed));
            }

            #[test]
            fn near_typed_requests(body in "[\\[\\]{}\":,0-9a-z_ .-]{0,200}") {
                let text = format!("{{{body}");
                prop_assert!(answers(&text));
            }
        }

        proptest! {
            // Each case builds frames of up to 20,000 characters: fewer cases.
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn deep_nesting(depth in 0usize..20_000, open in prop_oneof![Just('['), Just('{')]) {
                let nested: String = std::iter::repeat_n(open, depth).collect();
                let text = format!("Analyze data for task 1 with data: {nested}");
                prop_assert!(answers(&text));
                let typed = format!("{{\"analyze\": {{\"data\": {nested}");
                prop_assert!(answers(&typed));
            }
        }
    }
}
