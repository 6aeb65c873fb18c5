//! What a client asks for, parsed from one text frame into one [`Command`].
//!
//! Two forms reach the same commands:
//!
//! - **natural language**, for a person at `websocat`: `Check progress for task 101`. Keywords
//!   match in any case and with any whitespace between them; task ids, resume tokens and data are
//!   taken as written. The grammar is [`TEMPLATES`].
//! - **typed requests**, for programs: one JSON object naming one operation, with an optional
//!   `id` the reply echoes: `{"progress": {"task_id": "101"}, "id": 7}`. Operations:
//!   `analyze {task_id, data}`, `narrate {task_id}`, `progress {task_id}`,
//!   `watch {task_id?, after?}`, `unwatch {}`, `help {}`. A missing field is its empty value, as
//!   in protobuf, so a typed request and the matching gRPC call are refused alike.
//!
//! A frame whose first non-blank character is `{` is a typed request; anything else is natural
//! language. Parsing checks form only: task ids and resume tokens are validated by the domain,
//! so the WebSocket and gRPC refuse the same values with the same errors.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Deepest nesting of lists and objects accepted in `data`.
///
/// serde_json already stops at 128 levels with an error (never a stack overflow); this guard,
/// checked before parsing, is lower and names the problem.
pub(crate) const MAX_DATA_DEPTH: usize = 64;

/// One thing a client asks for, whichever form it came in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Analyze {
        task_id: String,
        data: Vec<Value>,
        /// Idempotency key (typed requests only); empty means none.
        request_id: String,
        /// Optimistic concurrency (typed requests only).
        expected_version: Option<u64>,
    },
    Narrate {
        task_id: String,
        /// Idempotency key (typed requests only); empty means none.
        request_id: String,
    },
    /// Admin: remove every key of a task.
    DeleteTask {
        task_id: String,
    },
    Progress {
        task_id: String,
    },
    /// Follow `task_id` (empty: every task) from the resume token `after` (empty: live only).
    Watch {
        task_id: String,
        after: String,
    },
    Unwatch,
    Help,
}

/// A natural-language command form: shown by `help`, and offered as the closest match when a
/// frame is not a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) grammar: &'static str,
    pub(crate) example: &'static str,
    /// The leading keywords, lowercase; `[word]` is optional.
    keywords: &'static str,
}

/// Every natural-language command, in the order `help` lists them.
pub(crate) const TEMPLATES: &[Template] = &[
    Template {
        grammar: "Analyze data for task <task_id> with data: <JSON list>",
        example: r#"Analyze data for task 101 with data: ["data1", "data2", "data3"]"#,
        keywords: "analyze [data] for task",
    },
    Template {
        grammar: "Generate a narrative for task <task_id>",
        example: "Generate a narrative for task 101",
        keywords: "generate [a] narrative for task",
    },
    Template {
        grammar: "Check progress for task <task_id>",
        example: "Check progress for task 101",
        keywords: "check progress for task",
    },
    Template {
        grammar: "Watch task <task_id> [from <notification id>]",
        example: "Watch task 101",
        keywords: "watch task",
    },
    Template {
        grammar: "Watch all tasks [from <notification id>]",
        example: "Watch all tasks from 0",
        keywords: "watch all tasks",
    },
    Template {
        grammar: "Stop watching",
        example: "Stop watching",
        keywords: "stop watching",
    },
    Template {
        grammar: "help",
        example: "help",
        keywords: "help",
    },
    Template {
        grammar: "Delete task <task_id> (admin)",
        example: "Delete task 101",
        keywords: "delete task",
    },
];

const ANALYZE: &Template = &TEMPLATES[0];
const NARRATE: &Template = &TEMPLATES[1];
const PROGRESS: &Template = &TEMPLATES[2];
const WATCH_TASK: &Template = &TEMPLATES[3];
const WATCH_ALL: &Template = &TEMPLATES[4];
const STOP_WATCHING: &Template = &TEMPLATES[5];
const HELP: &Template = &TEMPLATES[6];
const DELETE_TASK: &Template = &TEMPLATES[7];

