"""The shipped catalogues hold exactly the entries of ISO/IEC 42001:2023, the EU AI Act and NIST
AI RMF 1.0 that the project promises, with the official numbering, titles and application dates."""

from __future__ import annotations

from collections import Counter

from rdflib import RDF, RDFS, SKOS, Literal, URIRef
from rdflib.namespace import DCTERMS, XSD

from aimsgraph.load import catalogue_graph
from aimsgraph.namespaces import AIMS, EUAIA, ISO42001, NISTAIRMF, to_curie

G = catalogue_graph()


def of_type(cls) -> set[URIRef]:
    return set(G.subjects(RDF.type, cls))


def notations(cls) -> set[str]:
    return {str(G.value(s, SKOS.notation)) for s in of_type(cls)}


def title(entry: URIRef) -> str:
    return str(G.value(entry, RDFS.label))


# --- ISO/IEC 42001:2023 ------------------------------------------------------------------

CLAUSE_TITLES = {
    "4": "Context of the organization",
    "4.1": "Understanding the organization and its context",
    "4.2": "Understanding the needs and expectations of interested parties",
    "4.3": "Determining the scope of the AI management system",
    "4.4": "AI management system",
    "5": "Leadership", "5.1": "Leadership and commitment", "5.2": "AI policy",
    "5.3": "Roles, responsibilities and authorities",
    "6": "Planning", "6.1": "Actions to address risks and opportunities", "6.1.1": "General",
    "6.1.2": "AI risk assessment", "6.1.3": "AI risk treatment", "6.1.4": "AI system impact assessment",
    "6.2": "AI objectives and planning to achieve them", "6.3": "Planning of changes",
    "7": "Support", "7.1": "Resources", "7.2": "Competence", "7.3": "Awareness", "7.4": "Communication",
    "7.5": "Documented information", "7.5.1": "General",
    "7.5.2": "Creating and updating documented information", "7.5.3": "Control of documented information",
    "8": "Operation", "8.1": "Operational planning and control", "8.2": "AI risk assessment",
    "8.3": "AI risk treatment", "8.4": "AI system impact assessment",
    "9": "Performance evaluation", "9.1": "Monitoring, measurement, analysis and evaluation",
    "9.2": "Internal audit", "9.2.1": "General", "9.2.2": "Internal audit programme",
    "9.3": "Management review", "9.3.1": "General", "9.3.2": "Management review inputs",
    "9.3.3": "Management review results",
    "10": "Improvement", "10.1": "Continual improvement", "10.2": "Nonconformity and corrective action",
}

OBJECTIVE_TITLES = {
    "A.2": "Policies related to AI", "A.3": "Internal organization", "A.4": "Resources for AI systems",
    "A.5": "Assessing impacts of AI systems", "A.6": "AI system life cycle", "A.7": "Data for AI systems",
    "A.8": "Information for interested parties of AI systems", "A.9": "Use of AI systems",
    "A.10": "Third-party and customer relationships",
}

CONTROL_TITLES = {
    "A.2.2": "AI policy", "A.2.3": "Alignment with other organizational policies",
    "A.2.4": "Review of the AI policy",
    "A.3.2": "AI roles and responsibilities", "A.3.3": "Reporting of concerns",
    "A.4.2": "Resource documentation", "A.4.3": "Data resources", "A.4.4": "Tooling resources",
    "A.4.5": "System and computing resources", "A.4.6": "Human resources",
    "A.5.2": "AI system impact assessment process",
    "A.5.3": "Documentation of AI system impact assessments",
    "A.5.4": "Assessing AI system impact on individuals or groups of individuals",
    "A.5.5": "Assessing societal impacts of AI systems",
    "A.6.1.2": "Objectives for responsible development of AI system",
    "A.6.1.3": "Processes for responsible AI system design and development",
    "A.6.2.2": "AI system requirements and specification",
    "A.6.2.3": "Documentation of AI system design and development",
    "A.6.2.4": "AI system verification and validation", "A.6.2.5": "AI system deployment",
    "A.6.2.6": "AI system operation and monitoring", "A.6.2.7": "AI system technical documentation",
    "A.6.2.8": "AI system recording of event logs",
    "A.7.2": "Data for development and enhancement of AI system", "A.7.3": "Acquisition of data",
    "A.7.4": "Quality of data for AI systems", "A.7.5": "Data provenance", "A.7.6": "Data preparation",
    "A.8.2": "System documentation and information for users", "A.8.3": "External reporting",
    "A.8.4": "Communication of incidents", "A.8.5": "Information for interested parties",
    "A.9.2": "Processes for responsible use of AI systems",
    "A.9.3": "Objectives for responsible use of AI system", "A.9.4": "Intended use of the AI system",
    "A.10.2": "Allocating responsibilities", "A.10.3": "Suppliers", "A.10.4": "Customers",
}


