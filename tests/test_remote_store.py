"""The pipeline runs unchanged on a remote SPARQL 1.1 server (Oxigraph server on loopback):
same inferred triples, findings and classification as the embedded store."""

from datetime import date
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from aimsgraph.errors import QueryError, StoreError
from aimsgraph.namespaces import AIMS, GRAPH_DATA, GRAPH_INFERRED
from aimsgraph.pipeline import analyse, classify
from aimsgraph.shacl import result_key
from aimsgraph.store import RemoteStore, inline_bindings, open_store

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)


@pytest.fixture(scope="module")
def remote_and_embedded(sparql_server):
    remote = analyse(FINSECURE, AS_OF, store=open_store(sparql_server))
    embedded = analyse(FINSECURE, AS_OF)
    return remote, embedded


def test_remote_store_gives_the_same_findings_and_classification(remote_and_embedded):
    remote, embedded = remote_and_embedded
    assert remote.validation.findings == embedded.validation.findings
    assert classify(remote.store) == classify(embedded.store)


def test_remote_store_runs_the_compiled_shapes_with_the_same_results(remote_and_embedded):
    """The compiled validator sends its queries to the server (Store.query only) and gets the
    embedded store's SHACL results."""
    remote, embedded = remote_and_embedded
    assert remote.validation.engine == embedded.validation.engine == "store"
    keys = lambda v: sorted(result_key(r, v.shapes) for r in v.results)  # noqa: E731
    assert keys(remote.validation) == keys(embedded.validation)
    assert len(remote.validation.results) == 62  # FinSecure under the second edition (31 findings)


def test_remote_store_holds_the_same_named_graphs(remote_and_embedded):
    remote, embedded = remote_and_embedded
    assert remote.store.graphs() == embedded.store.graphs()
    assert set(remote.store.triples(GRAPH_DATA)) == set(embedded.store.triples(GRAPH_DATA))
    no_bnodes = lambda ts: {t for t in ts if not any(type(x).__name__ == "BNode" for x in t)}  # noqa: E731
    assert no_bnodes(remote.store.triples(GRAPH_INFERRED)) == no_bnodes(embedded.store.triples(GRAPH_INFERRED))


def test_bindings_reach_the_remote_server(remote_and_embedded):
    remote, _ = remote_and_embedded
    rows = remote.store.query("SELECT ?system WHERE { ?system aims:registerId ?id }",
                              {"id": Literal("credit-scorer")}).rows
    assert rows == [{"system": URIRef("https://w3id.org/aimsgraph/data/finsecure/credit-scorer")}]
    assert remote.store.has((rows[0]["system"], AIMS.registerId, Literal("credit-scorer")))


def test_inline_bindings_open_the_outermost_where_group():
    q = 'CONSTRUCT { ?s <http://x/p> "WHERE {" } WHERE { ?s ?p ?o }'
    out = inline_bindings(q, {"o": Literal('a "quoted" } value')})
    assert out == ('CONSTRUCT { ?s <http://x/p> "WHERE {" } WHERE { VALUES (?o) { ("a \\"quoted\\" } value") }  '
                   '?s ?p ?o }')
    assert inline_bindings("SELECT * { ?s ?p ?o }", {"s": URIRef("http://x/a")}).startswith(
        "SELECT * { VALUES (?s) { (<http://x/a>) }")
    with pytest.raises(QueryError):
        inline_bindings("DESCRIBE <http://x/a>", {"s": URIRef("http://x/a")})


def test_unreachable_server_is_a_store_error():
    store = RemoteStore("http://127.0.0.1:9/query", timeout=2)
    with pytest.raises(StoreError):
        store.query("ASK {}")
