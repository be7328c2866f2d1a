"""Stage 1, load: read a register (YAML file or folder of CSV files) or RDF, check it against
the register format, and put it into a store beside the ontology and catalogues.

A register with any problem loads nothing: every problem is collected (file, entry id, key)
and raised together as one RegisterError. Every reader is bounded (`limits.Limits`: size,
nesting, aliases and entities, problems listed, characters echoed), so hostile input is a
clear InputError too, never a traceback or an exhausted machine.

The data goes to the store as N-Triples (`Data`), written straight from the checked entries
or re-serialised by pyoxigraph from parsed RDF: no rdflib Graph and no Python object per
term on the way. `read_input` still gives an rdflib Graph, for `convert` and the tests that
compare graphs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from difflib import get_close_matches
from functools import lru_cache
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from rdflib import Graph

from .errors import Problem, RDFInputError, RegisterError
from .limits import DEFAULT_LIMITS, Limits, shorten, show
from .namespaces import (
    AIMS,
    DATA_BASE,
    GRAPH_BASE,
    GRAPH_CATALOGUES,
    GRAPH_DATA,
    GRAPH_ONTOLOGY,
    ISO42001,
    PREFIXES,
    expand_curie,
)
from .readers import (
    check_rdf_xml,
    check_utf8,
    decode_utf8,
    json_ld_document,
    parse_yaml,
    read_bytes,
    too_big,
)
from .resources import data_files
from .schema import (
    AI_POLICY_KIND,
    CONTROL,
    FORMAT_ID,
    SECTIONS,
    TOP_LEVEL,
    TOP_MANAGEMENT,
    Key,
    Section,
)
from .store import RDF_FORMATS, Store, from_ox_term

_escape = encode_basestring  # a str as a JSON string literal, which is an N-Triples one too

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_PATTERN = re.compile(r"-?\d+")
BASE_IRI_PATTERN = re.compile(r"^https?://\S+[/#]$")
CSV_LIST_SEPARATOR = ";"

# --- packaged RDF (ontology, catalogues) --------------------------------------------------

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_SKOS_NOTATION = "http://www.w3.org/2004/02/skos/core#notation"


def ontology_files() -> list[Path]:
    return data_files("ontology")


def catalogue_files() -> list[Path]:
    return data_files("ontology/catalogues")


@lru_cache(maxsize=1)
def catalogue_graph() -> Graph:
    """The shipped catalogues as one rdflib Graph (parsed once per process)."""
    g = Graph()
    for path in catalogue_files():
        g.parse(path, format="turtle")
    return g


@lru_cache(maxsize=1)
def _catalogue_quads() -> tuple[ox.Quad, ...]:
    """The catalogues parsed by pyoxigraph (20x faster than rdflib; the checker needs only
    two sets of IRIs from them)."""
    return tuple(q for path in catalogue_files() for q in ox.parse(path.read_bytes(), format=ox.RdfFormat.TURTLE))


@lru_cache(maxsize=1)
def catalogue_terms() -> frozenset[str]:
    """IRIs of every catalogue entry (clause, control, article, subcategory…)."""
    return frozenset(q.subject.value for q in _catalogue_quads()
                     if q.predicate.value == _SKOS_NOTATION and isinstance(q.subject, ox.NamedNode))


@lru_cache(maxsize=1)
def annex_i_entries() -> dict[str, str]:
    """Annex I point numbers and act numbers (lower case, with and without the /EC or /EU of a
    directive) -> the catalogue entry's IRI: how a register's annex_i_product names an entry."""
    from rdflib.namespace import RDF, SKOS

    g = catalogue_graph()
    out: dict[str, str] = {}
    for entry in g.subjects(RDF.type, AIMS.AnnexIEntry):
        out[str(g.value(entry, SKOS.notation))] = str(entry)
        number = str(g.value(entry, AIMS.actNumber)).lower()
        out[number] = str(entry)
        out[re.sub(r"/(ec|eu)$", "", number)] = str(entry)
    return out


def annex_i_entry(text: str) -> str | None:
    """The Annex I entry a register's annex_i_product names, or None for other free text."""
    key = re.sub(r"^(directive|regulation)\s*(\((eu|ec)\))?\s*(no\.?\s*)?", "", text.strip().lower()).strip()
    return annex_i_entries().get(key)


@lru_cache(maxsize=1)
def annex_a_controls() -> frozenset[str]:
    annex_a = str(AIMS.AnnexAControl)
    return frozenset(q.subject.value for q in _catalogue_quads()
                     if q.predicate.value == _RDF_TYPE and q.object.value == annex_a)


def load_packaged(store: Store) -> None:
    """Ontology and catalogues into their own named graphs (replacing what was there)."""
    store.clear(GRAPH_ONTOLOGY)
    store.clear(GRAPH_CATALOGUES)
    for path in ontology_files():
        store.load(path.read_bytes(), "turtle", GRAPH_ONTOLOGY)
    for path in catalogue_files():
        store.load(path.read_bytes(), "turtle", GRAPH_CATALOGUES)


# --- reading: YAML and CSV into plain Python values ---------------------------------------


