"""gaps in-process: readiness summary, filters, text/markdown/turtle output and the shapes file
itself, over one module-scoped analysis of the FinSecure example (2026-01-31)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDF

from aimsgraph.namespaces import AIMS, SH
from aimsgraph.pipeline import analyse, filter_findings, gaps_document
from aimsgraph.render import findings_markdown, findings_text, to_json
from aimsgraph.validate import readiness, report_turtle, shapes_graph

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = date(2026, 1, 31)
SPEC_RULES = 31
# Rule ids beyond the contract, listed in the README's "What we added to the contract"
ADDED_RULES = {"classification-override-mismatch"}

# (id, requirements, met, open) per group; FinSecure's four violations are A.7.4 unevidenced
# (7.5, A.7.4), fraud-detector without impact assessment (6.1.4, 8.4, A.5.2), R-SC-01 untreated
# (6.1.3, 8.3) and the missing SoA row A.10.4 (focus A.10.4, 6.1.3). Second edition: warnings open
# a requirement too (NC-2025-02 overdue: 10.2; EV-16 expired: 7.5.3; IA-SC-2025: A.5.5), and an
# Annex A control that is neither effective nor justified-excluded is open whatever the findings
# (A.4.4, A.8.5, A.9.3, A.10.3 partial or planned; A.7.4 unevidenced; A.10.4 missing).
FINSECURE_CLAUSES = [
    ("iso42001:4", 4, 4, []),
    ("iso42001:5", 3, 3, []),
    ("iso42001:6", 3, 2, ["iso42001:6.1"]),
    ("iso42001:7", 5, 4, ["iso42001:7.5"]),
    ("iso42001:8", 4, 2, ["iso42001:8.3", "iso42001:8.4"]),
    ("iso42001:9", 3, 3, []),
    ("iso42001:10", 2, 1, ["iso42001:10.2"]),
]
FINSECURE_ANNEX_A = [
    ("iso42001:A.2", 3, 3, []),
    ("iso42001:A.3", 2, 2, []),
    ("iso42001:A.4", 5, 4, ["iso42001:A.4.4"]),
    ("iso42001:A.5", 4, 2, ["iso42001:A.5.2", "iso42001:A.5.5"]),
    ("iso42001:A.6", 9, 9, []),
    ("iso42001:A.7", 5, 4, ["iso42001:A.7.4"]),
    ("iso42001:A.8", 4, 3, ["iso42001:A.8.5"]),
    ("iso42001:A.9", 3, 2, ["iso42001:A.9.3"]),
    ("iso42001:A.10", 3, 1, ["iso42001:A.10.3", "iso42001:A.10.4"]),
]


@pytest.fixture(scope="module")
def finsecure():
    return analyse(FINSECURE, AS_OF)


@pytest.fixture(scope="module")
def conformant():
    return analyse(CONFORMANT, AS_OF)


def rows(findings) -> list[tuple[str, str, list[str]]]:
    return [(f.rule, f.focus, list(f.refs)) for f in findings]


# ---------------------------------------------------------------------------- readiness


def test_readiness_per_clause_and_annex_a_objective(finsecure):
    summary = readiness(finsecure.store, finsecure.validation.findings)
    assert [(g["id"], g["requirements"], g["met"], g["open"]) for g in summary["clauses"]] == FINSECURE_CLAUSES
    assert [(g["id"], g["requirements"], g["met"], g["open"]) for g in summary["annex_a"]] == FINSECURE_ANNEX_A
    by_id = {g["id"]: g for g in summary["clauses"] + summary["annex_a"]}
    assert by_id["iso42001:6"]["share"] == 0.667 and by_id["iso42001:8"]["share"] == 0.5
    assert by_id["iso42001:A.7"]["title"] == "Data for AI systems"
    assert sum(g["requirements"] for g in summary["annex_a"]) == 38  # every Annex A control once


def test_readiness_counts_warnings_and_controls_that_are_not_effective(finsecure):
    """Second edition: a requirement is met only when nothing about it is open, and a planned,
    partial, unevidenced or missing control is not met whatever the findings say."""
    warnings = [f for f in finsecure.validation.findings if f.severity == "warning"]
    summary = readiness(finsecure.store, warnings)  # EV-16 expired, A.5.5 incomplete, NC-2025-02 overdue
    assert [(g["id"], g["open"]) for g in summary["clauses"] if g["open"]] == [
        ("iso42001:7", ["iso42001:7.5"]), ("iso42001:10", ["iso42001:10.2"])]
    no_findings = readiness(finsecure.store, [])
    assert [g["id"] for g in no_findings["clauses"] if g["open"]] == []
    assert [(g["id"], g["open"], g["not_effective"]) for g in no_findings["annex_a"] if g["open"]] == [
        ("iso42001:A.4", ["iso42001:A.4.4"], ["iso42001:A.4.4"]),
        ("iso42001:A.7", ["iso42001:A.7.4"], ["iso42001:A.7.4"]),
        ("iso42001:A.8", ["iso42001:A.8.5"], ["iso42001:A.8.5"]),
        ("iso42001:A.9", ["iso42001:A.9.3"], ["iso42001:A.9.3"]),
        ("iso42001:A.10", ["iso42001:A.10.3", "iso42001:A.10.4"], ["iso42001:A.10.3", "iso42001:A.10.4"]),
    ]


def test_a_register_with_every_control_planned_is_not_ready(tmp_path):
    """The review's case: every applicable control planned showed 100 % in every clause and
    objective. Now every such control is open, and the risk treated by them is flagged (8.3)."""
    from analyses import planned_register

    path = planned_register(tmp_path)
    analysis = analyse(path, AS_OF)
    summary = gaps_document(analysis)["summary"]
    assert [(g["id"], g["met"], g["requirements"]) for g in summary["annex_a"]] == [
        ("iso42001:A.2", 0, 3), ("iso42001:A.3", 0, 2), ("iso42001:A.4", 0, 5), ("iso42001:A.5", 0, 4),
        ("iso42001:A.6", 0, 9), ("iso42001:A.7", 1, 5), ("iso42001:A.8", 0, 4), ("iso42001:A.9", 0, 3),
        ("iso42001:A.10", 2, 3)]  # only the justified exclusions (A.7.3, A.10.3, A.10.4) are met
    assert {(g["id"], tuple(g["open"])) for g in summary["clauses"] if g["open"]} == {
        ("iso42001:6", ("iso42001:6.1",)), ("iso42001:8", ("iso42001:8.3",))}
    assert sorted((f.rule, f.focus) for f in analysis.validation.findings) == [
        ("treatment-not-implemented", "NW-R-1")] * 3  # A.6.2.4, A.6.2.6, A.9.2


def test_conformant_example_has_no_findings_and_full_readiness(conformant):
    assert conformant.validation.findings == []
    summary = gaps_document(conformant)["summary"]
    assert [g["share"] for g in summary["clauses"]] == [1.0] * 7
    assert [g["share"] for g in summary["annex_a"]] == [1.0] * 9


def test_gaps_document_keeps_the_spec_keys_first_and_summary_last(finsecure):
    doc = gaps_document(finsecure, filter_findings(finsecure.validation.findings, rule="evidence-expired"))
    assert list(doc) == ["as_of", "findings", "summary", "ai_act_text"]
    assert doc["ai_act_text"] == {
        "choice": "auto", "applied": "original", "title": "Regulation (EU) 2024/1689 as adopted (2024 text)",
        "source": "Regulation (EU) 2024/1689, OJ L, 2024/1689, 12.7.2024, Art 113", "in_force_from": "2024-08-01"}
    assert [f["focus"] for f in doc["findings"]] == ["EV-16"]
    # readiness is judged on every finding, not only the filtered ones
    assert doc["summary"]["clauses"][2]["open"] == ["iso42001:6.1"]
    assert to_json(doc) == to_json(gaps_document(finsecure, filter_findings(finsecure.validation.findings,
                                                                             rule="evidence-expired")))


# ---------------------------------------------------------------------------- filters


def test_filter_by_severity_keeps_that_severity_and_worse(finsecure):
    found = finsecure.validation.findings
    assert rows(filter_findings(found, severity="violation")) == [
        ("control-unevidenced", "A.7.4", ["iso42001:7.5", "iso42001:A.7.4"]),
        ("impact-assessment-missing", "fraud-detector", ["iso42001:6.1.4", "iso42001:8.4", "iso42001:A.5.2"]),
        ("risk-untreated", "R-SC-01", ["iso42001:6.1.3", "iso42001:8.3"]),
        ("soa-incomplete", "iso42001:A.10.4", ["iso42001:6.1.3"]),
    ]
    assert filter_findings(found, severity="warning") == found
    assert filter_findings(found, severity="info") == found


def test_filter_by_rule(finsecure):
    assert rows(filter_findings(finsecure.validation.findings, rule="obligation-uncovered")) == [
        ("obligation-uncovered", "credit-scorer", ["euaia:art21"]),  # A.8.5 only planned
        ("obligation-uncovered", "credit-scorer", ["euaia:art47"]),
        ("obligation-uncovered", "credit-scorer", ["euaia:art48"]),
        ("obligation-uncovered", "credit-scorer", ["euaia:art49"]),
    ]
    assert filter_findings(finsecure.validation.findings, rule="no-such-rule") == []


def test_filter_by_system_follows_risks_and_assessments(finsecure):
    def about(system):
        return [(f.rule, f.focus) for f in filter_findings(finsecure.validation.findings, system=system,
                                                           store=finsecure.store)]

    assert about("support-chatbot") == [("risk-untreated", "R-SC-01"), ("impact-assessment-incomplete", "IA-SC-2025")] \
        + [("obligation-partially-covered", "support-chatbot")] * 3  # Art 4, 50(1), 50(2)
    assert about("fraud-detector") == [("impact-assessment-missing", "fraud-detector"),
                                       ("obligation-partially-covered", "fraud-detector")]  # Art 4
    # Art 4, 9, 11-13, 16-20, 26, 27, 43, 72, 73, 86 partially; Art 21, 47, 48, 49 not at all
    assert about("credit-scorer") == [("obligation-partially-covered", "credit-scorer")] * 16 \
        + [("obligation-uncovered", "credit-scorer")] * 4
    assert about("credit-scorer-features") == []


def test_filters_combine(finsecure):
    got = filter_findings(finsecure.validation.findings, severity="violation", rule="risk-untreated",
                          system="support-chatbot", store=finsecure.store)
    assert rows(got) == [("risk-untreated", "R-SC-01", ["iso42001:6.1.3", "iso42001:8.3"])]


# ---------------------------------------------------------------------------- formats


def test_text_groups_by_clause_and_ends_with_readiness(finsecure):
    summary = readiness(finsecure.store, finsecure.validation.findings)
    text = findings_text(finsecure.validation.findings, "2026-01-31", summary)
    assert text.startswith("Findings at 2026-01-31: 4 violations, 27 warnings\n")
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings == [
        "Findings at 2026-01-31: 4 violations, 27 warnings",
        "Clause 6 — Planning", "Clause 7 — Support", "Clause 10 — Improvement",
        "ISO/IEC 42001 Annex A", "EU AI Act (Regulation (EU) 2024/1689)",
        "Readiness (requirements met: nothing open about them; Annex A controls effective or justified-excluded)",
    ]
    assert "  ✗ soa-incomplete                   iso42001:A.10.4\n" in text
    assert "      refs: euaia:art49\n" in text
    assert ("      No effective control discharges euaia:art12 for AI system 'credit-scorer'; only crosswalk rows "
            "that do not discharge it cover it in part: A.6.2.8 (intersects-with)\n") in text
    readiness_lines = text.split("justified-excluded)\n", 1)[1].splitlines()
    assert len(readiness_lines) == 16
    assert readiness_lines[4].split() == ["Clause", "8", "Operation", "2/4", "50%"]
    assert readiness_lines[-1].split()[-2:] == ["1/3", "33%"] and readiness_lines[-1].startswith("  A.10 ")


def test_markdown_has_a_table_per_group_and_a_readiness_table(finsecure):
    summary = readiness(finsecure.store, finsecure.validation.findings)
    md = findings_markdown(finsecure.validation.findings, "2026-01-31", summary)
    assert md.startswith("# Findings at 2026-01-31\n\n4 violations, 27 warnings.\n")
    assert [line for line in md.splitlines() if line.startswith("## ")] == [
        "## Clause 6 — Planning", "## Clause 7 — Support", "## Clause 10 — Improvement",
        "## ISO/IEC 42001 Annex A", "## EU AI Act (Regulation (EU) 2024/1689)", "## Readiness"]
    assert "| violation | `risk-untreated` | `R-SC-01` | iso42001:6.1.3, iso42001:8.3 |" in md
    assert "| Clause 6 | Planning | 2/3 | 67% |" in md
    assert "| A.6 | AI system life cycle | 9/9 | 100% |" in md


def test_text_without_findings_says_so():
    assert findings_text([], "2026-01-31") == "Findings at 2026-01-31: 0 violations, 0 warnings\nNo findings.\n"


def test_turtle_is_the_raw_shacl_report_graded_like_the_findings(finsecure):
    g = rdflib.Graph().parse(data=report_turtle(finsecure.validation), format="turtle")
    results = set(g.subjects(RDF.type, SH.ValidationResult))
    # one result per finding, except obligation-partially-covered: one per control giving partial
    # cover (51 for FinSecure's 20 such findings), which the findings merge
    assert len(results) == 62
    assert Counter(g.value(r, SH.resultSeverity) for r in results) == {SH.Violation: 4, SH.Warning: 58}
    data = "https://w3id.org/aimsgraph/data/finsecure/"
    assert {str(g.value(r, SH.focusNode)) for r in results} == {
        data + "soa/A.7.4", data + "fraud-detector", data + "R-SC-01", "https://w3id.org/aimsgraph/iso42001/A.10.4",
        data + "NC-2025-02", data + "EV-16", data + "IA-SC-2025", data + "credit-scorer", data + "fraud-detector",
        data + "support-chatbot"}


# ---------------------------------------------------------------------------- the shapes file


def test_every_shape_is_named_and_carries_its_rule_as_data():
    g = shapes_graph()
    node_shapes = set(g.subjects(RDF.type, SH.NodeShape))
    assert all(isinstance(s, URIRef) for s in node_shapes)
    rules = set()
    for shape in node_shapes:
        rules.add(str(g.value(shape, AIMS.ruleId)))
        assert g.value(shape, SH.severity) in (SH.Violation, SH.Warning), shape
        assert g.value(shape, SH.message) is not None, shape
        assert g.value(shape, AIMS.ref) is not None or g.value(shape, AIMS.valueIsRef) == Literal(True), shape
    assert len(rules - ADDED_RULES) == SPEC_RULES and ADDED_RULES <= rules
    # no anonymous shapes apart from property shapes hanging off a named node shape
    for prop in g.objects(None, SH.property):
        assert isinstance(prop, BNode) and next(g.subjects(SH.property, prop)) in node_shapes


def test_each_validation_parses_its_own_shapes_graph():
    first, second = shapes_graph(), shapes_graph()
    assert first is not second
    first.remove((None, SH.message, None))
    assert len(set(second.objects(None, SH.message))) > 0


def test_the_look_back_window_is_a_run_parameter():
    """Two months back from 2026-01-31 (start 2025-11-30): the audit of 2025-10-17 and the last
    training of 2025-11-06 fall outside; the management review of 2025-12-09 stays inside."""
    narrow = analyse(FINSECURE, AS_OF, window_months=2)
    added = [(f.rule, f.focus, f.severity) for f in narrow.validation.findings if f.rule in
             {"internal-audit-missing", "management-review-missing", "competence-missing"}]
    assert added == [("internal-audit-missing", "finsecure", "violation"),
                     ("competence-missing", "finsecure", "warning")]
