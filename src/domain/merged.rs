//! Subscriptions over a memory whose history is split in partitions (Redis Cluster).
//!
//! Each partition has a history of its own (its stream, epoch and ids) and a [`Notifier`] of
//! its own: one tail per partition, on a connection to the master owning the partition's
//! slot. A subscription to one task is a subscription to its partition's notifier alone,
//! with the same ids and tokens as with one history. A subscription to every task merges
//! one subscription per partition: per-partition (so per-task) order, no order across
//! partitions, each event delivered once.
//!
//! Its resume token is where it stands in every partition: `v1:<p>=<ms>-<seq>,…` (partitions
//! not named: nothing read yet, `0`). Clients treat it as opaque and hand back the last one
//! they received; every notification of a merged subscription carries the full token as its
//! id, and so does the `resume_after` of a subscriber cut off for being slow. `0` replays
//! every partition; a plain id (`<ms>-<seq>`) names a position in one history, so it is refused
//! for every task (ids of different partitions are unrelated) and taken as is for one task:
//! `rift migrate` keeps every notification's id, so a per-task token from before the move
//! still resumes without a gap.

use std::{
    fmt::Write as _,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use futures::{Stream, StreamExt as _};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{
    CoreError, EventId, Published, Resume, TaskFilter,
    event::agent,
    memory::Memory,
    notifier::{self, Notifier, NotifierConfig},
    telemetry::Telemetry,
};

/// How often a partition's tail nobody listens to looks where its history ends: ten times
/// less often than one history's, so 32 partitions cost about 32 reads a second per idle
/// process, not 320. A subscriber joining wakes the tail at once either way.
const PARTITION_IDLE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What starts a merged token.
pub const TOKEN_PREFIX: &str = "v1:";

/// The fan-out of one memory: one notifier, or one per partition.
#[derive(Debug, Clone)]
pub(crate) enum Notifiers {
    /// One history.
    One(Notifier),
    /// A history per partition.
    Partitioned(Arc<Partitioned>),
}

#[derive(Debug)]
pub(crate) struct Partitioned {
    memory: Arc<dyn Memory>,
    parts: Vec<Notifier>,
    /// Merged subscriptions open: each is counted once by every part's notifier.
    merged: Arc<AtomicUsize>,
}

impl Notifiers {
    /// Starts the tail loop of each history; they and every subscription end when `shutdown`
    /// is cancelled.
    pub(crate) fn start(
        memory: Arc<dyn Memory>,
        config: NotifierConfig,
        telemetry: Telemetry,
        shutdown: CancellationToken,
    ) -> Self {
        let partitions = memory.partitions();
        if partitions.is_empty() {
            return Notifiers::One(Notifier::start(memory, config, telemetry, shutdown));
        }
        let parts = partitions
            .into_iter()
            .map(|part| {
                Notifier::start_idling(
                    part,
                    config,
                    telemetry.clone(),
                    shutdown.clone(),
                    PARTITION_IDLE_POLL,
                )
            })
            .collect();
        Notifiers::Partitioned(Arc::new(Partitioned {
            memory,
            parts,
            merged: Arc::default(),
        }))
    }

    /// Notifications for `filter` after the resume token `after`; see
    /// [`Notifier::subscribe`].
    pub(crate) async fn subscribe(
        &self,
        filter: TaskFilter,
        after: &str,
    ) -> Result<Subscription, CoreError> {
        let partitioned = match self {
            Notifiers::One(notifier) => {
                let resume = Resume::parse(after)?;
                let one = notifier.subscribe(filter, resume).await?;
                return Ok(Subscription(Inner::One(one)));
            }
            Notifiers::Partitioned(partitioned) => partitioned,
        };
        let start = Start::parse(after, partitioned.parts.len())?;
        if let TaskFilter::One(task) = &filter {
            let p = partitioned.memory.partition_of(task);
            let part = partitioned.parts.get(p).ok_or(CoreError::Internal)?;
            let one = part.subscribe(filter, start.of(p)).await?;
            return Ok(Subscription(Inner::One(one)));
        }
        if let Start::Every(Resume::After(id)) = start
            && id != EventId::ZERO
        {
            return Err(CoreError::invalid(
                "after",
                format!(
                    "{id} is a position in one partition's history; a subscription to every \
                     task resumes from the token its notifications carry (\"{TOKEN_PREFIX}...\"), \
                     or from \"0\""
                ),
            ));
        }
        let parts = futures::future::try_join_all(
            partitioned
                .parts
                .iter()
                .enumerate()
                .map(|(p, part)| part.subscribe(TaskFilter::All, start.of(p))),
        )
        .await?;
        partitioned.merged.fetch_add(1, Ordering::AcqRel);
        Ok(Subscription(Inner::Merged(Merged {
            parts,
            next: 0,
            ended: false,
            _open: OpenGuard(partitioned.merged.clone()),
        })))
    }

    /// Subscribers in this process.
    pub(crate) fn subscriber_count(&self) -> usize {
        match self {
            Notifiers::One(notifier) => notifier.subscriber_count(),
            Notifiers::Partitioned(partitioned) => {
                let all: usize = partitioned
                    .parts
                    .iter()
                    .map(Notifier::subscriber_count)
                    .sum();
                let merged = partitioned.merged.load(Ordering::Acquire);
                all.saturating_sub(merged * partitioned.parts.len().saturating_sub(1))
            }
        }
    }
}

/// Where a subscription over partitions starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    /// The same for every partition: live, or after one id.
    Every(Resume),
    /// After a position in each partition (a merged token).
    Positions(Vec<EventId>),
}