def read_yaml(path: Path, limits: Limits = DEFAULT_LIMITS) -> Any:
    """One YAML file as plain values, read by libyaml and bounded by `limits` (see
    readers.py for the rules: dates stay text, duplicate keys are errors, aliases counted)."""
    data = read_bytes(path, limits, RegisterError)
    text = decode_utf8(data, path.name, RegisterError)
    return parse_yaml(text, path.name, limits, RegisterError)


def _csv_sections() -> dict[str, tuple[str | None, Section]]:
    """CSV file stem -> (parent section or None, section)."""
    out: dict[str, tuple[str | None, Section]] = {}
    for name, sec in SECTIONS.items():
        out[name] = ("aims" if name == "interested_parties" else None, sec)
    return out


def _csv_columns(header: list[str], sec: Section, file: str,
                 echo: int = DEFAULT_LIMITS.echo_chars) -> tuple[list[tuple[str, str]], list[Problem]]:
    """Header cells -> (key, nested key or "") per column, with problems for columns that cannot
    be read unambiguously: duplicates, empty names, a key used both plain and nested
    (`treatment` and `treatment.option`), or a nested list that has its own table."""
    problems: list[Problem] = []
    columns: list[tuple[str, str]] = []
    seen: set[str] = set()
    for cell in header:
        name = cell.strip()
        head, _, rest = name.partition(".")
        columns.append((head, rest))
        if not name:
            problems.append(Problem(file, "", "", "a column has no name in the header row"))
        elif name in seen:
            problems.append(Problem(file, "", shorten(name, echo), "column appears twice in the header row"))
        elif sec.keys.get(head) is not None and sec.keys[head].kind == "list":
            problems.append(Problem(file, "", shorten(name, echo), f"goes in its own table, {head}.csv"))
        seen.add(name)
    nested = {h for h, r in columns if h and r}
    for head, rest in columns:
        if head and not rest and head in nested:
            shown = shorten(head, echo)
            problems.append(Problem(file, "", shown, f"column '{shown}' clashes with nested columns '{shown}.…'"))
            break
    return columns, problems


class _TooManyCells(Exception):
    pass


def _csv_rows(text: str, file: str, sec: Section, limits: Limits, cells: list[int]
              ) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The rows of one table's text; `cells` is a one-item counter of cells read so far in
    the folder (refused past `limits.max_values`)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return [], []
        columns, problems = _csv_columns(header, sec, file, limits.echo_chars)
        rows: list[dict[str, Any]] = []
        # Rows are read even under a faulty header, so references to their ids still resolve
        # and the run reports the real problems, not a cascade of dangling references.
        for cells_of_row in reader:
            line = reader.line_num
            cells[0] += len(cells_of_row)
            if cells[0] > limits.max_values:
                raise _TooManyCells
            if not any(c.strip() for c in cells_of_row):
                continue
            row: dict[str, Any] = {}
            for (head, rest), cell in zip(columns, cells_of_row):
                if cell.strip() == "" or not head or (head in sec.keys and sec.keys[head].kind == "list"):
                    continue
                if rest:
                    nested = row.setdefault(head, {})
                    if isinstance(nested, dict):
                        nested[rest] = cell.strip()
                elif head not in row:
                    row[head] = cell.strip()
            if len(cells_of_row) > len(columns):
                problems.append(Problem(file, shorten(str(row.get("id") or f"line {line}"), limits.echo_chars), "",
                                        f"line {line} has {len(cells_of_row)} cells but the header names "
                                        f"{len(columns)} columns"))
            rows.append(row)
    except csv.Error as exc:
        return [], [Problem(file, "", "", f"cannot read CSV at line {reader.line_num}: {shorten(str(exc), 200)}")]
    return rows, problems


def read_csv_table(path: Path, sec: Section, limits: Limits = DEFAULT_LIMITS
                   ) -> tuple[list[dict[str, Any]], list[Problem]]:
    """One CSV table -> (rows as nested dicts of text, problems).

    The first row names the columns (keys of the section); `a.b` columns fill the nested
    mapping `a` (`treatment.option`); empty cells are absent keys; rows with no text at all
    are skipped (spreadsheets export them); a UTF-8 byte order mark is allowed."""
    try:
        text = decode_utf8(read_bytes(path, limits, RegisterError), path.name, RegisterError)
    except RegisterError as exc:
        return [], exc.problems
    try:
        return _csv_rows(text, path.name, sec, limits, [0])
    except _TooManyCells:
        raise RegisterError(Problem(path.name, "", "", f"holds more than {limits.max_values:,} cells")) from None


