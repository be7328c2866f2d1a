"""Stage 4, query: the named SPARQL queries in `queries/` (one per file, with a header giving the
question, parameters and result columns) and ad-hoc SPARQL, run through the Store interface.
Parameters are bound as RDF terms by the store, never spliced into query text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from .errors import AimsGraphError, QueryError, unknown_name
from .limits import shorten
from .resources import data_files
from .namespaces import expand_curie, to_curie
from .store import (_STRIP, QueryResult, Store, _TsvCells, collector_paused, mostly_distinct, one_kind, term_rows,
                    tsv_columns)

_FIELD = re.compile(r"^#\s*(question|parameters|columns|reads|order|distinct|parallel|param\s+\w+)\s*:\s*(.*?)\s*$",
                    re.MULTILINE)
READS = ("catalogues", "register", "organisations")


@dataclass(frozen=True)
class NamedQuery:
    name: str  # file stem without the number, e.g. controls-for-article
    file: str
    question: str
    params: dict[str, str]  # name -> "type: description"
    columns: str
    text: str
    reads: str = "register"  # "catalogues": the shipped catalogues alone; "organisations": every one in a store
    order: tuple[str, ...] = ()  # from `# order: ?a ?b`: run_named sorts the rows by these columns
    distinct: bool = False  # from `# distinct: rows`: run_named drops repeated rows (what SELECT DISTINCT gives)
    parts: tuple[str, ...] = ()  # from `# parallel: branches`: one query per UNION branch (union_branches)

    @property
    def needs_register(self) -> bool:
        return self.reads in ("register", "organisations")

    def bindings(self, params: dict[str, str]) -> dict[str, Node]:
        """Parameter values (name -> text) as typed RDF terms; a QueryError names a parameter this
        query lacks (with the closest one) or a value of the wrong type."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise QueryError(f"query '{self.name}': " + unknown_name("parameter", unknown[0], self.params))
        return {k: term_from_text(v, self.params[k]) for k, v in params.items()}


def parse_query_file(path: Path) -> NamedQuery:
    text = path.read_text(encoding="utf-8")
    fields = _FIELD.findall(text)
    meta = {k.strip(): v for k, v in fields if not k.startswith("param")}
    params = {k.split()[1]: v for k, v in fields if k.startswith("param")}
    if "question" not in meta or "columns" not in meta or "reads" not in meta:
        raise AimsGraphError(f"query file {path.name} needs '# question:', '# columns:' and '# reads:' header lines")
    reads = meta["reads"].split()[0] if meta["reads"] else ""
    if reads not in READS:
        raise AimsGraphError(f"query file {path.name}: '# reads:' must start with {' or '.join(READS)}")
    name = re.sub(r"^\d+_", "", path.stem)
    order = tuple(re.findall(r"\?(\w+)", meta.get("order", "")))
    distinct = meta.get("distinct", "")
    if distinct not in ("", "rows"):
        raise AimsGraphError(f"query file {path.name}: '# distinct:' must be 'rows'")
    parallel = meta.get("parallel", "")
    if parallel not in ("", "branches"):
        raise AimsGraphError(f"query file {path.name}: '# parallel:' must be 'branches'")
    parts = ()
    if parallel:
        parts = union_branches(text)
        if not parts:
            raise AimsGraphError(f"query file {path.name}: '# parallel: branches' needs SELECT ?a ?b ... WHERE "
                                 "{ {...} UNION {...} ... } with nothing after the WHERE group")
    return NamedQuery(name, path.name, meta["question"], params, meta["columns"], text, reads, order,
                      distinct == "rows", parts)


