"""The checked-in stubs are exactly what generate.py makes of the current proto."""

from __future__ import annotations

import filecmp
from pathlib import Path

import generate

CHECKED_IN = Path(generate.__file__).resolve().parent


def _files(root: Path) -> list[Path]:
    package = root / generate.PACKAGE
    return sorted(
        p.relative_to(root) for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def test_stubs_match_the_proto(tmp_path: Path) -> None:
    generate.generate(tmp_path)
    generated = _files(tmp_path)
    assert generated, "generate.py wrote nothing"
    assert generated == _files(CHECKED_IN), "the set of generated files changed"
    stale = [str(p) for p in generated if not filecmp.cmp(tmp_path / p, CHECKED_IN / p, shallow=False)]
    assert not stale, (
        f"{stale} differ from what proto/ generates: run `python clients/python/generate.py` "
        "(with clients/python/requirements.txt installed) and commit the result"
    )


def test_the_stubs_live_under_rift_client() -> None:
    from rift_client.v1 import rift_pb2, rift_pb2_grpc

    assert rift_pb2.DESCRIPTOR.package == "rift.v1"
    assert rift_pb2_grpc.RiftStub.__module__ == "rift_client.v1.rift_pb2_grpc"
