"""OSCAL export: the assessment results carry exactly the findings `gaps` reports (FinSecure at
2026-01-31: 31), each targeting a requirement the catalog holds; both documents parse back with
compliance-trestle's OSCAL models and come out byte-identical when written again."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("trestle", reason="the oscal extra (compliance-trestle) is not installed")

from analyses import analysed
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.catalog import Catalog

from aimsgraph.cli import app
from aimsgraph.oscal import (
    CATALOG_FILE,
    NAMESPACE,
    catalog_json,
    requirements,
    write_oscal,
)
from aimsgraph.pipeline import gaps_document

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)

# (rule, focus, target requirement): the gaps findings of FinSecure at 2026-01-31 in gaps' order,
# each with the requirement it is about (an article, else an Annex A control, else a clause)
EXPECTED = [
    ("control-unevidenced", "A.7.4", "iso42001:A.7.4"),
    ("impact-assessment-missing", "fraud-detector", "iso42001:A.5.2"),
    ("risk-untreated", "R-SC-01", "iso42001:6.1.3"),
    ("soa-incomplete", "iso42001:A.10.4", "iso42001:6.1.3"),
    ("corrective-action-overdue", "NC-2025-02", "iso42001:10.2"),
    ("evidence-expired", "EV-16", "iso42001:7.5.3"),
    ("impact-assessment-incomplete", "IA-SC-2025", "iso42001:A.5.5"),
    *[("obligation-partially-covered", "credit-scorer", f"euaia:art{n}")
      for n in (4, 9, 11, 12, 13, 16, 17, 18, 19, 20, 26, 27, 43, 72, 73, 86)],
    ("obligation-partially-covered", "fraud-detector", "euaia:art4"),
    *[("obligation-partially-covered", "support-chatbot", f"euaia:art{n}") for n in (4, "50-1", "50-2")],
    *[("obligation-uncovered", "credit-scorer", f"euaia:art{n}") for n in (21, 47, 48, 49)],
]


def _target_curie(target_id: str) -> str:
    """iso42001-A.7.4_smt -> iso42001:A.7.4"""
    return target_id.removesuffix("_smt").replace("-", ":", 1)


def _props(item, name: str) -> list[str]:
    return [p.value for p in item.props or [] if p.name == name]


def _controls(nodes):
    for node in nodes or []:
        yield node
        yield from _controls(node.controls)


def _all_controls(catalog: Catalog) -> list:
    return [c for group in catalog.groups for c in _controls(group.controls)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("oscal") / "results.json"
    analysis = analysed(FINSECURE, AS_OF)
    write_oscal(analysis, out, "register.yaml")
    return analysis, out, out.with_name(CATALOG_FILE)


@pytest.fixture(scope="module")
def parsed(written):
    _, results_path, catalog_path = written
    return AssessmentResults.oscal_read(results_path), Catalog.oscal_read(catalog_path)


def test_one_oscal_finding_per_gaps_finding_with_its_rule_focus_refs_and_target(written, parsed):
    analysis = written[0]
    results, _ = parsed
    [result] = results.results
    gaps = gaps_document(analysis)["findings"]
    assert len(gaps) == len(result.findings) == 31
    got = [(_props(f, "rule")[0], _props(f, "focus")[0], _target_curie(f.target.target_id)) for f in result.findings]
    assert got == EXPECTED
    assert [(g["rule"], g["focus"], g["refs"], g["severity"], g["message"]) for g in gaps] == [
        (_props(f, "rule")[0], _props(f, "focus")[0], _props(f, "ref"), _props(f, "severity")[0], f.description)
        for f in result.findings]
    assert {(r, t) for r, _, t in got} == {(g["rule"], t) for g, (_, _, t) in zip(gaps, EXPECTED)}
    assert all(f.target.type.value == "statement-id" and f.target.status.state.value == "not-satisfied"
               for f in result.findings)
    assert result.start.isoformat() == results.metadata.last_modified.isoformat() == "2026-01-31T00:00:00+00:00"
    assert _props(result, "finding-count") == ["31"] and _props(result, "as-of") == ["2026-01-31"]


def test_every_target_resolves_in_the_catalog_the_results_point_to(written, parsed):
    _, results_path, catalog_path = written
    results, catalog = parsed
    statements = {part.id for c in _all_controls(catalog) for part in c.parts or []}
    targets = {f.target.target_id for f in results.results[0].findings}
    assert targets <= statements
    assert len(targets) == 28  # 31 findings: art4 three times, 6.1.3 twice
    hrefs = [link.href for r in results.back_matter.resources for link in r.rlinks or []
             if link.media_type == "application/oscal.catalog+json"]
    assert hrefs == [CATALOG_FILE] and (results_path.parent / hrefs[0]) == catalog_path


def test_observations_name_the_subject_and_the_evidence_with_its_location(parsed):
    results, _ = parsed
    [result] = results.results
    observations = {o.uuid: o for o in result.observations}
    assert len(observations) == 31
    resources = {r.uuid: r for r in results.back_matter.resources}

    def evidence(i: int):
        [related] = result.findings[i].related_observations
        obs = observations[related.observation_uuid]
        assert all(s.subject_uuid in resources and s.type.root == "resource" for s in obs.subjects)
        return obs, [(_props(e, "evidence-id")[0], _props(e, "freshness")[0], e.href) for e in obs.relevant_evidence or []]

    bias = "dms://finsecure/datascience/credit-scorer/bias-analysis-v3.2.pdf"
    obs, ev = evidence(0)  # control-unevidenced A.7.4: its only evidence, expired
    assert ev == [("EV-16", "expired", bias)]
    assert [s.title for s in obs.subjects] == [
        "A.7.4: Quality of data for AI systems",
        "EV-16: Training data representativeness and bias analysis: credit-scorer v3.2"]
    ev16 = resources[obs.subjects[1].subject_uuid]
    assert [link.href for link in ev16.rlinks] == [bias]
    assert evidence(5)[1] == [("EV-16", "expired", bias)]  # evidence-expired EV-16
    assert evidence(2)[1] == []  # risk-untreated R-SC-01: no treatment, no evidence
    assert [(i, f) for i, f, _ in evidence(8)[1]] == [  # credit-scorer art9: the partial cover's evidence
        ("EV-07", "valid"), ("EV-08", "valid"), ("EV-09", "valid"), ("EV-11", "valid"), ("EV-13", "expiring")]
    assert evidence(27)[1] == []  # obligation-uncovered art21: nothing covers it


def test_catalog_holds_ids_titles_and_own_summaries_of_the_shipped_requirements(parsed):
    _, catalog = parsed
    controls = _all_controls(catalog)
    kinds = {}
    for c in controls:
        kinds[c.class_] = kinds.get(c.class_, 0) + 1
    assert kinds == {"clause": 43, "objective": 11, "control": 38, "chapter": 8, "article": 38,
                     "paragraph": 12, "obligation": 59}
    assert [g.id for g in catalog.groups] == ["iso42001-clauses", "iso42001-annex-a", "euaia"]
    by_id = {c.id: c for c in controls}
    a74 = by_id["iso42001-A.7.4"]
    assert a74.title == "Quality of data for AI systems"
    assert [(p.id, p.name, p.prose) for p in a74.parts] == [
        ("iso42001-A.7.4_smt", "statement",
         "Set data quality requirements and make sure data used for AI systems satisfies them.")]
    assert [c.id for c in by_id["euaia-art50"].controls] == [
        "euaia-art50-1", "euaia-art50-2", "euaia-art50-3", "euaia-art50-4"]
    assert [c.id for c in by_id["euaia-art50-1"].controls] == ["euaia-obl-art50-1-provider"]
    assert len(requirements()) == len(controls) == len(by_id)


def test_documents_are_reproducible_with_uuid5_ids(written, tmp_path):
    analysis, results_path, catalog_path = written
    again = tmp_path / "again.json"
    write_oscal(analysis, again, "register.yaml")
    assert again.read_bytes() == results_path.read_bytes()
    assert again.with_name(CATALOG_FILE).read_bytes() == catalog_path.read_bytes() == catalog_json().encode()
    doc = json.loads(results_path.read_text(encoding="utf-8"))["assessment-results"]
    ids = [doc["uuid"]] + [f["uuid"] for f in doc["results"][0]["findings"]]
    assert all(uuid.UUID(i).version == 5 for i in ids) and len(set(ids)) == 32
    assert str(NAMESPACE) == str(uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/aimsgraph/oscal"))


@pytest.fixture(scope="module")
def cli_runner():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aimsgraph.cli.analyse", analysed)
        yield CliRunner()


def test_export_oscal_command_writes_results_and_catalog_beside_them(cli_runner, written, tmp_path):
    out = tmp_path / "results.json"
    result = cli_runner.invoke(app, ["export", "oscal", str(FINSECURE), "--as-of", "2026-01-31", "-o", str(out)])
    assert result.exit_code == 0, result.output  # an exporting command: 0 although FinSecure has violations
    assert out.read_bytes() == written[1].read_bytes()
    assert (tmp_path / CATALOG_FILE).read_bytes() == written[2].read_bytes()
    alone = tmp_path / "catalog.json"
    result = cli_runner.invoke(app, ["export", "oscal-catalog", "-o", str(alone)])
    assert result.exit_code == 0 and alone.read_bytes() == written[2].read_bytes()


@pytest.mark.parametrize("args, message", [
    (["export", "oscal", str(FINSECURE), "-o", "{tmp}/no/such/results.json"],
     "folder '{tmp}/no/such' does not exist; cannot write the OSCAL assessment results there"),
    (["export", "oscal", str(FINSECURE), "-o", "{tmp}"], "{tmp}: is a folder; give the OSCAL assessment results file"),
    (["export", "oscal", str(FINSECURE), "-o", "{tmp}/r.json", "--catalog", "{tmp}/r.json"],
     "the results and the catalog cannot be the same file"),
    (["export", "oscal-catalog", "-o", "{tmp}/missing/c.json"],
     "folder '{tmp}/missing' does not exist; cannot write the OSCAL catalog there"),
])
def test_export_oscal_bad_output_path_exits_2_naming_it(cli_runner, tmp_path, args, message):
    result = cli_runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert message.replace("{tmp}", str(tmp_path)) in " ".join(result.output.split())


@pytest.mark.parametrize("command", ["oscal", "evidence"])
def test_export_commands_take_the_shared_run_options_and_refuse_a_bad_register(cli_runner, tmp_path, command):
    text = cli_runner.invoke(app, ["export", command, "--help"]).stdout
    for option in ("--as-of", "--store", "--store-dir", "--org", "--owl-engine", "--validator", "--window-months",
                   "--expiring-days", "--output"):
        assert len(re.findall(rf"^  (?:-o, )?{option}(?![\w-])", text, re.MULTILINE)) == 1, (command, option)
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: aimsgraph-register/1\norganization: {id: x, name: X, colour: red}\n", encoding="utf-8")
    out = tmp_path / "out.zip"
    result = cli_runner.invoke(app, ["export", command, str(bad), "-o", str(out), "--as-of", "2026-01-31"])
    assert result.exit_code == 2
    assert "bad.yaml: entry 'x', key 'colour': unknown key" in result.stderr and result.stdout == ""
    assert not out.exists()
