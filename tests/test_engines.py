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
from aimsgraph.reason import load_rules, owl_closure
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
def closures():
    store = open_store()
    load_input(store, FINSECURE)
    base = store.to_rdflib([GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA])
    return {engine: owl_closure(base, engine) for engine in ("reasonable", "owlrl")}


def test_reasonable_equals_owlrl_on_individuals(closures):
    fast = _abox(closures["reasonable"])
    assert fast == _abox(closures["owlrl"])
    # and the closure is not empty: components are typed, inverses filled in
    data = "https://w3id.org/aimsgraph/data/finsecure/"
    assert (URIRef(data + "credit-scorer"), URIRef("https://w3id.org/aimsgraph/ontology#hasPart"),
            URIRef(data + "credit-scorer-features")) in fast


def _schema_rule(triple) -> str:
    """The OWL 2 RL/RDF rule (W3C OWL 2 Profiles, section 4.3) behind a schema-level triple that
    owlrl adds and reasonable does not; "?" when none of the expected ones."""
    s, p, o = triple
    if p in (RDFS.subClassOf, OWL.equivalentClass) and s == o:
        return "scm-cls (every class is its own subclass and equivalent)"
    if p in (RDFS.subPropertyOf, OWL.equivalentProperty) and s == o:
        return "scm-op/scm-dp (every property is its own subproperty and equivalent)"
    if p == RDFS.subClassOf and (s == OWL.Nothing or o == OWL.Thing):
        return "scm-cls (owl:Nothing below and owl:Thing above every class)"
    if p in (RDFS.domain, RDFS.range):
        return "scm-dom1/scm-rng1/scm-dom2/scm-rng2 (domains and ranges widened to superclasses)"
    if p == RDF.type and o in (RDFS.Datatype, OWL.AnnotationProperty):
        return "dt-type1/prp-ap (datatype and annotation property declarations)"
    if p == OWL.disjointWith and str(s).startswith(str(XSD)) and str(o).startswith(str(XSD)):
        return "dt-diff (disjoint value spaces of XSD datatypes)"
    return "?"


def test_owlrl_adds_only_schema_triples_that_nothing_reads(closures):
    """reasonable's closure is a subset of owlrl's. The difference on the shipped example is
    schema-level only, of the kinds listed below: it changes no individual's types or
    relations (test above), and no rule pattern reads those predicates (checked here); the
    SHACL shapes target classes whose members are already materialised."""
    fast, reference = closures["reasonable"], closures["owlrl"]
    assert fast <= reference
    extra = reference - fast
    assert not _abox(extra)
    assert {_schema_rule(t) for t in extra} == {
        "scm-cls (every class is its own subclass and equivalent)",
        "scm-op/scm-dp (every property is its own subproperty and equivalent)",
        "scm-cls (owl:Nothing below and owl:Thing above every class)",
        "scm-dom1/scm-rng1/scm-dom2/scm-rng2 (domains and ranges widened to superclasses)",
        "dt-type1/prp-ap (datatype and annotation property declarations)",
        "dt-diff (disjoint value spaces of XSD datatypes)",
    }
    read_by_rules = set().union(*(rule.reads or set() for rule in load_rules()))
    # eu-descriptor-adopt reads `?target a ?kind` with ?kind bound by VALUES to two aims: classes;
    # owlrl's extra rdf:type triples only type schema terms with OWL / RDFS / RDF classes
    schema_classes = ("http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#",
                      "http://www.w3.org/1999/02/22-rdf-syntax-ns#")
    assert all(str(t[2]).startswith(schema_classes) for t in extra if t[1] == RDF.type)
    assert not ({t[1] for t in extra} - {RDF.type}) & read_by_rules
    assert all(rule.reads is not None or rule.id in VARIABLE_PREDICATE_RULES for rule in load_rules())


# rules whose WHERE has a variable predicate; it is bound by VALUES to aims: flags or descriptor
# predicates (and AIRO's for airo-use-descriptors) only, or (for
# eu-applicable-date) by BIND to aims:changedAppliesFrom / aims:changedAnnexIApplyFrom
VARIABLE_PREDICATE_RULES = {"eu-limited-risk", "eu-minimal-risk", "eu-condition-profile", "eu-applicable-date",
                            # bound by VALUES to aims: descriptor predicates, or AIRO's
                            "eu-classification-declared", "eu-descriptor-condition", "airo-use-descriptors"}


def _norm(triples):
    out = set()
    for s, p, o in triples:
        if isinstance(o, Literal) and o.datatype == XSD.string:
            o = Literal(str(o))
        out.add((s, p, o))
    return out


@pytest.fixture(scope="module")
def analyses():
    """Both stores with the same OWL engine, so the rules are what differs (the `sparql` engine
    is compared with owlrl on its own in test_owl_engine.py)."""
    return {engine: analyse(FINSECURE, AS_OF, store_engine=engine, owl_engine="reasonable")
            for engine in ("oxigraph", "rdflib")}


