"""``RiftClient``: the ``rift.v1.Rift`` API with plain Python values in and out, blocking.

The generated stubs (``rift_client.v1``) speak protobuf messages; this wrapper takes and
returns the dataclasses of :mod:`rift_client.models`, raises every failure as
:class:`~rift_client.errors.RiftError`, and subscribes with streams that resume by themselves
(:mod:`rift_client.resume`). :mod:`rift_client.aio` is the same on ``grpc.aio``.
"""

from __future__ import annotations

import weakref
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

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


class Subscription(Resumable, Iterator[Notification]):
    """The notifications of a subscription, as an iterator that reconnects and resumes by
    itself (unless made with ``reconnect=None``). ``cancel()``, from any thread, or leaving a
    ``with`` block ends it, after which iteration simply stops.

    ``after`` is the resume token a new connection would ask for; ``reconnects`` counts the
    connections made after the first.
    """

    def __init__(
        self, stub: rift_pb2_grpc.RiftStub, metadata: Any, resumption: Resumption, reconnect: bool
    ) -> None:
        super().__init__(stub, metadata, resumption, reconnect)
        self._stopped = threading.Event()

    def _connect(self) -> None:
        call = self._start_call()
        if self._stopped.is_set():
            call.cancel()
        # Rift answers with headers once the subscription is registered; a failure shows up
        # on the next read instead.
        call.initial_metadata()
        if not call.done():
            self._resumption.connected()

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Notification:
        while not self._ended:
            if self._call is None:
                try:
                    self._connect()
                except ValueError:  # the client was closed: that ends its subscriptions
                    break
            try:
                message = next(self._call)
            except StopIteration:
                failure = None
            except grpc.RpcError as error:
                failure = RiftError.from_rpc_error(error)
            else:
                return self._deliver(message)
            self._call = None
            if self._stopped.is_set() or (delay := self._lost(failure)) is None:
                break
            self._stopped.wait(delay)
        self._ended = True
        raise StopIteration

    def cancel(self) -> None:
        self._stopped.set()
        call = self._call
        if call is not None:
            call.cancel()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cancel()


class RiftClient:
    """A connection to Rift's gRPC API.

    ``target`` is ``host:port`` or ``http://host:port`` (plaintext, as ``RIFT_ADDR`` has it),
    or ``https://host:port`` (TLS); ``tls`` sets the TLS options (CA, client certificate and key
    for mTLS, server name) and turns TLS on for a ``host:port`` target.
    ``token``, when given, is sent as ``authorization: Bearer <token>`` on every call.
    ``timeout`` bounds each unary call, in seconds; ``subscribe`` has none.
    ``channel`` replaces all of the above's connection settings with a channel of your own.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        tls: Tls | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        if channel is None:
            channel = Endpoint.resolve(target, tls).open(grpc)
        self._channel = channel
        self._stub = rift_pb2_grpc.RiftStub(channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()

    def analyze(
        self,
        task_id: str,
        data: Iterable[Any],
        *,
        request_id: str = "",
        expected_version: int | None = None,
    ) -> AnalyzeResult:
        """TechAgent: analyse ``data`` (JSON-like values: None, bool, numbers, str, lists,
        dicts) and store the analysis of task ``task_id``.

        ``request_id`` makes a retry return the original answer instead of analysing twice.
        ``expected_version`` (0: no analysis yet) refuses with ``ABORTED`` (reason
        ``VERSION_MISMATCH``, ``metadata["current_version"]``) when another write came first.
        """
        request = models.analyze_request(task_id, data, request_id, expected_version)
        return models.analyze_result(self._unary(self._stub.Analyze, request))

    def narrate(self, task_id: str, *, request_id: str = "") -> NarrateResult:
        """ConceptAgent: the narrative of the task's latest analysis. ``FAILED_PRECONDITION``
        (reason ``ANALYSIS_MISSING``) before any analysis. ``request_id`` as in ``analyze``."""
        request = rift_pb2.NarrateRequest(task_id=task_id, request_id=request_id)
        return models.narrate_result(self._unary(self._stub.Narrate, request))

    def report(self, task_id: str) -> ReportResult:
        """ReportAgent: profile and chart the items of the task's latest analysis, and store
        the report. ``FAILED_PRECONDITION``: reason ``ANALYSIS_MISSING`` before any analysis,
        ``DATA_MISSING`` when another writer (the prototype) stored the latest one."""
        request = rift_pb2.ReportRequest(task_id=task_id)
        return models.report_result(self._unary(self._stub.Report, request))

    def progress(self, task_id: str) -> ProgressResult:
        """TaskAgent: where the task stands; records completion."""
        request = rift_pb2.ProgressRequest(task_id=task_id)
        return models.progress_result(self._unary(self._stub.Progress, request))

    def delete_task(self, task_id: str) -> bool:
        """Admin: remove everything stored for the task; False when there was nothing."""
        request = rift_pb2.DeleteTaskRequest(task_id=task_id)
        return bool(self._unary(self._stub.DeleteTask, request).deleted)

    def subscribe(
        self, task_id: str = "", after: str = "", *, reconnect: Backoff | None = Backoff()
    ) -> Subscription:
        """Notifications of agent writes: for ``task_id`` (every task when empty), those
        after the resume token ``after`` ("" for only what happens from now on, "0" for
        everything retained, or a :attr:`Notification.id`), then live ones.

        Returns once Rift has the subscription in place, so every write made after this
        returns is delivered. A lost stream reconnects with ``reconnect``'s backoff and resumes
        after the last notification delivered (see :mod:`rift_client.resume`); with
        ``reconnect=None`` it ends instead, raising what ended it.
        """
        resumption = Resumption(task_id, after, reconnect or Backoff())
        subscription = Subscription(self._stub, self._metadata, resumption, reconnect is not None)
        self._subscriptions.add(subscription)
        subscription._connect()
        return subscription

    def close(self) -> None:
        """Closes the channel, ending this client's subscriptions."""
        for subscription in list(self._subscriptions):
            subscription.cancel()
        self._channel.close()

    def __enter__(self) -> RiftClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _unary(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise RiftError.from_rpc_error(error) from None
