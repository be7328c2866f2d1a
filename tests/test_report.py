"""The auditor's report (src/aimsgraph/report.py, `aimsgraph report`): one self-contained HTML
file for FinSecure at 2026-01-31 with readiness per clause, EU AI Act classification and cover,
findings by clause, the SoA and a picture per AI system; and it renders in a real headless
browser (Debian chromium; skipped with a reason when chromium is absent)."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimsgraph.cli import app
from browser import dump_dom, needs_chromium, pdf_pages, png_size_and_colours, print_pdf, screenshot
from aimsgraph.pipeline import analyse
from aimsgraph.report import readiness_by_clause, report_html, system_risk_graph
from aimsgraph.trace import trace_graph

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = date(2026, 1, 31)
SECTION_IDS = ["summary", "classification", "findings", "soa", "nonconformities", "audits", "reviews", "incidents",
               "evidence", "trace"]

_ANALYSES: dict = {}


def analysed(path: Path, as_of: date = AS_OF, **_options):
    key = (Path(path), as_of)
    if key not in _ANALYSES:
        _ANALYSES[key] = analyse(path, as_of)
    return _ANALYSES[key]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aimsgraph.cli.analyse", analysed)
        result = CliRunner().invoke(app, ["report", str(FINSECURE), "--as-of", "2026-01-31", "-o", str(out)])
    assert result.exit_code == 0, result.output  # written; --fail-on never is the default for report
    return out


class Inventory(HTMLParser):
    """Tags, external references and section ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "data", "poster", "srcset", "action") and not (value or "").startswith("#"):
                self.references.append(f"{tag}[{name}={value}]")
            if name == "id" and tag == "section":
                self.ids.append(value)


def test_report_is_one_self_contained_file(report_file):
    page = report_file.read_text(encoding="utf-8")
    inventory = Inventory()
    inventory.feed(page)
    assert inventory.references == []  # no src/href anywhere: nothing is fetched
    assert not {"link", "script", "img", "iframe", "object"} & set(inventory.tags)
    assert re.findall(r"url\(([^)]*)\)", page) and all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", page))
    assert "@import" not in page
    assert inventory.ids == SECTION_IDS


def test_report_content(report_file):
    page = report_file.read_text(encoding="utf-8")
    assert "FinSecure Bank AG" in page and "judged as of 2026-01-31" in page
    for system, category in (("credit-scorer", "high-risk"), ("support-chatbot", "limited-risk"),
                             ("fraud-detector", "minimal-risk"), ("credit-scorer-features", "out-of-scope")):
        assert re.search(rf'<span>{system}</span><span class="pill {category}">', page)
    # credit-scorer: Art 10, 14, 15 discharged by the bank's own controls (maps_to); 16 articles met
    # only in part by intersects-with crosswalk rows; Art 21 (A.8.5 only planned) and Art 47-49 open
    assert ("3 of 23 obligations covered by an effective control, 16 only partially (crosswalk rows that do not "
            "discharge them)") in page
    assert "EU AI Act text: Regulation (EU) 2024/1689 as adopted (2024 text) (in force at the as-of date)" in page
    assert page.count('<div class="finding ') == 31
    assert page.count('<div class="finding violation">') == 4
    assert 'Affects risks: R-CS-01; systems: credit-scorer; articles: euaia:art10, euaia:art26.' in page
    soa = page[page.index('<table class="soa">'):]
    assert soa[:soa.index("</table>")].count("<tr") == 1 + 38 + 2
    assert '<span class="badge bad">MISSING</span>' in page
    assert page.count("<svg") == 4  # one picture per AI system with risks
    assert '<text x="' in page and ">EV-16</text>" in page


def test_readiness_by_clause_counts_findings_per_group():
    findings = analysed(FINSECURE).validation.findings
    got = [(r.group, r.violations, r.warnings, r.status) for r in readiness_by_clause(findings)]
    assert got == [
        ("iso42001:4", 0, 0, "ready"), ("iso42001:5", 0, 0, "ready"), ("iso42001:6", 3, 0, "not-ready"),
        ("iso42001:7", 1, 1, "not-ready"), ("iso42001:8", 0, 0, "ready"), ("iso42001:9", 0, 0, "ready"),
        ("iso42001:10", 0, 1, "attention"), ("iso42001:A", 0, 1, "attention"), ("euaia", 0, 24, "attention"),
    ]
    assert [r.status for r in readiness_by_clause([])] == ["ready"] * 9