def test_every_listed_clause_is_there_with_its_official_title():
    assert len(CLAUSE_TITLES) == 43
    assert {str(G.value(c, SKOS.notation)): title(c) for c in of_type(AIMS.Clause)} == CLAUSE_TITLES


def test_clauses_hang_from_their_parent_clause():
    for notation in CLAUSE_TITLES:
        parent = G.value(ISO42001[notation], SKOS.broader)
        if "." in notation:
            assert parent == ISO42001[notation.rsplit(".", 1)[0]]
        else:
            assert parent is None
            assert (ISO42001[notation], SKOS.topConceptOf, ISO42001.clauses) in G


def test_annex_a_has_38_controls_in_9_objectives_with_official_titles():
    controls = of_type(AIMS.AnnexAControl)
    assert len(controls) == 38
    assert {str(G.value(c, SKOS.notation)): title(c) for c in controls} == CONTROL_TITLES
    top = set(G.objects(ISO42001["annex-a"], SKOS.hasTopConcept)) | set(G.subjects(SKOS.topConceptOf, ISO42001["annex-a"]))
    assert {str(G.value(o, SKOS.notation)): title(o) for o in top} == OBJECTIVE_TITLES

    def objective_of(control: URIRef) -> str:
        node = control
        while node not in top:
            node = G.value(node, SKOS.broader)
        return str(G.value(node, SKOS.notation))

    per_objective = Counter(objective_of(c) for c in controls)
    assert per_objective == {"A.2": 3, "A.3": 2, "A.4": 5, "A.5": 4, "A.6": 9, "A.7": 5, "A.8": 4,
                             "A.9": 3, "A.10": 3}
    # A.6 is split into two sub-objectives in the standard
    assert {to_curie(str(s)) for s in G.subjects(SKOS.broader, ISO42001["A.6"])} == {"iso42001:A.6.1", "iso42001:A.6.2"}


ANNEX_C_OBJECTIVES = ["accountability", "ai-expertise", "availability-and-quality-of-training-and-test-data",
                      "environmental-impact", "fairness", "maintainability", "privacy", "robustness", "safety",
                      "security", "transparency-and-explainability"]
ANNEX_C_SOURCES = ["complexity-of-environment", "lack-of-transparency-and-explainability", "level-of-automation",
                   "machine-learning", "system-hardware", "system-life-cycle", "technology-readiness"]


def test_annex_c_lists_the_register_values():
    """The IRIs keep the register's words (iso42001:C.2-robustness); the notation is the standard's
    number (C.2.8), so a finding or report can cite it."""
    objectives = {str(s).rsplit("/C.2-", 1)[1] for s in of_type(AIMS.AnnexCObjective)}
    sources = {str(s).rsplit("/C.3-", 1)[1] for s in of_type(AIMS.RiskSource)}
    assert objectives == set(ANNEX_C_OBJECTIVES)
    assert sources == set(ANNEX_C_SOURCES)
    for prefix, names in (("C.2", ANNEX_C_OBJECTIVES), ("C.3", ANNEX_C_SOURCES)):
        for number, name in enumerate(names, 1):
            entry = ISO42001[f"{prefix}-{name}"]
            assert str(G.value(entry, SKOS.notation)) == f"{prefix}.{number}", entry
            assert str(G.value(entry, DCTERMS.source)) == f"ISO/IEC 42001:2023, Annex C, {prefix}.{number}", entry
    assert str(G.value(ISO42001["C.2-robustness"], SKOS.notation)) == "C.2.8"
    assert title(ISO42001["C.3-machine-learning"]) == "Risk sources related to machine learning"
    assert title(ISO42001["C.3-system-hardware"]) == "System hardware issues"


# --- EU AI Act ------------------------------------------------------------------------------

