"""EU AI Act classification and obligations (conformity.md, "EU AI Act"; register.md, "classify"),
derived by the rules in rules/ and read by `pipeline.classify`.

Two registers, one private and one public-body organisation, cover every category, every operator
role, the Art 6(3) derogation and its voiding by profiling, Art 27 (public body, 5(b), 5(c), the
Annex III point 2 exception, and Annex I-only systems), GPAI and a system with no EU AI Act block.
"""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from aimsgraph.load import load_input
from aimsgraph.pipeline import classify
from aimsgraph.reason import Parameters, reason
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"


def arts(*numbers) -> list[str]:
    return [f"euaia:art{n}" for n in numbers]


# Art 16 (a)-(l) and the articles it points to (Art 21 by Art 16(k)), as the catalogue lists them
# for providers and for product manufacturers (Art 25(3)); Art 4 is added for providers and
# deployers. Art 49 registration binds only for Annex III systems (Art 49(1)), and Art 86 only for
# deployers of Annex III systems other than point 2.
HIGH_RISK_PROVIDER_ANNEX_I = arts(9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 43, 47, 48, 72, 73)
HIGH_RISK_PROVIDER = arts(9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 43, 47, 48, 49, 72, 73)
DEPLOYER_HIGH_RISK = arts(26, 86)

PRIVATE = {
    "format": "aimsgraph-register/1",
    "organization": {"id": "acme", "name": "ACME Ltd", "public_body": False},
    "ai_systems": [
        {"id": "social-scorer", "name": "Citizen trust score",
         "eu_ai_act": {"roles": ["provider", "deployer"], "prohibited_practice": "c", "annex_iii": "5a"}},
        {"id": "hiring", "name": "CV screening", "eu_ai_act": {"roles": ["provider", "deployer"], "annex_iii": "4a"}},
        {"id": "credit", "name": "Credit scorer", "eu_ai_act": {"roles": ["deployer"], "annex_iii": "5b", "profiling": True}},
        {"id": "insurance", "name": "Life insurance pricing", "eu_ai_act": {"roles": ["deployer"], "annex_iii": "5c"}},
        {"id": "doc-sorter", "name": "CV formatter",
         "eu_ai_act": {"roles": ["provider"], "annex_iii": "4a", "art6_3_derogation": True}},
        {"id": "ranker", "name": "Candidate ranker",
         "eu_ai_act": {"roles": ["provider"], "annex_iii": "4a", "art6_3_derogation": True, "profiling": True}},
        {"id": "odd-claim", "name": "Chatbot claiming Art 6(3)",
         "eu_ai_act": {"roles": ["provider"], "interacts_with_people": True, "art6_3_derogation": True}},
        {"id": "infusion", "name": "Infusion dosing", "eu_ai_act": {"roles": ["provider"], "annex_i_product": "medical-device"}},
        {"id": "lift", "name": "Lift safety controller",
         "eu_ai_act": {"roles": ["product-manufacturer"], "annex_i_product": "lifts"}},
        {"id": "imported", "name": "Imported scorer", "eu_ai_act": {"roles": ["importer", "distributor"], "annex_iii": "5b"}},
        {"id": "represented", "name": "Third-country hiring tool",
         "eu_ai_act": {"roles": ["authorised-representative"], "annex_iii": "4a"}},
        {"id": "chatbot", "name": "Support chatbot",
         "eu_ai_act": {"roles": ["provider", "deployer"], "interacts_with_people": True, "synthetic_content": True}},
        {"id": "mood-meter", "name": "Audience mood meter",
         "eu_ai_act": {"roles": ["deployer"], "emotion_or_biometric_categorisation": True}},
        {"id": "deepfaker", "name": "Campaign video generator",
         "eu_ai_act": {"roles": ["deployer"], "deep_fake_or_public_text": True}},
        {"id": "spam-filter", "name": "Spam filter", "eu_ai_act": {"roles": ["deployer"]}},
        {"id": "base-model", "name": "Base language model", "eu_ai_act": {"roles": ["provider"], "gpai": True}},
        {"id": "internal", "name": "Internal forecaster"},
        # Art 25(1): a deployer that rebrands, an importer that substantially modifies, and an
        # organisation with no listed role that repurposes a system into a high-risk use
        {"id": "rebranded", "name": "CV screening under our brand",
         "eu_ai_act": {"roles": ["deployer"], "annex_iii": "4a", "becomes_provider": ["name-or-trademark"]}},
        {"id": "modified", "name": "Imported scorer, retrained",
         "eu_ai_act": {"roles": ["importer"], "annex_iii": "5b", "becomes_provider": ["substantial-modification"]}},
        {"id": "repurposed", "name": "Chatbot turned exam grader",
         "eu_ai_act": {"roles": [], "annex_iii": "3b", "becomes_provider": ["intended-purpose-change"]}},
        # Annex I Section B (Art 2(2)): civil aviation named by its act, vehicles by their point
        {"id": "drone", "name": "Drone autopilot",
         "eu_ai_act": {"roles": ["provider", "deployer"], "annex_i_product": "Regulation (EU) 2018/1139"}},
        {"id": "lane-keeper", "name": "Lane keeping assistant", "eu_ai_act": {"roles": ["provider"], "annex_i_product": 19}},
        # Section A, named by its point: the full Chapter III regime
        {"id": "glucose", "name": "Glucose predictor", "eu_ai_act": {"roles": ["provider"], "annex_i_product": 11}},
        # machinery: Section A in the 2024 text (as-of 2026-01-31), Section B once amended
        {"id": "press", "name": "Press brake guard", "eu_ai_act": {"roles": ["provider"], "annex_i_product": "2006/42/EC"}},
    ],
}

