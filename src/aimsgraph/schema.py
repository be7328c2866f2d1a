"""The register format (../shared/spec/register.md) as data: every section, key, type,
closed value list and reference, and the ontology term each key becomes.

`load.py` reads this table to check a register and to turn it into RDF; `docs/register.md`
and the tests follow it. A key that is not here is an unknown key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import URIRef

from .namespaces import AIMS, EUAIA, ISO42001, RDFS

FORMAT_ID = "aimsgraph-register/1"

# Reference targets: which section's ids a reference may name.
PERSON, PARTY, SYSTEM, CONTROL, EVIDENCE, NONCONFORMITY = (
    "person", "interested party", "AI system", "control", "evidence item", "nonconformity")

LIFECYCLE_STAGES = ("inception", "design-development", "verification-validation", "deployment",
                    "operation", "retirement")
OPERATOR_ROLES = ("provider", "deployer", "importer", "distributor", "authorised-representative",
                  "product-manufacturer")
CONTROL_STATUSES = ("implemented", "partial", "planned", "not-implemented")
TREATMENT_OPTIONS = ("mitigate", "avoid", "transfer", "accept")
# Art 73: what a serious incident did sets its reporting limit (10 days, 2 days, else 15).
INCIDENT_KINDS = ("death", "widespread-infringement", "critical-infrastructure", "other")
ANNEX_C_OBJECTIVES = ("accountability", "ai-expertise",
                      "availability-and-quality-of-training-and-test-data", "environmental-impact",
                      "fairness", "maintainability", "privacy", "robustness", "safety", "security",
                      "transparency-and-explainability")
RISK_SOURCES = ("complexity-of-environment", "lack-of-transparency-and-explainability",
                "level-of-automation", "machine-learning", "system-hardware", "system-life-cycle",
                "technology-readiness")
ANNEX_III_POINTS = ("1a", "1b", "1c", "2", "3a", "3b", "3c", "3d", "4a", "4b", "5a", "5b", "5c",
                    "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c", "7d", "8a", "8b")
# Art 5(1) points; (ba) and (bb) exist only in the text as amended by Regulation (EU) 2026/1744.
# Art 25(1) points: the register's words and the paragraph each one names.
BECOMES_PROVIDER = {"name-or-trademark": "art25-1a", "substantial-modification": "art25-1b",
                    "intended-purpose-change": "art25-1c"}
PROHIBITED_PRACTICES = (*"abcdefgh", "ba", "bb")

# What a system does (`ai_systems[].uses`): closed lists of descriptors, each value a concept of
# ontology/catalogues/use-descriptors.ttl (IRI USE_BASE + "<dimension>-<value>", aligned to VAIR
# where VAIR has a term). The EU AI Act classification is derived from them by conditions that are
# data in that catalogue (docs/classification.md).
USE_BASE = "https://w3id.org/aimsgraph/use/"
USE_DOMAINS = ("biometrics", "critical-infrastructure", "education", "employment", "public-services",
               "private-services", "health", "law-enforcement", "migration-asylum-border", "justice",
               "democratic-processes", "marketing", "media", "general")
USE_PURPOSES = (
    # Annex III and Art 5(1)
    "remote-identification", "categorising-by-protected-attributes", "inferring-special-categories",
    "recognising-emotions", "safety-component", "education-access-admission", "evaluating-learning-outcomes",
    "assessing-education-level", "monitoring-test-behaviour", "recruitment-selection",
    "work-relationship-decisions", "worker-monitoring", "public-assistance-eligibility", "creditworthiness",
    "life-health-insurance-pricing", "emergency-response", "victim-risk-assessment", "detecting-lies",
    "evidence-reliability", "offending-risk-assessment", "crime-detection-investigation", "crime-prediction",
    "migration-risk-assessment", "migration-application-examination", "person-identification",
    "legal-research-application", "influencing-elections", "behaviour-distortion", "social-scoring",
    "facial-database-building", "intimate-imagery-generation", "child-sexual-abuse-material",
    # carve-outs the Act names, and ordinary purposes
    "identity-verification", "travel-document-verification", "fraud-detection", "campaign-logistics",
    "medical-or-safety", "other-insurance-pricing", "scheduling", "customer-support", "recommendation",
    "content-generation", "forecasting", "translation", "document-processing", "quality-control")
USE_CAPABILITIES = ("biometric-identification", "real-time-remote-biometric-identification",
                    "biometric-categorisation", "sensitive-attribute-inference", "emotion-recognition",
                    "face-recognition", "lie-detection", "profiling", "subliminal-techniques",
                    "vulnerability-exploitation", "web-scraping", "image-video-audio-generation",
                    "natural-language-generation", "recommender", "prediction")
USE_SUBJECTS = ("natural-persons", "children", "vulnerable-persons", "persons-with-disabilities", "students",
                "job-applicants", "employees", "public-service-applicants", "migrants", "voters", "groups",
                "customers")
USE_CONTEXTS = ("public-authority", "law-enforcement-authority", "judicial-authority", "eu-institution",
                "educational-institution", "workplace", "publicly-accessible-space", "emergency-service",
                "private-company")
TOP_MANAGEMENT = "top-management"
AI_POLICY_KIND = "ai-policy"


@dataclass(frozen=True)
class Key:
    """One key of an entry.

    kind: str | text-list | int | bool | date | enum | enum-list | ref | ref-list | curie-list | map
          | map-list (a list of mappings, each a node `<subject><suffix><n>`, n counting from 1)
          | annex-i (text; a point or act number of Annex I also links the catalogue entry)
    prop: the RDF property the value becomes (None: handled by the builder itself)
    values: closed value list (enum kinds); iri: namespace the enum value is appended to
    target: referenced section (ref kinds); lo/hi: bounds (int)
    """

    kind: str
    prop: URIRef | None = None
    required: bool = False
    values: tuple[str, ...] = ()
    iri: str | None = None
    target: str | None = None
    lo: int | None = None
    hi: int | None = None
    keys: dict[str, "Key"] = field(default_factory=dict)  # kind == map
    cls: URIRef | None = None  # kind == map: class of the nested node
    suffix: str = ""  # kind == map: IRI suffix of the nested node
    default: object = None
    names: dict[str, str] = field(default_factory=dict)  # enum value -> IRI local name, where they differ


def _s(prop=None, required=False):
    return Key("str", prop, required)


def _d(prop=None, required=False):
    return Key("date", prop, required)


def _b(prop=None, default=None):
    return Key("bool", prop, default=default)


def _use(dimension: str, values: tuple[str, ...], prop, many: bool, required: bool = False):
    return Key("enum-list" if many else "enum", prop, required, values=values, iri=f"{USE_BASE}{dimension}-")


# One use of a system: what it is applied to, for what, with which capability, on whom, where.
USE = Key("map-list", AIMS.hasUse, cls=AIMS.AIUse, suffix="/use-", keys={
    "domain": _use("domain", USE_DOMAINS, AIMS.useDomain, False),
    "purpose": _use("purpose", USE_PURPOSES, AIMS.usePurpose, False, required=True),
    "capabilities": _use("capability", USE_CAPABILITIES, AIMS.useCapability, True),
    "subjects": _use("subject", USE_SUBJECTS, AIMS.useSubject, True),
    "context": _use("context", USE_CONTEXTS, AIMS.useContext, True),
    "description": Key("str", AIMS.description),
})


def _ref(target, prop, required=False):
    return Key("ref", prop, required, target=target)


def _refs(target, prop):
    return Key("ref-list", prop, target=target)


def _score(prop, required=False):
    return Key("int", prop, required, lo=1, hi=5)


ID = Key("id", None, True)

EU_AI_ACT = Key("map", AIMS.hasEUAIActProfile, cls=AIMS.EUAIActProfile, suffix="/eu-ai-act", keys={
    "roles": Key("enum-list", AIMS.operatorRole, values=OPERATOR_ROLES, iri=str(EUAIA)),
    "annex_iii": Key("enum", AIMS.annexIIIPoint, values=ANNEX_III_POINTS, iri=str(EUAIA) + "annex3-"),
    # free text; a point number (1-21) or act number (2017/745) also names the Annex I entry
    "annex_i_product": Key("annex-i", AIMS.annexIProduct),
    "art6_3_derogation": _b(AIMS.claimsArt6Derogation),
    "profiling": _b(AIMS.profilesNaturalPersons),
    "prohibited_practice": Key("enum", AIMS.prohibitedPractice, values=PROHIBITED_PRACTICES,
                               iri=str(EUAIA) + "art5-1"),
    "interacts_with_people": _b(AIMS.interactsWithPeople),
    "synthetic_content": _b(AIMS.generatesSyntheticContent),
    "deep_fake_or_public_text": _b(AIMS.publishesDeepFakeOrPublicText),
    "emotion_or_biometric_categorisation": _b(AIMS.emotionOrBiometricCategorisation),
    "gpai": _b(AIMS.isGeneralPurposeAIModel),
    "becomes_provider": Key("enum-list", AIMS.becomesProviderBy, values=tuple(BECOMES_PROVIDER), iri=str(EUAIA),
                            names=BECOMES_PROVIDER),
})

TREATMENT = Key("map", AIMS.hasTreatment, cls=AIMS.RiskTreatment, suffix="/treatment", keys={
    "option": Key("enum", AIMS.treatmentOption, True, values=TREATMENT_OPTIONS, iri=str(AIMS) + "option-"),
    "controls": _refs(CONTROL, AIMS.usesControl),
    "owner": _ref(PERSON, AIMS.owner),
    "residual_likelihood": _score(AIMS.residualLikelihood),
    "residual_impact": _score(AIMS.residualImpact),
    "accepted_by": _ref(PERSON, AIMS.acceptedBy),
})

CORRECTIVE_ACTION = Key("map", AIMS.hasCorrectiveAction, cls=AIMS.CorrectiveAction,
                        suffix="/corrective-action", keys={
    "description": _s(AIMS.description, True),
    "due": _d(AIMS.due),
    "completed_on": _d(AIMS.completedOn),
})


@dataclass(frozen=True)
class Section:
    """A top-level key of the register: a list of entries, or one mapping."""

    name: str
    cls: URIRef | None
    keys: dict[str, Key]
    is_list: bool = True
    target: str | None = None  # the reference kind its ids answer to


SECTIONS: dict[str, Section] = {s.name: s for s in [
    Section("organization", AIMS.Organization, {
        "id": ID, "name": _s(RDFS.label, True),
        "jurisdictions": Key("text-list", AIMS.jurisdiction),
        "public_body": _b(AIMS.isPublicBody, default=False),
        "base_iri": _s(),  # added to the spec: where minted IRIs live
    }, is_list=False),
    Section("aims", AIMS.AIManagementSystem, {
        "scope": _s(AIMS.scopeStatement),
        "scope_approved_on": _d(AIMS.scopeApprovedOn),
        # added to the spec: the Statement of Applicability's own version and approval (6.1.3 d)
        "soa_version": _s(AIMS.soaVersion),
        "soa_approved_by": _ref(PERSON, AIMS.soaApprovedBy),
        "soa_approved_on": _d(AIMS.soaApprovedOn),
        "internal_issues": Key("text-list", AIMS.internalIssue),
        "external_issues": Key("text-list", AIMS.externalIssue),
        "interested_parties": Key("list", None),  # its own section, below
    }, is_list=False),
    Section("interested_parties", AIMS.InterestedParty, {
        "id": ID, "name": _s(RDFS.label, True), "needs": _s(AIMS.needs),
    }, target=PARTY),
    Section("people", AIMS.Person, {
        "id": ID, "name": _s(RDFS.label, True), "role": _s(AIMS.roleTitle),
    }, target=PERSON),
    Section("policies", AIMS.Policy, {
        "id": ID, "kind": _s(AIMS.policyKind, True), "title": _s(RDFS.label, True),
        "approved_by": _ref(PERSON, AIMS.approvedBy), "approved_on": _d(AIMS.approvedOn),
        "next_review": _d(AIMS.nextReview),
    }),
    Section("risk_criteria", None, {
        "appetite": Key("int", AIMS.riskAppetite, True, lo=1, hi=25),
    }, is_list=False),
    Section("objectives", AIMS.Objective, {
        "id": ID, "title": _s(RDFS.label, True),
        "annex_c": Key("enum", AIMS.annexCObjective, values=ANNEX_C_OBJECTIVES, iri=str(ISO42001) + "C.2-"),
        "metric": _s(AIMS.metric), "target": _s(AIMS.target), "owner": _ref(PERSON, AIMS.owner),
        "due": _d(AIMS.due),
    }),
    Section("ai_systems", AIMS.AISystem, {
        "id": ID, "name": _s(RDFS.label, True), "purpose": _s(AIMS.purpose),
        "lifecycle_stage": Key("enum", AIMS.lifecycleStage, values=LIFECYCLE_STAGES, iri=str(AIMS) + "lifecycle-"),
        "owner": _ref(PERSON, AIMS.owner),
        "in_scope": _b(AIMS.inScope, default=True),
        "part_of": _ref(SYSTEM, AIMS.partOf),
        "suppliers": Key("text-list", AIMS.supplier),
        "eu_ai_act": EU_AI_ACT,
        "uses": USE,
    }, target=SYSTEM),
    Section("impact_assessments", AIMS.ImpactAssessment, {
        "id": ID, "ai_system": _ref(SYSTEM, AIMS.assessesSystem, True), "date": _d(AIMS.date, True),
        "affected": _refs(PARTY, AIMS.affects),
        "individual_impacts": _b(AIMS.coversIndividualImpacts, default=False),
        "societal_impacts": _b(AIMS.coversSocietalImpacts, default=False),
        "approved_by": _ref(PERSON, AIMS.approvedBy), "next_review": _d(AIMS.nextReview),
        "fria": _b(AIMS.servesAsFRIA, default=False),
    }),
    Section("risks", AIMS.Risk, {
        "id": ID, "title": _s(RDFS.label, True), "ai_system": _ref(SYSTEM, AIMS.riskOfSystem, True),
        "risk_source": Key("enum", AIMS.riskSource, values=RISK_SOURCES, iri=str(ISO42001) + "C.3-"),
        "affects": _refs(PARTY, AIMS.affects),
        "likelihood": _score(AIMS.likelihood, True), "impact": _score(AIMS.impact, True),
        "assessed_on": _d(AIMS.assessedOn),
        "treatment": TREATMENT,
    }),
    Section("controls", AIMS.SoAEntry, {
        "id": ID, "title": _s(RDFS.label),
        "applicable": Key("bool", AIMS.applicable, True),
        "justification": _s(AIMS.justification),
        "status": Key("enum", AIMS.implementationStatus, values=CONTROL_STATUSES, iri=str(AIMS) + "status-"),
        "owner": _ref(PERSON, AIMS.owner),
        "evidence": _refs(EVIDENCE, AIMS.hasEvidence),
        "maps_to": Key("curie-list", AIMS.mapsTo),
    }, target=CONTROL),
    Section("evidence", AIMS.Evidence, {
        "id": ID, "title": _s(RDFS.label, True), "kind": _s(AIMS.evidenceKind),
        "date": _d(AIMS.date), "valid_until": _d(AIMS.validUntil), "location": _s(AIMS.location),
        "produced_by": _ref(PERSON, AIMS.producedBy),
    }, target=EVIDENCE),
    Section("audits", AIMS.InternalAudit, {
        "id": ID, "date": _d(AIMS.date, True), "scope": Key("curie-list", AIMS.auditScope),
        "auditor": _s(AIMS.auditor), "independent": _b(AIMS.independent),
        "findings": _refs(NONCONFORMITY, AIMS.raisedNonconformity),
    }),
    Section("management_reviews", AIMS.ManagementReview, {
        "id": ID, "date": _d(AIMS.date, True), "attendees": _refs(PERSON, AIMS.attendee),
        "decisions": Key("text-list", AIMS.decision),
    }),
    Section("nonconformities", AIMS.Nonconformity, {
        "id": ID, "title": _s(RDFS.label, True), "raised_on": _d(AIMS.raisedOn),
        "refs": Key("curie-list", AIMS.concerns), "root_cause": _s(AIMS.rootCause),
        "corrective_action": CORRECTIVE_ACTION,
    }, target=NONCONFORMITY),
    Section("incidents", AIMS.Incident, {
        "id": ID, "ai_system": _ref(SYSTEM, AIMS.incidentOfSystem, True), "date": _d(AIMS.date, True),
        "serious": _b(AIMS.serious, default=False),
        "aware_on": _d(AIMS.awareOn),  # when the organisation learnt of it; Art 73 counts from here (default: date)
        "kind": Key("enum", AIMS.incidentKind, values=INCIDENT_KINDS, iri=str(AIMS) + "incident-", default="other"),
        "reported_to_authority_on": _d(AIMS.reportedToAuthorityOn),
    }),
    Section("training", AIMS.TrainingRecord, {
        "id": ID, "topic": _s(RDFS.label, True), "date": _d(AIMS.date, True),
        "attendees": _refs(PERSON, AIMS.attendee),
    }),
]}

# Order of top-level keys in a register; `format` is checked on its own.
TOP_LEVEL = ("format",) + tuple(n for n in SECTIONS if n != "interested_parties")