ANNEX_III_POINTS = {
    "1": {"1a", "1b", "1c"}, "2": {"2"}, "3": {"3a", "3b", "3c", "3d"}, "4": {"4a", "4b"},
    "5": {"5a", "5b", "5c", "5d"}, "6": {"6a", "6b", "6c", "6d", "6e"}, "7": {"7a", "7b", "7c", "7d"},
    "8": {"8a", "8b"},
}


def test_annex_iii_has_8_areas_with_all_their_points():
    areas = of_type(AIMS.AnnexIIIArea)
    assert {str(G.value(a, SKOS.notation)) for a in areas} == set(ANNEX_III_POINTS)
    points = {}
    for area in areas:
        number = str(G.value(area, SKOS.notation))
        children = {str(G.value(p, SKOS.notation)) for p in G.subjects(SKOS.broader, area)}
        points[number] = children or ({number} if (area, RDF.type, AIMS.AnnexIIIPoint) in G else set())
    assert points == ANNEX_III_POINTS
    assert notations(AIMS.AnnexIIIPoint) == set().union(*ANNEX_III_POINTS.values())
    assert {to_curie(str(p)) for p in of_type(AIMS.AnnexIIIPoint)} == {
        f"euaia:annex3-{n}" for n in set().union(*ANNEX_III_POINTS.values())}


def test_prohibited_practices_roles_and_categories():
    # (ba) and (bb) were inserted by Regulation (EU) 2026/1744 and exist only in the amended text
    assert notations(AIMS.ProhibitedPractice) == {*"abcdefgh", "ba", "bb"}
    for letter in [*"abcdefgh", "ba", "bb"]:
        assert G.value(EUAIA[f"art5-1{letter}"], SKOS.broader) == EUAIA.art5
        assert G.value(EUAIA[f"art5-1{letter}"], AIMS.appliesFrom) == Literal(
            "2026-12-02" if len(letter) == 2 else "2025-02-02", datatype=XSD.date)
    assert set(G.subjects(AIMS.introducedBy, EUAIA["text-amended"])) == {EUAIA["art5-1ba"], EUAIA["art5-1bb"]}
    assert notations(AIMS.OperatorRole) == {"provider", "deployer", "importer", "distributor",
                                            "authorised-representative", "product-manufacturer"}
    assert notations(AIMS.RiskCategory) == {"prohibited", "high-risk", "limited-risk", "minimal-risk"}


# Art 25 carries no obligation of its own: an operator Art 25(1) makes the provider gets the
# provider's duties through that role (rule eu-art25-provider).
OBLIGATION_ARTICLES = [4, 5, 6, *range(9, 21), 22, 23, 24, 26, 27, 43, 47, 48, 49, 50, 53, 55, 72, 73, 86]


def article_of(obligation: URIRef) -> URIRef:
    """The article an obligation comes from (its aims:article, or that paragraph's article)."""
    target = G.value(obligation, AIMS.article)
    return G.value(target, SKOS.broader) if (target, RDF.type, AIMS.ArticleParagraph) in G else target


def test_every_obligation_article_carries_an_obligation_linked_to_role_and_category():
    obligations = of_type(AIMS.Obligation)
    with_obligations = {article_of(o) for o in obligations}
    assert {EUAIA[f"art{n}"] for n in OBLIGATION_ARTICLES} <= with_obligations
    for o in obligations:
        assert set(G.objects(o, AIMS.bindsRole)) <= of_type(AIMS.OperatorRole) and G.value(o, AIMS.bindsRole)
        assert set(G.objects(o, AIMS.appliesToCategory)) <= of_type(AIMS.RiskCategory)
        assert G.value(o, AIMS.appliesToCategory) is not None, o


def test_deployer_and_provider_duties_for_high_risk_systems():
    def arts(role: str, with_condition: bool) -> set[str]:
        return {to_curie(str(G.value(o, AIMS.article))) for o in G.subjects(AIMS.bindsRole, EUAIA[role])
                if (o, AIMS.appliesToCategory, EUAIA["high-risk"]) in G
                and (G.value(o, AIMS.condition) is not None) == with_condition}

    # Art 86 binds only for Annex III systems other than point 2, Art 49 only for Annex III systems
    # (or a claimed Art 6(3) derogation): both carry a condition.
    assert arts("deployer", False) == {"euaia:art4", "euaia:art26"}
    assert arts("provider", False) == {f"euaia:art{n}" for n in [4, *range(9, 22), 43, 47, 48, 72, 73]}
    assert arts("deployer", True) >= {"euaia:art27", "euaia:art49-3", "euaia:art86"}
    assert arts("provider", True) >= {"euaia:art6", "euaia:art49"}


