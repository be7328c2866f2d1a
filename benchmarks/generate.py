"""Deterministic generator of valid AIMS registers at any scale, for the benchmarks.

An organisation grows by AI systems; each system brings its EU AI Act profile, risks with
treatments, an impact assessment, evidence, an own control and sometimes an incident. The SoA
lists all 38 Annex A controls plus the own controls. Systems cycle through `VARIANTS`, so every
EU AI Act category, every Art 50 trigger, Art 6(3) derogations (valid and voided), FRIA and
part-of chains occur, and evidence cycles through valid / expiring / expired / pending, so the
rules and shapes of the pipeline really fire at every size.

The register is built as the dict a YAML file would give and goes through aimsgraph's strict
checker (`load.check_register`) and `load.register_to_graph`, so it is a register the product
accepts. `write_data` caches the resulting N-Triples under `benchmarks/data/`.

    python benchmarks/generate.py --triples 100k [--seed 42] [--yaml out.yaml]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from aimsgraph.load import annex_a_controls, check_register, load_packaged, register_to_graph
from aimsgraph.namespaces import ISO42001
from aimsgraph.schema import ANNEX_C_OBJECTIVES, FORMAT_ID, RISK_SOURCES
from aimsgraph.store import OxigraphStore

AS_OF = date(2026, 1, 31)  # the date every benchmark judges the register at
DEFAULT_SEED = 42
DATA_DIR = Path(__file__).resolve().parent / "data"
RISKS_PER_SYSTEM = 4
EVIDENCE_PER_SYSTEM = 4  # one of each status, in EVIDENCE_STATUSES order
EVIDENCE_STATUSES = ("valid", "expiring", "expired", "pending")
PARTIES = ("customers", "applicants", "employees", "regulator", "public")

# One entry per system kind: (eu_ai_act block or None, expected classify category).
VARIANTS: tuple[tuple[dict | None, str], ...] = (
    (None, "out-of-scope"),
    ({"roles": ["provider", "deployer"], "annex_iii": "5b", "profiling": True}, "high-risk"),
    ({"roles": ["provider"], "annex_i_product": "medical-device"}, "high-risk"),
    ({"roles": ["provider"], "annex_iii": "4a", "art6_3_derogation": True}, "minimal-risk"),
    ({"roles": ["provider"], "annex_iii": "4b", "art6_3_derogation": True, "profiling": True}, "high-risk"),
    ({"roles": ["deployer"], "prohibited_practice": "f"}, "prohibited"),
    ({"roles": ["provider"], "interacts_with_people": True, "synthetic_content": True}, "limited-risk"),
    ({"roles": ["deployer"], "emotion_or_biometric_categorisation": True}, "limited-risk"),
    ({"roles": ["provider"], "gpai": True}, "minimal-risk"),
    ({"roles": ["deployer", "importer"], "annex_iii": "2"}, "high-risk"),
    ({"roles": ["deployer", "distributor"], "annex_iii": "5c"}, "high-risk"),
    ({"roles": ["authorised-representative", "product-manufacturer"]}, "minimal-risk"),
)
SMALLEST_SYSTEMS = len(VARIANTS)  # one full cycle: every kind of system once (~2k data triples)


@dataclass(frozen=True)
class Plan:
    """What a generated register holds; the smoke test checks the loaded graph against it."""

    systems: int
    seed: int = DEFAULT_SEED

    @property
    def risks(self) -> int:
        return self.systems * RISKS_PER_SYSTEM

    @property
    def own_controls(self) -> int:
        return self.systems

    @property
    def controls(self) -> int:
        """SoA rows: every Annex A control plus one own control per system."""
        return len(annex_a_controls()) + self.own_controls

    @property
    def evidence(self) -> int:
        return self.systems * EVIDENCE_PER_SYSTEM

    def evidence_with_status(self, status: str) -> int:
        return self.systems if status in EVIDENCE_STATUSES else 0

    def category_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for i in range(self.systems):
            category = VARIANTS[i % len(VARIANTS)][1]
            counts[category] = counts.get(category, 0) + 1
        return counts


def _evidence_dates(status: str) -> dict:
    one_year = timedelta(days=365)
    if status == "valid":
        return {"date": AS_OF - one_year, "valid_until": AS_OF + one_year}
    if status == "expiring":
        return {"date": AS_OF - one_year, "valid_until": AS_OF + timedelta(days=10)}
    if status == "expired":
        return {"date": AS_OF - 2 * one_year, "valid_until": AS_OF - timedelta(days=30)}
    return {"date": AS_OF + timedelta(days=20), "valid_until": AS_OF + 2 * one_year}  # pending


def _annex_a_ids() -> list[str]:
    prefix = len(str(ISO42001))
    return sorted((iri[prefix:] for iri in annex_a_controls()),
                  key=lambda c: [int(p) for p in c[2:].split(".")])


def build_register(plan: Plan) -> dict:
    """The register (as parsed YAML) for `plan`; the same plan always gives the same register."""
    rng = random.Random(plan.seed)
    people_count = max(3, plan.systems // 5 + 2)
    people = [{"id": "ceo", "name": "Chief Executive", "role": "top-management"}]
    people += [{"id": f"p{n}", "name": f"Person {n}", "role": "Engineer"} for n in range(1, people_count)]

    def person() -> str:
        return people[rng.randrange(len(people))]["id"]

    annex_a = _annex_a_ids()
    systems, risks, assessments, incidents, evidence, own_controls = [], [], [], [], [], []
    for i in range(plan.systems):
        sid = f"sys-{i:05d}"
        profile, _category = VARIANTS[i % len(VARIANTS)]
        system = {"id": sid, "name": f"AI system {i}", "purpose": f"Decision support number {i}",
                  "lifecycle_stage": ("design-development", "operation", "deployment")[i % 3],
                  "owner": person(), "in_scope": i % 17 != 16, "suppliers": [f"vendor-{i % 7}"]}
        if i % 6 == 5:  # part-of chains reach scope through the parent (in-scope-part-of rule)
            system["part_of"] = f"sys-{i - 1:05d}"
        if profile is not None:
            system["eu_ai_act"] = dict(profile)
        systems.append(system)

        ev_ids = []
        for status in EVIDENCE_STATUSES:
            ev_id = f"EV-{i:05d}-{status}"
            ev_ids.append(ev_id)
            evidence.append({"id": ev_id, "title": f"{status} evidence for {sid}", "kind": "report",
                             "location": f"https://docs.example/{ev_id}", "produced_by": person(),
                             **_evidence_dates(status)})
        own_id = f"OC-{i:05d}"
        own_controls.append({"id": own_id, "title": f"Own safeguard for {sid}", "applicable": True,
                             "status": "implemented", "owner": person(),
                             "maps_to": ["euaia:art9", "euaia:art14"] if i % 2 == 0 else ["euaia:art26"],
                             "evidence": [ev_ids[i % len(ev_ids)]]})

        for j in range(RISKS_PER_SYSTEM):
            risk = {"id": f"R-{i:05d}-{j}", "title": f"Risk {j} of {sid}", "ai_system": sid,
                    "risk_source": RISK_SOURCES[(i + j) % len(RISK_SOURCES)],
                    "affects": [PARTIES[(i + j) % len(PARTIES)]],
                    "likelihood": rng.randint(1, 5), "impact": rng.randint(1, 5),
                    "assessed_on": AS_OF - timedelta(days=rng.randint(10, 400))}
            option = ("mitigate", "transfer", "accept", "avoid", None)[(i + j) % 5]
            if option is not None:  # None: no treatment (risk-untreated when above appetite)
                treatment = {"option": option, "owner": person(),
                             "residual_likelihood": rng.randint(1, 3), "residual_impact": rng.randint(1, 5)}
                if option in ("mitigate", "transfer") and (i + j) % 7:
                    treatment["controls"] = [annex_a[(i + j) % len(annex_a)], own_id]
                if option == "accept" and i % 3:
                    treatment["accepted_by"] = "ceo"
                risk["treatment"] = treatment
            risks.append(risk)

        if i % 9 != 8:  # every ninth system has no impact assessment
            fria = i % len(VARIANTS) in (1, 10) and (i // len(VARIANTS)) % 2 == 0  # others: fria-missing
            assessments.append({"id": f"IA-{i:05d}", "ai_system": sid, "date": AS_OF - timedelta(days=200),
                                "affected": [PARTIES[i % len(PARTIES)]], "individual_impacts": True,
                                "societal_impacts": i % 4 != 3, "approved_by": "ceo",
                                "next_review": AS_OF + timedelta(days=(-15 if i % 10 == 4 else 165)),
                                "fria": fria})
        if i % 2 == 0:
            incident = {"id": f"INC-{i:05d}", "ai_system": sid, "date": AS_OF - timedelta(days=60),
                        "serious": i % 4 == 0}
            if i % 8 == 0:
                incident["reported_to_authority_on"] = AS_OF - timedelta(days=(50 if i % 16 == 0 else 30))
            incidents.append(incident)

    soa = []
    for n, control in enumerate(annex_a):
        row = {"id": control, "applicable": n % 13 != 12, "owner": "ceo",
               "status": ("implemented", "implemented", "partial", "planned")[n % 4],
               "evidence": [evidence[(n * EVIDENCE_PER_SYSTEM + k) % len(evidence)]["id"] for k in range(2)]}
        if not row["applicable"] and n % 2:
            row["justification"] = "Not relevant to the systems in scope"
        soa.append(row)

    nonconformities = [
        {"id": f"NC-{k:04d}", "title": f"Nonconformity {k}", "raised_on": AS_OF - timedelta(days=120),
         "refs": ["iso42001:8.4"], "root_cause": "Process not followed",
         **({"corrective_action": {"description": "Retrain and re-check", "due": AS_OF - timedelta(days=(10 if k % 2 else -30)),
                                   **({"completed_on": AS_OF - timedelta(days=5)} if k % 4 == 0 else {})}}
            if k % 5 != 4 else {})}
        for k in range(max(1, plan.systems // 10))]
    return {
        "format": FORMAT_ID,
        "organization": {"id": "benchorg", "name": "Benchmark Org", "jurisdictions": ["EU"], "public_body": False},
        "aims": {"scope": "All AI systems of the benchmark organisation", "scope_approved_on": AS_OF - timedelta(days=300),
                 "internal_issues": ["Growing AI portfolio"], "external_issues": ["EU AI Act"],
                 "interested_parties": [{"id": p, "name": p.title(), "needs": "Fair treatment"} for p in PARTIES]},
        "people": people,
        "policies": [{"id": "POL-AI", "kind": "ai-policy", "title": "AI policy", "approved_by": "ceo",
                      "approved_on": AS_OF - timedelta(days=300), "next_review": AS_OF + timedelta(days=65)}],
        "risk_criteria": {"appetite": 9},
        "objectives": [{"id": f"OBJ-{k}", "title": f"Objective {k}", "annex_c": ANNEX_C_OBJECTIVES[k],
                        "metric": "rate", "target": ">= 95 %", "owner": "ceo", "due": AS_OF + timedelta(days=150)}
                       for k in range(3)],
        "ai_systems": systems,
        "impact_assessments": assessments,
        "risks": risks,
        "controls": soa + own_controls,
        "evidence": evidence,
        "audits": [{"id": "AUD-1", "date": AS_OF - timedelta(days=90), "scope": ["iso42001:8.2", "iso42001:A.6"],
                    "auditor": "Internal audit", "independent": True,
                    "findings": [nc["id"] for nc in nonconformities]}],
        "management_reviews": [{"id": "MR-1", "date": AS_OF - timedelta(days=60), "attendees": ["ceo"],
                                "decisions": ["Keep going"]}],
        "nonconformities": nonconformities,
        "incidents": incidents,
        "training": [{"id": f"TR-{k}", "topic": "AI literacy", "date": AS_OF - timedelta(days=100 + k),
                      "attendees": [people[k % len(people)]["id"]]} for k in range(max(1, plan.systems // 10))],
    }


def register_graph(plan: Plan):
    """The plan's register, checked by the strict loader, as the organisation's RDF data."""
    return register_to_graph(check_register(build_register(plan), lambda _section: "generated.yaml"))


@lru_cache(maxsize=1)
def packaged_triples() -> int:
    """Triples of the ontology and catalogues, which every benchmark graph carries too."""
    store = OxigraphStore()
    load_packaged(store)
    return sum(store.count(g) for g in store.graphs())


@lru_cache(maxsize=1)
def _calibration() -> tuple[float, float]:
    """(fixed data triples, data triples per system), measured on two small registers."""
    small, large = (len(register_graph(Plan(n))) for n in (2 * SMALLEST_SYSTEMS, 4 * SMALLEST_SYSTEMS))
    per_system = (large - small) / (2 * SMALLEST_SYSTEMS)
    return small - per_system * 2 * SMALLEST_SYSTEMS, per_system


def plan_for_triples(total: int, seed: int = DEFAULT_SEED) -> Plan:
    """The plan whose data + ontology + catalogues come closest to `total` triples."""
    fixed, per_system = _calibration()
    systems = round((total - packaged_triples() - fixed) / per_system)
    return Plan(max(SMALLEST_SYSTEMS, systems), seed)


def parse_size(text: str) -> int:
    """'10k' -> 10_000, '1m' -> 1_000_000, '2500' -> 2500."""
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def _generator_version() -> str:
    """Changes whenever this file changes, so cached data never outlives its generator."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:10]


