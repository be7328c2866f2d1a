"""The one exception root. CLI exit code 2 ("input could not be read") maps to InputError."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class AimsGraphError(Exception):
    """Root of every error aimsgraph raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input: where (file, entry, key) and what."""

    file: str
    entry: str
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.entry:
            where += f": entry '{self.entry}'"
        if self.key:
            where += f", key '{self.key}'"
        return f"{where}: {self.message}" if where else self.message


class InputError(AimsGraphError):
    """The input could not be read. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", "", "", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the input:" if count > 1 else ""
        lines = [str(p) for p in self.problems]
        super().__init__("\n".join(([head] if head else []) + lines))


class RegisterError(InputError):
    """A register (YAML or CSV folder) breaks the register format."""


class RDFInputError(InputError):
    """An RDF file could not be parsed, or would need the network."""


class QueryError(AimsGraphError):
    """A SPARQL query or update was malformed or failed in the store."""


class NetworkAccessError(QueryError):
    """A query or update would reach out to the network (SERVICE, LOAD) without permission."""


class StoreError(AimsGraphError):
    """The store could not be reached or refused an operation."""


class ShapesError(AimsGraphError):
    """The SHACL shapes are malformed or use a feature the compiled validator does not support
    (raised when the shapes are compiled, before any data is looked at)."""


def unknown_name(what: str, given: str, known: Iterable[str]) -> str:
    """The message for a name that is not one of `known`: "no rule 'risk-untreatd'; did you mean
    'risk-untreated'? (known: ...)", with the closest match when there is one."""
    names = sorted(set(known))
    given = given if len(given) <= 80 else given[:79] + "…"  # an echoed value stays short
    close = difflib.get_close_matches(given, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    listed = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + ", …"
    return f"no {what} '{given}'{hint} (known: {listed or 'none'})"


class ResultTooLarge(QueryError):
    """A query's answer is past the caller's row or size cap."""
