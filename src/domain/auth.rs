//! Who may do what: bearer tokens with roles, checked the same way for every transport.
//!
//! Tokens come from a file (`--tokens-file`), one `<role> <token>` per line, `#` comments.
//! They are never logged: [`Tokens`] debug-prints only how many there are of each role.
//! Comparison is constant-time over the SHA-256 of the presented and the configured token,
//! against every configured token, so neither a token's length nor which entry matched leaks.

use std::{fmt, path::Path, str::FromStr};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::CoreError;

/// Roles, each including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Progress, Subscribe/Watch, help.
    Reader,
    /// Reader, plus Analyze and Narrate.
    Writer,
    /// Writer, plus admin operations (DeleteTask).
    Admin,
}

impl Role {
    /// The name tokens files use: `reader`, `writer`, `admin`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reader" => Ok(Role::Reader),
            "writer" => Ok(Role::Writer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (reader, writer or admin)")),
        }
    }
}

/// Every operation a caller can ask for, on any transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// TechAgent's write.
    Analyze,
    /// ConceptAgent's write.
    Narrate,
    /// TaskAgent's report (it records completion).
    Progress,
    /// Notifications: gRPC Subscribe, WebSocket watches.
    Subscribe,
    /// The WebSocket adapter's list of commands.
    Help,
    /// Removing a task.
    DeleteTask,
    /// Reading one task as stored, without writing.
    GetTask,
    /// Listing tasks, without writing.
    ListTasks,
    /// ReportAgent's write.
    Report,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 9] = [
        Operation::Analyze,
        Operation::Narrate,
        Operation::Progress,
        Operation::Subscribe,
        Operation::Help,
        Operation::DeleteTask,
        Operation::GetTask,
        Operation::ListTasks,
        Operation::Report,
    ];

    /// The least role allowed to perform it.
    pub fn required_role(&self) -> Role {
        match self {
            Operation::Progress
            | Operation::Subscribe
            | Operation::Help
            | Operation::GetTask
            | Operation::ListTasks => Role::Reader,
            Operation::Analyze | Operation::Narrate | Operation::Report => Role::Writer,
            Operation::DeleteTask => Role::Admin,
        }
    }

    /// The name logs and errors use: the gRPC method's, `help` for help.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Analyze => "Analyze",
            Operation::Narrate => "Narrate",
            Operation::Progress => "Progress",
            Operation::Subscribe => "Subscribe",
            Operation::Help => "help",
            Operation::DeleteTask => "DeleteTask",
            Operation::GetTask => "GetTask",
            Operation::ListTasks => "ListTasks",
            Operation::Report => "Report",
        }
    }
}

/// A bad tokens file; the message names the line but never its token.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// The file could not be read.
    #[error("cannot read the tokens file: {0}")]
    Read(#[from] std::io::Error),
    /// The file holds no token: serving would ask for none, which is not what giving a tokens
    /// file means.
    #[error(
        "the tokens file holds no token (only blank lines and comments): refusing to serve \
         without authentication; add `<role> <token>` lines, or give no --tokens-file"
    )]
    Empty,
    /// A line is not `<role> <token>` with a known role and a long enough token.
    #[error("tokens file line {line}: {problem}")]
    Line {
        /// 1-based.
        line: usize,
        /// What is wrong with it, without the token.
        problem: String,
    },
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    digests: Vec<([u8; 32], Role)>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |role| self.digests.iter().filter(|(_, r)| *r == role).count();
        f.debug_struct("Tokens")
            .field("readers", &count(Role::Reader))
            .field("writers", &count(Role::Writer))
            .field("admins", &count(Role::Admin))
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Reads and parses the tokens file at `path`; one without any token is an error.
    pub fn load(path: &Path) -> Result<Self, TokensError> {
        let tokens = Self::parse(&std::fs::read_to_string(path)?)?;
        if tokens.is_empty() {
            return Err(TokensError::Empty);
        }
        Ok(tokens)
    }

    /// Parses `<role> <token>` lines; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self, TokensError> {
        let mut digests = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let problem = |problem: String| TokensError::Line {
                line: index + 1,
                problem,
            };
            let mut words = line.split_whitespace();
            let (Some(role), Some(token), None) = (words.next(), words.next(), words.next()) else {
                return Err(problem("expected `<role> <token>`".into()));
            };
            // The word is not echoed: a line written the wrong way round has its token here.
            let role: Role = role.parse().map_err(|_| {
                problem("the first word must be a role: reader, writer or admin".into())
            })?;
            if token.len() < 16 {
                return Err(problem("tokens must be at least 16 characters".into()));
            }
            digests.push((digest(token), role));
        }
        Ok(Self { digests })
    }

    /// A set with one token per role, for tests and examples.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (Role, &'a str)>) -> Self {
        Self {
            digests: pairs
                .into_iter()
                .map(|(role, token)| (digest(token), role))
                .collect(),
        }
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The role of `presented`, comparing against every configured token in constant time.
    fn role_of(&self, presented: &str) -> Option<Role> {
        let presented = digest(presented);
        let mut found = None;
        for (configured, role) in &self.digests {
            if bool::from(configured.ct_eq(&presented)) {
                // The highest role wins if a token is listed twice.
                found = found.max(Some(*role));
            }
        }
        found
    }
}

