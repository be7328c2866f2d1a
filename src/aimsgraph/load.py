"""Stage 1, load: read a register (YAML file or folder of CSV files) or RDF, check it against
the register format, and put it into a store beside the ontology and catalogues.

A register with any problem loads nothing: every problem is collected (file, entry id, key)
and raised together as one RegisterError.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
import yaml
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS, XSD

from .errors import Problem, RDFInputError, RegisterError
from .namespaces import (
    AIMS,
    DATA_BASE,
    GRAPH_CATALOGUES,
    GRAPH_DATA,
    GRAPH_ONTOLOGY,
    ISO42001,
    PREFIXES,
    expand_curie,
)
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
from .resources import data_files
from .store import RDF_FORMATS, Store, from_ox_term

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CSV_LIST_SEPARATOR = ";"

# --- packaged RDF (ontology, catalogues) --------------------------------------------------


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
def catalogue_terms() -> frozenset[str]:
    """IRIs of every catalogue entry (clause, control, article, subcategory…)."""
    return frozenset(str(s) for s in catalogue_graph().subjects(SKOS.notation, None) if isinstance(s, URIRef))


@lru_cache(maxsize=1)
def annex_i_entries() -> dict[str, str]:
    """Annex I point numbers and act numbers (lower case, with and without the /EC or /EU of a
    directive) -> the catalogue entry's IRI: how a register's annex_i_product names an entry."""
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
    return frozenset(str(s) for s in catalogue_graph().subjects(RDF.type, AIMS.AnnexAControl))


def load_packaged(store: Store) -> None:
    """Ontology and catalogues into their own named graphs (replacing what was there)."""
    store.clear(GRAPH_ONTOLOGY)
    store.clear(GRAPH_CATALOGUES)
    for path in ontology_files():
        store.load(path.read_bytes(), "turtle", GRAPH_ONTOLOGY)
    for path in catalogue_files():
        store.load(path.read_bytes(), "turtle", GRAPH_CATALOGUES)


# --- reading: YAML and CSV into plain Python values ---------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text (so a bad date is our error, with entry and key,
    not a parser crash) and flags duplicate mapping keys instead of silently keeping one."""


_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rs if tag != "tag:yaml.org,2002:timestamp"]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (line {mark.line + 1})", mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 (strict safe loader)
    except yaml.YAMLError as exc:
        raise RegisterError(Problem(path.name, "", "", f"not valid YAML: {exc}")) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RegisterError(Problem(str(path), "", "", f"cannot read file: {exc}")) from exc


def _csv_sections() -> dict[str, tuple[str | None, Section]]:
    """CSV file stem -> (parent section or None, section)."""
    out: dict[str, tuple[str | None, Section]] = {}
    for name, sec in SECTIONS.items():
        out[name] = ("aims" if name == "interested_parties" else None, sec)
    return out


def _csv_columns(header: list[str], sec: Section, file: str) -> tuple[list[tuple[str, str]], list[Problem]]:
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
            problems.append(Problem(file, "", name, "column appears twice in the header row"))
        elif sec.keys.get(head) is not None and sec.keys[head].kind == "list":
            problems.append(Problem(file, "", name, f"goes in its own table, {head}.csv"))
        seen.add(name)
    for head, rest in columns:
        if head and not rest and any(h == head and r for h, r in columns):
            problems.append(Problem(file, "", head, f"column '{head}' clashes with nested columns '{head}.…'"))
            break
    return columns, problems


