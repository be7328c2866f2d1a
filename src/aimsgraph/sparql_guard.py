"""What a SPARQL query or update is, decided by a real parser before any store sees it.

Every query or update from outside (the HTTP API, `aimsgraph query --file`) passes
`inspect_query` or `inspect_update` first. rdflib's SPARQL 1.1 parser builds the parse tree,
and the guard walks all of it, so nothing that hides a keyword from a text match hides it
here: comments, `\\uXXXX` escapes (expanded by the parser, as SPARQL 1.1 says), missing
spaces (`?x.SERVICE`), sub-selects, EXISTS / NOT EXISTS, MINUS, OPTIONAL, nested groups and
updates' WHERE clauses.

Refused unless the caller allows network access: `SERVICE` anywhere (it makes the engine open
a connection to any address, with a variable endpoint even to one taken from the data) and
`LOAD` (it fetches a document). Dataset clauses (`FROM`, `FROM NAMED`; `USING`, `WITH` in
updates) are reported, resolved to absolute IRIs, so the store can choose among its own named
graphs and never fetch one.

rdflib accepts a few queries the SPARQL grammar forbids (e.g. a BIND rebinding an in-scope
variable); the store's own parser rejects those when it runs them, so a query must satisfy
both. The guard never rejects a query of the W3C syntax suite that the grammar allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from .errors import NetworkAccessError, QueryError
from .limits import shorten
from .namespaces import PREFIXES

QUERY_FORMS = {"SelectQuery": "select", "AskQuery": "ask", "ConstructQuery": "construct",
               "DescribeQuery": "describe"}
# Update operations that name graphs they write (target / graphiri / iri keys of the parse tree).
_XSD = "http://www.w3.org/2001/XMLSchema#"
_GRAPH_MANAGEMENT = {"Clear", "Drop", "Create", "Add", "Move", "Copy", "Load"}


@dataclass(frozen=True)
class Inspected:
    """What the guard found: the query form (select, ask, construct, describe; "update" for
    updates), the dataset the text names itself (absolute IRIs), and for updates the graphs
    it names as targets."""

    form: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    has_dataset: bool = False  # FROM / FROM NAMED, or USING / USING NAMED / WITH in an update
    operations: tuple[str, ...] = ()  # update operation names, in order (Modify, InsertData, ...)
    modify_with_dataset: tuple[bool, ...] = ()  # per Modify operation: has its own USING / WITH
    targets: tuple[str, ...] = ()  # graph IRIs an update names (GRAPH in templates, CLEAR <g> ...)
    functions: tuple[str, ...] = ()  # extension functions called (IRIs outside the XSD casts)

    @property
    def returns_graph(self) -> bool:
        return self.form in ("construct", "describe")


def _children(node) -> Iterator:
    if isinstance(node, dict):  # CompValue is an OrderedDict
        yield from node.values()
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ParseResults":
        yield from node


def _walk(node) -> Iterator:
    """Every node of a parse tree, depth first, without recursion (a deep query cannot
    overflow the stack here)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(_children(current))))


def _name(node) -> str | None:
    return getattr(node, "name", None) if isinstance(node, dict) else None


def _refuse_network(tree, allow_network: bool) -> None:
    if allow_network:
        return
    for node in _walk(tree):
        name = _name(node)
        if name == "ServiceGraphPattern":
            raise NetworkAccessError(
                "SERVICE would make the server connect to another address, which aimsgraph does not "
                "do unless it is allowed (--allow-service on the command line or the server)")
        if name == "Load":
            raise NetworkAccessError(
                "LOAD would fetch a document from the network, which aimsgraph does not do unless it is "
                "allowed (--allow-service on the command line or the server)")


def _syntax_error(exc: Exception, what: str) -> QueryError:
    if isinstance(exc, RecursionError):
        return QueryError(f"the SPARQL {what} nests too deeply to be read")
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return QueryError(f"SPARQL syntax error: {shorten(message, 200)}")


def _prologue(parsed_prologue, base: str | None):
    from rdflib.plugins.sparql.algebra import translatePrologue

    return translatePrologue(parsed_prologue, base or None, initNs=PREFIXES)


def _iri(prologue, term) -> str:
    try:
        return str(prologue.absolutize(term))
    except Exception as exc:  # an unknown prefix
        raise QueryError(shorten(str(exc), 200)) from None


