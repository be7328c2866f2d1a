"""Bounds on every input the loader reads, as data: hostile input is normal input.

One `Limits` value travels with a load (`load_input(store, path, limits)`). The defaults suit
the command line, where the user hands over their own files (a 1M-triple register loads);
`API_LIMITS` is the stricter profile for bodies sent to the HTTP API. docs/register.md
("Limits") explains each bound to users.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one input may be at most. Anything past a bound is refused with a clear error
    (an InputError naming the file), before the expensive work, never half-loaded."""

    max_bytes: int = 512 * MiB
    """Size of one input: a YAML register, an RDF file, or all tables of a CSV folder together."""
    max_depth: int = 64
    """Nesting of YAML collections, JSON-LD objects and arrays, and RDF/XML elements. A register
    needs 6 levels; the parsers underneath recurse (RecursionError, stack overflow) or slow
    down quadratically on deep input, so it is checked before they see it."""
    max_values: int = 20_000_000
    """YAML values (scalars and collections) counted with every alias expanded, or CSV cells.
    A 1M-triple register has about 1.3M."""
    max_entities: int = 100
    """RDF/XML internal entity declarations (`<!ENTITY owl "http://…#">`)."""
    max_entity_chars: int = 2048
    """Characters of one RDF/XML entity's replacement text."""
    max_problems: int = 1000
    """Problems listed in one error; the rest are counted in a last line."""
    echo_chars: int = 80
    """Characters of an input value repeated in an error message, "…" marking a cut."""


DEFAULT_LIMITS = Limits()
"""The command line's profile: large files load, bombs and deep nesting do not."""

API_LIMITS = Limits(max_bytes=16 * MiB, max_depth=32, max_values=1_000_000, max_entities=50,
                    max_entity_chars=512, max_problems=100)
"""The HTTP API's profile: a request body is someone else's input, so everything is smaller."""


def shorten(text: str, limit: int = DEFAULT_LIMITS.echo_chars) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 80


def show(value: Any, limit: int = DEFAULT_LIMITS.echo_chars) -> str:
    """An input value as it appears in an error message: text quoted, anything else with its
    type; never longer than about `limit` characters, and never the whole of a big or
    alias-shared structure (reprlib stops at two levels and four items)."""
    if isinstance(value, str):
        return f"'{shorten(value, limit)}'"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {shorten(_REPR.repr(value), limit)}"
