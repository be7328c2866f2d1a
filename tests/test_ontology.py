"""The core ontology: it parses, its header carries the publication metadata, every term has a
label, a definition and a source, and the OWL 2 RL closure (owlrl) of ontology + catalogues +
the FinSecure example is consistent."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, URIRef
from rdflib.namespace import DCTERMS

from aimsgraph.load import catalogue_files, ontology_files, read_input
from aimsgraph.namespaces import AIMS, VANN
from aimsgraph.reason import owl_closure

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_IRI = URIRef("https://w3id.org/aimsgraph/ontology")
ERROR_MESSAGE = URIRef("http://www.daml.org/2002/03/agents/agent-ont#ErrorMessage")  # owlrl's inconsistency report


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in ontology_files():
        g.parse(path, format="turtle")
    return g


def test_header(ontology):
    assert ontology.value(ONTOLOGY_IRI, OWL.versionIRI) == URIRef("https://w3id.org/aimsgraph/ontology/0.1.0")
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo)) == "0.1.0"
    assert ontology.value(ONTOLOGY_IRI, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert str(ontology.value(ONTOLOGY_IRI, DCTERMS.title)) == "aimsgraph ontology"
    assert ontology.value(ONTOLOGY_IRI, DCTERMS.description) is not None
    assert str(ontology.value(ONTOLOGY_IRI, VANN.preferredNamespacePrefix)) == "aims"


def test_every_term_has_label_definition_and_source(ontology):
    terms = {s for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.NamedIndividual)
             for s in ontology.subjects(RDF.type, kind) if isinstance(s, URIRef)}
    assert len(terms) > 120
    assert all(str(t).startswith(str(AIMS)) for t in terms)
    missing = sorted((str(t), what) for t in terms for what, prop in
                     (("label", RDFS.label), ("definition", SKOS.definition), ("source", DCTERMS.source))
                     if ontology.value(t, prop) is None)
    assert missing == []


def test_alignment_uses_only_skos_mapping_properties(ontology):
    external = [(s, p, o) for s, p, o in ontology
                if s != ONTOLOGY_IRI and isinstance(o, URIRef) and str(o).startswith(("https://w3id.org/airo#", "https://w3id.org/dpv"))]
    assert {p for _s, p, _o in external} == {SKOS.exactMatch, SKOS.closeMatch}
    assert (AIMS.AISystem, SKOS.exactMatch, URIRef("https://w3id.org/airo#AISystem")) in ontology


def inconsistencies(graph: rdflib.Graph) -> list:
    """What owlrl's closure of `graph` says is contradictory: members of owl:Nothing, its error
    reports (disjointness, differentFrom/sameAs clashes...), and sameAs/differentFrom pairs."""
    closed = rdflib.Graph()
    for t in graph:
        closed.add(t)
    for t in owl_closure(graph, "owlrl"):
        closed.add(t)
    nothing = [s for s in closed.subjects(RDF.type, OWL.Nothing)]
    errors = [str(closed.value(e, URIRef("http://www.daml.org/2002/03/agents/agent-ont#error")))
              for e in closed.subjects(RDF.type, ERROR_MESSAGE)]
    clashes = [(s, o) for s, o in closed.subject_objects(OWL.sameAs) if (s, OWL.differentFrom, o) in closed]
    return nothing + errors + clashes


def test_closure_of_ontology_catalogues_and_finsecure_is_consistent(ontology):
    g = rdflib.Graph()
    for t in ontology:
        g.add(t)
    for path in catalogue_files():
        g.parse(path, format="turtle")
    for t in read_input(ROOT / "examples" / "finsecure" / "register.yaml"):
        g.add(t)
    assert inconsistencies(g) == []


def test_the_check_catches_a_node_of_two_disjoint_kinds(ontology):
    g = rdflib.Graph()
    for t in ontology:
        g.add(t)
    thing = URIRef("https://example.org/EV-1")
    g.add((thing, RDF.type, AIMS.Evidence))
    g.add((thing, RDF.type, AIMS.AISystem))
    found = inconsistencies(g)
    assert len(found) == 1 and "EV-1" in found[0] and "disjoint" in found[0].lower()