def read_csv_folder(folder: Path, limits: Limits = DEFAULT_LIMITS
                    ) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    """A folder of CSV files -> (register dict with text values, section -> file name, problems).

    Every table is read even when an earlier one has problems, so one run reports them all.
    The tables together are one input: their total size and cells are bounded by `limits`."""
    data: dict[str, Any] = {"format": FORMAT_ID}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    known = _csv_sections()
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")
        total = sum(p.stat().st_size for p in paths if p.stem in known)
    except OSError as exc:
        raise RegisterError(Problem(folder.name, "", "", f"cannot read folder: {exc.strerror or type(exc).__name__}")) from None
    if total > limits.max_bytes:
        raise RegisterError(too_big(folder.name, total, limits))
    read, cells = 0, [0]
    for path in paths:
        stem = path.stem
        if stem not in known:
            problems.append(Problem(shorten(path.name, limits.echo_chars), "", "",
                                    f"unknown register table '{shorten(stem, limits.echo_chars)}' "
                                    f"(expected one of: {', '.join(sorted(known))})"))
            continue
        parent, sec = known[stem]
        files[stem] = path.name
        try:
            raw = read_bytes(path, limits, RegisterError)
            read += len(raw)
            if read > limits.max_bytes:  # a table grew since the sizes were added up
                raise RegisterError(too_big(folder.name, read, limits)) from None
            text = decode_utf8(raw, path.name, RegisterError)
        except RegisterError as exc:  # unreadable or not UTF-8: a problem of this table; the others are read
            if exc.problems[0].file == folder.name:
                raise
            problems.extend(exc.problems)
            continue
        try:
            rows, table_problems = _csv_rows(text, path.name, sec, limits, cells)
        except _TooManyCells:
            raise RegisterError(Problem(folder.name, "", "", f"the tables hold more than {limits.max_values:,} "
                                                             "cells")) from None
        problems.extend(table_problems)
        if sec.is_list:
            if parent:
                data.setdefault(parent, {})[stem] = rows
            else:
                data[stem] = rows
        elif len(rows) != 1:
            problems.append(Problem(path.name, "", "", f"must have exactly one data row, found {len(rows)}"))
        else:
            data.setdefault(stem, {}).update(rows[0])
    if not files:
        problems.append(Problem(str(folder), "", "", "no register tables (*.csv) in this folder"))
    return data, files, problems


# --- checking -------------------------------------------------------------------------------


@dataclass
class Entry:
    section: str
    id: str | None
    values: dict[str, Any]  # typed, checked values (nested maps as dicts)
    file: str


