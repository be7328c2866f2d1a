"""Which text of the EU AI Act a run applies (--ai-act-text original|amended|auto): the texts and
the changes the Digital Omnibus (Regulation (EU) 2026/1744) makes are data in the catalogue; the
run names the text on its parameters node; every output names the text it applied."""

from __future__ import annotations

from datetime import date

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from aimsgraph.acttext import ActTextError, act_texts, resolve
from aimsgraph.load import catalogue_graph
from aimsgraph.namespaces import AIMS, EUAIA, RUN_IRI
from aimsgraph.reason import Parameters


def test_the_catalogue_records_both_texts_with_their_sources():
    texts = {t.key: t for t in act_texts()}
    assert set(texts) == {"original", "amended"}
    assert texts["original"].in_force_from == date(2024, 8, 1)
    assert texts["amended"].in_force_from == date(2026, 7, 27)
    assert "Regulation (EU) 2026/1744" in texts["amended"].source and "2025/0359(COD)" in texts["amended"].source
    assert "24.7.2026" in texts["amended"].source
    # where the sources disagree, the text says so
    assert "17 June" in texts["amended"].note and "24 June" in texts["amended"].note


@pytest.mark.parametrize("as_of, expected", [
    (date(2026, 1, 31), "original"), (date(2026, 7, 26), "original"),
    (date(2026, 7, 27), "amended"), (date(2026, 12, 1), "amended")])
def test_auto_is_the_text_in_force_at_as_of(as_of, expected):
    assert resolve("auto", as_of).key == expected


def test_a_named_text_is_applied_whatever_the_date():
    assert resolve("original", date(2027, 1, 1)).key == "original"
    assert resolve("amended", date(2026, 1, 31)).key == "amended"
    with pytest.raises(ActTextError, match="original, amended"):
        resolve("2024", date(2026, 1, 31))


def test_the_run_node_carries_the_choice_and_the_text():
    triples = set(Parameters(date(2026, 9, 1)).triples())
    run = URIRef(RUN_IRI)
    assert (run, AIMS.aiActTextChoice, Literal("auto")) in triples
    assert (run, AIMS.aiActText, EUAIA["text-amended"]) in triples
    assert (run, AIMS.aiActText, EUAIA["text-original"]) in set(Parameters(date(2026, 9, 1), ai_act_text="original").triples())


def test_every_change_names_its_text_and_source():
    g = catalogue_graph()
    changes = set(g.subjects(None, AIMS.TextChange))
    assert len(changes) >= 6
    for change in changes:
        assert g.value(change, AIMS.inText) == EUAIA["text-amended"], change
        assert "2026/1744" in str(g.value(change, DCTERMS.source)), change
        assert g.value(change, SKOS.definition) is not None, change
    deferred = g.value(EUAIA["chg-high-risk-annex-iii"], AIMS.changedAppliesFrom)
    assert str(deferred) == "2027-12-02"
    assert str(g.value(EUAIA["chg-high-risk-annex-iii"], AIMS.changedAnnexIApplyFrom)) == "2028-08-02"
    assert str(g.value(EUAIA["chg-high-risk-annex-i"], AIMS.changedAppliesFrom)) == "2028-08-02"
    # the high-risk duties move, Art 4, 5 and 50 keep their dates
    moved = set(g.subjects(AIMS.changedBy, EUAIA["chg-high-risk-annex-iii"]))
    assert {EUAIA.art9, EUAIA.art26, EUAIA.art27, EUAIA["obl-art9-provider"], EUAIA["obl-art26-deployer"]} <= moved
    assert not {EUAIA.art4, EUAIA.art5, EUAIA.art50, EUAIA["art50-1"], EUAIA["obl-art4-provider"]} & moved
