"""A typed Python client for Rift's gRPC API (``rift.v1.Rift``).

>>> from rift_client import RiftClient
>>> with RiftClient("127.0.0.1:50051") as rift:  # doctest: +SKIP
...     rift.analyze("101", ["data1", "data2", "data3"]).summary
'Analyzed 3 items'

The generated stubs are importable too, as ``rift.v1.rift_pb2`` and ``rift.v1.rift_pb2_grpc``.
"""

from rift_client.client import (
    DEFAULT_TARGET,
    AnalysisStats,
    AnalyzeResult,
    FieldViolation,
    NarrateResult,
    Notification,
    NumberStats,
    ProgressResult,
    RiftClient,
    RiftError,
    StringStats,
    Subscription,
    TaskStatus,
)

__all__ = [
    "DEFAULT_TARGET",
    "AnalysisStats",
    "AnalyzeResult",
    "FieldViolation",
    "NarrateResult",
    "Notification",
    "NumberStats",
    "ProgressResult",
    "RiftClient",
    "RiftError",
    "StringStats",
    "Subscription",
    "TaskStatus",
]
