"""Self-resuming subscriptions: the policy both clients share.

A subscription that loses its stream (Rift restarted, the network dropped, Redis briefly
gone) connects again by itself, after an exponential backoff with jitter and a cap, and asks
for what came strictly after the last notification it delivered, so the caller sees every
event once, in order, with no gap. Rift's own notices (agent ``Rift``) are delivered like any
other notification and move the position too: a ``history_truncated``, ``history_reset`` or
``history_diverged`` notice carries, as its id, the position to go on from.

What is not worth retrying (a malformed token, a missing or refused token) is raised.
:class:`Resumption` holds only the decisions; the sync and asyncio subscriptions do the
waiting and the calling.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from rift_client.errors import RiftError
from rift_client import models
from rift_client.models import Notification
from rift_client.v1 import rift_pb2

log = logging.getLogger("rift_client")

#: Failures a later connection may not have: the server or the network, not the request.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        # A connection reset mid-stream surfaces as INTERNAL or UNKNOWN in grpc core.
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)
#: Rift cut the subscriber off for not reading; ErrorInfo metadata ``resume_after`` says where.
SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"


@dataclass(frozen=True)
class Backoff:
    """How long to wait before reconnecting: ``initial`` seconds, times ``multiplier`` after
    each failed attempt, never more than ``maximum``; each delay is shortened by a random part
    of up to ``jitter`` of it, so many subscribers of one restarted server do not come back at
    the same instant. The count starts again once a connection succeeds. ``max_attempts``
    consecutive failures give up, raising the last error (``None``: never)."""

    initial: float = 0.1
    maximum: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.multiplier >= 1 and 0 <= self.jitter <= 1):
            raise ValueError(
                f"{self} is not a backoff: 0 < initial <= maximum, multiplier >= 1, 0 <= jitter <= 1"
            )

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before reconnect attempt ``attempt`` (0: the first after a failure)."""
        ceiling = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return ceiling * (1 - self.jitter * rand())


class Resumption:
    """Where a self-resuming subscription stands.

    ``after`` is the token the next connection asks for: the one given, then the id of each
    notification delivered. A subscription started with ``after=""`` (live only) has no
    position until its first notification: events written while it is disconnected before
    then are not replayed.
    """

    def __init__(
        self,
        task_id: str,
        after: str,
        backoff: Backoff,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.task_id = task_id
        self.after = after
        self.backoff = backoff
        #: Connections made after the first.
        self.reconnects = 0
        self._failures = 0
        self._rand = rand

    def request(self) -> rift_pb2.SubscribeRequest:
        return rift_pb2.SubscribeRequest(task_id=self.task_id, after=self.after)

    def connected(self) -> None:
        """Rift accepted the subscription (its headers arrived): the backoff starts again."""
        self._failures = 0

    def delivered(self, notification: Notification) -> None:
        if notification.id:
            self.after = notification.id

    def retry_in(self, error: RiftError | None) -> float:
        """The stream failed with ``error`` (``None``: Rift ended it, as at shutdown): seconds
        to wait before the next connection. Raises ``error`` when retrying cannot help."""
        if error is not None:
            if error.code not in RETRYABLE:
                raise error
            # The last id delivered is the safer position (what was in flight was never
            # delivered); the server's is better than none for a live-only subscription.
            if error.reason == SUBSCRIBER_TOO_SLOW and not self.after:
                self.after = error.metadata.get("resume_after", "")
        if self.backoff.max_attempts is not None and self._failures >= self.backoff.max_attempts:
            raise error or RiftError(grpc.StatusCode.UNAVAILABLE, "the stream kept ending")
        delay = self.backoff.delay(self._failures, self._rand)
        if error is not None and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.backoff.maximum))
        self._failures += 1
        self.reconnects += 1
        return delay


class Resumable:
    """What the sync and the asyncio subscription share: where they stand, and what to do
    with a notification and with a lost stream. They add the calling and the waiting."""

    def __init__(self, stub: Any, metadata: Any, resumption: Resumption, reconnect: bool) -> None:
        self._stub = stub
        self._metadata = metadata
        self._call: Any = None
        self._resumption = resumption
        self._reconnect = reconnect
        self._ended = False

    def _start_call(self) -> Any:
        """A new Subscribe call from where the subscription stands, kept as the current one."""
        self._call = self._stub.Subscribe(self._resumption.request(), metadata=self._metadata)
        return self._call

    @property
    def after(self) -> str:
        """The resume token a new connection would ask for."""
        return self._resumption.after

    @property
    def reconnects(self) -> int:
        """Connections made after the first."""
        return self._resumption.reconnects

    def _deliver(self, message: Any) -> Notification:
        notification = models.notification(message)
        self._resumption.delivered(notification)
        return notification

    def _lost(self, failure: RiftError | None) -> float | None:
        """The stream is gone (``failure`` None: Rift ended it): seconds to wait before the
        next connection, or None when the subscription is over; raises what ended it."""
        if not self._reconnect:
            self._ended = True
            if failure is not None:
                raise failure
            return None
        try:
            delay = self._resumption.retry_in(failure)
        except RiftError:
            self._ended = True
            raise
        lost = failure or "stream ended"
        log.warning("subscription lost (%s); resuming after %r in %.2fs", lost, self.after, delay)
        return delay
