"""Findings kept between commands (kept.py): a whole state at load, one delta per `add`, a whole
state again every WHOLE_EVERY increments; read back they equal validating from scratch, and a
missing part means validating again, never a wrong finding. Also gaps' fast JSON writer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from rdflib.compare import isomorphic

from aimsgraph import kept, workspace
from aimsgraph.pipeline import add_stored, analyse, analyse_stored, gaps_document, gaps_text
from aimsgraph.render import to_json
from aimsgraph.store import open_store
from aimsgraph.validate import Finding, validate

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
HEAD = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix d: <https://w3id.org/aimsgraph/data/finsecure/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
# 1: expired evidence with no register id (its findings name it by IRI); 2: its register id
#    (the same findings now name it by id: a register id changes only how findings name a node);
# 3: valid evidence for A.7.4.
FRAGMENTS = [
    HEAD + 'd:EV-97 a aims:Evidence ; aims:inOrganization d:finsecure ;\n'
           '  aims:date "2025-01-10"^^xsd:date ; aims:validUntil "2025-06-10"^^xsd:date .\n'
           "<https://w3id.org/aimsgraph/data/finsecure/soa/A.6.2.2> aims:hasEvidence d:EV-97 .\n",
    HEAD + 'd:EV-97 aims:registerId "EV-97" .\n',
    HEAD + 'd:EV-96 a aims:Evidence ; aims:registerId "EV-96" ; aims:inOrganization d:finsecure ;\n'
           '  aims:date "2026-01-10"^^xsd:date ; aims:validUntil "2027-02-10"^^xsd:date .\n'
           "<https://w3id.org/aimsgraph/data/finsecure/soa/A.7.4> aims:hasEvidence d:EV-96 .\n",
]


@pytest.fixture
def stored(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    store = open_store("oxigraph", str(tmp_path / "store"))
    analyse(FINSECURE, AS_OF, store=store).validation  # as `aimsgraph load` does
    yield store, tmp_path
    del store


def _files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache" / "findings").glob("*/*.pickle"))


def _as_json(findings: list[Finding]) -> list[dict]:
    return [f.as_json() for f in findings]


def test_each_add_writes_a_delta_and_reads_back_what_a_full_validation_gives(stored, monkeypatch):
    store, tmp_path = stored
    monkeypatch.setattr(kept, "WHOLE_EVERY", 3)
    validated = []  # no add and no read below validates from scratch
    monkeypatch.setattr(kept, "validate", lambda *a, **k: validated.append(1) or validate(*a, **k))
    monkeypatch.setattr("aimsgraph.pipeline.validate", lambda *a, **k: validated.append(1) or validate(*a, **k))
    assert _files(tmp_path) == ["whole-0-findings.pickle", "whole-0-results.pickle"]
    seen = []
    for number, text in enumerate(FRAGMENTS, start=1):
        fragment = tmp_path / f"fragment-{number}.ttl"
        fragment.write_text(text, encoding="utf-8")
        analysis, report = add_stored(store, fragment)
        assert report.fallback is None
        shown = analyse_stored(store, AS_OF)
        assert _as_json(shown.validation.findings) == _as_json(validate(shown.store).findings)
        assert _as_json(analysis.validation.findings) == _as_json(shown.validation.findings)
        seen.append(_as_json(shown.validation.findings))
        if number == 2:  # the second read applied two deltas at once
            assert _files(tmp_path) == ["delta-1.pickle", "delta-2.pickle", "whole-0-findings.pickle",
                                        "whole-0-results.pickle"]
    # the whole state again at 3 (WHOLE_EVERY = 3), the older files gone
    assert _files(tmp_path) == ["whole-3-findings.pickle", "whole-3-results.pickle"]
    assert validated == []
    expired = [(f["rule"], f["focus"]) for f in seen[0] + seen[1] if f["focus_iri"].endswith("/EV-97")]
    assert ("evidence-expired", "EV-97") in expired
    assert [focus for rule, focus in expired if rule == "evidence-expired"] == [
        "https://w3id.org/aimsgraph/data/finsecure/EV-97", "EV-97"]
    unevidenced = [(f["rule"], f["focus"]) for f in seen[1]]
    assert ("control-unevidenced", "A.7.4") in unevidenced
    assert ("control-unevidenced", "A.7.4") not in [(f["rule"], f["focus"]) for f in seen[2]]


def test_a_missing_delta_means_validating_again_with_the_same_findings(stored, monkeypatch):
    store, tmp_path = stored
    fragment = tmp_path / "fragment.ttl"
    fragment.write_text(FRAGMENTS[2], encoding="utf-8")
    add_stored(store, fragment)
    assert "delta-1.pickle" in _files(tmp_path)
    expected = _as_json(analyse_stored(store, AS_OF).validation.findings)
    next((tmp_path / "cache" / "findings").glob("*/delta-1.pickle")).unlink()
    key, increment = workspace.state_key(store, workspace.current(store, "finsecure"))
    assert kept.kept_validation(key, increment) is None
    validated = []
    monkeypatch.setattr("aimsgraph.pipeline.validate", lambda *a, **k: validated.append(1) or validate(*a, **k))
    assert _as_json(analyse_stored(store, AS_OF).validation.findings) == expected
    assert validated == [1]
    assert _files(tmp_path) == ["whole-1-findings.pickle", "whole-1-results.pickle"]  # kept whole again


def test_kept_results_are_read_only_when_asked_and_equal_a_full_run(stored):
    store, tmp_path = stored
    shown = analyse_stored(store, AS_OF)
    validation = shown.validation
    assert validation.results == [] and validation.results_from is not None
    full = validate(shown.store)
    key = lambda r: (str(r.shape), str(r.focus), str(r.value), str(r.path), str(r.component))  # noqa: E731
    assert sorted(map(key, validation.all_results())) == sorted(map(key, full.results))
    assert isomorphic(validation.report, full.report)


def test_gaps_json_writer_gives_the_bytes_json_dumps_gives():
    analysis = analyse(FINSECURE, AS_OF)
    assert gaps_text(analysis) == to_json(gaps_document(analysis))
    odd = [Finding("r", "violation", 'quo"te\\ é \u2028', "https://x/é", (), "line\nbreak\ttab"),
           Finding("r", "warning", "f", "https://x/f", ("A.1", "ünï"), "")]
    assert gaps_text(analysis, odd) == to_json(gaps_document(analysis, odd))
    assert gaps_text(analysis, []) == to_json(gaps_document(analysis, []))
    assert json.loads(gaps_text(analysis, odd))["findings"][0]["focus"] == 'quo"te\\ é \u2028'
