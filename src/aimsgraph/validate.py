"""Stage 3, validate: check the reasoned graph against the conformity shapes in `shapes/` and
turn the SHACL validation report into findings (register.md, "Findings").

pySHACL is the validator. A shape's rule id, references and severity are read from the shapes
graph, never from Python, so a new rule is a new shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from .resources import data_files
from .namespaces import AIMS, PREFIXES, SH, to_curie
from .store import Store

SEVERITIES = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
SEVERITY_RANK = {"violation": 0, "warning": 1, "info": 2}


def shapes_graph() -> rdflib.Graph:
    """A fresh parse of the shipped shapes: each validation gets its own copy, so concurrent
    validations never share a mutable shapes graph."""
    g = rdflib.Graph()
    for path in data_files("shapes"):
        g.parse(path, format="turtle")
    return g


@dataclass(frozen=True)
class ShapeInfo:
    rule: str
    refs: tuple[str, ...]
    value_is_ref: bool
    severity: str


def shape_catalogue(shapes: rdflib.Graph) -> dict[Node, ShapeInfo]:
    out = {}
    for shape in shapes.subjects(AIMS.ruleId, None):
        refs = tuple(to_curie(str(r)) for r in shapes.objects(shape, AIMS.ref))
        out[shape] = ShapeInfo(str(shapes.value(shape, AIMS.ruleId)), refs,
                               shapes.value(shape, AIMS.valueIsRef) == Literal(True),
                               SEVERITIES.get(shapes.value(shape, SH.severity), "violation"))
    return out


def _natural(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    focus: str
    focus_iri: str
    refs: tuple[str, ...]
    message: str

    def sort_key(self) -> tuple:
        return (SEVERITY_RANK[self.severity], self.rule, _natural(self.focus), [_natural(r) for r in self.refs])

    def as_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "focus": self.focus, "focus_iri": self.focus_iri,
                "refs": list(self.refs), "message": self.message}


@dataclass
class Validation:
    findings: list[Finding]
    report: rdflib.Graph = field(repr=False)

    @property
    def violations(self) -> int:
        return sum(1 for f in self.findings if f.severity == "violation")


def _label(graph: rdflib.Graph, node: Node | None) -> str:
    """Register id where the node has one, a CURIE for catalogue entries, else the text."""
    if node is None:
        return ""
    if isinstance(node, Literal):
        return str(node)
    rid = graph.value(node, AIMS.registerId)
    return str(rid) if rid is not None else to_curie(str(node))


_PLACEHOLDER = re.compile(r"\{[?$](\w+)\}")


def _placeholder_values(template: str, message: str) -> dict[str, str]:
    """The values a SHACL-SPARQL message template's {?var} placeholders took in `message` (the
    validator's sh:resultMessage, where {focus} and {value} are still literal)."""
    pattern, names, pos = "", [], 0
    for m in _PLACEHOLDER.finditer(template):
        pattern += re.escape(template[pos:m.start()]) + "(.+?)"
        names.append(m.group(1))
        pos = m.end()
    match = re.fullmatch(pattern + re.escape(template[pos:]), message, flags=re.S)
    return dict(zip(names, match.groups())) if match else {}


def findings_from_report(report: rdflib.Graph, data: rdflib.Graph, shapes: rdflib.Graph) -> list[Finding]:
    """One finding per (rule, focus, value when it is a reference). A message template may use
    SHACL-SPARQL placeholders ({?control}) besides {focus} and {value}: the finding names every
    value the merged results gave them, in natural order (obligation-partially-covered lists each
    control that gives only partial cover)."""
    info = shape_catalogue(shapes)
    merged: dict[tuple, dict] = {}
    for result in report.subjects(RDF.type, SH.ValidationResult):
        shape = report.value(result, SH.sourceShape)
        meta = info.get(shape)
        if meta is None:  # a property shape's result names the property shape; find its node shape
            parent = next(shapes.subjects(SH.property, shape), None)
            meta = info.get(parent)
            shape = parent
        if meta is None:
            continue
        focus_node = report.value(result, SH.focusNode)
        value = report.value(result, SH.value) if meta.value_is_ref or shapes.value(shape, SH.sparql) else None
        focus = _label(data, focus_node)
        value_text = _label(data, value) if value is not None else ""
        refs = set(meta.refs)
        if meta.value_is_ref and value is not None:
            refs.add(value_text)
        severity = meta.severity  # the node shape's; pySHACL reports property shapes' own default
        template = str(shapes.value(shape, SH.message) or meta.rule)
        key = (meta.rule, str(focus_node), value_text if meta.value_is_ref else "")
        slot = merged.setdefault(key, {"severity": severity, "refs": set(), "messages": [],
                                       "focus": focus, "focus_iri": str(focus_node), "values": {}})
        slot["refs"] |= refs
        message = template.replace("{focus}", focus).replace("{value}", value_text)
        if _PLACEHOLDER.search(template):  # collect the placeholders' values; rendered once below
            found = _placeholder_values(template, str(report.value(result, SH.resultMessage) or ""))
            values = slot["values"].setdefault(message, {})
            for name in _PLACEHOLDER.findall(template):
                values.setdefault(name, set()).add(found.get(name, "?"))
        if message not in slot["messages"]:
            slot["messages"].append(message)
        if SEVERITY_RANK[severity] < SEVERITY_RANK[slot["severity"]]:
            slot["severity"] = severity
    def render(slot: dict) -> str:
        out = []
        for message in slot["messages"]:
            values = slot["values"].get(message, {})
            out.append(_PLACEHOLDER.sub(lambda m: ", ".join(sorted(values.get(m.group(1), {"?"}), key=_natural)), message))
        return "; ".join(sorted(out))

    findings = [
        Finding(rule, s["severity"], s["focus"], s["focus_iri"], tuple(sorted(s["refs"], key=_natural)), render(s))
        for (rule, _, _), s in merged.items()
    ]
    return sorted(findings, key=Finding.sort_key)


