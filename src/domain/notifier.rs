//! Fan-out of notifications to subscribers, gap-free from replay into live.
//!
//! One tail loop per process reads new notifications from memory (on Redis, `XREAD BLOCK` on a
//! connection of its own) and broadcasts them to this process's subscribers; while there are
//! none, it only follows where history ends. A subscription is a stream its transport polls
//! directly, with no task or queue of its own between the two:
//!
//! 1. it joins the broadcast *before* reading history, so nothing appended meanwhile is missed;
//! 2. it replays from memory strictly after its resume id, a page at a time;
//! 3. it forwards live events, dropping any id it already delivered.
//!
//! The broadcast buffer is bounded and shared: a subscriber that falls behind is not waited
//! for. It gets `Lagged` instead and catches up from memory (`XRANGE`), which still holds what
//! it missed, unless trimming took it, in which case it is told (`history_truncated`). One that
//! is more than [`NotifierConfig::slow_subscriber_timeout`] behind when it overflows is cut off
//! with the id to resume after. Writers never wait for subscribers, and a subscriber's
//! transport buffers are bounded by its own flow control: a transport that cannot send does not
//! poll.
//!
//! At shutdown the tail loop ends, dropping the broadcast's only sender: every subscription
//! ends once it has delivered what was already broadcast.
//!
//! # When memory loses history
//!
//! A subscriber resuming from an id checks what became of it ([`Located::continuity`]):
//! trimmed away is `history_truncated`; events it had received gone is `history_diverged`; a
//! history that is not the one it read from is `history_reset`. The tail checks the same for
//! its own cursor, and whether the epoch changed, after every failed read (a reconnect) and
//! whenever a read finds nothing new; if its history is gone it tells every live subscriber
//! with the notice. After either of the last two notices (id `0`), a subscriber gets
//! everything the history now holds: ids can go backwards across an incarnation (a new
//! primary whose clock is behind), so continuing "after the last id seen" could skip every
//! new event in silence.

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use futures::{Stream, StreamExt as _};
use serde_json::{Map, Value};
use tokio::{
    sync::{Notify, broadcast, watch},
    time::Instant,
};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{
    CoreError, EventId, MemoryError, Notification, Published, Resume, TaskFilter,
    event::{action, agent},
    memory::{Continuity, Epoch, Memory},
    telemetry::Telemetry,
};

/// Buffer sizes and limits of the fan-out.
#[derive(Debug, Clone, Copy)]
pub struct NotifierConfig {
    /// Events the shared broadcast holds for the slowest subscriber before it must catch up.
    pub live_buffer: usize,
    /// Events read from memory per replay page.
    pub replay_page: usize,
    /// How far behind live a subscriber may be when it overflows the shared buffer and still
    /// be caught up from memory; further behind, it is cut off with `SubscriberTooSlow` (and
    /// the id to resume after).
    pub slow_subscriber_timeout: Duration,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            live_buffer: 4096,
            replay_page: 512,
            slow_subscriber_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    shared: Arc<Shared>,
    /// The tail loop holds the only strong sender; subscribing upgrades this one. Once the loop
    /// ends, subscriptions see the broadcast closed and end.
    live: broadcast::WeakSender<Arc<Published>>,
    /// Becomes true once the tail loop knows where history ends, the point from which it
    /// broadcasts. A subscriber joining earlier could fall between its own starting point and
    /// the loop's: it waits.
    tail_started: watch::Receiver<bool>,
}

#[derive(Debug)]
struct Shared {
    memory: Arc<dyn Memory>,
    config: NotifierConfig,
    telemetry: Telemetry,
    /// Told when a subscriber joins, so an idle tail loop starts reading.
    subscribed: Notify,
    /// How often a tail nobody listens to looks where history ends.
    idle_poll: Duration,
    /// How many times the tail found its history gone; a marker with this number in its id
    /// (`0-<n>`) went through the broadcast each time.
    losses: AtomicU64,
    /// The last such marker, for a subscriber that lagged past it.
    last_loss: std::sync::Mutex<Option<Arc<Published>>>,
    /// The epoch a live subscriber saw when it joined. A tail that started on a history
    /// without one, and has not read since, learns it here: without it, a history that came
    /// back empty (cursor and epoch both unset) would look intact to the tail.
    joined_epoch: std::sync::Mutex<Option<Epoch>>,
}

