"""Findings kept between commands on a persistent store (on disk or a SPARQL server).

A stored analysis is validated once (by `load`, or the first command that needs its findings)
and its SHACL results and findings are kept in the user's cache folder, filed under the state
they belong to (`workspace.state_key`: store, organisation, data and reasoning versions) and the
increment that state is at. `gaps` on an unchanged store reads them instead of validating again.

`aimsgraph add` writes only what its change replaced: the results and findings of the focus
nodes the change reached (revalidate.py), as a delta numbered by the increment it made. So an
add costs what it touches, not the 70k findings of a 1M-triple register. A state is read as the
newest whole state at or before its increment plus the deltas after it; every `WHOLE_EVERY`
increments an add writes the whole state again, so a read applies few deltas. A state with any
part missing is not found, and the caller validates from scratch: a file lost or left half
written costs time, never a wrong finding. The store itself never holds any of this.

Results are kept as rows of indexes into a table of distinct terms (tens of thousands of
results name a few thousand terms), grouped by focus node, and decoded only for the focus
nodes a change reaches.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import pickle
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import rdflib
from rdflib import Literal, URIRef
from rdflib.term import Node

from .namespaces import AIMS
from .resources import data_files
from .shacl import ValidationResult
from .store import Store, collector_paused
from .render import finding_json
from .validate import Finding, Validation, compiled_shapes, findings_from_results, register_ids, validate

WHOLE_EVERY = 16  # increments between two whole states: a read applies at most this many deltas
_FILE = re.compile(r"^(whole|delta)-(\d+)(?:-(results|findings))?\.pickle$")
_READ_ERRORS = (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError, ValueError,
                KeyError, IndexError)


def _folder(key: str) -> Path | None:
    from . import __version__
    from .cache import cache_dir

    folder = cache_dir()
    if folder is None:
        return None
    shapes = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in data_files("shapes"))
    digest = hashlib.sha256(f"{key}\0{shapes}\0{__version__}".encode()).hexdigest()[:32]
    return folder / "findings" / digest


def _term_key(term) -> tuple:
    if term is None:
        return ("n",)
    if isinstance(term, Literal):
        return ("l", str(term), term.datatype and str(term.datatype), term.language)
    return ("b" if isinstance(term, rdflib.BNode) else "u", str(term))


def _term(key: tuple):
    kind = key[0]
    if kind == "u":
        return URIRef(key[1])
    if kind == "b":
        return rdflib.BNode(key[1])
    if kind == "l":
        return Literal(key[1], datatype=key[2], lang=key[3])
    return None


class KeptState:
    """One organisation's validation at one increment: results as rows grouped by the index of
    their focus node, findings in order."""

    def __init__(self, table: list, tuples: list, rows: dict[int, list[tuple]] | None,
                 findings: list[Finding] | None, fragments: list[str] | None, increment: int, whole_at: int):
        self.table, self.tuples, self.rows = table, tuples, rows
        # each finding's text in `gaps --format json` (render.finding_json), kept beside it: writing
        # 68k findings as JSON costs more than reading them
        self.findings, self.fragments = findings, fragments
        self.increment, self.whole_at = increment, whole_at
        self._index: dict[tuple, int] | None = None
        self._tuple_index: dict[tuple, int] | None = None
        self._terms: dict[int, object] = {}

    # -- terms and rows
    def index(self) -> dict[tuple, int]:
        if self._index is None:
            self._index = {key: i for i, key in enumerate(self.table)}
            self._tuple_index = {key: i for i, key in enumerate(self.tuples)}
        return self._index

    def ref_of(self, term) -> int | None:
        return self.index().get(_term_key(term))

    def term(self, i: int):
        found = self._terms.get(i, self)
        if found is self:
            found = self._terms[i] = _term(self.table[i])
        return found

    def _ref(self, term) -> int:
        index = self.index()
        key = _term_key(term)
        found = index.get(key)
        if found is None:
            found = index[key] = len(self.table)
            self.table.append(key)
        return found

    def _group(self, values: tuple) -> int:
        self.index()
        found = self._tuple_index.get(values)
        if found is None:
            found = self._tuple_index[values] = len(self.tuples)
            self.tuples.append(values)
        return found

    def encode(self, r: ValidationResult, seen: dict[int, int] | None = None) -> tuple:
        """`r` as a row. `seen` (term object id -> index), shared by the rows of one batch whose
        terms stay alive through it: one query's results share their term objects, so most terms
        are looked up by identity, not rebuilt into keys (0.43 -> 0.1 s for 7.6k results)."""
        if seen is None:
            ref = self._ref
        else:
            def ref(term, _ref=self._ref, _get=seen.get) -> int:
                found = _get(id(term))
                if found is None:
                    found = seen[id(term)] = _ref(term)
                return found
        return (ref(r.shape), ref(r.focus), ref(r.value), ref(r.path), ref(r.component), ref(r.severity),
                ref(r.constraint), self._group(tuple(ref(m) for m in r.messages)),
                self._group(tuple((n, ref(t)) for n, t in r.bindings)) if r.bindings else -1)

    def decode(self, row: tuple) -> ValidationResult:
        term = self.term
        a, b, c, d, e, f, g, m, n = row
        result = object.__new__(ValidationResult)
        result.__dict__.update(shape=term(a), focus=term(b), value=term(c), path=term(d), component=term(e),
                               severity=term(f), constraint=term(g),
                               messages=tuple(term(i) for i in self.tuples[m]),
                               bindings=tuple((name, term(i)) for name, i in self.tuples[n]) if n >= 0 else ())
        return result

    def results_of(self, focus: Node) -> list[ValidationResult]:
        ref = self.ref_of(focus)
        return [self.decode(row) for row in self.rows.get(ref, ())] if ref is not None else []

    def all_results(self) -> list[ValidationResult]:
        """Every result, in the order a full run gives them."""
        from .revalidate import _key, query_rank
        from .shacl import _result_order

        rank = query_rank(compiled_shapes())
        out = [self.decode(row) for rows in self.rows.values() for row in rows]
        return sorted(out, key=lambda r: (_result_order(r), rank.get(_key(r), -1)))

    def all_findings(self, key: str) -> list[Finding]:
        """The findings, read back from what is kept under `key` if this state was read without."""
        if self.findings is None:
            read_back = read(key, self.increment)
            if read_back is None:
                raise FileNotFoundError("the kept findings went away: run the command again")
            self.findings, self.fragments = read_back.findings, read_back.fragments
        return self.findings

    # -- changes
    def apply(self, *deltas: dict) -> None:
        """Bring the state forward by these increments' deltas, in order: their findings merged
        into the state's in one pass (a pass over 68k findings per delta cost 0.03 s each)."""
        touched: set[str] = set()
        fresh: list[tuple[Finding, str]] = []
        for delta in deltas:
            self._apply_rows(delta)
            if self.findings is not None:
                now = set(delta["touched"])
                touched |= now
                fresh = [pair for pair in fresh if pair[0].focus_iri not in now]
                fresh += zip(map(Finding._make, delta["findings"]), delta["fragments"])
            self.increment += 1
        if self.findings is not None and deltas:
            fresh.sort(key=lambda pair: pair[0].sort_key())
            self.findings, self.fragments = _merged(self.findings, self.fragments, touched,
                                                    [f for f, _ in fresh], [t for _, t in fresh])

    def _apply_rows(self, delta: dict) -> None:
        if self.rows is not None:
            if delta["table_at"] != (len(self.table), len(self.tuples)):
                raise ValueError("delta does not follow this state")
            self.table.extend(delta["terms"])
            self.tuples.extend(delta["tuples"])
            self._index = self._tuple_index = None
            for ref, rows in delta["rows"].items():
                if rows:
                    self.rows[ref] = rows
                else:
                    self.rows.pop(ref, None)


