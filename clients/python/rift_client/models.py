"""The values the clients take and return: dataclasses for Rift's messages, and the one
conversion between them and the generated protobuf types, shared by the sync and the asyncio
client."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format, struct_pb2

from rift_client.v1 import rift_pb2

DEFAULT_TARGET = "127.0.0.1:50051"

#: The agent of Rift's own notices about the stream (``history_truncated``, ...).
NOTICE_AGENT = "Rift"
#: The resume token pointed before the retained history: what it skipped is gone; the
#: notice's id resumes with the oldest event still retained.
HISTORY_TRUNCATED = "history_truncated"
#: The history is a new, empty incarnation (Redis lost its data): versions start again.
HISTORY_RESET = "history_reset"
#: Events this subscriber already received are gone from the history.
HISTORY_DIVERGED = "history_diverged"


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
class Chart:
    #: ``histogram``, ``top_strings`` or ``type_mix``.
    kind: str
    #: The record field it is about; empty for the items themselves.
    field: str
    title: str
    #: A self-contained SVG document (labels from the data escaped, no scripts).
    svg: str


@dataclass(frozen=True)
class ReportResult:
    task_id: str
    #: The analysis version whose items were profiled.
    analysis_version: int
    #: The profile as JSON-like values, field names as the proto spells them (``item_count``,
    #: ``values``, ``records``...).
    profile: dict[str, Any]
    charts: list[Chart]


@dataclass(frozen=True)
class Notification:
    #: Resume token: pass it as ``after`` to get exactly what came after this one.
    id: str
    task_id: str
    agent: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)
    time: datetime | None = None
    #: W3C traceparent of the write, when Rift exports traces ("" otherwise): make it the
    #: parent of the span that handles the notification to continue the writer's trace.
    traceparent: str = ""

    @property
    def is_notice(self) -> bool:
        """True for Rift's notices about the stream itself rather than an agent's write."""
        return self.agent == NOTICE_AGENT


def analyze_request(
    task_id: str, data: Iterable[Any], request_id: str, expected_version: int | None
) -> rift_pb2.AnalyzeRequest:
    items = struct_pb2.ListValue()
    items.extend(list(data))
    return rift_pb2.AnalyzeRequest(
        task_id=task_id,
        data=items.values,
        request_id=request_id,
        expected_version=expected_version,
    )


def analyze_result(response: rift_pb2.AnalyzeResponse) -> AnalyzeResult:
    return AnalyzeResult(
        task_id=response.task_id,
        summary=response.summary,
        version=response.version,
        stats=_stats(response.stats),
    )


def narrate_result(response: rift_pb2.NarrateResponse) -> NarrateResult:
    return NarrateResult(response.task_id, response.narrative, response.analysis_version)


def progress_result(response: rift_pb2.ProgressResponse) -> ProgressResult:
    return ProgressResult(
        task_id=response.task_id,
        status=TaskStatus(response.status),
        analysis_version=response.analysis_version,
        narrative_analysis_version=response.narrative_analysis_version,
    )


def report_result(response: rift_pb2.ReportResponse) -> ReportResult:
    return ReportResult(
        task_id=response.task_id,
        analysis_version=response.analysis_version,
        profile=_plain(response.profile),
        charts=[Chart(c.kind, c.field, c.title, c.svg) for c in response.charts],
    )


def _plain(message: Any) -> dict[str, Any]:
    """A message as plain values: every scalar field (integers as ``int``, unlike the JSON
    mapping's strings for 64-bit ones), message fields only when set."""
    plain: dict[str, Any] = {}
    for descriptor in message.DESCRIPTOR.fields:
        value = getattr(message, descriptor.name)
        is_message = descriptor.message_type is not None
        if descriptor.is_repeated:
            plain[descriptor.name] = [_plain(v) if is_message else v for v in value]
        elif is_message:
            if message.HasField(descriptor.name):
                plain[descriptor.name] = _plain(value)
        else:
            plain[descriptor.name] = value
    return plain


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


def notification(message: rift_pb2.Notification) -> Notification:
    return Notification(
        id=message.id,
        task_id=message.task_id,
        agent=message.agent,
        action=message.action,
        payload=json_format.MessageToDict(message.payload),
        time=message.time.ToDatetime(tzinfo=timezone.utc) if message.HasField("time") else None,
        traceparent=message.traceparent,
    )