impl Shared {
    /// Counts a memory failure if memory could not be reached.
    fn note(&self, error: &MemoryError) {
        if matches!(error, MemoryError::Unavailable(_)) {
            self.telemetry.memory_unavailable();
        }
    }

    fn failed(&self, error: MemoryError) -> CoreError {
        self.note(&error);
        CoreError::from(error)
    }
}

impl Notifier {
    /// Starts the tail loop; it and every subscription end when `shutdown` is cancelled.
    pub(crate) fn start(
        memory: Arc<dyn Memory>,
        config: NotifierConfig,
        telemetry: Telemetry,
        shutdown: CancellationToken,
    ) -> Self {
        Self::start_idling(memory, config, telemetry, shutdown, IDLE_POLL)
    }

    /// [`Notifier::start`], with a tail nobody listens to looking where history ends every
    /// `idle_poll` (one of many partitions' notifiers polls less often).
    pub(crate) fn start_idling(
        memory: Arc<dyn Memory>,
        config: NotifierConfig,
        telemetry: Telemetry,
        shutdown: CancellationToken,
        idle_poll: Duration,
    ) -> Self {
        let (live, _) = broadcast::channel(config.live_buffer.max(1));
        let shared = Arc::new(Shared {
            memory,
            config,
            telemetry,
            idle_poll,
            subscribed: Notify::new(),
            joined_epoch: std::sync::Mutex::new(None),
            losses: AtomicU64::new(0),
            last_loss: std::sync::Mutex::new(None),
        });
        let weak = live.downgrade();
        let (started, tail_started) = watch::channel(false);
        tokio::spawn(tail_loop(shared.clone(), live, started, shutdown));
        Self {
            shared,
            live: weak,
            tail_started,
        }
    }

    /// Notifications for `filter` from `resume` on. The stream ends at shutdown, or after an
    /// error item (memory unavailable during replay, subscriber too slow): resume from the last
    /// id seen.
    ///
    /// "From now on" is fixed before this returns, so anything written after the caller sees
    /// the subscription (a gRPC client: the response headers) is delivered.
    pub(crate) async fn subscribe(
        &self,
        filter: TaskFilter,
        resume: Resume,
    ) -> Result<Subscription, CoreError> {
        self.wait_for_tail().await?;
        // Joined before reading where history stands, so no event falls between the two.
        let live = self
            .live
            .upgrade()
            .ok_or(CoreError::ShuttingDown)?
            .subscribe();
        // Losses before this are not its concern: what it reads next is the history as it is.
        let losses_seen = self.shared.losses.load(Ordering::Acquire);
        self.shared.subscribed.notify_one();
        let (cursor, phase) = match resume {
            // Only what comes after the history's end as it was once the broadcast was joined:
            // the broadcast alone carries all of it, so nothing more is read from memory.
            Resume::Live => {
                let located = self.shared.memory.locate(EventId::ZERO).await?;
                if let Some(epoch) = located.epoch
                    && let Ok(mut joined) = self.shared.joined_epoch.lock()
                {
                    *joined = Some(epoch);
                }
                (located.history.last, Phase::Live)
            }
            // "0" asks for everything retained: nothing it asked for can have been trimmed.
            Resume::After(EventId::ZERO) => (EventId::ZERO, Phase::NextPage),
            Resume::After(after) => (after, Phase::Resuming),
        };
        Ok(Subscription {
            shared: self.shared.clone(),
            filter,
            live: BroadcastStream::new(live),
            cursor,
            delivered: cursor,
            behind_since: Instant::now(),
            ready: VecDeque::new(),
            phase,
            losses_seen,
            span: tracing::Span::current(),
        })
    }

    /// Waits, briefly, for the tail loop to start: only at startup, and longer only while
    /// memory cannot be reached.
    async fn wait_for_tail(&self) -> Result<(), CoreError> {
        const PATIENCE: Duration = Duration::from_secs(2);
        let mut started = self.tail_started.clone();
        match tokio::time::timeout(PATIENCE, started.wait_for(|started| *started)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(CoreError::ShuttingDown),
            Err(_) => Err(CoreError::Unavailable {
                retry_after: PATIENCE,
            }),
        }
    }

    /// Subscribers in this process.
    pub(crate) fn subscriber_count(&self) -> usize {
        self.live.upgrade().map_or(0, |live| live.receiver_count())
    }
}

