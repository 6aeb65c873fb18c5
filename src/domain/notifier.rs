//! Fan-out of notifications to subscribers, gap-free from replay into live.
//!
//! One tail loop per process reads new notifications from memory (on Redis, `XREAD BLOCK` on a
//! connection of its own) and broadcasts them to this process's subscribers. Each subscriber
//! task:
//!
//! 1. joins the broadcast *before* reading history, so nothing appended meanwhile is missed;
//! 2. replays from memory strictly after its resume id;
//! 3. forwards live events, dropping any id it already delivered.
//!
//! The broadcast buffer is bounded and shared: a subscriber that falls behind is not waited
//! for. It gets `Lagged` instead and catches up from memory (`XRANGE`), which still holds what
//! it missed, unless trimming took it, in which case it is told (`history_truncated`).
//! Writers never wait for subscribers.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::Stream;
use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{
    CoreError, EventId, MemoryError, Notification, Resume, TaskFilter,
    event::{action, agent},
    memory::Memory,
};
use crate::telemetry::Telemetry;

/// Buffer sizes of the fan-out.
#[derive(Debug, Clone, Copy)]
pub struct NotifierConfig {
    /// Events the shared broadcast holds for the slowest subscriber before it must catch up.
    pub live_buffer: usize,
    /// Events queued per subscriber between its task and its transport.
    pub subscriber_buffer: usize,
    /// Events read from memory per replay page.
    pub replay_page: usize,
    /// How long a subscriber may leave its buffer full before it is cut off with
    /// `SubscriberTooSlow` (and the id to resume after).
    pub slow_subscriber_timeout: Duration,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            live_buffer: 4096,
            subscriber_buffer: 256,
            replay_page: 512,
            slow_subscriber_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    memory: Arc<dyn Memory>,
    live: broadcast::Sender<Arc<Notification>>,
    config: NotifierConfig,
    telemetry: Telemetry,
    shutdown: CancellationToken,
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

/// Why a subscriber task stopped early.
enum Stop {
    /// The subscriber went away or the server is shutting down: nothing to report.
    Quietly,
    /// Reported to the subscriber as the stream's last item.
    Failed(CoreError),
}

impl From<CoreError> for Stop {
    fn from(error: CoreError) -> Self {
        Stop::Failed(error)
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
        let (live, _) = broadcast::channel(config.live_buffer.max(1));
        let shared = Arc::new(Shared {
            memory,
            live,
            config,
            telemetry,
            shutdown,
        });
        tokio::spawn(tail_loop(shared.clone()));
        Self { shared }
    }

    /// Notifications for `filter` from `resume` on. The stream ends at shutdown, or after an
    /// error item (memory unavailable during replay): resume from the last id seen.
    ///
    /// "From now on" is fixed before this returns, so anything written after the caller sees
    /// the subscription (a gRPC client: the response headers) is delivered.
    pub(crate) async fn subscribe(
        &self,
        filter: TaskFilter,
        resume: Resume,
    ) -> Result<Subscription, CoreError> {
        // Joined before reading where history stands, so no event falls between the two.
        let live = self.shared.live.subscribe();
        let start = match resume {
            Resume::Live => Start::Live(self.shared.memory.history().await?.last),
            // "0" asks for everything retained: nothing it asked for can have been trimmed.
            Resume::After(EventId::ZERO) => Start::After(EventId::ZERO),
            Resume::After(after) => Start::Resume(after),
        };
        let (sender, receiver) = mpsc::channel(self.shared.config.subscriber_buffer.max(1));
        let (ending_sender, ending) = oneshot::channel();
        let shared = self.shared.clone();
        // A child token per subscriber: the feed polls it once per event, and polling a token
        // locks its waiter list. Sharing the server's token made every feed of the process
        // contend for that one lock (thousands of subscribers, thousands of events a second).
        let shutdown = self.shared.shutdown.child_token();
        tokio::spawn(async move {
            let mut feed = Feed {
                shared: &shared,
                filter,
                sender: &sender,
                shutdown: &shutdown,
                queued: EventId::ZERO,
            };
            if let Err(Stop::Failed(error)) = feed.run(start, live).await {
                // Set before `sender` drops, so the subscriber sees it right after the events
                // already queued, even when the queue is full.
                let _ = ending_sender.send(error);
            }
        });
        Ok(Subscription {
            receiver,
            ending: Some(ending),
        })
    }

