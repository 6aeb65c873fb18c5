"""``RiftError``: every failed call as one exception type, its ``google.rpc`` details decoded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

#: The trailer in which gRPC servers send a ``google.rpc.Status`` with its details.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


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
        """Decodes the status and its details, from a sync or an ``grpc.aio`` call alike."""
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        message: str = error.details() or ""  # type: ignore[attr-defined]
        kwargs: dict[str, Any] = {}
        violations: list[FieldViolation] = []
        for detail in _details(error.trailing_metadata()):  # type: ignore[attr-defined]
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


def _details(trailing: Iterable[tuple[str, Any]] | None) -> list[Any]:
    # Sync calls give a tuple of (key, value) pairs, grpc.aio a Metadata that iterates as such.
    for key, value in trailing or ():
        if key == STATUS_DETAILS_KEY:
            return list(status_pb2.Status.FromString(value).details)
    return []