def test_system_picture_keeps_only_the_risk_chains():
    graph = trace_graph(analysed(FINSECURE).store)
    sub = system_risk_graph(graph, "support-chatbot")
    assert sorted(sub.edges) == sorted([
        ("support-chatbot", "R-SC-01"), ("support-chatbot", "R-SC-02"), ("R-SC-02", "R-SC-02/treatment"),
        ("R-SC-02/treatment", "A.6.2.6"), ("R-SC-02/treatment", "A.8.3"), ("R-SC-02/treatment", "A.9.4"),
        ("A.6.2.6", "EV-13"), ("A.8.3", "EV-20"), ("A.9.4", "EV-22")])


def test_conformant_report_says_ready():
    page = report_html(analysed(CONFORMANT))
    assert ('<p class="verdict ready">Ready: no violations or warnings at this date, every applicable control '
            'effective.</p>') in page
    assert "No findings at this date." in page


def test_a_register_with_planned_controls_is_not_ready(tmp_path):
    """The review's case: every applicable control planned, no violation, and the report said
    "ready with reservations" beside "10/38 applicable controls effective". Readiness counts only
    effective or justified-excluded controls (conformity.md, second edition)."""
    from analyses import planned_register

    path = planned_register(tmp_path)
    page = report_html(analyse(path, date(2026, 1, 31)))
    assert ('<p class="verdict not-ready">Not ready: 36 of 36 applicable controls are not effective (planned, '
            'partial or without valid evidence), before the certification audit.</p>') in page
    assert '<div class="n">0/36</div><div class="l">applicable controls effective</div>' in page
    assert '<span class="pill not-ready">Not ready</span>' in page


@needs_chromium
def test_report_renders_in_headless_chromium(report_file, tmp_path):
    """On screen at 1400 px and printed to PDF, as a browser shows and prints it; the DOM the
    browser built keeps every section, the new ones included."""
    profile = tmp_path / "profile"
    width, height, colours = png_size_and_colours(screenshot(report_file, tmp_path / "report.png", profile, 1400, 2000))
    assert (width, height) == (1400, 2000)
    assert colours > 50  # text, cards and colours, not a blank or error page
    pdf = print_pdf(report_file, tmp_path / "report.pdf", profile)
    assert pdf.stat().st_size > 100_000 and pdf_pages(pdf) > 5  # 30+ findings, the SoA, records, pictures
    dom = dump_dom(report_file, profile)
    assert "AI management system audit report" in dom  # the browser parsed and kept the document
    assert re.findall(r'<section id="([a-z]+)">', dom) == SECTION_IDS
    for heading in ("Nonconformities and corrective actions", "Internal audits", "Management reviews", "Incidents",
                    "Evidence"):
        assert f"<h2>{heading}</h2>" in dom
    assert dom.count("<svg") == 4 and 'class="from">applies from 2026-08-02</span>' in dom
    assert "<dt>aimsgraph version</dt>" in dom and "NC-2025-02" in dom and "dms://finsecure/procurement/DD-2025-044" in dom


# ------------------------------------------------------------------ the auditor's records (issue 14)

