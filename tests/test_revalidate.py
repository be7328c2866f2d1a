"""Focus-scoped re-validation (aimsgraph.revalidate) against a full `shacl.run`: the exact same
list after every change, on the example registers (entities taken out and put back, the store
reasoned again in full each time), after single-triple edits, on random changes to a small graph
under shapes that use each construct the analysis handles, and where it has to fall back.

AIMSGRAPH_REVALIDATE_ALL=1 takes out every data entity of every example (a few minutes) instead
of the sample below."""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import date
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from aimsgraph import revalidate as rv
from aimsgraph import shacl, validate
from aimsgraph.namespaces import AIMS, GRAPH_DATA
from aimsgraph.reason import reason
from aimsgraph.store import OxigraphStore, from_ox_term

from analyses import analysed

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 1, 31)
EXAMPLES = {"finsecure": ROOT / "examples" / "finsecure" / "register.yaml",
            "conformant": ROOT / "examples" / "conformant" / "register.yaml",
            "csv-minimal": ROOT / "examples" / "csv-minimal"}
EVERYTHING = os.environ.get("AIMSGRAPH_REVALIDATE_ALL") == "1"
DATA = ox.NamedNode(GRAPH_DATA)


def _union(store: OxigraphStore) -> set:
    return {ox.Triple(q.subject, q.predicate, q.object) for q in store.native.quads_for_pattern(None, None, None, None)}


def _rdflib(triples) -> list:
    return [(from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object)) for t in triples]


def _reasoned_variant(base: OxigraphStore, params, drop=(), add=()) -> OxigraphStore:
    """A copy of `base` with data quads dropped / added, reasoned again from scratch."""
    drop = set(drop)
    raw = ox.Store()
    raw.extend([q for q in base.native.quads_for_pattern(None, None, None, None) if q not in drop])
    raw.extend(list(add))
    store = OxigraphStore.wrap(raw)
    reason(store, params)
    return store


def _same(got: list, want: list) -> None:
    """The exact list, and the same message bindings for each result (they do not take part in
    ValidationResult equality, but the findings' messages come from them)."""
    assert got == want
    assert Counter((r, r.bindings) for r in got) == Counter((r, r.bindings) for r in want)


def _check_both_ways(compiled, before, after, results_before, results_after) -> tuple[dict, dict]:
    """revalidate from `before` to `after` and back; returns both stats."""
    u0, u1 = _union(before), _union(after)
    added, removed = _rdflib(u1 - u0), _rdflib(u0 - u1)
    forward: dict = {}
    _same(rv.revalidate(compiled, after, added, removed, results_before, stats=forward), results_after)
    backward: dict = {}
    _same(rv.revalidate(compiled, before, removed, added, results_after, stats=backward), results_before)
    return forward, backward


def _sample(store: OxigraphStore, broad: bool) -> list[ox.NamedNode]:
    """The data entities taken out: every one with AIMSGRAPH_REVALIDATE_ALL=1; else the first
    of every type, and with `broad` every risk treatment, every third evidence item and every
    eighth SoA entry too (each costs a reasoning: the file stays under a minute)."""
    by_type: dict[str, list] = {}
    for q in store.native.quads_for_pattern(None, ox.NamedNode(str(RDF.type)), None, DATA):
        if isinstance(q.subject, ox.NamedNode):
            by_type.setdefault(q.object.value, []).append(q.subject)
    steps = {str(AIMS.Evidence): 3, str(AIMS.RiskTreatment): 1, str(AIMS.SoAEntry): 8} if broad else {}
    chosen: dict[str, ox.NamedNode] = {}
    for kind, members in sorted(by_type.items()):
        members = sorted(set(members), key=str)
        picked = members if EVERYTHING else members[::steps[kind]] if kind in steps else members[:1]
        for m in picked:
            chosen.setdefault(m.value, m)
    return [chosen[k] for k in sorted(chosen)]


@pytest.fixture(scope="module")
def compiled():
    return validate.compiled_shapes()


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_taking_out_and_putting_back_each_entity(example, compiled):
    analysis = analysed(EXAMPLES[example], AS_OF)
    base = analysis.store
    full_before = shacl.run(compiled, base)
    localised = whole = 0
    for entity in _sample(base, broad=example == "finsecure"):
        named = [q for q in base.native.quads_for_pattern(entity, None, None, DATA)] + \
                [q for q in base.native.quads_for_pattern(None, None, entity, DATA)]
        without = _reasoned_variant(base, analysis.params, drop=named)
        # taking it out: from the full register's results to the reduced one's; putting it back: the reverse
        forward, backward = _check_both_ways(compiled, base, without, full_before, shacl.run(compiled, without))
        for stats in (forward, backward):
            assert not stats.get("full_run")
            whole += stats.get("whole", 0)
            localised += stats.get("restricted", 0)
    # the point of it: nearly every affected query ran for a few focus nodes, not whole
    assert localised > 0 and whole <= localised // 10, (localised, whole)


