"""The stages joined up: load -> reason -> validate, and the answers built on them (gaps,
classify). CLI commands and API routes call these plain functions and only format the result."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rdflib import Literal, URIRef

from .acttext import applied_text, check_choice
from .load import load_input
from .namespaces import to_curie
from .query import rows_as_text, run_named
from .reason import Parameters, ReasoningReport, reason
from .store import Store, open_store
from .validate import Finding, Validation, readiness, validate


@dataclass
class Analysis:
    store: Store
    params: Parameters
    reasoning: ReasoningReport
    validation: Validation


def analyse(path: Path | str, as_of: date | None = None, *, owl_engine: str = "reasonable",
            store_engine: str = "oxigraph", window_months: int = 12, expiring_days: int = 30,
            ai_act_text: str = "auto", store: Store | None = None) -> Analysis:
    """Load a register or RDF file, reason over it and validate it, judged at `as_of` under the
    text of the EU AI Act `ai_act_text` names (original, amended, or auto: the one in force)."""
    check_choice(ai_act_text)
    store = store or open_store(store_engine)
    load_input(store, Path(path))
    params = Parameters(as_of or date.today(), window_months, expiring_days, ai_act_text)
    reasoning = reason(store, params, owl_engine)
    return Analysis(store, params, reasoning, validate(store))


def filter_findings(findings: Iterable[Finding], severity: str | None = None, rule: str | None = None,
                    system: str | None = None, store: Store | None = None) -> list[Finding]:
    """Keep findings of one severity (and worse), one rule, or about one AI system (the system
    itself or its risks, assessments, incidents)."""
    rank = {"violation": 0, "warning": 1, "info": 2}
    out = list(findings)
    if severity:
        out = [f for f in out if rank[f.severity] <= rank[severity]]
    if rule:
        out = [f for f in out if f.rule == rule]
    if system and store is not None:
        related = {system} | {str(r["id"]) for r in store.query(
            """SELECT DISTINCT ?id ?sid WHERE {
                 ?system aims:registerId ?sid .
                 ?thing ?link ?system ; aims:registerId ?id .
                 FILTER (?link IN (aims:riskOfSystem, aims:assessesSystem, aims:incidentOfSystem, aims:partOf))
               }""", {"sid": Literal(system)}).rows}
        out = [f for f in out if f.focus in related]
    return out


def gaps_document(analysis: Analysis, findings: list[Finding] | None = None) -> dict:
    """The spec's findings JSON (register.md, "Findings"), plus a readiness `summary` after the
    spec's keys, and the text of the EU AI Act the run applied (`ai_act_text`). Readiness is
    judged on every finding, whatever filter chose `findings`."""
    findings = analysis.validation.findings if findings is None else findings
    return {"as_of": analysis.params.as_of.isoformat(), "findings": [f.as_json() for f in findings],
            "summary": readiness(analysis.store, analysis.validation.findings),
            "ai_act_text": applied_text(analysis.store)}


COVER_STATES = ("covered", "partial", "uncovered")


def obligation_cover(store: Store) -> dict[str, dict[str, str]]:
    """Per AI system (register id), per obligation article (CURIE, as `classify` lists them): covered
    (an effective control discharges every obligation of the system on it), partial (the only cover
    of some of them is crosswalk rows that do not discharge it) or uncovered (some obligation has
    no cover at all). The one count that demo, report and trace give for "obligations covered"."""
    rank = {state: i for i, state in enumerate(COVER_STATES)}
    out: dict[str, dict[str, str]] = {}
    for row in rows_as_text(run_named(store, "system-obligations")):
        state = "covered" if row["covered"] == "true" else "partial" if row["partial"] == "true" else "uncovered"
        slot = out.setdefault(row["system"], {})
        article = row["article"]
        if article not in slot or rank[state] > rank[slot[article]]:
            slot[article] = state
    return out


_ARTICLE_NUM = re.compile(r"(\d+)")


def _curie_key(curie: str) -> list:
    return [int(p) if p.isdigit() else p for p in _ARTICLE_NUM.split(curie)]


CATEGORY_NAMES = {"prohibited", "high-risk", "limited-risk", "minimal-risk"}


def classify(store: Store) -> dict:
    """Per AI system: EU AI Act category, basis, roles and obligations, all from the
    inferred graph (register.md, "classify"); after the spec's keys, why a role was derived
    (`role_basis`: Art 25(1)), what limits the Act's reach (`scope_limited_by`: Art 2(2)) and the
    obligations that limit takes away; and the text of the Act applied."""
    systems: dict[str, dict] = {}
    for row in store.query("""
        SELECT ?system ?id WHERE { ?system a aims:AISystem ; aims:registerId ?id . }""").rows:
        systems[str(row["system"])] = {"id": str(row["id"]), "category": "out-of-scope", "gpai": False,
                                        "basis": [], "roles": [], "obligations": [],
                                        "role_basis": {}, "scope_limited_by": [], "excluded_obligations": []}
    rows = store.query("""
        SELECT ?system ?kind ?value WHERE {
          ?system a aims:AISystem .
          { ?system aims:euAIActCategory ?value . BIND ("category" AS ?kind) }
          UNION { ?system aims:classificationBasis ?value . BIND ("basis" AS ?kind) }
          UNION { ?system aims:hasEUAIActProfile ?p . ?p aims:operatorRole ?value . BIND ("roles" AS ?kind) }
          UNION { ?system aims:hasObligation ?o . ?o aims:article ?value . BIND ("obligations" AS ?kind) }
          UNION { ?system aims:hasEUAIActProfile ?p . ?p aims:isGeneralPurposeAIModel true . BIND (true AS ?value) BIND ("gpai" AS ?kind) }
          UNION { ?system aims:scopeLimitedBy ?value . BIND ("scope_limited_by" AS ?kind) }
          UNION { ?system aims:excludedObligation ?o . ?o aims:article ?value . BIND ("excluded_obligations" AS ?kind) }
          UNION { ?system aims:roleBasis ?value . BIND ("role_basis" AS ?kind) }
        }""").rows
    for row in rows:
        entry = systems.get(str(row["system"]))
        if entry is None:
            continue
        kind, value = str(row["kind"]), row["value"]
        if kind == "gpai":
            entry["gpai"] = True
        elif kind == "category":
            entry["category"] = str(value).rsplit("/", 1)[-1]
        elif kind == "roles":
            entry["roles"].append(str(value).rsplit("/", 1)[-1])
        elif kind == "role_basis":  # only the provider role is ever derived (Art 25(1))
            basis = entry["role_basis"].setdefault("provider", [])
            if to_curie(str(value)) not in basis:
                basis.append(to_curie(str(value)))
        else:
            curie = to_curie(str(value)) if isinstance(value, URIRef) else str(value)
            if curie not in entry[kind]:
                entry[kind].append(curie)
    for entry in systems.values():
        entry["basis"].sort(key=lambda c: (":annex" in c, _curie_key(c)))  # articles, then Annex points
        entry["obligations"].sort(key=_curie_key)
        entry["excluded_obligations"].sort(key=_curie_key)
        entry["roles"] = sorted(set(entry["roles"]))  # a declared role may also be derived
        for basis in entry["role_basis"].values():
            basis.sort(key=_curie_key)
    return {"systems": sorted(systems.values(), key=lambda e: e["id"]), "ai_act_text": applied_text(store)}
