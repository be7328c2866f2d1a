"""Incremental reasoning (issue 12): new data added to a reasoned store re-derives only what it
touches, and the result is exactly what reasoning from scratch gives. Proven by taking each entity
out of an example, reasoning, adding it back incrementally, and comparing every inferred triple
(and the net change reported) with a full run; then `aimsgraph add` on an on-disk store, its
fallback, and SIGKILLs during it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS

from aimsgraph import workspace
from aimsgraph.incremental import add_data, rule_forms
from aimsgraph.namespaces import AIMS, GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS
from aimsgraph.pipeline import analyse
from aimsgraph.reason import reason
from aimsgraph.store import OxigraphStore, open_store

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {"finsecure": ROOT / "examples" / "finsecure" / "register.yaml",
            "conformant": ROOT / "examples" / "conformant" / "register.yaml",
            "csv-minimal": ROOT / "examples" / "csv-minimal"}
AS_OF = date(2026, 1, 31)
FINSECURE_DATA = "https://w3id.org/aimsgraph/data/finsecure/"


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def example(request):
    analysis = analyse(EXAMPLES[request.param], AS_OF)
    store = analysis.store
    others = {g: store.triples(g) for g in store.graphs() if g not in (GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS)}
    return {"analysis": analysis, "data": store.triples(GRAPH_DATA), "inferred": set(store.triples(GRAPH_INFERRED)),
            "others": others}


def _without(example, fragment: set) -> OxigraphStore:
    store = OxigraphStore()
    for graph, triples in example["others"].items():
        store.add(graph, triples)
    store.add(GRAPH_DATA, [t for t in example["data"] if t not in fragment])
    reason(store, example["analysis"].params)
    return store


def _entities(example) -> list[tuple[str, URIRef]]:
    """Every evidence item, and the first entity of every other class in the data."""
    by_class = defaultdict(set)
    for s, p, o in example["data"]:
        if p == RDF.type and isinstance(s, URIRef):
            by_class[str(o).rsplit("#", 1)[-1]].add(s)
    chosen = [("Evidence", s) for s in sorted(by_class.pop("Evidence", ()))]
    return chosen + [(name, min(subjects)) for name, subjects in sorted(by_class.items())]


def test_adding_each_entity_back_gives_exactly_what_reasoning_from_scratch_gives(example):
    checked = 0
    for kind, entity in _entities(example):
        fragment = {t for t in example["data"] if entity in (t[0], t[2])}
        store = _without(example, fragment)
        union_before = {t for g in store.graphs() for t in store.triples(g)}
        report = add_data(store, fragment, example["analysis"].params)
        assert report.fallback is None, (kind, entity)
        assert set(store.triples(GRAPH_INFERRED)) == example["inferred"], (kind, entity)
        union_after = {t for g in store.graphs() for t in store.triples(g)}
        assert (report.added, report.removed) == (union_after - union_before, union_before - union_after), (kind, entity)
        assert not [g for g in store.graphs() if "/delta/" in g]  # the increment's graphs are gone
        checked += 1
    assert checked >= 10


def test_an_evidence_item_re_derives_only_its_own_status():
    analysis = analyse(EXAMPLES["finsecure"], AS_OF)
    store = analysis.store
    evidence = URIRef(FINSECURE_DATA + "EV-99")
    new = [(evidence, RDF.type, AIMS.Evidence), (evidence, AIMS.registerId, Literal("EV-99")),
           (evidence, AIMS.date, Literal(date(2026, 1, 10))), (evidence, AIMS.validUntil, Literal(date(2027, 1, 10)))]
    report = add_data(store, new, analysis.params)
    assert report.fallback is None and report.data_added == 4 and report.removed == set()
    derived = report.added - set(new)
    assert (evidence, AIMS.evidenceStatus, AIMS["evidence-valid"]) in derived
    assert {t[0] for t in derived} == {evidence}  # its status and its OWL types, nothing else
    again = add_data(store, new, analysis.params)
    assert again.data_added == 0 and again.added == set() and again.rule_runs == 0


def test_a_schema_triple_is_reasoned_from_scratch_with_the_same_result():
    analysis = analyse(EXAMPLES["conformant"], AS_OF)
    store = analysis.store
    triple = (AIMS.Evidence, RDFS.subClassOf, AIMS.Document)
    report = add_data(store, [triple], analysis.params)
    assert report.fallback == "the new data changes the schema (classes, properties, OWL axioms)"
    assert report.added is None
    reference = analyse(EXAMPLES["conformant"], AS_OF).store
    reference.add(GRAPH_DATA, [triple])
    reason(reference, analysis.params)
    assert set(store.triples(GRAPH_INFERRED)) == set(reference.triples(GRAPH_INFERRED))


def test_rule_forms_see_patterns_inside_nested_not_exists():
    """rdflib keeps a NOT EXISTS's translated pattern as an attribute and moves FILTERs out of
    the parse tree: eu-obligations' `?system aims:meetsCondition ?condition` sits in a NOT EXISTS
    inside a NOT EXISTS, so it is a positive premise."""
    form = next(f for f in rule_forms() if f.rule.id == "eu-obligations")
    uses = {(u.pattern[1], u.polarity) for u in form.uses}
    assert (AIMS.meetsCondition, 1) in uses and (AIMS.condition, -1) in uses


# --- aimsgraph add -------------------------------------------------------------------------------

EVIDENCE_TTL = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix d: <https://w3id.org/aimsgraph/data/finsecure/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
d:EV-99 a aims:Evidence ; aims:registerId "EV-99" ; aims:inOrganization d:finsecure ;
  aims:date "2026-01-10"^^xsd:date ; aims:validUntil "2026-02-10"^^xsd:date .
<https://w3id.org/aimsgraph/data/finsecure/soa/A.6.2.2> aims:hasEvidence d:EV-99 .
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aimsgraph", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def _stored(folder: Path) -> dict:
    store = open_store("oxigraph", str(folder))
    version = workspace.current(store, "finsecure")
    view = version.view(store)
    out = {"data": set(view.triples(GRAPH_DATA)), "inferred": set(view.triples(GRAPH_INFERRED)),
           "pending": workspace.interrupted(store)}
    del store
    return out


@pytest.fixture
def loaded(tmp_path) -> Path:
    folder = tmp_path / "store"
    assert cli("load", str(EXAMPLES["finsecure"]), "--store-dir", str(folder), "--as-of", "2026-01-31").returncode == 0
    return folder


def test_add_on_a_store_answers_as_a_load_of_everything(loaded, tmp_path):
    fragment = tmp_path / "evidence.ttl"
    fragment.write_text(EVIDENCE_TTL, encoding="utf-8")
    result = cli("add", str(fragment), "--store-dir", str(loaded))
    assert result.returncode == 0, result.stderr
    assert "added 6 new triples:" in result.stderr and "by re-deriving only what they touch" in result.stderr
    # the same data loaded whole into a second store
    combined = tmp_path / "combined.nt"
    reference_store = OxigraphStore()
    reference = analyse(EXAMPLES["finsecure"], AS_OF, store=reference_store)
    reference_store.load(fragment.read_text(encoding="utf-8"), "turtle", GRAPH_DATA)
    combined.write_text("".join(f"{s.n3()} {p.n3()} {o.n3()} .\n" for s, p, o in reference_store.triples(GRAPH_DATA)),
                        encoding="utf-8")
    whole = tmp_path / "whole"
    assert cli("load", str(combined), "--org", "finsecure", "--store-dir", str(whole), "--as-of", "2026-01-31").returncode == 0
    assert _stored(loaded)["inferred"] == _stored(whole)["inferred"]
    gaps = [json.loads(cli("gaps", "--store-dir", str(f), "--as-of", "2026-01-31", "--format", "json").stdout)["findings"]
            for f in (loaded, whole)]
    assert gaps[0] == gaps[1]
    assert (URIRef(FINSECURE_DATA + "EV-99"), AIMS.evidenceStatus, AIMS["evidence-expiring"]) in _stored(loaded)["inferred"]
    del reference


def test_add_of_a_register_that_leaves_entries_out_is_reasoned_from_scratch(loaded, tmp_path):
    smaller = tmp_path / "register.yaml"
    text = EXAMPLES["finsecure"].read_text(encoding="utf-8")
    smaller.write_text(text, encoding="utf-8")
    same = cli("add", str(smaller), "--store-dir", str(loaded))
    assert same.returncode == 0 and "added 0 new triples" in same.stderr
    rdf = tmp_path / "schema.ttl"
    rdf.write_text("<https://w3id.org/aimsgraph/ontology#Evidence> "
                   "<http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://www.w3.org/ns/prov#Entity> .\n",
                   encoding="utf-8")
    schema = cli("add", str(rdf), "--store-dir", str(loaded))
    assert schema.returncode == 0 and "reasoned from scratch (the new data changes the schema" in schema.stderr


ADD_KILL_POINTS = {  # (module, class or None, function)
    "after-the-owl-closure": ("aimsgraph.incremental", None, "sparql_closure"),
    "in-a-stratum": ("aimsgraph.incremental", "_Maintainer", "stratum"),
    "just-before-the-merge": ("aimsgraph.store", "OxigraphStore", "update"),
}


@pytest.mark.parametrize("point", list(ADD_KILL_POINTS))
def test_an_add_killed_midway_leaves_the_previous_state(loaded, tmp_path, point):
    before = _stored(loaded)
    fragment = tmp_path / "evidence.ttl"
    fragment.write_text(EVIDENCE_TTL, encoding="utf-8")
    module, owner, name = ADD_KILL_POINTS[point]
    code = f"""
