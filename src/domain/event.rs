//! Notifications: what agents announce, and the ids that order and resume them.

use std::{
    borrow::Cow,
    fmt,
    ops::Deref,
    str::FromStr,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{CoreError, TaskId};

/// The position of a notification in the shared history, as a Redis stream id `<ms>-<seq>`.
///
/// Ordered; a subscriber resumes strictly after the last id it saw. The in-process memory
/// mints ids of the same form, so tokens look alike whichever backend serves them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// Milliseconds since the Unix epoch when it was minted.
    pub ms: u64,
    /// Order among the ids of the same millisecond.
    pub seq: u64,
}

impl EventId {
    /// Before every event: resuming after it replays everything retained.
    pub const ZERO: EventId = EventId { ms: 0, seq: 0 };

    /// The latest time (unix ms) of an id a resume token may name: 9999-12-31T23:59:59.999Z.
    pub const LATEST_MS: u64 = 253_402_300_799_999;

    /// The wall-clock time the id was minted at.
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.ms)
    }

    /// The smallest id after `self`.
    pub fn successor(self) -> EventId {
        match self.seq.checked_add(1) {
            Some(seq) => EventId { ms: self.ms, seq },
            None => EventId {
                ms: self.ms + 1,
                seq: 0,
            },
        }
    }

    /// The largest id before `self` (`ZERO` for `ZERO`): resuming after it starts at `self`.
    pub fn predecessor(self) -> EventId {
        match (self.ms, self.seq) {
            (0, 0) => EventId::ZERO,
            (ms, 0) => EventId {
                ms: ms - 1,
                seq: u64::MAX,
            },
            (ms, seq) => EventId { ms, seq: seq - 1 },
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Accepts `<ms>-<seq>` and, as Redis does, a bare `<ms>` (meaning `<ms>-0`).
impl FromStr for EventId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            part.parse::<u64>().map_err(|_| ())
        };
        Ok(EventId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}

/// One agent write, announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Its place in the history: the resume token.
    pub id: EventId,
    /// The task written.
    pub task_id: String,
    /// Who wrote: one of [`agent`].
    pub agent: String,
    /// What happened: one of [`action`].
    pub action: String,
    /// The write's details, by action (see the memory layer's write types).
    pub payload: Map<String, Value>,
    /// The W3C `traceparent` of the span that wrote it, when traces are on: whoever handles
    /// the notification can continue the writer's trace (`crate::traces`).
    pub traceparent: Option<String>,
}

impl Notification {
    /// When it was minted (the time in its id).
    pub fn time(&self) -> SystemTime {
        self.id.time()
    }
}

/// A notification as the fan-out hands it to subscribers: one value per event, shared by all of
/// them, with room for each wire format's encoding of it.
///
/// A transport asks for its encoding with [`Published::encoded`]; the first subscriber to
/// need it encodes, every other one gets the same bytes. With a thousand subscribers of one
/// task, that is one encoding per event instead of a thousand.
#[derive(Debug)]
pub struct Published {
    notification: Notification,
    /// When this process took it from memory: how far behind a subscriber is, without a clock
    /// read per delivery.
    taken_at: Instant,
    encodings: [OnceLock<Bytes>; WireFormat::COUNT],
    /// Whether a live subscriber has been handed it yet.
    handed_over: AtomicBool,
    /// The resume token handed out with it when that is not its id: on a subscription that
    /// merges several histories, where the subscriber stands in each (`v1:…`).
    token: Option<Box<str>>,
}

/// The encodings transports keep of a [`Published`] notification. The domain never looks
/// inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// The gRPC stream's message.
    Protobuf,
    /// The WebSocket frame.
    Json,
}

impl WireFormat {
    const COUNT: usize = 2;
}

impl Published {
    /// A notification just taken from memory, not yet encoded or handed over.
    pub fn new(notification: Notification) -> Self {
        Self {
            notification,
            taken_at: Instant::now(),
            encodings: Default::default(),
            handed_over: AtomicBool::new(false),
            token: None,
        }
    }

    /// A notification for one subscriber of several histories, with the token to resume
    /// that subscriber after it.
    pub fn with_token(notification: Notification, token: String) -> Self {
        Self {
            token: Some(token.into_boxed_str()),
            ..Self::new(notification)
        }
    }

    /// The resume token to hand out with the notification: its id, unless
    /// [`Published::with_token`] gave another.
    pub fn resume_token(&self) -> Cow<'_, str> {
        match &self.token {
            Some(token) => Cow::Borrowed(token),
            None => Cow::Owned(self.notification.id.to_string()),
        }
    }

    /// The token [`Published::with_token`] gave, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// What was announced.
    pub fn notification(&self) -> &Notification {
        &self.notification
    }

    /// When this process took the notification from memory.
    pub fn taken_at(&self) -> Instant {
        self.taken_at
    }

    /// The notification in `format`, encoded by `encode` the first time it is asked for.
    pub fn encoded(
        &self,
        format: WireFormat,
        encode: impl FnOnce(&Notification) -> Bytes,
    ) -> &Bytes {
        self.encodings[format as usize].get_or_init(|| encode(&self.notification))
    }

    /// True for the first caller only: per-event work done once, whoever delivers first.
    pub(crate) fn first_hand_over(&self) -> bool {
        // A plain load first: after the first delivery, the flag's cache line stays shared
        // between cores instead of bouncing with a write per subscriber.
        !self.handed_over.load(Ordering::Relaxed) && !self.handed_over.swap(true, Ordering::Relaxed)
    }
}

