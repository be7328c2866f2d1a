"""The one interface every stage uses to reach the data: load RDF into a named graph, add
triples, run a SPARQL query, run a SPARQL update, dump a graph.

Terms cross the interface as rdflib terms (URIRef, Literal, BNode), the reference stack's
vocabulary. `OxigraphStore` (pyoxigraph, embedded, in memory or on disk) is the default;
`RdflibStore` is the reference engine the tests compare it against. Queries see the union of
all named graphs as their default graph, so the product's questions need no GRAPH clauses.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import operator
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from .errors import QueryError, ResultTooLarge, StoreError
from .namespaces import PREFIXES

Triple = tuple[Node, Node, Node]
Bindings = Mapping[str, Node]

# File suffix -> (pyoxigraph format, rdflib format name).
RDF_FORMATS: dict[str, tuple[ox.RdfFormat, str]] = {
    ".ttl": (ox.RdfFormat.TURTLE, "turtle"),
    ".turtle": (ox.RdfFormat.TURTLE, "turtle"),
    ".nt": (ox.RdfFormat.N_TRIPLES, "nt"),
    ".ntriples": (ox.RdfFormat.N_TRIPLES, "nt"),
    ".jsonld": (ox.RdfFormat.JSON_LD, "json-ld"),
    ".json-ld": (ox.RdfFormat.JSON_LD, "json-ld"),
    ".rdf": (ox.RdfFormat.RDF_XML, "xml"),
    ".owl": (ox.RdfFormat.RDF_XML, "xml"),
    ".xml": (ox.RdfFormat.RDF_XML, "xml"),
    ".trig": (ox.RdfFormat.TRIG, "trig"),
    ".nq": (ox.RdfFormat.N_QUADS, "nquads"),
}
FORMAT_NAMES: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "json-ld": ox.RdfFormat.JSON_LD,
    "jsonld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "trig": ox.RdfFormat.TRIG,
    "nquads": ox.RdfFormat.N_QUADS,
}


# Comments, strings, IRIs and names: skipped when `inline_bindings` looks for the WHERE keyword.
_NOT_KEYWORDS = re.compile(
    r'#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|[?$:][\w.-]*|[\w-]+:[\w.-]*')

# Media types of answers: SPARQL results for SELECT and ASK, RDF for CONSTRUCT and DESCRIBE.
RESULT_MEDIA: dict[str, ox.QueryResultsFormat] = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_MEDIA: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}


@dataclass
class Answer:
    """A query's answer as the engine serialised it: the bytes, their media type, and how many
    rows (SELECT) or triples (CONSTRUCT, DESCRIBE) it holds (-1 for ASK, or when not counted)."""

    body: bytes
    media_type: str
    count: int = -1


class _Capped:
    """A binary writer that refuses to grow past `limit` bytes (the engine's serialiser writes
    into it, so an answer too large stops being produced, not just being sent)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise ResultTooLarge(f"the answer is larger than the server's limit of {self.limit:,} bytes; "
                                 "ask for fewer rows (LIMIT / OFFSET)")
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def value(self) -> bytes:
        return b"".join(self.parts)


def _too_many(count: int, limit: int, what: str) -> ResultTooLarge:
    return ResultTooLarge(f"the answer has more than {limit:,} {what}, the server's limit; "
                          "ask for fewer (LIMIT / OFFSET)")


@dataclass
class QueryResult:
    """SELECT rows (`vars` + `rows`), an ASK answer (`boolean`) or CONSTRUCT `triples`."""

    kind: str  # "select" | "ask" | "construct"
    vars: list[str] = field(default_factory=list)
    rows: list[dict[str, Node]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[Triple] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Node]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows) if self.kind == "select" else len(self.triples)


@dataclass(frozen=True)
class Dataset:
    """Which named graphs a query or update reads: the merge of `default` is its default graph,
    `named` the graphs its GRAPH clauses see. Stores take None to mean every graph they hold."""

    default: tuple[str, ...]
    named: tuple[str, ...]


class Store(ABC):
    """What the pipeline needs from a triple store, and nothing more."""

    reasons_in_place = True  # its SPARQL engine runs the compiled OWL 2 RL updates fast enough
    persistent = False  # outlives the process: analyses are kept in versioned graphs (workspace.py)

    @abstractmethod
    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        """Parse `data` (format name as in FORMAT_NAMES) into the named graph `graph`."""

    @abstractmethod
    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        """Add triples to `graph`; returns how many were new."""

    def remove(self, graph: str, triples: Iterable[Triple]) -> None:
        """Remove triples (IRIs and literals only: DELETE DATA cannot name a stored blank node)
        from `graph`, in updates of bounded size."""
        lines = [f"{s.n3()} {p.n3()} {o.n3()} ." for s, p, o in triples]
        for start in range(0, len(lines), 2000):
            self.update(f"DELETE DATA {{ GRAPH <{graph}> {{\n" + "\n".join(lines[start:start + 2000]) + "\n} }")

    @abstractmethod
    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        """Run a SPARQL query over the union of all graphs (or over `dataset`); `bindings`
        pre-bind variables."""

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL update."""

    @abstractmethod
    def answer(self, sparql: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_network: bool = False) -> Answer:
        """Run a query from outside and serialise its answer with the engine's own serialiser in
        `media_type` (a key of RESULT_MEDIA for SELECT and ASK, of GRAPH_MEDIA for CONSTRUCT and
        DESCRIBE), so terms keep the lexical forms the store holds. The query passes the SPARQL
        guard first (`sparql_guard.inspect_query`: no SERVICE unless `allow_network`).

        The dataset: `default_graphs` / `named_graphs` (the Protocol's default-graph-uri and
        named-graph-uri) when either is given; else the query's own FROM / FROM NAMED; else the
        union of all graphs as the default graph with every named graph available. Graphs are
        only ever the store's own: an IRI the store has no graph for is an empty graph, never
        fetched. `max_rows` caps rows or triples and `max_bytes` the serialised size
        (ResultTooLarge past either); `base_iri` resolves relative IRIs in the query."""

    @abstractmethod
    def triples(self, graph: str) -> list[Triple]:
        """Every triple of one named graph."""

    @abstractmethod
    def clear(self, graph: str) -> None:
        """Empty one named graph."""

    @abstractmethod
    def graphs(self) -> list[str]:
        """IRIs of the named graphs that hold triples."""

    def count(self, graph: str) -> int:
        return len(self.triples(graph))

    def map_concurrently(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """`[fn(item) for item in items]`, where `fn` runs queries on this store: in order, one at
        a time; the embedded store runs them at the same time (`OxigraphStore`). The first
        exception, in the order of `items`, is raised."""
        return [fn(item) for item in items]

    def count_matching(self, graph: str, predicate: Node, cls: Node | None = None) -> int:
        """How many triples of `graph` have `predicate` (and, given `cls`, that object): one
        COUNT the engine answers from its predicate or object index."""
        pattern = f"?s {URIRef(predicate).n3()} {'?o' if cls is None else URIRef(cls).n3()}"
        rows = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ {pattern} }} }}").rows
        return int(rows[0]["n"]) if rows else 0

    def insert_where(self, graph: str, template: str, where: str, named: Iterable[str] = (),
                     dataset: Dataset | None = None) -> None:
        """`INSERT { GRAPH <graph> { template } } WHERE { where }`, the WHERE seeing the union of
        all named graphs (or of `dataset.default`) as its default graph, as queries do, and the
        graphs `named` through GRAPH clauses. Runs inside the store, so nothing crosses the
        interface: the reasoner's rules and OWL 2 RL updates use it."""
        self.update(f"INSERT {{ GRAPH <{graph}> {{\n{template}\n}} }} {self._union_dataset(named, dataset)} "
                    f"WHERE {{\n{where}\n}}")

    def _union_dataset(self, named: Iterable[str] = (), dataset: Dataset | None = None) -> str:
        """What makes an update's WHERE read every named graph as its default graph: USING
        clauses (and USING NAMED for graphs read through GRAPH, which USING alone hides)."""
        default = dataset.default if dataset is not None else self.graphs()
        return " ".join([f"USING <{g}>" for g in default] + [f"USING NAMED <{g}>" for g in named])

    def add_graph(self, source: str, target: str) -> None:
        """Add every triple of graph `source` to graph `target` (SPARQL 1.1 ADD)."""
        self.update(f"ADD SILENT <{source}> TO <{target}>")

    def has(self, triple: Triple) -> bool:
        """Whether any graph holds `triple`."""
        return bool(self.query("ASK { ?s ?p ?o }", {"s": triple[0], "p": triple[1], "o": triple[2]}).boolean)

    def to_rdflib(self, graphs: Iterable[str] | None = None) -> rdflib.Graph:
        """A plain rdflib Graph with the triples of `graphs` (default: all), for the
        reference engines (owlrl, pySHACL) that work on rdflib objects."""
        g = rdflib.Graph()
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        for name in graphs if graphs is not None else self.graphs():
            for t in self.triples(name):
                g.add(t)
        return g


