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


# --- why a role is `provider` (Art 25(1)) and why a duty does not apply (Art 2(2))

VALUE_CHAIN = {
    "format": "aimsgraph-register/1",
    "organization": {"id": "acme", "name": "ACME Ltd"},
    "ai_systems": [
        {"id": "rebranded", "name": "CV screening under our brand",
         "eu_ai_act": {"roles": ["deployer"], "annex_iii": "4a", "becomes_provider": ["name-or-trademark"]}},
        {"id": "drone", "name": "Drone autopilot", "eu_ai_act": {"roles": ["provider"], "annex_i_product": "2018/1139"}},
    ],
}


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def value_chain(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("explain-value-chain") / "register.yaml"
    path.write_text(yaml.safe_dump(VALUE_CHAIN, sort_keys=False), encoding="utf-8")
    store = open_store(request.param)
    load_input(store, path)
    return store, reason(store, Parameters(date(2026, 1, 31)))


def test_the_art25_provider_role_is_a_derived_fact_with_its_reason(value_chain):
    store, report = value_chain
    profile = DATA + "rebranded/eu-ai-act"
    [role] = explain(store, report, profile, "aims:operatorRole", "euaia:provider")
    doc = role.as_json()
    assert (doc["rule"], doc["source"]) == ("eu-art25-provider", "Regulation (EU) 2024/1689, Art 25(1)(a)-(c)")
    assert doc["bindings"] == {"ground": "euaia:art25-1a", "profile": profile, "system": DATA + "rebranded"}
    premises = {tuple(p["triple"]): p.get("rule") or p["how"] for p in doc["premises"]}
    assert premises == {
        (DATA + "rebranded", "aims:euAIActCategory", "euaia:high-risk"): "eu-high-risk-annex-iii",
        (DATA + "rebranded", "aims:hasEUAIActProfile", profile): "asserted",
        (profile, "aims:becomesProviderBy", "euaia:art25-1a"): "asserted",
    }
    # a provider duty of the system rests on that derived role
    [duty] = explain(store, report, "rebranded", "aims:hasObligation", "euaia:obl-art9-provider")
    [via_role] = [p for p in duty.premises if term_text(p.triple[1]) == "aims:operatorRole"]
    assert (via_role.rule, term_text(via_role.triple[2])) == ("eu-art25-provider", "euaia:provider")
    [basis] = explain(store, report, "rebranded", "aims:roleBasis", "euaia:art25-1a")
    assert basis.rule == "eu-art25-provider"


def test_an_art2_2_exclusion_is_a_derived_fact_down_to_the_annex_i_section(value_chain):
    store, report = value_chain
    [excluded] = explain(store, report, "drone", "aims:excludedObligation", "euaia:obl-art9-provider")
    assert excluded.rule == "eu-art2-2-excluded" and excluded.source == "Regulation (EU) 2024/1689, Art 2(2)"
    assert [term_text(p.triple[1]) for p in excluded.premises if p.how == "rule"] == ["aims:scopeLimitedBy"]
    profile = DATA + "drone/eu-ai-act"
    text = render_text(explain(store, report, "drone", "aims:scopeLimitedBy", "euaia:art2-2"), register_names(store))
    assert text.splitlines() == [
        "drone aims:scopeLimitedBy euaia:art2-2  [rule eu-art2-2-section-b: A high-risk system whose only route is a "
        "product of an Annex I Section B act falls under Art 2(2): of the EU AI Act only Art 6(1), 102-109 and 112 "
        "apply to it. (Regulation (EU) 2024/1689, Art 2(2), Art 6(1), Annex I Section B)]",
        f"   with ?entry=euaia:annex1-20, ?profile={profile}, ?system=drone",
        "├─ euaia:annex1-20 aims:appliedAnnexISection euaia:annex1-section-b  [rule eu-annex-i-section: An Annex I "
        "harmonisation act sits in the section of Annex I that the EU AI Act text applied by the run gives it (the "
        "2026 amendment moves machinery from Section A to Section B). (Regulation (EU) 2024/1689, Annex I; "
        "Regulation (EU) 2026/1744, Art 1(41))]",
        f"│     with ?adopted=euaia:annex1-section-b, ?entry=euaia:annex1-20, ?profile={profile}, "
        "?run=https://w3id.org/aimsgraph/run, ?section=euaia:annex1-section-b, ?text=euaia:text-original",
        "│  ├─ https://w3id.org/aimsgraph/run rdf:type aims:AssessmentRun  [asserted in parameters]",
        "│  ├─ https://w3id.org/aimsgraph/run aims:aiActText euaia:text-original  [asserted in parameters]",
        "│  ├─ euaia:annex1-20 aims:annexISection euaia:annex1-section-b  [asserted in catalogues]",
        f"│  └─ {profile} aims:annexIEntry euaia:annex1-20  [asserted in data]",
        "├─ drone aims:classificationBasis euaia:annex1-20  [rule eu-high-risk-annex-i: A system that is, or is a "
        "safety component of, a product under Annex I legislation is high-risk; the Annex I act is a basis when the "
        "register names it. (Regulation (EU) 2024/1689, Art 6(1), Annex I)]",
        f"│     with ?entry=euaia:annex1-20, ?product=2018/1139, ?profile={profile}, ?system=drone",
        f"│  ├─ {profile} aims:annexIProduct 2018/1139  [asserted in data]",
        f"│  ├─ drone aims:hasEUAIActProfile {profile}  [asserted in data]",
        f"│  └─ {profile} aims:annexIEntry euaia:annex1-20  [asserted in data]",
        "├─ drone aims:euAIActCategory euaia:high-risk  [rule eu-high-risk-annex-i: A system that is, or is a safety "
        "component of, a product under Annex I legislation is high-risk; the Annex I act is a basis when the register "
        "names it. (Regulation (EU) 2024/1689, Art 6(1), Annex I)]",
        f"│     with ?entry=euaia:annex1-20, ?product=2018/1139, ?profile={profile}, ?system=drone",
        f"│  ├─ {profile} aims:annexIProduct 2018/1139  [asserted in data]",
        f"│  ├─ drone aims:hasEUAIActProfile {profile}  [asserted in data]",
        f"│  └─ {profile} aims:annexIEntry euaia:annex1-20  [asserted in data]",
        f"├─ {profile} aims:annexIEntry euaia:annex1-20  [asserted in data]",
        f"└─ drone aims:hasEUAIActProfile {profile}  [asserted in data]",
    ]
    # no duty is derived for it at all
    with pytest.raises(ExplainError, match="no derived fact"):
        explain(store, report, "drone", "aims:hasObligation")