/// A subscriber's stream of notifications: the events in order, then, if it stopped on an
/// error, that error as the last item.
///
/// Polled by the subscriber's transport itself; dropping a `next()` future loses nothing, as
/// every bit of state lives here.
pub(crate) struct Subscription {
    shared: Arc<Shared>,
    filter: TaskFilter,
    live: BroadcastStream<Arc<Published>>,
    /// The last id taken, delivered or filtered out: anything at or before it is a duplicate.
    cursor: EventId,
    /// The last id delivered: where the subscriber resumes if cut off.
    delivered: EventId,
    /// When the newest event delivered was taken from memory (at first, when the subscription
    /// began): how far behind live the subscriber is.
    behind_since: Instant,
    /// Read from memory, not yet delivered.
    ready: VecDeque<Arc<Published>>,
    phase: Phase,
    /// The tail's losses of history this subscriber has been told of (or that predate it).
    losses_seen: u64,
    /// The subscriber's span (a gRPC call's, a WebSocket connection's), for what is logged
    /// while it is polled: its transport does not enter it for every delivery.
    span: tracing::Span,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("filter", &self.filter)
            .field("cursor", &self.cursor)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

type Reading = Pin<Box<dyn Future<Output = Result<Page, CoreError>> + Send>>;

enum Phase {
    /// Forwarding the broadcast.
    Live,
    /// Resuming from a client's token, which may point before the retained history: check,
    /// then replay.
    Resuming,
    /// Read the next page after the cursor once `ready` is delivered.
    NextPage,
    /// Waiting for memory.
    Reading(Reading),
    /// Ended: after an error, or the broadcast closed at shutdown.
    Ended,
}

/// What one read from memory brought.
struct Page {
    /// The truncation notice, if any, then the admitted events.
    events: Vec<Arc<Published>>,
    /// The last id read, admitted or not.
    cursor: EventId,
    /// Fewer events than a page: memory has nothing more after `cursor` for now.
    complete: bool,
}

impl Stream for Subscription {
    type Item = Result<Arc<Published>, CoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(published) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(this.deliver(published))));
            }
            match &mut this.phase {
                Phase::Ended => return Poll::Ready(None),
                Phase::Resuming => this.read(true),
                Phase::NextPage => this.read(false),
                Phase::Reading(reading) => match ready!(reading.as_mut().poll(cx)) {
                    Ok(page) => {
                        this.cursor = page.cursor;
                        this.ready.extend(page.events);
                        this.phase = if page.complete {
                            Phase::Live
                        } else {
                            Phase::NextPage
                        };
                    }
                    Err(error) => {
                        this.phase = Phase::Ended;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                Phase::Live => match ready!(this.live.poll_next_unpin(cx)) {
                    Some(Ok(published)) => {
                        // The tail's marker of lost history (`0-<n>`), not an event.
                        if published.id.ms == 0 {
                            if published.id.seq > this.losses_seen {
                                this.losses_seen = published.id.seq;
                                let notice = this.notice_of_loss(&published);
                                return Poll::Ready(Some(Ok(this.deliver(notice))));
                            }
                            continue;
                        }
                        if published.id <= this.cursor {
                            continue;
                        }
                        this.cursor = published.id;
                        if this.filter.admits(&published) {
                            // Once per event, not per subscriber: with a thousand subscribers,
                            // a histogram update and a clock read per delivery were a tenth
                            // of the fan-out's cost.
                            if published.first_hand_over() {
                                this.shared
                                    .telemetry
                                    .notification_delivered(published.time());
                            }
                            return Poll::Ready(Some(Ok(this.deliver(published))));
                        }
                    }
                    Some(Err(BroadcastStreamRecvError::Lagged(missed))) => {
                        let _entered = this.span.clone().entered();
                        this.shared.telemetry.subscriber_lagged(missed);
                        let behind = this.behind_since.elapsed();
                        if behind > this.shared.config.slow_subscriber_timeout {
                            tracing::debug!(missed, ?behind, "subscriber too slow; cut off");
                            this.phase = Phase::Ended;
                            return Poll::Ready(Some(Err(CoreError::SubscriberTooSlow {
                                resume_after: this.delivered.to_string(),
                            })));
                        }
                        tracing::debug!(missed, cursor = %this.cursor, "subscriber lagged; catching up from memory");
                        // The marker of a loss of history may be among what it missed.
                        let losses = this.shared.losses.load(Ordering::Acquire);
                        let marker = this.shared.last_loss.lock().ok().and_then(|m| m.clone());
                        if let Some(marker) = marker.filter(|_| losses > this.losses_seen) {
                            this.losses_seen = losses;
                            let notice = this.notice_of_loss(&marker);
                            this.ready.push_back(notice);
                        }
                        this.read(true);
                    }
                    None => {
                        this.phase = Phase::Ended;
                        return Poll::Ready(None);
                    }
                },
            }
        }
    }
}

