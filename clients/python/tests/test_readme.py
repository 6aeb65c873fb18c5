"""The README's Python section works as written: its snippets run, in order after
``example.py``, against a live Rift, printing exactly what their comments say; and
``pip install ./clients/python`` installs a package that carries its stubs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PYTHON_DIR = REPO / "clients" / "python"
# `print(...)  # what it prints`: the comment is the line the print writes.
PRINTS = re.compile(r"^\s*print\(.*\)\s+# (?P<expected>.+)$")


def _python_section() -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index("**Python** (`clients/python`")
    return readme[start : readme.index("**TypeScript**", start)]


def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", _python_section(), re.S)


def _run(args: list[str], rift_addr: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    result = subprocess.run(
        args,
        env={**(env or os.environ), "RIFT_ADDR": rift_addr},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_snippets_print_what_their_comments_say_after_the_example(rift, tmp_path: Path) -> None:
    snippets = _snippets()
    assert len(snippets) == 2, "expected the sync and the asyncio snippet"
    _run([sys.executable, str(PYTHON_DIR / "example.py")], rift.grpc_addr, PYTHON_DIR)
    for snippet in snippets:
        expected = [m["expected"].strip() for line in snippet.splitlines() if (m := PRINTS.match(line))]
        assert expected, f"no commented prints in {snippet!r}"
        script = tmp_path / "snippet.py"
        script.write_text(snippet)
        env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
        assert _run([sys.executable, str(script)], rift.grpc_addr, tmp_path, env) == expected


def test_the_install_command_installs_the_package_with_its_stubs(tmp_path: Path) -> None:
    section = _python_section()
    assert ".venv/bin/pip install ./clients/python" in section
    target = tmp_path / "site"
    # The README's install, without fetching dependencies or build tools again: this venv has them.
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
            "--target", str(target), str(PYTHON_DIR),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import rift_client, rift_client.v1.rift_pb2_grpc as g; "
        "print(rift_client.__file__); print(g.RiftStub.__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    lines = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert Path(lines[0]).is_relative_to(target) and lines[1] == "RiftStub"
    for shipped in ["rift_client/py.typed", "rift_client/v1/rift_pb2.pyi", "rift_client/aio.py"]:
        assert (target / shipped).is_file(), f"{shipped} is not in the installed package"
    assert not (target / "rift").exists(), "a top-level `rift` package was installed"
    assert not (target / "tests").exists() and not (target / "generate.py").exists()


def test_the_example_also_takes_a_token(start_rift, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("writer writer-token-0123456789\n")
    rift = start_rift("--tokens-file", str(tokens))
    env = {**os.environ, "RIFT_TOKEN": "writer-token-0123456789"}
    lines = _run([sys.executable, str(PYTHON_DIR / "example.py")], rift.grpc_addr, PYTHON_DIR, env)
    assert lines[0] == "Analyzed 3 items"