# --- term conversion between pyoxigraph and rdflib -------------------------------------


def _to_ox(term: Node) -> Union[ox.NamedNode, ox.BlankNode, ox.Literal]:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise StoreError(f"cannot store term {term!r}")


def _plain_literal_fast(text: str) -> Literal:
    """`Literal(text)` for a plain string without going through `Literal.__new__`, which checks
    and casts its argument (18 us a term: 3 s of a 90k-row result at 1M triples). A plain
    literal's value is its lexical form and it has neither language nor datatype, so the slots
    are set as the constructor sets them; `_PLAIN_LITERAL` checks that on this rdflib at import."""
    inst = str.__new__(Literal, text)
    inst._language = None
    inst._datatype = None
    inst._value = text
    inst._ill_typed = None
    return inst


def _fast_path_holds() -> bool:
    samples = ("", "A.7.4", "covered", " two  words\n", "é ü 中文 \U0001F600", "01", "true")
    try:
        return all(
            Literal.__slots__ == ("_language", "_datatype", "_value", "_ill_typed")
            and (fast := _plain_literal_fast(text)) == (slow := Literal(text))
            and type(fast) is type(slow) and str(fast) == str(slow) and hash(fast) == hash(slow)
            and (fast.language, fast.datatype, fast.value, fast.ill_typed)
            == (slow.language, slow.datatype, slow.value, slow.ill_typed)
            for text in samples)
    except (AttributeError, TypeError):
        return False


# `URIRef(iri)` without its check for characters an IRI cannot hold (3 us a term), for an IRI
# pyoxigraph gives back: its NamedNode has been validated already. A partial, so it runs in C.
_iri_fast = functools.partial(str.__new__, URIRef)


def _iri_fast_path_holds() -> bool:
    samples = ("https://w3id.org/aimsgraph/data/acme/hiring", "urn:x", "http://example.org/é#frag")
    return URIRef.__slots__ == () and all(
        (fast := _iri_fast(iri)) == (slow := URIRef(iri)) and type(fast) is type(slow) and hash(fast) == hash(slow)
        and fast.n3() == slow.n3() for iri in samples)


_PLAIN_LITERAL = _plain_literal_fast if _fast_path_holds() else Literal
_IRI = _iri_fast if _iri_fast_path_holds() else URIRef


_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


_TSV = ox.QueryResultsFormat.TSV


class _TsvCells(dict):
    """A cell of pyoxigraph's SPARQL TSV results -> rdflib term, each distinct cell converted once.
    An IRI (`<…>`: the writer escapes nothing in it) and a plain string without escapes (`"…"`,
    no backslash: a quote, tab or line break inside is written escaped) are read here; any other
    cell (language, datatype, number, boolean, blank node, escapes) by pyoxigraph's own TSV parser,
    so every term comes back as iterating the solutions gives it."""

    def __missing__(self, cell: str) -> Node | None:
        if not cell:  # an unbound variable's empty cell
            self[cell] = None
            return None
        first = cell[0]
        if first == "<":
            term = _IRI(cell[1:-1])
        elif first == '"' and cell[-1] == '"' and len(cell) > 1 and "\\" not in cell:
            term = _PLAIN_LITERAL(cell[1:-1])
        else:
            term = from_ox_term(next(iter(ox.parse_query_results(f"?x\n{cell}\n", _TSV)))[0])
        self[cell] = term
        return term


def _tsv_lines(solutions: ox.QuerySolutions, distinct: bool = False) -> list[str]:
    """The rows of `solutions` as SPARQL TSV lines, without the header; `distinct` drops repeated
    lines, the first of each kept (equal lines are equal rows: the writer gives one term one text)."""
    lines = solutions.serialize(format=_TSV).decode("utf-8").split("\n")[1:-1]
    return list(dict.fromkeys(lines)) if distinct else lines


def _tsv_rows(solutions: ox.QuerySolutions, names: list[str], distinct: bool = False) -> list[dict[str, Node]]:
    """The rows of `solutions` as rdflib terms, read from the engine's TSV serialisation: writing
    TSV in Rust costs about what iterating the solutions does, but iterating builds a Python
    object for every term (~2.5 us each: 1 of 2.2 s for trace-edges' 136k rows at 1M triples),
    where splitting the text and converting each cell costs a fraction of that. One line per
    row (line breaks inside literals are escaped), an empty cell for an unbound variable."""
    lines = _tsv_lines(solutions, distinct)
    if not names:
        return [{} for _ in lines]
    return term_rows(names, tsv_columns(lines, len(names)), _TsvCells())


def tsv_columns(lines: list[str], width: int) -> list[list[str]]:
    """TSV lines (`width` cells each) as columns of cells: the lines joined and split once and
    each column sliced off, all in C, instead of a split per line and a transpose (a tab or line
    break inside a term is escaped, so every line holds exactly `width` cells)."""
    if not lines or not width:
        return [[] for _ in range(width)]
    cells = "\t".join(lines).split("\t")
    return [cells[i::width] for i in range(width)]


_STRIP = operator.itemgetter(slice(1, -1))  # a cell less its first and last character


def one_kind(column) -> bool:
    """Whether every TSV cell of `column` is an IRI, or every one a plain string without escapes:
    then each cell less its first and last character is its term's text (and sorts as its
    `query._order_key` does). Read off the cells joined by tabs, in C: no cell holds a tab, so
    every cell after the first is an IRI when each tab is followed by "<", and every cell is a
    plain string when the text starts and ends with a quote, holds no backslash, and each tab
    stands between two quotes (an unbound, empty cell breaks that; the writer never gives a
    lone quote as a cell)."""
    joined = "\t".join(column)
    if not joined:
        return False
    if joined[0] == "<":
        return joined.count("\t<") == len(column) - 1
    return (joined[0] == '"' and joined[-1] == '"' and len(column[0]) > 1 and "\\" not in joined
            and joined.count('"\t"') == len(column) - 1)


def mostly_distinct(column) -> bool:
    """Whether over half of `column`'s cells are distinct: then converting each cell costs less
    than looking it up in a cache of the converted ones."""
    return len(set(column)) * 2 > len(column)


def term_rows(names: list[str], columns: list[list[str]], cells: "_TsvCells") -> list[dict[str, Node]]:
    """TSV columns (`tsv_columns`) as rows of rdflib terms, a column at a time: a column of mostly
    distinct IRIs or plain strings (ids, labels, nodes) is converted cell by cell without a
    lookup, any other through `cells` (each distinct cell converted once); the rows are zipped
    in C, and an unbound cell's key then taken out of its row. At 1M triples, trace-nodes' 92k
    rows (278k distinct cells): 0.36-0.42 -> 0.26-0.36 s against converting every cell through
    `cells`."""
    if not columns or not columns[0]:
        return []
    terms, unbound = [], []
    for name, column in zip(names, columns):
        if mostly_distinct(column) and one_kind(column):
            terms.append(list(map(_IRI if column[0][0] == "<" else _PLAIN_LITERAL, map(_STRIP, column))))
            continue
        terms.append(list(map(cells.__getitem__, column)))  # dict's own lookup, __missing__ on a miss
        if "" in column:
            unbound.append((name, [i for i, cell in enumerate(column) if not cell]))
    rows = [dict(zip(names, row)) for row in zip(*terms)]
    for name, where in unbound:
        for i in where:
            del rows[i][name]
    return rows


_PART_POOL = None


def _part_pool():
    """The threads that run a query's parts (OxigraphStore.select_parts), made when first asked
    for: two per core (at most eight), so the engine keeps every core busy while a thread holds
    the GIL to convert its part's rows (trace-nodes at 1M on two cores, medians of 8 interleaved
    runs: 1.09 s with two threads, 1.00 with three, 0.93 with four)."""
    global _PART_POOL
    if _PART_POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _PART_POOL = ThreadPoolExecutor(max_workers=max(2, min(8, 2 * (os.cpu_count() or 1))),
                                        thread_name_prefix="aimsgraph-query-part")
    return _PART_POOL


