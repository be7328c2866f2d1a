"""One analysis per (register, date, store) for the whole test session: each costs seconds, and
several test files read the same fixtures. The signature also fits where tests stand it in for
`pipeline.analyse` behind the CLI (extra options are ignored)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from aimsgraph.pipeline import Analysis, analyse

_ANALYSES: dict[tuple, Analysis] = {}


def analysed(path: Path, as_of: date, *, store_engine: str = "oxigraph", **_options) -> Analysis:
    key = (Path(path), as_of, store_engine)
    if key not in _ANALYSES:
        _ANALYSES[key] = analyse(path, as_of, store_engine=store_engine)
    return _ANALYSES[key]
