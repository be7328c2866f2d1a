"""The default OWL 2 RL engine (`sparql`: the schema compiled into updates the store runs) derives
exactly what the reference engine (owlrl) derives about individuals: on a fixture that makes
every compiled rule fire, on FinSecure, and on both the embedded and the reference store."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

from aimsgraph.load import load_input, load_packaged
from aimsgraph.namespaces import GRAPH_CATALOGUES, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY
from aimsgraph.owl import compile_updates, owl_closure, read_schema, sparql_closure
from aimsgraph.store import open_store

HERE = Path(__file__).parent
ROOT = HERE.parent
EX = Namespace("https://example.org/owl-test#")
SCHEMA_PREDICATES = {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.equivalentClass,
                     OWL.equivalentProperty, OWL.inverseOf, OWL.disjointWith}
DECLARATIONS = {OWL.Class, RDFS.Class, RDFS.Datatype, OWL.AnnotationProperty, OWL.ObjectProperty,
                OWL.DatatypeProperty, RDF.Property, OWL.Thing, RDFS.Resource}


def individuals(triples) -> set:
    """Facts about individuals: what rules, shapes and queries read (schema closure left out)."""
    return {(s, p, o) for s, p, o in triples
            if p not in SCHEMA_PREDICATES and not (p == RDF.type and o in DECLARATIONS)
            and not (p == OWL.sameAs and s == o)}


def closures(store) -> tuple[set, set]:
    """(sparql engine's new triples, owlrl's new triples) for what `store` holds."""
    base = store.to_rdflib([GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA])
    reference = owl_closure(base, "owlrl")
    sparql_closure(store)
    return set(store.triples(GRAPH_INFERRED)), reference


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def constructs(request):
    store = open_store(request.param)
    store.load((HERE / "owl" / "constructs.ttl").read_bytes(), "turtle", GRAPH_DATA)
    return closures(store)


def test_every_construct_gives_what_owlrl_gives(constructs):
    fast, reference = constructs
    assert individuals(fast) == individuals(reference)


@pytest.mark.parametrize("triple", [
    (EX.rex, RDF.type, EX.Animal), (EX.rex, RDF.type, EX.Thing2), (EX.rex, RDF.type, EX.Dog),  # cax-sco, cax-eqc
    (EX.lassie, EX.hasRelative, EX.rex), (EX.lassie, RDF.type, EX.Animal), (EX.rex, RDF.type, EX.Animal),
    (EX.bob, EX.hasRelative, EX.alice), (EX.alice, RDF.type, EX.Animal),  # prp-eqp, prp-rng
    (EX.tom, RDF.type, EX.Animal), (EX.ben, EX.childOf, EX.ann), (EX.dan, EX.parentOf, EX.cat),  # prp-inv
    (EX.cat, EX.friendOf, EX.ann), (EX.wheel, EX.partOf, EX.fleet),  # prp-symp, prp-trp
    (EX.ann, EX.grandparentOf, EX.cal), (EX.ann, EX.greatOf, EX.dee),  # prp-spo2
    (EX.ruby, EX.colour, EX.red), (EX.apple, RDF.type, EX.RedThing),  # cls-hv1/2
    (EX.fido, RDF.type, EX.Puppy), (EX.kit, RDF.type, EX.Young),  # cls-int1/2
    (EX.tibbles, RDF.type, EX.Pet), (EX.sue, RDF.type, EX.Owner), (EX.max, RDF.type, EX.Holder),  # cls-uni, svf
    (EX.kale, RDF.type, EX.Plant),  # cls-avf
    (EX.p2, OWL.sameAs, EX.p1), (EX.p2, EX.issuedBy, EX.france), (EX.mo, EX.livesIn, EX.paris),  # fp, ifp, eq-rep
    (EX.jon, OWL.sameAs, EX.jay), (EX.ken, EX.knows, EX.jon),  # eq-sym, eq-trans, eq-rep-o
])
def test_each_rule_fires(constructs, triple):
    fast, _ = constructs
    assert triple in fast


@pytest.mark.parametrize("triple", [
    (EX.odie, RDF.type, EX.Puppy),  # one member of the intersection only
    (EX.pear, RDF.type, EX.RedThing),  # another value
    (EX.joe, RDF.type, EX.Owner),  # owns something that is no pet
    (EX.rex, RDF.type, OWL.Thing),  # owl:Thing typing is noise nobody reads
])
def test_near_misses_derive_nothing(constructs, triple):
    fast, _ = constructs
    assert triple not in fast


def test_literal_objects_are_never_typed(constructs):
    fast, _ = constructs
    assert not [t for t in fast if t[1] == RDF.type and t[2] == XSD.integer]


@pytest.mark.parametrize("store_engine", ["oxigraph", "rdflib"])
def test_finsecure_closure_equals_owlrl(store_engine):
    store = open_store(store_engine)
    load_input(store, ROOT / "examples" / "finsecure" / "register.yaml")
    fast, reference = closures(store)
    assert individuals(fast) == individuals(reference)
    data = "https://w3id.org/aimsgraph/data/finsecure/"
    assert (URIRef(data + "credit-scorer"), URIRef("https://w3id.org/aimsgraph/ontology#hasPart"),
            URIRef(data + "credit-scorer-features")) in fast


def test_shipped_schema_compiles_to_class_and_property_updates_only():
    """The shipped ontology has no class expressions, so no generic (whole-graph) rule runs;
    its one functional property brings the equality rules, guarded by the presence of sameAs."""
    store = open_store()
    load_packaged(store)
    updates = compile_updates(read_schema(store))
    kinds = {u.name.split()[0] for u in updates}
    assert kinds == {"type", "property", "transitive", "prp-fp", "prp-ifp", "eq-sym", "eq-trans", "eq-rep-s",
                     "eq-rep-o"}
    assert all(u.guard for u in updates if u.name.startswith("eq-"))