def _forget_part_pool() -> None:  # a forked child has none of its parent's threads
    global _PART_POOL
    _PART_POOL = None


os.register_at_fork(after_in_child=_forget_part_pool)


_PROMOTE_AFTER = 20_000  # new tracked objects: a young collection of 20k rows' dicts and terms takes ~2 ms


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a result's rows are built: every Literal and
    row dict is a tracked object, so a 90k-row result set off a collection every few hundred
    terms, each walking the rows built so far (0.9 of 1.5 s converting trace-nodes at 1M
    triples). Rows hold no cycles; the collector runs again as before once they are built (when
    it was on: a caller that turned it off keeps it off).

    After a big answer (over `_PROMOTE_AFTER` new tracked objects), what was built is moved to
    the oldest generation before the collector runs again (`gc.freeze()` then `gc.unfreeze()`,
    two list splices): else the first young collection walks every row and term just made, 0.09
    of trace-nodes' 0.17 s after its parts at 1M triples (92k rows; trace-edges 0.27 -> 0.13-0.21
    s). Other young objects move with them and wait for the next full collection, so a small
    answer (the reasoner's COUNTs, an API request's rows) leaves the generations alone: promoted
    on every query, a long-running server's cyclic garbage would wait for full collections that
    promotions never bring on. Skipped too when the caller has frozen objects itself, whom
    unfreezing would release."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] > _PROMOTE_AFTER and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def nt_triples(nt: str | bytes) -> list[Triple]:
    """N-Triples text as triples of rdflib terms."""
    return [(from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object))
            for t in ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)]


def from_ox_term(term) -> Node:
    kind = type(term)
    if kind is ox.NamedNode:
        return _IRI(term.value)
    if kind is ox.Literal:  # the datatype first: most literals are plain strings
        dt = term.datatype.value
        if dt == _XSD_STRING:
            return _PLAIN_LITERAL(term.value)
        if term.language:  # rdf:langString (or a directional one: rdflib keeps the language)
            return Literal(term.value, lang=term.language)
        return Literal(term.value, datatype=URIRef(dt))
    if kind is ox.BlankNode:
        return BNode(term.value)
    raise StoreError(f"unsupported term {term!r}")


def serialize_ox_answer(res, media_type: str, max_rows: int | None = None,
                        max_bytes: int | None = None) -> Answer:
    """A pyoxigraph result (solutions, boolean or triples) in `media_type`, by pyoxigraph's own
    serialisers. With a row cap the rows are counted exactly on the TSV form (one line per row:
    line breaks inside literals are escaped there), then turned into the asked format by
    pyoxigraph's results parser and serialiser; the same for triples with N-Triples."""
    if isinstance(res, (bool, ox.QueryBoolean)):
        fmt = RESULT_MEDIA.get(media_type)
        if fmt not in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML):
            raise QueryError("an ASK answer has only the SPARQL JSON and XML results forms")
        if isinstance(res, bool):
            res = ox.parse_query_results('{"head":{},"boolean":%s}' % ("true" if res else "false"),
                                         ox.QueryResultsFormat.JSON)
        return Answer(res.serialize(format=fmt), media_type)
    if isinstance(res, ox.QuerySolutions):
        fmt = RESULT_MEDIA.get(media_type)
        if fmt is None:
            raise QueryError(f"a SELECT answer has no {media_type} form")
        if max_rows is None:
            out = _Capped(max_bytes)
            res.serialize(out, fmt)
            return Answer(out.value(), media_type)
        tsv = _Capped(max_bytes)
        res.serialize(tsv, ox.QueryResultsFormat.TSV)
        body = tsv.value()
        rows = body.count(b"\n") - 1
        if rows > max_rows:
            raise _too_many(rows, max_rows, "rows")
        if fmt != ox.QueryResultsFormat.TSV:
            out = _Capped(max_bytes)
            ox.parse_query_results(body, ox.QueryResultsFormat.TSV).serialize(out, fmt)
            body = out.value()
        return Answer(body, media_type, rows)
    fmt = GRAPH_MEDIA.get(media_type)
    if fmt is None:
        raise QueryError(f"a CONSTRUCT or DESCRIBE answer has no {media_type} form")
    nt = _Capped(max_bytes)
    res.serialize(nt, ox.RdfFormat.N_TRIPLES)
    body = nt.value()
    count = body.count(b"\n")
    if max_rows is not None and count > max_rows:
        raise _too_many(count, max_rows, "triples")
    if fmt != ox.RdfFormat.N_TRIPLES:
        out = _Capped(max_bytes)
        ox.serialize(ox.parse(body, ox.RdfFormat.N_TRIPLES), out, fmt,
                     prefixes=PREFIXES if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None)
        body = out.value()
    return Answer(body, media_type, count)


def _unknown_function(*_args):
    return None


