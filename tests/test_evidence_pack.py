"""The evidence package: exact zip members, a manifest entry per evidence item with its
freshness at the as-of date, SHA-256 only for files inside the register's folder (never a URL,
never a path that leaves the folder), and a bad output path refused with exit code 2."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("trestle", reason="the oscal extra (compliance-trestle) is not installed")
pytest.importorskip("openpyxl", reason="the reports extra (openpyxl) is not installed")

from analyses import analysed

from aimsgraph.cli import app
from aimsgraph.evidence_pack import local_file, register_folder, write_pack
from aimsgraph.soa import soa_csv, soa_header, soa_rows

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
BASE = ROOT / "tests" / "conformity" / "base.yaml"
AS_OF = date(2026, 1, 31)
MEMBERS = ["manifest.json", "report.html", "soa.csv", "soa.xlsx", "soa.html",
           "oscal-assessment-results.json", "oscal-catalog.json"]
POLICY = b"Northwind AI policy v1.2\n"
POLICY_SHA256 = "16c5d54e6d5f126911bf4edc70a6d88acf6b7d27f7d67b773eb4722da438c67c"


@pytest.fixture(scope="module")
def local_register(tmp_path_factory) -> Path:
    """The conformity base register in a folder of its own, its first evidence items pointing at
    a local file, a file outside the folder (by `..`, by an absolute path and by a symbolic
    link), and a file that does not exist."""
    top = tmp_path_factory.mktemp("pack")
    folder = top / "register"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "ai-policy.txt").write_bytes(POLICY)
    (top / "outside.txt").write_text("not the register's\n", encoding="utf-8")
    os.symlink(top / "outside.txt", folder / "evidence" / "link.txt")
    register = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    locations = ["evidence/ai-policy.txt", "../outside.txt", "evidence/link.txt", "evidence/missing.pdf",
                 str(top / "outside.txt")]
    for item, location in zip(register["evidence"], locations):
        item["location"] = location
    path = folder / "register.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_pack(local_register) -> tuple[list[str], zipfile.ZipFile]:
    out = local_register.parent.parent / "pack.zip"
    members = write_pack(analysed(local_register, AS_OF), out, local_register)
    return members, zipfile.ZipFile(io.BytesIO(out.read_bytes()))


def test_pack_members_are_exact_and_the_manifest_hashes_them(local_register, local_pack):
    members, archive = local_pack
    assert members == archive.namelist() == MEMBERS
    manifest = json.loads(archive.read("manifest.json"))
    assert [f["name"] for f in manifest["files"]] == MEMBERS[1:]
    for entry in manifest["files"]:
        data = archive.read(entry["name"])
        assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert {k: manifest[k] for k in ("generator", "as_of", "organisation", "register")} == {
        "generator": "aimsgraph 0.1.0", "as_of": "2026-01-31",
        "organisation": {"id": "northwind", "name": "Northwind Analytics BV"}, "register": "register.yaml"}
    assert archive.read("report.html").startswith(b"<!DOCTYPE html>")
    store = analysed(local_register, AS_OF).store
    assert archive.read("soa.csv").decode("utf-8") == soa_csv(soa_rows(store), soa_header(store, AS_OF))
    report = archive.read("report.html").decode("utf-8")
    assert "<dt>Generated</dt><dd>2026-01-31 00:00:00 UTC</dd>" in report  # pinned like the workbook's times
    assert f"<code>sha256:{hashlib.sha256(local_register.read_bytes()).hexdigest()}</code>" in report
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(archive.read("soa.xlsx")))
    assert book.properties.modified.isoformat() == "2026-01-31T00:00:00"  # the as-of date, not the time written
    assert book["Statement of Applicability"].max_row == 8 + 38 + 1  # SoA header, table header, Annex A, NW-EU-PROG
    assert json.loads(archive.read("oscal-assessment-results.json"))["assessment-results"]["results"][0]["props"][1] == {
        "name": "finding-count", "ns": "https://w3id.org/aimsgraph/oscal", "value": "0"}


def test_manifest_hashes_only_the_local_file_inside_the_register_folder(local_pack):
    _, archive = local_pack
    evidence = json.loads(archive.read("manifest.json"))["evidence"]
    assert evidence[0] == {
        "id": "NW-EV-01", "title": "AI policy v1.2", "kind": "policy", "evidences": ["A.2.2", "A.2.3"],
        "location": "evidence/ai-policy.txt", "date": "2025-03-03", "valid_until": "2026-12-31",
        "produced_by": "nw-compliance", "freshness": "valid", "sha256": POLICY_SHA256, "local_file": "hashed"}
    assert [(e["id"], e["local_file"], e["sha256"]) for e in evidence] == [
        ("NW-EV-01", "hashed", POLICY_SHA256),
        ("NW-EV-02", "outside-register", None),  # ../outside.txt
        ("NW-EV-03", "outside-register", None),  # a symbolic link to it
        ("NW-EV-04", "missing", None),
        ("NW-EV-05", "outside-register", None),  # an absolute path
        *[(f"NW-EV-{n:02d}", "url", None) for n in range(6, 11)],  # https: locations are never fetched
    ]


def test_local_file_refuses_urls_and_paths_leaving_the_folder(tmp_path):
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    assert local_file("a.txt", tmp_path) == ("hashed", (tmp_path / "a.txt").resolve())
    assert local_file("./sub/../a.txt", tmp_path)[0] == "hashed"
    assert [local_file(loc, tmp_path)[0] for loc in (
        "https://x.example/a.txt", "file:///etc/passwd", "dms://a", "../a.txt", "/etc/passwd", "C:\\x.txt", "",
        "nope.txt")] == ["url", "url", "url", "outside-register", "outside-register", "outside-register", "url",
                         "missing"]
    assert local_file("a.txt", None) == ("no-register-folder", None)
    # paths are relative to a register file's folder, or to a CSV register's folder itself
    assert register_folder(tmp_path / "a.txt") == tmp_path and register_folder(tmp_path) == tmp_path
    assert register_folder(None) is None


def test_finsecure_manifest_lists_every_evidence_item_with_freshness(tmp_path):
    out = tmp_path / "pack.zip"
    write_pack(analysed(FINSECURE, AS_OF), out, FINSECURE)
    evidence = json.loads(zipfile.ZipFile(out).read("manifest.json"))["evidence"]
    assert [(e["id"], e["freshness"]) for e in evidence] == [
        (f"EV-{n:02d}", "expiring" if n == 13 else "expired" if n == 16 else "valid") for n in range(1, 27)]
    assert evidence[15] == {
        "id": "EV-16", "title": "Training data representativeness and bias analysis: credit-scorer v3.2",
        "kind": "report", "evidences": ["A.7.4"],
        "location": "dms://finsecure/datascience/credit-scorer/bias-analysis-v3.2.pdf", "date": "2025-06-30",
        "valid_until": "2025-12-31", "produced_by": "head-ds", "freshness": "expired", "sha256": None,
        "local_file": "url"}
    assert evidence[3]["evidences"] == ["A.3.2", "A.4.6", "A.10.2"]
    assert evidence[22]["evidences"] == ["FS-FAIR-01"]  # an organisation's own control


@pytest.fixture(scope="module")
def cli_runner():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("aimsgraph.cli.analyse", analysed)
        yield CliRunner()


def test_export_evidence_command_writes_the_pack(cli_runner, local_register, local_pack, tmp_path):
    out = tmp_path / "pack.zip"
    result = cli_runner.invoke(app, ["export", "evidence", str(local_register), "--as-of", "2026-01-31", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 7 files to" in result.output
    archive = zipfile.ZipFile(out)
    assert archive.namelist() == MEMBERS
    assert archive.read("manifest.json") == local_pack[1].read("manifest.json")


@pytest.mark.parametrize("output, message", [
    ("{tmp}/no/such/pack.zip",
     "{tmp}/no/such/pack.zip: folder '{tmp}/no/such' does not exist; cannot write the evidence package there"),
    ("{tmp}", "{tmp}: is a folder; give the evidence package file to write"),
])
def test_export_evidence_bad_output_path_exits_2_before_any_analysis(cli_runner, tmp_path, output, message):
    result = cli_runner.invoke(app, ["export", "evidence", str(FINSECURE), "-o", output.replace("{tmp}", str(tmp_path))])
    assert result.exit_code == 2
    assert message.replace("{tmp}", str(tmp_path)) in " ".join(result.output.split())
