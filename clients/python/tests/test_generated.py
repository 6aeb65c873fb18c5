"""The checked-in stubs are exactly what generate.py makes of the current proto."""

from __future__ import annotations

import filecmp
from pathlib import Path

import generate

CHECKED_IN = Path(generate.__file__).resolve().parent


def test_stubs_match_the_proto(tmp_path: Path) -> None:
    generate.generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "rift").rglob("*") if p.is_file())
    checked_in = sorted(
        p.relative_to(CHECKED_IN)
        for p in (CHECKED_IN / "rift").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert generated == checked_in, "the set of generated files changed"
    stale = [str(p) for p in generated if not filecmp.cmp(tmp_path / p, CHECKED_IN / p, shallow=False)]
    assert not stale, (
        f"{stale} differ from what proto/ generates: run `python clients/python/generate.py` "
        "(with clients/python/requirements.txt installed) and commit the result"
    )
