"""Statement of Applicability (query 20 statement-of-applicability, src/aimsgraph/soa.py, `aimsgraph
soa`): exact rows on tests/fixtures/trace.yaml on both stores, the case with no register rows,
and the FinSecure export as XLSX (38 Annex A rows plus its two own controls), CSV and HTML."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimsgraph.cli import app
from browser import needs_chromium
from analyses import analysed as shared_analysis
from aimsgraph.load import load_packaged
from aimsgraph.query import rows_as_text, run_named
from aimsgraph.soa import HEADERS, soa_csv, soa_header, soa_rows
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "trace.yaml"
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
ANNEX_A = ["A.2.2", "A.2.3", "A.2.4", "A.3.2", "A.3.3", "A.4.2", "A.4.3", "A.4.4", "A.4.5", "A.4.6", "A.5.2",
           "A.5.3", "A.5.4", "A.5.5", "A.6.1.2", "A.6.1.3", "A.6.2.2", "A.6.2.3", "A.6.2.4", "A.6.2.5", "A.6.2.6",
           "A.6.2.7", "A.6.2.8", "A.7.2", "A.7.3", "A.7.4", "A.7.5", "A.7.6", "A.8.2", "A.8.3", "A.8.4", "A.8.5",
           "A.9.2", "A.9.3", "A.9.4", "A.10.2", "A.10.3", "A.10.4"]
ACT_TEXT = "Regulation (EU) 2024/1689 as adopted (2024 text) (in force at the as-of date)"
FINSECURE_HEADER_ROWS = [
    ("Statement of Applicability FinSecure Bank AG", None), ("Version", "2.1"), ("Approved by", "Dr. Katharina Brandt"),
    ("Approved on", "2025-11-28"), ("As of", "2026-01-31"), ("EU AI Act text", ACT_TEXT), (None, None), ("Control", "Title")]
COLUMNS = ("notation", "origin", "inSoA", "applicable", "justification", "status", "owner", "effective", "risks", "evidence")

def analysed(path: Path, as_of: date = AS_OF, *, store_engine: str = "oxigraph", **_options):
    return shared_analysis(path, as_of, store_engine=store_engine)


@pytest.fixture(scope="module", params=["oxigraph", "rdflib"])
def engine(request):
    return request.param


def query_rows(store) -> dict[str, tuple]:
    rows = rows_as_text(run_named(store, "statement-of-applicability"))
    return {r["notation"]: tuple(r.get(c, "") for c in COLUMNS) for r in rows}


def test_soa_query_rows_on_the_fixture(engine):
    got = query_rows(analysed(FIXTURE, store_engine=engine).store)
    assert len(got) == 38 + 1
    assert {k: v for k, v in got.items() if v[2] == "true"} == {
        "A.6.2.5": ("A.6.2.5", "annex-a", "true", "true", "", "implemented", "dev", "true", "R-1", "EV-OK=valid"),
        "A.7.3": ("A.7.3", "annex-a", "true", "false", "No data is acquired", "", "", "false", "", ""),
        "A.7.4": ("A.7.4", "annex-a", "true", "true", "", "implemented", "dev", "false",
                  got["A.7.4"][8], "EV-OLD=expired"),
        "OWN-1": ("OWN-1", "organisation", "true", "true", "", "implemented", "boss", "true", "R-1", "EV-OK=valid"),
    }
    assert sorted(got["A.7.4"][8].split()) == ["R-1", "R-2"]  # GROUP_CONCAT order is the engine's
    assert got["A.10.4"] == ("A.10.4", "annex-a", "false", "", "", "", "", "false", "", "")
    assert sorted(k for k, v in got.items() if v[2] == "false") == sorted(set(ANNEX_A) - {"A.6.2.5", "A.7.3", "A.7.4"})


def test_soa_query_without_register_rows():
    store = open_store()
    load_packaged(store)  # catalogues, no register: every Annex A control is missing from the SoA
    got = query_rows(store)
    assert sorted(got) == sorted(ANNEX_A)
    assert set(got.values()) == {(k, "annex-a", "false", "", "", "", "", "false", "", "") for k in ANNEX_A}
    assert run_named(open_store(), "statement-of-applicability").rows == []  # and an empty store has none


def test_soa_rows_are_sorted_and_summarise_freshness():
    rows = soa_rows(analysed(FIXTURE).store)
    assert [r.control for r in rows] == ANNEX_A + ["OWN-1"]
    a74 = next(r for r in rows if r.control == "A.7.4")
    assert (a74.risks, a74.evidence, a74.freshness, a74.effective) == (("R-1", "R-2"), (("EV-OLD", "expired"),), "expired", False)
    a73 = next(r for r in rows if r.control == "A.7.3")
    assert a73.cells() == ["A.7.3", "Acquisition of data", "Annex A", "yes", "no", "No data is acquired", "", "", "n/a",
                           "", "", "none"]
    a104 = next(r for r in rows if r.control == "A.10.4")
    assert a104.cells()[3:5] == ["MISSING", ""]


@pytest.fixture(scope="module")
def cli_runner():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aimsgraph.cli.analyse", analysed)
        yield CliRunner()


def test_finsecure_soa_xlsx_opens_with_38_annex_a_rows_and_own_controls(cli_runner, tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="the reports extra (openpyxl) is not installed")
    out = tmp_path / "soa.xlsx"
    result = cli_runner.invoke(app, ["soa", str(FINSECURE), "--as-of", "2026-01-31", "-o", str(out), "--format", "xlsx"])
    assert result.exit_code == 0, result.output  # an exporting command: 0 although FinSecure has violations
    sheet = openpyxl.load_workbook(out)["Statement of Applicability"]
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[:2] for r in rows[:8]] == FINSECURE_HEADER_ROWS
    assert rows[7] == HEADERS
    by_origin = {}
    for row in rows[8:]:
        by_origin.setdefault(row[2], []).append(row[0])
    assert by_origin == {"Annex A": ANNEX_A, "Organisation": ["FS-FAIR-01", "FS-HITL-01"]}
    cells = {row[0]: row for row in rows[8:]}
    assert cells["A.2.2"][7] == "Dr. Katharina Brandt" and cells["A.4.4"][7] == "Ingo Franke"  # owners by name
    # print setup: landscape A4, one page wide, the table's header row repeated, title and version on each page
    setup = sheet.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert sheet.print_title_rows == "$8:$8" and sheet.freeze_panes == "A9" and sheet.auto_filter.ref == "A8:L48"
    assert (sheet.oddHeader.left.text, sheet.oddHeader.center.text, sheet.oddHeader.right.text) == (
        "Statement of Applicability FinSecure Bank AG", "Version 2.1", "As of 2026-01-31")
    assert (sheet.oddFooter.left.text, sheet.oddFooter.right.text) == (
        "Approved by Dr. Katharina Brandt on 2025-11-28", "Page &P of &N")
    assert cells["A.10.4"][3] == "MISSING"  # deliberate gap (d)
    assert (cells["A.7.4"][10], cells["A.7.4"][11], cells["A.7.4"][8]) == ("EV-16 (expired)", "expired", "no")
    assert cells["A.7.3"][4] == "no" and cells["A.7.3"][5].startswith("FinSecure acquires no data")
    assert cells["FS-FAIR-01"][9] == "R-CS-01 R-CSF-01"


def test_finsecure_soa_csv_to_stdout_and_html_file(cli_runner, tmp_path):
    result = cli_runner.invoke(app, ["soa", str(FINSECURE), "--as-of", "2026-01-31"])
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert [tuple(r) for r in rows[:6]] == [("Statement of Applicability", "FinSecure Bank AG")] + FINSECURE_HEADER_ROWS[1:6]
    assert rows[6] == [] and rows[7] == list(HEADERS) and len(rows) == 8 + 38 + 2
    store = analysed(FINSECURE).store
    assert result.stdout == soa_csv(soa_rows(store), soa_header(store, AS_OF))
    cells = {r[0]: r for r in rows[8:]}
    assert cells["A.7.4"][7] == "Jonas Richter" and cells["A.7.4"][10] == "EV-16 (expired)"
    out = tmp_path / "soa.html"
    result = cli_runner.invoke(app, ["soa", str(FINSECURE), "--as-of", "2026-01-31", "-o", str(out)])
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr") == 1 + 38 + 2
    assert '<span class="badge bad">MISSING</span>' in page
    assert ('<dl class="soa-head"><dt>Organisation</dt><dd>FinSecure Bank AG</dd><dt>Version</dt><dd>2.1</dd>'
            '<dt>Approved by</dt><dd>Dr. Katharina Brandt</dd><dt>Approved on</dt><dd>2025-11-28</dd>'
            f'<dt>As of</dt><dd>2026-01-31</dd><dt>EU AI Act text</dt><dd>{ACT_TEXT}</dd></dl>') in page
    assert "<td>Dr. Katharina Brandt</td>" in page and "<td>ceo</td>" not in page


def test_soa_header_without_the_added_keys_says_what_is_missing():
    header = soa_header(analysed(FIXTURE).store, AS_OF)
    assert header.fields() == [
        ("Organisation", "Trace Test Ltd"), ("Version", "not recorded (aims.soa_version)"),
        ("Approved by", "not recorded (aims.soa_approved_by)"), ("Approved on", "not recorded (aims.soa_approved_on)"),
        ("As of", "2026-01-31"), ("EU AI Act text", ACT_TEXT)]


def test_soa_xlsx_to_stdout_is_refused(cli_runner):
    result = cli_runner.invoke(app, ["soa", str(FIXTURE), "--format", "xlsx"])
    assert result.exit_code == 2
    assert "xlsx needs a file" in result.output


# --- soa --draft: proposed rows for the Annex A controls the register leaves out ---------------

DRAFT = ROOT / "tests" / "fixtures" / "soa-draft.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
IN_OPERATION = "chatbot (operation), scorer (operation)"
WHOLE_LIFE_CYCLE = f"it concerns the whole life cycle and the management system, and AI systems are in scope: {IN_OPERATION}"
ART50_1 = ("through the crosswalk (intersects-with) it bears on obligations of AI systems in scope: "
           "chatbot (limited-risk, provider): euaia:art50-1")


def test_soa_draft_basis_query_fires_on_missing_rows_only(engine):
    got = [tuple(r.get(c, "") for c in ("notation", "basis", "ref", "system", "detail", "relationship"))
           for r in rows_as_text(run_named(analysed(DRAFT, store_engine=engine).store, "soa-draft-basis"))]
    assert got == [
        ("A.10.4", "lifecycle", "operation", "chatbot", "", ""),
        ("A.10.4", "lifecycle", "operation", "scorer", "", ""),
        ("A.6.2.2", "obligation", "euaia:art50-1", "chatbot", "limited-risk/provider", "aims:intersectsWith"),
        ("A.8.2", "lifecycle", "operation", "chatbot", "", ""),
        ("A.8.2", "lifecycle", "operation", "scorer", "", ""),
        ("A.8.2", "obligation", "euaia:art50-1", "chatbot", "limited-risk/provider", "aims:intersectsWith"),
        ("A.9.2", "stage", "operation", "chatbot", "", ""),
        ("A.9.2", "stage", "operation", "scorer", "", ""),
        ("A.9.2", "treatment", "R-1", "scorer", "machine-learning", ""),
    ]  # A.7.3 has no row: nothing calls for it; the 33 controls with an SoA row have none either
    # the conformant register has a row for every Annex A control: nothing to draft
    assert run_named(analysed(CONFORMANT, store_engine=engine).store, "soa-draft-basis").rows == []


def test_soa_draft_proposes_exactly_the_missing_controls_with_their_reasons():
    from aimsgraph.soa import draft_soa

    got = [(e.control, e.applicable, e.reasons) for e in draft_soa(analysed(DRAFT).store)]
    assert got == [
        ("A.6.2.2", True, (ART50_1,)),
        ("A.7.3", False, ("no risk treatment names it",
                          "no crosswalk row from it reaches an obligation of an AI system in scope",
                          "no AI system in scope is in a life cycle stage it concerns (design-development); "
                          f"in scope: {IN_OPERATION}")),
        ("A.8.2", True, (ART50_1, WHOLE_LIFE_CYCLE)),
        ("A.9.2", True, ("risk treatments name it: R-1 (scorer, risk source machine-learning)",
                         f"AI systems in scope are in a life cycle stage it concerns: {IN_OPERATION}")),
        ("A.10.4", True, (WHOLE_LIFE_CYCLE,)),
    ]


def test_soa_draft_of_finsecure_proposes_only_its_missing_a_10_4():
    from aimsgraph.soa import draft_soa

    got = [(e.control, e.applicable, e.justification) for e in draft_soa(analysed(FINSECURE).store)]
    assert got == [("A.10.4", True, (
        "Proposed applicable: it concerns the whole life cycle and the management system, and AI systems are in "
        "scope: credit-scorer (operation), credit-scorer-features (operation), fraud-detector (operation), "
        "support-chatbot (operation)."))]
    assert [e.control for e in draft_soa(analysed(CONFORMANT).store)] == []


def test_soa_draft_yaml_pasted_into_the_register_loads(cli_runner, tmp_path):
    import yaml

    from aimsgraph.load import read_input

    result = cli_runner.invoke(app, ["soa", str(DRAFT), "--as-of", "2026-01-31", "--draft"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.splitlines()[0] == "# Statement of Applicability drafted by aimsgraph 0.1.0 from soa-draft.yaml at 2026-01-31."
    assert "  # A.7.3 Acquisition of data: proposed not applicable\n  #   - no risk treatment names it\n" in text
    proposed = yaml.safe_load(text)["controls"]
    assert proposed == [
        {"id": "A.6.2.2", "applicable": True, "status": "planned", "justification": f"Proposed applicable: {ART50_1}."},
        {"id": "A.7.3", "applicable": False, "justification": (
            "Proposed not applicable: no risk treatment names it, no crosswalk row from it reaches an obligation of an "
            "AI system in scope, and no AI system in scope is in a life cycle stage it concerns (design-development); "
            f"in scope: {IN_OPERATION}.")},
        {"id": "A.8.2", "applicable": True, "status": "planned",
         "justification": f"Proposed applicable: {ART50_1}; {WHOLE_LIFE_CYCLE}."},
        {"id": "A.9.2", "applicable": True, "status": "planned", "justification": (
            "Proposed applicable: risk treatments name it: R-1 (scorer, risk source machine-learning); AI systems in "
            f"scope are in a life cycle stage it concerns: {IN_OPERATION}.")},
        {"id": "A.10.4", "applicable": True, "status": "planned", "justification": f"Proposed applicable: {WHOLE_LIFE_CYCLE}."},
    ]
    # pasted as it is under the register's `controls:` key, the register loads and its SoA is complete
    entries = text.split("controls:\n", 1)[1]
    register = DRAFT.read_text(encoding="utf-8").replace("controls:\n", "controls:\n" + entries, 1)
    pasted = tmp_path / "register.yaml"
    pasted.write_text(register, encoding="utf-8")
    read_input(pasted)  # raises on any register error
    rows = soa_rows(shared_analysis(pasted, AS_OF).store)
    assert [r.control for r in rows if not r.in_soa] == []
    assert [(r.control, r.applicable, r.status) for r in rows if r.control in ("A.6.2.2", "A.7.3", "A.10.4")] == [
        ("A.6.2.2", True, "planned"), ("A.7.3", False, ""), ("A.10.4", True, "planned")]
    # and drafted again, nothing is left to propose
    again = cli_runner.invoke(app, ["soa", str(pasted), "--as-of", "2026-01-31", "--draft", "-o", str(tmp_path / "d.yaml")])
    assert again.exit_code == 0 and yaml.safe_load((tmp_path / "d.yaml").read_text(encoding="utf-8")) == {"controls": []}


def test_soa_draft_refuses_a_format(cli_runner):
    result = cli_runner.invoke(app, ["soa", str(DRAFT), "--draft", "--format", "csv"])
    assert result.exit_code == 2 and "--draft writes YAML" in result.output


@needs_chromium
def test_soa_html_renders_on_screen_and_in_print(cli_runner, tmp_path):
    from browser import dump_dom, pdf_pages, png_size_and_colours, print_pdf, screenshot

    page = tmp_path / "soa.html"
    result = cli_runner.invoke(app, ["soa", str(FINSECURE), "--as-of", "2026-01-31", "-o", str(page)])
    assert result.exit_code == 0, result.output
    profile = tmp_path / "profile"
    width, height, colours = png_size_and_colours(screenshot(page, tmp_path / "soa.png", profile, 1400, 1600))
    assert (width, height) == (1400, 1600) and colours > 50
    pdf = print_pdf(page, tmp_path / "soa.pdf", profile)
    assert pdf.stat().st_size > 30_000 and pdf_pages(pdf) > 0
    dom = dump_dom(page, profile)
    assert "<dt>Version</dt><dd>2.1</dd><dt>Approved by</dt><dd>Dr. Katharina Brandt</dd>" in dom
    table = dom[dom.index('<table class="soa">'):]
    assert table[:table.index("</table>")].count("<tr") == 1 + 38 + 2


def test_soa_approver_must_name_a_person(cli_runner, tmp_path):
    bad = tmp_path / "register.yaml"
    bad.write_text(DRAFT.read_text(encoding="utf-8").replace(
        '  scope: "Credit scoring and customer chat at ACME"\n',
        '  scope: "Credit scoring and customer chat at ACME"\n  soa_version: "1.0"\n  soa_approved_by: nobody\n'),
        encoding="utf-8")
    result = cli_runner.invoke(app, ["soa", str(bad), "--as-of", "2026-01-31"])
    assert result.exit_code == 2
    assert "register.yaml: entry 'aims', key 'soa_approved_by': 'nobody' names no person in the register" in result.output