# One token of SPARQL text that may hold a brace: a comment, a string (long or short), an IRI
# (no spaces or quotes inside), a brace, or a word; anything else is skipped a character at a time.
_TOKEN = re.compile("|".join((
    r"#[^\n]*",  # comment
    r"'''(?:[^'\\]|\\.|'(?!''))*'''",  # long strings
    r'"""(?:[^"\\]|\\.|"(?!""))*"""',
    r"'(?:[^'\\\n]|\\.)*'",  # strings
    r'"(?:[^"\\\n]|\\.)*"',
    r'<[^<>"{}|^`\\\s]*>',  # IRI
    r"[{}]", r"[A-Za-z_][\w-]*", r"\?\w+", r"\S")))


def union_branches(text: str) -> tuple[str, ...]:
    """`text` as one query per branch, when it is `[prologue] SELECT ?a ?b ... WHERE { {B1} UNION
    {B2} ... }` with nothing after the WHERE group: each part is `SELECT ?a ?b ... WHERE {Bi}`.
    Their rows, one part's after another's, are the query's rows in the engine's order (a UNION
    evaluates its branches one after another, and nothing outside them joins or filters), so
    the parts can run at the same time (OxigraphStore.select_parts). Empty when the text has
    any other shape (DISTINCT, expressions in the projection, modifiers, patterns beside the
    UNION)."""
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text) if not m.group().startswith("#")]
    words = [t[2] for t in tokens]
    upper = [w.upper() for w in words]
    if "SELECT" not in upper:
        return ()
    select = upper.index("SELECT")
    where = select + 1
    while where < len(words) and words[where].startswith("?") and len(words[where]) > 1:
        where += 1
    if where == select + 1 or where + 1 >= len(words) or upper[where] != "WHERE" or words[where + 1] != "{":
        return ()
    groups, depth, start, expect_group = [], 0, None, True
    for index in range(where + 1, len(tokens)):
        begin, end, word = tokens[index]
        if word == "{":
            depth += 1
            if depth == 2:
                if not expect_group:
                    return ()
                start, expect_group = begin, False
        elif word == "}":
            depth -= 1
            if depth == 1:
                groups.append(text[start:end])
            elif depth == 0:
                if index != len(tokens) - 1 or expect_group:
                    return ()
                break
        elif depth == 1:
            if word.upper() != "UNION" or expect_group:
                return ()
            expect_group = True
    if len(groups) < 2:
        return ()
    # the prologue (from its first token: without the header's comments), the projection
    head = text[tokens[0][0]:tokens[select][0]] + "SELECT " + " ".join(words[select + 1:where]) + " WHERE "
    return tuple(head + group for group in groups)


@lru_cache(maxsize=1)
def named_queries() -> dict[str, NamedQuery]:
    return {q.name: q for q in (parse_query_file(p) for p in data_files("queries", ".rq"))}


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$")
_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")


def guess_kind(text: str) -> str:
    """The type of an undeclared parameter (a query file without `# param` lines): a CURIE with
    one of our prefixes is an IRI, YYYY-MM-DD a date, a whole number an integer, else text."""
    prefix, sep, local = text.partition(":")
    if sep and local and expand_curie(text) is not None:
        return "iri"
    if _ISO_DATE.match(text):
        return "date"
    if _WHOLE_NUMBER.match(text):
        return "integer"
    return "text"