class _Checker:
    """Checks one register dict against SECTIONS, collecting every problem.

    Every step is linear in the register: sets and dicts for ids and references, one walk for
    part_of cycles. Input echoed in a message is cut to `limits.echo_chars`."""

    def __init__(self, files: Callable[[str], str], from_text: bool, limits: Limits = DEFAULT_LIMITS):
        self.file_of = files
        self.from_text = from_text  # CSV: every cell arrives as text and is converted
        self.limits = limits
        self.echo = limits.echo_chars
        self.problems: list[Problem] = []
        self.entries: list[Entry] = []
        self.ids: dict[str, str] = {}  # id -> section
        self.targets: dict[str, set[str]] = {}  # reference kind -> ids
        self.pending_refs: list[tuple[str, str, str, str, str]] = []  # file, entry, key, target, value

    def problem(self, file: str, entry: str, key: str, message: str) -> None:
        self.problems.append(Problem(file, shorten(entry, self.echo), shorten(key, 2 * self.echo), message))

    def show(self, value: Any) -> str:
        return show(value, self.echo)

    def quoted(self, text: str) -> str:
        return f"'{shorten(text, self.echo)}'"

    # scalar conversions ---------------------------------------------------------------
    def _scalar(self, spec: Key, value: Any, where: tuple[str, str, str]) -> Any:
        file, entry, key = where
        kind = spec.kind
        if kind == "annex-i":
            return self._scalar(Key("str"), value, where)
        if kind in ("str", "id"):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                return self.problem(file, entry, key, f"must be text, got {self.show(value)}")
            text = str(value).strip()
            if kind == "id" and not ID_PATTERN.match(text):
                return self.problem(file, entry, key, f"{self.quoted(text)} is not a valid id (letters, digits, '.', "
                                    "'_', '~', '-'; starting with a letter or digit)")
            if not text:
                return self.problem(file, entry, key, "must not be empty")
            return text
        if kind == "int":
            if self.from_text and isinstance(value, str) and INT_PATTERN.fullmatch(value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                return self.problem(file, entry, key, f"must be a whole number, got {self.show(value)}")
            if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
                return self.problem(file, entry, key, f"must be from {spec.lo} to {spec.hi}, got {shorten(str(value), self.echo)}")
            return value
        if kind == "bool":
            if self.from_text and isinstance(value, str) and value.strip().lower() in ("true", "false"):
                value = value.strip().lower() == "true"
            if not isinstance(value, bool):
                return self.problem(file, entry, key, f"must be true or false, got {self.show(value)}")
            return value
        if kind == "date":
            text = value.isoformat() if isinstance(value, date) else value
            if not isinstance(text, str) or not DATE_PATTERN.match(text.strip()):
                return self.problem(file, entry, key, f"must be a date YYYY-MM-DD, got {self.show(value)}")
            try:
                return date.fromisoformat(text.strip())
            except ValueError:
                return self.problem(file, entry, key, f"{self.quoted(text)} is not a real calendar date")
        if kind == "enum":
            text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            if text not in spec.values:
                close = get_close_matches(text, spec.values, n=1) if text else []
                hint = f" (closest: '{close[0]}')" if close else ""
                if len(spec.values) > 20:  # a long closed list: the closest value, and where the list is
                    return self.problem(file, entry, key, f"{self.show(value)} is not allowed{hint}; use one of "
                                        f"the {len(spec.values)} values listed in docs/register.md")
                return self.problem(file, entry, key, f"{self.show(value)} is not allowed; use one of: "
                                    f"{', '.join(spec.values)}{hint}")
            return text
        raise AssertionError(kind)

    def _list(self, value: Any, where: tuple[str, str, str]) -> list | None:
        if self.from_text and isinstance(value, str):
            return [v.strip() for v in value.split(CSV_LIST_SEPARATOR) if v.strip()]
        if not isinstance(value, list):
            self.problem(*where, f"must be a list, got {self.show(value)}")
            return None
        return value

    def value(self, spec: Key, value: Any, where: tuple[str, str, str]) -> Any:
        file, entry, key = where
        kind = spec.kind
        if kind == "map":
            if not isinstance(value, dict):
                return self.problem(file, entry, key, f"must be a mapping of keys, got {self.show(value)}")
            return self.mapping(spec.keys, value, file, entry, key + ".")
        if kind == "map-list":
            if self.from_text and isinstance(value, dict):  # CSV: `uses.domain`... columns give one item
                value = [value]
            if not isinstance(value, list):
                return self.problem(file, entry, key, f"must be a list of mappings, got {self.show(value)}")
            out = []
            for i, item in enumerate(value, start=1):
                if not isinstance(item, dict):
                    self.problem(file, entry, f"{key}[{i}]", f"must be a mapping of keys, got {self.show(item)}")
                    continue
                out.append(self.mapping(spec.keys, item, file, entry, f"{key}[{i}]."))
            return out
        if kind in ("text-list", "enum-list", "ref-list", "curie-list"):
            items = self._list(value, where)
            if items is None:
                return None
            item_spec = _ITEM_SPECS[kind] if kind != "enum-list" else Key("enum", values=spec.values)
            out = []
            for item in items:
                v = self._scalar(item_spec, item, where)
                if v is None:
                    continue
                if kind == "ref-list":
                    v = _bare_control(v) if spec.target == CONTROL else v
                    self.pending_refs.append((file, entry, key, spec.target, v))
                elif kind == "curie-list":
                    v = self.curie(v, where)
                    if v is None:
                        continue
                out.append(v)
            return out
        if kind == "ref":
            v = self._scalar(_STR_SPEC, value, where)
            if v is not None:
                v = _bare_control(v) if spec.target == CONTROL else v
                self.pending_refs.append((file, entry, key, spec.target, v))
            return v
        return self._scalar(spec, value, where)

    def curie(self, text: str, where: tuple[str, str, str]) -> str | None:
        """A catalogue reference: a CURIE (`euaia:art14`) or a bare Annex A id (`A.6`)."""
        iri = expand_curie(text) if ":" in text else (str(ISO42001) + text if text.startswith("A.") else None)
        if iri is None:
            self.problem(*where, f"{self.quoted(text)} is not a catalogue reference (write e.g. iso42001:8.2, "
                         "A.6.2.4, euaia:art14)")
            return None
        terms = catalogue_terms()
        if (terms and iri not in terms) or (not terms and not _valid_iri(iri)):
            self.problem(*where, f"{self.quoted(text)} is not an entry of the shipped catalogues")
            return None
        return iri

    def mapping(self, keys: dict[str, Key], raw: dict, file: str, entry: str, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in raw:
            if k not in keys:
                self.problem(file, entry, prefix + shorten(str(k), self.echo), f"unknown key (allowed: {', '.join(keys)})")
        for k, spec in keys.items():
            v = raw.get(k)
            if v is None or (self.from_text and v == ""):
                if spec.required:
                    self.problem(file, entry, prefix + k, "is required")
                elif spec.default is not None:
                    out[k] = spec.default
                continue
            if spec.kind == "list":
                continue  # nested section, checked on its own
            checked = self.value(spec, v, (file, entry, prefix + k))
            if checked is not None:
                out[k] = checked
        return out

    def section(self, sec: Section, raw: Any) -> None:
        file = self.file_of(sec.name)
        if not sec.is_list:
            if not isinstance(raw, dict):
                return self.problem(file, sec.name, "", f"must be a mapping of keys, got {self.show(raw)}")
            ident = raw.get("id")
            label = str(ident).strip() if isinstance(ident, (str, int)) and not isinstance(ident, bool) else ""
            self._entry(sec, raw, file, label or sec.name)
            return None
        if not isinstance(raw, list):
            return self.problem(file, sec.name, "", f"must be a list of entries, got {self.show(raw)}")
        for i, item in enumerate(raw, start=1):
            label = f"{sec.name} #{i}"
            if isinstance(item, dict) and isinstance(item.get("id"), (str, int)) and not isinstance(item.get("id"), bool):
                label = str(item["id"]).strip() or label
            if not isinstance(item, dict):
                self.problem(file, label, "", f"must be a mapping of keys, got {self.show(item)}")
                continue
            if sec.target == CONTROL and isinstance(item.get("id"), str):
                item = {**item, "id": _bare_control(item["id"].strip())}
                label = item["id"] or label
            self._entry(sec, item, file, label)
        return None

    def _entry(self, sec: Section, raw: dict, file: str, label: str) -> None:
        values = self.mapping(sec.keys, raw, file, label)
        ident = values.get("id")
        if ident is not None:
            if ident in self.ids:
                self.problem(file, ident, "id", f"duplicate id: already used by an entry of '{self.ids[ident]}'")
                return
            self.ids[ident] = sec.name
            if sec.target:
                self.targets.setdefault(sec.target, set()).add(ident)
        self.entries.append(Entry(sec.name, ident, values, file))

    def resolve_references(self) -> None:
        annex_a = annex_a_controls()
        nothing: set[str] = set()
        for file, entry, key, target, value in self.pending_refs:
            if value in self.targets.get(target, nothing):
                continue
            if target == CONTROL and value.startswith("A.") and (not annex_a or str(ISO42001) + value in annex_a):
                continue  # an Annex A control the SoA may or may not list (soa-incomplete says so)
            self.problem(file, entry, key, f"{self.quoted(value)} names no {target} in the register")

    def check_controls(self) -> None:
        annex_a = annex_a_controls()
        for e in self.entries:
            if e.section != "controls" or e.id is None:
                continue
            if e.id.startswith("A."):
                if annex_a and str(ISO42001) + e.id not in annex_a:
                    self.problem(e.file, e.id, "id", f"{self.quoted(e.id)} is not an ISO/IEC 42001 Annex A control")
            elif "title" not in e.values:
                self.problem(e.file, e.id, "title", "an organisation's own control needs a title")

    def check_part_of(self) -> None:
        """`part_of` names a larger system, so following it must end: a cycle (a system part
        of itself, directly or through others) is reported once, at its first system in
        register order. One walk: every system is followed once, so a long chain is linear."""
        systems = [e for e in self.entries if e.section == "ai_systems"]
        order = {e.id: i for i, e in enumerate(systems)}
        parent = {e.id: e.values.get("part_of") for e in systems}
        done: set[str] = set()
        found: list[tuple[int, Problem]] = []
        for start in parent:
            if start in done:
                continue
            path: list[str] = []
            on_path: dict[str, int] = {}
            current = start
            while current in parent and current not in done and current not in on_path:
                on_path[current] = len(path)
                path.append(current)
                current = parent[current]
            if current in on_path:  # a new cycle: the part of `path` from `current` on
                cycle = path[on_path[current]:]
                first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                cycle = cycle[first:] + cycle[:first]
                shown = " -> ".join(cycle + [cycle[0]])
                found.append((order[cycle[0]], Problem(
                    systems[order[cycle[0]]].file, shorten(cycle[0], self.echo), "part_of",
                    f"part_of goes round in a cycle: {shorten(shown, 4 * self.echo)}")))
            done.update(path)
        self.problems.extend(p for _, p in sorted(found, key=lambda f: f[0]))

    def check_organization_base(self) -> None:
        for e in self.entries:
            base = e.values.get("base_iri") if e.section == "organization" else None
            if base and not (BASE_IRI_PATTERN.match(base) and _valid_iri(base + "x")):
                self.problem(e.file, e.id or "organization", "base_iri",
                             "must be an http(s) IRI ending in '/' or '#'")


_STR_SPEC = Key("str")
_ITEM_SPECS = {"text-list": _STR_SPEC, "ref-list": _STR_SPEC, "curie-list": _STR_SPEC}


def _valid_iri(text: str) -> bool:
    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return True


def _bare_control(text: str) -> str:
    """`iso42001:A.6.2.4` -> `A.6.2.4`: the register may name an Annex A control either way."""
    prefix = "iso42001:A."
    return text[len("iso42001:"):] if text.startswith(prefix) else text


def problems_error(problems: Iterable[Problem], limits: Limits = DEFAULT_LIMITS,
                   error: type[RegisterError] | type[RDFInputError] = RegisterError) -> RegisterError | RDFInputError:
    """The error for `problems`: each once, in the order found, at most `limits.max_problems`
    of them and a last line counting the rest."""
    unique = list(dict.fromkeys(problems))
    if len(unique) > limits.max_problems:
        rest = len(unique) - limits.max_problems
        unique = unique[:limits.max_problems] + [Problem(unique[limits.max_problems].file, "", "",
                                                         f"… and {rest:,} more problem{'s' if rest != 1 else ''}")]
    return error(unique)


def check_register(raw: Any, files: Callable[[str], str], from_text: bool = False,
                   problems: Iterable[Problem] = (), limits: Limits = DEFAULT_LIMITS) -> list[Entry]:
    """Check a register dict; returns its entries or raises RegisterError with every problem."""
    checker = _Checker(files, from_text, limits)
    checker.problems.extend(problems)
    top = files("format")
    if raw is None:
        checker.problem(top, "", "", "the register is empty")
        raise problems_error(checker.problems, limits)
    if not isinstance(raw, dict):
        checker.problem(top, "", "", "a register must be a mapping of sections (format, organization, …)")
        raise problems_error(checker.problems, limits)
    for k in raw:
        if k not in TOP_LEVEL:
            checker.problem(top, "", shorten(str(k), checker.echo), f"unknown section (allowed: {', '.join(TOP_LEVEL)})")
    if raw.get("format") != FORMAT_ID:
        checker.problem(top, "", "format", f"must be '{FORMAT_ID}', got {checker.show(raw.get('format'))}")
    if "organization" not in raw:
        checker.problem(top, "", "organization", "is required")
    for name in TOP_LEVEL[1:]:
        if name in raw and raw[name] is not None:
            checker.section(SECTIONS[name], raw[name])
    parties = (raw.get("aims") or {}).get("interested_parties") if isinstance(raw.get("aims"), dict) else None
    if parties is not None:
        checker.section(SECTIONS["interested_parties"], parties)
    checker.resolve_references()
    checker.check_part_of()
    checker.check_controls()
    checker.check_organization_base()
    if checker.problems:
        raise problems_error(checker.problems, limits)
    return checker.entries


def read_register(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Entry]:
    """Read and check a register: a YAML file or a folder of CSV files."""
    path = Path(path)
    if path.is_dir():
        raw, files, problems = read_csv_folder(path, limits)
        # Register-wide problems (a missing organization) belong to the folder, not to a table.
        return check_register(raw, lambda s: path.name if s == "format" else files.get(s, f"{s}.csv"),
                              from_text=True, problems=problems, limits=limits)
    if not path.exists():
        raise RegisterError(Problem(str(path), "", "", "no such file or folder"))
    raw = read_yaml(path, limits)
    return check_register(raw, lambda _s: path.name, limits=limits)


# --- building RDF ------------------------------------------------------------------------------

_XSD = "http://www.w3.org/2001/XMLSchema#"
_CHUNK_LINES = 50_000
_TRUE, _FALSE = f'"true"^^<{_XSD}boolean>', f'"false"^^<{_XSD}boolean>'


@dataclass
class Data:
    """The organisation's data, ready for a store: N-Triples (`nt`, UTF-8), how many
    triples, and the prefixes to write them with. Every store loads N-Triples natively
    (pyoxigraph parses it in Rust at its full speed), so the data reaches the store without
    a Python object per term; `graph()` gives the rdflib Graph `convert` serialises."""

    nt: bytes
    count: int
    prefixes: dict[str, str] = field(default_factory=dict)
    nquads: bytes = b""
    """The quads of a TriG or N-Quads input's named graphs, which keep their names in the store
    (its default graph's triples are `nt`, the data graph)."""
    graphs: tuple[str, ...] = ()
    org: str | None = None  # the organisation's register id, which names its graphs in a persistent store

    def __len__(self) -> int:
        return self.count

    def graph(self) -> Graph:
        g = Graph()
        for prefix, ns in self.prefixes.items():
            g.bind(prefix, ns)
        add = g.add
        for q in ox.parse(self.nt, format=ox.RdfFormat.N_TRIPLES):
            add((from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object)))
        if self.nquads:
            for q in ox.parse(self.nquads, format=ox.RdfFormat.N_QUADS):
                add((from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object)))
        return g