def _one(store, s=None, p=None, o=None) -> ox.Quad:
    return next(iter(store.native.quads_for_pattern(s, p, o, DATA)))


def test_single_triple_edits(compiled):
    analysis = analysed(EXAMPLES["finsecure"], AS_OF)
    base = analysis.store
    full_before = shacl.run(compiled, base)
    # one hasEvidence link taken out (the SoA entry may lose its effective status, the evidence stay)
    link = _one(base, p=ox.NamedNode(str(AIMS.hasEvidence)))
    unlinked = _reasoned_variant(base, analysis.params, drop=[link])
    forward, _ = _check_both_ways(compiled, base, unlinked, full_before, shacl.run(compiled, unlinked))
    assert forward.get("restricted") and not forward.get("whole")
    # one date moved: every date-valued data triple of one kind of entity, shifted by two years
    for predicate in (AIMS.date, AIMS.nextReview, AIMS.due):
        quads = list(base.native.quads_for_pattern(None, ox.NamedNode(str(predicate)), None, DATA))
        if not quads:
            continue
        old = quads[0]
        value = date.fromisoformat(old.object.value)
        for shift in (-800, 800):
            moved = ox.Quad(old.subject, old.predicate,
                            ox.Literal(date.fromordinal(value.toordinal() + shift).isoformat(),
                                       datatype=ox.NamedNode(str(XSD.date))), DATA)
            edited = _reasoned_variant(base, analysis.params, drop=[old], add=[moved])
            _check_both_ways(compiled, base, edited, full_before, shacl.run(compiled, edited))


def test_changes_it_cannot_localise_fall_back_and_stay_exact(compiled):
    analysis = analysed(EXAMPLES["finsecure"], AS_OF)
    base = analysis.store
    full_before = shacl.run(compiled, base)
    # a new subclass changes the subclass sets the queries are written with: everything again
    sub = ox.Quad(ox.NamedNode("urn:x:SpecialRisk"), ox.NamedNode(str(RDFS.subClassOf)),
                  ox.NamedNode(str(AIMS.Risk)), DATA)
    risk = _one(base, p=ox.NamedNode(str(RDF.type)), o=ox.NamedNode(str(AIMS.Risk)))
    special = [sub, ox.Quad(ox.NamedNode("urn:x:risk"), ox.NamedNode(str(RDF.type)),
                            ox.NamedNode("urn:x:SpecialRisk"), DATA),
               ox.Quad(ox.NamedNode("urn:x:risk"), ox.NamedNode(str(AIMS.riskScore)),
                       ox.Literal("25", datatype=ox.NamedNode(str(XSD.integer))), DATA)]
    assert risk is not None
    widened = _reasoned_variant(base, analysis.params, add=special)
    forward, backward = _check_both_ways(compiled, base, widened, full_before, shacl.run(compiled, widened))
    assert forward.get("full_run") and backward.get("full_run")
    # blank nodes cannot go into VALUES: the queries they reach run whole
    blank = ox.BlankNode()
    anonymous = [ox.Quad(blank, ox.NamedNode(str(RDF.type)), ox.NamedNode(str(AIMS.Nonconformity)), DATA)]
    with_blank = _reasoned_variant(base, analysis.params, add=anonymous)
    forward, _ = _check_both_ways(compiled, base, with_blank, full_before, shacl.run(compiled, with_blank))
    assert forward.get("whole")


# ---------------------------------------------------------------------------- random changes

EX = "urn:x:"
SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <urn:x:> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:prefixes sh:declare [ sh:prefix "ex" ; sh:namespace "urn:x:"^^xsd:anyURI ] .

# OPTIONAL joined afterwards on a variable the OPTIONAL binds (renamed apart in the ancestry)
ex:OptionalJoin a sh:NodeShape ; sh:targetClass ex:A ;
  sh:sparql [ sh:prefixes ex:prefixes ; sh:select '''SELECT $this ?z WHERE {
    $this ex:p ?x . OPTIONAL { ?x ex:q ?y } ?z ex:r ?y . }''' ] .