/// The operations a typed request can name.
pub(crate) const REQUEST_KINDS: &[&str] = &[
    "analyze",
    "narrate",
    "progress",
    "watch",
    "unwatch",
    "help",
    "delete_task",
];

/// Why a frame is not a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Text that matches no command; `closest` is the one it most resembles.
    #[error("unrecognized command {input:?}")]
    Unrecognized {
        /// The start of what was sent, for the message.
        input: String,
        closest: &'static Template,
    },
    /// A command whose `field` is malformed; `message` is a whole sentence.
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A typed request naming an operation that does not exist.
    #[error("no operation named {kind:?}")]
    UnknownRequest { kind: String, closest: &'static str },
}

impl ParseError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// A parsed frame: which form it was in, and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Text(Result<Command, ParseError>),
    Typed {
        /// Echoed in the reply, whatever JSON it is.
        id: Option<Value>,
        command: Result<Command, ParseError>,
    },
}

/// Parses a text frame in whichever form it is.
pub(crate) fn parse_frame(text: &str) -> Parsed {
    if text.trim_start().starts_with('{') {
        let (id, command) = parse_request(text);
        Parsed::Typed { id, command }
    } else {
        Parsed::Text(parse_command(text))
    }
}

/// Parses a natural-language command.
pub(crate) fn parse_command(text: &str) -> Result<Command, ParseError> {
    let words = Words::new(text);
    if let Some(rest) = words.keywords(ANALYZE.keywords) {
        return parse_analyze(rest);
    }
    if let Some(rest) = words.keywords(NARRATE.keywords) {
        return Ok(Command::Narrate {
            task_id: rest.trim().to_owned(),
            request_id: String::new(),
        });
    }
    if let Some(rest) = words.keywords(DELETE_TASK.keywords) {
        return Ok(Command::DeleteTask {
            task_id: rest.trim().to_owned(),
        });
    }
    if let Some(rest) = words.keywords(PROGRESS.keywords) {
        return Ok(Command::Progress {
            task_id: rest.trim().to_owned(),
        });
    }
    if let Some(rest) = words.keywords(WATCH_ALL.keywords) {
        // "Watch all tasks 101" is neither form: say which command it resembles.
        if let Some(after) = resume_clause(rest)? {
            return Ok(Command::Watch {
                task_id: String::new(),
                after,
            });
        }
    } else if let Some(rest) = words.keywords(WATCH_TASK.keywords) {
        return parse_watch_task(rest);
    }
    if words.keywords(STOP_WATCHING.keywords).is_some_and(is_blank) {
        return Ok(Command::Unwatch);
    }
    if words.keywords(HELP.keywords).is_some_and(is_blank) {
        return Ok(Command::Help);
    }
    Err(ParseError::Unrecognized {
        input: text.trim().chars().take(60).collect(),
        closest: closest_template(text),
    })
}

/// `<task_id> with data: <JSON list>`, after the keywords.
fn parse_analyze(rest: &str) -> Result<Command, ParseError> {
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
            return Ok(Command::Analyze {
                task_id: rest[..id_end].trim().to_owned(),
                data: parse_data_text(json)?,
                request_id: String::new(),
                expected_version: None,
            });
        }
        search = after;
    }
}

/// `<task_id> [from <notification id>]`, after `watch task`.
fn parse_watch_task(rest: &str) -> Result<Command, ParseError> {
    let (task_id, after) = match split_at_word(rest, "from") {
        Some((task_id, after)) => (task_id, resume_token(after)?),
        None => (rest, String::new()),
    };
    let task_id = task_id.trim();
    // An empty id means "every task" to the domain; here it is a slip, not a request for all.
    if task_id.is_empty() {
        return Err(ParseError::invalid(
            "task_id",
            "invalid task_id: must not be empty (to follow every task, send `Watch all tasks`)",
        ));
    }
    Ok(Command::Watch {
        task_id: task_id.to_owned(),
        after,
    })
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
    let token = text.trim();
    if token.is_empty() {
        return Err(ParseError::invalid(
            "after",
            "invalid after: `from` needs a notification id, or 0 for everything retained",
        ));
    }
    Ok(token.to_owned())
}