class OxigraphStore(Store):
    """Embedded pyoxigraph store: in memory by default, on disk when given a folder."""

    def __init__(self, path: str | None = None):
        try:
            if path:  # the folder is created when missing (pyoxigraph makes the last level only)
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._store = ox.Store(path) if path else ox.Store()
        except OSError as exc:  # locked or unreadable folder
            hint = " (is another aimsgraph using it?)" if "lock" in str(exc).lower() else ""
            raise StoreError(f"cannot open the store in {path}: {exc}{hint}") from exc
        self.path = path
        self.persistent = path is not None

    def _dataset_options(self, dataset: Dataset | None) -> dict:
        """pyoxigraph's dataset arguments: the union of every graph when `dataset` names every graph
        the store holds (the fast path: an explicit list of default graphs costs 1.1-2.6x), else
        the listed graphs."""
        if dataset is None:
            return {"use_default_graph_as_union": True}
        held = {g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode)}
        if held <= set(dataset.default) and held <= set(dataset.named):
            return {"use_default_graph_as_union": True}
        return {"default_graph": [ox.NamedNode(g) for g in dataset.default],
                "named_graphs": [ox.NamedNode(g) for g in dataset.named]}

    @classmethod
    def wrap(cls, store: ox.Store) -> "OxigraphStore":
        """The interface over a pyoxigraph store opened elsewhere (e.g. `ox.Store.read_only`)."""
        self = cls.__new__(cls)
        self._store = store
        self.path = None
        self.persistent = False
        return self

    @property
    def native(self) -> ox.Store:
        """The pyoxigraph store underneath (dumps, backups, bulk loads)."""
        return self._store

    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        self._store.load(data, format=FORMAT_NAMES[fmt], to_graph=ox.NamedNode(graph))

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        g = ox.NamedNode(graph)
        # new ones found by lookup, not by counting the graph before and after: adding a few
        # triples to a graph of a million must not cost a scan of it
        quads = {ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), g) for s, p, o in triples}
        new = [q for q in quads if q not in self._store]
        self._store.extend(new)
        return len(new)

    def _query(self, sparql: str, bindings: Bindings | None, dataset: Dataset | None):
        subs = {ox.Variable(k): _to_ox(v) for k, v in (bindings or {}).items()}
        try:
            return self._store.query(
                sparql, prefixes=PREFIXES, substitutions=subs or None, **self._dataset_options(dataset)
            )
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise QueryError(str(exc)) from exc
        except RuntimeError as exc:  # e.g. a bound variable that the SELECT does not project
            hint = " (a parameter must appear in the SELECT clause to be bound)" if "projection" in str(exc) else ""
            raise QueryError(f"{exc}{hint}") from exc

    def select_lines(self, sparql: str, bindings: Bindings | None = None, *,
                     distinct: bool = False) -> tuple[list[str], list[str]] | None:
        """A SELECT's variables and rows as the engine's SPARQL TSV lines (cells `<iri>`, `"text"`,
        other literals and blank nodes in their TSV form, "" for unbound; `tsv_columns` splits
        them), for a consumer that wants text and not terms (`query.run_named_text`); None for an
        ASK or CONSTRUCT. `distinct` drops repeated rows, the first of each kept (a query's
        `# distinct: rows`): the writer gives one term one text, so equal lines are equal rows."""
        res = self._query(sparql, bindings, None)
        if not isinstance(res, ox.QuerySolutions):
            return None
        return [v.value for v in res.variables], _tsv_lines(res, distinct)

    def map_concurrently(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """`Store.map_concurrently` on `_part_pool`'s threads: pyoxigraph lets go of the GIL while
        it evaluates and serialises, so on two cores two queries run at once (the validator's
        41 queries at 1M triples: 2.7 s one after another)."""
        return list(_part_pool().map(fn, items))

    def select_parts(self, parts: tuple[str, ...], bindings: Bindings | None,
                     convert: Callable[[list[str], list[str]], Any]) -> tuple[list[str], list[Any]]:
        """SELECTs run at the same time, one per thread of `_part_pool` (pyoxigraph lets go of the
        GIL while it evaluates and serialises, so on two cores two run at once): their variables
        (the same for every part) and, in the order of `parts`, `convert(variables, TSV lines)`
        of each, called on the part's thread as soon as its lines are there, so one part's
        conversion runs while the engine works on another. For the parts of one query
        (`query.union_branches`)."""
        def run(part: str) -> tuple[list[str], Any]:
            res = self._query(part, bindings, None)
            if not isinstance(res, ox.QuerySolutions):
                raise QueryError("a query run in parts must be made of SELECTs")
            names = [v.value for v in res.variables]
            return names, convert(names, _tsv_lines(res))

        answers = list(_part_pool().map(run, parts))
        names = answers[0][0]
        if any(other != names for other, _ in answers):
            raise QueryError("the parts of a query run in parts select different variables")
        return names, [converted for _, converted in answers]

    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None, *,
              distinct: bool = False) -> QueryResult:
        """`Store.query`; `distinct` drops a SELECT's repeated rows from the engine's TSV lines, the
        first of each kept (a named query's `# distinct: rows`: 0.05 s for trace-edges' 137k rows
        at 1M triples, against 0.45 s hashing their rdflib terms)."""
        res = self._query(sparql, bindings, dataset)
        if isinstance(res, (bool, ox.QueryBoolean)):
            return QueryResult("ask", boolean=bool(res))
        if isinstance(res, ox.QuerySolutions):
            names = [v.value for v in res.variables]
            # Rows repeat the same terms (a system, a status, a date) over and over, and building an
            # rdflib Literal parses its lexical form: each distinct term is converted once per result.
            with collector_paused():
                rows = _tsv_rows(res, names, distinct)
            return QueryResult("select", vars=names, rows=rows)
        with collector_paused():
            triples = [(from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object)) for t in res]
        return QueryResult("construct", triples=triples)

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql, prefixes=PREFIXES)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise QueryError(str(exc)) from exc

    def answer(self, sparql: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_network: bool = False) -> Answer:
        from .sparql_guard import inspect_query

        info = inspect_query(sparql, allow_network, base_iri)
        options: dict = {}
        if default_graphs is not None or named_graphs is not None:  # the Protocol's dataset wins
            options["default_graph"] = [ox.NamedNode(g) for g in default_graphs or ()]
            options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs or ()]
        elif not info.has_dataset:
            options["use_default_graph_as_union"] = True
        if info.functions:  # an unknown extension function is an evaluation error (unbound), as SPARQL says
            options["custom_functions"] = {ox.NamedNode(iri): _unknown_function for iri in info.functions}
        try:
            res = self._store.query(sparql, base_iri=base_iri, prefixes=PREFIXES, **options)
            return serialize_ox_answer(res, media_type, max_rows, max_bytes)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        except (OSError, ValueError, RuntimeError) as exc:
            raise QueryError(str(exc)) from exc

    def triples(self, graph: str) -> list[Triple]:
        return [
            (from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object))
            for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        ]

    def count(self, graph: str) -> int:
        result = self._store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(next(iter(result))["n"].value)

    def has(self, triple: Triple) -> bool:
        s, p, o = (_to_ox(t) for t in triple)
        return next(iter(self._store.quads_for_pattern(s, p, o)), None) is not None

    def clear(self, graph: str) -> None:
        g = ox.NamedNode(graph)
        if self._store.contains_named_graph(g):
            self._store.remove_graph(g)

    def graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))


def shorten_text(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_RDFLIB_RESULTS = {ox.QueryResultsFormat.JSON: "json", ox.QueryResultsFormat.XML: "xml",
                   ox.QueryResultsFormat.CSV: "csv"}
_RDFLIB_GRAPHS = {ox.RdfFormat.TURTLE: "turtle", ox.RdfFormat.N_TRIPLES: "nt", ox.RdfFormat.JSON_LD: "json-ld",
                  ox.RdfFormat.RDF_XML: "xml"}


def serialize_rdflib_answer(res, media_type: str, max_rows: int | None = None,
                            max_bytes: int | None = None) -> Answer:
    """An rdflib query Result in `media_type`, by rdflib's own serialisers (TSV, which rdflib
    cannot write, through pyoxigraph's from rdflib's JSON)."""
    if res.type in ("CONSTRUCT", "DESCRIBE"):
        fmt = GRAPH_MEDIA.get(media_type)
        if fmt is None:
            raise QueryError(f"a CONSTRUCT or DESCRIBE answer has no {media_type} form")
        graph = res.graph
        if max_rows is not None and len(graph) > max_rows:
            raise _too_many(len(graph), max_rows, "triples")
        for prefix, ns in PREFIXES.items():
            graph.bind(prefix, ns)
        body = graph.serialize(format=_RDFLIB_GRAPHS[fmt], encoding="utf-8")
        count = len(graph)
    else:
        fmt = RESULT_MEDIA.get(media_type)
        if fmt is None or (res.type == "ASK" and fmt not in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML)):
            raise QueryError(f"this answer has no {media_type} form")
        count = -1 if res.type == "ASK" else len(res)
        if max_rows is not None and count > max_rows:
            raise _too_many(count, max_rows, "rows")
        buffer = io.BytesIO()
        res.serialize(buffer, format=_RDFLIB_RESULTS.get(fmt, "json"), encoding="utf-8")
        body = buffer.getvalue()
        if fmt == ox.QueryResultsFormat.TSV:
            body = ox.parse_query_results(body, ox.QueryResultsFormat.JSON).serialize(format=fmt)
    if max_bytes is not None and len(body) > max_bytes:
        raise ResultTooLarge(f"the answer is larger than the server's limit of {max_bytes:,} bytes; "
                             "ask for fewer rows (LIMIT / OFFSET)")
    return Answer(body, media_type, count)