def term_from_text(text: str, kind: str = "") -> Node:
    """A parameter value as an RDF term: CURIEs and <IRIs> become IRIs, dates and whole numbers
    typed literals (when the parameter says so), anything else a plain literal. Without a
    declared `kind` the type is guessed from the value (`guess_kind`)."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return _iri(text[1:-1], text)
    kind = kind or guess_kind(text)
    if kind.startswith("iri") or kind.startswith("curie"):
        iri = expand_curie(text) if ":" in text and not text.startswith("http") else text
        if iri is None:
            raise QueryError(f"'{shorten(text)}' is not a CURIE with a known prefix or an IRI")
        return _iri(iri, text)
    if kind.startswith("date"):
        try:
            return Literal(date.fromisoformat(text).isoformat(), datatype=XSD.date)
        except ValueError:
            raise QueryError(f"'{shorten(text)}' is not a date YYYY-MM-DD") from None
    if kind.startswith("integer"):
        if not _WHOLE_NUMBER.match(text):
            raise QueryError(f"'{shorten(text)}' is not a whole number")
        return Literal(int(text), datatype=XSD.integer)
    return Literal(text)


def _iri(iri: str, given: str) -> URIRef:
    """An absolute IRI as a term; a QueryError for anything else (a space, `<>`, no scheme), so
    a bad value is the caller's mistake, not the store's."""
    if not _ABSOLUTE_IRI.match(iri):
        raise QueryError(f"'{shorten(given)}' is not an absolute IRI (nor a CURIE with a known prefix)")
    return URIRef(iri)


def named_query(name: str) -> NamedQuery:
    """The named query `name`, or a QueryError naming the closest one."""
    queries = named_queries()
    if name not in queries:
        raise QueryError(unknown_name("query named", name, queries) + "; see `aimsgraph queries`")
    return queries[name]


def run_named(store: Store, name: str, params: dict[str, str] | None = None) -> QueryResult:
    from .store import OxigraphStore

    q = named_query(name)
    if q.parts and type(store) is OxigraphStore:
        names, rows = _run_parts(store, q, q.bindings(params or {}), as_text=False)
        return QueryResult("select", vars=names, rows=rows)
    if q.distinct and type(store) is OxigraphStore:  # repeats dropped from the engine's TSV lines
        result = store.query(q.text, q.bindings(params or {}), distinct=True)
    else:
        result = store.query(q.text, q.bindings(params or {}))
        if q.distinct and result.kind == "select":
            result.rows = _distinct_rows(result.rows, result.vars)
    if q.order and result.kind == "select":
        with collector_paused():  # a key per row
            result.rows = _sorted_rows(result.rows, q.order)
    return result


def _sorted_rows(rows: list[dict], order: tuple[str, ...]) -> list[dict]:
    """`rows` stably sorted by `_order_key` of their `order` columns. A column of IRIs only is keyed
    by their plain text (IRIs sort by code point), any other by its terms' order keys; the keys
    are built a column at a time and the row indexes sorted by them (at 1M triples, min of 9:
    trace-edges' 136k rows 0.53 -> 0.45 s, system-obligations 0.14 -> 0.12 s, against one flat
    key built per row; obligations-not-yet-applicable 0.15 -> 0.20 s, its second column mixed)."""
    keys = []
    for name in order:
        column = [row.get(name) for row in rows]
        if all(term.__class__ is URIRef for term in column):
            keys.append([_text(term) for term in column])
        else:
            keys.append([_order_key(term) for term in column])
    ranks = list(zip(*keys))
    return [rows[i] for i in sorted(range(len(rows)), key=ranks.__getitem__)]


def _distinct_rows(rows: list[dict], names: list[str]) -> list[dict]:
    """`rows` without repeats, the first of each kept (SELECT DISTINCT's answer, for a query with
    `# distinct: rows`). A column all of IRIs, or all of plain strings, is keyed by its terms'
    text (equal texts are then equal terms), any other by its terms (None unbound). The embedded
    store drops repeats from its TSV lines instead (`OxigraphStore.query(distinct=True)`)."""
    if not names:
        return rows[:1]
    keys = []
    for name in names:
        column = [row.get(name) for row in rows]
        if all(term.__class__ is URIRef for term in column) or all(
                term.__class__ is Literal and term.datatype is None and not term.language for term in column):
            keys.append([_text(term) for term in column])
        else:
            keys.append(column)
    seen: set = set()
    keep = []
    with collector_paused():
        for row, key in zip(rows, zip(*keys)):
            if key not in seen:
                seen.add(key)
                keep.append(row)
    return keep


_text = str.__str__  # the plain str of a URIRef or Literal, without rdflib's Python-level methods


def _order_key(term: Node | None) -> tuple:
    """Where `term` goes in SPARQL's ORDER BY ascending (three parts whatever the term, so the keys
    of several columns concatenate), for the terms an `# order:` column holds:
    unbound first, then blank nodes, IRIs, literals; IRIs and plain literals by code point (as
    pyoxigraph compares their UTF-8). Another literal sorts by datatype and lexical form, which
    is deterministic but not SPARQL's order by value: a query sorting numbers or dates keeps its
    ORDER BY."""
    if term is None:
        return (0, "", "")
    kind = term.__class__
    if kind is URIRef:
        return (2, "", _text(term))
    if kind is Literal:
        datatype = term.datatype
        if (datatype is None or datatype == XSD.string) and not term.language:
            return (3, "", _text(term))
        return (4, str(datatype or "@" + term.language), _text(term))
    if kind is BNode:
        return (1, "", _text(term))
    return _order_key(URIRef(term)) if isinstance(term, URIRef) else (4, "", str(term))


class _CellText(dict):
    """TSV cell -> (the text `rows_as_text` gives its term, its `_order_key`), once per distinct
    cell: an IRI (as a CURIE when it has one of our prefixes) and a plain string without escapes
    are read off the cell, any other through the store's own cell parser (`store._TsvCells`)."""

    def __init__(self):
        super().__init__()
        self.terms = _TsvCells()

    def __missing__(self, cell: str) -> tuple[str, tuple]:
        if not cell:  # unbound
            value = (None, (0, "", ""))
        elif cell[0] == "<":
            value = (to_curie(cell[1:-1]), (2, "", cell[1:-1]))
        elif cell[0] == '"' and cell[-1] == '"' and len(cell) > 1 and "\\" not in cell:
            value = (cell[1:-1], (3, "", cell[1:-1]))
        else:
            term = self.terms[cell]
            value = (to_curie(str(term)) if isinstance(term, URIRef) else str(term), _order_key(term))
        self[cell] = value
        return value