    /// Subscribers in this process (those whose task is still running).
    pub(crate) fn subscriber_count(&self) -> usize {
        self.shared.live.receiver_count()
    }
}

/// A subscriber's stream of notifications: the events in order, then, if the feed stopped on
/// an error, that error as the last item.
#[derive(Debug)]
pub struct Subscription {
    receiver: mpsc::Receiver<Arc<Notification>>,
    ending: Option<oneshot::Receiver<CoreError>>,
}

impl Stream for Subscription {
    type Item = Result<Arc<Notification>, CoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(notification)) => Poll::Ready(Some(Ok(notification))),
            Poll::Ready(None) => {
                let error = self
                    .ending
                    .take()
                    .and_then(|mut ending| ending.try_recv().ok());
                Poll::Ready(error.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Where a feed starts: right after an id, or resuming a client's token, which may point
/// before the retained history.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// Only what comes after the history's end as it was once the broadcast was joined: the
    /// broadcast alone carries all of it, so nothing is read from memory.
    Live(EventId),
    After(EventId),
    Resume(EventId),
}

struct Feed<'a> {
    shared: &'a Shared,
    filter: TaskFilter,
    sender: &'a mpsc::Sender<Arc<Notification>>,
    /// The id of the last notification queued for the subscriber: where it resumes if cut off.
    queued: EventId,
    /// Cancelled with the server's shutdown token.
    shutdown: &'a CancellationToken,
}

impl Feed<'_> {
    async fn run(
        &mut self,
        start: Start,
        mut live: broadcast::Receiver<Arc<Notification>>,
    ) -> Result<(), Stop> {
        let mut cursor = match start {
            Start::Live(cursor) => cursor,
            Start::After(cursor) => self.replay(cursor).await?,
            Start::Resume(after) => {
                let cursor = self.warn_if_truncated(after).await?;
                self.replay(cursor).await?
            }
        };
        loop {
            let received = tokio::select! {
                () = self.shutdown.cancelled() => return Err(Stop::Quietly),
                () = self.sender.closed() => return Err(Stop::Quietly),
                received = live.recv() => received,
            };
            match received {
                Ok(notification) => {
                    if notification.id <= cursor {
                        continue;
                    }
                    cursor = notification.id;
                    if self.filter.admits(&notification) {
                        self.shared
                            .telemetry
                            .notification_delivered(notification.time());
                        // Shared, not copied: a thousand subscribers of one event hold one
                        // notification between them.
                        self.deliver(notification).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, %cursor, "subscriber lagged; catching up from memory");
                    self.shared.telemetry.subscriber_lagged(missed);
                    cursor = self.warn_if_truncated(cursor).await?;
                    cursor = self.replay(cursor).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Err(Stop::Quietly),
            }
        }
    }

    /// Delivers every retained event after `cursor`; returns the new cursor.
    async fn replay(&mut self, mut cursor: EventId) -> Result<EventId, Stop> {
        let page = self.shared.config.replay_page.max(1);
        loop {
            let batch = self
                .shared
                .memory
                .events_after(cursor, page)
                .await
                .map_err(|error| self.shared.failed(error))?;
            let complete = batch.len() < page;
            for notification in batch {
                cursor = notification.id;
                if self.filter.admits(&notification) {
                    self.deliver(Arc::new(notification)).await?;
                }
            }
            if complete {
                return Ok(cursor);
            }
        }
    }

    /// If events after `cursor` may have been trimmed, says so and returns the id to go on
    /// from: just before the oldest retained event.
    async fn warn_if_truncated(&mut self, cursor: EventId) -> Result<EventId, Stop> {
        let history = self
            .shared
            .memory
            .history()
            .await
            .map_err(|error| self.shared.failed(error))?;
        if !history.lost_after(cursor) {
            return Ok(cursor);
        }
        let resume_after = history.first_retained.predecessor();
        let mut payload = Map::new();
        payload.insert("requested_after".into(), Value::String(cursor.to_string()));
        payload.insert(
            "oldest_retained".into(),
            Value::String(history.first_retained.to_string()),
        );
        let task_id = match &self.filter {
            TaskFilter::All => String::new(),
            TaskFilter::One(task) => task.to_string(),
        };
        self.deliver(Arc::new(Notification {
            // Resuming from the notice goes on with the oldest event still retained.
            id: resume_after,
            task_id,
            agent: agent::RIFT.to_owned(),
            action: action::HISTORY_TRUNCATED.to_owned(),
            payload,
        }))
        .await?;
        Ok(resume_after)
    }

    async fn deliver(&mut self, notification: Arc<Notification>) -> Result<(), Stop> {
        let id = notification.id;
        // Room in the buffer is the common case: queue without arming a timer, which would
        // cost a clock read and a timer-wheel entry per delivery.
        let notification = match self.sender.try_send(notification) {
            Ok(()) => {
                self.queued = id;
                return Ok(());
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Stop::Quietly),
            Err(mpsc::error::TrySendError::Full(notification)) => notification,
        };
        let timeout = self.shared.config.slow_subscriber_timeout;
        tokio::select! {
            () = self.shutdown.cancelled() => Err(Stop::Quietly),
            sent = tokio::time::timeout(timeout, self.sender.send(notification)) => match sent {
                Ok(Ok(())) => {
                    self.queued = id;
                    Ok(())
                }
                Ok(Err(_)) => Err(Stop::Quietly),
                // Its buffer stayed full: the subscriber is not reading. Writers never wait for
                // it; it is told where to resume instead.
                Err(_) => Err(Stop::Failed(CoreError::SubscriberTooSlow {
                    resume_after: self.queued.to_string(),
                })),
            },
        }
    }
}

/// Reads new notifications from memory and broadcasts them, until shutdown.
async fn tail_loop(shared: Arc<Shared>) {
    const PAGE: usize = 512;
    let mut tail = shared.memory.open_tail();
    let mut backoff = Backoff::default();
    let mut cursor = loop {
        match shared.memory.history().await {
            Ok(history) => break history.last,
            Err(error) => {
                tracing::warn!(%error, "notifier cannot read history yet; retrying");
                shared.note(&error);
                if !backoff.wait(&shared.shutdown).await {
                    return;
                }
            }
        }
    };
    tracing::debug!(%cursor, "notifier tail started");
    loop {
        let batch = tokio::select! {
            () = shared.shutdown.cancelled() => return,
            batch = tail.next_batch(cursor, PAGE) => batch,
        };
        match batch {
            Ok(batch) => {
                backoff.reset();
                for notification in batch {
                    cursor = notification.id;
                    // No receivers is fine: nobody is subscribed right now.
                    let _ = shared.live.send(Arc::new(notification));
                }
            }
            Err(error) => {
                tracing::warn!(%error, %cursor, "notifier tail read failed; retrying");
                shared.note(&error);
                if !backoff.wait(&shared.shutdown).await {
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
                    expected_version: None,
                    guard: WriteGuard::default(),
                })
                .await
                .expect("stored");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_that_stops_reading_is_cut_off_with_its_resume_id() {
        let memory = InProcessMemory::new(1000);
        let shutdown = CancellationToken::new();
        let notifier = Notifier::start(
            Arc::new(memory.clone()),
            NotifierConfig {
                live_buffer: 4,
                subscriber_buffer: 2,
                replay_page: 8,
                slow_subscriber_timeout: Duration::from_secs(5),
            },
            Telemetry::new(),
            shutdown.clone(),
        );
        let mut subscription = notifier
            .subscribe(TaskFilter::All, Resume::After(EventId::ZERO))
            .await
            .expect("subscribed");
        // Writers never wait for the subscriber, however many events it leaves unread.
        write(&memory, 20).await;
        tokio::time::sleep(Duration::from_secs(6)).await;

        let first = subscription.next().await.expect("queued").expect("event");
        let second = subscription.next().await.expect("queued").expect("event");
        assert!(first.id < second.id);
        match subscription.next().await {
            Some(Err(CoreError::SubscriberTooSlow { resume_after })) => {
                assert_eq!(resume_after, second.id.to_string());
            }
            other => panic!("expected SubscriberTooSlow, got {other:?}"),
        }
        assert!(
            subscription.next().await.is_none(),
            "the stream ends after the error"
        );

        // Resuming from the id it was given loses nothing.
        let mut resumed = notifier
            .subscribe(TaskFilter::All, Resume::After(second.id))
            .await
            .expect("resubscribed");
        let mut seen = 2;
        while seen < 20 {
            let event = resumed.next().await.expect("an event").expect("no error");
            assert_eq!(event.payload["version"], seen + 1);
            seen += 1;
        }
        shutdown.cancel();
    }
}
