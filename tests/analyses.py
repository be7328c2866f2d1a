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


def planned_register(tmp_path: Path) -> Path:
    """The conformity suite's base register with every applicable control only planned (no
    violation about them, yet none effective): written to `tmp_path`, its path returned."""
    import yaml

    base = Path(__file__).parent / "conformity" / "base.yaml"
    register = yaml.safe_load(base.read_text(encoding="utf-8"))
    for row in register["controls"]:
        if row.get("applicable"):
            row["status"] = "planned"
    path = tmp_path / "planned.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False), encoding="utf-8")
    return path
