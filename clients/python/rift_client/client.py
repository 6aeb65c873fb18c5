"""``RiftClient``: the ``rift.v1.Rift`` API with plain Python values in and out.

The generated stubs (``rift.v1``) speak protobuf messages; this wrapper takes and returns
dataclasses, turns JSON-like Python values into ``google.protobuf.Value`` items, and raises
every failure as one exception type, :class:`RiftError`, with the ``google.rpc`` details Rift
attaches already decoded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from rift.v1 import rift_pb2, rift_pb2_grpc

DEFAULT_TARGET = "127.0.0.1:50051"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field (``google.rpc.BadRequest``)."""

    field: str
    description: str


class RiftError(Exception):
    """A call Rift (or the network on the way) refused.

    ``code`` is the gRPC status code; ``reason`` and ``domain`` come from a
    ``google.rpc.ErrorInfo`` detail (``ANALYSIS_MISSING``, ``MESSAGE_TOO_LARGE``, ...),
    ``field_violations`` from ``google.rpc.BadRequest``, ``retry_after`` (seconds) from
    ``google.rpc.RetryInfo``; each is empty when Rift sent no such detail.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str | None = None,
        domain: str | None = None,
        metadata: dict[str, str] | None = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.retry_after = retry_after

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> RiftError:
        """Decodes the status and its ``grpc-status-details-bin`` details."""
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        message: str = error.details() or ""  # type: ignore[attr-defined]
        kwargs: dict[str, Any] = {}
        violations: list[FieldViolation] = []
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                kwargs.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                kwargs["retry_after"] = retry.retry_delay.ToTimedelta().total_seconds()
        return cls(code, message, field_violations=violations, **kwargs)


@dataclass(frozen=True)
class NumberStats:
    count: int
    min: float
    max: float
    mean: float
    sum: float


@dataclass(frozen=True)
class StringStats:
    count: int
    distinct: int
    #: The most frequent strings with their counts, most frequent first.
    top: list[tuple[str, int]]


@dataclass(frozen=True)
class AnalysisStats:
    item_count: int
    #: Item count by JSON type: nulls, booleans, numbers, strings, lists, objects.
    types: dict[str, int]
    #: Present when at least one item is a number.
    numbers: NumberStats | None
    #: Present when at least one item is a string.
    strings: StringStats | None


@dataclass(frozen=True)
class AnalyzeResult:
    task_id: str
    #: Exactly "Analyzed N items".
    summary: str
    #: How many analyses the task has had, this one included.
    version: int
    stats: AnalysisStats


@dataclass(frozen=True)
class NarrateResult:
    task_id: str
    #: Exactly "The analysis for task <id> concluded: <summary>."
    narrative: str
    analysis_version: int


class TaskStatus(enum.Enum):
    UNSPECIFIED = rift_pb2.TASK_STATUS_UNSPECIFIED
    NOT_STARTED = rift_pb2.NOT_STARTED
    IN_PROGRESS = rift_pb2.IN_PROGRESS
    COMPLETED = rift_pb2.COMPLETED
    STALE = rift_pb2.STALE


@dataclass(frozen=True)
class ProgressResult:
    task_id: str
    status: TaskStatus
    #: Latest analysis version; 0 when there is none.
    analysis_version: int
    #: The analysis version the narrative was built on; 0 when there is none.
    narrative_analysis_version: int


@dataclass(frozen=True)
class Notification:
    #: Resume token: pass it as ``after`` to get exactly what came after this one.
    id: str
    task_id: str
    agent: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)
    time: datetime | None = None


class Subscription(Iterator[Notification]):
    """The notifications of one ``Subscribe`` call, as an iterator; ``cancel()`` (or leaving
    a ``with`` block) ends it, after which iteration simply stops."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._cancelled = False

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Notification:
        try:
            message = next(self._call)
        except grpc.RpcError as error:
            if self._cancelled and error.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                raise StopIteration from None
            raise RiftError.from_rpc_error(error) from None
        return _notification(message)

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cancel()


