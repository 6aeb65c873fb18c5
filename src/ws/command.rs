//! What a client asks for ([`Command`]), why a frame is not a command ([`ParseError`]), and
//! the pieces the grammar is read with: a keyword cursor, JSON data, edit distance.
//!
//! Which operations exist, their natural-language forms and their typed requests are the
//! table in `super::operations`; this module knows none of them by name, so the table is the
//! one place an operation is spelled.
//!
//! Parsing checks form only: task ids and resume tokens are validated by the domain, so the
//! WebSocket and gRPC refuse the same values with the same errors.

use std::fmt;

use serde_json::Value;

use crate::domain::auth::Role;

/// Deepest nesting of lists and objects accepted in `data`: the domain's, the same as gRPC's.
///
/// serde_json already stops at 128 levels with an error (never a stack overflow); this guard,
/// checked before parsing, is lower and names the problem.
pub(crate) use crate::domain::analysis::MAX_DATA_DEPTH;

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
    /// A task as stored, read without writing; `with_report` adds the report's content.
    GetTask {
        task_id: String,
        with_report: bool,
    },
    /// ReportAgent: profile and chart the latest analysis's items.
    Report {
        task_id: String,
    },
    /// A page of tasks; `status` empty for all, `page_token` empty from the start.
    ListTasks {
        page_size: i64,
        page_token: String,
        status: String,
    },
    /// Follow `task_id` (empty: every task) from the resume token `after` (empty: live only).
    Watch {
        task_id: String,
        after: String,
    },
    Unwatch,
    Help,
}

/// A natural-language form as `help` lists it and a hint suggests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) grammar: &'static str,
    pub(crate) example: &'static str,
    /// The least role that may run it.
    pub(crate) role: Role,
}

/// The grammar, marked `(admin)` when only an admin token may run it: the one role a client's
/// usual token lacks.
impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.grammar)?;
        if self.role == Role::Admin {
            write!(f, " ({})", self.role.as_str())?;
        }
        Ok(())
    }
}

/// Why a frame is not a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Text that matches no command; `closest` is the form it most resembles.
    #[error("unrecognized command {input:?}")]
    Unrecognized {
        /// The start of what was sent, for the message.
        input: String,
        closest: Usage,
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
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The data of a natural-language Analyze: JSON text that must be a list.
pub(super) fn parse_data_text(text: &str) -> Result<Vec<Value>, ParseError> {
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
pub(super) fn data_list(value: Value) -> Result<Vec<Value>, ParseError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(ParseError::invalid(
            "data",
            format!("data must be a JSON list, not {}", json_kind(&other)),
        )),
    }
}

pub(super) fn too_deep() -> ParseError {
    ParseError::invalid("data", crate::domain::analysis::too_deep_description())
}

pub(super) fn json_kind(value: &Value) -> &'static str {
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
pub(super) fn nests_deeper_than(json: &str, max: usize) -> bool {
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

pub(super) fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// A cursor over keywords at the start of a text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Words<'a> {
    pub(super) rest: &'a str,
}

impl<'a> Words<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { rest: text }
    }

    /// Consumes `word` (lowercase ASCII) if it is the next word, in any case. A word ends at
    /// whitespace, at a `:` or at the end.
    pub(super) fn eat(&mut self, word: &str) -> bool {
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
    pub(super) fn keywords(self, keywords: &str) -> Option<&'a str> {
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
pub(super) fn split_at_word<'a>(text: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
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

/// Every keyword of a form's `keywords`, optional ones included, without their brackets.
pub(super) fn keyword_list(keywords: &str) -> impl Iterator<Item = &str> {
    keywords
        .split(' ')
        .map(|k| k.trim_start_matches('[').trim_end_matches(']'))
}

/// The first words of a text, lowercase and cut short: what it is compared with when it is no
/// command. Bounded, so a long frame costs no more than a short one.
pub(super) fn leading_words(text: &str) -> Vec<String> {
    const WORDS: usize = 12;
    const WORD_CHARS: usize = 24;
    text.split(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| !w.is_empty())
        .take(WORDS)
        .map(|w| {
            w.chars()
                .take(WORD_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .collect()
}

/// How far `words` are from `keywords`, as the fraction `(distance, length)`: per keyword, the
/// edit distance to the nearest of `words`, summed, over the keywords' length, so long
/// commands with one typo beat short ones that merely share a letter.
pub(super) fn distance_to(words: &[String], keywords: &str) -> (usize, usize) {
    let mut length = 0;
    let mut distance = 0;
    for keyword in keyword_list(keywords) {
        length += keyword.len();
        distance += words
            .iter()
            .map(|w| edit_distance(w, keyword))
            .min()
            .unwrap_or(keyword.len());
    }
    (distance, length)
}

/// Levenshtein distance over characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
    use super::*;

    #[test]
    fn deep_nesting_is_measured_before_parsing() {
        let deep = "[".repeat(10_000);
        match parse_data_text(&deep) {
            Err(ParseError::Invalid { field, message }) => {
                assert_eq!(field, "data");
                assert!(message.contains("deeper"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let balanced = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(nests_deeper_than(&balanced, MAX_DATA_DEPTH));
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_DATA_DEPTH),
            "]".repeat(MAX_DATA_DEPTH)
        );
        assert!(matches!(parse_data_text(&ok), Ok(data) if data.len() == 1));
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
    fn keywords_match_whole_words_in_any_case_with_optional_ones() {
        let after = |text| Words::new(text).keywords("generate [a] narrative for task");
        assert_eq!(after("Generate a narrative for task 1"), Some(" 1"));
        assert_eq!(after("GENERATE  NARRATIVE\tfor task: 1"), Some(": 1"));
        assert_eq!(after("generate a narratives for task 1"), None);
        assert_eq!(after("generate"), None);
        assert_eq!(
            keyword_list("generate [a] narrative").collect::<Vec<_>>(),
            ["generate", "a", "narrative"]
        );
        assert_eq!(
            split_at_word("a with-x with data", "with"),
            Some(("a with-x ", " data"))
        );
    }

    #[test]
    fn usages_mark_what_only_an_admin_may_run() {
        let usage = |role| Usage {
            grammar: "Delete task <task_id>",
            example: "Delete task 101",
            role,
        };
        assert_eq!(
            usage(Role::Admin).to_string(),
            "Delete task <task_id> (admin)"
        );
        assert_eq!(usage(Role::Writer).to_string(), "Delete task <task_id>");
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("analyse", "analyze"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
        let words = leading_words("Chek  PROGRESS:for");
        assert_eq!(words, ["chek", "progress", "for"]);
        assert_eq!(distance_to(&words, "check progress"), (1, 13));
    }
}