PUBLIC = {
    "format": "aimsgraph-register/1",
    "organization": {"id": "city", "name": "City of Example", "public_body": True},
    "ai_systems": [
        {"id": "benefits", "name": "Benefit eligibility", "eu_ai_act": {"roles": ["deployer"], "annex_iii": "5a"}},
        {"id": "grid", "name": "Grid load controller", "eu_ai_act": {"roles": ["deployer"], "annex_iii": "2"}},
        {"id": "x-ray", "name": "X-ray triage", "eu_ai_act": {"roles": ["deployer"], "annex_i_product": "medical-device"}},
        {"id": "benefits-vendor", "name": "Benefit eligibility (own build)",
         "eu_ai_act": {"roles": ["provider"], "annex_iii": "5a"}},
    ],
}


def _classify(register: dict, tmp_path_factory, as_of: date = date(2026, 1, 31), text: str = "auto") -> dict[str, dict]:
    path = tmp_path_factory.mktemp("classify") / "register.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False), encoding="utf-8")
    store = open_store()
    load_input(store, path)
    reason(store, Parameters(as_of, ai_act_text=text))
    return {entry.pop("id"): entry for entry in classify(store)["systems"]}


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    return _classify(PRIVATE, tmp_path_factory)


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    return _classify(PUBLIC, tmp_path_factory)


def entry(category, basis=(), roles=(), obligations=(), gpai=False, role_basis=None, limited_by=(),
          excluded=()) -> dict:
    return {"category": category, "gpai": gpai, "basis": list(basis), "roles": list(roles),
            "obligations": list(obligations), "role_basis": role_basis or {}, "scope_limited_by": list(limited_by),
            "excluded_obligations": list(excluded)}


def _sorted(curies):
    return sorted(curies, key=lambda c: [int(p) if p.isdigit() else p for p in c.replace("-", " ").split("art")[-1].split()])