class RdflibStore(Store):
    """Reference engine: an rdflib Dataset whose default graph is the union of named graphs."""

    reasons_in_place = False

    def __init__(self) -> None:
        self._ds = rdflib.Dataset(default_union=True)
        for prefix, ns in PREFIXES.items():
            self._ds.bind(prefix, ns)

    def _graph(self, graph: str) -> rdflib.Graph:
        return self._ds.graph(URIRef(graph))

    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        rdflib_fmt = {v[0]: v[1] for v in RDF_FORMATS.values()}[FORMAT_NAMES[fmt]]
        self._graph(graph).parse(data=data, format=rdflib_fmt)

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        g = self._graph(graph)
        before = len(g)
        for t in triples:
            g.add(t)
        return len(g) - before

    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        if dataset is not None and not set(self.graphs()) <= set(dataset.default):
            raise StoreError("the rdflib reference store answers over all its graphs only; "
                             "use the embedded store or a SPARQL server for organisations and versions")
        init_ns = {k: rdflib.Namespace(v) for k, v in PREFIXES.items()}
        try:
            res = self._ds.query(sparql, initNs=init_ns, initBindings=dict(bindings or {}))
        except Exception as exc:  # rdflib raises pyparsing and assorted errors
            raise QueryError(f"SPARQL error: {exc}") from exc
        if res.type == "ASK":
            return QueryResult("ask", boolean=bool(res.askAnswer))
        if res.type == "SELECT":
            names = [str(v) for v in res.vars]
            rows = [{str(k): v for k, v in b.items() if v is not None} for b in res.bindings]
            return QueryResult("select", vars=names, rows=rows)
        return QueryResult("construct", triples=list(res.graph))

    def update(self, sparql: str) -> None:
        init_ns = {k: rdflib.Namespace(v) for k, v in PREFIXES.items()}
        try:
            self._ds.update(sparql, initNs=init_ns)
        except Exception as exc:
            raise QueryError(f"SPARQL update error: {exc}") from exc

    def answer(self, sparql: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_network: bool = False) -> Answer:
        from rdflib.plugins.sparql import algebra, parser

        from .sparql_guard import inspect_query

        info = inspect_query(sparql, allow_network, base_iri)
        if default_graphs is not None or named_graphs is not None:
            dataset: tuple | None = (tuple(default_graphs or ()), tuple(named_graphs or ()))
        elif info.has_dataset:
            dataset = (info.default_graphs, info.named_graphs)
        else:
            dataset = None
        init_ns = {k: rdflib.Namespace(v) for k, v in PREFIXES.items()}
        try:
            prepared = algebra.translateQuery(parser.parseQuery(sparql), base=base_iri, initNs=init_ns)
            # rdflib would fetch a FROM graph it does not hold from the web: the dataset is built
            # here from the store's own graphs instead, and the query's clause dropped.
            prepared.algebra["datasetClause"] = None
            target: rdflib.Dataset = self._ds
            if dataset is not None:
                target = rdflib.Dataset(default_union=False)
                for name in dataset[0]:
                    target.default_context += self._ds.get_context(URIRef(name))
                for name in dataset[1]:
                    target.graph(URIRef(name)).__iadd__(self._ds.get_context(URIRef(name)))
            res = target.query(prepared)
        except QueryError:
            raise
        except Exception as exc:  # rdflib raises pyparsing and assorted errors
            raise QueryError(f"SPARQL error: {shorten_text(str(exc))}") from exc
        return serialize_rdflib_answer(res, media_type, max_rows, max_bytes)

    def triples(self, graph: str) -> list[Triple]:
        return list(self._graph(graph))

    def _union_dataset(self, named: Iterable[str] = (), dataset: Dataset | None = None) -> str:
        return ""  # the Dataset's default graph is the union; rdflib would fetch a USING graph's IRI

    def clear(self, graph: str) -> None:
        self._ds.remove_graph(URIRef(graph))

    def graphs(self) -> list[str]:
        return sorted(str(g.identifier) for g in self._ds.graphs() if len(g) and isinstance(g.identifier, URIRef)
                      and str(g.identifier) != "urn:x-rdflib:default")


# --- remote SPARQL 1.1 stores ---------------------------------------------------------------

_KEYWORD_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
_QUERY_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
INSERT_CHUNK = 2000  # triples per INSERT DATA request: small enough for any server's body limit


def _n3(term: Node) -> str:
    if isinstance(term, BNode):  # a stable label, so one request's triples share their blank nodes
        return f"_:b{abs(hash(str(term)))}"
    return term.n3()


def inline_bindings(sparql: str, bindings: Bindings | None) -> str:
    """`sparql` with `bindings` as a VALUES block opening its outermost WHERE group, for servers
    that cannot pre-bind variables. Terms are written in N-Triples syntax by rdflib (escaped),
    so a value can never change the query's structure."""
    if not bindings:
        return sparql
    bare = _NOT_KEYWORDS.sub(lambda m: " " * len(m.group(0)), sparql)  # same offsets, keywords only
    form = _QUERY_FORM.search(bare)
    where = _KEYWORD_WHERE.search(bare, form.end() if form else 0)
    if where is not None:
        brace = where.end() - 1
    elif form is not None and form.group(1).upper() in ("SELECT", "ASK"):
        brace = bare.find("{", form.end())  # `SELECT * { ... }` leaves out WHERE
    else:
        brace = -1
    if brace < 0:
        raise QueryError("cannot bind parameters: the query has no WHERE group")
    # A MINUS group and a sub-select do not see the outer VALUES (the former is evaluated on its
    # own, the latter sees only what it projects), where pre-binding (pyoxigraph's substitutions)
    # replaces the variable everywhere: each such group that uses a bound variable gets its own.
    inserts = {brace: list(bindings)}
    for m in _SCOPE_OPENING.finditer(bare, brace + 1):
        opening = m.end() - 1
        group = sparql[opening:matching_brace(bare, opening) + 1]  # the text: `bare` blanks variables
        used = [n for n in bindings if re.search(rf"[?$]{re.escape(n)}\b", group)]
        if used:
            inserts[opening] = used
    out = sparql
    for opening, names in sorted(inserts.items(), reverse=True):
        values = f" VALUES ({' '.join('?' + n for n in names)}) {{ ({' '.join(_n3(bindings[n]) for n in names)}) }} "
        out = out[: opening + 1] + values + out[opening + 1:]
    return out


# Groups with a scope of their own: MINUS { … } and a sub-select's WHERE { … } (or `SELECT … {`).
_SCOPE_OPENING = re.compile(r"\bMINUS\s*\{|\bSELECT\b[^{}]*?\{", re.IGNORECASE)


_VALUES = re.compile(r"\bVALUES\b", re.IGNORECASE)


