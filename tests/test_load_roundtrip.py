"""Register -> RDF -> SPARQL round trip: every entity of a register comes back out of the store
with its fields, for the YAML FinSecure example and the CSV example (examples/csv-minimal/).

Values are read back with SPARQL through `Store.query` (the product's only way in) and compared
with values written out by hand from the register files."""

import csv
from pathlib import Path

import pytest
import yaml
from rdflib import Literal, URIRef

from aimsgraph.load import load_input
from aimsgraph.namespaces import AIMS, PREFIXES
from aimsgraph.schema import SECTIONS
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CSV_EXAMPLE = ROOT / "examples" / "csv-minimal"
FINSECURE_BASE = "https://w3id.org/aimsgraph/data/finsecure/"
KITTIWAKE_BASE = "https://data.kittiwake.example/aims/"

# The store's default graph is the union of its graphs; only the data graph has register ids,
# and nothing is reasoned here, so no GRAPH clause is needed.
FIELDS = "SELECT ?p ?o ?cls ?id WHERE { ?s a ?cls ; aims:registerId ?id ; ?p ?o }"
NESTED_FIELDS = "SELECT ?p ?o ?cls ?id ?ncls WHERE { ?s a ?cls ; aims:registerId ?id ; ?link ?n . ?n a ?ncls ; ?p ?o }"
AIMS_FIELDS = "SELECT ?p ?o WHERE { ?org a aims:Organization ; aims:hasManagementSystem ?s . ?s ?p ?o }"
ALL_IDS = "SELECT DISTINCT ?id WHERE { ?s aims:registerId ?id }"


def show(term, base: str) -> str:
    """A term as short text: data IRIs as `data:<id>`, known namespaces as CURIEs, typed
    literals as `value^^xsd:type` (plain strings as themselves)."""
    if isinstance(term, URIRef):
        if term.startswith(base):
            return "data:" + term[len(base):]
        for prefix, ns in PREFIXES.items():
            if term.startswith(ns):
                return f"{prefix}:{term[len(ns):]}"
        return str(term)
    assert isinstance(term, Literal)
    if term.datatype is None or str(term.datatype).endswith("#string"):
        return str(term)
    return f"{term}^^{show(term.datatype, base)}"