def test_stores_derive_the_same_triples(analyses):
    ox, rl = (analyses[e].store for e in ("oxigraph", "rdflib"))
    assert _norm(ox.triples(GRAPH_INFERRED)) == _norm(rl.triples(GRAPH_INFERRED))


def test_stores_give_the_same_findings_and_classification(analyses):
    ox, rl = analyses["oxigraph"], analyses["rdflib"]
    assert ox.validation.findings == rl.validation.findings
    assert classify(ox.store) == classify(rl.store)


@pytest.mark.parametrize("engine", ["sparql", "reasonable"])
def test_owl_engines_give_the_same_findings(engine):
    fast = analyse(FINSECURE, AS_OF, owl_engine=engine)
    reference = analyse(FINSECURE, AS_OF, owl_engine="owlrl")
    assert fast.validation.findings == reference.validation.findings
    assert classify(fast.store) == classify(reference.store)


def _reasoned(record: bool, engine: str = "oxigraph"):
    from aimsgraph.reason import Parameters, reason

    store = open_store(engine)
    load_input(store, FINSECURE)
    targets: dict[str, set] = {}
    insert_where = store.insert_where

    def spying(graph, template, where, named=(), dataset=None):
        targets.setdefault(graph, set()).add(template)
        return insert_where(graph, template, where, named=named, dataset=dataset)

    store.insert_where = spying
    report = reason(store, Parameters(AS_OF), record=record)
    return store, report, targets


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_rules_inserting_straight_into_the_inferred_graph_derive_and_count_what_a_delta_graph_does(engine):
    """A rule whose template names every predicate and class inserts straight into the inferred
    graph (a delta graph filled and cleared per rule leaves dead index entries in pyoxigraph's
    store); `record` keeps the delta path. Both derive the same triples and count the same per
    rule; only the rules with a variable predicate or class go through the delta graph."""
    from aimsgraph.reason import RULE_DELTA

    direct, direct_report, direct_targets = _reasoned(False, engine)
    delta, delta_report, delta_targets = _reasoned(True, engine)
    assert _norm(direct.triples(GRAPH_INFERRED)) == _norm(delta.triples(GRAPH_INFERRED))
    assert direct_report.per_rule == delta_report.per_rule
    assert direct_report.rule_triples == delta_report.rule_triples == len(delta_report.derived_by)
    rules = load_rules()
    named = {r.template_text for r in rules if None not in r.writes and RDF.type not in r.writes}
    assert direct_targets[GRAPH_INFERRED] >= named and not direct_targets.get(RULE_DELTA, set()) & named
    assert {r.id for r in rules if r.template_text in direct_targets.get(RULE_DELTA, set())} == {
        r.id for r in rules if None in r.writes or RDF.type in r.writes}
    assert delta_targets[RULE_DELTA] >= named
    assert direct.count(RULE_DELTA) == 0


def test_a_class_written_through_a_variable_wakes_the_rules_that_read_it(tmp_path):
    """In one stratum, a rule reading instances of urn:ex:C comes first and finds none; a later
    rule writes `?x a ?class` with the class computed. The fixpoint must run the first rule again:
    the delta graph tells which classes were written (before, only rdf:type itself was touched,
    which the first rule does not read), and the direct rule counts the class afresh."""
    from aimsgraph.reason import GRAPH_INFERRED as INFERRED, ReasoningReport, _parse_rule_files, apply_rules
    from aimsgraph.store import OxigraphStore

    header = "# id: {id}\n# purpose: test.\n# source: test\n# stratum: 0\n"
    (tmp_path / "a.rq").write_text(header.format(id="reads-c") +
                                   "CONSTRUCT { ?x <urn:ex:seen> true } WHERE { ?x a <urn:ex:C> }")
    (tmp_path / "b.rq").write_text(header.format(id="writes-class") +
                                   'CONSTRUCT { ?x a ?class } WHERE { ?x <urn:ex:kind> ?kind '
                                   'BIND (IRI(CONCAT("urn:ex:", ?kind)) AS ?class) }')
    rules = _parse_rule_files(sorted(tmp_path.glob("*.rq")))
    store = OxigraphStore()
    store.update('INSERT DATA { GRAPH <urn:g> { <urn:x> <urn:ex:kind> "C" } }')
    report = ReasoningReport("none")
    apply_rules(store, report, rules=rules)
    assert set(store.triples(INFERRED)) == {
        (URIRef("urn:x"), RDF.type, URIRef("urn:ex:C")), (URIRef("urn:x"), URIRef("urn:ex:seen"), Literal(True))}
    assert report.per_rule == {"writes-class": 1, "reads-c": 1}