NC_ROWS = [
    ("NC-2025-01", "credit-scorer v3.1 fails the fairness threshold for applicants aged 60+ (adverse impact ratio 0.71 < 0.80)",
     "2025-04-22", "", "iso42001:8.4 iso42001:A.5.4 iso42001:A.7.4",
     "The 2019-2023 training sample under-represents applicants aged 60+, and the data preparation pipeline had no "
     "representativeness check by age band",
     "Re-weighted training data and added age-band representativeness checks; retrained and re-validated v3.2; introduced "
     "quarterly fairness testing (FS-FAIR-01) and mandatory human review of declines (FS-HITL-01)",
     "2025-09-30", "2025-09-26", "closed"),
    ("NC-2025-02", "Third-party LLM behind support-chatbot was put into service without an AI supplier assessment",
     "2025-10-17", "AUD-2025-01", "iso42001:8.1 iso42001:A.10.3",
     "The chatbot was procured on the fast-track route for marketing tools; the procurement checklist has no AI-specific step",
     "Complete AI supplier due diligence for Verbalis AI GmbH (data processing location, model change notification, security "
     "testing rights, exit plan) and add an AI step to the procurement checklist",
     "2025-11-30", "", "overdue"),  # deliberate gap (e)
    ("NC-2025-03", "Change to the income normalisation in credit-scorer-features was deployed without a regression test and "
     "caused wrongful declines (INC-2025-01)", "2025-07-25", "", "iso42001:8.1 iso42001:A.6.2.4 iso42001:A.6.2.5",
     "Feature pipeline and scoring model were released independently; the release checklist did not require an end-to-end "
     "regression test",
     "Mandatory end-to-end regression test against a frozen scoring data set before every feature-pipeline release; joint "
     "release approval by Data Science and Retail Lending; affected applicants re-scored and contacted",
     "2025-10-31", "2025-10-10", "closed"),
    ("NC-2025-04", "AI literacy training records missing for 4 external data science contractors", "2025-10-17",
     "AUD-2025-01", "iso42001:7.2 iso42001:7.5",
     "Contractors are not set up in the learning management system, so attendance was tracked by hand and not filed",
     "Enrol contractors in the LMS, repeat the AI literacy module and file the records; add LMS enrolment to contractor "
     "onboarding", "2026-03-31", "", "open"),  # not yet due at 2026-01-31
]
AUDIT_ROWS = [
    ("AUD-2025-01", "2025-10-17", "iso42001:6.1.2 iso42001:6.1.3 iso42001:7.2 iso42001:8.2 iso42001:8.4 iso42001:A.5 "
     "iso42001:A.6 iso42001:A.7 iso42001:A.10",
     "Group Internal Audit (lead auditor Claudia Berger), with an external AI subject-matter expert", "yes",
     "NC-2025-02 NC-2025-04"),
]
REVIEW_ROWS = [
    ("MR-2025-01", "2025-06-26",
     "Dr. Katharina Brandt; Elena Vogel; Ingo Franke; Jonas Richter; Markus Weber; Sophie Lehmann; Thomas Schuster",
     "AI objectives OBJ-01 to OBJ-04 confirmed for 2025/2026\n"
     "Closure plan for NC-2025-01 (age bias in credit-scorer) approved; FS-FAIR-01 and FS-HITL-01 made mandatory controls\n"
     "Go-live of support-chatbot approved, subject to an impact assessment before launch"),
    ("MR-2025-02", "2025-12-09",
     "Aylin Demir; Claudia Berger; Dr. Katharina Brandt; Elena Vogel; Ingo Franke; Jonas Richter; Markus Weber; "
     "Piotr Nowak; Sophie Lehmann",
     "AIMS scope extended to fraud-detector; its impact assessment to be completed by 2026-02-28\n"
     "Budget for external red-teaming of support-chatbot approved (EUR 85k); OBJ-05 added\n"
     "Internal audit results AUD-2025-01 accepted; the overdue corrective action for NC-2025-02 escalated to the CIO\n"
     "Justification for excluding A.7.3 from the SoA confirmed"),
]
INCIDENT_ROWS = [
    ("INC-2025-01", "credit-scorer", "2025-07-14", "2025-07-15", "yes", "other", "15 days", "2025-07-22",
     "reported after 7 days, within the limit"),
    ("INC-2025-02", "support-chatbot", "2025-10-03", "", "no", "other", "", "", "not serious: no report owed"),
]
EVIDENCE_SAMPLE = {
    "EV-04": ("EV-04", "AI governance RACI, role descriptions and allocation of responsibilities to suppliers", "procedure",
              "dms://finsecure/aims/PR-AIMS-02-raci", "2025-02-20", "2026-06-30", "valid", "Elena Vogel",
              "A.3.2 A.4.6 A.10.2"),
    "EV-13": ("EV-13", "Monthly model monitoring report, December 2025 (credit-scorer, fraud-detector, support-chatbot)",
              "report", "dms://finsecure/datascience/monitoring/2025-12.pdf", "2026-01-12", "2026-02-28", "expiring",
              "Lukas Meier", "A.6.2.6"),
    "EV-16": ("EV-16", "Training data representativeness and bias analysis: credit-scorer v3.2", "report",
              "dms://finsecure/datascience/credit-scorer/bias-analysis-v3.2.pdf", "2025-06-30", "2025-12-31", "expired",
              "Jonas Richter", "A.7.4"),
    "EV-23": ("EV-23", "Quarterly fairness test results Q4 2025: credit-scorer (adverse impact ratios 0.86-0.97)",
              "test-results", "dms://finsecure/datascience/fairness/2025-Q4.pdf", "2026-01-16", "2026-04-30", "valid",
              "Jonas Richter", "FS-FAIR-01"),
}


