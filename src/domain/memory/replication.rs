//! `--durability replicated`: a write is acknowledged only once a replica has it.
//!
//! Redis replicates asynchronously; `WAIT n timeout` blocks until `n` replicas have
//! acknowledged everything *the calling client* wrote before it. So the confirmation must
//! run on the same server-side client as the writes it covers (a `WAIT` on another connection
//! confirms nothing about them), and after their replies.
//!
//! Writes therefore go over a [`Link`] of their own: one multiplexed connection that never
//! reconnects by itself, whose server-side id (`CLIENT ID`) is read when it opens. After a
//! write's reply, the writer hands a [`Pending`] confirmation to one committer task and waits.
//! The committer takes every confirmation waiting, sends `CLIENT ID` + `WAIT 1 <ms>` on the
//! link, and answers them all from that one reply: a group commit. One `WAIT` is in flight at
//! a time, and the writes sent meanwhile are covered by the next one, so confirming costs
//! about two round trips of latency, not a round trip per write, and the connection is not
//! serialised as a `EVALSHA; WAIT` pipeline per write would serialise it.
//!
//! A confirmation fails (`Unavailable`) when the `WAIT` reached fewer than one replica in
//! time, or when the link it was meant for was replaced (its `CLIENT ID` differs): the write
//! may then exist on the master without being confirmed, which is why a retry must carry the
//! same request id.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{AsyncConnectionConfig, RedisError, aio::MultiplexedConnection};
use tokio::{
    sync::{Mutex, mpsc, oneshot},
    time::Instant,
};

use super::sentinel::Master;
use crate::domain::MemoryError;

/// How many replicas must have a write before it is acknowledged.
const REPLICAS: usize = 1;

/// The write connection and its committer.
#[derive(Debug)]
pub(super) struct ReplicatedWrites {
    links: Arc<Links>,
    /// Started with the first confirmation, inside the runtime; ends once this is dropped.
    commits: OnceLock<mpsc::UnboundedSender<Pending>>,
}

/// The current write link, replaced after a failure.
#[derive(Debug)]
struct Links {
    /// The link goes to the current master; a link to an earlier one is replaced.
    master: Master,
    connect_timeout: Duration,
    /// Longer than any `WAIT` (`op_timeout`) and the writes queued behind it, so only a
    /// connection that stopped answering trips it.
    response_timeout: Duration,
    current: Mutex<Option<Link>>,
    opened: AtomicU64,
}

/// One write connection, as Redis knows it.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub(super) connection: MultiplexedConnection,
    /// `CLIENT ID` of this connection.
    id: u64,
    /// Which link this is, counting from 1: a confirmation is for one link only.
    generation: u64,
    /// The generation of the master it goes to.
    master: u64,
}

/// A write whose reply arrived on link `generation`, waiting for a replica.
#[derive(Debug)]
struct Pending {
    generation: u64,
    give_up: Instant,
    done: oneshot::Sender<Result<(), MemoryError>>,
}

impl ReplicatedWrites {
    pub(super) fn new(master: Master, op_timeout: Duration) -> Self {
        Self {
            links: Arc::new(Links {
                master,
                connect_timeout: op_timeout,
                response_timeout: op_timeout * 2 + Duration::from_secs(1),
                current: Mutex::new(None),
                opened: AtomicU64::new(0),
            }),
            commits: OnceLock::new(),
        }
    }

    /// The link writes go over, opened (with its `CLIENT ID`) if there is none.
    pub(super) async fn link(&self) -> Result<Link, MemoryError> {
        self.links.current().await
    }

    /// Drops `link` after `error`, if the error means the connection is broken: the next
    /// write opens a new one.
    pub(super) async fn failed(&self, link: &Link, error: &RedisError) {
        if error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error() {
            self.links.drop_link(link.generation).await;
        }
    }