impl Start {
    /// A merged token (`v1:…`) or anything [`Resume::parse`] takes.
    fn parse(after: &str, partitions: usize) -> Result<Self, CoreError> {
        let Some(positions) = parse_positions(after.trim()) else {
            return Resume::parse(after).map(Start::Every);
        };
        let invalid = |why: String| CoreError::invalid("after", why);
        let Some(mut at) = positions else {
            return Err(invalid(
                "the token is not v1:<partition>=<id>,…; pass back a token exactly as Rift gave it"
                    .into(),
            ));
        };
        if at.len() > partitions {
            return Err(invalid(format!(
                "the token names partition {}, but this deployment has {partitions}",
                at.len() - 1
            )));
        }
        at.resize(partitions, EventId::ZERO);
        Ok(Start::Positions(at))
    }

    fn of(&self, partition: usize) -> Resume {
        match self {
            Start::Every(resume) => *resume,
            Start::Positions(at) => Resume::After(at.get(partition).copied().unwrap_or_default()),
        }
    }
}

/// `v1:<p>=<id>,…` of every partition not at `0`.
fn token(parts: &[notifier::Subscription]) -> String {
    positions_token(parts.iter().map(notifier::Subscription::resume_after))
}

/// The merged token of a position per partition (by partition), naming those not at `0`:
/// also how a cluster listing's snapshot is written (its page token and `as_of`).
pub(crate) fn positions_token(at: impl ExactSizeIterator<Item = EventId>) -> String {
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + at.len() * 20);
    token.push_str(TOKEN_PREFIX);
    let mut first = true;
    for (p, at) in at.enumerate() {
        if at == EventId::ZERO {
            continue;
        }
        if !first {
            token.push(',');
        }
        first = false;
        let _ = write!(token, "{p}={at}");
    }
    token
}

