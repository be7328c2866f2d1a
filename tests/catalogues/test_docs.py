"""`aimsgraph docs -o DIR`: HTML for the ontology and every catalogue, written with the network
cut off; exit 1 when the metadata shapes find a gap."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

import aimsgraph.docs
from aimsgraph.cli import app
from aimsgraph.docs import MetadataProblem

PAGES = ["crosswalk.html", "euaia-annex-i.html", "euaia-annex-iii.html", "euaia-articles.html", "euaia-obligations.html",
         "euaia-prohibited-practices.html", "euaia-risk-categories.html", "euaia-roles.html", "index.html",
         "iso42001-annex-a.html", "iso42001-annex-c.html", "iso42001-clauses.html", "nistairmf-core.html",
         "ontology.html", "use-capabilities.html", "use-contexts.html", "use-domains.html", "use-purposes.html",
         "use-subjects.html"]


def _no_network(*args, **kwargs):
    raise AssertionError("aimsgraph docs tried to use the network")


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)
        result = CliRunner().invoke(app, ["docs", "-o", str(out)])
    return result, out


def test_docs_writes_every_page_offline(docs_run):
    result, out = docs_run
    assert result.exit_code == 0, result.output
    # Annex I (Art 6(1), Art 2(2)) has its own page; the five use-descriptor schemes (domains,
    # purposes, capabilities, subjects, contexts) one each
    assert result.stdout == f"wrote 19 pages to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == PAGES


def test_ontology_page_documents_the_classes(docs_run):
    _result, out = docs_run
    text = (out / "ontology.html").read_text(encoding="utf-8")
    assert "<title>aimsgraph ontology</title>" in text
    for label in ("Annex A control", "crosswalk mapping", "EU AI Act obligation", "evidence item"):
        assert label in text


def test_catalogue_pages_have_one_row_per_entry(docs_run):
    _result, out = docs_run

    def row_count(name: str) -> int:
        return (out / name).read_text(encoding="utf-8").count("<tr><td>")

    assert row_count("iso42001-annex-a.html") == 38 + 9 + 2  # controls, objectives, A.6.1/A.6.2
    assert row_count("iso42001-clauses.html") == 43
    assert row_count("nistairmf-core.html") == 4 + 19 + 72
    assert row_count("euaia-annex-i.html") == 2 + 21  # Sections A and B, points 1-20 and the amended point 21
    assert row_count("crosswalk.html") == 271 + 4  # rows plus the articles without counterpart (Art 47, 48, 49, 49(3))
    assert "<code>iso42001:A.7</code>" in (out / "iso42001-annex-a.html").read_text(encoding="utf-8")


def test_metadata_gap_is_named_on_stderr_and_the_pages_still_written(tmp_path, monkeypatch):
    monkeypatch.setattr(aimsgraph.docs, "metadata_report",
                        lambda: [MetadataProblem("iso42001:A.7.4", "", "catalogue entry has no parent")])
    result = CliRunner().invoke(app, ["docs", "-o", str(tmp_path)])
    assert result.exit_code == 0  # docs exports: 0 when written (register.md, "Exit codes")
    assert (tmp_path / "index.html").exists()
    assert "metadata: iso42001:A.7.4: catalogue entry has no parent\n" in result.stderr
