"""The three catalogue questions, answered by `aimsgraph query` on the shipped graph alone
(ontology + catalogues, no register): exact rows, and a parameter that gives no rows."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aimsgraph.cli import app
from aimsgraph.load import load_packaged
from aimsgraph.query import rows_as_text, run_named
from aimsgraph.store import open_store


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def store(request):
    s = open_store(request.param)
    load_packaged(s)
    return s


def rows(store, name: str, columns: tuple[str, ...], **params: str) -> list[tuple[str, ...]]:
    return [tuple(r.get(c, "") for c in columns) for r in rows_as_text(run_named(store, name, params))]


def test_controls_for_article_14(store):
    assert rows(store, "controls-for-article", ("article", "control", "title", "relationship"),
                article="euaia:art14") == [
        ("euaia:art14", "iso42001:A.3.2", "AI roles and responsibilities", "aims:intersectsWith"),
        ("euaia:art14", "iso42001:A.6.2.2", "AI system requirements and specification", "aims:intersectsWith"),
        ("euaia:art14", "iso42001:A.6.2.6", "AI system operation and monitoring", "aims:intersectsWith"),
        ("euaia:art14", "iso42001:A.8.2", "System documentation and information for users", "aims:intersectsWith"),
        ("euaia:art14", "iso42001:A.9.2", "Processes for responsible use of AI systems", "aims:intersectsWith"),
    ]
    assert all(len(r["rationale"]) > 20 for r in rows_as_text(run_named(store, "controls-for-article",
                                                                         {"article": "euaia:art14"})))


def test_controls_for_an_article_without_counterpart_is_empty(store):
    assert rows(store, "controls-for-article", ("control",), article="euaia:art47") == []


def test_obligations_binding_a_deployer_of_a_high_risk_system(store):
    assert rows(store, "obligations-for-role", ("obligation", "article", "condition"),
                role="euaia:deployer", category="euaia:high-risk") == [
        ("euaia:obl-art26-deployer", "euaia:art26", ""),
        ("euaia:obl-art27-deployer", "euaia:art27", "aims:cond-fria-required"),
        ("euaia:obl-art4-deployer", "euaia:art4", ""),
        ("euaia:obl-art49-3-deployer", "euaia:art49-3", "aims:cond-public-authority-annex-iii"),
        ("euaia:obl-art50-3-deployer", "euaia:art50-3", "aims:cond-emotion-or-biometric-categorisation"),
        ("euaia:obl-art50-4-deployer", "euaia:art50-4", "aims:cond-deep-fake-or-public-text"),
        ("euaia:obl-art86-deployer", "euaia:art86", "aims:cond-annex-iii-high-risk-except-point-2"),
    ]


def test_no_obligations_for_an_importer_of_a_minimal_risk_system(store):
    assert rows(store, "obligations-for-role", ("obligation",), role="euaia:importer",
                category="euaia:minimal-risk") == []


def test_nist_subcategories_intersecting_clause_6_1_2(store):
    assert rows(store, "nist-for-clause", ("entry", "subcategory", "relationship"), entry="iso42001:6.1.2") == [
        ("iso42001:6.1.2", "nistairmf:MANAGE-1.2", "aims:intersectsWith"),
        ("iso42001:6.1.2", "nistairmf:MAP-1.1", "aims:intersectsWith"),
        ("iso42001:6.1.2", "nistairmf:MAP-3.2", "aims:intersectsWith"),
        ("iso42001:6.1.2", "nistairmf:MAP-4.1", "aims:intersectsWith"),
        ("iso42001:6.1.2", "nistairmf:MAP-5.1", "aims:intersectsWith"),
    ]


def test_nist_for_a_clause_without_mappings_is_empty(store):
    assert rows(store, "nist-for-clause", ("subcategory",), entry="iso42001:4") == []


def test_cli_answers_on_the_shipped_graph_alone():
    result = CliRunner().invoke(app, ["query", "controls-for-article", "-p", "article=euaia:art14",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["columns"] == ["control", "title", "relationship", "rationale", "article"]
    assert [r["control"] for r in doc["rows"]] == ["iso42001:A.3.2", "iso42001:A.6.2.2", "iso42001:A.6.2.6",
                                                   "iso42001:A.8.2", "iso42001:A.9.2"]