impl Subscription {
    /// Where the subscriber resumes: after the last notification delivered, or where it
    /// began.
    pub(crate) fn resume_after(&self) -> EventId {
        self.delivered
    }

    /// This subscriber's notice of a loss the tail found (`marker`): named after its own
    /// task, with the last id it was given, and id `0` since everything now retained follows.
    fn notice_of_loss(&mut self, marker: &Notification) -> Arc<Published> {
        let mut payload = marker.payload.clone();
        payload.insert(
            "last_delivered".into(),
            Value::String(self.delivered.to_string()),
        );
        self.cursor = EventId::ZERO;
        Arc::new(Published::new(Notification {
            id: EventId::ZERO,
            task_id: self.filter.task_id().to_owned(),
            agent: agent::RIFT.to_owned(),
            action: marker.action.clone(),
            payload,
            traceparent: None,
        }))
    }

    fn deliver(&mut self, published: Arc<Published>) -> Arc<Published> {
        self.delivered = published.id;
        self.behind_since = published.taken_at();
        published
    }

    /// Starts reading the page after the cursor, first checking for trimmed history if asked.
    fn read(&mut self, check_truncation: bool) {
        self.phase = Phase::Reading(Box::pin(
            read_page(
                self.shared.clone(),
                self.filter.clone(),
                self.cursor,
                check_truncation,
            )
            .instrument(self.span.clone()),
        ));
    }
}

/// The events after `cursor` (one page), preceded, if asked and something after `cursor` is
/// gone, by a notice saying what ([`Continuity`]): after `history_truncated` the page starts
/// just before the oldest retained event, after `history_diverged` or `history_reset` at the
/// beginning.
async fn read_page(
    shared: Arc<Shared>,
    filter: TaskFilter,
    mut cursor: EventId,
    check_history: bool,
) -> Result<Page, CoreError> {
    let mut events = Vec::new();
    if check_history && cursor != EventId::ZERO {
        let located = shared
            .memory
            .locate(cursor)
            .await
            .map_err(|error| shared.failed(error))?;
        let requested_after = Value::String(cursor.to_string());
        let epoch = Value::String(located.epoch.clone().unwrap_or_default());
        let (action, resume_after, payload) = match located.continuity(cursor) {
            Continuity::Intact => (None, cursor, Map::new()),
            Continuity::Truncated => {
                let oldest = located.history.first_retained;
                let payload = Map::from_iter([
                    ("requested_after".to_owned(), requested_after),
                    (
                        "oldest_retained".to_owned(),
                        Value::String(oldest.to_string()),
                    ),
                ]);
                // Resuming from the notice goes on with the oldest event still retained.
                (
                    Some(action::HISTORY_TRUNCATED),
                    oldest.predecessor(),
                    payload,
                )
            }
            Continuity::Diverged => {
                let newest = Value::String(located.history.last.to_string());
                let payload = Map::from_iter([
                    ("requested_after".to_owned(), requested_after),
                    ("newest_retained".to_owned(), newest),
                    ("epoch".to_owned(), epoch),
                ]);
                (Some(action::HISTORY_DIVERGED), EventId::ZERO, payload)
            }
            Continuity::Reset => {
                let payload = Map::from_iter([
                    ("requested_after".to_owned(), requested_after),
                    ("epoch".to_owned(), epoch),
                ]);
                (Some(action::HISTORY_RESET), EventId::ZERO, payload)
            }
        };
        if let Some(action) = action {
            events.push(Arc::new(Published::new(Notification {
                id: resume_after,
                task_id: filter.task_id().to_owned(),
                agent: agent::RIFT.to_owned(),
                action: action.to_owned(),
                payload,
                traceparent: None,
            })));
            cursor = resume_after;
        }
    }
    let page = shared.config.replay_page.max(1);
    let batch = match &filter {
        TaskFilter::All => shared.memory.events_after(cursor, page).await,
        // Only this task's entries: the cost of its history, not of every task's.
        TaskFilter::One(task) => shared.memory.task_events_after(task, cursor, page).await,
    }
    .map_err(|error| shared.failed(error))?;
    let complete = batch.len() < page;
    for notification in batch {
        cursor = notification.id;
        if filter.admits(&notification) {
            events.push(Arc::new(Published::new(notification)));
        }
    }
    Ok(Page {
        events,
        cursor,
        complete,
    })
}

