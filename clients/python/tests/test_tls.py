"""TLS options, against a live Rift behind a TLS-terminating proxy started by the test.

Rift's gRPC port speaks plaintext until its own TLS lands, so the handshakes here are the
proxy's (Python's ``ssl`` with ALPN ``h2``, certificates from a throwaway ``trustme`` CA) and
the calls behind it are Rift's. That checks what the clients do with every option (trusted
roots, the server name, a client certificate for mTLS, ``https://`` targets), not Rift's own
TLS server.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import trustme

from rift_client import AsyncRiftClient, RiftClient, RiftError, TaskStatus, Tls

SERVER_NAME = "rift.test"
CLIENT_NAME = "client.rift.test"


class TlsProxy:
    """Accepts TLS on 127.0.0.1:0 and pipes the decrypted bytes to ``upstream``; records the
    client certificates it saw."""

    def __init__(self, upstream: str, context: ssl.SSLContext) -> None:
        self.upstream_host, port = upstream.rsplit(":", 1)
        self.upstream_port = int(port)
        self.context = context
        self.client_names: list[str] = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        assert started.wait(10), "the TLS proxy did not start"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        )
        self.address = "127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        peer = client_writer.get_extra_info("peercert") or {}
        for entry in peer.get("subjectAltName", ()):
            self.client_names.append(entry[1])
        upstream_reader, upstream_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    async def _shutdown(self) -> None:
        self.server.close()
        pipes = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(SERVER_NAME).configure_cert(context)
    context.set_alpn_protocols(["h2"])  # gRPC clients insist on it
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


@pytest.fixture
def named_rift(start_rift):
    """A Rift that answers to the proxy's name: the clients send it as ``:authority``, and
    Rift refuses names that are not its own (DNS rebinding)."""
    return start_rift("--public-host", SERVER_NAME)


@pytest.fixture
def tls_proxy(named_rift, ca: trustme.CA) -> Iterator[TlsProxy]:
    proxy = TlsProxy(named_rift.grpc_addr, _server_context(ca, require_client_cert=False))
    yield proxy
    proxy.close()


@pytest.fixture
def mtls_proxy(named_rift, ca: trustme.CA) -> Iterator[TlsProxy]:
    proxy = TlsProxy(named_rift.grpc_addr, _server_context(ca, require_client_cert=True))
    yield proxy
    proxy.close()


def _client_pair(ca: trustme.CA) -> tuple[bytes, bytes]:
    issued = ca.issue_cert(CLIENT_NAME)
    return b"".join(blob.bytes() for blob in issued.cert_chain_pems), issued.private_key_pem.bytes()


def test_the_ca_and_server_name_reach_rift(tls_proxy: TlsProxy, ca: trustme.CA) -> None:
    tls = Tls(root_certificates=ca.cert_pem.bytes(), server_name=SERVER_NAME)
    with RiftClient(tls_proxy.address, tls=tls) as client:
        assert client.analyze("101", ["a", "b"]).summary == "Analyzed 2 items"
        with client.subscribe("101", after="0") as events:
            assert next(events).action == "analysis_stored"
    assert tls_proxy.client_names == []  # no client certificate was offered


def test_an_https_target_with_options_from_files(tls_proxy: TlsProxy, ca: trustme.CA, tmp_path: Path) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    tls = Tls.from_files(ca=tmp_path / "ca.pem", server_name=SERVER_NAME)
    with RiftClient(f"https://{tls_proxy.address}", tls=tls) as client:
        assert client.progress("101").status is TaskStatus.NOT_STARTED


def test_a_server_outside_the_trusted_roots_is_refused(tls_proxy: TlsProxy) -> None:
    # gRPC's default roots do not include the test's CA.
    with RiftClient(f"https://{tls_proxy.address}", tls=Tls(server_name=SERVER_NAME), timeout=10) as client:
        with pytest.raises(RiftError) as raised:
            client.progress("101")
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


def test_without_the_server_name_the_certificate_does_not_match(tls_proxy: TlsProxy, ca: trustme.CA) -> None:
    # The certificate names rift.test, not the 127.0.0.1 of the target.
    tls = Tls(root_certificates=ca.cert_pem.bytes())
    with RiftClient(tls_proxy.address, tls=tls, timeout=10) as client:
        with pytest.raises(RiftError) as raised:
            client.progress("101")
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE


def test_mtls_needs_the_client_certificate_and_presents_it(mtls_proxy: TlsProxy, ca: trustme.CA) -> None:
    roots = ca.cert_pem.bytes()
    with RiftClient(mtls_proxy.address, tls=Tls(roots, server_name=SERVER_NAME), timeout=10) as client:
        with pytest.raises(RiftError) as raised:
            client.progress("101")
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE

    chain, key = _client_pair(ca)
    tls = Tls(root_certificates=roots, certificate_chain=chain, private_key=key, server_name=SERVER_NAME)
    with RiftClient(mtls_proxy.address, tls=tls) as client:
        assert client.analyze("101", [1]).version == 1
    assert mtls_proxy.client_names == [CLIENT_NAME]


def test_the_async_client_over_mtls_with_a_token(start_rift, ca: trustme.CA, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("writer writer-token-0123456789\n")
    rift = start_rift("--tokens-file", str(tokens), "--public-host", SERVER_NAME)
    proxy = TlsProxy(rift.grpc_addr, _server_context(ca, require_client_cert=True))
    chain, key = _client_pair(ca)
    tls = Tls(ca.cert_pem.bytes(), chain, key, SERVER_NAME)

    async def flow() -> None:
        async with AsyncRiftClient(proxy.address, tls=tls, token="writer-token-0123456789") as client:
            assert (await client.analyze("101", [1])).version == 1
            events = await client.subscribe("101", after="0")
            assert (await asyncio.wait_for(events.__anext__(), 30)).action == "analysis_stored"
            events.cancel()

    try:
        asyncio.run(flow())
    finally:
        proxy.close()
    assert proxy.client_names == [CLIENT_NAME]


def test_options_that_contradict_each_other_are_refused(ca: trustme.CA) -> None:
    with pytest.raises(ValueError):
        Tls(certificate_chain=b"cert without a key")
    with pytest.raises(ValueError):
        Tls(private_key=b"key without a cert")
    with pytest.raises(ValueError):
        RiftClient("http://127.0.0.1:1", tls=Tls())
    assert "key" not in repr(Tls(certificate_chain=b"c", private_key=b"secret")).replace("private_key", "")