# UNION, nested NOT EXISTS, BIND and a filter inside an OPTIONAL with EXISTS
ex:Nested a sh:NodeShape ; sh:targetClass ex:A, ex:B ;
  sh:sparql [ sh:prefixes ex:prefixes ; sh:select '''SELECT $this ?value WHERE {
    { $this ex:p ?value } UNION { ?value ex:q $this }
    FILTER NOT EXISTS { ?value ex:r ?w . FILTER NOT EXISTS { ?w a ex:B } }
    OPTIONAL { ?value ex:p ?v2 FILTER EXISTS { ?v2 ex:q $this } }
    BIND (BOUND(?v2) AS ?flag) }''' ] .
# paths: sequence, inverse, alternative (localised) and one-or-more
ex:Paths a sh:NodeShape ; sh:targetSubjectsOf ex:p ;
  sh:sparql [ sh:prefixes ex:prefixes ; sh:select '''SELECT $this ?value WHERE {
    $this ex:p/^ex:q ?value . ?value (ex:p|ex:r) ?k . FILTER NOT EXISTS { ?k ex:q+ $this } }''' ] .
# core: min/max counts (MINUS, GROUP BY HAVING), sh:class (VALUES in MINUS), a multi-class target
ex:Counts a sh:NodeShape ; sh:targetClass ex:A, ex:C ;
  sh:property [ sh:path ex:p ; sh:minCount 2 ; sh:maxCount 2 ] ,
              [ sh:path ( ex:q ex:r ) ; sh:minCount 1 ] ,
              [ sh:path [ sh:inversePath ex:p ] ; sh:class ex:B ] ,
              [ sh:path [ sh:zeroOrMorePath ex:r ] ; sh:maxCount 2 ] .
ex:C a sh:NodeShape ; sh:targetObjectsOf ex:q ; sh:property [ sh:path ex:r ; sh:in ( ex:n0 ex:n1 ) ] .
"""


def _random_triple(rng: random.Random) -> ox.Triple:
    nodes = [ox.NamedNode(f"{EX}n{i}") for i in range(7)]
    if rng.random() < 0.3:
        return ox.Triple(rng.choice(nodes), ox.NamedNode(str(RDF.type)),
                         ox.NamedNode(EX + rng.choice("ABC")))
    return ox.Triple(rng.choice(nodes), ox.NamedNode(EX + rng.choice("pqr")), rng.choice(nodes))


def test_random_changes_under_shapes_using_each_construct(monkeypatch):
    g = rdflib.Graph().parse(data=SHAPES, format="turtle")
    compiled = shacl.compile_shapes(g)
    assert len(compiled.queries) >= 9
    rng = random.Random(20261202)
    graph = ox.NamedNode(EX + "g")
    raw = ox.Store()
    raw.extend([ox.Quad(t.subject, t.predicate, t.object, graph) for t in {_random_triple(rng) for _ in range(30)}])
    store = OxigraphStore.wrap(raw)
    results = shacl.run(compiled, store)
    counts: Counter = Counter()
    for step in range(150):
        # every other change: candidates past WHOLE_ABOVE, the whole query run and its rows filtered
        monkeypatch.setattr(rv, "WHOLE_ABOVE", 0 if step % 2 else 1000)
        before = _union(store)
        for _ in range(rng.randint(1, 4)):
            t = _random_triple(rng)
            quad = ox.Quad(t.subject, t.predicate, t.object, graph)
            if quad in raw:
                raw.remove(quad)
            else:
                raw.add(quad)
        after = _union(store)
        stats: dict = {}
        got = rv.revalidate(compiled, store, _rdflib(after - before), _rdflib(before - after), results, stats=stats)
        results = shacl.run(compiled, store)
        _same(got, results)
        counts.update({k: v for k, v in stats.items() if k in ("whole", "restricted")})
    assert counts["restricted"] > counts["whole"] > 0  # the * path's query runs whole, the rest localised


LITERAL_JOIN = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <urn:x:> .
ex:SameScore a sh:NodeShape ; sh:targetSubjectsOf ex:score ;
  sh:sparql [ sh:select "SELECT $this ?value WHERE { $this <urn:x:score> ?s . ?value <urn:x:score> ?s . FILTER (?value != $this) }" ] .
"""