def read_csv_table(path: Path, sec: Section) -> tuple[list[dict[str, Any]], list[Problem]]:
    """One CSV table -> (rows as nested dicts of text, problems).

    The first row names the columns (keys of the section); `a.b` columns fill the nested
    mapping `a` (`treatment.option`); empty cells are absent keys; rows with no text at all
    are skipped (spreadsheets export them); a UTF-8 byte order mark is allowed."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [Problem(path.name, "", "", f"cannot read CSV: {exc}")]
    if not table:
        return [], []
    columns, problems = _csv_columns(table[0], sec, path.name)
    rows: list[dict[str, Any]] = []
    # Rows are read even under a faulty header, so references to their ids still resolve
    # and the run reports the real problems, not a cascade of dangling references.
    for line, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        row: dict[str, Any] = {}
        for (head, rest), cell in zip(columns, cells):
            if cell.strip() == "" or not head or (head in sec.keys and sec.keys[head].kind == "list"):
                continue
            if rest:
                nested = row.setdefault(head, {})
                if isinstance(nested, dict):
                    nested[rest] = cell.strip()
            elif head not in row:
                row[head] = cell.strip()
        if len(cells) > len(columns):
            problems.append(Problem(path.name, str(row.get("id") or f"line {line}"), "",
                                    f"line {line} has {len(cells)} cells but the header names "
                                    f"{len(columns)} columns"))
        rows.append(row)
    return rows, problems


def read_csv_folder(folder: Path) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    """A folder of CSV files -> (register dict with text values, section -> file name, problems).

    Every table is read even when an earlier one has problems, so one run reports them all."""
    data: dict[str, Any] = {"format": FORMAT_ID}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    known = _csv_sections()
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        stem = path.stem
        if stem not in known:
            problems.append(Problem(path.name, "", "", f"unknown register table '{stem}' "
                                    f"(expected one of: {', '.join(sorted(known))})"))
            continue
        parent, sec = known[stem]
        files[stem] = path.name
        rows, table_problems = read_csv_table(path, sec)
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
    """Checks one register dict against SECTIONS, collecting every problem."""

    def __init__(self, files: Callable[[str], str], from_text: bool):
        self.file_of = files
        self.from_text = from_text  # CSV: every cell arrives as text and is converted
        self.problems: list[Problem] = []
        self.entries: list[Entry] = []
        self.ids: dict[str, str] = {}  # id -> section
        self.targets: dict[str, set[str]] = {}  # reference kind -> ids
        self.pending_refs: list[tuple[str, str, str, str, str]] = []  # file, entry, key, target, value

    def problem(self, file: str, entry: str, key: str, message: str) -> None:
        self.problems.append(Problem(file, entry, key, message))

    # scalar conversions ---------------------------------------------------------------
    def _scalar(self, spec: Key, value: Any, where: tuple[str, str, str]) -> Any:
        file, entry, key = where
        kind = spec.kind
        if kind == "annex-i":
            return self._scalar(Key("str"), value, where)
        if kind in ("str", "id"):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                return self.problem(file, entry, key, f"must be text, got {_show(value)}")
            text = str(value).strip()
            if kind == "id" and not ID_PATTERN.match(text):
                return self.problem(file, entry, key, f"'{text}' is not a valid id (letters, digits, '.', '_', '~', '-'; "
                                    "starting with a letter or digit)")
            if not text:
                return self.problem(file, entry, key, "must not be empty")
            return text
        if kind == "int":
            if self.from_text and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                return self.problem(file, entry, key, f"must be a whole number, got {_show(value)}")
            if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
                return self.problem(file, entry, key, f"must be from {spec.lo} to {spec.hi}, got {value}")
            return value
        if kind == "bool":
            if self.from_text and isinstance(value, str) and value.strip().lower() in ("true", "false"):
                value = value.strip().lower() == "true"
            if not isinstance(value, bool):
                return self.problem(file, entry, key, f"must be true or false, got {_show(value)}")
            return value
        if kind == "date":
            text = value.isoformat() if isinstance(value, date) else value
            if not isinstance(text, str) or not DATE_PATTERN.match(text.strip()):
                return self.problem(file, entry, key, f"must be a date YYYY-MM-DD, got {_show(value)}")
            try:
                return date.fromisoformat(text.strip())
            except ValueError:
                return self.problem(file, entry, key, f"'{text}' is not a real calendar date")
        if kind == "enum":
            text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            if text not in spec.values:
                return self.problem(file, entry, key, f"{_show(value)} is not allowed; use one of: {', '.join(spec.values)}")
            return text
        raise AssertionError(kind)

    def _list(self, value: Any, where: tuple[str, str, str]) -> list | None:
        if self.from_text and isinstance(value, str):
            return [v.strip() for v in value.split(CSV_LIST_SEPARATOR) if v.strip()]
        if not isinstance(value, list):
            self.problem(*where, f"must be a list, got {_show(value)}")
            return None
        return value

    def value(self, spec: Key, value: Any, where: tuple[str, str, str]) -> Any:
        file, entry, key = where
        kind = spec.kind
        if kind == "map":
            if not isinstance(value, dict):
                return self.problem(file, entry, key, f"must be a mapping of keys, got {_show(value)}")
            return self.mapping(spec.keys, value, file, entry, key + ".")
        if kind in ("text-list", "enum-list", "ref-list", "curie-list"):
            items = self._list(value, where)
            if items is None:
                return None
            item_spec = Key({"text-list": "str", "enum-list": "enum"}.get(kind, "str"), values=spec.values)
            out = []
            for i, item in enumerate(items):
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
            v = self._scalar(Key("str"), value, where)
            if v is not None:
                v = _bare_control(v) if spec.target == CONTROL else v
                self.pending_refs.append((file, entry, key, spec.target, v))
            return v
        return self._scalar(spec, value, where)

    def curie(self, text: str, where: tuple[str, str, str]) -> str | None:
        """A catalogue reference: a CURIE (`euaia:art14`) or a bare Annex A id (`A.6`)."""
        iri = expand_curie(text) if ":" in text else (str(ISO42001) + text if text.startswith("A.") else None)
        if iri is None:
            self.problem(*where, f"'{text}' is not a catalogue reference (write e.g. iso42001:8.2, A.6.2.4, euaia:art14)")
            return None
        terms = catalogue_terms()
        if terms and iri not in terms:
            self.problem(*where, f"'{text}' is not an entry of the shipped catalogues")
            return None
        return iri

    def mapping(self, keys: dict[str, Key], raw: dict, file: str, entry: str, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in raw:
            if k not in keys:
                self.problem(file, entry, prefix + str(k), f"unknown key (allowed: {', '.join(keys)})")
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
                return self.problem(file, sec.name, "", f"must be a mapping of keys, got {_show(raw)}")
            ident = raw.get("id")
            label = str(ident).strip() if isinstance(ident, (str, int)) and not isinstance(ident, bool) else ""
            self._entry(sec, raw, file, label or sec.name)
            return None
        if not isinstance(raw, list):
            return self.problem(file, sec.name, "", f"must be a list of entries, got {_show(raw)}")
        for i, item in enumerate(raw, start=1):
            label = f"{sec.name} #{i}"
            if isinstance(item, dict) and isinstance(item.get("id"), (str, int)) and not isinstance(item.get("id"), bool):
                label = str(item["id"]).strip() or label
            if not isinstance(item, dict):
                self.problem(file, label, "", f"must be a mapping of keys, got {_show(item)}")
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
        for file, entry, key, target, value in self.pending_refs:
            if value in self.targets.get(target, set()):
                continue
            if target == CONTROL and value.startswith("A.") and (not annex_a or str(ISO42001) + value in annex_a):
                continue  # an Annex A control the SoA may or may not list (soa-incomplete says so)
            self.problem(file, entry, key, f"'{value}' names no {target} in the register")

    def check_controls(self) -> None:
        annex_a = annex_a_controls()
        for e in self.entries:
            if e.section != "controls" or e.id is None:
                continue
            if e.id.startswith("A."):
                if annex_a and str(ISO42001) + e.id not in annex_a:
                    self.problem(e.file, e.id, "id", f"'{e.id}' is not an ISO/IEC 42001 Annex A control")
            elif "title" not in e.values:
                self.problem(e.file, e.id, "title", "an organisation's own control needs a title")

    def check_part_of(self) -> None:
        """`part_of` names a larger system, so following it must end: a cycle (a system part
        of itself, directly or through others) is reported once, at its first system."""
        parent = {e.id: (e.values.get("part_of"), e.file) for e in self.entries if e.section == "ai_systems"}
        reported: set[str] = set()
        for start in parent:
            path, current = [start], parent[start][0]
            while current in parent and current not in path:
                path.append(current)
                current = parent[current][0]
            if current == start and not reported.intersection(path):
                reported.update(path)
                self.problem(parent[start][1], start, "part_of",
                             f"part_of goes round in a cycle: {' -> '.join(path + [start])}")

    def check_organization_base(self) -> None:
        for e in self.entries:
            base = e.values.get("base_iri") if e.section == "organization" else None
            if base and not re.match(r"^https?://\S+[/#]$", base):
                self.problem(e.file, e.id or "organization", "base_iri",
                             "must be an http(s) IRI ending in '/' or '#'")


def _bare_control(text: str) -> str:
    """`iso42001:A.6.2.4` -> `A.6.2.4`: the register may name an Annex A control either way."""
    prefix = "iso42001:A."
    return text[len("iso42001:"):] if text.startswith(prefix) else text


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def check_register(raw: Any, files: Callable[[str], str], from_text: bool = False,
                   problems: Iterable[Problem] = ()) -> list[Entry]:
    """Check a register dict; returns its entries or raises RegisterError with every problem."""
    checker = _Checker(files, from_text)
    checker.problems.extend(problems)
    top = files("format")
    if raw is None:
        checker.problem(top, "", "", "the register is empty")
        raise RegisterError(checker.problems)
    if not isinstance(raw, dict):
        checker.problem(top, "", "", "a register must be a mapping of sections (format, organization, …)")
        raise RegisterError(checker.problems)
    for k in raw:
        if k not in TOP_LEVEL:
            checker.problem(top, "", str(k), f"unknown section (allowed: {', '.join(TOP_LEVEL)})")
    if raw.get("format") != FORMAT_ID:
        checker.problem(top, "", "format", f"must be '{FORMAT_ID}', got {_show(raw.get('format'))}")
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
        raise RegisterError(sorted(set(checker.problems), key=checker.problems.index))
    return checker.entries


def read_register(path: Path) -> list[Entry]:
    """Read and check a register: a YAML file or a folder of CSV files."""
    path = Path(path)
    if path.is_dir():
        raw, files, problems = read_csv_folder(path)
        # Register-wide problems (a missing organization) belong to the folder, not to a table.
        return check_register(raw, lambda s: path.name if s == "format" else files.get(s, f"{s}.csv"),
                              from_text=True, problems=problems)
    if not path.exists():
        raise RegisterError(Problem(str(path), "", "", "no such file or folder"))
    raw = read_yaml(path)
    return check_register(raw, lambda _s: path.name)


# --- building RDF ------------------------------------------------------------------------------


def _lit(spec: Key, value: Any) -> Literal | URIRef:
    if spec.kind in ("enum", "enum-list"):
        return URIRef(spec.iri + spec.names.get(value, value))
    if isinstance(value, bool):
        return Literal(value, datatype=XSD.boolean)
    if isinstance(value, int):
        return Literal(value, datatype=XSD.integer)
    if isinstance(value, date):
        return Literal(value.isoformat(), datatype=XSD.date)
    return Literal(value)


def register_to_graph(entries: list[Entry]) -> Graph:
    """RDF for a checked register, under the aims ontology."""
    org = next((e for e in entries if e.section == "organization"), None)
    org_id = org.id if org else "organization"
    base = (org.values.get("base_iri") if org else None) or f"{DATA_BASE}{org_id}/"

    def node(ident: str) -> URIRef:
        return URIRef(base + quote(ident, safe="._~-"))

    own_controls = {e.id for e in entries if e.section == "controls" and not e.id.startswith("A.")}

    def control_iri(ident: str) -> URIRef:
        return node(ident) if ident in own_controls else URIRef(str(ISO42001) + ident)

    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    g.bind("data", base)
    org_node = node(org_id)
    aims_node = URIRef(base + "_aims")  # "_" cannot start a register id, so no clash
    g.add((aims_node, RDF.type, AIMS.AIManagementSystem))
    g.add((org_node, AIMS.hasManagementSystem, aims_node))

    def emit(subject: URIRef, keys: dict[str, Key], values: dict[str, Any]) -> None:
        for k, v in values.items():
            spec = keys[k]
            if spec.kind == "map":
                sub = URIRef(str(subject) + spec.suffix)
                g.add((subject, spec.prop, sub))
                g.add((sub, RDF.type, spec.cls))
                emit(sub, spec.keys, v)
                continue
            if spec.prop is None:
                continue
            items = v if isinstance(v, list) else [v]
            for item in items:
                if spec.kind in ("ref", "ref-list"):
                    obj = control_iri(item) if spec.target == CONTROL else node(item)
                elif spec.kind == "curie-list":
                    obj = URIRef(item)
                else:
                    obj = _lit(spec, item)
                g.add((subject, spec.prop, obj))
                if spec.kind == "annex-i" and annex_i_entry(item):
                    g.add((subject, AIMS.annexIEntry, URIRef(annex_i_entry(item))))

    for e in entries:
        sec = SECTIONS[e.section]
        if e.section == "organization":
            subject = org_node
        elif e.section in ("aims", "risk_criteria"):
            subject = aims_node
        elif e.section == "controls":
            subject = URIRef(base + "soa/" + quote(e.id, safe="._~-"))
            g.add((subject, AIMS.forControl, control_iri(e.id)))
            if e.id in own_controls:
                own = node(e.id)
                g.add((own, RDF.type, AIMS.OrganisationControl))
                g.add((own, AIMS.registerId, Literal(e.id)))
                if "title" in e.values:
                    g.add((own, RDFS.label, Literal(e.values["title"])))
        else:
            subject = node(e.id)
        if sec.cls is not None:
            g.add((subject, RDF.type, sec.cls))
        if e.id is not None:
            g.add((subject, AIMS.registerId, Literal(e.id)))
        emit(subject, sec.keys, e.values)
        if e.section == "interested_parties":
            g.add((aims_node, AIMS.hasInterestedParty, subject))
        elif e.section == "people" and e.values.get("role") == TOP_MANAGEMENT:
            g.add((subject, RDF.type, AIMS.TopManagement))
        elif e.section == "policies" and e.values.get("kind") == AI_POLICY_KIND:
            g.add((subject, RDF.type, AIMS.AIPolicy))
        if e.section not in ("organization", "aims", "risk_criteria"):
            g.add((subject, AIMS.inOrganization, org_node))
    return g


# --- RDF input -----------------------------------------------------------------------------------


def _remote_contexts(node: Any) -> list[str]:
    """IRIs a JSON-LD document would fetch: string values of `@context` (or items of a
    `@context` list) and of `@import`, anywhere in the document."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("@context", "@import"):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        found.append(item)
            found.extend(_remote_contexts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_remote_contexts(item))
    return found