def test_finsecure_record_sections_rows():
    from aimsgraph.report import records

    got = records(analysed(FINSECURE).store)
    assert got["nonconformities"] == NC_ROWS
    assert got["audits"] == AUDIT_ROWS
    assert got["reviews"] == REVIEW_ROWS
    assert got["incidents"] == INCIDENT_ROWS
    assert [r[0] for r in got["evidence"]] == [f"EV-{n:02d}" for n in range(1, 27)]
    assert {r[0]: r for r in got["evidence"] if r[0] in EVIDENCE_SAMPLE} == EVIDENCE_SAMPLE
    # every item has a location, a date and its producer by name (no register ids)
    assert all(r[3] and r[4] and r[7] for r in got["evidence"])
    assert sorted({r[7] for r in got["evidence"]}) == [
        "Aylin Demir", "Elena Vogel", "Hannah Koch", "Ingo Franke", "Jonas Richter", "Lukas Meier", "Markus Weber",
        "Miriam Hoffmann", "Sophie Lehmann", "Thomas Schuster"]
    assert [(r[0], r[6]) for r in got["evidence"] if r[6] != "valid"] == [("EV-13", "expiring"), ("EV-16", "expired")]


def test_record_queries_have_no_rows_without_records():
    from aimsgraph.load import load_packaged
    from aimsgraph.query import run_named
    from aimsgraph.store import open_store

    store = analysed(ROOT / "tests" / "fixtures" / "soa-draft.yaml").store  # no NCs, audits, reviews or incidents
    for name in ("nonconformities", "audits", "management-reviews", "incidents"):
        assert run_named(store, name).rows == [], name
    empty = open_store()
    load_packaged(empty)  # catalogues only: no evidence
    assert run_named(empty, "evidence-register").rows == []


