"""`explain`: for a derived fact, the rule (or OWL 2 RL axiom) that produced it and its premises,
recursively, as a tree; the same tree on both stores; the CLI command around it."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from aimsgraph.explain import ExplainError, explain, register_names, render_text, term_text
from aimsgraph.load import load_input
from aimsgraph.reason import Parameters, reason
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
DATA = "https://w3id.org/aimsgraph/data/acme/"
PROFILE = DATA + "scorer/eu-ai-act"
REGISTER = {
    "format": "aimsgraph-register/1",
    "organization": {"id": "acme", "name": "ACME Ltd"},
    "ai_systems": [
        {"id": "scorer", "name": "Credit scorer", "eu_ai_act": {"roles": ["deployer"], "annex_iii": "5b"}},
        {"id": "features", "name": "Feature pipeline", "in_scope": False, "part_of": "scorer"},
    ],
    "risks": [{"id": "R-1", "title": "Biased scores", "ai_system": "scorer", "likelihood": 4, "impact": 3}],
}


@pytest.fixture(scope="module")
def register_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "register.yaml"
    path.write_text(yaml.safe_dump(REGISTER, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def reasoned(request, register_path):
    store = open_store(request.param)
    load_input(store, register_path)
    return store, reason(store, Parameters(date(2026, 1, 31)))


def asserted(s, p, o, graph="data"):
    return {"triple": [s, p, o], "how": "asserted", "graph": graph}


HIGH_RISK_RULE = {
    "how": "rule", "graph": "inferred", "rule": "eu-high-risk-annex-iii",
    "purpose": "A system whose intended purpose falls under an Annex III point is high-risk unless it validly "
               "claims the Art 6(3) derogation.",
    "source": "Regulation (EU) 2024/1689, Art 6(2), Annex III",
    "bindings": {"point": "euaia:annex3-5b", "profile": PROFILE, "system": DATA + "scorer"},
    "premises": [asserted(PROFILE, "aims:annexIIIPoint", "euaia:annex3-5b"),
                 asserted(DATA + "scorer", "aims:hasEUAIActProfile", PROFILE)],
}


def test_rule_fact_tree_is_exact_and_recursive(reasoned):
    store, report = reasoned
    [tree] = explain(store, report, "scorer", "aims:meetsCondition", "aims:cond-fria-required")
    assert tree.as_json() == {
        "triple": [DATA + "scorer", "aims:meetsCondition", "aims:cond-fria-required"],
        "how": "rule", "graph": "inferred", "rule": "eu-condition-fria",
        "purpose": "A system that is high-risk through an Annex III point other than point 2 requires a FRIA from "
                   "its deployer when the organisation is a public body or the point is 5(b) or 5(c).",
        "source": "Regulation (EU) 2024/1689, Art 27(1)",
        "bindings": {"org": DATA + "acme", "point": "euaia:annex3-5b", "profile": PROFILE, "system": DATA + "scorer"},
        "premises": [
            {"triple": [DATA + "scorer", "aims:euAIActCategory", "euaia:high-risk"], **HIGH_RISK_RULE},
            {"triple": [DATA + "scorer", "aims:classificationBasis", "euaia:annex3-5b"], **HIGH_RISK_RULE},
            asserted(DATA + "scorer", "aims:hasEUAIActProfile", PROFILE),
            asserted(DATA + "scorer", "aims:inOrganization", DATA + "acme"),
            asserted(PROFILE, "aims:annexIIIPoint", "euaia:annex3-5b"),
        ],
    }


def test_owl_inverse_shows_engine_axiom_and_premise(reasoned):
    store, report = reasoned
    [tree] = explain(store, report, "scorer", "aims:hasPart", "features")
    assert tree.as_json() == {
        "triple": [DATA + "scorer", "aims:hasPart", DATA + "features"],
        "how": "owl", "graph": "inferred", "rule": "OWL 2 RL", "source": "W3C OWL 2 RL/RDF rules",
        "axioms": [["aims:hasPart", "owl:inverseOf", "aims:partOf"]],
        "premises": [asserted(DATA + "features", "aims:partOf", DATA + "scorer")],
    }


def test_owl_subclass_shows_axiom(reasoned):
    store, report = reasoned
    [tree] = explain(store, report, "features", "rdf:type", "prov:Entity")
    assert tree.how == "owl"
    assert [list(map(str, a)) for a in tree.axioms] == [
        ["https://w3id.org/aimsgraph/ontology#AISystem", "http://www.w3.org/2000/01/rdf-schema#subClassOf",
         "http://www.w3.org/ns/prov#Entity"]]
    assert [p.as_json() for p in tree.premises] == [asserted(DATA + "features", "rdf:type", "aims:AISystem")]


def test_subject_alone_explains_every_derived_fact_about_it(reasoned):
    store, report = reasoned
    trees = explain(store, report, "features")
    assert [(term_text(t.triple[1]), term_text(t.triple[2]), t.how, t.rule) for t in trees] == [
        ("rdf:type", "prov:Entity", "owl", "OWL 2 RL"),
        ("rdf:type", "aims:InScopeSystem", "rule", "in-scope-part-of"),
    ]
    # the component is in scope because its parent is, which is in scope by declaration
    assert [p.rule or p.how for p in trees[1].premises] == ["in-scope-declared", "asserted"]


def test_terms_by_register_id_curie_iri_and_literal(reasoned):
    store, report = reasoned
    by_id = explain(store, report, "R-1", "aims:riskScore", "12")
    by_iri = explain(store, report, DATA + "R-1", "<https://w3id.org/aimsgraph/ontology#riskScore>", "12")
    assert [t.as_json() for t in by_id] == [t.as_json() for t in by_iri]
    assert by_id[0].rule == "risk-score" and by_id[0].bindings["score"].toPython() == 12


def test_unknown_term_and_underived_fact_are_errors(reasoned):
    store, report = reasoned
    with pytest.raises(ExplainError, match="neither a register id"):
        explain(store, report, "no-such-thing")
    with pytest.raises(ExplainError, match="no derived fact"):
        explain(store, report, "scorer", "aims:inScope")


def test_asserted_fact_given_in_full_is_reported_as_asserted(reasoned):
    store, report = reasoned
    [tree] = explain(store, report, "features", "aims:partOf", "scorer")
    assert tree.as_json() == asserted(DATA + "features", "aims:partOf", DATA + "scorer")


def test_text_tree(reasoned):
    store, report = reasoned
    text = render_text(explain(store, report, "features", "a", "aims:InScopeSystem"), register_names(store))
    assert text.splitlines() == [
        "features rdf:type aims:InScopeSystem  [rule in-scope-part-of: A component of an in-scope AI system is "
        "in scope too. (ISO/IEC 42001:2023, clause 4.3)]",
        "   with ?component=features, ?system=scorer",
        "├─ scorer rdf:type aims:InScopeSystem  [rule in-scope-declared: An AI system declared in scope is an "
        "in-scope system. (ISO/IEC 42001:2023, clause 4.3)]",
        "│     with ?system=scorer",
        "│  ├─ scorer aims:inScope true  [asserted in data]",
        "│  └─ scorer rdf:type aims:AISystem  [asserted in data]",
        "└─ features aims:partOf scorer  [asserted in data]",
    ]


def test_cli_explain(register_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "aimsgraph", "explain", str(register_path), *args,
                               "--as-of", "2026-01-31"], capture_output=True, text=True, cwd=ROOT)

    result = run("R-1", "aims:riskScore", "--format", "json")
    assert result.returncode == 0, result.stderr  # an answering command: 0 although the register has violations
    [fact] = json.loads(result.stdout)["facts"]
    assert fact["rule"] == "risk-score" and fact["triple"] == [DATA + "R-1", "aims:riskScore", "12"]
    missing = run("no-such-thing")
    assert missing.returncode == 2 and "neither a register id" in missing.stderr