/// The access policy every adapter applies before calling the agents.
#[derive(Debug, Clone, Default)]
pub enum Access {
    /// No tokens configured (only allowed on loopback unless explicitly overridden).
    #[default]
    Open,
    /// Every call must present one of these tokens, with a role allowing the operation.
    Tokens(Tokens),
}

impl Access {
    /// `Tokens`, or `Open` when there are none.
    pub fn from_tokens(tokens: Tokens) -> Self {
        if tokens.is_empty() {
            Access::Open
        } else {
            Access::Tokens(tokens)
        }
    }

    /// Whether no token is asked for.
    pub fn is_open(&self) -> bool {
        matches!(self, Access::Open)
    }

    /// Checks that the bearer of `presented` may perform `operation`.
    pub fn authorize(
        &self,
        presented: Option<&str>,
        operation: Operation,
    ) -> Result<(), CoreError> {
        let Access::Tokens(tokens) = self else {
            return Ok(());
        };
        let Some(presented) = presented.filter(|t| !t.is_empty()) else {
            return Err(CoreError::Unauthenticated {
                description: "a bearer token is required".into(),
            });
        };
        let Some(role) = tokens.role_of(presented) else {
            return Err(CoreError::Unauthenticated {
                description: "the bearer token is not valid".into(),
            });
        };
        let required = operation.required_role();
        if role < required {
            return Err(CoreError::PermissionDenied {
                description: format!(
                    "{} needs the {} role; this token has {}",
                    operation.as_str(),
                    required.as_str(),
                    role.as_str()
                ),
            });
        }
        Ok(())
    }
}

/// The token in an `Authorization: Bearer <token>` value (scheme case-insensitive).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const READER: &str = "reader-token-0123456789";
    const WRITER: &str = "writer-token-0123456789";
    const ADMIN: &str = "admin-token-01234567890";

    fn access() -> Access {
        Access::from_tokens(
            Tokens::parse(&format!(
                "# who may do what\nreader {READER}\n\nwriter {WRITER}\n  admin   {ADMIN}  \n"
            ))
            .expect("valid file"),
        )
    }

    #[test]
    fn roles_include_the_ones_below() {
        let access = access();
        for operation in Operation::ALL {
            for (token, role) in [
                (READER, Role::Reader),
                (WRITER, Role::Writer),
                (ADMIN, Role::Admin),
            ] {
                let allowed = access.authorize(Some(token), operation).is_ok();
                assert_eq!(
                    allowed,
                    role >= operation.required_role(),
                    "{role:?} {operation:?}"
                );
            }
        }
    }

    #[test]
    fn missing_and_wrong_tokens_are_unauthenticated() {
        let access = access();
        for presented in [None, Some(""), Some("nope"), Some(&READER[1..])] {
            assert!(matches!(
                access.authorize(presented, Operation::Progress),
                Err(CoreError::Unauthenticated { .. })
            ));
        }
        assert!(matches!(
            access.authorize(Some(READER), Operation::Analyze),
            Err(CoreError::PermissionDenied { .. })
        ));
    }

    #[test]
    fn open_access_allows_everything() {
        for operation in Operation::ALL {
            assert!(Access::Open.authorize(None, operation).is_ok());
        }
        assert!(Access::from_tokens(Tokens::default()).is_open());
    }

    #[test]
    fn bad_files_name_the_line_not_the_token() {
        for (text, line) in [
            ("reader\n", 1),
            ("# c\nroot abcdefghijklmnopq\n", 2),
            ("writer short\n", 1),
            ("reader a b c\n", 1),
            ("abcdefghijklmnopq reader\n", 1),
        ] {
            match Tokens::parse(text) {
                Err(TokensError::Line { line: got, problem }) => {
                    assert_eq!(got, line, "{text:?}");
                    assert!(!problem.contains("abcdefghijklmnopq"));
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_without_tokens_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# nobody yet\n\n").expect("write");
        assert!(matches!(Tokens::load(&path), Err(TokensError::Empty)));
        std::fs::write(&path, "reader abcdefghijklmnopq\n").expect("write");
        assert!(!Tokens::load(&path).expect("one token").is_empty());
    }

    #[test]
    fn debug_never_shows_tokens() {
        let shown = format!("{:?}", access());
        assert!(!shown.contains("token-0123"), "{shown}");
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