def matching_brace(bare: str, opening: int) -> int:
    """The index of the brace closing the one at `opening` (strings and comments blanked out)."""
    depth = 0
    for i in range(opening, len(bare)):
        if bare[i] == "{":
            depth += 1
        elif bare[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise QueryError("unbalanced braces in the query")


def values_first(sparql: str) -> str:
    """`sparql` with every VALUES block inside a group moved to the start of that group, for
    Virtuoso 7, whose compiler fails ("SQ156: Internal Optimized compiler error: unknown table
    for a column") when a VALUES block follows patterns that use its variables. A group is a
    join, so the answers stay the same unless a BIND, OPTIONAL or MINUS before the block reads
    its variables (none of aimsgraph's rules, shapes or queries do). A VALUES after the query's
    (or a subquery's) WHERE is left where it is."""
    done = 0
    while True:
        bare = _NOT_KEYWORDS.sub(lambda m: " " * len(m.group(0)), sparql)
        found = list(_VALUES.finditer(bare))
        if done >= len(found):
            return sparql
        keyword = found[done]
        done += 1
        end = matching_brace(bare, bare.find("{", keyword.end())) + 1
        depth, start = 0, None
        for i in range(keyword.start() - 1, -1, -1):
            if bare[i] == "}":
                depth += 1
            elif bare[i] == "{":
                if depth == 0:
                    start = i + 1
                    break
                depth -= 1
        if start is None or not sparql[start:keyword.start()].strip() or \
                bare[start:keyword.start()].lstrip().upper().startswith("SELECT"):  # a subquery's own VALUES
            continue
        sparql = (sparql[:start] + " " + sparql[keyword.start():end] + "\n" + sparql[start:keyword.start()]
                  + sparql[end:])


_OPTIONAL_MODIFY = re.compile(r"\s*DELETE\s*\{", re.IGNORECASE)


def split_optional_modify(sparql: str) -> str:
    """`DELETE { D } INSERT { I } WHERE { OPTIONAL { P } }` with a ground I (aimsgraph's commit)
    as `DELETE { D } WHERE { P } ; INSERT { I } WHERE { }`, for Virtuoso 7, which drops a
    solution whose DELETE template has unbound variables for the INSERT too, so the first commit
    of an organisation inserted nothing. Equivalent: P's matches are deleted, I inserted once;
    both in one request. Any other update is returned as it is."""
    bare = _NOT_KEYWORDS.sub(lambda m: " " * len(m.group(0)), sparql)
    head = _OPTIONAL_MODIFY.match(bare)
    if head is None:
        return sparql
    d_end = matching_brace(bare, head.end() - 1)
    rest = re.compile(r"\s*INSERT\s*\{", re.IGNORECASE).match(bare, d_end + 1)
    if rest is None:
        return sparql
    i_end = matching_brace(bare, rest.end() - 1)
    where = re.compile(r"\s*WHERE\s*\{\s*OPTIONAL\s*\{", re.IGNORECASE).match(bare, i_end + 1)
    if where is None:
        return sparql
    p_end = matching_brace(bare, where.end() - 1)
    literals = _NOT_KEYWORDS.pattern.rsplit("|[?$:]", 1)[0]  # comments, strings, IRIs: not variables
    if bare[p_end + 1:].replace("}", "", 1).strip() or \
            re.search(r"[?$]\w", re.sub(literals, " ", sparql[rest.end():i_end])):
        return sparql
    delete, insert = sparql[:d_end + 1], sparql[d_end + 1:i_end + 1]
    return f"{delete} WHERE {{ {sparql[where.end():p_end]} }} ;\n{insert} WHERE {{ }}"


_PLUS_PATH = re.compile(r"(\?\w+)(\s+)(<[^<>\"{}|^`\\\s]*>|[\w-]*:[\w.-]*)\+(\s+)(\?\w+)")


def unfold_plus_paths(sparql: str) -> str:
    """`?a P+ ?b` (both ends variables, P one IRI) as `?a P ?_plusN . ?_plusN P* ?b`, for
    Virtuoso 7, which refuses a transitive path none of whose ends is bound by an earlier triple
    pattern ("TR...: transitive start not given"; a VALUES block does not count). The same pairs
    (a pair reached through several first steps comes once per step: aimsgraph only ever collects
    such rows into sets)."""
    bare = _NOT_KEYWORDS.sub(lambda m: " " * len(m.group(0)), sparql)
    out, last = [], 0
    for n, m in enumerate(_PLUS_PATH.finditer(sparql)):
        plus = m.end(3)
        if bare[plus] != "+" or bare[m.start(1)] != " ":  # inside a string or comment: leave it
            continue
        step = f"?_plus{n}"
        out.append(sparql[last:m.start()] + f"{m.group(1)} {m.group(3)} {step} . {step} {m.group(3)}* {m.group(5)}")
        last = m.end()
    return "".join(out) + sparql[last:]


_ORDER_BY_VARIABLES = re.compile(r"\bORDER\s+BY((?:\s+\?\w+)+)\s*$", re.IGNORECASE)
_NUMERIC = {"http://www.w3.org/2001/XMLSchema#" + t for t in ("integer", "decimal", "double", "float", "int", "long", "short",
                                      "nonNegativeInteger", "positiveInteger", "negativeInteger",
                                      "nonPositiveInteger", "unsignedInt", "unsignedLong")}


def _sparql_order_key(term: Node | None) -> tuple:
    """SPARQL 1.1's ascending order (15.1): unbound, blank nodes, IRIs, literals; numbers by value."""
    if term is None:
        return (0, 0, 0.0, "")
    if isinstance(term, BNode):
        return (1, 0, 0.0, str(term))
    if isinstance(term, URIRef):
        return (2, 0, 0.0, str(term))
    if term.datatype is not None and str(term.datatype) in _NUMERIC:
        try:
            return (3, 0, float(term), "")
        except ValueError:
            pass
    return (3, 1, 0.0, str(term))


def resort(sparql: str, result: QueryResult) -> QueryResult:
    """A SELECT whose query ends in `ORDER BY ?a ?b …` (plain variables, no LIMIT or OFFSET)
    sorted again in SPARQL's order, for Virtuoso 7, which sorts literals before IRIs (a column
    holding both, such as a control's register id or its catalogue IRI, came out in another order)."""
    literals = _NOT_KEYWORDS.pattern.rsplit("|[?$:]", 1)[0]
    order = _ORDER_BY_VARIABLES.search(re.sub(literals, " ", sparql).rstrip().rstrip("}").rstrip()) \
        if result.kind == "select" else None
    if order is None:
        return result
    columns = [v[1:] for v in order.group(1).split()]
    result.rows.sort(key=lambda row: tuple(_sparql_order_key(row.get(c)) for c in columns))
    return result


DIALECTS = ("virtuoso",)
VIRTUOSO_PRAGMA = 'DEFINE sql:select-option "order"\n'
# Graphs a fresh Virtuoso holds for itself (besides those named after its own endpoint URL)
VIRTUOSO_SYSTEM_GRAPHS = ("http://www.openlinksw.com/schemas/virtrdf#", "http://www.w3.org/ns/ldp#")


class RemoteStore(Store):
    """A SPARQL 1.1 server: Protocol for queries and updates, Graph Store Protocol for loads.

    Works with Oxigraph server, Fuseki, GraphDB and Virtuoso. The pipeline reaches it through
    `GraphView`s (workspace.py), which name the graphs every request reads (dataset parameters
    for queries, USING for updates), so the server's own default graph does not matter; Oxigraph
    refuses USING when started with `--union-default-graph`, so start it without. Nothing but
    the URLs the user names is contacted."""

    persistent = True

    def __init__(self, query_url: str, update_url: str | None = None, graph_store_url: str | None = None,
                 timeout: float = 120.0, auth: str | None = None, retries: int = 3, backoff: float = 0.5,
                 dialect: str | None = None):
        """`auth`: an Authorization header value ("Bearer TOKEN", "Basic …"), user:password for
        basic auth, or "Digest user:password" to answer digest challenges; `timeout`: seconds one
        request may take (also sent to servers that take a timeout parameter); `retries`:
        attempts after a connection error, `backoff` seconds doubling between them (HTTP errors
        are never retried: the server answered); `dialect`:
        None for plain SPARQL 1.1 (Oxigraph), or a key of DIALECTS for a server's workarounds
        (docs/servers.md)."""
        if dialect not in (None, *DIALECTS):
            raise StoreError(f"unknown SPARQL server dialect '{dialect}' (choose {', '.join(DIALECTS)}, or none)")
        self.dialect = dialect
        base = query_url.rstrip("/")
        if dialect == "virtuoso":  # one endpoint for queries and updates, the GSP beside it
            # /sparql-auth and /sparql-graph-crud-auth are the same endpoints behind digest auth
            root, endpoint = base.rsplit("/", 1) if base.endswith(("/sparql", "/sparql-auth")) else (base, "sparql")
            base = f"{root}/{endpoint}"
            update_url = update_url or base
            graph_store_url = graph_store_url or (root + "/sparql-graph-crud" + endpoint.removeprefix("sparql"))
            self._system_graphs = (root + "/", *VIRTUOSO_SYSTEM_GRAPHS)
        elif base.endswith("/query") or base.endswith("/sparql"):
            root = base.rsplit("/", 1)[0]
        else:  # a server root such as http://127.0.0.1:7878 (Oxigraph's layout)
            root, base = base, base + "/query"
        self.query_url = base
        self.update_url = update_url or (root + "/update")
        self.graph_store_url = graph_store_url or (root + "/store")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        import urllib.request as urllib_request

        self.authorization, digest = _authorization(auth)
        self._open = urllib_request.urlopen
        if digest:  # the server challenges each request and urllib answers it (two round trips)
            passwords = urllib_request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, root, *digest)
            self._open = urllib_request.build_opener(urllib_request.HTTPDigestAuthHandler(passwords)).open
        self.bytes_sent = 0
        self.bytes_received = 0
        self.requests = 0

    def _request(self, url: str, body: bytes, content_type: str, accept: str = "*/*",
                 method: str = "POST", max_bytes: int | None = None) -> tuple[str, bytes]:
        import time as clock
        import urllib.error
        import urllib.request

        headers = {"Content-Type": content_type, "Accept": accept}
        if self.authorization:
            headers["Authorization"] = self.authorization
        where = url.split("?", 1)[0]
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with self._open(request, timeout=self.timeout) as response:  # noqa: S310 (user-named URL)
                    payload = response.read() if max_bytes is None else response.read(max_bytes + 1)
                    self.requests += 1
                    self.bytes_sent += len(body)
                    self.bytes_received += len(payload)
                    if max_bytes is not None and len(payload) > max_bytes:
                        raise ResultTooLarge(f"the answer is larger than the server's limit of {max_bytes:,} bytes; "
                                             "ask for fewer rows (LIMIT / OFFSET)")
                    return response.headers.get("Content-Type", ""), payload
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:500]
                if exc.code in (401, 403):
                    raise StoreError(f"{where} refused aimsgraph ({exc.code}): check the credentials "
                                     f"given with --store-auth; the server said: {detail}") from exc
                error = QueryError if exc.code in (400, 406, 415) else StoreError
                raise error(f"{where} answered {exc.code}: {detail}") from exc
            except TimeoutError as exc:
                raise StoreError(f"the SPARQL server at {where} did not answer within {self.timeout:g} s") from exc
            except OSError as exc:
                if attempt < self.retries:
                    clock.sleep(self.backoff * 2 ** attempt)
                    continue
                reason = getattr(exc, "reason", exc)
                raise StoreError(f"cannot reach the SPARQL server at {where} "
                                 f"(after {self.retries + 1} attempts): {reason}") from exc
        raise AssertionError("unreachable")

    def _form_query(self, text: str, params: list[tuple[str, str]], accept: str,
                    max_bytes: int | None = None) -> tuple[str, bytes]:
        """A query POSTed as an HTML form (Virtuoso 7 does not read an application/sparql-query
        body: the request hangs), the dataset parameters in the same form."""
        from urllib.parse import urlencode

        return self._in_order(text, lambda sent: self._request(
            self.query_url, urlencode([("query", sent), *params]).encode("utf-8"),
            "application/x-www-form-urlencoded", accept, max_bytes=max_bytes))

    def _in_order(self, text: str, send):
        """Virtuoso: `send` the request with the pragma that makes it join in the order written
        (its planner's own order made some OWL 2 RL updates 1000x slower, past two minutes on a
        busy machine); where its compiler fails in that mode (SQ156), once more without it. Not
        for requests with a `+` or `*` (a property path, or arithmetic, or SELECT *): in that
        mode a transitive path gave 1 row of 38."""
        literals = _NOT_KEYWORDS.pattern.rsplit("|[?$:]", 1)[0]
        if re.search(r"[+*]", re.sub(literals, " ", text)):
            return send(text)
        try:
            return send(VIRTUOSO_PRAGMA + text)
        except StoreError as exc:
            if "SQ156" not in str(exc):
                raise
            return send(text)

    def _prologue(self, sparql: str) -> str:
        from .namespaces import sparql_prologue

        if self.dialect == "virtuoso":
            return sparql_prologue() + unfold_plus_paths(values_first(sparql))
        return sparql_prologue() + sparql

    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        from urllib.parse import quote as url_quote

        media = {"turtle": "text/turtle", "ttl": "text/turtle", "nt": "application/n-triples",
                 "ntriples": "application/n-triples", "json-ld": "application/ld+json",
                 "jsonld": "application/ld+json", "xml": "application/rdf+xml",
                 "rdfxml": "application/rdf+xml"}.get(fmt)
        if media is None:
            raise StoreError(f"cannot send {fmt} to a graph store; use a triples format")
        body = data.encode("utf-8") if isinstance(data, str) else data
        self._request(f"{self.graph_store_url}?graph={url_quote(graph, safe='')}", body, media)

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        before = self.count(graph)
        batch = list(triples)
        for start in range(0, len(batch), INSERT_CHUNK):
            lines = "\n".join(f"{_n3(s)} {_n3(p)} {_n3(o)} ." for s, p, o in batch[start:start + INSERT_CHUNK])
            self.update(f"INSERT DATA {{ GRAPH <{graph}> {{\n{lines}\n}} }}")
        return self.count(graph) - before

    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        from urllib.parse import urlencode

        text = self._prologue(inline_bindings(sparql, bindings))
        url = self.query_url
        params = None
        if dataset is not None:  # SPARQL 1.1 Protocol dataset parameters override the server's default
            params = [("default-graph-uri", g) for g in dataset.default] + \
                     [("named-graph-uri", g) for g in dataset.named]
            url += "?" + urlencode(params)
        accept = "application/sparql-results+json, application/n-triples;q=0.9"
        if self.dialect == "virtuoso":  # it answers CONSTRUCT in JSON when JSON is acceptable
            form = _QUERY_FORM.search(_NOT_KEYWORDS.sub(lambda m: " " * len(m.group(0)), sparql))
            if form is not None and form.group(1).upper() in ("CONSTRUCT", "DESCRIBE"):
                accept = "application/n-triples"
            ctype, body = self._form_query(text, params or [], accept)
        else:
            ctype, body = self._request(url, text.encode("utf-8"), "application/sparql-query", accept)
        if "json" in ctype:
            import json

            doc = json.loads(body)
            if "boolean" in doc:
                return QueryResult("ask", boolean=bool(doc["boolean"]))
            names = doc["head"].get("vars", [])
            rows = [{k: _from_json_term(v) for k, v in b.items()} for b in doc["results"]["bindings"]]
            if self.dialect == "virtuoso":
                return resort(sparql, QueryResult("select", vars=names, rows=rows))
            return QueryResult("select", vars=names, rows=rows)
        g = rdflib.Graph()
        g.parse(data=body, format="nt")
        return QueryResult("construct", triples=list(g))

    def update(self, sparql: str) -> None:
        if self.dialect == "virtuoso":
            self._in_order(self._prologue(split_optional_modify(sparql)), lambda sent: self._request(
                self.update_url, sent.encode("utf-8"), "application/sparql-update"))
            return
        self._request(self.update_url, self._prologue(sparql).encode("utf-8"), "application/sparql-update")

    def answer(self, sparql: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_network: bool = False) -> Answer:
        """The server's own bytes and content type, passed through (rows are not counted: the
        size cap bounds what is read)."""
        from urllib.parse import urlencode

        from .sparql_guard import inspect_query

        inspect_query(sparql, allow_network, base_iri)
        params = [("default-graph-uri", g) for g in default_graphs or ()] + \
                 [("named-graph-uri", g) for g in named_graphs or ()]
        url = self.query_url + ("?" + urlencode(params) if params else "")
        text = self._prologue(sparql) if base_iri is None else f"BASE <{base_iri}>\n" + self._prologue(sparql)
        if self.dialect == "virtuoso":
            ctype, body = self._form_query(text, params, media_type, max_bytes=max_bytes)
        else:
            ctype, body = self._request(url, text.encode("utf-8"), "application/sparql-query", media_type,
                                        max_bytes=max_bytes)
        return Answer(body, ctype.split(";")[0].strip() or media_type)


    def triples(self, graph: str) -> list[Triple]:
        return self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").triples

    def count(self, graph: str) -> int:
        rows = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").rows
        return int(rows[0]["n"]) if rows else 0

    def clear(self, graph: str) -> None:
        self.update(f"CLEAR SILENT GRAPH <{graph}>")

    def graphs(self) -> list[str]:
        rows = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows
        names = (str(r["g"]) for r in rows if isinstance(r.get("g"), URIRef))
        if self.dialect == "virtuoso":  # leave out the server's own graphs
            names = (g for g in names if not g.startswith(self._system_graphs))
        return sorted(names)


