"""The disk cache of parsed rules and compiled shapes: reused for the same bytes, rebuilt when a
file changes, skipped when off or unwritable, never an error."""

from __future__ import annotations

from aimsgraph.cache import cached


def _counter():
    calls = []

    def build():
        calls.append(1)
        return {"built": len(calls)}

    return calls, build


def test_same_bytes_reuse_the_entry_and_a_change_rebuilds(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "rule.rq"
    source.write_text("one", encoding="utf-8")
    calls, build = _counter()
    assert cached("test", [source], build) == {"built": 1}
    assert cached("test", [source], build) == {"built": 1}
    assert len(calls) == 1
    source.write_text("two", encoding="utf-8")
    assert cached("test", [source], build) == {"built": 2}
    assert not list((tmp_path / "cache").glob("*.part"))  # entries are renamed into place whole


def test_off_builds_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", "off")
    source = tmp_path / "shape.ttl"
    source.write_text("x", encoding="utf-8")
    calls, build = _counter()
    cached("test", [source], build)
    cached("test", [source], build)
    assert len(calls) == 2


def test_an_unusable_cache_is_skipped(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(blocked / "cache"))
    source = tmp_path / "shape.ttl"
    source.write_text("x", encoding="utf-8")
    calls, build = _counter()
    assert cached("test", [source], build) == {"built": 1}


def test_a_corrupt_entry_is_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(folder))
    source = tmp_path / "rule.rq"
    source.write_text("one", encoding="utf-8")
    calls, build = _counter()
    cached("test", [source], build)
    for entry in folder.glob("test-*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert cached("test", [source], build) == {"built": 2}