/// How often a tail nobody listens to moves its cursor up to the history's end; a subscriber
/// joining wakes it at once.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// What the tail knows of the history it follows.
struct TailState {
    /// The last id read (or skipped while nobody listened).
    cursor: EventId,
    /// The history's epoch when last read; `None` while none was set.
    epoch: Option<Epoch>,
    /// Whether to check the history before the next read: after a failure (a reconnect may
    /// have reached a Redis that lost data) and after a read that found nothing new (a
    /// `FLUSHALL`, or ids now behind the cursor, look just like silence).
    recheck: bool,
}

impl TailState {
    /// Checks that the history still holds what was read; if it is gone (another epoch, or
    /// the cursor missing from it), tells live subscribers and starts again from the
    /// beginning of what the history now holds.
    async fn check(
        &mut self,
        shared: &Shared,
        live: &broadcast::Sender<Arc<Published>>,
    ) -> Result<(), MemoryError> {
        let located = shared.memory.locate(self.cursor).await?;
        self.recheck = false;
        // Taken either way: a hint left for later would outlive the history it came from.
        let joined = shared
            .joined_epoch
            .lock()
            .ok()
            .and_then(|mut joined| joined.take());
        if self.epoch.is_none() {
            self.epoch = joined;
        }
        let epoch_changed = self.epoch.is_some() && located.epoch != self.epoch;
        let action = match located.continuity(self.cursor) {
            _ if epoch_changed => Some(action::HISTORY_RESET),
            Continuity::Reset => Some(action::HISTORY_RESET),
            Continuity::Diverged => Some(action::HISTORY_DIVERGED),
            // Trimmed past the tail itself: what remains is read as usual.
            Continuity::Intact | Continuity::Truncated => None,
        };
        if let Some(action) = action {
            tracing::warn!(
                action,
                cursor = %self.cursor,
                previous_epoch = self.epoch.as_deref().unwrap_or(""),
                epoch = located.epoch.as_deref().unwrap_or(""),
                "the history the notifier followed is gone; telling subscribers"
            );
            let payload = Map::from_iter([
                (
                    "previous_epoch".to_owned(),
                    Value::String(self.epoch.clone().unwrap_or_default()),
                ),
                (
                    "epoch".to_owned(),
                    Value::String(located.epoch.clone().unwrap_or_default()),
                ),
            ]);
            let losses = shared.losses.load(Ordering::Acquire) + 1;
            let marker = Arc::new(Published::new(Notification {
                id: EventId { ms: 0, seq: losses },
                task_id: String::new(),
                agent: agent::RIFT.to_owned(),
                action: action.to_owned(),
                payload,
                traceparent: None,
            }));
            if let Ok(mut last) = shared.last_loss.lock() {
                *last = Some(marker.clone());
            }
            shared.losses.store(losses, Ordering::Release);
            // No receivers is fine: nobody is subscribed right now.
            let _ = live.send(marker);
            self.cursor = EventId::ZERO;
        }
        if located.epoch.is_some() || epoch_changed {
            self.epoch = located.epoch;
        }
        Ok(())
    }
}