def run_named_text(store: Store, name: str, params: dict[str, str] | None = None) -> tuple[list[str], list[list[str | None]]]:
    """`run_named` for a consumer of text (the `query` command's table and JSON): the columns and
    each row's cells as `rows_as_text` shows them (None unbound), in the same order. On the embedded
    store the rows go from the engine's TSV text to strings without becoming rdflib terms (half
    the time of handing back a 100k-row answer at 1M triples); on any other store through
    run_named and rows_as_text."""
    from .store import OxigraphStore

    q = named_query(name)
    bindings = q.bindings(params or {})
    if q.parts and type(store) is OxigraphStore:
        return _run_parts(store, q, bindings, as_text=True)
    answer = store.select_lines(q.text, bindings, distinct=q.distinct) if type(store) is OxigraphStore else None
    if answer is None:
        result = run_named(store, name, params)
        return result.vars, [[row.get(v) for v in result.vars] for row in rows_as_text(result)]
    names, lines = answer
    with collector_paused():
        return names, _text_table(lines, names, q.order)


def _text_table(lines: list[str], names: list[str], order: tuple[str, ...]) -> list[list[str | None]]:
    """TSV lines as rows of text cells, sorted by the `order` columns as run_named's sort of the
    terms sorts them. Everything goes a column at a time (`tsv_columns`): the order keys
    (`_column_keys`), the row indexes sorted by them, each column reordered and made text
    (`_text_column`), then the rows zipped. With the sort, at 1M triples (min of 9):
    evidence-register 0.45 -> 0.24 s, trace-nodes 1.56 -> 1.39 s against a key and a text per
    row; trace-edges' 136k rows sorted in 0.4-0.45 s, against 0.55-0.7 s building a flat key per
    row."""
    if not names:
        return [[] for _ in lines]
    cells = _CellText()
    columns = tsv_columns(lines, len(names))
    if order and lines:
        ranks = list(zip(*(_column_keys(columns[names.index(c)], cells)[1] for c in order)))
        index = sorted(range(len(lines)), key=ranks.__getitem__)
        columns = [list(map(column.__getitem__, index)) for column in columns]
    return [list(row) for row in zip(*(_text_column(column, cells) for column in columns))]


