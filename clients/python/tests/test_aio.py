"""AsyncRiftClient (grpc.aio) against a live Rift on a real Redis: the same values and errors
as the sync client, and an ``async for`` subscription that survives Rift being restarted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest

from rift_client import AsyncRiftClient, AsyncSubscription, Backoff, Notification, RiftError, TaskStatus

T = TypeVar("T")
FAST = Backoff(initial=0.05, maximum=0.5)
WAIT = 30.0


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), 120))


async def take(events: AsyncSubscription, count: int) -> list[Notification]:
    return [await asyncio.wait_for(events.__anext__(), WAIT) for _ in range(count)]


def test_the_task_flow_and_a_typed_error(rift) -> None:
    async def flow() -> None:
        async with AsyncRiftClient(rift.grpc_addr) as client:
            analysis = await client.analyze("101", ["data1", "data2", "data3"])
            assert (analysis.summary, analysis.version) == ("Analyzed 3 items", 1)
            assert analysis.stats.strings is not None and analysis.stats.strings.distinct == 3
            narrative = await client.narrate("101")
            assert narrative.narrative == "The analysis for task 101 concluded: Analyzed 3 items."
            assert (await client.progress("101")).status is TaskStatus.COMPLETED
            report = await client.report("101")
            assert (report.analysis_version, report.profile["item_count"]) == (1, 3)
            assert report.charts[0].kind == "type_mix"
            with pytest.raises(RiftError) as raised:
                await client.narrate("never-analyzed")
            assert (raised.value.code, raised.value.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ANALYSIS_MISSING")
            with pytest.raises(RiftError) as raised:
                await client.analyze("has space", [1])
            assert [v.field for v in raised.value.field_violations] == ["task_id"]
            with pytest.raises(RiftError) as raised:
                await client.analyze("101", [2], expected_version=0)
            assert raised.value.metadata == {"current_version": "1"}
            assert await client.delete_task("101") is True

    run(flow)


def test_subscribe_replays_then_goes_live_then_cancels(rift) -> None:
    async def flow() -> None:
        async with AsyncRiftClient(rift.grpc_addr) as client:
            await client.analyze("101", ["x"])
            await client.narrate("101")
            events = await client.subscribe("101", after="0")
            replayed = await take(events, 2)
            assert [e.action for e in replayed] == ["analysis_stored", "narrative_stored"]
            fresh = await client.analyze("101", ["y"])
            (live,) = await take(events, 1)
            assert (live.action, live.payload["version"]) == ("analysis_stored", fresh.version)
            assert events.after == live.id
            events.cancel()
            assert [e async for e in events] == []

    run(flow)


def test_a_bad_resume_token_is_raised_not_retried(rift) -> None:
    async def flow() -> None:
        async with AsyncRiftClient(rift.grpc_addr) as client:
            events = await client.subscribe("101", after="not-a-token", reconnect=FAST)
            with pytest.raises(RiftError) as raised:
                await events.__anext__()
            assert raised.value.code is grpc.StatusCode.INVALID_ARGUMENT
            assert events.reconnects == 0

    run(flow)


def test_an_async_subscription_survives_rift_being_restarted(start_rift) -> None:
    first = start_rift()
    other = start_rift()  # writes while the subscriber's Rift is gone

    async def flow() -> None:
        async with AsyncRiftClient(first.grpc_addr) as client, AsyncRiftClient(other.grpc_addr) as writer:
            await writer.analyze("r", [0])
            events = await client.subscribe("r", after="0", reconnect=FAST)
            received: asyncio.Queue[Notification] = asyncio.Queue()

            async def read() -> None:  # keeps reading, and reconnecting, meanwhile
                async for event in events:
                    received.put_nowait(event)

            reader = asyncio.create_task(read())

            async def next_events(count: int) -> list[Notification]:
                return [await asyncio.wait_for(received.get(), WAIT) for _ in range(count)]

            got = await next_events(1)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, first.stop)
            for n in range(3):
                await writer.analyze("r", [n])
            await loop.run_in_executor(None, lambda: start_rift(grpc_addr=first.grpc_addr))
            got += await next_events(3)
            marker = await writer.analyze("r", ["last"])
            got += await next_events(1)
            events.cancel()
            await asyncio.wait_for(reader, WAIT)
            assert [e.payload["version"] for e in got] == [1, 2, 3, 4, marker.version]
            assert len({e.id for e in got}) == len(got)
            assert events.reconnects >= 1

    run(flow)