PRIVATE_EXPECTED = {
    # Art 5 binds every operator of a prohibited system; Art 4 still applies
    "social-scorer": entry("prohibited", arts(5, "5-1c"), ["deployer", "provider"], arts(4, 5)),
    # Annex III 4(a), private deployer: no Art 27
    "hiring": entry("high-risk", ["euaia:art6", "euaia:annex3-4a"], ["deployer", "provider"],
                    _sorted(arts(4) + HIGH_RISK_PROVIDER + DEPLOYER_HIGH_RISK)),
    # Annex III 5(b) and 5(c): Art 27 even for a private deployer
    "credit": entry("high-risk", ["euaia:art6", "euaia:annex3-5b"], ["deployer"], arts(4, 26, 27, 86)),
    "insurance": entry("high-risk", ["euaia:art6", "euaia:annex3-5c"], ["deployer"], arts(4, 26, 27, 86)),
    # a valid Art 6(3) derogation: not high-risk, but the assessment is documented (Art 6(4)) and
    # the system registered (Art 49(2))
    "doc-sorter": entry("minimal-risk", [], ["provider"], arts(4, 6, 49)),
    # the derogation is void when the system profiles natural persons: only the high-risk duties
    # remain, not the Art 6(4) documentation or Art 49(2) registration of a valid derogation
    "ranker": entry("high-risk", ["euaia:art6", "euaia:art6-3", "euaia:annex3-4a"], ["provider"],
                    _sorted(arts(4) + HIGH_RISK_PROVIDER)),
    # a derogation claimed without an Annex III point derogates from nothing and brings no duty
    "odd-claim": entry("limited-risk", arts(50, "50-1"), ["provider"], arts(4, "50-1")),
    # Annex I only: no Art 49 registration
    "infusion": entry("high-risk", ["euaia:art6", "euaia:art6-1"], ["provider"],
                      _sorted(arts(4) + HIGH_RISK_PROVIDER_ANNEX_I)),
    # Art 25(3): the product manufacturer carries the provider's high-risk obligations
    "lift": entry("high-risk", ["euaia:art6", "euaia:art6-1"], ["product-manufacturer"], HIGH_RISK_PROVIDER_ANNEX_I),
    "imported": entry("high-risk", ["euaia:art6", "euaia:annex3-5b"], ["distributor", "importer"], arts(23, 24)),
    "represented": entry("high-risk", ["euaia:art6", "euaia:annex3-4a"], ["authorised-representative"], arts(22)),
    # Art 50(1), 50(2) bind the provider; 50(4) binds a deployer only for deep fakes or text published
    # on matters of public interest, which a support chatbot does not produce
    "chatbot": entry("limited-risk", arts(50, "50-1", "50-2"), ["deployer", "provider"], arts(4, "50-1", "50-2")),
    "mood-meter": entry("limited-risk", arts(50, "50-3"), ["deployer"], arts(4, "50-3")),
    # Art 50(4) alone (deep fakes, public-interest text) is a transparency duty: limited-risk
    "deepfaker": entry("limited-risk", arts(50, "50-4"), ["deployer"], arts(4, "50-4")),
    "spam-filter": entry("minimal-risk", [], ["deployer"], arts(4)),
    "base-model": entry("minimal-risk", [], ["provider"], arts(4, 53), gpai=True),
    "internal": entry("out-of-scope"),
    # Art 25(1): the provider's duties come with the provider role, beside the listed role's own
    "rebranded": entry("high-risk", ["euaia:art6", "euaia:annex3-4a"], ["deployer", "provider"],
                       _sorted(arts(4) + HIGH_RISK_PROVIDER + DEPLOYER_HIGH_RISK),
                       role_basis={"provider": ["euaia:art25-1", "euaia:art25-1a"]}),
    "modified": entry("high-risk", ["euaia:art6", "euaia:annex3-5b"], ["importer", "provider"],
                      _sorted(arts(4, 23) + HIGH_RISK_PROVIDER),
                      role_basis={"provider": ["euaia:art25-1", "euaia:art25-1b"]}),
    "repurposed": entry("high-risk", ["euaia:art6", "euaia:annex3-3b"], ["provider"],
                        _sorted(arts(4) + HIGH_RISK_PROVIDER), role_basis={"provider": ["euaia:art25-1", "euaia:art25-1c"]}),
    # Art 2(2): high-risk under Art 6(1), but of the Act only Art 6(1), 102-109 and 112 apply, so no
    # Chapter III duty (nor Art 4) for a civil-aviation or vehicle product (Annex I Section B)
    "drone": entry("high-risk", ["euaia:art6", "euaia:art6-1", "euaia:annex1-20"], ["deployer", "provider"], [],
                   limited_by=["euaia:art2-2"], excluded=_sorted(arts(4, 26) + HIGH_RISK_PROVIDER_ANNEX_I)),
    "lane-keeper": entry("high-risk", ["euaia:art6", "euaia:art6-1", "euaia:annex1-19"], ["provider"], [],
                         limited_by=["euaia:art2-2"], excluded=_sorted(arts(4) + HIGH_RISK_PROVIDER_ANNEX_I)),
    "glucose": entry("high-risk", ["euaia:art6", "euaia:art6-1", "euaia:annex1-11"], ["provider"],
                     _sorted(arts(4) + HIGH_RISK_PROVIDER_ANNEX_I)),
    "press": entry("high-risk", ["euaia:art6", "euaia:art6-1", "euaia:annex1-1"], ["provider"],
                   _sorted(arts(4) + HIGH_RISK_PROVIDER_ANNEX_I)),
}