def _refuse_remote_contexts(path: Path, data: bytes) -> None:
    """A clear error, before parsing, for a JSON-LD document that needs a context from elsewhere
    (the parser would only say it has no document loader)."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RDFInputError(Problem(path.name, "", "", f"cannot parse json-ld: {exc}")) from exc
    remote = _remote_contexts(doc)
    if remote:
        raise RDFInputError(Problem(path.name, "", "@context", (
            f"the JSON-LD context '{remote[0]}' is not in this file, and aimsgraph never fetches "
            "anything over the network; put the context inline (\"@context\": {...})")))


def read_rdf(path: Path) -> Graph:
    """Parse an RDF file without any network access: remote JSON-LD contexts are refused
    with a clear error, and pyoxigraph's parsers never fetch (owl:imports is a triple like any
    other, not followed). Quads of every graph of a TriG or N-Quads file become the data."""
    path = Path(path)
    fmt = RDF_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RDFInputError(Problem(path.name, "", "", f"unknown RDF file type '{path.suffix}' "
                                    f"(use one of {', '.join(sorted(RDF_FORMATS))})"))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RDFInputError(Problem(path.name, "", "", f"cannot read file: {exc}")) from exc
    if fmt[0] == ox.RdfFormat.JSON_LD:
        _refuse_remote_contexts(path, data)
    try:
        quads = list(ox.parse(data, format=fmt[0], base_iri=path.resolve().as_uri()))
    except (SyntaxError, ValueError) as exc:
        raise RDFInputError(Problem(path.name, "", "", f"cannot parse {fmt[1]}: {exc}")) from exc
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    for q in quads:
        g.add((from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object)))
    return g


def is_register(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in (".yaml", ".yml")


def read_input(path: Path) -> Graph:
    """A register or an RDF file -> the organisation's data as an rdflib Graph."""
    path = Path(path)
    if is_register(path):
        return register_to_graph(read_register(path))
    if not path.exists():
        raise RDFInputError(Problem(str(path), "", "", "no such file or folder"))
    return read_rdf(path)


def load_input(store: Store, path: Path) -> Graph:
    """Read `path` completely first, then replace the store's data graph with it: a bad
    input raises before anything stored is touched."""
    data = read_input(path)
    if GRAPH_ONTOLOGY not in store.graphs():
        load_packaged(store)
    store.clear(GRAPH_DATA)
    store.add(GRAPH_DATA, data)
    return data