def collect(rows, base: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(show(row["p"], base), []).append(show(row["o"], base))
    return {k: sorted(v) for k, v in sorted(out.items())}


class Loaded:
    def __init__(self, path: Path, base: str):
        self.store = open_store()
        load_input(self.store, path)
        self.base = base

    def _run(self, query: str, **bindings) -> dict[str, list[str]]:
        bound = {k: v if isinstance(v, URIRef) else AIMS[v] if k == "cls" else Literal(v) for k, v in bindings.items()}
        return collect(self.store.query(query, bound).rows, self.base)

    def fields(self, cls: str, ident: str) -> dict[str, list[str]]:
        return self._run(FIELDS, cls=cls, id=ident)

    def nested(self, cls: str, ident: str, nested_cls: str) -> dict[str, list[str]]:
        """Fields of the node of class `nested_cls` hanging off entry `ident` (treatment, EU AI Act
        profile, corrective action)."""
        return self._run(NESTED_FIELDS, cls=cls, id=ident, ncls=AIMS[nested_cls])

    def aims(self) -> dict[str, list[str]]:
        return self._run(AIMS_FIELDS)

    def ids(self) -> set[str]:
        return {str(r["id"]) for r in self.store.query(ALL_IDS).rows}


@pytest.fixture(scope="module")
def finsecure() -> Loaded:
    return Loaded(FINSECURE, FINSECURE_BASE)


@pytest.fixture(scope="module")
def kittiwake() -> Loaded:
    return Loaded(CSV_EXAMPLE, KITTIWAKE_BASE)


def yaml_entries(path: Path) -> set[tuple[str, str]]:
    """(id, section) of every entry of a YAML register, read with plain PyYAML."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {(raw["organization"]["id"], "organization")}
    out |= {(p["id"], "interested_parties") for p in raw["aims"]["interested_parties"]}
    for section, value in raw.items():
        if isinstance(value, list):
            out |= {(e["id"], section) for e in value}
    return out


def csv_entries(folder: Path) -> set[tuple[str, str]]:
    """(id, table) of every row of a CSV register, read with the csv module."""
    out = set()
    for path in folder.glob("*.csv"):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            out |= {(row["id"], path.stem) for row in csv.DictReader(fh) if "id" in row}
    return out


def entity_classes(loaded: Loaded) -> set[tuple[str, str]]:
    rows = loaded.store.query("SELECT ?id ?cls WHERE { ?s aims:registerId ?id ; a ?cls }").rows
    return {(str(r["id"]), str(r["cls"])) for r in rows}


@pytest.mark.parametrize("which", ["finsecure", "kittiwake"])
def test_every_register_id_comes_back_with_its_section_class(which, request):
    loaded = request.getfixturevalue(which)
    source = yaml_entries(FINSECURE) if which == "finsecure" else csv_entries(CSV_EXAMPLE)
    assert len(source) == (121 if which == "finsecure" else 66)
    assert loaded.ids() == {ident for ident, _ in source}
    expected = {(ident, str(SECTIONS[section].cls)) for ident, section in source}
    assert expected <= entity_classes(loaded)


def test_finsecure_organization_and_aims(finsecure):
    assert finsecure.fields("Organization", "finsecure") == {
        "aims:hasManagementSystem": ["data:_aims"], "aims:isPublicBody": ["false^^xsd:boolean"],
        "aims:jurisdiction": ["DE", "EU"], "aims:registerId": ["finsecure"], "rdf:type": ["aims:Organization"],
        "rdfs:label": ["FinSecure Bank AG"]}
    aims = finsecure.aims()
    assert aims["aims:riskAppetite"] == ["9^^xsd:integer"]
    assert aims["aims:scopeApprovedOn"] == ["2025-02-03^^xsd:date"]
    assert aims["aims:hasInterestedParty"] == [
        "data:bafin", "data:customers", "data:data-protection-authority", "data:employees", "data:general-public",
        "data:loan-applicants", "data:shareholders", "data:works-council"]
    assert len(aims["aims:internalIssue"]) == 4 and len(aims["aims:externalIssue"]) == 5
    assert aims["aims:scopeStatement"][0].startswith("Design, development, validation, deployment, operation and")
    assert aims["aims:scopeStatement"][0].endswith("not used in customer-facing processes.")


def test_finsecure_people_parties_policies_objectives(finsecure):
    assert finsecure.fields("Person", "ceo") == {
        "aims:inOrganization": ["data:finsecure"], "aims:registerId": ["ceo"], "aims:roleTitle": ["top-management"],
        "rdf:type": ["aims:Person", "aims:TopManagement"], "rdfs:label": ["Dr. Katharina Brandt"]}
    assert finsecure.fields("Person", "cro")["rdf:type"] == ["aims:Person"]  # free-text role, not top management
    assert finsecure.fields("InterestedParty", "bafin")["rdfs:label"] == ["Federal Financial Supervisory Authority (BaFin)"]
    assert finsecure.fields("Policy", "POL-AI-01") == {
        "aims:approvedBy": ["data:ceo"], "aims:approvedOn": ["2025-03-18^^xsd:date"],
        "aims:inOrganization": ["data:finsecure"], "aims:nextReview": ["2026-03-18^^xsd:date"],
        "aims:policyKind": ["ai-policy"], "aims:registerId": ["POL-AI-01"], "rdf:type": ["aims:AIPolicy", "aims:Policy"],
        "rdfs:label": ["FinSecure AI Policy v2.1"]}
    assert finsecure.fields("Objective", "OBJ-03") == {
        "aims:annexCObjective": ["iso42001:C.2-robustness"], "aims:due": ["2026-06-30^^xsd:date"],
        "aims:inOrganization": ["data:finsecure"],
        "aims:metric": ["False-positive rate on card and SEPA instant transactions at the production threshold"],
        "aims:owner": ["data:head-fraud"], "aims:registerId": ["OBJ-03"],
        "aims:target": ["<= 0.5 % at a fraud recall of at least 92 %"], "rdf:type": ["aims:Objective"],
        "rdfs:label": ["Robust fraud detection without blocking legitimate payments"]}


def test_finsecure_systems_and_eu_ai_act_profile(finsecure):
    features = finsecure.fields("AISystem", "credit-scorer-features")
    assert {k: v for k, v in features.items() if k != "aims:purpose"} == {
        "aims:inOrganization": ["data:finsecure"], "aims:inScope": ["true^^xsd:boolean"],
        "aims:lifecycleStage": ["aims:lifecycle-operation"], "aims:owner": ["data:head-ds"],
        "aims:partOf": ["data:credit-scorer"], "aims:registerId": ["credit-scorer-features"],
        "rdf:type": ["aims:AISystem"], "rdfs:label": ["Credit feature engineering pipeline"]}
    assert finsecure.nested("AISystem", "support-chatbot", "EUAIActProfile") == {
        "aims:claimsArt6Derogation": ["false^^xsd:boolean"], "aims:emotionOrBiometricCategorisation": ["false^^xsd:boolean"],
        "aims:generatesSyntheticContent": ["true^^xsd:boolean"], "aims:interactsWithPeople": ["true^^xsd:boolean"],
        "aims:isGeneralPurposeAIModel": ["false^^xsd:boolean"], "aims:operatorRole": ["euaia:deployer", "euaia:provider"],
        "aims:profilesNaturalPersons": ["false^^xsd:boolean"], "rdf:type": ["aims:EUAIActProfile"]}
    assert finsecure.nested("AISystem", "credit-scorer", "EUAIActProfile")["aims:annexIIIPoint"] == ["euaia:annex3-5b"]


def test_finsecure_assessments_risks_and_treatment(finsecure):
    assert finsecure.fields("ImpactAssessment", "IA-CS-2025") == {
        "aims:affects": ["data:customers", "data:general-public", "data:loan-applicants"],
        "aims:approvedBy": ["data:cro"], "aims:assessesSystem": ["data:credit-scorer"],
        "aims:coversIndividualImpacts": ["true^^xsd:boolean"], "aims:coversSocietalImpacts": ["true^^xsd:boolean"],
        "aims:date": ["2025-05-20^^xsd:date"], "aims:inOrganization": ["data:finsecure"],
        "aims:nextReview": ["2026-05-20^^xsd:date"], "aims:registerId": ["IA-CS-2025"],
        "aims:servesAsFRIA": ["true^^xsd:boolean"], "rdf:type": ["aims:ImpactAssessment"]}
    risk = finsecure.fields("Risk", "R-CS-01")
    assert {k: risk[k] for k in ("aims:affects", "aims:assessedOn", "aims:impact", "aims:likelihood",
                                 "aims:riskOfSystem", "aims:riskSource", "aims:hasTreatment")} == {
        "aims:affects": ["data:general-public", "data:loan-applicants"], "aims:assessedOn": ["2025-04-24^^xsd:date"],
        "aims:impact": ["5^^xsd:integer"], "aims:likelihood": ["4^^xsd:integer"],
        "aims:riskOfSystem": ["data:credit-scorer"], "aims:riskSource": ["iso42001:C.3-machine-learning"],
        "aims:hasTreatment": ["data:R-CS-01/treatment"]}
    assert finsecure.nested("Risk", "R-CS-01", "RiskTreatment") == {
        "aims:owner": ["data:head-ds"], "aims:residualImpact": ["4^^xsd:integer"],
        "aims:residualLikelihood": ["2^^xsd:integer"], "aims:treatmentOption": ["aims:option-mitigate"],
        "aims:usesControl": ["data:FS-FAIR-01", "data:FS-HITL-01", "iso42001:A.6.2.4", "iso42001:A.7.4",
                             "iso42001:A.7.6"],
        "rdf:type": ["aims:RiskTreatment"]}


def test_finsecure_statement_of_applicability_and_evidence(finsecure):
    excluded = finsecure.fields("SoAEntry", "A.7.3")
    assert excluded["aims:applicable"] == ["false^^xsd:boolean"]
    assert excluded["aims:forControl"] == ["iso42001:A.7.3"]
    assert excluded["aims:justification"][0].startswith("FinSecure acquires no data from third parties")
    assert finsecure.fields("SoAEntry", "FS-HITL-01") == {
        "aims:applicable": ["true^^xsd:boolean"], "aims:forControl": ["data:FS-HITL-01"],
        "aims:hasEvidence": ["data:EV-24"], "aims:implementationStatus": ["aims:status-implemented"],
        "aims:inOrganization": ["data:finsecure"], "aims:mapsTo": ["euaia:art14"], "aims:owner": ["data:head-lending"],
        "aims:registerId": ["FS-HITL-01"], "rdf:type": ["aims:SoAEntry"],
        "rdfs:label": ["Human review of declined consumer loan applications by a credit officer"]}
    assert finsecure.fields("OrganisationControl", "FS-HITL-01") == {
        "aims:registerId": ["FS-HITL-01"], "rdf:type": ["aims:OrganisationControl"],
        "rdfs:label": ["Human review of declined consumer loan applications by a credit officer"]}
    assert finsecure.fields("Evidence", "EV-16") == {
        "aims:date": ["2025-06-30^^xsd:date"], "aims:evidenceKind": ["report"], "aims:inOrganization": ["data:finsecure"],
        "aims:location": ["dms://finsecure/datascience/credit-scorer/bias-analysis-v3.2.pdf"],
        "aims:producedBy": ["data:head-ds"], "aims:registerId": ["EV-16"], "aims:validUntil": ["2025-12-31^^xsd:date"],
        "rdf:type": ["aims:Evidence"],
        "rdfs:label": ["Training data representativeness and bias analysis: credit-scorer v3.2"]}


def test_finsecure_audits_reviews_nonconformities_incidents_training(finsecure):
    audit = finsecure.fields("InternalAudit", "AUD-2025-01")
    assert audit["aims:auditScope"] == [
        "iso42001:6.1.2", "iso42001:6.1.3", "iso42001:7.2", "iso42001:8.2", "iso42001:8.4", "iso42001:A.10",
        "iso42001:A.5", "iso42001:A.6", "iso42001:A.7"]
    assert audit["aims:raisedNonconformity"] == ["data:NC-2025-02", "data:NC-2025-04"]
    assert audit["aims:independent"] == ["true^^xsd:boolean"]
    review = finsecure.fields("ManagementReview", "MR-2025-02")
    assert review["aims:date"] == ["2025-12-09^^xsd:date"]
    assert "Justification for excluding A.7.3 from the SoA confirmed" in review["aims:decision"]
    assert len(review["aims:attendee"]) == 9
    nc = finsecure.fields("Nonconformity", "NC-2025-01")
    assert nc["aims:concerns"] == ["iso42001:8.4", "iso42001:A.5.4", "iso42001:A.7.4"]
    assert nc["aims:raisedOn"] == ["2025-04-22^^xsd:date"]
    action = finsecure.nested("Nonconformity", "NC-2025-01", "CorrectiveAction")
    assert action["aims:due"] == ["2025-09-30^^xsd:date"] and action["aims:completedOn"] == ["2025-09-26^^xsd:date"]
    assert finsecure.fields("Incident", "INC-2025-01") == {
        "aims:awareOn": ["2025-07-15^^xsd:date"], "aims:incidentKind": ["aims:incident-other"],
        "aims:date": ["2025-07-14^^xsd:date"], "aims:inOrganization": ["data:finsecure"],
        "aims:incidentOfSystem": ["data:credit-scorer"], "aims:registerId": ["INC-2025-01"],
        "aims:reportedToAuthorityOn": ["2025-07-22^^xsd:date"], "aims:serious": ["true^^xsd:boolean"],
        "rdf:type": ["aims:Incident"]}
    assert finsecure.fields("TrainingRecord", "TR-2025-02") == {
        "aims:attendee": ["data:aims-lead", "data:cro", "data:dpo", "data:head-cs", "data:head-lending"],
        "aims:date": ["2025-04-15^^xsd:date"], "aims:inOrganization": ["data:finsecure"],
        "aims:registerId": ["TR-2025-02"], "rdf:type": ["aims:TrainingRecord"],
        "rdfs:label": ["AI impact assessment and fundamental rights impact assessment (FRIA) method"]}


def test_csv_organization_aims_and_people(kittiwake):
    assert kittiwake.fields("Organization", "kittiwake") == {
        "aims:hasManagementSystem": ["data:_aims"], "aims:isPublicBody": ["false^^xsd:boolean"],
        "aims:jurisdiction": ["EU", "IE"], "aims:registerId": ["kittiwake"], "rdf:type": ["aims:Organization"],
        "rdfs:label": ["Kittiwake Travel Ltd"]}
    assert kittiwake.aims() == {
        "aims:externalIssue": ["Package travel rules fix what travellers must be told about refunds",
                               "The assistant runs on a third-party language model"],
        "aims:hasInterestedParty": ["data:kt-staff", "data:travellers"],
        "aims:internalIssue": ["Customer service team of 12, and the assistant answers first-line questions"],
        "aims:riskAppetite": ["8^^xsd:integer"], "aims:scopeApprovedOn": ["2025-02-03^^xsd:date"],
        "aims:scopeStatement": ["The trip-assistant chat service on kittiwake.example and the people, data and "
                                "suppliers behind it"],
        "rdf:type": ["aims:AIManagementSystem"]}
    assert kittiwake.fields("Person", "kt-cto") == {
        "aims:inOrganization": ["data:kittiwake"], "aims:registerId": ["kt-cto"], "aims:roleTitle": ["Head of Technology"],
        "rdf:type": ["aims:Person"], "rdfs:label": ["Tomás Byrne"]}
    assert kittiwake.fields("InterestedParty", "kt-staff")["aims:needs"] == ["Clear hand-over from the assistant to a person"]
    assert kittiwake.fields("Policy", "KT-POL-AI")["rdf:type"] == ["aims:AIPolicy", "aims:Policy"]
    assert kittiwake.fields("Objective", "KT-OBJ-1")["aims:annexCObjective"] == ["iso42001:C.2-transparency-and-explainability"]


def test_csv_system_with_nested_columns_and_defaults(kittiwake):
    assert kittiwake.fields("AISystem", "trip-assistant") == {
        "aims:hasEUAIActProfile": ["data:trip-assistant/eu-ai-act"], "aims:inOrganization": ["data:kittiwake"],
        "aims:inScope": ["true^^xsd:boolean"],  # empty cell: the default
        "aims:lifecycleStage": ["aims:lifecycle-operation"], "aims:owner": ["data:kt-cto"],
        "aims:purpose": ["Answers travellers' questions about bookings in the website chat and hands over to staff"],
        "aims:registerId": ["trip-assistant"], "aims:supplier": ["nimbus-llm"], "rdf:type": ["aims:AISystem"],
        "rdfs:label": ["Trip assistant"]}
    # eu_ai_act.* columns, with `provider;deployer` as a list
    assert kittiwake.nested("AISystem", "trip-assistant", "EUAIActProfile") == {
        "aims:generatesSyntheticContent": ["true^^xsd:boolean"], "aims:interactsWithPeople": ["true^^xsd:boolean"],
        "aims:operatorRole": ["euaia:deployer", "euaia:provider"], "rdf:type": ["aims:EUAIActProfile"]}
    assert kittiwake.fields("AISystem", "fare-forecaster")["aims:inScope"] == ["false^^xsd:boolean"]
    assert "aims:hasEUAIActProfile" not in kittiwake.fields("AISystem", "fare-forecaster")


def test_csv_risks_treatments_controls_evidence(kittiwake):
    assert kittiwake.fields("ImpactAssessment", "KT-IA-1")["aims:affects"] == ["data:kt-staff", "data:travellers"]
    assert kittiwake.fields("Risk", "KT-R-2") == {
        "aims:affects": ["data:travellers"], "aims:assessedOn": ["2025-03-10^^xsd:date"],
        "aims:hasTreatment": ["data:KT-R-2/treatment"], "aims:impact": ["4^^xsd:integer"],
        "aims:inOrganization": ["data:kittiwake"], "aims:likelihood": ["2^^xsd:integer"], "aims:registerId": ["KT-R-2"],
        "aims:riskOfSystem": ["data:trip-assistant"],
        "aims:riskSource": ["iso42001:C.3-lack-of-transparency-and-explainability"], "rdf:type": ["aims:Risk"],
        "rdfs:label": ["A prompt makes the assistant reveal another traveller's booking reference"]}
    assert kittiwake.nested("Risk", "KT-R-1", "RiskTreatment") == {
        "aims:owner": ["data:kt-cs"], "aims:residualImpact": ["3^^xsd:integer"],
        "aims:residualLikelihood": ["2^^xsd:integer"], "aims:treatmentOption": ["aims:option-mitigate"],
        "aims:usesControl": ["data:KT-DISCLOSE", "iso42001:A.6.2.4"], "rdf:type": ["aims:RiskTreatment"]}
    assert kittiwake.nested("Risk", "KT-R-2", "RiskTreatment") == {
        "aims:acceptedBy": ["data:kt-ceo"], "aims:owner": ["data:kt-cto"],
        "aims:treatmentOption": ["aims:option-accept"], "rdf:type": ["aims:RiskTreatment"]}
    assert kittiwake.fields("SoAEntry", "KT-DISCLOSE") == {
        "aims:applicable": ["true^^xsd:boolean"], "aims:forControl": ["data:KT-DISCLOSE"],
        "aims:hasEvidence": ["data:EV-USER"], "aims:implementationStatus": ["aims:status-implemented"],
        "aims:inOrganization": ["data:kittiwake"], "aims:mapsTo": ["euaia:art50-1", "nistairmf:GOVERN-4.2"],
        "aims:owner": ["data:kt-cs"], "aims:registerId": ["KT-DISCLOSE"], "rdf:type": ["aims:SoAEntry"],
        "rdfs:label": ["Every chat opens by saying that the traveller is talking to an AI"]}
    assert kittiwake.fields("SoAEntry", "A.7.3") == {
        "aims:applicable": ["false^^xsd:boolean"], "aims:forControl": ["iso42001:A.7.3"],
        "aims:inOrganization": ["data:kittiwake"],
        "aims:justification": ["No data is acquired for training; the supplier's model is used as supplied"],
        "aims:registerId": ["A.7.3"], "rdf:type": ["aims:SoAEntry"]}
    assert kittiwake.fields("Evidence", "EV-ROLES") == {
        "aims:date": ["2025-02-17^^xsd:date"], "aims:evidenceKind": ["procedure"], "aims:inOrganization": ["data:kittiwake"],
        "aims:location": ["https://intranet.kittiwake.example/aims/roles"], "aims:producedBy": ["data:kt-comp"],
        "aims:registerId": ["EV-ROLES"], "aims:validUntil": ["2026-12-31^^xsd:date"], "rdf:type": ["aims:Evidence"],
        "rdfs:label": ["AIMS roles, concern reporting and incident procedure"]}


def test_csv_audits_reviews_nonconformities_incidents_training(kittiwake):
    assert kittiwake.fields("InternalAudit", "KT-AUD-2025") == {
        "aims:auditScope": ["euaia:art50", "iso42001:6.1", "iso42001:8.2", "iso42001:A.6"],
        "aims:auditor": ["Internal audit team of the parent group"], "aims:date": ["2025-10-07^^xsd:date"],
        "aims:inOrganization": ["data:kittiwake"], "aims:independent": ["true^^xsd:boolean"],
        "aims:raisedNonconformity": ["data:KT-NC-1"], "aims:registerId": ["KT-AUD-2025"],
        "rdf:type": ["aims:InternalAudit"]}
    assert kittiwake.fields("ManagementReview", "KT-MR-2025")["aims:decision"] == [
        "Audit results accepted", "Monitoring log to move to the ticketing system"]
    assert kittiwake.fields("Nonconformity", "KT-NC-1")["aims:concerns"] == ["iso42001:9.1", "iso42001:A.6.2.6"]
    # corrective_action.* columns; the empty completed_on cell is absent
    assert kittiwake.nested("Nonconformity", "KT-NC-1", "CorrectiveAction") == {
        "aims:description": ["Assign the monthly escalation review to the customer service team leads"],
        "aims:due": ["2025-12-15^^xsd:date"], "rdf:type": ["aims:CorrectiveAction"]}
    assert kittiwake.fields("Incident", "KT-INC-1") == {
        "aims:awareOn": ["2025-06-14^^xsd:date"], "aims:incidentKind": ["aims:incident-other"],
        "aims:date": ["2025-06-14^^xsd:date"], "aims:inOrganization": ["data:kittiwake"],
        "aims:incidentOfSystem": ["data:trip-assistant"], "aims:registerId": ["KT-INC-1"],
        "aims:serious": ["false^^xsd:boolean"], "rdf:type": ["aims:Incident"]}
    assert kittiwake.fields("TrainingRecord", "KT-TR-2025")["aims:attendee"] == [
        "data:kt-comp", "data:kt-cs", "data:kt-cto"]
