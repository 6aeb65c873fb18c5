"""Self-resuming subscriptions: the backoff and resume policy on its own, then the sync
subscription against live Rift processes that are stopped and started again on the same port
and Redis, and against a history trimmed below the resume token."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import grpc
import pytest

from rift_client import (
    HISTORY_DIVERGED,
    HISTORY_RESET,
    HISTORY_TRUNCATED,
    NOTICE_AGENT,
    Backoff,
    Notification,
    RiftClient,
    RiftError,
    Subscription,
)
from rift_client.resume import Resumption

FAST = Backoff(initial=0.05, maximum=0.5)
WAIT = 30.0  # seconds for one event, generous for a loaded two-core machine


def _notice(action: str, id: str) -> Notification:
    return Notification(id=id, task_id="", agent=NOTICE_AGENT, action=action)


# --- the policy, without a server ---------------------------------------------------------


def test_backoff_grows_to_its_cap_with_jitter_below_the_ceiling() -> None:
    backoff = Backoff(initial=0.1, maximum=2.0, multiplier=2.0, jitter=0.5)
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert [backoff.delay(n, lambda: 0.0) for n in range(7)] == pytest.approx(ceilings)
    # The random part takes off up to half of each ceiling, never more.
    assert [backoff.delay(n, lambda: 1.0) for n in range(7)] == pytest.approx([c / 2 for c in ceilings])
    assert backoff.delay(10_000) <= 2.0


@pytest.mark.parametrize(
    "bad", [dict(initial=0), dict(initial=3, maximum=2), dict(multiplier=0.5), dict(jitter=1.5)]
)
def test_a_backoff_that_makes_no_sense_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**bad)


def test_the_position_follows_every_delivered_notification_notices_included() -> None:
    resumption = Resumption("101", "0", FAST)
    assert resumption.request().after == "0"
    resumption.delivered(Notification(id="5-0", task_id="101", agent="TechAgent", action="analysis_stored"))
    assert resumption.request().after == "5-0"
    # Each notice carries the position to go on from.
    for action, position in [(HISTORY_TRUNCATED, "9-0"), (HISTORY_RESET, "0"), (HISTORY_DIVERGED, "12-0")]:
        resumption.delivered(_notice(action, position))
        assert (resumption.request().task_id, resumption.request().after) == ("101", position)
    # A notice without a position leaves the last one in place.
    resumption.delivered(_notice(HISTORY_RESET, ""))
    assert resumption.after == "12-0"


def test_retry_delays_back_off_and_start_again_once_connected() -> None:
    resumption = Resumption("", "", Backoff(initial=0.1, maximum=0.4, jitter=0.0))
    unavailable = RiftError(grpc.StatusCode.UNAVAILABLE, "gone")
    assert [resumption.retry_in(unavailable) for _ in range(4)] == pytest.approx([0.1, 0.2, 0.4, 0.4])
    resumption.connected()
    assert resumption.retry_in(None) == pytest.approx(0.1)  # a stream Rift ended: reconnect too
    assert resumption.reconnects == 5


def test_retry_info_is_honoured_up_to_the_cap() -> None:
    resumption = Resumption("", "", Backoff(initial=0.1, maximum=3.0, jitter=0.0))
    assert resumption.retry_in(RiftError(grpc.StatusCode.UNAVAILABLE, "later", retry_after=1.0)) == 1.0
    assert resumption.retry_in(RiftError(grpc.StatusCode.UNAVAILABLE, "later", retry_after=60.0)) == 3.0


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNIMPLEMENTED,
    ],
)
def test_what_a_retry_cannot_fix_is_raised(code: grpc.StatusCode) -> None:
    error = RiftError(code, "no")
    with pytest.raises(RiftError) as raised:
        Resumption("", "0", FAST).retry_in(error)
    assert raised.value is error


def test_max_attempts_gives_up_with_the_last_error() -> None:
    resumption = Resumption("", "0", Backoff(initial=0.01, maximum=0.01, max_attempts=2))
    error = RiftError(grpc.StatusCode.UNAVAILABLE, "gone")
    resumption.retry_in(error)
    resumption.retry_in(error)
    with pytest.raises(RiftError) as raised:
        resumption.retry_in(error)
    assert raised.value is error


def test_a_slow_subscriber_cut_off_resumes_from_its_own_position() -> None:
    too_slow = RiftError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "subscriber too slow",
        reason="SUBSCRIBER_TOO_SLOW",
        metadata={"resume_after": "7-0"},
    )
    delivered = Resumption("", "3-0", FAST)
    delivered.retry_in(too_slow)
    assert delivered.after == "3-0"  # what was in flight after 3-0 was never delivered
    live_only = Resumption("", "", FAST)
    live_only.retry_in(too_slow)
    assert live_only.after == "7-0"  # better than starting live again


# --- against live Rift processes ----------------------------------------------------------


class Collector:
    """Iterates a subscription on a thread of its own, as an application would, so it keeps
    reading (and reconnecting) while the test stops and starts servers."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self._events: queue.Queue[Notification | BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.subscription:
                self._events.put(event)
        except BaseException as error:  # handed to the test thread
            self._events.put(error)
        self._events.put(None)

    def take(self, count: int) -> list[Notification]:
        taken = []
        for _ in range(count):
            try:
                item = self._events.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"no event within {WAIT}s after {[e.action for e in taken]}")
            if isinstance(item, BaseException):
                raise item
            assert item is not None, f"the subscription ended after {len(taken)} of {count} events"
            taken.append(item)
        return taken

    def take_end(self) -> list[Notification]:
        """Whatever comes until the iteration ends by itself."""
        rest: list[Notification] = []
        while (item := self._events.get(timeout=WAIT)) is not None:
            if isinstance(item, BaseException):
                raise item
            rest.append(item)
        return rest

    def stop(self) -> None:
        self.subscription.cancel()
        self._thread.join(timeout=WAIT)
        assert not self._thread.is_alive(), "cancel() did not end the iteration"


