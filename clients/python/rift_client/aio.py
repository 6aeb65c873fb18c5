"""``AsyncRiftClient``: the same API as :class:`~rift_client.RiftClient`, on ``grpc.aio``.

Every call is a coroutine; ``subscribe`` returns an async iterator (``async for``) that
reconnects and resumes by itself with the same policy (:mod:`rift_client.resume`). Values,
errors and TLS options are the sync client's.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
import grpc.aio

from rift_client import models
from rift_client.errors import RiftError
from rift_client.models import (
    DEFAULT_TARGET,
    AnalyzeResult,
    NarrateResult,
    Notification,
    ProgressResult,
    ReportResult,
)
from rift_client.resume import Backoff, Resumable, Resumption
from rift_client.channel import Endpoint, Tls
from rift_client.v1 import rift_pb2, rift_pb2_grpc


class AsyncSubscription(Resumable, AsyncIterator[Notification]):
    """The notifications of a subscription, as an async iterator that reconnects and resumes
    by itself (unless made with ``reconnect=None``). ``cancel()`` or leaving an ``async with``
    block ends it, after which iteration simply stops. ``after`` and ``reconnects`` as in
    :class:`~rift_client.Subscription`."""

    def __init__(
        self, stub: rift_pb2_grpc.RiftStub, metadata: Any, resumption: Resumption, reconnect: bool
    ) -> None:
        super().__init__(stub, metadata, resumption, reconnect)
        self._stopped = asyncio.Event()

    async def _connect(self) -> None:
        call = self._start_call()
        # Headers once the subscription is registered; a failure shows up on the next read.
        await call.initial_metadata()
        if not call.done():
            self._resumption.connected()

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Notification:
        while not self._ended and not self._stopped.is_set():
            if self._call is None:
                try:
                    await self._connect()
                except ValueError:  # the client was closed: that ends its subscriptions
                    break
            try:
                message = await self._call.read()
            except grpc.RpcError as error:
                failure: RiftError | None = RiftError.from_rpc_error(error)
            except asyncio.CancelledError:
                # grpc.aio raises this for a call cancel() ended; a cancelled task re-raises.
                if not self._stopped.is_set():
                    raise
                break
            else:
                if message is not grpc.aio.EOF:
                    return self._deliver(message)
                failure = None
            self._call = None
            if self._stopped.is_set() or (delay := self._lost(failure)) is None:
                break
            try:
                await asyncio.wait_for(self._stopped.wait(), delay)
            except asyncio.TimeoutError:
                pass
        self._ended = True
        raise StopAsyncIteration

    def cancel(self) -> None:
        self._stopped.set()
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.cancel()


class AsyncRiftClient:
    """A connection to Rift's gRPC API on ``grpc.aio``; arguments as in
    :class:`~rift_client.RiftClient` (``channel`` is a ``grpc.aio.Channel`` here). Use it as
    ``async with AsyncRiftClient(...) as rift:``, or ``await rift.close()``."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        tls: Tls | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        if channel is None:
            channel = Endpoint.resolve(target, tls).open(grpc.aio)
        self._channel = channel
        self._stub = rift_pb2_grpc.RiftStub(channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self._subscriptions: weakref.WeakSet[AsyncSubscription] = weakref.WeakSet()

    async def analyze(
        self,
        task_id: str,
        data: Iterable[Any],
        *,
        request_id: str = "",
        expected_version: int | None = None,
    ) -> AnalyzeResult:
        """As :meth:`rift_client.RiftClient.analyze`."""
        request = models.analyze_request(task_id, data, request_id, expected_version)
        return models.analyze_result(await self._unary(self._stub.Analyze, request))

    async def narrate(self, task_id: str, *, request_id: str = "") -> NarrateResult:
        """As :meth:`rift_client.RiftClient.narrate`."""
        request = rift_pb2.NarrateRequest(task_id=task_id, request_id=request_id)
        return models.narrate_result(await self._unary(self._stub.Narrate, request))

    async def report(self, task_id: str) -> ReportResult:
        """As :meth:`RiftClient.report`."""
        request = rift_pb2.ReportRequest(task_id=task_id)
        return models.report_result(await self._unary(self._stub.Report, request))

    async def progress(self, task_id: str) -> ProgressResult:
        """As :meth:`rift_client.RiftClient.progress`."""
        request = rift_pb2.ProgressRequest(task_id=task_id)
        return models.progress_result(await self._unary(self._stub.Progress, request))

    async def delete_task(self, task_id: str) -> bool:
        """As :meth:`rift_client.RiftClient.delete_task`."""
        request = rift_pb2.DeleteTaskRequest(task_id=task_id)
        return bool((await self._unary(self._stub.DeleteTask, request)).deleted)

    async def subscribe(
        self, task_id: str = "", after: str = "", *, reconnect: Backoff | None = Backoff()
    ) -> AsyncSubscription:
        """As :meth:`rift_client.RiftClient.subscribe`: returns once Rift has the
        subscription in place."""
        resumption = Resumption(task_id, after, reconnect or Backoff())
        subscription = AsyncSubscription(self._stub, self._metadata, resumption, reconnect is not None)
        self._subscriptions.add(subscription)
        await subscription._connect()
        return subscription

    async def close(self) -> None:
        """Closes the channel, ending this client's subscriptions."""
        for subscription in list(self._subscriptions):
            subscription.cancel()
        await self._channel.close()

    async def __aenter__(self) -> AsyncRiftClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise RiftError.from_rpc_error(error) from None