def _table_rows(page: str, key: str) -> list[list[str]]:
    """The body rows of the report table `records KEY`, as cell texts."""
    import html as htmllib

    start = page.index(f'<table class="records {key}">')
    body = page[page.index("<tbody>", start) + 7:page.index("</tbody>", start)]
    return [[htmllib.unescape(re.sub(r"<[^>]+>", "", c.replace("</li><li>", "\n"))).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_report_record_sections_show_the_rows(report_file):
    page = report_file.read_text(encoding="utf-8")
    assert _table_rows(page, "nonconformities") == [list(r) for r in NC_ROWS]
    assert _table_rows(page, "audits") == [list(r) for r in AUDIT_ROWS]
    assert _table_rows(page, "reviews") == [list(r) for r in REVIEW_ROWS]
    assert _table_rows(page, "incidents") == [list(r) for r in INCIDENT_ROWS]
    evidence = {r[0]: tuple(r) for r in _table_rows(page, "evidence")}
    assert len(evidence) == 26 and {k: v for k, v in evidence.items() if k in EVIDENCE_SAMPLE} == EVIDENCE_SAMPLE
    assert '<span class="pill not-ready">overdue</span>' in page
    # the SoA section has the SoA header and owners by name
    assert ("<dt>Version</dt><dd>2.1</dd><dt>Approved by</dt><dd>Dr. Katharina Brandt</dd>"
            "<dt>Approved on</dt><dd>2025-11-28</dd>") in page
    assert "<td>Jonas Richter</td>" in page and "<td>head-ds</td>" not in page


def test_report_cover_names_time_version_act_text_and_input_digest(report_file):
    import hashlib
    from datetime import datetime, timezone

    from aimsgraph import __version__

    page = report_file.read_text(encoding="utf-8")
    digest = hashlib.sha256(FINSECURE.read_bytes()).hexdigest()
    assert f'<dt>Input</dt><dd><div class="digest"><span>register.yaml</span> <code>sha256:{digest}</code></div></dd>' in page
    assert f"<dt>aimsgraph version</dt><dd>{__version__}</dd>" in page
    assert re.search(r"<dt>Generated</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</dd>", page)
    assert ("<dt>EU AI Act text applied</dt><dd>original (Regulation (EU) 2024/1689 as adopted); "
            "the text in force at the as-of date</dd>") in page
    fixed = report_html(analysed(FINSECURE), "register.yaml", [FINSECURE],
                        generated=datetime(2026, 2, 1, 9, 30, tzinfo=timezone.utc))
    assert "<dt>Generated</dt><dd>2026-02-01 09:30:00 UTC</dd>" in fixed
    assert "Generated by aimsgraph 0.1.0 from register.yaml on 2026-02-01 09:30 UTC." in fixed


def test_report_cover_of_the_amended_text_and_a_csv_folder(tmp_path):
    import hashlib

    folder = ROOT / "examples" / "csv-minimal"
    analysis = analyse(folder, date(2026, 1, 31), ai_act_text="amended")
    page = report_html(analysis, folder.name, [folder])
    assert ("<dt>EU AI Act text applied</dt><dd>amended (as the shipped catalogue records the amendment); "
            "chosen with --ai-act-text</dd>") in page
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert re.findall(r'<div class="digest"><span>([^<]+)</span> <code>sha256:([0-9a-f]{64})</code></div>', page) == [
        (f"csv-minimal/{p.name}", hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]


def test_obligations_not_yet_applicable_say_from_when(report_file):
    from aimsgraph.query import rows_as_text, run_named

    page = report_file.read_text(encoding="utf-8")
    # credit-scorer's 22 high-risk obligations and support-chatbot's Art 50(1), 50(2) apply from 2026-08-02
    assert page.count('<span class="from">applies from 2026-08-02</span>') == 22 + 2
    assert page.count('<span class="from">') == 24
    assert ('<li class="part" title="Disclosure of direct interaction with an AI system">◐ euaia:art50-1 Disclosure of '
            'direct interaction with an AI system <span class="from">applies from 2026-08-02</span></li>') in page
    assert '◐ euaia:art4 AI literacy</li>' in page  # Art 4 applies since 2025-02-02: no date beside it
    later = rows_as_text(run_named(analysed(FINSECURE).store, "obligations-not-yet-applicable"))
    assert {(r["system"], r["appliesFrom"]) for r in later} == {("credit-scorer", "2026-08-02"), ("support-chatbot", "2026-08-02")}
    assert sorted(r["article"] for r in later if r["system"] == "support-chatbot") == ["euaia:art50-1", "euaia:art50-2"]
    # judged after that date under the text as adopted, every obligation is in force: no rows
    after = analyse(FINSECURE, date(2026, 9, 1), ai_act_text="original")
    assert run_named(after.store, "obligations-not-yet-applicable").rows == []


def test_system_picture_is_readable_one_arrow_per_treatment_and_control():
    import xml.etree.ElementTree as ET

    from aimsgraph.trace import to_svg

    graph = trace_graph(analysed(FINSECURE).store)
    sub = system_risk_graph(graph, "credit-scorer")
    svg = ET.fromstring(to_svg(sub, id_prefix="t"))
    ns = "{http://www.w3.org/2000/svg}"
    texts = list(svg.iter(ns + "text"))
    assert all(float(t.get("font-size")) >= 11 for t in texts)  # the report shows the picture unscaled
    assert not any("…" in (t.text or "") for t in texts)  # wrapped, never cut off
    words = " ".join(t.text or "" for t in texts)
    assert "Training data" in words and "representativeness and" in words and "bias analysis: credit-" in words
    edges = [p for p in svg.iter(ns + "path") if p.find(ns + "title") is not None]
    assert len(edges) == sub.number_of_edges()
    into = {}
    for path in edges:
        source, _, target = path.find(ns + "title").text.partition(" control ")
        if target:
            into.setdefault(target, []).append((source, path.get("d").rsplit(" ", 1)[-1]))
    # FS-FAIR-01 treats R-CS-01 and R-CSF-01: two arrows, ending at two different points
    assert sorted(s for s, _ in into["FS-FAIR-01"]) == ["R-CS-01/treatment", "R-CSF-01/treatment"]
    assert len({end for _, end in into["FS-FAIR-01"]}) == 2
    assert int(svg.get("width")) <= 1036  # fits the report's column at 1400 px without scaling


def test_record_sections_are_the_same_on_the_rdflib_store():
    from analyses import analysed as shared

    from aimsgraph.report import not_yet_applicable, records

    reference = shared(FINSECURE, AS_OF, store_engine="rdflib").store
    assert records(reference) == records(analysed(FINSECURE).store)
    assert not_yet_applicable(reference) == not_yet_applicable(analysed(FINSECURE).store)