def register_data(entries: list[Entry]) -> Data:
    """RDF for a checked register, under the aims ontology, written as N-Triples.

    Written as text, so every term is safe by construction: IRIs are the validated base
    (`check_organization_base` parses it as an IRI) plus percent-encoded ids, namespace
    constants, closed-list values, or catalogue IRIs the checker found in the catalogues;
    literals are escaped by the C JSON string encoder, whose escapes (`\\"`, `\\\\`, `\\n`,
    `\\uXXXX`...) are all N-Triples escapes. Each distinct term is written once (cached)."""
    org = next((e for e in entries if e.section == "organization"), None)
    org_id = org.id if org else "organization"
    base = (org.values.get("base_iri") if org else None) or f"{DATA_BASE}{org_id}/"
    iris: dict[str, str] = {}
    nodes: dict[str, str] = {}
    typed: dict[Any, str] = {}

    def iri(text: str) -> str:
        term = iris.get(text)
        if term is None:
            term = iris[text] = f"<{text}>"
        return term

    def node(ident: str) -> str:
        term = nodes.get(ident)
        if term is None:
            term = nodes[ident] = f"<{base}{quote(ident, safe='._~-')}>"
        return term

    def literal(value: Any) -> str:
        if value.__class__ is str:
            return _escape(value)
        if value is True:
            return _TRUE
        if value is False:
            return _FALSE
        term = typed.get(value)
        if term is None:
            if isinstance(value, int):
                term = f'"{value}"^^<{_XSD}integer>'
            elif isinstance(value, date):
                term = f'"{value.isoformat()}"^^<{_XSD}date>'
            else:
                term = _escape(str(value))
            typed[value] = term
        return term

    own_controls = {e.id for e in entries if e.section == "controls" and not e.id.startswith("A.")}
    iso = str(ISO42001)

    def control_iri(ident: str) -> str:
        return node(ident) if ident in own_controls else iri(iso + ident)

    a = iri(_RDF_TYPE)
    register_id = iri(str(AIMS.registerId))
    in_org = iri(str(AIMS.inOrganization))
    props: dict[int, str] = {}  # id(Key) -> its predicate, written once
    lines: list[str] = []
    chunks: list[bytes] = []  # lines go out as UTF-8 every _CHUNK_LINES: no million strings held
    count = 0

    def add(line: str) -> None:
        lines.append(line)
        if len(lines) >= _CHUNK_LINES:
            flush()

    def flush() -> None:
        nonlocal count
        count += len(lines)
        try:
            chunks.append("".join(lines).encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate, which only the pure-Python YAML parser lets through
            raise RegisterError(Problem(entries[0].file if entries else "", "", "",
                                        "holds text that is not Unicode (a lone surrogate escape)")) from None
        lines.clear()

    org_node = node(org_id)
    aims_node = f"<{base}_aims>"  # "_" cannot start a register id, so no clash
    add(f"{aims_node} {a} {iri(str(AIMS.AIManagementSystem))} .\n")
    add(f"{org_node} {iri(str(AIMS.hasManagementSystem))} {aims_node} .\n")

    def emit(subject: str, keys: dict[str, Key], values: dict[str, Any]) -> None:
        for k, v in values.items():
            spec = keys[k]
            kind = spec.kind
            if kind == "map":
                sub = f"{subject[:-1]}{spec.suffix}>"
                add(f"{subject} {iri(str(spec.prop))} {sub} .\n")
                add(f"{sub} {a} {iri(str(spec.cls))} .\n")
                emit(sub, spec.keys, v)
                continue
            if kind == "map-list":
                for i, item in enumerate(v, start=1):
                    sub = f"{subject[:-1]}{spec.suffix}{i}>"
                    add(f"{subject} {iri(str(spec.prop))} {sub} .\n")
                    add(f"{sub} {a} {iri(str(spec.cls))} .\n")
                    emit(sub, spec.keys, item)
                continue
            prop = props.get(id(spec))
            if prop is None:
                if spec.prop is None:
                    continue
                prop = props[id(spec)] = iri(str(spec.prop))
            head = f"{subject} {prop} "
            for item in (v if isinstance(v, list) else (v,)):
                if kind == "ref" or kind == "ref-list":
                    obj = control_iri(item) if spec.target == CONTROL else node(item)
                elif kind == "curie-list":
                    obj = iri(item)
                elif kind == "enum" or kind == "enum-list":
                    obj = iri(spec.iri + spec.names.get(item, item))
                else:
                    obj = literal(item)
                add(f"{head}{obj} .\n")
                if kind == "annex-i" and annex_i_entry(item):  # a point or act number names the entry
                    add(f"{subject} {iri(str(AIMS.annexIEntry))} {iri(annex_i_entry(item))} .\n")

    classes = {name: iri(str(sec.cls)) for name, sec in SECTIONS.items() if sec.cls is not None}
    label = iri("http://www.w3.org/2000/01/rdf-schema#label")
    for e in entries:
        sec = SECTIONS[e.section]
        if e.section == "organization":
            subject = org_node
        elif e.section in ("aims", "risk_criteria"):
            subject = aims_node
        elif e.section == "controls":
            subject = f"<{base}soa/{quote(e.id, safe='._~-')}>"
            add(f"{subject} {iri(str(AIMS.forControl))} {control_iri(e.id)} .\n")
            if e.id in own_controls:
                own = node(e.id)
                add(f"{own} {a} {iri(str(AIMS.OrganisationControl))} .\n")
                add(f"{own} {register_id} {_escape(e.id)} .\n")
                if "title" in e.values:
                    add(f"{own} {label} {_escape(e.values['title'])} .\n")
        else:
            subject = node(e.id)
        if sec.cls is not None:
            add(f"{subject} {a} {classes[e.section]} .\n")
        if e.id is not None:
            add(f"{subject} {register_id} {_escape(e.id)} .\n")
        emit(subject, sec.keys, e.values)
        if e.section == "interested_parties":
            add(f"{aims_node} {iri(str(AIMS.hasInterestedParty))} {subject} .\n")
        elif e.section == "people" and e.values.get("role") == TOP_MANAGEMENT:
            add(f"{subject} {a} {iri(str(AIMS.TopManagement))} .\n")
        elif e.section == "policies" and e.values.get("kind") == AI_POLICY_KIND:
            add(f"{subject} {a} {iri(str(AIMS.AIPolicy))} .\n")
        if e.section not in ("organization", "aims", "risk_criteria"):
            add(f"{subject} {in_org} {org_node} .\n")
    flush()
    nt = b"".join(chunks)
    chunks.clear()
    return Data(nt, count, {**PREFIXES, "data": base}, org=org_id)


def register_to_graph(entries: list[Entry]) -> Graph:
    """RDF for a checked register, under the aims ontology, as an rdflib Graph."""
    return register_data(entries).graph()


# --- RDF input -----------------------------------------------------------------------------------


def _refuse_remote_contexts(path: Path, data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """A clear error, before parsing, for a JSON-LD document that needs a context from elsewhere
    (the parser would only say it has no document loader), or that nests deeper than the
    parsers can take."""
    _doc, remote = json_ld_document(data, path.name, limits, RDFInputError)
    if remote:
        raise RDFInputError(Problem(path.name, "", "@context", (
            f"the JSON-LD context '{shorten(remote[0], limits.echo_chars)}' is not in this file, and "
            "aimsgraph never fetches anything over the network; put the context inline (\"@context\": {...})")))


def rdf_data(path: Path, limits: Limits = DEFAULT_LIMITS) -> Data:
    """Parse an RDF file without any network access, bounded by `limits`: size; UTF-8;
    RDF/XML entities and depth (readers.check_rdf_xml); JSON-LD depth and remote contexts
    (refused: pyoxigraph's parsers never fetch, and owl:imports is a triple like any other,
    not followed). A TriG or N-Quads file keeps its graph names: its default graph becomes the
    data graph, its named graphs stay named graphs of the store (the union default graph, which
    reasoning and validation read, sees them all); names under aimsgraph's own graph base are
    refused, but for the data graph's. A file with no triples is refused: it is almost always
    the wrong file, and would otherwise pass every check."""
    path = Path(path)
    fmt = RDF_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RDFInputError(Problem(path.name, "", "", f"unknown RDF file type '{shorten(path.suffix, 20)}' "
                                    f"(use one of {', '.join(sorted(RDF_FORMATS))})"))
    data = read_bytes(path, limits, RDFInputError)
    if fmt[0] == ox.RdfFormat.JSON_LD:
        _refuse_remote_contexts(path, data, limits)
    else:
        check_utf8(data, path.name, RDFInputError)
        if fmt[0] == ox.RdfFormat.RDF_XML:
            check_rdf_xml(data, path.name, limits, RDFInputError)
    try:
        quads = list(ox.parse(data, format=fmt[0], base_iri=path.resolve().as_uri()))
    except (SyntaxError, ValueError) as exc:
        message = str(exc).replace(path.resolve().as_uri(), path.name)  # no server paths
        raise RDFInputError(Problem(path.name, "", "", f"cannot parse {fmt[1]}: {shorten(message, 300)}")) from None
    if not quads:
        raise RDFInputError(Problem(path.name, "", "", f"holds no triples: an empty {fmt[1]} file is not "
                                    "an AI management system"))
    if fmt[0] in (ox.RdfFormat.TRIG, ox.RdfFormat.N_QUADS):
        default, named, names = [], [], {}
        for q in quads:
            graph = q.graph_name
            if isinstance(graph, ox.DefaultGraph) or (isinstance(graph, ox.NamedNode) and graph.value == GRAPH_DATA):
                default.append(ox.Triple(q.subject, q.predicate, q.object))
            elif isinstance(graph, ox.NamedNode) and graph.value.startswith(GRAPH_BASE):
                raise RDFInputError(Problem(path.name, "", "", f"graph <{shorten(graph.value, limits.echo_chars)}> "
                                            "is one of aimsgraph's own graphs; name the graph otherwise"))
            elif isinstance(graph, ox.BlankNode):
                raise RDFInputError(Problem(path.name, "", "", "a graph named by a blank node cannot be kept; "
                                            "name it with an IRI"))
            else:
                named.append(q)
                names[graph.value] = None
        return Data(ox.serialize(default, format=ox.RdfFormat.N_TRIPLES), len(quads), dict(PREFIXES),
                    ox.serialize(named, format=ox.RdfFormat.N_QUADS) if named else b"", tuple(names),
                    _organisation_id(default))
    return Data(ox.serialize(quads, format=ox.RdfFormat.N_TRIPLES), len(quads), dict(PREFIXES),
                org=_organisation_id(quads))


_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _organisation_id(triples: list) -> str | None:
    """The register id of the one aims:Organization an RDF input describes (None: none or several)."""
    organisations = {t.subject for t in triples
                     if t.predicate.value == _RDF_TYPE and t.object == ox.NamedNode(str(AIMS.Organization))}
    ids = {t.object.value for t in triples
           if t.subject in organisations and t.predicate.value == str(AIMS.registerId) and isinstance(t.object, ox.Literal)}
    return ids.pop() if len(ids) == 1 else None


def read_rdf(path: Path, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """An RDF file (see `rdf_data`) as an rdflib Graph."""
    return rdf_data(path, limits).graph()


def is_register(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in (".yaml", ".yml")


def read_data(path: Path, limits: Limits = DEFAULT_LIMITS) -> Data:
    """A register or an RDF file -> the organisation's data, checked and bounded."""
    path = Path(path)
    if is_register(path):
        return register_data(read_register(path, limits))
    if not path.exists():
        raise RDFInputError(Problem(str(path), "", "", "no such file or folder"))
    return rdf_data(path, limits)


def read_input(path: Path, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """A register or an RDF file -> the organisation's data as an rdflib Graph."""
    return read_data(path, limits).graph()


def load_input(store: Store, path: Path, limits: Limits = DEFAULT_LIMITS) -> Data:
    """Read and check `path` completely first, then replace the store's data graph with it:
    a bad input raises before anything stored is touched."""
    data = read_data(path, limits)
    store_data(store, data)
    return data


def store_data(store: Store, data: Data) -> None:
    """Replace the store's data graph with `data` (already read and checked), the ontology and
    catalogues loaded first where they are missing."""
    if GRAPH_ONTOLOGY not in store.graphs():
        load_packaged(store)
    store.clear(GRAPH_DATA)
    store.load(data.nt, "nt", GRAPH_DATA)
    if data.nquads:  # a TriG or N-Quads input's named graphs, under their own names
        by_graph: dict[str, list] = {}
        for q in ox.parse(data.nquads, format=ox.RdfFormat.N_QUADS):
            by_graph.setdefault(q.graph_name.value, []).append(ox.Triple(q.subject, q.predicate, q.object))
        for graph, triples in by_graph.items():
            store.clear(graph)
            store.load(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), "nt", graph)
