"""The crosswalk: every row points at existing entries on both sides, with an OLIR relationship,
a rationale and a source; every obligation article maps to ISO/IEC 42001 or says why not."""

from __future__ import annotations

from collections import Counter

from rdflib import RDF
from rdflib.namespace import DCTERMS, SKOS

from aimsgraph.load import catalogue_graph
from aimsgraph.namespaces import AIMS, EUAIA, to_curie

G = catalogue_graph()
MAPPINGS = sorted(G.subjects(RDF.type, AIMS.Mapping))
ISO_SIDE = {AIMS.Clause, AIMS.AnnexAControl}
OTHER_SIDE = {AIMS.Article, AIMS.ArticleParagraph, AIMS.NISTSubcategory}
OLIR = {AIMS.equivalentTo, AIMS.subsetOf, AIMS.supersetOf, AIMS.intersectsWith}


def types(node) -> set:
    return set(G.objects(node, RDF.type))


def test_every_row_points_at_existing_entries_and_is_justified():
    assert len(MAPPINGS) == 271  # 259 + Art 21 (7.4, A.8.5) + 10 rows of NIST's own crosswalk (GOVERN 1.1, 2.1, MAP 2.1)
    bad = []
    for m in MAPPINGS:
        sources, targets = list(G.objects(m, AIMS.mappingSource)), list(G.objects(m, AIMS.mappingTarget))
        relationship, rationale = G.value(m, AIMS.relationship), G.value(m, AIMS.rationale)
        if len(sources) != 1 or not types(sources[0]) & ISO_SIDE:
            bad.append((to_curie(str(m)), "source"))
        if len(targets) != 1 or not types(targets[0]) & OTHER_SIDE:
            bad.append((to_curie(str(m)), "target"))
        if relationship not in OLIR:
            bad.append((to_curie(str(m)), "relationship"))
        if rationale is None or len(str(rationale)) < 20 or rationale.language != "en":
            bad.append((to_curie(str(m)), "rationale"))
        if G.value(m, DCTERMS.source) is None:
            bad.append((to_curie(str(m)), "source reference"))
    assert bad == []


def test_rows_split_between_eu_ai_act_and_nist():
    sides = Counter("euaia" if to_curie(str(G.value(m, AIMS.mappingTarget))).startswith("euaia:") else "nistairmf"
                    for m in MAPPINGS)
    assert sides == {"euaia": 119, "nistairmf": 152}
    assert Counter(to_curie(str(G.value(m, AIMS.relationship))) for m in MAPPINGS) == {
        "aims:intersectsWith": 268, "aims:supersetOf": 2, "aims:subsetOf": 1}
    # no row to the Act discharges an obligation by itself: its cover is partial (conformity.md, 2nd ed.)
    assert {G.value(m, AIMS.relationship) for m in MAPPINGS
            if to_curie(str(G.value(m, AIMS.mappingTarget))).startswith("euaia:")} == {AIMS.intersectsWith}
    # rows to a whole article whose paragraphs bind different roles say whose duties they speak to
    assert {to_curie(str(m)): to_curie(str(G.value(m, AIMS.forRole))) for m in G.subjects(AIMS.forRole, None)} == {
        "aimsmap:A.6.2.2--art50": "euaia:provider", "aimsmap:A.8.2--art50": "euaia:provider",
        "aimsmap:A.8.5--art50": "euaia:provider"}


def test_rows_from_nists_own_crosswalk():
    """NIST's AI RMF to ISO/IEC 42001 crosswalk lists these; the review found them missing."""
    def iso_for(subcategory):
        return {to_curie(str(G.value(m, AIMS.mappingSource))) for m in G.subjects(AIMS.mappingTarget, subcategory)}

    from aimsgraph.namespaces import NISTAIRMF
    assert {"iso42001:6.2", "iso42001:A.2.2", "iso42001:A.2.4", "iso42001:4.1"} <= iso_for(NISTAIRMF["GOVERN-1.1"])
    assert {"iso42001:7.1", "iso42001:7.2", "iso42001:7.3", "iso42001:5.3", "iso42001:7.4", "iso42001:A.3.2"} <= \
        iso_for(NISTAIRMF["GOVERN-2.1"])
    assert {"iso42001:A.4.2", "iso42001:A.4.3", "iso42001:A.4.4", "iso42001:A.4.5", "iso42001:A.4.6",
            "iso42001:A.6.2.3"} <= iso_for(NISTAIRMF["MAP-2.1"])


# The obligation articles conformity.md lists (Art 50 through its paragraphs 50(1)-50(4)).
CONFORMITY_ARTICLES = ["art4", "art5", *(f"art{n}" for n in range(9, 18)), "art23", "art24", "art26", "art27",
                       "art43", "art47", "art48", "art49", "art50-1", "art50-2", "art50-3", "art50-4", "art53",
                       "art72", "art73"]


def iso_sources(article) -> set[str]:
    return {to_curie(str(G.value(m, AIMS.mappingSource))) for m in G.subjects(AIMS.mappingTarget, article)
            if types(G.value(m, AIMS.mappingSource)) & ISO_SIDE}


def test_every_conformity_obligation_article_maps_to_iso_or_says_why_not():
    unmapped = {a for a in CONFORMITY_ARTICLES if not iso_sources(EUAIA[a])}
    assert unmapped == {"art47", "art48", "art49"}
    for a in unmapped:
        assert len(str(G.value(EUAIA[a], AIMS.noCounterpart))) > 40


def test_every_catalogue_obligation_article_maps_or_has_no_counterpart():
    articles = {G.value(o, AIMS.article) for o in G.subjects(RDF.type, AIMS.Obligation)}
    missing = sorted(to_curie(str(a)) for a in articles
                     if not iso_sources(a) and G.value(a, AIMS.noCounterpart) is None)
    assert missing == []


def test_no_counterpart_only_where_there_is_no_mapping():
    for article in G.subjects(AIMS.noCounterpart, None):
        assert iso_sources(article) == set(), article
        assert G.value(article, SKOS.notation) is not None


def test_art14_controls():
    assert iso_sources(EUAIA.art14) == {"iso42001:A.3.2", "iso42001:A.6.2.2", "iso42001:A.6.2.6",
                                        "iso42001:A.8.2", "iso42001:A.9.2"}
