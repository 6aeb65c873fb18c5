"""Fixtures: a real ``redis-server`` and a real ``rift`` process per test.

Each test gets its own Redis on a unix socket in a temporary directory and its own Rift on
``127.0.0.1:0``. Readiness is read, never guessed: Redis logs "ready to accept connections"
on stdout, Rift logs its bound addresses as JSON on stderr. A missing binary fails the test
with the command that provides it; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

import pytest

from rift_client import RiftClient

REPO = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 30.0  # seconds, generous for a loaded two-core machine


def _find_redis_server() -> str:
    override = os.environ.get("RIFT_REDIS_SERVER")
    if override:
        return override
    found = shutil.which("redis-server")
    for candidate in [found, "/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "redis-server not found. Install it with `apt-get install -y redis-server`, or run "
        "`bash scripts/test.sh`, which does; or set RIFT_REDIS_SERVER=/path/to/redis-server.",
        pytrace=False,
    )


def _rift_binary() -> str:
    path = Path(os.environ.get("RIFT_BIN", REPO / "target" / "debug" / "rift"))
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"the rift binary is not at {path}. Build it with `cargo build --locked` (or run "
            "`bash scripts/test.sh`, which does), or set RIFT_BIN to its path.",
            pytrace=False,
        )
    return str(path)


def _read_until(
    stream: IO[bytes], ready: Callable[[str], object], what: str, process: subprocess.Popen[bytes]
) -> object:
    """Reads ``stream`` line by line until ``ready(line)`` returns something, then keeps
    draining it in the background so the child never blocks on a full pipe."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for raw in stream:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            process.kill()
            pytest.fail(f"{what} not ready within {READY_TIMEOUT}s; output:\n{''.join(seen)}")
        if line is None:
            process.wait()
            pytest.fail(f"{what} exited ({process.returncode}) before it was ready; output:\n{''.join(seen)}")
        seen.append(line)
        result = ready(line)
        if result is not None:
            return result


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Redis:
    socket: Path
    binary: str

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def cli(self, *args: str) -> str:
        """Runs ``redis-cli`` (installed beside redis-server) on this server."""
        cli = Path(self.binary).with_name("redis-cli")
        binary = str(cli) if cli.exists() else shutil.which("redis-cli")
        if binary is None:
            pytest.fail("redis-cli not found: `apt-get install -y redis-tools`", pytrace=False)
        return subprocess.run(
            [binary, "-s", str(self.socket), *args], check=True, capture_output=True, text=True
        ).stdout


@dataclass(frozen=True)
class Rift:
    grpc_addr: str
    http_addr: str
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)

    def stop(self) -> None:
        """SIGTERM, and wait until it has exited (its port is free again)."""
        _stop(self.process)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    binary = _find_redis_server()
    socket = tmp_path / "redis.sock"
    # fmt: off
    process = subprocess.Popen(
        [
            binary, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
            "--logfile", "", "--daemonize", "no",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    # fmt: on
    assert process.stdout is not None
    # 7.0 says "ready to accept connections at <path>" for a unix socket alone, 7.2
    # "Ready to accept connections unix".
    _read_until(
        process.stdout,
        lambda line: True if "ready to accept connections" in line.lower() else None,
        "redis-server",
        process,
    )
    try:
        yield Redis(socket, binary)
    finally:
        _stop(process)


@pytest.fixture
def start_rift(redis: Redis) -> Iterator[Callable[..., Rift]]:
    """Starts ``rift serve`` on this test's Redis, with extra flags, on a free port unless
    ``grpc_addr`` names one (to restart a Rift where its clients look); all stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str, grpc_addr: str = "127.0.0.1:0") -> Rift:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RIFT_") and k != "REDIS_URL"}
        # fmt: off
        process = subprocess.Popen(
            [
                _rift_binary(), "--log-format", "json", "serve",
                "--grpc-addr", grpc_addr, "--http-addr", "127.0.0.1:0",
                "--redis-url", redis.url, *extra,
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        # fmt: on
        started.append(process)
        assert process.stderr is not None

        def addresses(line: str) -> Rift | None:
            try:
                fields = json.loads(line).get("fields", {})
            except ValueError:
                return None
            if "grpc" in fields and "http" in fields:
                return Rift(fields["grpc"], fields["http"], process)
            return None

        found = _read_until(process.stderr, addresses, "rift", process)
        assert isinstance(found, Rift)
        return found

    try:
        yield start
    finally:
        for process in started:
            _stop(process)


@pytest.fixture
def rift(start_rift: Callable[..., Rift]) -> Rift:
    return start_rift()


@pytest.fixture
def client(rift: Rift) -> Iterator[RiftClient]:
    with RiftClient(rift.grpc_addr) as client:
        yield client