def validate(store: Store) -> Validation:
    """Validate everything in the store (data, catalogues, inferences, run parameters)."""
    import pyshacl

    data = store.to_rdflib()
    shapes = shapes_graph()
    _conforms, report, _text = pyshacl.validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, allow_infos=True)
    return Validation(findings_from_report(report, data, shapes), report)


# Requirements per readiness group: the sub-clauses directly under each clause 4-10 (with every
# catalogue entry below them), and the controls under each Annex A objective A.2-A.10.
READINESS_QUERY = """
SELECT ?kind ?group ?notation ?title ?requirement ?part WHERE {
  {
    ?group a aims:Clause ; skos:topConceptOf iso42001:clauses .
    ?requirement skos:broader ?group .
    ?part skos:broader* ?requirement .
    BIND ("clauses" AS ?kind)
  } UNION {
    ?group a aims:ControlObjective ; skos:topConceptOf iso42001:annex-a .
    ?requirement a aims:AnnexAControl ; skos:broader+ ?group .
    BIND (?requirement AS ?part)
    BIND ("annex_a" AS ?kind)
  }
  ?group skos:notation ?notation ; rdfs:label ?title .
}"""


# Annex A controls that are not met whatever the findings say: neither effective (applicable,
# implemented, evidence valid at as-of) nor excluded with a justification (planned, partial,
# not-implemented, unevidenced, without status, or with no SoA row at all).
CONTROLS_NOT_MET_QUERY = """
SELECT ?control WHERE {
  ?control a aims:AnnexAControl .
  FILTER NOT EXISTS { ?entry aims:forControl ?control ; a aims:EffectiveSoAEntry }
  FILTER NOT EXISTS { ?entry aims:forControl ?control ; aims:applicable false ; aims:justification ?why }
}"""

OPEN_SEVERITIES = ("violation", "warning")


def blamed_requirements(findings: list[Finding], severities: tuple[str, ...] = OPEN_SEVERITIES) -> set[str]:
    """Every catalogue entry the findings of these severities name, by their refs or focus."""
    return {ref for f in findings if f.severity in severities for ref in (*f.refs, f.focus)}


def controls_not_met(store: Store) -> set[str]:
    return {to_curie(str(r["control"])) for r in store.query(CONTROLS_NOT_MET_QUERY).rows}


def readiness(store: Store, findings: list[Finding]) -> dict:
    """Per clause 4-10 and per Annex A objective: how many of its requirements are met
    (conformity.md, second edition). A requirement is met only when nothing about it is open:
    no violation or warning whose refs or focus name it or a catalogue entry below it (6.1.3
    counts against 6.1; a missing SoA row, whose focus is the control, against that control). An
    Annex A control is met only when it is effective or excluded with a justification: planned,
    partial or unevidenced controls are open whatever the findings say (`not_effective` lists
    them per objective)."""
    blamed = blamed_requirements(findings)
    not_met = controls_not_met(store)
    groups: dict[tuple[str, str], dict] = {}
    parts: dict[tuple[str, str, str], set[str]] = {}
    for row in store.query(READINESS_QUERY).rows:
        key = (str(row["kind"]), to_curie(str(row["group"])))
        groups.setdefault(key, {"notation": str(row["notation"]), "title": str(row["title"])})
        parts.setdefault((*key, to_curie(str(row["requirement"]))), set()).add(to_curie(str(row["part"])))
    summary: dict[str, list] = {"clauses": [], "annex_a": []}
    for (kind, group), meta in sorted(groups.items(), key=lambda kv: (kv[0][0], _natural(kv[0][1]))):
        requirements = sorted((req for (k, g, req) in parts if (k, g) == (kind, group)), key=_natural)
        ineffective = [req for req in requirements if kind == "annex_a" and req in not_met]
        open_ = [req for req in requirements if parts[(kind, group, req)] & blamed or req in ineffective]
        met = len(requirements) - len(open_)
        entry = {"id": group, "title": meta["title"], "requirements": len(requirements), "met": met,
                 "share": round(met / len(requirements), 3), "open": open_}
        if kind == "annex_a":
            entry["not_effective"] = ineffective
        summary[kind].append(entry)
    return summary


def report_turtle(validation: Validation) -> str:
    g = validation.report
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    return g.serialize(format="turtle")
