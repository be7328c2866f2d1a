"""A per-user disk cache for what aimsgraph derives from its own shipped files: the parsed rules
and the compiled shapes. Parsing them with rdflib's SPARQL parser takes 2-3 s, more than the
whole pipeline on a small register, and every CLI command would pay it again.

An entry is keyed by a hash of the files' bytes, aimsgraph's version and Python's, so a changed
rule or shape (or a new release) is simply another entry. Entries live in
`$AIMSGRAPH_CACHE_DIR`, else `$XDG_CACHE_HOME/aimsgraph`, else `~/.cache/aimsgraph`, in a folder
only the user can write; a cache that cannot be read or written is skipped, never an error.
Set `AIMSGRAPH_CACHE_DIR=off` to build everything afresh.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from . import __version__

T = TypeVar("T")


def cache_dir() -> Path | None:
    chosen = os.environ.get("AIMSGRAPH_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aimsgraph"


def _key(kind: str, files: Iterable[Path]) -> str:
    digest = hashlib.sha256(f"{kind}\0{__version__}\0{sys.version}".encode())
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{kind}-{digest.hexdigest()[:32]}.pickle"


def cached(kind: str, files: Iterable[Path], build: Callable[[], T]) -> T:
    """`build()`, or what it returned last time for the same bytes of `files` (list the module
    that builds the value among them, so a change to its code is a new entry too)."""
    files = list(files)
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / _key(kind, files)
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 (written by this module, in the user's own folder)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass
    value = build()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)  # readers never see half an entry
    except (OSError, pickle.PickleError, TypeError, AttributeError):
        pass
    return value
