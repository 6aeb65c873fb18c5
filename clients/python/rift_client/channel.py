"""How a client reaches Rift: the target's scheme, TLS with optional client certificates
(mTLS), and the channel's reconnection settings, for the sync and the asyncio client alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from typing import Any

import grpc

#: The channel's own reconnection backoff, held to the subscriptions' default
#: (``resume.Backoff``): gRPC's default waits up to 120 s between attempts to reach a server that
#: went away, so a subscription would sit out that long after Rift came back.
RECONNECT_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
    # Not grpc.min_reconnect_backoff_ms: it is also the connection attempt's timeout.
]


@dataclass(frozen=True)
class Tls:
    """TLS for the connection to Rift. Every field is optional: ``Tls()`` verifies the server
    against gRPC's default roots.

    ``root_certificates``: PEM of the CAs to trust instead of the default roots.
    ``certificate_chain`` and ``private_key``: PEM of this client's certificate and key, for a
    server that asks for one (mTLS); both or neither.
    ``server_name``: the name the server's certificate must carry, when it is not the host of
    the target (connecting by IP address, through a tunnel, ...).
    """

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = field(default=None, repr=False)
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError("a client certificate needs its private key, and a key its certificate")

    @classmethod
    def from_files(
        cls,
        *,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
        server_name: str | None = None,
    ) -> Tls:
        """The same, reading each PEM from a file."""

        def read(path: str | Path | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return cls(read(ca), read(cert), read(key), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def channel_options(self) -> list[tuple[str, Any]]:
        return [] if self.server_name is None else [("grpc.ssl_target_name_override", self.server_name)]


@dataclass(frozen=True)
class Endpoint:
    """A target resolved: ``host:port`` for gRPC, with credentials when TLS is on."""

    address: str
    credentials: grpc.ChannelCredentials | None
    options: list[tuple[str, Any]]

    @classmethod
    def resolve(cls, target: str, tls: Tls | None) -> Endpoint:
        """``host:port`` or ``http://host:port``: plaintext, unless ``tls`` is given;
        ``https://host:port``: TLS (``tls``, or the default roots)."""
        if target.startswith("https://"):
            target, tls = target.removeprefix("https://"), tls or Tls()
        elif target.startswith("http://"):
            if tls is not None:
                raise ValueError(f"{target!r} says plaintext, but TLS options were given")
            target = target.removeprefix("http://")
        target = target.rstrip("/")
        if tls is None:
            return cls(target, None, list(RECONNECT_OPTIONS))
        return cls(target, tls.credentials(), RECONNECT_OPTIONS + tls.channel_options())

    def open(self, flavour: Any = grpc) -> Any:
        """A channel to it: ``grpc`` (the default) for a blocking one, ``grpc.aio`` for asyncio;
        both modules make channels with the same calls."""
        if self.credentials is None:
            return flavour.insecure_channel(self.address, options=self.options)
        return flavour.secure_channel(self.address, self.credentials, options=self.options)