def d(text: str) -> Literal:
    return Literal(text, datatype=XSD.date)


def test_application_dates_follow_art_113():
    expected = {"art3": "2025-02-02", "art4": "2025-02-02", "art5": "2025-02-02",
                "art51": "2025-08-02", "art53": "2025-08-02", "art55": "2025-08-02", "art99": "2025-08-02",
                "art6": "2026-08-02", "art6-1": "2027-08-02", "art9": "2026-08-02", "art26": "2026-08-02",
                "art27": "2026-08-02", "art50": "2026-08-02", "art72": "2026-08-02", "art73": "2026-08-02",
                "art86": "2026-08-02", "art113": "2024-08-01"}
    assert {k: str(G.value(EUAIA[k], AIMS.appliesFrom)) for k in expected} == expected
    assert G.value(EUAIA.art6, AIMS.annexIProductObligationsApplyFrom) == d("2027-08-02")
    for o in of_type(AIMS.Obligation):
        if G.value(o, AIMS.bindsRole) == EUAIA["product-manufacturer"]:
            assert G.value(o, AIMS.appliesFrom) == d("2027-08-02"), o
        else:
            assert G.value(o, AIMS.appliesFrom) == G.value(G.value(o, AIMS.article), AIMS.appliesFrom), o


# --- NIST AI RMF 1.0 ------------------------------------------------------------------------

SUBCATEGORIES_PER_CATEGORY = {
    "GOVERN 1": 7, "GOVERN 2": 3, "GOVERN 3": 2, "GOVERN 4": 3, "GOVERN 5": 2, "GOVERN 6": 2,
    "MAP 1": 6, "MAP 2": 3, "MAP 3": 5, "MAP 4": 2, "MAP 5": 2,
    "MEASURE 1": 3, "MEASURE 2": 13, "MEASURE 3": 3, "MEASURE 4": 3,
    "MANAGE 1": 4, "MANAGE 2": 4, "MANAGE 3": 2, "MANAGE 4": 3,
}


def test_nist_ai_rmf_has_4_functions_19_categories_72_subcategories():
    assert notations(AIMS.NISTFunction) == {"GOVERN", "MAP", "MEASURE", "MANAGE"}
    assert notations(AIMS.NISTCategory) == set(SUBCATEGORIES_PER_CATEGORY)
    subcategories = of_type(AIMS.NISTSubcategory)
    assert len(subcategories) == 72
    per_category = Counter(str(G.value(G.value(s, SKOS.broader), SKOS.notation)) for s in subcategories)
    assert per_category == SUBCATEGORIES_PER_CATEGORY
    for s in subcategories:  # ids follow the register form nistairmf:<FUNCTION>-<n.n>
        function, number = str(G.value(s, SKOS.notation)).split(" ")
        assert s == NISTAIRMF[f"{function}-{number}"]


# --- every entry ------------------------------------------------------------------------------

def test_every_catalogue_entry_has_notation_label_summary_parent_and_scheme():
    entries = set(G.subjects(SKOS.inScheme, None))
    assert len(entries) > 300
    missing = [
        (to_curie(str(e)), what)
        for e in sorted(entries)
        for what, ok in (
            ("notation", G.value(e, SKOS.notation) is not None),
            ("label", G.value(e, RDFS.label) is not None),
            ("summary", G.value(e, SKOS.definition) is not None),
            ("parent", G.value(e, SKOS.broader) is not None or G.value(e, SKOS.topConceptOf) is not None),
            ("source", G.value(e, DCTERMS.source) is not None),
            ("concept", (e, RDF.type, SKOS.Concept) in G),
        )
        if not ok
    ]
    assert missing == []


def test_summaries_are_our_own_words_not_the_standards():
    """The review found A.3.3's and A.6.2.8's summaries too close to the standard's wording."""
    a33 = str(G.value(ISO42001["A.3.3"], SKOS.definition))
    a628 = str(G.value(ISO42001["A.6.2.8"], SKOS.definition))
    assert "role with respect to" not in a33 and "throughout their life cycle" not in a33
    assert "at minimum while" not in a628 and "should be switched on" not in a628
    assert len(a33.split()) >= 15 and len(a628.split()) >= 15
