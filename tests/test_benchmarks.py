"""Smoke test of the benchmark generator at its smallest size (one system of every kind, ~2k
data triples): the register passes the strict loader, reasons and validates, and the graph holds
exactly what the plan says. No timing here; speed lives in benchmarks/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` lives beside `src`

from benchmarks.generate import AS_OF, SMALLEST_SYSTEMS, Plan, register_graph, write_yaml  # noqa: E402

from aimsgraph.pipeline import analyse, classify  # noqa: E402


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(SMALLEST_SYSTEMS)


@pytest.fixture(scope="module")
def analysis(plan, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "register.yaml"
    write_yaml(plan, path)
    return analyse(path, AS_OF)


def count(store, sparql: str) -> int:
    return int(store.query(sparql).rows[0]["n"])


def test_smallest_register_is_about_2k_triples(plan):
    assert 1_500 <= len(register_graph(plan)) <= 2_500


def test_generation_is_deterministic(plan):
    assert set(register_graph(plan)) == set(register_graph(Plan(SMALLEST_SYSTEMS)))


def test_graph_holds_exactly_the_planned_entities(plan, analysis):
    store = analysis.store
    assert count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a aims:AISystem ; aims:registerId ?id }") \
        == plan.systems == 12
    assert count(store, "SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a aims:Risk }") == plan.risks == 48
    assert count(store, "SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { ?e a aims:SoAEntry }") == plan.controls == 38 + 12
    assert count(store, "SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { ?e a aims:Evidence }") == plan.evidence == 48


@pytest.mark.parametrize("status", ["valid", "expiring", "expired", "pending"])
def test_every_evidence_status_occurs_once_per_system(plan, analysis, status):
    derived = count(analysis.store, f"SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{ ?e aims:evidenceStatus aims:evidence-{status} }}")
    assert derived == plan.evidence_with_status(status) == 12


def test_every_eu_ai_act_category_is_classified_as_planned(plan, analysis):
    categories: dict[str, int] = {}
    for system in classify(analysis.store)["systems"]:
        categories[system["category"]] = categories.get(system["category"], 0) + 1
    assert categories == plan.category_counts() == {
        "out-of-scope": 1, "high-risk": 5, "minimal-risk": 3, "prohibited": 1, "limited-risk": 2}


def test_validation_findings_fire_on_the_planned_entities(analysis):
    by_rule: dict[str, set[str]] = {}
    for finding in analysis.validation.findings:
        by_rule.setdefault(finding.rule, set()).add(finding.focus)
    assert by_rule["evidence-expired"] == {f"EV-{i:05d}-expired" for i in range(12)}
    assert by_rule["prohibited-practice"] == {"sys-00005"}
    assert by_rule["derogation-invalid"] == {"sys-00004"}
    assert by_rule["impact-assessment-missing"] == {"sys-00008"}  # every ninth system has none
    assert by_rule["impact-assessment-incomplete"] == {"IA-00003", "IA-00007", "IA-00011"}
    assert by_rule["impact-assessment-overdue"] == {"IA-00004"}


def test_the_runner_times_every_stage_and_every_named_query_twice_over(plan, tmp_path):
    """benchmarks.run's `ours` job: the four stages, each named query's seconds in the timed pass
    and its median of three more runs (figures, not asserted), and the findings counted."""
    from benchmarks.run import measure_pipeline, table

    from aimsgraph.query import named_queries

    path = tmp_path / "register.yaml"
    write_yaml(plan, path)
    out = measure_pipeline(path, "ours", None)
    assert set(out["stages"]) == {"load", "reason", "validate", "queries", "total"}
    assert set(out["per_query_s"]) == set(out["per_query_median_s"]) == set(named_queries())
    assert out["findings"] == len(analyse(path, AS_OF).validation.findings)
    text = table({"triples": 1, **out})
    assert "slowest query: " in text and "median of 3 more" in text
