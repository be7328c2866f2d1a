"""The one interface every stage uses to reach the data: load RDF into a named graph, add
triples, run a SPARQL query, run a SPARQL update, dump a graph.

Terms cross the interface as rdflib terms (URIRef, Literal, BNode), the reference stack's
vocabulary. `OxigraphStore` (pyoxigraph, embedded, in memory or on disk) is the default;
`RdflibStore` is the reference engine the tests compare it against. Queries see the union of
all named graphs as their default graph, so the product's questions need no GRAPH clauses.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

import pyoxigraph as ox
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

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

    @abstractmethod
    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        """Run a SPARQL query over the union of all graphs (or over `dataset`); `bindings`
        pre-bind variables."""

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
            raise StoreError(f"cannot open the store in {path}: {exc} (is another aimsgraph using it?)") from exc
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

    def load(self, data: str | bytes, fmt: str, graph: str) -> None:
        self._store.load(data, format=FORMAT_NAMES[fmt], to_graph=ox.NamedNode(graph))

    def add(self, graph: str, triples: Iterable[Triple]) -> int:
        g = ox.NamedNode(graph)
        quads = [ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), g) for s, p, o in triples]
        before = sum(1 for _ in self._store.quads_for_pattern(None, None, None, g))
        self._store.extend(quads)
        after = sum(1 for _ in self._store.quads_for_pattern(None, None, None, g))
        return after - before

    def query(self, sparql: str, bindings: Bindings | None = None, dataset: Dataset | None = None) -> QueryResult:
        subs = {ox.Variable(k): _to_ox(v) for k, v in (bindings or {}).items()}
        try:
            res = self._store.query(
                sparql, prefixes=PREFIXES, substitutions=subs or None, **self._dataset_options(dataset)
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
            # Rows repeat the same terms (a system, a status, a date) over and over, and building an
            # rdflib Literal parses its lexical form: each distinct term is converted once per result.
            seen: dict = {}

            def term(t):
                converted = seen.get(t)
                if converted is None:
                    converted = seen[t] = from_ox_term(t)
                return converted

            rows = [{n: term(t) for n, t in zip(names, sol) if t is not None} for sol in res]  # unpacking a
            # solution is 3x faster than looking its variables up by name
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
    names = list(bindings)
    values = (f" VALUES ({' '.join('?' + n for n in names)}) {{ ({' '.join(_n3(bindings[n]) for n in names)}) }} ")
    return sparql[: brace + 1] + values + sparql[brace + 1:]


class RemoteStore(Store):
    """A SPARQL 1.1 server: Protocol for queries and updates, Graph Store Protocol for loads.

    Works with Oxigraph server, Fuseki, GraphDB and Virtuoso. The pipeline reaches it through
    `GraphView`s (workspace.py), which name the graphs every request reads (dataset parameters
    for queries, USING for updates), so the server's own default graph does not matter; Oxigraph
    refuses USING when started with `--union-default-graph`, so start it without. Nothing but
    the URLs the user names is contacted."""

    persistent = True

    def __init__(self, query_url: str, update_url: str | None = None, graph_store_url: str | None = None,
                 timeout: float = 120.0, auth: str | None = None, retries: int = 3, backoff: float = 0.5):
        """`auth`: an Authorization header value ("Bearer TOKEN", "Basic …"), or user:password for
        basic auth; `timeout`: seconds one request may take (also sent to servers that take a
        timeout parameter); `retries`: attempts after a connection error, `backoff` seconds
        doubling between them (HTTP errors are never retried: the server answered)."""
        base = query_url.rstrip("/")
        if base.endswith("/query") or base.endswith("/sparql"):
            root = base.rsplit("/", 1)[0]
        else:  # a server root such as http://127.0.0.1:7878 (Oxigraph's layout)
            root, base = base, base + "/query"
        self.query_url = base
        self.update_url = update_url or (root + "/update")
        self.graph_store_url = graph_store_url or (root + "/store")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.authorization = _authorization(auth)
        self.bytes_sent = 0
        self.bytes_received = 0
        self.requests = 0

    def _request(self, url: str, body: bytes, content_type: str, accept: str = "*/*",
                 method: str = "POST") -> tuple[str, bytes]:
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
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (user-named URL)
                    payload = response.read()
                    self.requests += 1
                    self.bytes_sent += len(body)
                    self.bytes_received += len(payload)
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

    def _prologue(self, sparql: str) -> str:
        from .namespaces import sparql_prologue

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
        if dataset is not None:  # SPARQL 1.1 Protocol dataset parameters override the server's default
            url += "?" + urlencode([("default-graph-uri", g) for g in dataset.default]
                                   + [("named-graph-uri", g) for g in dataset.named])
        ctype, body = self._request(url, text.encode("utf-8"), "application/sparql-query",
                                    "application/sparql-results+json, application/n-triples;q=0.9")
        if "json" in ctype:
            import json

            doc = json.loads(body)
            if "boolean" in doc:
                return QueryResult("ask", boolean=bool(doc["boolean"]))
            names = doc["head"].get("vars", [])
            rows = [{k: _from_json_term(v) for k, v in b.items()} for b in doc["results"]["bindings"]]
            return QueryResult("select", vars=names, rows=rows)
        g = rdflib.Graph()
        g.parse(data=body, format="nt")
        return QueryResult("construct", triples=list(g))

    def update(self, sparql: str) -> None:
        self._request(self.update_url, self._prologue(sparql).encode("utf-8"), "application/sparql-update")

    def triples(self, graph: str) -> list[Triple]:
        return self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").triples

    def count(self, graph: str) -> int:
        rows = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}").rows
        return int(rows[0]["n"]) if rows else 0

    def clear(self, graph: str) -> None:
        self.update(f"CLEAR SILENT GRAPH <{graph}>")

    def graphs(self) -> list[str]:
        rows = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }").rows
        return sorted(str(r["g"]) for r in rows if isinstance(r.get("g"), URIRef))


def _authorization(auth: str | None) -> str | None:
    """An Authorization header from `--store-auth`: "Bearer …" or "Basic …" as given, else
    user:password for basic auth."""
    if not auth:
        return None
    if auth.split(" ", 1)[0] in ("Bearer", "Basic"):
        return auth
    if ":" not in auth:
        raise StoreError("--store-auth takes 'Bearer TOKEN', 'Basic BASE64' or user:password")
    import base64

    return "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii")


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


def open_store(engine: str = "oxigraph", path: str | None = None, *, auth: str | None = None,
               timeout: float = 120.0) -> Store:
    """The store named by `engine`: 'oxigraph' (default, embedded; on disk at `path`), 'rdflib'
    (reference), or the URL of a SPARQL server (its query endpoint or its root; `auth` and
    `timeout` apply to it)."""
    if engine.startswith(("http://", "https://")):
        if path:
            raise StoreError("--store-dir is for the embedded store; a SPARQL server keeps its own data")
        return RemoteStore(engine, timeout=timeout, auth=auth)
    if auth:
        raise StoreError("--store-auth is for a SPARQL server (--store URL)")
    if engine == "oxigraph":
        return OxigraphStore(path)
    if engine == "rdflib":
        if path:
            raise StoreError("the rdflib reference store keeps data in memory only; drop --store-dir")
        return RdflibStore()
    raise StoreError(f"unknown store engine '{engine}' (choose oxigraph, rdflib or a SPARQL server URL)")