    /// Waits until a replica has everything written on `link` so far, or `give_up`.
    pub(super) async fn confirm(&self, link: &Link, give_up: Instant) -> Result<(), MemoryError> {
        let commits = self.commits.get_or_init(|| {
            let (commits, pending) = mpsc::unbounded_channel();
            tokio::spawn(commit_loop(self.links.clone(), pending));
            commits
        });
        let (done, confirmed) = oneshot::channel();
        let pending = Pending {
            generation: link.generation,
            give_up,
            done,
        };
        if commits.send(pending).is_err() {
            return Err(unconfirmed("the committer has stopped"));
        }
        match tokio::time::timeout_at(give_up, confirmed).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(unconfirmed("the committer has stopped")),
            Err(_) => Err(unconfirmed("no replica confirmed the write in time")),
        }
    }
}

impl Links {
    async fn current(&self) -> Result<Link, MemoryError> {
        let mut current = self.current.lock().await;
        let master = self.master.generation();
        // A link to an earlier master is dropped: writes must not go to a demoted one.
        if let Some(link) = current.as_ref().filter(|link| link.master == master) {
            return Ok(link.clone());
        }
        let master = self.master.current().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout));
        let mut connection = master
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(super::redis::classify)?;
        let id: u64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut connection)
            .await
            .map_err(super::redis::classify)?;
        let link = Link {
            connection,
            id,
            generation: self.opened.fetch_add(1, Ordering::Relaxed) + 1,
            master: master.generation,
        };
        tracing::debug!(
            client_id = id,
            generation = link.generation,
            "write link opened"
        );
        Ok(current.insert(link).clone())
    }

    async fn drop_link(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|link| link.generation == generation)
        {
            *current = None;
        }
    }
}

/// Confirms waiting writes a batch at a time, one `WAIT` in flight, until every sender is gone.
async fn commit_loop(links: Arc<Links>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = pending.try_recv() {
            batch.push(next);
        }
        let link = links.current.lock().await.clone();
        let Some(mut link) = link else {
            answer(batch, &Err(unconfirmed("the write connection was lost")));
            continue;
        };
        // Writes that ran on an earlier link cannot be confirmed by this one.
        let (mine, stale): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|pending| pending.generation == link.generation);
        answer(
            stale,
            &Err(unconfirmed(
                "the write connection was replaced before the write was confirmed",
            )),
        );
        let Some(give_up) = mine.iter().map(|pending| pending.give_up).min() else {
            continue;
        };
        // At least 1 ms: `WAIT n 0` would block for ever.
        let wait_ms = give_up
            .saturating_duration_since(Instant::now())
            .as_millis()
            .max(1) as u64;
        let reply: Result<(u64, usize), RedisError> = redis::pipe()
            .cmd("CLIENT")
            .arg("ID")
            .cmd("WAIT")
            .arg(REPLICAS)
            .arg(wait_ms)
            .query_async(&mut link.connection)
            .await;
        let outcome = match reply {
            Ok((id, replicas)) if id == link.id && replicas >= REPLICAS => Ok(()),
            Ok((id, _)) if id != link.id => Err(unconfirmed(
                "the write connection is not the one the writes went over",
            )),
            Ok((_, replicas)) => Err(unconfirmed(&format!(
                "{replicas} replicas confirmed the write within {wait_ms} ms; {REPLICAS} needed"
            ))),
            Err(error) => {
                if error.is_io_error() || error.is_connection_dropped() {
                    links.drop_link(link.generation).await;
                }
                Err(super::redis::classify(error))
            }
        };
        answer(mine, &outcome);
    }
}

fn answer(batch: Vec<Pending>, outcome: &Result<(), MemoryError>) {
    for pending in batch {
        let result = match outcome {
            Ok(()) => Ok(()),
            Err(error) => Err(MemoryError::Unavailable(error.to_string())),
        };
        // A writer that gave up no longer listens: nothing to do.
        let _ = pending.done.send(result);
    }
}

fn unconfirmed(why: &str) -> MemoryError {
    MemoryError::Unavailable(format!("write not confirmed on a replica: {why}"))
}
