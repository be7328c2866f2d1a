"""The auditor's report (src/aimsgraph/report.py, `aimsgraph report`): one self-contained HTML
file for FinSecure at 2026-01-31 with readiness per clause, EU AI Act classification and cover,
findings by clause, the SoA and a picture per AI system; and it renders in a real headless
browser (Debian chromium; skipped with a reason when chromium is absent)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimsgraph.cli import app
from aimsgraph.pipeline import analyse
from aimsgraph.report import readiness_by_clause, report_html, system_risk_graph
from aimsgraph.trace import trace_graph

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = date(2026, 1, 31)
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)

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
    assert inventory.ids == ["summary", "classification", "findings", "soa", "trace"]


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
    assert page.count("<tr", page.index('<table class="soa">')) == 1 + 38 + 2
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


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct byte values in the pixel data (a blank page has ~2)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); "
                                             "the report cannot be rendered in a real browser here")
def test_report_renders_in_headless_chromium(report_file, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", report_file.as_uri()],
                   capture_output=True, timeout=120, check=True)
    width, height, colours = _png_size_and_colours(shot)
    assert (width, height) == (1280, 2000)
    assert colours > 50  # text, cards and colours, not a blank or error page
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", report_file.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "AI management system audit report" in dom  # the browser parsed and kept the document
    assert dom.count("<svg") == 4 and dom.count('<section id="') == 5