impl Deref for Published {
    type Target = Notification;

    fn deref(&self) -> &Notification {
        &self.notification
    }
}

/// Who announced: the agents, and Rift itself for notices about the stream.
pub mod agent {
    /// Analyze.
    pub const TECH: &str = "TechAgent";
    /// Narrate.
    pub const CONCEPT: &str = "ConceptAgent";
    /// Progress.
    pub const TASK: &str = "TaskAgent";
    /// Report.
    pub const REPORT: &str = "ReportAgent";
    /// Rift itself: deletions (an admin's, not an agent's) and notices about the history.
    pub const RIFT: &str = "Rift";
}

/// What happened.
pub mod action {
    /// TechAgent stored an analysis as the task's next version.
    pub const ANALYSIS_STORED: &str = "analysis_stored";
    /// ConceptAgent stored a narrative of the latest analysis.
    pub const NARRATIVE_STORED: &str = "narrative_stored";
    /// TaskAgent saw the task completed for the first time.
    pub const PROGRESS_COMPLETED: &str = "progress_completed";
    /// An admin removed every key of the task.
    pub const TASK_DELETED: &str = "task_deleted";
    /// ReportAgent stored a report of the latest analysis.
    pub const REPORT_STORED: &str = "report_stored";
    /// Events the subscriber asked for were trimmed from the history before it could read them.
    pub const HISTORY_TRUNCATED: &str = "history_truncated";
    /// Events the subscriber had received are gone from the history (a failover that lost
    /// them, an older dump restored); what follows is everything retained.
    pub const HISTORY_DIVERGED: &str = "history_diverged";
    /// The history the subscriber read from is gone and a new one began (memory came back
    /// empty); what follows is everything the new one holds.
    pub const HISTORY_RESET: &str = "history_reset";
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Only what happens from now on.
    Live,
    /// Every event strictly after this id (`EventId::ZERO`: everything retained), then live.
    After(EventId),
}

impl Resume {
    /// Parses the `after` request field: empty, `0`, or a notification id.
    pub fn parse(after: &str) -> Result<Self, CoreError> {
        let after = after.trim();
        if after.is_empty() {
            return Ok(Resume::Live);
        }
        let id: EventId = after.parse().map_err(|()| {
            CoreError::invalid(
                "after",
                "must be empty, \"0\", or a notification id such as \"1700000000000-0\"",
            )
        })?;
        // An id whose time is past the year 9999 was never minted by any memory, and one at
        // the very end of the id space cannot be resumed after (Redis has no id beyond it).
        if id.ms > EventId::LATEST_MS {
            return Err(CoreError::invalid(
                "after",
                format!("{id} is not a notification id: its time is past the year 9999"),
            ));
        }
        Ok(Resume::After(id))
    }
}

/// Which tasks a subscriber follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFilter {
    /// Every task.
    All,
    /// This task only.
    One(TaskId),
}

impl TaskFilter {
    /// Parses the `task_id` field of a subscription: empty means every task.
    pub fn parse(task_id: &str) -> Result<Self, CoreError> {
        if task_id.is_empty() {
            Ok(TaskFilter::All)
        } else {
            TaskId::parse(task_id).map(TaskFilter::One)
        }
    }

    /// The task followed, or `""` for every task: how notices about the stream name it.
    pub fn task_id(&self) -> &str {
        match self {
            TaskFilter::All => "",
            TaskFilter::One(task) => task.as_str(),
        }
    }

    /// Whether a subscriber with this filter gets `notification`.
    pub fn admits(&self, notification: &Notification) -> bool {
        match self {
            TaskFilter::All => true,
            TaskFilter::One(task) => task.as_str() == notification.task_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_ids_no_memory_could_mint_are_refused() {
        for absurd in [
            "18446744073709551615-18446744073709551615",
            "18446744073709551615",
            "253402300800000-0",
        ] {
            assert!(
                matches!(Resume::parse(absurd), Err(CoreError::InvalidArgument { ref field, .. }) if field == "after"),
                "{absurd}"
            );
        }
        let latest = format!("{}-{}", EventId::LATEST_MS, u64::MAX);
        assert!(matches!(Resume::parse(&latest), Ok(Resume::After(_))));
    }

    #[test]
    fn ids_parse_print_and_order_like_redis_stream_ids() {
        let id: EventId = "1700000000000-3".parse().expect("id");
        assert_eq!(
            id,
            EventId {
                ms: 1_700_000_000_000,
                seq: 3
            }
        );
        assert_eq!(id.to_string(), "1700000000000-3");
        assert_eq!("5".parse(), Ok(EventId { ms: 5, seq: 0 }));
        assert!(EventId { ms: 2, seq: 0 } > EventId { ms: 1, seq: 9 });
        assert_eq!(
            id.successor(),
            EventId {
                ms: 1_700_000_000_000,
                seq: 4
            }
        );
        for bad in ["", "-", "1-", "-1", "a-1", "1-2-3", "+1", "1 "] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resume_tokens() {
        assert_eq!(Resume::parse(""), Ok(Resume::Live));
        assert_eq!(Resume::parse("0"), Ok(Resume::After(EventId::ZERO)));
        assert_eq!(
            Resume::parse("12-1"),
            Ok(Resume::After(EventId { ms: 12, seq: 1 }))
        );
        assert!(matches!(
            Resume::parse("yesterday"),
            Err(CoreError::InvalidArgument { field, .. }) if field == "after"
        ));
    }
}