AUTH_FORMS = "'Bearer TOKEN', 'Basic BASE64', user:password (basic) or 'Digest user:password'"


def _authorization(auth: str | None) -> tuple[str | None, tuple[str, str] | None]:
    """From `--store-auth`: the Authorization header every request carries ("Bearer …" or
    "Basic …" as given, user:password as basic auth), or the (user, password) that answers a
    server's digest challenges ("Digest user:password", e.g. Virtuoso's /sparql-auth)."""
    if not auth:
        return None, None
    scheme, _, rest = auth.partition(" ")
    if scheme in ("Bearer", "Basic") and rest:
        return auth, None
    if scheme == "Digest" and ":" in rest:
        user, _, password = rest.partition(":")
        return None, (user, password)
    if " " in auth or ":" not in auth:
        raise StoreError(f"--store-auth takes {AUTH_FORMS}")
    import base64

    return "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii"), None


def _from_json_term(value: dict) -> Node:
    """A term of the SPARQL 1.1 JSON results format as an rdflib term."""
    kind = value["type"]
    if kind == "uri":
        return URIRef(value["value"])
    if kind == "bnode":
        return BNode(value["value"])
    if "xml:lang" in value:
        return Literal(value["value"], lang=value["xml:lang"])
    datatype = value.get("datatype")
    if datatype and datatype != "http://www.w3.org/2001/XMLSchema#string":
        return Literal(value["value"], datatype=URIRef(datatype))
    return Literal(value["value"])


