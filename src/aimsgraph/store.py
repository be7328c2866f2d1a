"""The one interface every stage uses to reach the data: load RDF into a named graph, add
triples, run a SPARQL query, run a SPARQL update, dump a graph.

Terms cross the interface as rdflib terms (URIRef, Literal, BNode), the reference stack's
vocabulary. `OxigraphStore` (pyoxigraph, embedded, in memory or on disk) is the default;
`RdflibStore` is the reference engine the tests compare it against. Queries see the union of
all named graphs as their default graph, so the product's questions need no GRAPH clauses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

import re

from .errors import NetworkAccessError, QueryError, StoreError
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


# What may hide the keywords SERVICE and LOAD without being them: comments, strings, IRIs, and
# names such as ?service or ex:load. Removed before the keywords are looked for.
_NOT_KEYWORDS = re.compile(
    r'#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|[?$:][\w.-]*|[\w-]+:[\w.-]*')
_NETWORK_KEYWORDS = re.compile(r"\b(SERVICE|LOAD)\b", re.IGNORECASE)


def forbid_network(sparql: str) -> None:
    """Refuse SPARQL that would fetch from the network (SERVICE in a query, LOAD in an update):
    aimsgraph reaches out only to URLs the user names as a store or allows explicitly."""
    bare = _NOT_KEYWORDS.sub(" ", sparql)
    hit = _NETWORK_KEYWORDS.search(bare)
    if hit:
        raise NetworkAccessError(
            f"{hit.group(1).upper()} would fetch from the network, which aimsgraph does not do unless "
            "you allow it (--allow-service on the command line or the server)")


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


class Store(ABC):
    """What the pipeline needs from a triple store, and nothing more."""

    @abstractmethod
    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        """Parse `data` (format name as in FORMAT_NAMES) into the named graph `graph`."""

    @abstractmethod
    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        """Add triples to `graph`; returns how many were new."""

    @abstractmethod
    def query(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        """Run a SPARQL query over the union of all graphs; `bindings` pre-bind variables."""

    @abstractmethod
    def update(self, sparql: str) -> None:
        """Run a SPARQL update."""

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


def from_ox_term(term) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        dt = term.datatype.value
        if dt == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(dt))
    raise StoreError(f"unsupported term {term!r}")


class OxigraphStore(Store):
    """Embedded pyoxigraph store: in memory by default, on disk when given a folder."""

    def __init__(self, path: str | None = None):
        try:
            self._store = ox.Store(path) if path else ox.Store()
        except OSError as exc:  # locked or unreadable folder
            raise StoreError(f"cannot open store at {path}: {exc}") from exc

    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        self._store.load(data, format=FORMAT_NAMES[fmt], to_graph=ox.NamedNode(graph))

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        g = ox.NamedNode(graph)
        quads = [ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), g) for s, p, o in triples]
        before = sum(1 for _ in self._store.quads_for_pattern(None, None, None, g))
        self._store.extend(quads)
        after = sum(1 for _ in self._store.quads_for_pattern(None, None, None, g))
        return after - before

    def query(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
        subs = {ox.Variable(k): _to_ox(v) for k, v in (bindings or {}).items()}
        try:
            res = self._store.query(
                sparql, use_default_graph_as_union=True, prefixes=PREFIXES, substitutions=subs or None
            )
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise QueryError(str(exc)) from exc
        except RuntimeError as exc:  # e.g. a bound variable that the SELECT does not project
            hint = " (a parameter must appear in the SELECT clause to be bound)" if "projection" in str(exc) else ""
            raise QueryError(f"{exc}{hint}") from exc
        if isinstance(res, (bool, ox.QueryBoolean)):
            return QueryResult("ask", boolean=bool(res))
        if isinstance(res, ox.QuerySolutions):
            names = [v.value for v in res.variables]
            rows = []
            for sol in res:
                row = {}
                for n in names:
                    t = sol[n]
                    if t is not None:
                        row[n] = from_ox_term(t)
                rows.append(row)
            return QueryResult("select", vars=names, rows=rows)
        return QueryResult(
            "construct", triples=[(from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object)) for t in res]
        )

    def update(self, sparql: str) -> None:
        try:
            self._store.update(sparql, prefixes=PREFIXES)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise QueryError(str(exc)) from exc

    def triples(self, graph: str) -> list[Triple]:
        return [
            (from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object))
            for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        ]

    def count(self, graph: str) -> int:
        return sum(1 for _ in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))

    def has(self, triple: Triple) -> bool:
        s, p, o = (_to_ox(t) for t in triple)
        return next(iter(self._store.quads_for_pattern(s, p, o)), None) is not None

    def clear(self, graph: str) -> None:
        g = ox.NamedNode(graph)
        if self._store.contains_named_graph(g):
            self._store.remove_graph(g)

    def graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))


class RdflibStore(Store):
    """Reference engine: an rdflib Dataset whose default graph is the union of named graphs."""

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

    def query(self, sparql: str, bindings: Bindings | None = None) -> QueryResult:
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

    def triples(self, graph: str) -> list[Triple]:
        return list(self._graph(graph))

    def clear(self, graph: str) -> None:
        self._ds.remove_graph(URIRef(graph))

    def graphs(self) -> list[str]:
        return sorted(str(g.identifier) for g in self._ds.graphs() if len(g) and isinstance(g.identifier, URIRef)
                      and str(g.identifier) != "urn:x-rdflib:default")


def open_store(engine: str = "oxigraph", path: str | None = None) -> Store:
    """The store named by `engine`: 'oxigraph' (default, embedded) or 'rdflib' (reference)."""
    if engine == "oxigraph":
        return OxigraphStore(path)
    if engine == "rdflib":
        if path:
            raise StoreError("the rdflib engine keeps data in memory only; drop --store-path")
        return RdflibStore()
    raise StoreError(f"unknown store engine '{engine}' (choose oxigraph or rdflib)")
