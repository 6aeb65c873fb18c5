//! Task identifiers: validated once, so no caller can forge a Redis key.

use std::fmt;

use super::CoreError;

/// Longest task id accepted.
pub const MAX_TASK_ID_LEN: usize = 128;

/// A task id of 1–128 characters from `[A-Za-z0-9._-]`.
///
/// The id is spliced into Redis key names (`TechAgent:analysis:<id>`), so anything that could
/// carry a `:`, a glob character or whitespace is refused here rather than escaped later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(String);

impl TaskId {
    /// Validates `raw` as the request field `field`.
    pub fn parse(raw: &str) -> Result<Self, CoreError> {
        Self::parse_field(raw, "task_id")
    }

    pub(crate) fn parse_field(raw: &str, field: &str) -> Result<Self, CoreError> {
        if raw.is_empty() {
            return Err(CoreError::invalid(field, "must not be empty"));
        }
        if raw.len() > MAX_TASK_ID_LEN {
            return Err(CoreError::invalid(
                field,
                format!("must be at most {MAX_TASK_ID_LEN} characters"),
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(CoreError::invalid(
                field,
                format!("may only contain A-Z, a-z, 0-9, '.', '_' and '-' (found {bad:?})"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        for ok in ["101", "a", "task-1.v2_final", &"x".repeat(MAX_TASK_ID_LEN)] {
            assert_eq!(TaskId::parse(ok).map(|t| t.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn refuses_what_could_forge_a_key() {
        for bad in [
            "",
            "101:x",
            "a b",
            "*",
            "ü",
            "a\nb",
            &"x".repeat(MAX_TASK_ID_LEN + 1),
        ] {
            let error = TaskId::parse(bad).expect_err(bad);
            assert!(
                matches!(&error, CoreError::InvalidArgument { field, .. } if field == "task_id"),
                "{bad:?} gave {error:?}"
            );
        }
    }
}