@pytest.mark.parametrize("system", sorted(PRIVATE_EXPECTED))
def test_private_organisation(private, system):
    assert private[system] == PRIVATE_EXPECTED[system]


def test_every_system_is_classified(private, public):
    assert set(private) == set(PRIVATE_EXPECTED)
    assert set(public) == {"benefits", "grid", "x-ray", "benefits-vendor"}


def test_public_body_deployer_owes_fria_and_registration_for_annex_iii(public):
    """Art 27 (FRIA) and Art 26(8) with 49(3): a public authority registers its use of the system."""
    assert public["benefits"] == entry("high-risk", ["euaia:art6", "euaia:annex3-5a"], ["deployer"],
                                       arts(4, 26, 27, "49-3", 86))


def test_no_fria_or_explanation_for_annex_iii_point_2(public):
    """Art 27(1), Art 49(3) and Art 86(1) all exclude Annex III point 2."""
    assert public["grid"] == entry("high-risk", ["euaia:art6", "euaia:annex3-2"], ["deployer"], arts(4, 26))


def test_no_fria_or_explanation_for_annex_i_only_systems(public):
    """Art 27(1) concerns the high-risk systems of Art 6(2), i.e. Annex III; so does Art 86(1)."""
    assert public["x-ray"] == entry("high-risk", ["euaia:art6", "euaia:art6-1"], ["deployer"], arts(4, 26))


def test_fria_and_use_registration_bind_deployers_only(public):
    assert public["benefits-vendor"]["obligations"] == _sorted(arts(4) + HIGH_RISK_PROVIDER)


def test_classify_cli_finsecure_credit_scorer():
    result = subprocess.run([sys.executable, "-m", "aimsgraph", "classify", str(FINSECURE), "--as-of", "2026-01-31",
                             "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr  # an answering command: 0 although the register has violations
    systems = {s["id"]: s for s in json.loads(result.stdout)["systems"]}
    assert systems["credit-scorer"] == {
        "id": "credit-scorer", "category": "high-risk", "gpai": False,
        "basis": ["euaia:art6", "euaia:annex3-5b"],
        "roles": ["deployer", "provider"],
        "obligations": _sorted(arts(4) + HIGH_RISK_PROVIDER + arts(26, 27, 86)),
        "role_basis": {}, "scope_limited_by": [], "excluded_obligations": [],
    }
    assert systems["credit-scorer-features"]["category"] == "out-of-scope"
    assert systems["support-chatbot"]["category"] == "limited-risk"
    assert systems["fraud-detector"]["category"] == "minimal-risk"


def test_machinery_is_annex_i_section_b_in_the_amended_text(tmp_path_factory):
    """Regulation (EU) 2026/1744 moves machinery from Section A to Section B (point 21): Art 2(2)
    then takes away the Chapter III duties the 2024 text gives a machinery product's provider."""
    amended = _classify(PRIVATE, tmp_path_factory, date(2026, 9, 1))
    assert amended["press"] == entry("high-risk", ["euaia:art6", "euaia:art6-1", "euaia:annex1-1"], ["provider"], [],
                                     limited_by=["euaia:art2-2"],
                                     excluded=_sorted(arts(4) + HIGH_RISK_PROVIDER_ANNEX_I))
    assert amended["glucose"] == PRIVATE_EXPECTED["glucose"]  # medical devices stay in Section A
    original = _classify(PRIVATE, tmp_path_factory, date(2026, 9, 1), "original")
    assert original["press"] == PRIVATE_EXPECTED["press"]