import os, signal, sys, importlib
module = importlib.import_module({module!r})
holder = getattr(module, {owner!r}) if {owner!r} else module
original = getattr(holder, {name!r})
calls = []
def patched(*args, **kwargs):
    if {point!r} == "just-before-the-merge":  # the update that merges the increment, not run
        if "increment/data> TO" in args[-1]:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    result = original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(holder, {name!r}, patched)
sys.argv = ["aimsgraph", "add", {str(fragment)!r}, "--store-dir", {str(loaded)!r}]
from aimsgraph.cli import main
main()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr
    after = _stored(loaded)  # reading it finds the increment unfinished and recovers
    assert after == {**before, "pending": []}
    assert os.path.isdir(loaded)


# --- findings kept between commands, brought up to date by add ------------------------------------

VALID_EVIDENCE_FOR_A74 = EVIDENCE_TTL.replace("EV-99", "EV-96").replace("2026-02-10", "2027-02-10").replace(
    "soa/A.6.2.2", "soa/A.7.4")


def test_gaps_after_add_equal_a_full_validation(tmp_path, monkeypatch):
    """`load` validates once and keeps the findings; each `add` updates them from the change alone
    (revalidate.py); `gaps` then reads them. They must equal validating the store from scratch."""
    cache = tmp_path / "cache"
    env = {**os.environ, "AIMSGRAPH_CACHE_DIR": str(cache)}
    folder = tmp_path / "store"

    def run(*args, cache_dir=env):
        return subprocess.run([sys.executable, "-m", "aimsgraph", *args], capture_output=True, text=True, cwd=ROOT,
                              env=cache_dir, timeout=300)

    assert run("load", str(EXAMPLES["finsecure"]), "--store-dir", str(folder), "--as-of", "2026-01-31").returncode == 0
    first = json.loads(run("gaps", "--store-dir", str(folder), "--as-of", "2026-01-31", "--format", "json").stdout)
    for number, text in enumerate((EVIDENCE_TTL, VALID_EVIDENCE_FOR_A74)):
        fragment = tmp_path / f"fragment-{number}.ttl"
        fragment.write_text(text, encoding="utf-8")
        assert run("add", str(fragment), "--store-dir", str(folder)).returncode == 0
        kept = run("gaps", "--store-dir", str(folder), "--as-of", "2026-01-31", "--format", "json").stdout
        fresh = run("gaps", "--store-dir", str(folder), "--as-of", "2026-01-31", "--format", "json",
                    cache_dir={**os.environ, "AIMSGRAPH_CACHE_DIR": "off"}).stdout
        assert kept == fresh
    final = json.loads(kept)["findings"]
    gone = [f for f in first["findings"] if f not in final]
    assert ("control-unevidenced", "A.7.4") in [(f["rule"], f["focus"]) for f in gone]

    # an unchanged store's gaps read the kept findings: no validation runs
    import aimsgraph.pipeline as pipeline

    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(cache))
    monkeypatch.setattr(pipeline, "validate", lambda *a, **k: pytest.fail("validated again"))
    store = open_store("oxigraph", str(folder))
    analysis = pipeline.analyse_stored(store, AS_OF)
    assert [f.as_json() for f in analysis.validation.findings] == final
    del analysis, store
