#!/usr/bin/env python3
"""Regenerates the Python stubs (``rift_client/v1/``) from ``proto/rift/v1/rift.proto``.

Run it after changing the proto, with the pinned tools (``pip install -r requirements.txt``):

    python clients/python/generate.py

``--out DIR`` writes somewhere else instead; the drift test uses it to check that the stubs in
the repository are exactly what the pinned grpcio-tools makes of the current proto.
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTO_DIR = HERE.parent.parent / "proto" / "rift"
# protoc's virtual path: the proto is compiled as ``rift_client/v1/rift.proto``, so the
# stubs land in, and import each other from, the ``rift_client.v1`` package instead of a
# top-level ``rift`` (a name another project has on PyPI). Message names stay ``rift.v1.*``.
PACKAGE = "rift_client/v1"
PROTO = f"{PACKAGE}/rift.proto"
INIT = '"""Generated from proto/ by clients/python/generate.py. Do not edit."""\n'


def generate(out: Path) -> None:
    """Writes the messages (``rift_pb2.py``, ``.pyi``) and the stub (``rift_pb2_grpc.py``)."""
    out.mkdir(parents=True, exist_ok=True)
    # The well-known types (Struct, Timestamp) ship inside grpcio-tools.
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-Irift_client={PROTO_DIR}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            PROTO,
        ]
    )
    if status != 0:
        raise SystemExit(f"grpc_tools.protoc failed with status {status}")
    (out / PACKAGE / "__init__.py").write_text(INIT)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where rift_client/v1/ goes (default: %(default)s)"
    )
    generate(parser.parse_args(argv).out)


if __name__ == "__main__":
    main(sys.argv[1:])