def write_data(plan: Plan, folder: Path = DATA_DIR) -> Path:
    """The plan's data as N-Triples (cached); returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"org-{plan.systems}sys-seed{plan.seed}-{_generator_version()}.nt"
    if not path.exists():
        partial = path.with_suffix(".part")
        register_graph(plan).serialize(partial, format="nt", encoding="utf-8")
        partial.replace(path)
    return path


def _date_representer(dumper: yaml.SafeDumper, value: date):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value.isoformat())


def write_yaml(plan: Plan, path: Path) -> None:
    """The register as a YAML file (dates as plain YYYY-MM-DD), for `aimsgraph gaps`."""
    dumper = type("RegisterDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(date, _date_representer)
    path.write_text(yaml.dump(build_register(plan), Dumper=dumper, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", default="10k", help="target size incl. ontology + catalogues (10k, 1m, ...)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--yaml", type=Path, help="also write the register as YAML to this file")
    args = parser.parse_args(argv)
    plan = plan_for_triples(parse_size(args.triples), args.seed)
    path = write_data(plan)
    print(f"{plan.systems} systems, {plan.risks} risks, {plan.controls} SoA rows -> {path}")
    if args.yaml:
        write_yaml(plan, args.yaml)
        print(f"register -> {args.yaml}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