def _merged(findings: list[Finding], fragments: list[str], touched: set[str], fresh: list[Finding],
            fresh_fragments: list[str]) -> tuple[list[Finding], list[str]]:
    """`findings` (and their JSON `fragments`) without those about the `touched` focus nodes,
    with `fresh` in their places."""
    if touched:
        keep = [i for i, f in enumerate(findings) if f.focus_iri not in touched]
        findings, fragments = [findings[i] for i in keep], [fragments[i] for i in keep]
    else:
        findings, fragments = list(findings), list(fragments)
    if len(fresh) * 64 < len(findings):  # a few: placed by bisection, the others' keys never built
        for finding, fragment in zip(fresh, fresh_fragments):
            at = bisect.bisect_right(findings, finding.sort_key(), key=Finding.sort_key)
            findings.insert(at, finding)
            fragments.insert(at, fragment)
        return findings, fragments
    pairs = sorted(zip(findings + fresh, fragments + fresh_fragments), key=lambda pair: pair[0].sort_key())
    return [f for f, _ in pairs], [t for _, t in pairs]


# ----------------------------------------------------------------------------- reading and writing


def _load(path: Path):
    with open(path, "rb") as handle:  # written by this module, in the user's own folder
        return pickle.load(handle)  # noqa: S301


def _dump(path: Path, value) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(handle.name, path)