/// The positions a merged token names, by partition, up to the last one named (the
/// partitions after it are at `0`); `None` when `text` is not a merged token, `Some(None)`
/// when it is one, malformed.
pub(crate) fn parse_positions(text: &str) -> Option<Option<Vec<EventId>>> {
    let positions = text.strip_prefix(TOKEN_PREFIX)?;
    let mut at = Vec::new();
    for position in positions.split(',').filter(|part| !part.is_empty()) {
        let Some((p, id)) = position.split_once('=') else {
            return Some(None);
        };
        let (Ok(p), Ok(id)) = (p.parse::<usize>(), id.parse::<EventId>()) else {
            return Some(None);
        };
        // A token names each partition once; a bound keeps a forged one from costing memory.
        // Ids past the year 9999 were never minted (as `Resume::parse` refuses them).
        if p >= MAX_TOKEN_PARTITIONS || id.ms > EventId::LATEST_MS {
            return Some(None);
        }
        if at.len() <= p {
            at.resize(p + 1, EventId::ZERO);
        }
        at[p] = id;
    }
    Some(Some(at))
}

/// More partitions than any deployment has (`--redis-partitions` is bounded far below).
const MAX_TOKEN_PARTITIONS: usize = 1 << 16;

/// A subscriber's stream of notifications: the events in order (per partition when several
/// are merged), then, if it stopped on an error, that error as the last item.
#[derive(Debug)]
pub struct Subscription(Inner);

#[derive(Debug)]
enum Inner {
    One(notifier::Subscription),
    Merged(Merged),
}

/// One subscription per partition, polled in turn.
#[derive(Debug)]
struct Merged {
    parts: Vec<notifier::Subscription>,
    /// The part polled first next time, so a busy partition does not starve the others.
    next: usize,
    ended: bool,
    /// Held for the count only.
    _open: OpenGuard,
}

/// Counts a merged subscription open until dropped.
#[derive(Debug)]
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Stream for Subscription {
    type Item = Result<Arc<Published>, CoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().0 {
            Inner::One(one) => one.poll_next_unpin(cx),
            Inner::Merged(merged) => merged.poll(cx),
        }
    }
}

impl Merged {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Arc<Published>, CoreError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let count = self.parts.len();
        for offset in 0..count {
            let p = (self.next + offset) % count;
            let Poll::Ready(item) = self.parts[p].poll_next_unpin(cx) else {
                continue;
            };
            self.next = (p + 1) % count;
            return Poll::Ready(match item {
                Some(Ok(published)) => Some(Ok(self.tokened(p, &published))),
                Some(Err(CoreError::SubscriberTooSlow { .. })) => {
                    self.ended = true;
                    Some(Err(CoreError::SubscriberTooSlow {
                        resume_after: token(&self.parts),
                    }))
                }
                Some(Err(error)) => {
                    self.ended = true;
                    Some(Err(error))
                }
                // Only at shutdown, when every part ends.
                None => {
                    self.ended = true;
                    None
                }
            });
        }
        Poll::Pending
    }

    /// `published` from partition `p`, for this subscriber: with its full token, and a
    /// notice about the history saying which partition's it was.
    fn tokened(&self, p: usize, published: &Published) -> Arc<Published> {
        let mut notification = published.notification().clone();
        if notification.agent == agent::RIFT && notification.action.starts_with("history_") {
            notification
                .payload
                .insert("partition".into(), Value::from(p as u64));
        }
        Arc::new(Published::with_token(notification, token(&self.parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_into_positions() {
        let id = |ms, seq| EventId { ms, seq };
        assert_eq!(
            Start::parse("v1:0=5-1,2=7-0", 3).expect("token"),
            Start::Positions(vec![id(5, 1), EventId::ZERO, id(7, 0)])
        );
        assert_eq!(
            Start::parse("v1:", 2).expect("token"),
            Start::Positions(vec![EventId::ZERO; 2])
        );
        assert_eq!(
            Start::parse("12-3", 2).expect("id"),
            Start::Every(Resume::After(id(12, 3)))
        );
        assert_eq!(
            Start::parse("", 2).expect("live"),
            Start::Every(Resume::Live)
        );
        for bad in ["v1:3=1-0", "v1:0=x", "v1:0", "v1:a=1-0", "v1:0="] {
            assert!(
                matches!(Start::parse(bad, 3), Err(CoreError::InvalidArgument { .. })),
                "{bad}"
            );
        }
    }
}