def _run_parts(store, q: NamedQuery, bindings: dict, as_text: bool) -> tuple[list[str], list]:
    """A query of `# parallel: branches` on the embedded store: its parts at the same time
    (`OxigraphStore.select_parts`), each part's rows converted on its own thread — to text
    columns (`as_text`, as run_named_text gives them) or to rows of rdflib terms (run_named) —
    with the order keys of its `# order:` columns; then here the repeats dropped (across
    parts: two branches can give one row) and one sort by the keys. The rows and their order
    are those of the query run whole."""
    cells = _CellText()  # shared by the threads: a cell converted twice gives the same value
    order = q.order

    def convert(names: list[str], lines: list[str]):
        columns = tsv_columns(lines, len(names))
        keys = [_column_keys(columns[names.index(c)], cells) for c in order]
        if as_text:
            return lines, [_text_column(column, cells) for column in columns], keys
        return lines, term_rows(names, columns, cells.terms), keys

    with collector_paused():
        names, answers = store.select_parts(q.parts, bindings, convert)
        lines = [line for part_lines, _, _ in answers for line in part_lines]
        if as_text:
            body = [[c for _, columns, _ in answers for c in columns[i]] for i in range(len(names))]
            rows = [list(row) for row in zip(*body)] if lines else []
        else:
            rows = [row for _, part_rows, _ in answers for row in part_rows]
        index = range(len(lines))
        if q.distinct:
            first = {}
            for i, line in enumerate(lines):
                first.setdefault(line, i)
            index = sorted(first.values())
        if order:
            keys = [_joined_keys([part_keys[j] for _, _, part_keys in answers]) for j in range(len(order))]
            ranks = list(zip(*keys))
            index = sorted(index, key=ranks.__getitem__)
        return names, list(map(rows.__getitem__, index))


def _column_keys(column, cells: _CellText) -> tuple[str, list]:
    """The `_order_key`s of one column's cells, or when the column is of one kind (`one_kind`)
    its bare texts, which sort the same way and cost less: ("iri" or "str", texts), or
    ("key", order keys)."""
    if one_kind(column):
        return ("iri" if column[0][:1] == "<" else "str"), list(map(_STRIP, column))
    return "key", [cells[cell][1] for cell in column]


_KIND_RANK = {"iri": 2, "str": 3}


def _joined_keys(parts: list[tuple[str, list]]) -> list:
    """One column's keys over every part: bare texts when all parts are of one kind, else every
    bare text made its order key again (an IRI (2, "", text), a plain string (3, "", text))."""
    kinds = {kind for kind, keys in parts if keys}
    if len(kinds) <= 1:
        return [key for _, keys in parts for key in keys]
    return [key if kind == "key" else (_KIND_RANK[kind], "", key) for kind, keys in parts for key in keys]


def _text_column(column, cells: _CellText) -> list[str | None]:
    """A column's cells as text: a plain string without escapes is its cell less the quotes
    (cheaper than looking it up: most labels and ids occur once), any other cell looked up in
    `cells`; a column of IRIs mostly distinct (trace-nodes' 92k nodes) made CURIEs without the
    lookup."""
    if column and column[0][:1] == "<" and one_kind(column) and mostly_distinct(column):
        return list(map(to_curie, map(_STRIP, column)))
    return [cell[1:-1] if cell[:1] == '"' and cell[-1] == '"' and len(cell) > 1 and "\\" not in cell
            else cells[cell][0] for cell in column]


def rows_as_text(result: QueryResult) -> list[dict[str, str]]:
    """Rows with terms shown as CURIEs or plain values, for tables and JSON."""
    return [{k: (to_curie(str(v)) if isinstance(v, URIRef) else str(v)) for k, v in row.items()} for row in result.rows]