/// Reads new notifications from memory and broadcasts them, until shutdown.
async fn tail_loop(
    shared: Arc<Shared>,
    live: broadcast::Sender<Arc<Published>>,
    started: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    const PAGE: usize = 512;
    let mut tail = shared.memory.open_tail();
    let mut backoff = Backoff::default();
    let mut state = loop {
        match shared.memory.locate(EventId::ZERO).await {
            Ok(located) => {
                break TailState {
                    cursor: located.history.last,
                    epoch: located.epoch,
                    recheck: false,
                };
            }
            Err(error) => {
                if backoff.is_fresh() {
                    tracing::warn!(%error, "notifier cannot read history yet; retrying");
                }
                shared.note(&error);
                if !backoff.wait(&shutdown).await {
                    return;
                }
            }
        }
    };
    tracing::debug!(cursor = %state.cursor, "notifier tail started");
    started.send_replace(true);
    loop {
        if state.recheck
            && let Err(error) = state.check(&shared, &live).await
        {
            if backoff.is_fresh() {
                tracing::warn!(%error, cursor = %state.cursor, "notifier cannot check history; retrying");
            }
            shared.note(&error);
            if !backoff.wait(&shutdown).await {
                return;
            }
            continue;
        }
        if live.receiver_count() == 0 {
            // Nobody in this process listens: keep up with where history ends without reading
            // and decoding every notification (at tens of thousands of writes a second, a tenth
            // of Rift's CPU and a share of Redis's).
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = shared.subscribed.notified() => {}
                () = tokio::time::sleep(shared.idle_poll) => {}
            }
            if live.receiver_count() > 0 {
                continue;
            }
            match tail.newest().await {
                // Counted after the read: a subscriber that joined before it is served from
                // the old cursor; one that joins after reads a history end at least this new.
                Ok(newest) if live.receiver_count() == 0 => {
                    backoff.reset();
                    if newest < state.cursor {
                        // The history went backwards: find out what became of it first.
                        state.recheck = true;
                    } else {
                        state.cursor = newest;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if backoff.is_fresh() {
                        tracing::warn!(%error, cursor = %state.cursor, "notifier tail read failed; retrying");
                    }
                    shared.note(&error);
                    state.recheck = true;
                    if !backoff.wait(&shutdown).await {
                        return;
                    }
                }
            }
            continue;
        }
        let batch = tokio::select! {
            () = shutdown.cancelled() => return,
            batch = tail.next_batch(state.cursor, PAGE) => batch,
        };
        match batch {
            Ok(batch) => {
                backoff.reset();
                // Nothing new is when to look for a loss.
                state.recheck = batch.is_empty();
                if !batch.is_empty() && state.epoch.is_none() {
                    // The tail started on a history without an epoch; these events' writes
                    // set one. Learned before they are passed on, so a loss right after
                    // them is known for what it is.
                    match shared.memory.locate(EventId::ZERO).await {
                        Ok(located) => state.epoch = located.epoch,
                        Err(error) => {
                            shared.note(&error);
                            state.recheck = true;
                        }
                    }
                }
                for notification in batch {
                    state.cursor = notification.id;
                    // No receivers is fine: nobody is subscribed right now.
                    let _ = live.send(Arc::new(Published::new(notification)));
                }
            }
            Err(error) => {
                if backoff.is_fresh() {
                    tracing::warn!(%error, cursor = %state.cursor, "notifier tail read failed; retrying");
                }
                shared.note(&error);
                state.recheck = true;
                if !backoff.wait(&shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Exponential backoff between retries, 50 ms doubling to 2 s.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(2);

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    /// Whether this is the first failure since the last success: the one worth a warning
    /// (an outage is logged once, not every two seconds while it lasts).
    fn is_fresh(&self) -> bool {
        self.next == Self::FIRST
    }

    /// Sleeps; `false` if shutdown came first.
    async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        tokio::select! {
            () = shutdown.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::domain::{
        AnalysisStats, TaskId,
        memory::{AnalysisWrite, InProcessMemory, WriteGuard},
        records,
    };

    async fn write(memory: &InProcessMemory, n: usize) {
        let task = TaskId::parse("t").expect("task id");
        for _ in 0..n {
            let record =
                records::analysis_json(&task, "Analyzed 0 items", &AnalysisStats::default());
            memory
                .store_analysis(AnalysisWrite {
                    task: &task,
                    record_json: &record,
                    summary: "Analyzed 0 items",
                    data_json: "[]",
                    expected_version: None,
                    guard: WriteGuard::default(),
                })
                .await
                .expect("stored");
        }
    }

    fn notifier(memory: &InProcessMemory, shutdown: &CancellationToken) -> Notifier {
        notifier_on(Arc::new(memory.clone()), shutdown)
    }

    /// A notifier with small buffers, so a test overflows them with a few writes.
    fn notifier_on(memory: Arc<dyn Memory>, shutdown: &CancellationToken) -> Notifier {
        Notifier::start(
            memory,
            NotifierConfig {
                live_buffer: 4,
                replay_page: 8,
                slow_subscriber_timeout: Duration::from_secs(5),
            },
            Telemetry::new(),
            shutdown.clone(),
        )
    }

    async fn next_event(subscription: &mut Subscription) -> Arc<Published> {
        subscription
            .next()
            .await
            .expect("an event")
            .expect("no error")
    }

    fn version(published: &Published) -> u64 {
        published.payload["version"].as_u64().expect("a version")
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_briefly_behind_catches_up_from_memory() {
        let memory = InProcessMemory::new(1000);
        let shutdown = CancellationToken::new();
        let notifier = notifier(&memory, &shutdown);
        let mut subscription = notifier
            .subscribe(TaskFilter::All, Resume::Live)
            .await
            .expect("subscribed");
        // Five times the shared buffer, written while the subscriber reads nothing.
        write(&memory, 20).await;
        for expected in 1..=20 {
            let event = next_event(&mut subscription).await;
            assert_eq!(version(&event), expected);
        }
        write(&memory, 1).await;
        let live = next_event(&mut subscription).await;
        assert_eq!(version(&live), 21);
        shutdown.cancel();
        assert!(subscription.next().await.is_none(), "ends at shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_far_behind_is_cut_off_with_its_resume_id() {
        let memory = InProcessMemory::new(1000);
        let shutdown = CancellationToken::new();
        let notifier = notifier(&memory, &shutdown);
        let mut subscription = notifier
            .subscribe(TaskFilter::All, Resume::Live)
            .await
            .expect("subscribed");
        write(&memory, 1).await;
        let first = next_event(&mut subscription).await;
        // The subscriber stops reading for longer than the limit while writers go on, well
        // past the shared buffer; writers never wait for it.
        tokio::time::sleep(Duration::from_secs(6)).await;
        write(&memory, 20).await;
        match subscription.next().await {
            Some(Err(CoreError::SubscriberTooSlow { resume_after })) => {
                assert_eq!(resume_after, first.id.to_string());
            }
            other => panic!("expected SubscriberTooSlow, got {other:?}"),
        }
        assert!(
            subscription.next().await.is_none(),
            "the stream ends after the error"
        );

        // Resuming from the id it was given loses nothing.
        let mut resumed = notifier
            .subscribe(TaskFilter::All, Resume::After(first.id))
            .await
            .expect("resubscribed");
        for expected in 2..=21 {
            let event = next_event(&mut resumed).await;
            assert_eq!(version(&event), expected);
        }
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_tail_nobody_listened_to_serves_a_new_subscriber_without_gap_or_duplicate() {
        let memory = InProcessMemory::new(1000);
        let shutdown = CancellationToken::new();
        let notifier = notifier(&memory, &shutdown);
        // Written while nobody listens; the idle tail only moves its cursor.
        write(&memory, 5).await;
        tokio::time::sleep(IDLE_POLL * 3).await;
        let mut live = notifier
            .subscribe(TaskFilter::All, Resume::Live)
            .await
            .expect("subscribed");
        let mut replayed = notifier
            .subscribe(TaskFilter::All, Resume::After(EventId::ZERO))
            .await
            .expect("subscribed");
        write(&memory, 3).await;
        for expected in 6..=8 {
            let event = next_event(&mut live).await;
            assert_eq!(version(&event), expected);
        }
        for expected in 1..=8 {
            let event = next_event(&mut replayed).await;
            assert_eq!(version(&event), expected);
        }
        shutdown.cancel();
        assert!(live.next().await.is_none(), "nothing more, no duplicate");
    }

    /// In-process memory that can be wiped, as a Redis coming back empty: a fresh memory (a new
    /// epoch) takes its place, and the tail's next read fails once, as a reconnect would.
    #[derive(Debug, Clone)]
    struct Wipeable {
        current: Arc<std::sync::Mutex<InProcessMemory>>,
        wiped: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Wipeable {
        fn new() -> Self {
            Self {
                current: Arc::new(std::sync::Mutex::new(InProcessMemory::new(1000))),
                wiped: Arc::default(),
            }
        }

        fn memory(&self) -> InProcessMemory {
            self.current.lock().expect("lock").clone()
        }

        fn wipe(&self) {
            *self.current.lock().expect("lock") = InProcessMemory::new(1000);
            self.wiped.store(true, Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl Memory for Wipeable {
        fn backend(&self) -> &'static str {
            "wipeable"
        }
        async fn store_analysis(
            &self,
            write: AnalysisWrite<'_>,
        ) -> Result<crate::domain::memory::AnalysisStored, MemoryError> {
            self.memory().store_analysis(write).await
        }
        async fn store_narrative(
            &self,
            write: crate::domain::memory::NarrativeWrite<'_>,
        ) -> Result<Option<crate::domain::memory::NarrativeStored>, MemoryError> {
            self.memory().store_narrative(write).await
        }
        async fn observe_progress(
            &self,
            task: &TaskId,
            record: &str,
            deadline: Option<std::time::SystemTime>,
        ) -> Result<crate::domain::memory::ProgressObserved, MemoryError> {
            self.memory().observe_progress(task, record, deadline).await
        }
        async fn delete_task(
            &self,
            task: &TaskId,
            deadline: Option<std::time::SystemTime>,
        ) -> Result<Option<EventId>, MemoryError> {
            self.memory().delete_task(task, deadline).await
        }
        async fn get_task(
            &self,
            task: &TaskId,
            with_report: bool,
        ) -> Result<crate::domain::memory::TaskView, MemoryError> {
            self.memory().get_task(task, with_report).await
        }
        async fn report_source(
            &self,
            task: &TaskId,
        ) -> Result<crate::domain::memory::ReportSource, MemoryError> {
            self.memory().report_source(task).await
        }
        async fn store_report(
            &self,
            write: crate::domain::memory::ReportWrite<'_>,
        ) -> Result<crate::domain::memory::ReportStored, MemoryError> {
            self.memory().store_report(write).await
        }
        async fn list_tasks(
            &self,
            query: &crate::domain::memory::ListQuery,
        ) -> Result<crate::domain::memory::TaskPage, MemoryError> {
            self.memory().list_tasks(query).await
        }
        async fn events_after(
            &self,
            after: EventId,
            limit: usize,
        ) -> Result<Vec<Notification>, MemoryError> {
            self.memory().events_after(after, limit).await
        }
        async fn history(&self) -> Result<crate::domain::memory::History, MemoryError> {
            self.memory().history().await
        }
        async fn locate(&self, id: EventId) -> Result<crate::domain::memory::Located, MemoryError> {
            self.memory().locate(id).await
        }
        fn open_tail(&self) -> Box<dyn crate::domain::memory::Tail> {
            Box::new(self.clone())
        }
        async fn ping(&self) -> Result<(), MemoryError> {
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl crate::domain::memory::Tail for Wipeable {
        async fn next_batch(
            &mut self,
            after: EventId,
            limit: usize,
        ) -> Result<Vec<Notification>, MemoryError> {
            if self.wiped.swap(false, Ordering::SeqCst) {
                return Err(MemoryError::Unavailable("connection dropped".into()));
            }
            self.memory().open_tail().next_batch(after, limit).await
        }
        async fn newest(&mut self) -> Result<EventId, MemoryError> {
            self.memory().open_tail().newest().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn live_subscribers_are_told_of_a_wipe_then_get_the_new_history() {
        let memory = Wipeable::new();
        let shutdown = CancellationToken::new();
        let notifier = notifier_on(Arc::new(memory.clone()), &shutdown);
        let mut live = notifier
            .subscribe(TaskFilter::All, Resume::Live)
            .await
            .expect("subscribed");
        // Reads nothing until after the wipe: the marker falls out of the shared buffer before
        // it gets there.
        let mut lagging = notifier
            .subscribe(
                TaskFilter::One(TaskId::parse("t").expect("id")),
                Resume::Live,
            )
            .await
            .expect("subscribed");
        write(&memory.memory(), 3).await;
        for expected in 1..=3 {
            assert_eq!(version(&*next_event(&mut live).await), expected);
        }
        memory.wipe();
        // The new history's writes: versions from 1 again.
        write(&memory.memory(), 6).await;
        let notice = next_event(&mut live).await;
        assert_eq!(
            (notice.agent.as_str(), notice.action.as_str(), notice.id),
            (agent::RIFT, action::HISTORY_RESET, EventId::ZERO)
        );
        for expected in 1..=6 {
            assert_eq!(version(&*next_event(&mut live).await), expected);
        }

        // The old history's events it never read are gone with it: the notice comes first.
        let notice = next_event(&mut lagging).await;
        assert_eq!(
            (notice.action.as_str(), notice.task_id.as_str()),
            (action::HISTORY_RESET, "t")
        );
        for expected in 1..=6 {
            assert_eq!(version(&*next_event(&mut lagging).await), expected);
        }
        shutdown.cancel();
    }

    #[tokio::test]
    async fn subscribing_after_shutdown_is_refused() {
        let memory = InProcessMemory::new(1000);
        let shutdown = CancellationToken::new();
        let notifier = notifier(&memory, &shutdown);
        shutdown.cancel();
        // The tail loop ends on its own task; wait until its sender is gone.
        while notifier.live.upgrade().is_some() {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            notifier.subscribe(TaskFilter::All, Resume::Live).await,
            Err(CoreError::ShuttingDown)
        ));
    }
}
