"""A typed Python client for Rift's gRPC API (``rift.v1.Rift``), sync and asyncio.

>>> from rift_client import RiftClient
>>> with RiftClient("127.0.0.1:50051") as rift:  # doctest: +SKIP
...     rift.analyze("101", ["data1", "data2", "data3"]).summary
'Analyzed 3 items'

# Layout
- ``client``: :class:`RiftClient` and its self-resuming :class:`Subscription` (blocking).
- ``aio``: :class:`AsyncRiftClient` and :class:`AsyncSubscription`, the same on ``grpc.aio``.
- ``models``: the dataclasses both return, and their one conversion from protobuf.
- ``errors``: :class:`RiftError` with decoded ``google.rpc`` details.
- ``resume``: :class:`Backoff` and the reconnect-and-resume policy both subscriptions follow.
- ``channel``: :class:`Tls` options (CA, client certificate for mTLS, server name) and how a
  target becomes a channel.
- ``v1``: the stubs ``generate.py`` makes of ``proto/rift/v1/rift.proto``
  (``rift_client.v1.rift_pb2``, ``rift_client.v1.rift_pb2_grpc``).
"""

from rift_client.aio import AsyncRiftClient, AsyncSubscription
from rift_client.client import RiftClient, Subscription
from rift_client.errors import FieldViolation, RiftError
from rift_client.models import (
    DEFAULT_TARGET,
    HISTORY_DIVERGED,
    HISTORY_RESET,
    HISTORY_TRUNCATED,
    NOTICE_AGENT,
    AnalysisStats,
    AnalyzeResult,
    Chart,
    NarrateResult,
    Notification,
    NumberStats,
    ProgressResult,
    ReportResult,
    StringStats,
    TaskStatus,
)
from rift_client.resume import Backoff
from rift_client.channel import Tls

__all__ = [
    "DEFAULT_TARGET",
    "HISTORY_DIVERGED",
    "HISTORY_RESET",
    "HISTORY_TRUNCATED",
    "NOTICE_AGENT",
    "AnalysisStats",
    "AnalyzeResult",
    "AsyncRiftClient",
    "AsyncSubscription",
    "Backoff",
    "Chart",
    "FieldViolation",
    "NarrateResult",
    "Notification",
    "NumberStats",
    "ProgressResult",
    "ReportResult",
    "RiftClient",
    "RiftError",
    "StringStats",
    "Subscription",
    "TaskStatus",
    "Tls",
]