@pytest.fixture
def collect() -> Iterator[Callable[[Subscription], Collector]]:
    made: list[Collector] = []

    def start(subscription: Subscription) -> Collector:
        made.append(Collector(subscription))
        return made[-1]

    yield start
    for collector in made:
        collector.subscription.cancel()


def _versions(events: list[Notification]) -> list[int]:
    return [int(e.payload["version"]) for e in events]


def _assert_in_order_once(events: list[Notification]) -> None:
    ids = [tuple(int(part) for part in e.id.split("-")) for e in events]
    assert ids == sorted(set(ids)), f"ids out of order or repeated: {[e.id for e in events]}"


def test_a_subscription_survives_rift_being_restarted(start_rift, collect) -> None:
    first = start_rift()
    # A second Rift on the same Redis writes while the subscriber's own is gone.
    other = start_rift()
    with RiftClient(first.grpc_addr) as client, RiftClient(other.grpc_addr) as writer:
        writer.analyze("r", [0])
        events = collect(client.subscribe("r", after="0", reconnect=FAST))
        writer.analyze("r", [1])
        before = events.take(2)  # one replayed, one live

        first.stop()
        for n in range(3):  # written while the subscriber cannot reach its Rift
            writer.analyze("r", [n])
        start_rift(grpc_addr=first.grpc_addr)
        writer.analyze("r", [9])
        after = events.take(4)
        # A marker: had anything been delivered twice, it would come before this one.
        marker = writer.analyze("r", ["last"])
        last = events.take(1)
        events.stop()

    everything = before + after + last
    assert _versions(everything) == [1, 2, 3, 4, 5, 6, marker.version]
    _assert_in_order_once(everything)
    assert events.subscription.reconnects >= 1
    assert events.subscription.after == last[0].id


def test_without_reconnect_the_stream_ends_when_rift_stops(start_rift) -> None:
    rift = start_rift()
    with RiftClient(rift.grpc_addr) as client:
        events = client.subscribe("r", reconnect=None)
        rift.stop()
        # Rift ends its streams at shutdown: the iteration ends, or raises what ended it.
        try:
            leftover = list(events)
        except RiftError as error:
            assert error.code is grpc.StatusCode.UNAVAILABLE
        else:
            assert leftover == []
        assert events.reconnects == 0


def test_a_truncated_history_is_announced_once_then_resumed_from_the_notice(start_rift, collect) -> None:
    # MAXLEN ~ trims whole stream nodes (100 entries each by default): write past two.
    rift = start_rift("--max-events", "10")
    with RiftClient(rift.grpc_addr) as client:
        for n in range(250):
            client.analyze("h", [n])
        events = collect(client.subscribe("h", after="1-0", reconnect=FAST))
        notice, oldest = events.take(2)
        assert (notice.is_notice, notice.agent, notice.action) == (True, NOTICE_AGENT, HISTORY_TRUNCATED)
        assert notice.payload["requested_after"] == "1-0"
        assert notice.payload["oldest_retained"] == oldest.id
        assert not oldest.is_notice and oldest.id > notice.id
        retained = [oldest] + events.take(250 - _versions([oldest])[0])
        assert _versions(retained)[-1] == 250

        # Restarted, the subscription resumes after what it delivered: no second notice, no
        # replay, just what is new.
        rift.stop()
        start_rift("--max-events", "10", grpc_addr=rift.grpc_addr)
        # Written through another Rift: a new channel to the restarted one could share the
        # subscriber's subchannel (grpc's global pool) while it waits out its reconnect backoff.
        with RiftClient(start_rift("--max-events", "10").grpc_addr) as writer:
            writer.analyze("h", ["new"])
        (new,) = events.take(1)
        events.stop()
    assert (new.action, new.payload["version"]) == ("analysis_stored", 251)
    _assert_in_order_once([notice] + retained + [new])


def test_a_refused_token_is_raised_not_retried(start_rift, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("reader reader-token-0123456789\n")
    rift = start_rift("--tokens-file", str(tokens))
    with RiftClient(rift.grpc_addr, token="not-a-token-0123456789") as client:
        events = client.subscribe("101", after="0", reconnect=FAST)
        with pytest.raises(RiftError) as raised:
            next(events)
        assert raised.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert events.reconnects == 0
        assert list(events) == []  # ended for good


def test_closing_the_client_ends_its_subscriptions(client: RiftClient, collect) -> None:
    events = collect(client.subscribe("101", after="0", reconnect=FAST))
    client.close()
    assert events.take_end() == []