/// The data of a natural-language Analyze: JSON text that must be a list.
fn parse_data_text(text: &str) -> Result<Vec<Value>, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::invalid(
            "data",
            "data is missing: give a JSON list after `with data:`",
        ));
    }
    if nests_deeper_than(text, MAX_DATA_DEPTH) {
        return Err(too_deep());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|error| ParseError::invalid("data", format!("data is not valid JSON: {error}")))?;
    data_list(value)
}

/// The data as a list; anything else is refused rather than counted.
fn data_list(value: Value) -> Result<Vec<Value>, ParseError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(ParseError::invalid(
            "data",
            format!("data must be a JSON list, not {}", json_kind(&other)),
        )),
    }
}

fn too_deep() -> ParseError {
    ParseError::invalid(
        "data",
        format!("data nests lists or objects deeper than {MAX_DATA_DEPTH} levels"),
    )
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `json` opens more than `max` lists or objects at once. A byte scan that skips
/// strings; it runs before serde_json so malformed input is measured too.
fn nests_deeper_than(json: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses a typed request: the `id` to echo (once it could be read) and the command.
fn parse_request(text: &str) -> (Option<Value>, Result<Command, ParseError>) {
    // The envelope adds two levels above `data`: `{"analyze": {"data": [...]}}`.
    if nests_deeper_than(text, MAX_DATA_DEPTH + 2) {
        return (None, Err(too_deep()));
    }
    let mut object: Map<String, Value> = match serde_json::from_str(text) {
        Ok(object) => object,
        Err(error) => {
            return (
                None,
                Err(ParseError::invalid(
                    "request",
                    format!("a typed request is one JSON object: {error}"),
                )),
            );
        }
    };
    let id = object.remove("id");
    let command = command_of(object);
    (id, command)
}

fn command_of(object: Map<String, Value>) -> Result<Command, ParseError> {
    let mut operations = object.into_iter();
    let (kind, body) = match (operations.next(), operations.next()) {
        (Some(only), None) => only,
        (None, _) => {
            return Err(ParseError::invalid(
                "request",
                format!(
                    "the request names no operation: give one of {}",
                    REQUEST_KINDS.join(", ")
                ),
            ));
        }
        (Some((first, _)), Some((second, _))) => {
            return Err(ParseError::invalid(
                "request",
                format!(
                    "the request names several operations ({first}, {second}): send one per frame"
                ),
            ));
        }
    };
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
                    json_kind(&other)
                ),
            ));
        }
    };
    let invalid = |error: serde_json::Error| {
        ParseError::invalid("request", format!("invalid {kind} request: {error}"))
    };
    Ok(match kind.as_str() {
        "analyze" => {
            let body: AnalyzeBody = serde_json::from_value(body).map_err(invalid)?;
            Command::Analyze {
                task_id: body.task_id,
                data: data_list(body.data)?,
                request_id: body.request_id,
                expected_version: body.expected_version,
            }
        }
        "narrate" => {
            let body: NarrateBody = serde_json::from_value(body).map_err(invalid)?;
            Command::Narrate {
                task_id: body.task_id,
                request_id: body.request_id,
            }
        }
        "delete_task" => {
            let body: TaskBody = serde_json::from_value(body).map_err(invalid)?;
            Command::DeleteTask {
                task_id: body.task_id,
            }
        }
        "progress" => {
            let body: TaskBody = serde_json::from_value(body).map_err(invalid)?;
            Command::Progress {
                task_id: body.task_id,
            }
        }
        "watch" => {
            let body: WatchBody = serde_json::from_value(body).map_err(invalid)?;
            Command::Watch {
                task_id: body.task_id,
                after: body.after,
            }
        }
        "unwatch" => {
            let EmptyBody {} = serde_json::from_value(body).map_err(invalid)?;
            Command::Unwatch
        }
        "help" => {
            let EmptyBody {} = serde_json::from_value(body).map_err(invalid)?;
            Command::Help
        }
        _ => {
            let closest = REQUEST_KINDS
                .iter()
                .copied()
                .min_by_key(|candidate| edit_distance(&kind.to_ascii_lowercase(), candidate))
                .unwrap_or("help");
            return Err(ParseError::UnknownRequest { kind, closest });
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyzeBody {
    #[serde(default)]
    task_id: String,
    #[serde(default = "empty_list")]
    data: Value,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    expected_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NarrateBody {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    request_id: String,
}

fn empty_list() -> Value {
    Value::Array(Vec::new())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    #[serde(default)]
    task_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchBody {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    after: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// A cursor over keywords at the start of a text.
#[derive(Debug, Clone, Copy)]
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text }
    }

    /// Consumes `word` (lowercase ASCII) if it is the next word, in any case. A word ends at
    /// whitespace, at a `:` or at the end.
    fn eat(&mut self, word: &str) -> bool {
        let rest = self.rest.trim_start();
        let Some(head) = rest.get(..word.len()) else {
            return false;
        };
        let after = &rest[word.len()..];
        let ends =
            after.is_empty() || after.starts_with(char::is_whitespace) || after.starts_with(':');
        if ends && head.eq_ignore_ascii_case(word) {
            self.rest = after;
            true
        } else {
            false
        }
    }

    /// The text after `keywords` (space-separated, `[optional]`), if it starts with them.
    fn keywords(self, keywords: &str) -> Option<&'a str> {
        let mut words = self;
        for keyword in keywords.split(' ') {
            match keyword.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
                Some(optional) => {
                    words.eat(optional);
                }
                None if words.eat(keyword) => {}
                None => return None,
            }
        }
        Some(words.rest)
    }
}

/// Splits `text` around the first whole `word` (any case) that starts a word: the text before
/// it and after it.
fn split_at_word<'a>(text: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    let mut previous_blank = true;
    for (at, c) in text.char_indices() {
        // Only word starts are tried, so a long run of blanks costs one pass, not a square.
        if previous_blank && !c.is_whitespace() {
            let mut words = Words::new(&text[at..]);
            if words.eat(word) {
                return Some((&text[..at], words.rest));
            }
        }
        previous_blank = c.is_whitespace();
    }
    None
}

