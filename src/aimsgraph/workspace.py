"""Where organisations' analyses live in a persistent store (on disk or a SPARQL server), and how
one is replaced so that a reader never sees half of it.

Layout (named graphs; `…/` is https://w3id.org/aimsgraph/graph/):
- `…/packaged/<hash>/ontology`, `…/packaged/<hash>/catalogues`: the shipped ontology and
  catalogues, once per version of them, shared by every organisation;
- `…/org/<org>/<data version>/data`: the organisation's register as RDF;
- `…/org/<org>/<reasoning version>/inferred` and `…/parameters`: what the reasoner derived from
  that data at the run's parameters (as-of date, windows), and those parameters;
- `…/control`: for each organisation `<…/org/<org>>`, which data, reasoning and packaged
  versions are current.

A load writes new versions beside the current ones, then changes the organisation's control
triples in one SPARQL update: that update is the commit. Killed before it, the store still holds
the previous state (the half-written versions are ignored and swept away by the next load);
after it, the new one. Stale versions are dropped after the commit. Every stage reads and writes
through a `GraphView` of one version, under the logical graph names (GRAPH_DATA, …), and sees
nothing of other organisations.

The in-memory stores (the default for one-shot commands, and the rdflib reference) keep the flat
layout: a process that dies takes its store with it, so there is nothing to commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rdflib import Literal, URIRef

from .errors import InputError, StoreError
from .namespaces import AIMS, GRAPH_BASE, GRAPH_CATALOGUES, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_PARAMETERS
from .owl import DELTA_GRAPH
from .store import GraphView, Store

T = TypeVar("T")
CONTROL_GRAPH = GRAPH_BASE + "control"
ORG_BASE = GRAPH_BASE + "org/"
PACKAGED_BASE = GRAPH_BASE + "packaged/"
ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")  # the register's id syntax


@dataclass(frozen=True)
class Version:
    """Which graphs hold one organisation's analysis."""

    org: str
    data: str
    reasoning: str
    packaged: str
    increment: int = 0  # increments made in place on this reasoning version (incremental.py)
    pending: bool = False  # an increment started and did not finish (see begin_increment)

    def mapping(self) -> dict[str, str]:
        root = f"{ORG_BASE}{self.org}/"
        return {GRAPH_DATA: f"{root}{self.data}/data",
                GRAPH_INFERRED: f"{root}{self.reasoning}/inferred",
                GRAPH_PARAMETERS: f"{root}{self.reasoning}/parameters",
                GRAPH_ONTOLOGY: f"{PACKAGED_BASE}{self.packaged}/ontology",
                GRAPH_CATALOGUES: f"{PACKAGED_BASE}{self.packaged}/catalogues"}

    def view(self, store: Store, read_only: bool = False) -> GraphView:
        root = f"{ORG_BASE}{self.org}/{self.reasoning}/"
        return GraphView(store, self.mapping(), shared=(), delta_prefix=(DELTA_GRAPH, root + "delta/"),
                         read_only=read_only)


def org_node(org: str) -> URIRef:
    return URIRef(f"{ORG_BASE}{org}")


def check_org(org: str) -> str:
    if not ORG_ID.match(org):
        raise InputError(f"'{org[:80]}' is not an organisation id (letters, digits, '.', '_', '~', '-')")
    return org