def read(key: str, increment: int, with_results: bool = False, with_findings: bool = True) -> KeptState | None:
    """The state kept under `key` at `increment` (its results when asked: the next add needs
    them, `gaps` does not; its findings unless told not: the next add does not need them), or
    None."""
    folder = _folder(key)
    if folder is None:
        return None
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    wholes = sorted(int(m.group(2)) for m in map(_FILE.match, names)
                    if m and m.group(1) == "whole" and m.group(3) == "findings" and int(m.group(2)) <= increment)
    if not wholes:
        return None
    at = wholes[-1]
    try:
        with collector_paused():  # ~100k small tuples, no cycles: a third of the time
            findings = fragments = None
            if with_findings:
                rows_of_findings, fragments = _load(folder / f"whole-{at}-findings.pickle")
                findings = list(map(Finding._make, rows_of_findings))
            table, tuples, rows = (_load(folder / f"whole-{at}-results.pickle") if with_results else ([], [], None))
            state = KeptState(table, tuples, rows, findings, fragments, at, at)
            state.apply(*(_load(folder / f"delta-{number}.pickle") for number in range(at + 1, increment + 1)))
    except _READ_ERRORS:
        return None
    return state


def write_whole(key: str, state: KeptState) -> None:
    """Keep `state` whole (results first, findings last: the findings file present means complete)
    and drop the older files of this key."""
    folder = _folder(key)
    if folder is None or state.rows is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        at = state.increment
        _dump(folder / f"whole-{at}-results.pickle", (state.table, state.tuples, state.rows))
        findings = state.all_findings(key)
        _dump(folder / f"whole-{at}-findings.pickle", ([tuple(f) for f in findings], state.fragments))
        state.whole_at = at
        for name in os.listdir(folder):
            m = _FILE.match(name)
            if name.endswith(".part") or (m and (int(m.group(2)) != at or m.group(1) == "delta")):
                (folder / name).unlink(missing_ok=True)
    except (OSError, pickle.PickleError, TypeError, AttributeError):
        pass


def write_delta(key: str, state: KeptState, delta: dict) -> None:
    """Keep one increment's delta (or, every WHOLE_EVERY increments, the whole state)."""
    folder = _folder(key)
    if folder is None:
        return
    try:
        _dump(folder / f"delta-{state.increment}.pickle", delta)
    except (OSError, pickle.PickleError, TypeError, AttributeError):
        return
    if state.increment - state.whole_at >= WHOLE_EVERY:  # the findings are read back through the delta
        write_whole(key, state)


def whole_state(validation: Validation, increment: int) -> KeptState:
    """A state from a validation run whole."""
    findings = list(validation.findings)
    state = KeptState([], [], {}, findings, list(map(finding_json, findings)), increment, increment)
    rows: dict[int, list[tuple]] = {}
    results = validation.all_results()
    seen: dict[int, int] = {}
    for r in results:
        row = state.encode(r, seen)
        rows.setdefault(row[1], []).append(row)
    state.rows = rows
    return state


def keep(key: str, increment: int, validation: Validation) -> None:
    """Keep a validation run whole under `key` at `increment`."""
    if _folder(key) is not None:
        write_whole(key, whole_state(validation, increment))


