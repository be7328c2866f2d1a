"""The fast engines give the same answers as the reference engines (engines.md): reasonable vs
owlrl for the OWL 2 RL closure, pyoxigraph vs rdflib for rules, validation and classify."""

from datetime import date
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from aimsgraph.load import load_input
from aimsgraph.namespaces import GRAPH_CATALOGUES, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY
from aimsgraph.pipeline import analyse, classify
from aimsgraph.reason import owl_closure
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
SCHEMA_PREDICATES = {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.equivalentClass,
                     OWL.equivalentProperty, OWL.disjointWith, OWL.inverseOf}


def _abox(triples):
    """Entailments about individuals: what the product's rules, shapes and queries read.
    Schema-level closure (subClassOf reflexivity, datatype declarations) is left out: no rule,
    shape or query asks for it."""
    return {
        (s, p, o) for s, p, o in triples
        if p not in SCHEMA_PREDICATES
        and not (p == RDF.type and o in (OWL.Class, RDFS.Class, RDFS.Datatype, OWL.AnnotationProperty,
                                         OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property, OWL.Thing))
        and not (p == OWL.sameAs and s == o)
    }


@pytest.fixture(scope="module")
def base_graph():
    store = open_store()
    load_input(store, FINSECURE)
    return store.to_rdflib([GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA])


def test_reasonable_equals_owlrl_on_individuals(base_graph):
    fast = _abox(owl_closure(base_graph, "reasonable"))
    reference = _abox(owl_closure(base_graph, "owlrl"))
    assert fast == reference
    # and the closure is not empty: components are typed, inverses filled in
    data = "https://w3id.org/aimsgraph/data/finsecure/"
    assert (URIRef(data + "credit-scorer"), URIRef("https://w3id.org/aimsgraph/ontology#hasPart"),
            URIRef(data + "credit-scorer-features")) in fast


def test_reasonable_is_subset_of_owlrl(base_graph):
    """Everything the fast engine adds, the reference adds too; the reference's extra triples
    are schema-level only (listed predicates), which nothing downstream reads."""
    fast = owl_closure(base_graph, "reasonable")
    reference = owl_closure(base_graph, "owlrl")
    assert fast <= reference
    extra = reference - fast
    assert {p for _, p, _ in _abox(extra)} == set()


def _norm(triples):
    out = set()
    for s, p, o in triples:
        if isinstance(o, Literal) and o.datatype == XSD.string:
            o = Literal(str(o))
        out.add((s, p, o))
    return out


@pytest.fixture(scope="module")
def analyses():
    return {engine: analyse(FINSECURE, AS_OF, store_engine=engine) for engine in ("oxigraph", "rdflib")}


def test_stores_derive_the_same_triples(analyses):
    ox, rl = (analyses[e].store for e in ("oxigraph", "rdflib"))
    assert _norm(ox.triples(GRAPH_INFERRED)) == _norm(rl.triples(GRAPH_INFERRED))


def test_stores_give_the_same_findings_and_classification(analyses):
    ox, rl = analyses["oxigraph"], analyses["rdflib"]
    assert ox.validation.findings == rl.validation.findings
    assert classify(ox.store) == classify(rl.store)


def test_owl_engines_give_the_same_findings():
    fast = analyse(FINSECURE, AS_OF, owl_engine="reasonable")
    reference = analyse(FINSECURE, AS_OF, owl_engine="owlrl")
    assert fast.validation.findings == reference.validation.findings
    assert classify(fast.store) == classify(reference.store)