def new_version_id() -> str:
    """Sortable by time of creation, unique across processes."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}-{secrets.token_hex(3)}"


def packaged_version() -> str:
    """A hash of the shipped ontology and catalogue files: a new release gets graphs of its own."""
    from .load import catalogue_files, ontology_files

    digest = hashlib.sha256()
    for path in [*ontology_files(), *catalogue_files()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


_CURRENT = """
SELECT ?org ?data ?reasoning ?packaged ?increment ?pending WHERE {
  GRAPH <%s> { ?node aims:organisationId ?org ; aims:dataVersion ?data ; aims:reasoningVersion ?reasoning ;
                     aims:packagedVersion ?packaged .
               OPTIONAL { ?node aims:incrementCount ?increment } OPTIONAL { ?node aims:incrementPending ?pending } }
}""" % CONTROL_GRAPH


def current_versions(store: Store) -> dict[str, Version]:
    """Every organisation in the store with its current versions."""
    rows = store.query(_CURRENT).rows
    return {str(r["org"]): Version(str(r["org"]), str(r["data"]), str(r["reasoning"]), str(r["packaged"]),
                                   int(r["increment"]) if r.get("increment") is not None else 0,
                                   r.get("pending") is not None)
            for r in rows}


def organisations(store: Store) -> list[str]:
    return sorted(current_versions(store))


def current(store: Store, org: str | None) -> Version:
    """The current version of `org`, or of the store's only organisation when `org` is None;
    an InputError names the organisations there are when it is missing or ambiguous."""
    versions = current_versions(store)
    broken = sorted(name for name, v in versions.items() if v.pending)
    if broken and (org is None or org in broken):
        for name in broken if org is None else [org]:
            recover(store, name)
        versions = current_versions(store)
    if org is None:
        if len(versions) == 1:
            return next(iter(versions.values()))
        if not versions:
            raise InputError("the store holds no organisation yet: load a register first (aimsgraph load REGISTER)")
        raise InputError(f"the store holds {len(versions)} organisations; choose one with --org "
                         f"({', '.join(sorted(versions)[:20])}{', …' if len(versions) > 20 else ''})")
    if org not in versions:
        from .errors import unknown_name

        raise InputError(unknown_name("organisation", org, versions) + " in the store")
    return versions[org]


def ensure_packaged(store: Store, packaged: str) -> None:
    """The shipped ontology and catalogues in their versioned graphs (loaded once per release)."""
    from .load import load_packaged

    ontology = f"{PACKAGED_BASE}{packaged}/ontology"
    catalogues = f"{PACKAGED_BASE}{packaged}/catalogues"
    if store.query(f"ASK {{ GRAPH <{catalogues}> {{ ?s ?p ?o }} }}").boolean:
        return
    load_packaged(GraphView(store, {GRAPH_ONTOLOGY: ontology, GRAPH_CATALOGUES: catalogues}, shared=()))


def commit(store: Store, version: Version) -> None:
    """Make `version` the organisation's current one: one SPARQL update, the commit point."""
    node = org_node(version.org).n3()
    values = {"organisationId": version.org, "dataVersion": version.data,
              "reasoningVersion": version.reasoning, "packagedVersion": version.packaged,
              "committedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    insert = " ; ".join(f"aims:{k} {Literal(v).n3()}" for k, v in values.items())
    store.update(f"""DELETE {{ GRAPH <{CONTROL_GRAPH}> {{ {node} ?p ?o }} }}
                     INSERT {{ GRAPH <{CONTROL_GRAPH}> {{ {node} {insert} }} }}
                     WHERE {{ OPTIONAL {{ GRAPH <{CONTROL_GRAPH}> {{ {node} ?p ?o }} }} }}""")


# An increment (incremental.add_data on the current version) changes the inferred graph in place
# and merges its additions into the data graph in its last update. This marker is set before it
# starts and removed by that update: found set, the increment was interrupted, the data graph is
# still the previous one, and `recover` reasons over it again into a new version.
INCREMENT_PENDING = AIMS.incrementPending


def begin_increment(store: Store, version: Version) -> str:
    """Mark `version` as being changed in place; returns the update that ends the mark (run it
    in the same request as the change's last step)."""
    node = org_node(version.org).n3()
    triple = f"{node} {INCREMENT_PENDING.n3()} {Literal(version.reasoning).n3()}"
    store.update(f"INSERT DATA {{ GRAPH <{CONTROL_GRAPH}> {{ {triple} }} }}")
    count = AIMS.incrementCount.n3()
    return (f"DELETE DATA {{ GRAPH <{CONTROL_GRAPH}> {{ {triple} }} }} ; "
            f"DELETE WHERE {{ GRAPH <{CONTROL_GRAPH}> {{ {node} {count} ?n }} }} ; "
            f"INSERT DATA {{ GRAPH <{CONTROL_GRAPH}> {{ {node} {count} {version.increment + 1} }} }}")


def state_key(store: Store, version: Version) -> tuple[str, int]:
    """A name for the state `version` holds in `store`, and the increment it is at: what kept
    findings are filed under (kept.py; its increments share the name)."""
    base = getattr(store, "base", store)
    where = getattr(base, "path", None) or getattr(base, "query_url", None) or f"memory:{id(base)}"
    return f"{where}|{version.org}|{version.data}|{version.reasoning}|{version.packaged}", version.increment


def interrupted(store: Store) -> list[str]:
    """Organisations whose last increment was interrupted."""
    return sorted(name for name, version in current_versions(store).items() if version.pending)


def recover(store: Store, org: str) -> None:
    """Undo an interrupted increment: reason again over the organisation's data version (which
    the increment had not changed yet) into a new version, at the parameters it was reasoned at."""
    from .reason import reason, stored_parameters

    version = current_versions(store)[org]
    params = stored_parameters(version.view(store, read_only=True))
    if params is None:
        raise StoreError(f"organisation '{org}': the interrupted version has no parameters to reason at")
    replace(store, org, lambda view: reason(view, params), keep_data=True)


def sweep(store: Store) -> list[str]:
    """Drop the graphs no current version uses and that are older than the current ones (a load
    still writing a newer version elsewhere keeps its graphs). Returns the graphs dropped."""
    versions = current_versions(store)
    keep = {g for v in versions.values() for g in v.mapping().values()}
    newest = {org: max(v.data, v.reasoning) for org, v in versions.items()}
    dropped = []
    for graph in store.graphs():
        if graph in keep:
            continue
        if graph.startswith(ORG_BASE):
            org, _, rest = graph[len(ORG_BASE):].partition("/")
            version = rest.split("/", 1)[0]
            if org in newest and version < newest[org]:
                store.clear(graph)
                dropped.append(graph)
        elif graph.startswith(PACKAGED_BASE) and versions:
            store.clear(graph)
            dropped.append(graph)
    return dropped


def replace(store: Store, org: str, fill: Callable[[GraphView], T], keep_data: bool = False) -> T:
    """Build a new version of `org`'s analysis with `fill(view)` (which loads and reasons through
    the view), then commit it and sweep the old one. `keep_data`: reason again over the current
    data version instead of new data (e.g. at another as-of date)."""
    check_org(org)
    if not store.persistent:
        raise StoreError("versions are for persistent stores (--store-dir or a SPARQL server)")
    previous = current_versions(store).get(org)
    reasoning = new_version_id()
    if keep_data:
        if previous is None:
            raise InputError(f"the store holds no data for organisation '{org}' yet: load its register first")
        data = previous.data
    else:
        data = reasoning
    version = Version(org, data, reasoning, packaged_version())
    ensure_packaged(store, version.packaged)
    result = fill(version.view(store))
    commit(store, version)
    sweep(store)
    return result


def cross_organisation_view(store: Store) -> GraphView:
    """Every organisation's current data and inferences with the shared graphs, read-only: what
    a certification body's queries across its clients read. Graph names are physical here."""
    versions = current_versions(store)
    graphs: list[str] = []
    for version in versions.values():
        mapping = version.mapping()
        graphs += [mapping[GRAPH_DATA], mapping[GRAPH_INFERRED], mapping[GRAPH_PARAMETERS]]
    shared = {g for v in versions.values() for g in (v.mapping()[GRAPH_ONTOLOGY], v.mapping()[GRAPH_CATALOGUES])}
    return GraphView(store, {}, shared=(*sorted(shared), *graphs), read_only=True)