class RiftClient:
    """A connection to Rift's gRPC API.

    ``target`` is ``host:port`` (an ``http://`` prefix is accepted, as ``RIFT_ADDR`` has it).
    ``token``, when given, is sent as ``authorization: Bearer <token>`` on every call.
    ``timeout`` bounds each unary call, in seconds; ``subscribe`` has none.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        channel: grpc.Channel | None = None,
    ) -> None:
        target = target.removeprefix("http://")
        self._channel = channel if channel is not None else grpc.insecure_channel(target)
        self._stub = rift_pb2_grpc.RiftStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout

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
        items = struct_pb2.ListValue()
        items.extend(list(data))
        request = rift_pb2.AnalyzeRequest(
            task_id=task_id,
            data=items.values,
            request_id=request_id,
            expected_version=expected_version,
        )
        response = self._unary(self._stub.Analyze, request)
        return AnalyzeResult(
            task_id=response.task_id,
            summary=response.summary,
            version=response.version,
            stats=_stats(response.stats),
        )

    def narrate(self, task_id: str, *, request_id: str = "") -> NarrateResult:
        """ConceptAgent: the narrative of the task's latest analysis. ``FAILED_PRECONDITION``
        (reason ``ANALYSIS_MISSING``) before any analysis. ``request_id`` as in ``analyze``."""
        request = rift_pb2.NarrateRequest(task_id=task_id, request_id=request_id)
        response = self._unary(self._stub.Narrate, request)
        return NarrateResult(response.task_id, response.narrative, response.analysis_version)

    def progress(self, task_id: str) -> ProgressResult:
        """TaskAgent: where the task stands; records completion."""
        response = self._unary(self._stub.Progress, rift_pb2.ProgressRequest(task_id=task_id))
        return ProgressResult(
            task_id=response.task_id,
            status=TaskStatus(response.status),
            analysis_version=response.analysis_version,
            narrative_analysis_version=response.narrative_analysis_version,
        )

    def delete_task(self, task_id: str) -> bool:
        """Admin: remove everything stored for the task; False when there was nothing."""
        request = rift_pb2.DeleteTaskRequest(task_id=task_id)
        return bool(self._unary(self._stub.DeleteTask, request).deleted)

    def subscribe(self, task_id: str = "", after: str = "") -> Subscription:
        """Notifications of agent writes: for ``task_id`` (every task when empty), those
        after the resume token ``after`` ("" for only what happens from now on, "0" for
        everything retained, or a :attr:`Notification.id`), then live ones.

        Returns once Rift has the subscription in place, so every write made after this
        returns is delivered.
        """
        request = rift_pb2.SubscribeRequest(task_id=task_id, after=after)
        call = self._stub.Subscribe(request, metadata=self._metadata)
        # Rift answers with headers once the subscription is registered; an error shows up
        # on the first iteration instead.
        call.initial_metadata()
        return Subscription(call)

    def close(self) -> None:
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


def _stats(stats: rift_pb2.AnalysisStats) -> AnalysisStats:
    types = stats.types
    return AnalysisStats(
        item_count=stats.item_count,
        types={
            "nulls": types.nulls,
            "booleans": types.booleans,
            "numbers": types.numbers,
            "strings": types.strings,
            "lists": types.lists,
            "objects": types.objects,
        },
        numbers=(
            NumberStats(
                stats.numbers.count,
                stats.numbers.min,
                stats.numbers.max,
                stats.numbers.mean,
                stats.numbers.sum,
            )
            if stats.HasField("numbers")
            else None
        ),
        strings=(
            StringStats(
                stats.strings.count,
                stats.strings.distinct,
                [(top.value, top.count) for top in stats.strings.top],
            )
            if stats.HasField("strings")
            else None
        ),
    )


def _notification(message: rift_pb2.Notification) -> Notification:
    return Notification(
        id=message.id,
        task_id=message.task_id,
        agent=message.agent,
        action=message.action,
        payload=json_format.MessageToDict(message.payload),
        time=message.time.ToDatetime(tzinfo=timezone.utc) if message.HasField("time") else None,
    )
