"""Classification from what a system does (issue 15): every Annex III point and every Art 5(1)
point is derived from `uses` descriptors alone, a near miss (same domain, other purpose) derives
nothing, a derived point behaves exactly like a stated one (Art 6(3), obligations), and a stated
point that disagrees with the uses is a `classification-override-mismatch` warning naming both.

The expectations are written out here, not read from the catalogue, so they check its data.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest
import yaml

from aimsgraph.load import load_input
from aimsgraph.pipeline import classify
from aimsgraph.reason import Parameters, reason
from aimsgraph.store import open_store
from aimsgraph.validate import validate

AS_OF = date(2026, 12, 15)  # the amended text applies, with Art 5(1)(ba) and (bb) in force

LE, MIG, PUB = ["law-enforcement-authority"], ["public-authority"], ["publicly-accessible-space"]


def use(domain, purpose, capabilities=(), subjects=(), context=()):
    out = {"domain": domain, "purpose": purpose}
    for key, value in (("capabilities", capabilities), ("subjects", subjects), ("context", context)):
        if value:
            out[key] = list(value)
    return out


# target -> (a use that derives it, a near miss: same domain, other purpose)
TABLE = {
    "annex3-1a": (use("biometrics", "remote-identification", ["biometric-identification"]),
                  use("biometrics", "identity-verification", ["biometric-identification"])),
    "annex3-1b": (use("biometrics", "categorising-by-protected-attributes", ["biometric-categorisation"]),
                  use("biometrics", "document-processing", ["biometric-categorisation"])),
    "annex3-1c": (use("biometrics", "recognising-emotions", ["emotion-recognition"]),
                  use("biometrics", "medical-or-safety", ["emotion-recognition"])),
    "annex3-2": (use("critical-infrastructure", "safety-component"), use("critical-infrastructure", "forecasting")),
    "annex3-3a": (use("education", "education-access-admission"), use("education", "recommendation")),
    "annex3-3b": (use("education", "evaluating-learning-outcomes"), use("education", "content-generation")),
    "annex3-3c": (use("education", "assessing-education-level"), use("education", "translation")),
    "annex3-3d": (use("education", "monitoring-test-behaviour"), use("education", "scheduling")),
    "annex3-4a": (use("employment", "recruitment-selection"), use("employment", "scheduling")),
    "annex3-4b": (use("employment", "worker-monitoring"), use("employment", "customer-support")),
    "annex3-5a": (use("public-services", "public-assistance-eligibility", context=MIG),
                  use("public-services", "fraud-detection", context=MIG)),
    "annex3-5b": (use("private-services", "creditworthiness"), use("private-services", "fraud-detection")),
    "annex3-5c": (use("private-services", "life-health-insurance-pricing"),
                  use("private-services", "other-insurance-pricing")),
    "annex3-5d": (use("public-services", "emergency-response"), use("public-services", "forecasting")),
    "annex3-6a": (use("law-enforcement", "victim-risk-assessment", context=LE),
                  use("law-enforcement", "forecasting", context=LE)),
    "annex3-6b": (use("law-enforcement", "detecting-lies", context=LE),
                  use("law-enforcement", "translation", context=LE)),
    "annex3-6c": (use("law-enforcement", "evidence-reliability", context=LE),
                  use("law-enforcement", "document-processing", context=LE)),
    "annex3-6d": (use("law-enforcement", "offending-risk-assessment", context=LE),
                  use("law-enforcement", "scheduling", context=LE)),
    "annex3-6e": (use("law-enforcement", "crime-detection-investigation", ["profiling"], context=LE),
                  use("law-enforcement", "quality-control", ["profiling"], context=LE)),
    "annex3-7a": (use("migration-asylum-border", "detecting-lies", context=MIG),
                  use("migration-asylum-border", "translation", context=MIG)),
    "annex3-7b": (use("migration-asylum-border", "migration-risk-assessment", context=MIG),
                  use("migration-asylum-border", "scheduling", context=MIG)),
    "annex3-7c": (use("migration-asylum-border", "migration-application-examination", context=MIG),
                  use("migration-asylum-border", "document-processing", context=MIG)),
    "annex3-7d": (use("migration-asylum-border", "person-identification", context=MIG),
                  use("migration-asylum-border", "travel-document-verification", context=MIG)),
    "annex3-8a": (use("justice", "legal-research-application", context=["judicial-authority"]),
                  use("justice", "scheduling", context=["judicial-authority"])),
    "annex3-8b": (use("democratic-processes", "influencing-elections"), use("democratic-processes", "campaign-logistics")),
    "art5-1a": (use("marketing", "behaviour-distortion", ["subliminal-techniques"]),
                use("marketing", "recommendation", ["subliminal-techniques"])),
    "art5-1b": (use("marketing", "behaviour-distortion", ["vulnerability-exploitation"], ["children"]),
                use("marketing", "recommendation", ["vulnerability-exploitation"], ["children"])),
    "art5-1c": (use("public-services", "social-scoring"), use("public-services", "customer-support")),
    "art5-1d": (use("law-enforcement", "crime-prediction", ["profiling"]), use("law-enforcement", "forecasting", ["profiling"])),
    "art5-1e": (use("general", "facial-database-building", ["web-scraping"]), use("general", "content-generation", ["web-scraping"])),
    "art5-1f": (use("employment", "recognising-emotions", ["emotion-recognition"]),
                use("employment", "medical-or-safety", ["emotion-recognition"])),
    "art5-1g": (use("biometrics", "inferring-special-categories", ["biometric-categorisation"]),
                use("biometrics", "quality-control", ["biometric-categorisation"])),
    "art5-1h": (use("law-enforcement", "remote-identification", ["real-time-remote-biometric-identification"], context=PUB),
                use("law-enforcement", "evidence-reliability", ["real-time-remote-biometric-identification"], context=PUB)),
    "art5-1ba": (use("media", "intimate-imagery-generation", ["image-video-audio-generation"]),
                 use("media", "content-generation", ["image-video-audio-generation"])),
    "art5-1bb": (use("media", "child-sexual-abuse-material", ["image-video-audio-generation"]),
                 use("media", "translation", ["image-video-audio-generation"])),
}

# Further candidates a use rightly derives besides its target (the Act's points overlap):
# emotion recognition at work is also 1(c), biometric categorisation by special categories also
# 1(b), real-time remote identification also 1(a).
ALSO = {"art5-1f": {"annex3-1c"}, "art5-1g": {"annex3-1b"}, "art5-1h": {"annex3-1a"}}

# A second way to the same point: lie detection as a capability (Annex III 6(b), 7(a)).
EXTRA_FIRES = {
    "lie-capability-6b": ("annex3-6b", use("law-enforcement", "document-processing", ["lie-detection"], context=LE)),
    "lie-capability-7a": ("annex3-7a", use("migration-asylum-border", "document-processing", ["lie-detection"], context=MIG)),
}

# Explicit and derived side by side: the same facts except where the point comes from.
EQUIVALENT = {
    "plain-4a": ({"roles": ["provider", "deployer"]}, "4a", use("employment", "recruitment-selection")),
    "derogation-4a": ({"roles": ["provider"], "art6_3_derogation": True}, "4a", use("employment", "recruitment-selection")),
    "voided-4a": ({"roles": ["provider"], "art6_3_derogation": True, "profiling": True}, "4a",
                  use("employment", "recruitment-selection")),
    "fria-5b": ({"roles": ["deployer"]}, "5b", use("private-services", "creditworthiness")),
    "point-2": ({"roles": ["provider", "deployer"]}, "2", use("critical-infrastructure", "safety-component")),
}


def system(ident: str, uses: list[dict], **eu) -> dict:
    return {"id": ident, "name": ident, "eu_ai_act": {"roles": ["provider"], **eu}, "uses": uses}


def register() -> dict:
    systems = []
    for target, (fires, near) in TABLE.items():
        systems += [system(f"fires-{target}", [fires]), system(f"near-{target}", [near])]
    for ident, (_target, fires) in EXTRA_FIRES.items():
        systems.append(system(ident, [fires]))
    for ident, (eu, point, fires) in EQUIVALENT.items():
        systems.append({"id": f"stated-{ident}", "name": ident, "eu_ai_act": {**eu, "annex_iii": point}})
        systems.append({"id": f"derived-{ident}", "name": ident, "eu_ai_act": eu, "uses": [fires]})
    # overrides: a stated point the uses disagree with, one they agree with, a stated practice
    systems += [
        system("override-mismatch", [use("employment", "recruitment-selection")], annex_iii="5b"),
        system("override-agrees", [use("employment", "recruitment-selection")], annex_iii="4a"),
        system("override-nothing-derived", [use("employment", "scheduling")], annex_iii="4b"),
        system("override-practice", [use("public-services", "social-scoring")], prohibited_practice="a"),
        system("no-uses", [], annex_iii="4a"),
    ]
    return {"format": "aimsgraph-register/1", "organization": {"id": "acme", "name": "ACME Ltd", "public_body": True},
            "ai_systems": systems}


@cache
def analysed(tmp_dir: str, store_engine: str = "oxigraph"):
    from pathlib import Path

    path = Path(tmp_dir) / "descriptors.yaml"
    path.write_text(yaml.safe_dump(register(), sort_keys=False), encoding="utf-8")
    store = open_store(store_engine)
    load_input(store, path)
    reason(store, Parameters(AS_OF))
    systems = {s["id"]: s for s in classify(store)["systems"]}
    rows = store.query("""SELECT ?id ?target WHERE {
        ?system aims:registerId ?id ; aims:hasEUAIActProfile ?p . ?p aims:descriptorCandidate ?target }""").rows
    candidates: dict[str, set] = {}
    for row in rows:
        candidates.setdefault(str(row["id"]), set()).add(str(row["target"]).rsplit("/", 1)[-1])
    return store, systems, candidates


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return analysed(str(tmp_path_factory.mktemp("descriptors")))


def expected_entry(target: str) -> tuple[str, list[str]]:
    if target.startswith("art5-"):
        return "prohibited", ["euaia:art5", f"euaia:{target}"]
    return "high-risk", ["euaia:art6", f"euaia:{target}"]


@pytest.mark.parametrize("target", list(TABLE))
def test_descriptors_alone_derive_the_point(result, target):
    _store, systems, candidates = result
    entry = systems[f"fires-{target}"]
    assert (entry["category"], entry["basis"]) == expected_entry(target)
    assert candidates.get(f"fires-{target}") == {target} | ALSO.get(target, set())


@pytest.mark.parametrize("target", list(TABLE))
def test_near_miss_derives_nothing(result, target):
    _store, systems, candidates = result
    entry = systems[f"near-{target}"]
    assert candidates.get(f"near-{target}") is None
    assert (entry["category"], entry["basis"]) == ("minimal-risk", [])


@pytest.mark.parametrize("ident", list(EXTRA_FIRES))
def test_alternative_condition(result, ident):
    _store, systems, candidates = result
    target = EXTRA_FIRES[ident][0]
    assert (systems[ident]["category"], systems[ident]["basis"]) == expected_entry(target)
    assert candidates[ident] == {target}


@pytest.mark.parametrize("ident", list(EQUIVALENT))
def test_derived_point_behaves_as_a_stated_one(result, ident):
    _store, systems, _candidates = result
    stated, derived = dict(systems[f"stated-{ident}"]), dict(systems[f"derived-{ident}"])
    stated.pop("id"), derived.pop("id")
    assert derived == stated


def test_equivalence_covers_derogation_and_its_voiding(result):
    _store, systems, _ = result
    assert systems["derived-derogation-4a"]["category"] == "minimal-risk"
    assert "euaia:art6" in systems["derived-derogation-4a"]["obligations"]  # Art 6(4) documentation
    assert systems["derived-voided-4a"]["basis"] == ["euaia:art6", "euaia:art6-3", "euaia:annex3-4a"]
    assert "euaia:art27" in systems["derived-fria-5b"]["obligations"]


def test_stated_values_override(result):
    _store, systems, candidates = result
    assert systems["override-mismatch"]["basis"] == ["euaia:art6", "euaia:annex3-5b"]
    assert candidates["override-mismatch"] == {"annex3-4a"}
    assert systems["override-practice"]["basis"] == ["euaia:art5", "euaia:art5-1a"]


@pytest.mark.parametrize("validator", ["store", "pyshacl"])
def test_override_mismatch_is_a_warning_naming_both(result, validator):
    store, _systems, _ = result
    findings = [f for f in validate(store, validator).findings if f.rule == "classification-override-mismatch"]
    got = sorted((f.focus, f.severity, tuple(f.refs), f.message) for f in findings)
    assert got == [
        ("override-mismatch", "warning", ("euaia:art6",),
         "AI system 'override-mismatch' states Annex III point 5b but its uses derive Annex III point 4a; "
         "the stated value is applied"),
        ("override-nothing-derived", "warning", ("euaia:art6",),
         "AI system 'override-nothing-derived' states Annex III point 4b but its uses derive no Annex III point; "
         "the stated value is applied"),
        ("override-practice", "warning", ("euaia:art5",),
         "AI system 'override-practice' states Art 5(1) point a but its uses derive Art 5(1) point c; "
         "the stated value is applied"),
    ]


def test_rdflib_store_derives_the_same(tmp_path_factory, result):
    _s, systems, candidates = result
    _s2, systems2, candidates2 = analysed(str(tmp_path_factory.mktemp("descriptors-rdflib")), "rdflib")
    assert systems2 == systems and candidates2 == candidates


def test_bad_descriptors_are_bad_input_naming_file_entry_key_and_closest(tmp_path):
    from aimsgraph.errors import RegisterError
    from aimsgraph.load import read_register

    doc = {"format": "aimsgraph-register/1", "organization": {"id": "acme", "name": "ACME"},
           "ai_systems": [{"id": "hiring", "name": "CV screening", "eu_ai_act": {"roles": ["provider"]}, "uses": [
               {"domain": "employment", "purpose": "recruitment-selection"},
               {"domain": "employmnt", "purpose": "recruitment", "capabilities": ["profilng"], "colour": "red"},
               {"domain": "education"},
               "scheduling"]}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(RegisterError) as err:
        read_register(path)
    got = {(p.file, p.entry, p.key): p.message for p in err.value.problems}
    assert set(got) == {("bad.yaml", "hiring", k) for k in (
        "uses[2].colour", "uses[2].domain", "uses[2].purpose", "uses[2].capabilities", "uses[3].purpose", "uses[4]")}
    assert got[("bad.yaml", "hiring", "uses[2].domain")].endswith("(closest: 'employment')")
    assert got[("bad.yaml", "hiring", "uses[2].purpose")] == (
        "'recruitment' is not allowed (closest: 'recruitment-selection'); use one of the 46 values listed in "
        "docs/register.md")
    assert got[("bad.yaml", "hiring", "uses[2].capabilities")].endswith("(closest: 'profiling')")
    assert got[("bad.yaml", "hiring", "uses[3].purpose")] == "is required"


def test_csv_columns_describe_one_use(tmp_path):
    (tmp_path / "organization.csv").write_text("id,name\nacme,ACME\n", encoding="utf-8")
    (tmp_path / "ai_systems.csv").write_text(
        "id,name,eu_ai_act.roles,uses.domain,uses.purpose,uses.capabilities\n"
        "hiring,CV screening,provider,employment,recruitment-selection,profiling;prediction\n", encoding="utf-8")
    store = open_store("oxigraph")
    load_input(store, tmp_path)
    reason(store, Parameters(AS_OF))
    [entry] = classify(store)["systems"]
    assert (entry["category"], entry["basis"]) == ("high-risk", ["euaia:art6", "euaia:annex3-4a"])


def test_catalogue_and_table_are_what_the_generator_writes():
    """ontology/catalogues/use-descriptors.ttl and the table of docs/classification.md come from
    scripts/use_descriptors.py, whose lists must be schema.py's closed lists."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("use_descriptors", root / "scripts" / "use_descriptors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (root / "ontology" / "catalogues" / "use-descriptors.ttl").read_text(encoding="utf-8") == module.turtle()
    assert module.markdown() in (root / "docs" / "classification.md").read_text(encoding="utf-8")
    targets = {target for _cid, target, *_rest in module.CONDITIONS}
    assert targets == set(TABLE)  # every Annex III point and Art 5(1) point has a condition and a fixture
    from aimsgraph.schema import ANNEX_III_POINTS, PROHIBITED_PRACTICES

    assert set(TABLE) == {f"annex3-{p}" for p in ANNEX_III_POINTS} | {f"art5-1{p}" for p in PROHIBITED_PRACTICES}