def kept_validation(key: str, increment: int) -> Validation | None:
    """The findings kept under `key` at `increment` as a Validation whose results are read only
    if asked for (`gaps --format turtle`), or None."""
    state = read(key, increment)
    if state is None:
        return None

    def results() -> list[ValidationResult]:
        full = read(key, increment, with_results=True)
        if full is None:
            raise FileNotFoundError("the kept results went away: run the command again")
        return full.all_results()

    validation = Validation(state.findings, [], "store", compiled_shapes().shapes, results_from=results)
    validation.fragments = state.fragments
    return validation


def update(key: str, store: Store, before: int, added: Iterable, removed: Iterable) -> Validation:
    """The validation of `store` after an increment that took the state kept under `key` from
    `before` to `before + 1` with the net change `added` / `removed` of the union of its graphs:
    the compiled queries re-run only for the focus nodes the change can reach, findings rebuilt
    for those focus nodes only, and only they written, as the increment's delta. Validated whole
    (and kept whole) when the state is not kept or the change cannot be localised."""
    from .revalidate import ALL, rerun

    state = read(key, before, with_results=True, with_findings=False)
    added, removed = set(added), set(removed)
    both = added & removed
    added, removed = added - both, removed - both
    compiled = compiled_shapes()
    again = rerun(compiled, store, added, removed, {}) if state is not None else None
    if again is None:
        validation = validate(store)
        keep(key, before + 1, validation)
        return validation
    # the focus nodes whose results or findings may change: re-run ones, every one a whole re-run
    # replaces, those with fresh results, and those naming a node whose register id changed
    touched: set[Node] = {r.focus for r in again.fresh}
    for focus in again.foci.values():
        if focus is not ALL:
            touched |= focus
    whole_keys = {tuple(state.ref_of(t) for t in k) for k, focus in again.foci.items() if focus is ALL}
    renamed = {state.ref_of(t[0]) for t in added | removed if t[1] == AIMS.registerId} - {None}
    if whole_keys or renamed:
        for ref, rows in state.rows.items():
            if any((r[0], r[4], r[6]) in whole_keys or r[1] in renamed or r[2] in renamed for r in rows):
                touched.add(state.term(ref))
    fresh_of: dict[Node, list[ValidationResult]] = {}
    for r in again.fresh:
        fresh_of.setdefault(r.focus, []).append(r)
    results: list[ValidationResult] = []
    per_focus: dict[Node, list[ValidationResult]] = {}
    for focus in touched:
        now = [r for r in state.results_of(focus) if not again.replaces(r)] + fresh_of.get(focus, [])
        now.sort(key=again.order)
        per_focus[focus] = now
        results.extend(now)
    labels = register_ids(store, [n for r in results for n in (r.focus, r.value) if n is not None])
    fresh_findings = findings_from_results(results, compiled.shapes, labels)
    table_at = (len(state.table), len(state.tuples))
    seen: dict[int, int] = {}
    rows = {state._ref(focus): [state.encode(r, seen) for r in now] for focus, now in per_focus.items()}
    delta = {"table_at": table_at, "terms": state.table[table_at[0]:], "tuples": state.tuples[table_at[1]:],
             "rows": rows, "touched": sorted(str(f) for f in touched), "findings": [tuple(f) for f in fresh_findings],
             "fragments": list(map(finding_json, fresh_findings))}
    # the in-memory state is brought forward as a reader would: from before's table, plus the delta
    del state.table[table_at[0]:], state.tuples[table_at[1]:]
    state._index = state._tuple_index = None
    state.apply(delta)
    write_delta(key, state, delta)
    # the findings are read back only if the caller asks (`add` itself prints none)
    validation = _LaterFindings(lambda: state.all_findings(key), [], "store", compiled.shapes,
                                results_from=state.all_results)
    validation.reached = len(touched)
    validation.kept_state = state
    return validation


class _LaterFindings(Validation):
    """A Validation whose findings are read from the kept state when first asked for."""

    @property
    def fragments(self) -> list[str]:
        self.findings  # noqa: B018 -- read with them
        return self.kept_state.fragments

    @property
    def findings(self) -> list[Finding]:
        found = self.__dict__["_findings"]
        if callable(found):
            found = self.__dict__["_findings"] = found()
        return found

    @findings.setter
    def findings(self, value) -> None:
        self.__dict__["_findings"] = value
