"""The compiled validator (aimsgraph.shacl, engine "store") against pySHACL, the reference:
exact findings and SHACL results on every example and a generated 10k register; each supported
SHACL feature on a tiny graph; every unsupported feature refused when the shapes are compiled.
(The conformity manifest's cases are compared in tests/conformity/test_manifest.py.)"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pyshacl
import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import RDF
from rdflib.util import from_n3

from aimsgraph import shacl
from aimsgraph.errors import AimsGraphError, ShapesError
from aimsgraph.namespaces import SH
from aimsgraph.pipeline import analyse
from aimsgraph.store import OxigraphStore
from aimsgraph.validate import VALIDATORS, compiled_shapes, validate

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 1, 31)
EXAMPLES = {"finsecure": ROOT / "examples" / "finsecure" / "register.yaml",
            "conformant": ROOT / "examples" / "conformant" / "register.yaml",
            "csv-minimal": ROOT / "examples" / "csv-minimal"}
EX = "http://example.org/"
PROLOGUE = f"""@prefix sh: <{SH}> . @prefix ex: <{EX}> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
"""


def keys(results, shapes) -> list[tuple]:
    return sorted(shacl.result_key(r, shapes) for r in results)


def assert_engines_agree(store) -> None:
    compiled, reference = validate(store, "store"), validate(store, "pyshacl")
    assert compiled.findings == reference.findings
    assert keys(compiled.results, compiled.shapes) == keys(reference.results, reference.shapes)


# ---------------------------------------------------------------------------- the shipped shapes


def test_validators_offered():
    assert VALIDATORS == ("store", "pyshacl")
    with pytest.raises(AimsGraphError, match="unknown validator"):
        validate(OxigraphStore(), "jena")
    with pytest.raises(AimsGraphError, match="unknown validator 'jena' \\(choose store, pyshacl\\)"):
        analyse(ROOT / "no-such-register.yaml", AS_OF, validator="jena")  # refused before loading


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_examples_give_pyshacls_findings(example):
    analysis = analyse(EXAMPLES[example], AS_OF)
    assert analysis.validation.engine == "store"
    assert_engines_agree(analysis.store)


def test_generated_10k_register_gives_pyshacls_findings():
    sys.path.insert(0, str(ROOT))  # `benchmarks` lives beside `src`
    from benchmarks.validation import reasoned_store

    store = reasoned_store(10_000)
    compiled = validate(store)
    assert len(compiled.findings) == 114 and compiled.violations == 15
    assert_engines_agree(store)


def test_the_report_graph_is_built_lazily_and_is_a_shacl_report():
    analysis = analyse(EXAMPLES["finsecure"], AS_OF)
    validation = analysis.validation
    assert validation.built_report is None
    g = validation.report
    report = g.value(predicate=RDF.type, object=SH.ValidationReport)
    assert g.value(report, SH.conforms) == Literal(False)
    results = set(g.objects(report, SH.result))
    assert len(results) == len(validation.results) == 62  # one per obligation and partly covering control
    by_component = {g.value(r, SH.sourceConstraintComponent) for r in results}
    assert SH.MinCountConstraintComponent in by_component and SH.SPARQLConstraintComponent in by_component
    missing_ia = next(r for r in results if g.value(r, SH.sourceConstraintComponent) == SH.MinCountConstraintComponent)
    path = g.value(missing_ia, SH.resultPath)  # copied from the shapes graph with its structure
    assert g.value(path, SH.inversePath) == URIRef("https://w3id.org/aimsgraph/ontology#assessesSystem")
    assert str(g.value(missing_ia, SH.focusNode)).endswith("/fraud-detector")


def test_compiled_queries_use_only_store_query():
    """Nothing but `Store.query` reaches the data, so a remote SPARQL server does too."""

    store = analyse(EXAMPLES["finsecure"], AS_OF).store
    calls = []

    def refuse(*_args, **_kwargs):
        raise AssertionError("validation must reach the data through Store.query only")

    for method in ("triples", "to_rdflib", "count", "has", "graphs", "update", "add", "load"):
        setattr(store, method, refuse)
    query = store.query
    store.query = lambda sparql, bindings=None: calls.append(sparql) or query(sparql, bindings)
    assert len(validate(store).findings) == 31
    assert len(calls) == 1 + 41 + 1  # subclass sets, one query per constraint, register ids


# ---------------------------------------------------------------------------- features, tiny graphs


def tiny(shapes_ttl: str, data_ttl: str) -> tuple[shacl.CompiledShapes, OxigraphStore]:
    shapes = rdflib.Graph().parse(data=PROLOGUE + shapes_ttl, format="turtle")
    store = OxigraphStore()
    store.load(PROLOGUE + data_ttl, "turtle", "urn:test:data")
    return shacl.compile_shapes(shapes), store


def compiled_and_reference(shapes_ttl: str, data_ttl: str) -> tuple[list[tuple], list[tuple]]:
    compiled, store = tiny(shapes_ttl, data_ttl)
    ours = keys(shacl.run(compiled, store), compiled.shapes)
    shapes = rdflib.Graph().parse(data=PROLOGUE + shapes_ttl, format="turtle")
    data = rdflib.Graph().parse(data=PROLOGUE + data_ttl, format="turtle")
    _conforms, report, _text = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                               allow_warnings=True, allow_infos=True)
    return ours, keys(shacl.results_from_report(report), shapes)


def focus_values(found: list[tuple]) -> list[tuple]:
    """(focus, value) local names of result keys, for asserting exact focus nodes."""
    def short(n3: str) -> str | None:
        return str(from_n3(n3)).replace(EX, "") if n3 else None

    return sorted((short(k[0]), short(k[2])) for k in found)


DATA = """
ex:Thing rdfs:subClassOf ex:Base . ex:Special rdfs:subClassOf ex:Thing .
ex:a a ex:Thing ; ex:p ex:x ; ex:q 1 ; ex:r ex:a2 .
ex:b a ex:Special ; ex:p ex:x, ex:y ; ex:q 2 .
ex:c a ex:Base ; ex:q 3 .
ex:a2 ex:s ex:end .
ex:x a ex:Colour . ex:y a ex:Shape .
"""

FEATURES = {
    # name: (shapes, exact (focus, value) pairs)
    "targetClass-with-subclasses-minCount": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
        [("c", None)]),
    "minCount-2": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:p ; sh:minCount 2 ] .",
        [("a", None)]),
    "maxCount": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:p ; sh:maxCount 1 ] .",
        [("b", None)]),
    "targetNode-hasValue": (
        "ex:S a sh:NodeShape ; sh:targetNode ex:a, ex:c ; sh:property [ sh:path ex:q ; sh:hasValue 1 ] .",
        [("c", None)]),
    "targetSubjectsOf-in": (
        "ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:property [ sh:path ex:p ; sh:in ( ex:x ) ] .",
        [("b", "y")]),
    "targetObjectsOf-class": (
        "ex:S a sh:NodeShape ; sh:targetObjectsOf ex:p ; sh:class ex:Colour .",
        [("y", "y")]),
    "property-class": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:p ; sh:class ex:Colour ] .",
        [("b", "y")]),
    "not-in": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:property [ sh:path ex:q ; sh:not [ sh:in ( 2 3 ) ] ] .",
        [("b", "2"), ("c", "3")]),
    "node-shape-in-and-hasValue": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:in ( ex:a ) . "
        "ex:T a sh:NodeShape ; sh:targetClass ex:Thing ; sh:hasValue ex:b .",
        [("a", None), ("b", "b")]),
    "implicit-class-target": (
        "ex:Thing a rdfs:Class, sh:NodeShape ; sh:property [ sh:path ex:p ; sh:maxCount 1 ] .",
        [("b", None)]),
    "sequence-and-inverse-paths": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ( ex:r ex:s ) ; sh:minCount 1 ] . "
        "ex:T a sh:NodeShape ; sh:targetNode ex:x, ex:y ; sh:property [ sh:path [ sh:inversePath ex:p ] ; sh:maxCount 1 ] .",
        [("b", None), ("x", None)]),
    "alternative-and-zeroOrMore-paths": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; "
        "sh:property [ sh:path [ sh:alternativePath ( ex:p ex:r ) ] ; sh:minCount 2 ] , "
        "[ sh:path [ sh:zeroOrMorePath ex:r ] ; sh:maxCount 1 ] .",
        [("a", None), ("c", None)]),
    "deactivated-and-severity": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:deactivated true ; sh:property [ sh:path ex:p ; sh:minCount 1 ] . "
        "ex:T a sh:NodeShape ; sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; sh:minCount 1 ; sh:severity sh:Warning ] , "
        "[ sh:path ex:q ; sh:maxCount 0 ; sh:deactivated true ] .",
        [("c", None)]),
    "sparql-node-shape": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:sparql [ sh:select '''"
        "SELECT $this WHERE { $this <http://example.org/q> ?q . FILTER (?q > 1) }''' ] .",
        [("b", "b")]),
    "sparql-target-checked-last-before-an-optional": (  # first patterns join $this: target last
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:sparql [ sh:select '''"
        "SELECT $this ?value WHERE { $this <http://example.org/q> ?q . OPTIONAL { $this <http://example.org/p> ?value } "
        "FILTER (?q >= 2) }''' ] .",
        [("b", "x"), ("b", "y"), ("c", "c")]),
    "sparql-focus-only-in-an-optional-keeps-the-target-first": (  # checked last, c would be lost
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:sparql [ sh:select '''"
        "SELECT $this WHERE { ?y a <http://example.org/Colour> . OPTIONAL { $this <http://example.org/p> ?y } }''' ] .",
        [("a", "a"), ("b", "b"), ("c", "c")]),
    "sparql-property-shape-with-PATH": (
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:property [ sh:path ex:p ; sh:sparql [ sh:select '''"
        "SELECT $this ?value WHERE { $this $PATH ?value . FILTER NOT EXISTS { ?value a <http://example.org/Colour> } }''' ] ] .",
        [("b", "y")]),
    "sparql-prefixes-and-deactivated": (
        "<urn:shapes> a owl:Ontology ; sh:declare [ sh:prefix 'ex' ; sh:namespace 'http://example.org/'^^xsd:anyURI ] . "
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; "
        "sh:sparql [ sh:prefixes <urn:shapes> ; sh:select 'SELECT $this ?value WHERE { $this ex:q ?value . FILTER (?value >= 3) }' ] , "
        "[ sh:deactivated true ; sh:select 'SELECT $this WHERE { }' ] .",
        [("c", "3")]),
    "component-property-and-node-validators": (
        "ex:MaxQ a sh:ConstraintComponent ; sh:parameter [ sh:path ex:limit ] ; "
        "sh:propertyValidator [ a sh:SPARQLSelectValidator ; sh:select '''"
        "SELECT $this $value WHERE { $this <http://example.org/q> ?q . FILTER (?q > $limit) }''' ] ; "
        "sh:nodeValidator [ a sh:SPARQLSelectValidator ; sh:select '''"
        "SELECT $this WHERE { $this <http://example.org/q> ?q . FILTER (?q > $limit) }''' ] . "
        "ex:S a sh:NodeShape ; sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; ex:limit 1 ] . "
        "ex:T a sh:NodeShape ; sh:targetClass ex:Base ; ex:limit 2 .",
        [("b", "x"), ("b", "y"), ("c", "c")]),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_feature_gives_pyshacls_results(feature):
    shapes_ttl, expected = FEATURES[feature]
    ours, reference = compiled_and_reference(shapes_ttl, DATA)
    assert ours == reference
    assert focus_values(ours) == expected


# ---------------------------------------------------------------------------- unsupported features

UNSUPPORTED = {
    "sh:node": ("ex:S sh:targetClass ex:Base ; sh:node ex:T . ex:T sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
                "sh:node"),
    "sh:or": ("ex:S sh:targetClass ex:Base ; sh:or ( [ sh:class ex:A ] [ sh:class ex:B ] ) .", "sh:or"),
    "sh:datatype": ("ex:S sh:targetClass ex:Base ; sh:property [ sh:path ex:q ; sh:datatype xsd:integer ] .",
                    "sh:datatype"),
    "sh:pattern": ("ex:S sh:targetClass ex:Base ; sh:property [ sh:path ex:q ; sh:pattern 'x' ] .", "sh:pattern"),
    "sh:closed": ("ex:S sh:targetClass ex:Base ; sh:closed true .", "sh:closed"),
    "sh:qualifiedValueShape": ("ex:S sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; "
                               "sh:qualifiedValueShape [ sh:class ex:A ] ; sh:qualifiedMinCount 1 ] .",
                               "sh:qualified"),
    "nested sh:property": ("ex:S sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; "
                           "sh:property [ sh:path ex:q ; sh:minCount 1 ] ] .", "sh:property on a property shape"),
    "sh:not over sh:class": ("ex:S sh:targetClass ex:Base ; sh:property [ sh:path ex:p ; sh:not [ sh:class ex:A ] ] .",
                             "only sh:not over a shape with a single sh:in"),
    "SHACL-AF sh:target": ("ex:S sh:target [ a sh:SPARQLTarget ; sh:select 'SELECT ?this WHERE { ?this ?p ?o }' ] .",
                           "SPARQLTarget"),
    "SHACL-AF sh:rule": ("ex:S sh:targetClass ex:Base ; sh:rule [ a sh:TripleRule ; sh:subject sh:this ] .",
                         "TripleRule"),
    "ASK validator": ("ex:C a sh:ConstraintComponent ; sh:parameter [ sh:path ex:limit ] ; "
                      "sh:validator [ a sh:SPARQLAskValidator ; sh:ask 'ASK { }' ] . "
                      "ex:S sh:targetClass ex:Base ; ex:limit 1 .", "SPARQLAskValidator"),
    "ASK constraint": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:ask 'ASK { }' ] .", "exactly one sh:select"),
    "MINUS in sh:sparql": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                           "'SELECT $this WHERE { $this ?p ?o MINUS { $this a ?c } }' ] .", "MINUS"),
    "VALUES in sh:sparql": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                            "'SELECT $this WHERE { VALUES ?o { 1 } $this ?p ?o }' ] .", "VALUES"),
    "sub-SELECT in sh:sparql": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                                "'SELECT $this WHERE { { SELECT $this WHERE { $this ?p ?o } } }' ] .", "sub-SELECT"),
    "aggregate in sh:sparql": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                               "'SELECT $this WHERE { $this ?p ?o } GROUP BY $this' ] .", "solution modifiers"),
    "SELECT *": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select 'SELECT * WHERE { $this ?p ?o }' ] .",
                 "no SELECT \\*"),
    "$this in a nested filter": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                                 "'SELECT $this WHERE { { ?s ?p ?o FILTER (?s = $this) } }' ] .",
                                 "nested group that does not bind it"),
    "$this only in an OPTIONAL": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                                  "'SELECT $this WHERE { { ?s ?p ?o OPTIONAL { ?o ?q $this } } }' ] .",
                                  "OPTIONAL whose left side"),
    "BIND to $this": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                      "'SELECT $this WHERE { BIND (1 AS ?this) }' ] .", "BIND"),
    "undeclared prefix": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                          "'SELECT $this WHERE { $this nope:p ?o }' ] .", "declared prefixes"),
    "$shapesGraph": ("ex:S sh:targetClass ex:Base ; sh:sparql [ sh:select "
                     "'SELECT $this WHERE { $this ?p $shapesGraph }' ] .", "shapesGraph"),
    "blank target node": ("ex:S sh:targetNode [ ex:p 1 ] ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
                          "blank node"),
}


@pytest.mark.parametrize("feature", sorted(UNSUPPORTED))
def test_unsupported_feature_is_refused_when_compiling(feature):
    shapes_ttl, message = UNSUPPORTED[feature]
    shapes = rdflib.Graph().parse(data=PROLOGUE + shapes_ttl, format="turtle")
    with pytest.raises(ShapesError, match=message):
        shacl.compile_shapes(shapes)


TARGET_LAST = [
    "ai-policy-review-overdue", "classification-override-mismatch", "classification-override-mismatch-art5",
    "control-unevidenced", "corrective-action-overdue", "derogation-invalid", "derogation-without-annex-iii",
    "fria-missing", "fria-missing-not-yet-applicable", "impact-assessment-overdue", "obligation-partially-covered",
    "owner-unknown", "prohibited-practice", "prohibited-practice-not-yet-applicable", "residual-above-appetite",
    "risk-acceptance-unapproved", "risk-untreated", "serious-incident-unreported",
    "serious-incident-unreported-before-art73", "soa-exclusion-unjustified", "treatment-not-implemented",
    "treatment-uses-excluded-control"]


def test_shipped_shapes_compile_to_one_query_per_constraint():
    compiled = compiled_shapes()
    assert compiled is compiled_shapes()  # compiled once per version of the shape files
    shapes = compiled.shapes
    sparql = len(list(shapes.objects(None, SH.sparql)))
    properties = sum(1 for prop in shapes.objects(None, SH.property)
                     for p in shapes.predicates(prop, None) if p != SH.path and p != SH.severity)
    assert len(compiled.queries) == sparql + properties == 41
    # every query has its target, joined in first or (a constraint whose first patterns join $this)
    # checked last; the ones checked last are exactly those
    assert all(("@@TARGET@@" in q.template) != ("@@TARGET_FILTER@@" in q.template) for q in compiled.queries)
    last = sorted(q.name.split("#")[1].split(">")[0] for q in compiled.queries if "@@TARGET_FILTER@@" in q.template)
    assert last == TARGET_LAST