def test_a_join_on_a_literal_rdflib_normalises():
    """The store keeps " x"^^xsd:token; rdflib reads it back as "x": a VALUES row holding
    rdflib's form would not join the store's term, and the other focus node would be missed."""
    compiled = shacl.compile_shapes(rdflib.Graph().parse(data=LITERAL_JOIN, format="turtle"))
    graph = ox.NamedNode(EX + "g")
    odd = ox.Literal(" x", datatype=ox.NamedNode(str(XSD.token)))
    raw = ox.Store()
    raw.add(ox.Quad(ox.NamedNode(EX + "n1"), ox.NamedNode(EX + "score"), odd, graph))
    store = OxigraphStore.wrap(raw)
    before_union, before = _union(store), shacl.run(compiled, store)
    raw.add(ox.Quad(ox.NamedNode(EX + "n2"), ox.NamedNode(EX + "score"), odd, graph))
    added = _rdflib(_union(store) - before_union)
    assert str(added[0][2]) == "x"
    now = shacl.run(compiled, store)
    assert {r.focus for r in now} == {URIRef(EX + "n1"), URIRef(EX + "n2")}
    _same(rv.revalidate(compiled, store, added, [], before), now)


def test_plans_of_the_shipped_shapes_localise():
    """Every shipped query is analysed (none unsupported) and restrictable to its focus nodes."""
    compiled = validate.compiled_shapes()
    classes = {c: (c,) for c in compiled.classes}
    for q in compiled.queries:
        plan = rv.plan(q.text(classes))
        assert plan.unsupported is None, q.name
        assert plan.restrictable, q.name
        assert not plan.any_pred, q.name
        assert all(reaches for _atom, _anc, reaches in plan.paths), q.name


def test_restricted_puts_values_first():
    text = "PREFIX ex: <urn:x:{}>\nSELECT ?this WHERE { ?this a ex:A }"
    out = rv.restricted(text, [URIRef("urn:x:b"), Literal("a")])
    assert out.index("VALUES ?this") < out.index("?this a ex:A")
    assert '"a"' in out and "<urn:x:b>" in out


def test_restricted_repeats_values_only_where_the_rows_stay_the_same():
    values = "VALUES ?this { <urn:x:f> }"
    text = """SELECT ?this WHERE {
      { SELECT DISTINCT ?this WHERE { ?this a <urn:x:A> } }
      OPTIONAL { ?this <urn:x:p> ?x OPTIONAL { ?this <urn:x:q> ?y } }
      MINUS { ?this <urn:x:r> ?z }
      MINUS { ?z <urn:x:r> ?w OPTIONAL { ?w <urn:x:s> ?this } }
      { ?a <urn:x:p> ?b OPTIONAL { ?this <urn:x:q> ?a } }
      { SELECT DISTINCT ?this WHERE { ?this <urn:x:p> ?n } GROUP BY ?this }
    }"""
    out = " ".join(rv.restricted(text, [URIRef("urn:x:f")]).split())
    # the outer group, the target sub-select, the top-level OPTIONAL and the plain MINUS
    assert out.count(values) == 4
    assert f"WHERE {{ {values} ?this a <urn:x:A> }}" in out
    assert f"OPTIONAL {{ {values} ?this <urn:x:p> ?x" in out
    assert f"MINUS {{ {values} ?this <urn:x:r>" in out
    assert f"MINUS {{ {values} ?z" not in out  # ?this may be unbound in its solutions
    assert f"OPTIONAL {{ {values} ?this <urn:x:q> ?a" not in out  # nested: its left side need not bind ?this


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_shipped_query_restricted_gives_the_whole_querys_rows(example, compiled):
    store = analysed(EXAMPLES[example], AS_OF).store
    classes = shacl.resolve_classes(store, compiled.classes)
    every_focus = sorted({r.focus for r in shacl.run(compiled, store)}, key=str)

    def key(row):
        return tuple(sorted((k, v.n3()) for k, v in row.items()))

    for q in compiled.queries:
        text = q.text(classes)
        whole = store.query(text).rows
        foci = sorted({row["this"] for row in whole}, key=str)
        chosen = set(foci[::2] + every_focus[::5])
        got = Counter(map(key, store.query(rv.restricted(text, chosen)).rows))
        assert got == Counter(key(row) for row in whole if row["this"] in chosen), q.name


def test_no_change_gives_the_previous_results(compiled):
    analysis = analysed(EXAMPLES["conformant"], AS_OF)
    previous = shacl.run(compiled, analysis.store)
    t = (URIRef("urn:x:s"), URIRef("urn:x:p"), BNode())
    assert rv.revalidate(compiled, analysis.store, [t], [t], previous) == previous
