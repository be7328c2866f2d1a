"""A load into an embedded on-disk store reasons in memory and writes the new version's graphs in
one bulk load (pipeline.analyse, store.copy_into_view): the stored graphs must be exactly what
reasoning in the store itself gives, blank nodes staying one node across graphs, and the
findings validated on the in-memory copy equal to validating the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.compare import isomorphic

from aimsgraph import workspace
from aimsgraph.namespaces import GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS
from aimsgraph.pipeline import analyse, analyse_stored
from aimsgraph.store import open_store
from aimsgraph.validate import validate

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 1, 31)
BOARD = ('_:board <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/aimsgraph/ontology#TopManagement> .\n'
         '_:board <http://www.w3.org/2000/01/rdf-schema#label> "Board" .\n')


def _graph(store, name: str) -> rdflib.Graph:
    g = rdflib.Graph()
    for t in store.triples(name):
        g.add(t)
    return g


def test_a_disk_load_stores_what_reasoning_in_the_store_gives(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    finsecure = analyse(ROOT / "examples" / "finsecure" / "register.yaml", AS_OF)
    lines = finsecure.store.native.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(GRAPH_DATA)).decode()
    source = tmp_path / "finsecure.nt"
    source.write_text(lines + BOARD, encoding="utf-8")

    reference = analyse(source, AS_OF)  # in memory: reasoned in the store it is read from
    store = open_store("oxigraph", str(tmp_path / "store"))
    loaded = analyse(source, AS_OF, store=store, org="finsecure")
    assert loaded.validate_on is not None  # reasoned in memory, validated there
    view = workspace.current(store, "finsecure").view(store)
    for name in (GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS):
        assert isomorphic(_graph(view, name), _graph(reference.store, name)), name
    # the blank node is one node in the data graph and in the inferences about it
    rows = view.query(f"""SELECT ?x WHERE {{ GRAPH <{GRAPH_DATA}> {{ ?x a aims:TopManagement }}
                                            GRAPH <{GRAPH_INFERRED}> {{ ?x a aims:Person }} }}""").rows
    assert len(rows) == 1 and isinstance(rows[0]["x"], rdflib.BNode)
    findings = [f.as_json() for f in loaded.validation.findings]
    assert loaded.validate_on is None  # dropped once validated
    assert findings == [f.as_json() for f in validate(view).findings]
    assert findings == [f.as_json() for f in reference.validation.findings]
    # kept under the stored state: the next command reads them
    assert [f.as_json() for f in analyse_stored(store, AS_OF).validation.findings] == findings


def test_another_date_on_a_disk_store_is_reasoned_in_memory_as_from_the_register(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    register = ROOT / "examples" / "finsecure" / "register.yaml"
    store = open_store("oxigraph", str(tmp_path / "store"))
    analyse(register, AS_OF, store=store).validation
    graphs = sorted(store.graphs())
    later = analyse_stored(store, date(2026, 9, 30))
    assert not later.store.persistent  # an in-memory copy: nothing is written to the store
    fresh = analyse(register, date(2026, 9, 30))
    assert set(later.store.triples(GRAPH_INFERRED)) == set(fresh.store.triples(GRAPH_INFERRED))
    assert [f.as_json() for f in later.validation.findings] == [f.as_json() for f in fresh.validation.findings]
    later.release()
    assert sorted(store.graphs()) == graphs


def test_a_store_folder_is_created_with_its_parents(tmp_path):
    folder = tmp_path / "a" / "b" / "store"
    store = open_store("oxigraph", str(folder))
    assert folder.is_dir() and workspace.organisations(store) == []