class GraphView(Store):
    """Some graphs of another store under the names the pipeline uses.

    An organisation's analysis lives in versioned graphs of a persistent store
    (`…/org/acme/v3/data`, …); the stages read and write GRAPH_DATA, GRAPH_INFERRED and
    GRAPH_PARAMETERS. A view maps those logical names (and the reasoner's delta graphs) to the
    physical ones in every argument, query text, binding and result, and restricts queries and
    updates to the mapped graphs plus the shared ones (ontology, catalogues), so another
    organisation or version is never read."""

    def __init__(self, base: Store, mapping: Mapping[str, str], shared: Iterable[str],
                 delta_prefix: tuple[str, str] | None = None, read_only: bool = False):
        self.base = base
        self.mapping = dict(mapping)
        self.shared = tuple(shared)
        self.delta_prefix = delta_prefix  # (logical prefix, physical prefix) of delta graphs
        self.read_only = read_only
        self.reasons_in_place = base.reasons_in_place
        self.persistent = base.persistent
        self.reverse = {v: k for k, v in self.mapping.items()}
        self.deltas: set[str] = set()  # delta graphs written through this view: readable by it

    # names -------------------------------------------------------------------------------------
    def physical(self, graph: str) -> str:
        if graph in self.mapping:
            return self.mapping[graph]
        if self.delta_prefix and graph.startswith(self.delta_prefix[0]):
            return self.delta_prefix[1] + graph[len(self.delta_prefix[0]):]
        return graph

    def logical(self, graph: str) -> str:
        if graph in self.reverse:
            return self.reverse[graph]
        if self.delta_prefix and graph.startswith(self.delta_prefix[1]):
            return self.delta_prefix[0] + graph[len(self.delta_prefix[1]):]
        return graph

    def _text(self, sparql: str) -> str:
        """Logical graph IRIs written in a query or update (`<…/graph/inferred>`) made physical."""
        for logical, physical in self.mapping.items():
            sparql = sparql.replace(f"<{logical}>", f"<{physical}>")
        if self.delta_prefix:
            sparql = sparql.replace(f"<{self.delta_prefix[0]}", f"<{self.delta_prefix[1]}")
        return sparql

    def _term_in(self, term: Node) -> Node:
        return URIRef(self.physical(str(term))) if isinstance(term, URIRef) else term

    def _term_out(self, term: Node) -> Node:
        return URIRef(self.logical(str(term))) if isinstance(term, URIRef) else term

    def dataset(self, named: Iterable[str] = ()) -> Dataset:
        """The shared and mapped graphs, plus `named` (e.g. the reasoner's delta of the last round)."""
        graphs = (*self.shared, *self.mapping.values(), *sorted(self.deltas))
        extra = tuple(self.physical(g) for g in named)
        return Dataset(default=graphs + extra, named=graphs + extra)

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError("this view of the store is read-only")

    # the Store interface ---------------------------------------------------------------------------
    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        self._writable()
        self.base.load(data, fmt, self.physical(graph))

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        self._writable()
        return self.base.add(self.physical(graph), triples)

    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        bound = {k: self._term_in(v) for k, v in (bindings or {}).items()}
        result = self.base.query(self._text(sparql), bound, dataset or self.dataset())
        if result.kind == "select":
            result.rows = [{k: self._term_out(v) for k, v in row.items()} for row in result.rows]
        return result

    def update(self, sparql: str) -> None:
        self._writable()
        self.base.update(self._text(sparql))

    def answer(self, sparql: str, media_type: str, *, default_graphs: Iterable[str] | None = None,
               named_graphs: Iterable[str] | None = None, base_iri: str | None = None,
               max_rows: int | None = None, max_bytes: int | None = None,
               allow_network: bool = False) -> Answer:
        """As the base store answers, within the view's graphs: a Protocol or FROM dataset is
        mapped to physical names and kept to the view's graphs, else the view's dataset. (Graph
        names bound in the answer stay physical: the serialised bytes are the engine's own.)"""
        from .sparql_guard import inspect_query

        info = inspect_query(sparql, allow_network, base_iri)
        mine = set(self.dataset().default)
        if default_graphs is None and named_graphs is None and info.has_dataset:
            default_graphs, named_graphs = info.default_graphs, info.named_graphs
        if default_graphs is None and named_graphs is None:
            default = named = list(self.dataset().default)
        else:
            default = [g for g in (self.physical(g) for g in default_graphs or ()) if g in mine]
            named = [g for g in (self.physical(g) for g in named_graphs or ()) if g in mine]
        return self.base.answer(self._text(sparql), media_type, default_graphs=default, named_graphs=named,
                                base_iri=base_iri, max_rows=max_rows, max_bytes=max_bytes,
                                allow_network=allow_network)

    def insert_where(self, graph: str, template: str, where: str, named: Iterable[str] = (),
                     dataset: Dataset | None = None) -> None:
        self._writable()
        if self.delta_prefix and graph.startswith(self.delta_prefix[0]):
            self.deltas.add(self.physical(graph))
        self.base.insert_where(self.physical(graph), self._text(template), self._text(where),
                               named=[self.physical(g) for g in named], dataset=dataset or self.dataset(named))

    def add_graph(self, source: str, target: str) -> None:
        self._writable()
        self.base.add_graph(self.physical(source), self.physical(target))

    def triples(self, graph: str) -> list[Triple]:
        return self.base.triples(self.physical(graph))

    def count(self, graph: str) -> int:
        return self.base.count(self.physical(graph))

    def has(self, triple: Triple) -> bool:
        return Store.has(self, triple)

    def clear(self, graph: str) -> None:
        self._writable()
        self.base.clear(self.physical(graph))

    def graphs(self) -> list[str]:
        mine = set(self.shared) | set(self.mapping.values())
        return sorted(self.logical(g) for g in self.base.graphs()
                      if g in mine or (self.delta_prefix and g.startswith(self.delta_prefix[1])))


def _copy_quads(source: ox.Store, target: ox.Store, graphs: dict[str, str], renamed: dict[str, str],
                bulk: bool) -> int:
    """The triples of each source graph (keys of `graphs`) into the target graph it names, an IRI
    in `renamed` replaced by its value; terms go over as they are, so a blank node stays one
    node across graphs (a dump and a load per graph would give it a new name in each)."""
    names = {ox.NamedNode(a): ox.NamedNode(b) for a, b in graphs.items()}
    swaps = {ox.NamedNode(a): ox.NamedNode(b) for a, b in renamed.items()}
    written = 0

    def quads():
        nonlocal written
        get = swaps.get
        for graph, name in names.items():
            for q in source.quads_for_pattern(None, None, None, graph):
                written += 1
                s, o = q.subject, q.object
                yield ox.Quad(get(s, s), q.predicate, get(o, o), name)

    (target.bulk_extend if bulk else target.extend)(quads())
    return written


def copy_into_view(source: "OxigraphStore", target: "GraphView", skip: Iterable[str] = ()) -> int:
    """Every graph of `source` but those in `skip` into `target` (a view over an embedded store)
    under the same logical names, in one bulk load, as the view's own updates would store them
    (an IRI naming one of its graphs under its physical name: GraphView._text); returns the
    number of triples written. Not transactional: for graphs no reader sees yet (a new version's,
    before its commit)."""
    if not isinstance(target.base, OxigraphStore):
        raise StoreError("copy_into_view writes to an embedded store")
    skipped = set(skip)
    graphs = {g: target.physical(g) for g in source.graphs() if g not in skipped}
    return _copy_quads(source.native, target.base.native, graphs, dict(target.mapping), bulk=True)


def copy_from_view(source: "GraphView", graphs: Iterable[str]) -> "OxigraphStore":
    """A new in-memory store holding `graphs` of `source` (a view over an embedded store) under
    their logical names, as reading them through the view gives them."""
    if not isinstance(source.base, OxigraphStore):
        raise StoreError("copy_from_view reads an embedded store")
    copy = OxigraphStore()
    _copy_quads(source.base.native, copy.native, {source.physical(g): g for g in graphs},
                {physical: logical for logical, physical in source.mapping.items()}, bulk=False)
    return copy


def open_store(engine: str = "oxigraph", path: str | None = None, *, auth: str | None = None,
               timeout: float = 120.0, dialect: str | None = None) -> Store:
    """The store named by `engine`: 'oxigraph' (default, embedded; on disk at `path`), 'rdflib'
    (reference), or the URL of a SPARQL server (its query endpoint or its root; `auth`, `timeout`
    and `dialect` apply to it; `dialect` defaults to $AIMSGRAPH_STORE_DIALECT, e.g. virtuoso)."""
    if engine.startswith(("http://", "https://")):
        if path:
            raise StoreError("--store-dir is for the embedded store; a SPARQL server keeps its own data")
        dialect = dialect or os.environ.get("AIMSGRAPH_STORE_DIALECT") or None
        return RemoteStore(engine, timeout=timeout, auth=auth, dialect=None if dialect == "none" else dialect)
    if auth:
        raise StoreError("--store-auth is for a SPARQL server (--store URL)")
    if dialect:
        raise StoreError("--store-dialect is for a SPARQL server (--store URL)")
    if engine == "oxigraph":
        return OxigraphStore(path)
    if engine == "rdflib":
        if path:
            raise StoreError("the rdflib reference store keeps data in memory only; drop --store-dir")
        return RdflibStore()
    raise StoreError(f"unknown store engine '{engine}' (choose oxigraph, rdflib or a SPARQL server URL)")
