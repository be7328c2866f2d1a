"""SHACL metadata shapes over the ontology and catalogues (shapes/metadata/):
silent on what we ship, exact focus nodes on a fixture that breaks each rule."""

from __future__ import annotations

import rdflib

from aimsgraph.docs import metadata_report
from aimsgraph.namespaces import AIMSSH
from aimsgraph.validate import shapes_graph

PREFIXES = """
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix vann: <http://purl.org/vocab/vann/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/> .
"""

# A complete miniature: ontology header, one class, a scheme with a clause, an article with an
# obligation, and a crosswalk row from the clause to the article.
GOOD = PREFIXES + """
<https://w3id.org/aimsgraph/ontology> a owl:Ontology ;
    owl:versionIRI <https://w3id.org/aimsgraph/ontology/9.9.9> ; owl:versionInfo "9.9.9" ;
    dcterms:license <https://creativecommons.org/licenses/by/4.0/> ; dcterms:title "t"@en ;
    dcterms:description "d"@en ; vann:preferredNamespacePrefix "aims" ;
    vann:preferredNamespaceUri "https://w3id.org/aimsgraph/ontology#" .
aims:Widget a owl:Class ; rdfs:label "widget"@en ; skos:definition "A widget."@en ;
    dcterms:source "clause 4.1" ; rdfs:isDefinedBy <https://w3id.org/aimsgraph/ontology> .
ex:scheme a skos:ConceptScheme ; rdfs:label "scheme"@en ; skos:definition "A scheme."@en .
ex:clause a skos:Concept, aims:Clause ; skos:notation "4" ; rdfs:label "Clause"@en ;
    skos:definition "A clause."@en ; skos:inScheme ex:scheme ; skos:topConceptOf ex:scheme ; dcterms:source "s" .
ex:article a skos:Concept, aims:Article ; skos:notation "Art 1" ; rdfs:label "Article"@en ;
    skos:definition "An article."@en ; skos:inScheme ex:scheme ; skos:broader ex:clause ; dcterms:source "s" ;
    aims:appliesFrom "2026-08-02"^^xsd:date .
ex:provider a skos:Concept, aims:OperatorRole ; skos:notation "provider" ; rdfs:label "Provider"@en ;
    skos:definition "A provider."@en ; skos:inScheme ex:scheme ; skos:topConceptOf ex:scheme ; dcterms:source "s" .
ex:high a skos:Concept, aims:RiskCategory ; skos:notation "high-risk" ; rdfs:label "High"@en ;
    skos:definition "High risk."@en ; skos:inScheme ex:scheme ; skos:topConceptOf ex:scheme ; dcterms:source "s" .
ex:obligation a skos:Concept, aims:Obligation ; skos:notation "Art 1 / provider" ; rdfs:label "Duty"@en ;
    skos:definition "A duty."@en ; skos:inScheme ex:scheme ; skos:broader ex:article ; dcterms:source "s" ;
    aims:article ex:article ; aims:bindsRole ex:provider ; aims:appliesToCategory ex:high ;
    aims:appliesFrom "2026-08-02"^^xsd:date .
ex:mapping a aims:Mapping ; aims:mappingSource ex:clause ; aims:mappingTarget ex:article ;
    aims:relationship aims:intersectsWith ; aims:rationale "The clause overlaps the article's duty."@en ;
    dcterms:source "s" .
"""

# Each statement below breaks one metadata rule.
BAD = PREFIXES + """
<https://w3id.org/aimsgraph/ontology> a owl:Ontology ; dcterms:title "t"@en .
aims:Widget a owl:Class ; rdfs:label "widget"@en .
ex:scheme a skos:ConceptScheme ; rdfs:label "scheme"@en ; skos:definition "A scheme."@en .
ex:clause a skos:Concept, aims:Clause ; skos:notation "4" ; rdfs:label "Clause"@en ;
    skos:definition "A clause."@en ; skos:inScheme ex:scheme ; skos:topConceptOf ex:scheme ; dcterms:source "s" .
ex:orphan a skos:Concept ; skos:notation "o" ; rdfs:label "Orphan"@en ; skos:inScheme ex:scheme ;
    dcterms:source "s" .
ex:article a skos:Concept, aims:Article ; skos:notation "Art 1" ; rdfs:label "Article"@en ;
    skos:definition "An article."@en ; skos:inScheme ex:scheme ; skos:broader ex:clause ; dcterms:source "s" .
ex:obligation a skos:Concept, aims:Obligation ; skos:notation "Art 1 / provider" ; rdfs:label "Duty"@en ;
    skos:definition "A duty."@en ; skos:inScheme ex:scheme ; skos:broader ex:article ; dcterms:source "s" ;
    aims:article ex:article ; aims:appliesFrom "2026-08-02"^^xsd:date .
ex:mapping a aims:Mapping ; aims:mappingSource ex:clause ; aims:mappingTarget ex:nowhere ;
    aims:relationship aims:relatedTo ; dcterms:source "s" .
"""

ONTOLOGY = "https://w3id.org/aimsgraph/ontology"


def report(text: str) -> set[tuple[str, str]]:
    return {(p.focus, p.path) for p in metadata_report(rdflib.Graph().parse(data=text, format="turtle"))}


def test_shipped_ontology_and_catalogues_report_nothing():
    assert metadata_report() == []


def test_complete_miniature_reports_nothing():
    assert report(GOOD) == set()


def test_each_broken_rule_reports_its_focus_and_path():
    assert report(BAD) == {
        (ONTOLOGY, "http://www.w3.org/2002/07/owl#versionIRI"),
        (ONTOLOGY, "http://www.w3.org/2002/07/owl#versionInfo"),
        (ONTOLOGY, "http://purl.org/dc/terms/license"),
        (ONTOLOGY, "http://purl.org/dc/terms/description"),
        (ONTOLOGY, "http://purl.org/vocab/vann/preferredNamespacePrefix"),
        (ONTOLOGY, "http://purl.org/vocab/vann/preferredNamespaceUri"),
        ("aims:Widget", "http://www.w3.org/2004/02/skos/core#definition"),
        ("aims:Widget", "http://purl.org/dc/terms/source"),
        ("aims:Widget", "http://www.w3.org/2000/01/rdf-schema#isDefinedBy"),
        ("https://example.org/orphan", "http://www.w3.org/2004/02/skos/core#definition"),
        ("https://example.org/orphan", ""),  # no parent (sh:or of broader / topConceptOf)
        ("https://example.org/article", "aims:appliesFrom"),
        ("https://example.org/obligation", "aims:bindsRole"),
        ("https://example.org/obligation", "aims:appliesToCategory"),
        ("https://example.org/obligation", ""),  # its article has no ISO mapping and no noCounterpart
        ("https://example.org/mapping", "aims:mappingTarget"),
        ("https://example.org/mapping", "aims:relationship"),
        ("https://example.org/mapping", "aims:rationale"),
    }


def test_counterpart_message_names_the_article():
    messages = {p.message for p in metadata_report(rdflib.Graph().parse(data=BAD, format="turtle"))
                if p.focus == "https://example.org/obligation" and p.path == ""}
    assert messages == {"article https://example.org/article of this obligation has no crosswalk row from "
                        "ISO/IEC 42001 and no aims:noCounterpart"}


def test_conformity_validator_does_not_load_the_metadata_shapes():
    conformity = shapes_graph()
    assert (AIMSSH.MappingShape, None, None) not in conformity
    assert (AIMSSH.OntologyTermShape, None, None) not in conformity
