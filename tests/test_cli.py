"""The command line: demo, gaps (spec JSON, stable bytes, exit codes), classify."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"

FINSECURE_FINDINGS = [
    ("control-unevidenced", "violation", "A.7.4", ["iso42001:7.5", "iso42001:A.7.4"]),
    ("impact-assessment-missing", "violation", "fraud-detector", ["iso42001:6.1.4", "iso42001:8.4", "iso42001:A.5.2"]),
    ("risk-untreated", "violation", "R-SC-01", ["iso42001:6.1.3", "iso42001:8.3"]),
    ("soa-incomplete", "violation", "iso42001:A.10.4", ["iso42001:6.1.3"]),
    ("corrective-action-overdue", "warning", "NC-2025-02", ["iso42001:10.2"]),
    ("evidence-expired", "warning", "EV-16", ["iso42001:7.5.3"]),
    ("impact-assessment-incomplete", "warning", "IA-SC-2025", ["iso42001:A.5.5"]),
    # second edition: the only cover of these is crosswalk rows of kind intersects-with
    *[("obligation-partially-covered", "warning", "credit-scorer", [f"euaia:art{n}"])
      for n in (4, 9, 11, 12, 13, 16, 17, 18, 19, 20, 26, 27, 43, 72, 73, 86)],
    ("obligation-partially-covered", "warning", "fraud-detector", ["euaia:art4"]),
    *[("obligation-partially-covered", "warning", "support-chatbot", [f"euaia:art{n}"]) for n in (4, "50-1", "50-2")],
    # Art 21 (cooperation with authorities, Art 16(k)) maps to A.8.5, which FinSecure has only planned
    ("obligation-uncovered", "warning", "credit-scorer", ["euaia:art21"]),
    ("obligation-uncovered", "warning", "credit-scorer", ["euaia:art47"]),
    ("obligation-uncovered", "warning", "credit-scorer", ["euaia:art48"]),
    ("obligation-uncovered", "warning", "credit-scorer", ["euaia:art49"]),
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aimsgraph", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def finsecure_json() -> subprocess.CompletedProcess:
    return run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "json")


def test_gaps_json_has_the_spec_shape_and_exact_findings(finsecure_json):
    assert finsecure_json.returncode == 1  # read, with violations
    doc = json.loads(finsecure_json.stdout)
    # the spec's keys first, readiness and the text of the Act applied added after
    assert list(doc) == ["as_of", "findings", "summary", "ai_act_text"]
    assert doc["ai_act_text"]["applied"] == "original" and doc["ai_act_text"]["choice"] == "auto"
    assert list(doc["summary"]) == ["clauses", "annex_a"]
    assert doc["summary"]["clauses"][4] == {"id": "iso42001:8", "title": "Operation", "requirements": 4, "met": 2,
                                            "share": 0.5, "open": ["iso42001:8.3", "iso42001:8.4"]}
    assert doc["as_of"] == "2026-01-31"
    for f in doc["findings"]:
        assert list(f) == ["rule", "severity", "focus", "focus_iri", "refs", "message"]
        assert f["focus_iri"].startswith("https://")
    got = [(f["rule"], f["severity"], f["focus"], f["refs"]) for f in doc["findings"]]
    assert got == FINSECURE_FINDINGS
    assert doc["findings"][1]["message"] == "AI system 'fraud-detector' in scope has no AI system impact assessment"


def test_gaps_json_is_byte_identical_across_runs(finsecure_json):
    again = run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "json")
    assert again.stdout == finsecure_json.stdout


def test_conformant_example_exits_0_with_no_findings():
    result = run("gaps", str(CONFORMANT), "--as-of", "2026-01-31", "--format", "json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["findings"] == []
    assert {g["share"] for g in doc["summary"]["clauses"] + doc["summary"]["annex_a"]} == {1.0}


def test_unreadable_input_exits_2_with_message_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: aimsgraph-register/1\norganization: {id: x, name: X, colour: red}\n")
    result = run("gaps", str(bad), "--as-of", "2026-01-31")
    assert result.returncode == 2
    assert "bad.yaml: entry 'x', key 'colour': unknown key" in result.stderr
    assert result.stdout == ""


def test_gaps_filters(finsecure_json):
    result = run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "json", "--severity", "violation",
                 "--system", "fraud-detector")
    assert [(f["rule"], f["focus"]) for f in json.loads(result.stdout)["findings"]] == [
        ("impact-assessment-missing", "fraud-detector")]
    result = run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "json", "--rule", "evidence-expired")
    assert [f["focus"] for f in json.loads(result.stdout)["findings"]] == ["EV-16"]


def test_gaps_text_and_markdown_group_by_clause():
    text = run("gaps", str(FINSECURE), "--as-of", "2026-01-31").stdout
    assert text.startswith("Findings at 2026-01-31: 4 violations, 27 warnings")
    assert text.index("Clause 6 — Planning") < text.index("Clause 7 — Support") < text.index("Clause 10 — Improvement")
    assert "\nReadiness (requirements met: nothing open about them; Annex A controls effective or justified-excluded)\n" in text
    assert "  Clause 6   Planning" in text and "  A.10       Third-party and customer relationships" in text
    md = run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "markdown").stdout
    assert "## Clause 7 — Support" in md and "| warning | `evidence-expired` | `EV-16` | iso42001:7.5.3 |" in md
    assert "## Readiness" in md and "| Clause 8 | Operation | 2/4 | 50% |" in md


def test_gaps_turtle_is_a_shacl_report():
    import rdflib

    out = run("gaps", str(FINSECURE), "--as-of", "2026-01-31", "--format", "turtle").stdout
    g = rdflib.Graph().parse(data=out, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    results = set(g.subjects(rdflib.RDF.type, sh.ValidationResult))
    # one result per finding, but one per partially covering control for obligation-partially-covered
    assert len(results) == 62
    assert sorted(str(g.value(r, sh.resultSeverity)).rsplit("#", 1)[1] for r in results) == ["Violation"] * 4 + ["Warning"] * 58


def test_classify_credit_scorer():
    result = run("classify", str(FINSECURE), "--as-of", "2026-01-31", "--format", "json")
    systems = {s["id"]: s for s in json.loads(result.stdout)["systems"]}
    scorer = systems["credit-scorer"]
    assert scorer["category"] == "high-risk"
    assert scorer["basis"] == ["euaia:art6", "euaia:annex3-5b"]
    assert scorer["roles"] == ["deployer", "provider"]
    provider = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 43, 47, 48, 49, 72, 73]
    deployer = [26, 27, 86]
    assert scorer["obligations"] == [f"euaia:art{n}" for n in sorted([4] + provider + deployer)]
    assert systems["fraud-detector"]["category"] == "minimal-risk"
    assert systems["support-chatbot"]["category"] == "limited-risk"
    assert systems["credit-scorer-features"]["category"] == "out-of-scope"


def test_demo_prints_systems_findings_and_a_traced_chain():
    result = run("demo")
    assert result.returncode == 0
    out = result.stdout
    assert "aimsgraph demo — FinSecure Bank AG" in out
    assert "credit-scorer            high-risk (euaia:art6, euaia:annex3-5b)" in out
    assert "Findings at 2026-01-31: 4 violations, 27 warnings" in out
    assert "EU AI Act text: Regulation (EU) 2024/1689 as adopted (2024 text) (in force at the as-of date)" in out
    assert "credit-scorer            high-risk (euaia:art6, euaia:annex3-5b); 3/23 obligations covered, 16 only partially" in out
    assert "Controls: 33/38 applicable controls effective" in out
    assert "evidence EV-16" in out and "← EXPIRED" in out