/// The template `text` most resembles: per keyword, the edit distance to the nearest of the
/// first words of `text`, summed and scaled by the keywords' length, so long commands with one
/// typo beat short ones that merely share a letter.
fn closest_template(text: &str) -> &'static Template {
    const WORDS: usize = 12;
    const WORD_CHARS: usize = 24;
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| !w.is_empty())
        .take(WORDS)
        .map(|w| {
            w.chars()
                .take(WORD_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .collect();
    if words.is_empty() {
        return HELP;
    }
    let score = |template: &Template| {
        let keywords: Vec<&str> = template
            .keywords
            .split(' ')
            .map(|k| k.trim_start_matches('[').trim_end_matches(']'))
            .collect();
        let length: usize = keywords.iter().map(|k| k.len()).sum();
        let distance: usize = keywords
            .iter()
            .map(|k| {
                words
                    .iter()
                    .map(|w| edit_distance(w, k))
                    .min()
                    .unwrap_or(k.len())
            })
            .sum();
        // Compared as fractions distance/length without floating point.
        (distance, length)
    };
    TEMPLATES
        .iter()
        .min_by(|a, b| {
            let ((da, la), (db, lb)) = (score(a), score(b));
            (da * lb).cmp(&(db * la))
        })
        .unwrap_or(HELP)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn command(text: &str) -> Command {
        parse_command(text).unwrap_or_else(|error| panic!("{text:?}: {error:?}"))
    }

    fn refused(text: &str) -> ParseError {
        match parse_command(text) {
            Ok(command) => panic!("{text:?} parsed as {command:?}"),
            Err(error) => error,
        }
    }

    fn closest(text: &str) -> &'static str {
        match refused(text) {
            ParseError::Unrecognized { closest, .. } => closest.grammar,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn analyze(task_id: &str, data: Value) -> Command {
        Command::Analyze {
            task_id: task_id.into(),
            data: data.as_array().cloned().expect("a list"),
            request_id: String::new(),
            expected_version: None,
        }
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
            command("Check progress for task a:b c"),
            Command::Progress {
                task_id: "a:b c".into()
            }
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
        let balanced = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(nests_deeper_than(&balanced, MAX_DATA_DEPTH));
        let ok = format!(
            "Analyze data for task 1 with data: {}{}",
            "[".repeat(MAX_DATA_DEPTH),
            "]".repeat(MAX_DATA_DEPTH)
        );
        assert!(matches!(command(&ok), Command::Analyze { data, .. } if data.len() == 1));
        // Brackets inside strings are not nesting.
        let strings = format!(r#"["{}", "\"[["]"#, "[".repeat(1000));
        assert!(!nests_deeper_than(&strings, 2));
    }

    #[test]
    fn serde_json_alone_refuses_deep_nesting_with_an_error() {
        // The guard above is the first line; this is the second, checked so it stays true.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let error = serde_json::from_str::<Value>(&deep).expect_err("too deep");
        assert!(error.to_string().contains("recursion limit"), "{error}");
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
        for (text, expected) in [
            ("Analyse data for task 101 with data: [1]", ANALYZE.grammar),
            ("analyze dta for tsk 101", ANALYZE.grammar),
            ("Generate narrative 101", NARRATE.grammar),
            ("Generate a narative for task 101", NARRATE.grammar),
            ("Check progres for task 101", PROGRESS.grammar),
            ("progress 101", PROGRESS.grammar),
            ("watch tasks 101", WATCH_TASK.grammar),
            ("watch al tasks", WATCH_ALL.grammar),
            ("stop watch", STOP_WATCHING.grammar),
            ("stop watching now", STOP_WATCHING.grammar),
            ("hlep", HELP.grammar),
            ("help me", HELP.grammar),
            ("", HELP.grammar),
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
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("analyse", "analyze"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    fn typed(text: &str) -> (Option<Value>, Result<Command, ParseError>) {
        match parse_frame(text) {
            Parsed::Typed { id, command } => (id, command),
            Parsed::Text(_) => panic!("{text:?} read as natural language"),
        }
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
    }

    #[test]
    fn only_a_leading_brace_makes_a_typed_request() {
        assert!(matches!(
            parse_frame("help"),
            Parsed::Text(Ok(Command::Help))
        ));
        assert!(matches!(
            parse_frame(r#"help {"x": 1}"#),
            Parsed::Text(Err(_))
        ));
        assert!(matches!(parse_frame("  \n{}"), Parsed::Typed { .. }));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{Parsed, parse_frame};

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

        proptest! {
            #![proptest_config(cases())]

            #[test]
            fn any_text(text in "\\PC{0,300}") {
                prop_assert!(answers(&text));
            }

            #[test]
            fn near_commands(
                keywords in prop_oneof![
                    Just("Analyze data for task"),
                    Just("generate a narrative for task"),
                    Just("CHECK progress for task"),
                    Just("watch task"),
                    Just("Watch all tasks"),
                    Just("stop watching"),
                    Just("delete task"),
                ],
                rest in "[ \\t]{0,3}[A-Za-z0-9._:\\[\\]{}\",-]{0,40}( with data:? ?)?[\\[\\]{}0-9\",:a-z ]{0,60}",
            ) {
                let text = format!("{keywords}{rest}");
                prop_assert!(answers(&text));
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