@lru_cache(maxsize=512)
def inspect_query(text: str, allow_network: bool = False, base: str | None = None) -> Inspected:
    """Parse a SPARQL query (never an update): its form and the dataset it names. Raises
    QueryError for a syntax error and NetworkAccessError for SERVICE unless `allow_network`."""
    from rdflib.plugins.sparql import parser

    try:
        parsed = parser.parseQuery(text)
    except Exception as exc:  # pyparsing's ParseException and whatever the grammar actions raise
        raise _syntax_error(exc, "query") from None
    except RecursionError as exc:  # pragma: no cover - RecursionError is an Exception; kept explicit
        raise _syntax_error(exc, "query") from None
    _refuse_network(parsed, allow_network)
    query = parsed[1]
    form = QUERY_FORMS.get(_name(query) or "")
    if form is None:
        raise QueryError("not a SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)")
    clauses = dict.get(query, "datasetClause") or []
    calls = [node["iri"] for node in _walk(query) if _name(node) == "Function" and dict.get(node, "iri") is not None]
    if not clauses and not calls:
        return Inspected(form)
    prologue = _prologue(parsed[0], base)
    functions = []
    for call in calls:
        try:
            iri = str(prologue.absolutize(call))
        except Exception:  # noqa: BLE001 - an unknown prefix: the store's parser says so
            continue
        if not iri.startswith(_XSD):
            functions.append(iri)
    default = tuple(_iri(prologue, c["default"]) for c in clauses if dict.get(c, "default") is not None)
    named = tuple(_iri(prologue, c["named"]) for c in clauses if dict.get(c, "named") is not None)
    return Inspected(form, default, named, bool(clauses), functions=tuple(dict.fromkeys(functions)))


def _graph_terms(node) -> Iterable:
    """Graph IRIs an update operation names as places it writes or manages."""
    name = _name(node)
    if name in _GRAPH_MANAGEMENT:
        values = [dict.get(node, "graphiri"), dict.get(node, "iri") if name != "Load" else None,
                  *(dict.get(node, "graph") or [])]
        for value in values:
            if value is not None and not (isinstance(value, str) and value in ("ALL", "NAMED", "DEFAULT")):
                yield value
    for part in ("insert", "delete", "quads"):
        block = dict.get(node, part) if isinstance(node, dict) else None
        if block is None:
            continue
        for sub in _walk(block):
            if _name(sub) == "QuadsNotTriples":
                yield sub["term"]
    if dict.get(node, "withClause") is not None:
        yield node["withClause"]


@lru_cache(maxsize=128)
def inspect_update(text: str, allow_network: bool = False, base: str | None = None) -> Inspected:
    """Parse a SPARQL update: its operations, whether each DELETE/INSERT names its own dataset,
    and every graph it names as a target. Raises QueryError / NetworkAccessError as
    `inspect_query` does (LOAD counts as network access)."""
    from rdflib.plugins.sparql import parser

    try:
        parsed = parser.parseUpdate(text)
    except Exception as exc:
        raise _syntax_error(exc, "update") from None
    _refuse_network(parsed, allow_network)
    requests = list(dict.get(parsed, "request") or [])
    prologues = list(dict.get(parsed, "prologue") or [])
    operations, with_dataset, targets = [], [], []
    has_dataset = False
    for index, op in enumerate(requests):
        operations.append(_name(op) or "")
        prologue = _prologue(prologues[min(index, len(prologues) - 1)] if prologues else [], base)
        if _name(op) == "Modify":
            own = bool(dict.get(op, "using")) or dict.get(op, "withClause") is not None
            with_dataset.append(own)
            has_dataset = has_dataset or own
        for term in _graph_terms(op):
            if type(term).__name__ != "Variable":
                targets.append(_iri(prologue, term))
    return Inspected("update", has_dataset=has_dataset, operations=tuple(operations),
                     modify_with_dataset=tuple(with_dataset), targets=tuple(dict.fromkeys(targets)))


def forbid_network(sparql: str) -> None:
    """Refuse a query or update that would reach the network (SERVICE, LOAD) or that cannot be
    parsed as either; what `aimsgraph query --file` and the API check before running anything."""
    try:
        inspect_query(sparql)
    except NetworkAccessError:
        raise
    except QueryError as query_error:
        try:
            inspect_update(sparql)
        except NetworkAccessError:
            raise
        except QueryError:
            raise query_error from None


# --- adding USING clauses to an update's DELETE/INSERT operations --------------------------------

_TOKEN = re.compile(
    r'(?P<skip>#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\x00-\x20]*>|[?$][\w]+)'
    r'|(?P<open>\{)|(?P<close>\})|(?P<semi>;)|(?P<word>[A-Za-z_][\w.:-]*)', re.DOTALL)


def add_using(text: str, default_graphs: Iterable[str], named_graphs: Iterable[str]) -> str:
    """`text` (an update the guard has accepted) with `USING <g>` and `USING NAMED <g>` before
    the WHERE of every DELETE/INSERT ... WHERE operation: the SPARQL 1.1 Protocol's
    `using-graph-uri` / `using-named-graph-uri`. The caller has refused updates whose
    operations name their own dataset."""
    clause = " ".join([f"USING <{g}>" for g in default_graphs] + [f"USING NAMED <{g}>" for g in named_graphs])
    if not clause:
        return text
    depth, previous, cuts = 0, "", []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
        elif kind == "word" and depth == 0:
            word = match.group().upper()
            if word == "WHERE" and previous != "DELETE":
                cuts.append(match.start())
            previous = word
        if kind in ("open", "close", "semi"):
            previous = kind
    for cut in reversed(cuts):
        text = text[:cut] + clause + " " + text[cut:]
    return text
