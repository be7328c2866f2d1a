"""Stage 3, validate: check the reasoned graph against the conformity shapes in `shapes/` and
turn the SHACL validation results into findings (register.md, "Findings").

Two validators give the same results: "store" (default) runs the shapes compiled to SPARQL
(`aimsgraph.shacl`) in the store itself, all focus nodes of a constraint in one query, so it
works on a remote SPARQL server too; "pyshacl" is the reference, run on an rdflib copy of the
store. One function turns either engine's results into findings. A shape's rule id, references
and severity are read from the shapes graph, never from Python, so a new rule is a new shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, NamedTuple
from pathlib import Path

import rdflib
from rdflib import Literal, URIRef
from rdflib.term import Node

from . import shacl
from .cache import cached
from .errors import AimsGraphError
from .namespaces import AIMS, GRAPH_CATALOGUES, PREFIXES, SH, to_curie
from .resources import data_files
from .shacl import ValidationResult
from .store import Store

SEVERITIES = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
SEVERITY_RANK = {"violation": 0, "warning": 1, "info": 2}
VALIDATORS = ("store", "pyshacl")
LABEL_CHUNK = 500  # nodes per register-id query: keeps a remote request small


def shapes_graph() -> rdflib.Graph:
    """A fresh parse of the shipped shapes: each validation gets its own copy, so concurrent
    validations never share a mutable shapes graph."""
    g = rdflib.Graph()
    for path in data_files("shapes"):
        g.parse(path, format="turtle")
    return g


def compiled_shapes() -> shacl.CompiledShapes:
    """The shipped shapes compiled to SPARQL, once per version of the shape files (compiling
    parses every SPARQL constraint with rdflib, which costs more than a small validation)."""
    files = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in data_files("shapes"))
    return _compiled(files)


@lru_cache(maxsize=4)
def _compiled(files: tuple[tuple[str, int, int], ...]) -> shacl.CompiledShapes:
    paths = [Path(path) for path, _mtime, _size in files]

    def build() -> shacl.CompiledShapes:
        g = rdflib.Graph()
        for path in paths:
            g.parse(path, format="turtle")
        return shacl.compile_shapes(g)

    # compiling parses every SPARQL constraint (cache.py); the compiler's own source is part of the key
    return cached("shapes", [*paths, Path(shacl.__file__)], build)


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


@lru_cache(maxsize=65536)
def _natural(text: str) -> tuple:
    """'A.10.4' sorts after 'A.9': digit runs compare as numbers (cached: ids and refs repeat)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


class Finding(NamedTuple):
    """One finding (register.md, "Findings"). A named tuple: tens of thousands are read back
    from the kept findings per command, and a tuple is built several times faster than a frozen
    dataclass."""

    rule: str
    severity: str
    focus: str
    focus_iri: str
    refs: tuple[str, ...]
    message: str

    def sort_key(self) -> tuple:
        return (SEVERITY_RANK[self.severity], self.rule, _natural(self.focus), tuple(_natural(r) for r in self.refs))

    def as_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "focus": self.focus, "focus_iri": self.focus_iri,
                "refs": list(self.refs), "message": self.message}


@dataclass
class Validation:
    """Findings, the engine's SHACL results, and the SHACL report graph (`gaps --format
    turtle`), which the store engine builds only when asked for."""

    findings: list[Finding]
    results: list[ValidationResult] = field(default_factory=list, repr=False)
    engine: str = "store"
    shapes: rdflib.Graph | None = field(default=None, repr=False)
    built_report: rdflib.Graph | None = field(default=None, repr=False)
    # findings read back from the cache folder (kept.py) leave their results there until asked for
    results_from: Callable[[], list[ValidationResult]] | None = field(default=None, repr=False)

    def all_results(self) -> list[ValidationResult]:
        if self.results_from is not None:
            self.results, self.results_from = self.results_from(), None
        return self.results

    @property
    def violations(self) -> int:
        return sum(1 for f in self.findings if f.severity == "violation")

    @property
    def report(self) -> rdflib.Graph:
        if self.built_report is None:
            self.built_report = shacl.report_graph(self.all_results(), self.shapes if self.shapes is not None
                                                   else rdflib.Graph())
        return self.built_report


def register_ids(store: Store, nodes: Iterable[Node]) -> dict[Node, str]:
    """The aims:registerId of each IRI among `nodes` that has one, in a few bulk queries."""
    iris = sorted({n for n in nodes if isinstance(n, URIRef)})
    found: dict[Node, list[str]] = {}
    for start in range(0, len(iris), LABEL_CHUNK):
        values = " ".join(n.n3() for n in iris[start:start + LABEL_CHUNK])
        rows = store.query(f"SELECT ?node ?id WHERE {{ VALUES ?node {{ {values} }} ?node <{AIMS.registerId}> ?id }}").rows
        for row in rows:
            found.setdefault(row["node"], []).append(str(row["id"]))
    return {node: min(ids) for node, ids in found.items()}


_PLACEHOLDER = re.compile(r"\{[?$](\w+)\}")


def _placeholder_values(template: str, messages: Iterable[Literal]) -> dict[str, str]:
    """The values a SHACL-SPARQL message template's {?var} placeholders took in a result message
    that the validator already filled in (pySHACL's sh:resultMessage, where {focus} and {value}
    are still literal): the first message that matches the template."""
    pattern, names, pos = "", [], 0
    for m in _PLACEHOLDER.finditer(template):
        pattern += re.escape(template[pos:m.start()]) + "(.+?)"
        names.append(m.group(1))
        pos = m.end()
    pattern += re.escape(template[pos:])
    for message in messages:
        match = re.fullmatch(pattern, str(message), flags=re.S)
        if match:
            return dict(zip(names, match.groups()))
    return {}


def findings_from_results(results: Iterable[ValidationResult], shapes: rdflib.Graph,
                          labels: dict[Node, str]) -> list[Finding]:
    """Findings from SHACL results: rule, refs, severity and message from the node shape; the
    results of one rule about one focus node (and one value, where the value is a reference)
    merge into one finding. A message template may use SHACL-SPARQL placeholders ({?control})
    besides {focus} and {value}: the finding names every value the merged results gave them, in
    natural order (obligation-partially-covered lists each control that gives only partial
    cover). The compiled validator hands the values over as the result's bindings; pySHACL's
    are read back from the message it filled in."""

    texts: dict[Node, str] = {}  # node -> its label, once per node (a focus node has many results)

    def label(node: Node | None) -> str:  # register id, a CURIE for catalogue entries, else the text
        if node is None:
            return ""
        text = texts.get(node)
        if text is None:
            text = str(node) if isinstance(node, Literal) else labels.get(node) or to_curie(str(node))
            texts[node] = text
        return text

    info = shape_catalogue(shapes)
    # source shape -> (rule info, reads the value?, message template, the template's placeholders)
    per_shape: dict[Node, tuple | None] = {}

    def about(shape: Node) -> tuple | None:
        if shape not in per_shape:
            meta = info.get(shape)
            if meta is None:  # a property shape's result names the property shape; find its node shape
                shape_of = next(shapes.subjects(SH.property, shape), None)
                meta = info.get(shape_of)
            else:
                shape_of = shape
            template = None if meta is None else str(shapes.value(shape_of, SH.message) or meta.rule)
            per_shape[shape] = None if meta is None else (
                meta, meta.value_is_ref or shapes.value(shape_of, SH.sparql) is not None,
                template, _PLACEHOLDER.findall(template))
        return per_shape[shape]

    merged: dict[tuple, dict] = {}
    for result in results:
        known = about(result.shape)
        if known is None:
            continue
        meta, reads_value, template, placeholders = known
        value = result.value if reads_value else None
        focus = label(result.focus)
        value_text = label(value) if value is not None else ""
        message = template.replace("{focus}", focus).replace("{value}", value_text)
        focus_iri = str(result.focus)
        key = (meta.rule, focus_iri, value_text if meta.value_is_ref else "")
        slot = merged.get(key)
        if slot is None:  # the node shape's severity; pySHACL reports property shapes' own default
            slot = merged[key] = {"severity": meta.severity, "refs": set(), "messages": [],
                                  "focus": focus, "focus_iri": focus_iri, "values": {}}
        elif SEVERITY_RANK[meta.severity] < SEVERITY_RANK[slot["severity"]]:
            slot["severity"] = meta.severity
        slot["refs"].update(meta.refs)
        if meta.value_is_ref and value is not None:
            slot["refs"].add(value_text)
        if placeholders:  # collect the placeholders' values; rendered once below
            bound = {name: label(node) for name, node in result.bindings}
            found = bound or _placeholder_values(template, result.messages)
            values = slot["values"].setdefault(message, {})
            for name in placeholders:
                values.setdefault(name, set()).add(found.get(name, "?"))
        if message not in slot["messages"]:
            slot["messages"].append(message)

    def render(slot: dict) -> str:
        out = []
        for message in slot["messages"]:
            values = slot["values"].get(message, {})
            out.append(_PLACEHOLDER.sub(lambda m: ", ".join(sorted(values.get(m.group(1), {"?"}), key=_natural)),
                                        message))
        return "; ".join(sorted(out))

    findings = [
        Finding(rule, s["severity"], s["focus"], s["focus_iri"], tuple(sorted(s["refs"], key=_natural)), render(s))
        for (rule, _, _), s in merged.items()
    ]
    return sorted(findings, key=Finding.sort_key)


def check_validator(engine: str) -> None:
    """Refuse an unknown validator name before any work is done."""
    if engine not in VALIDATORS:
        raise AimsGraphError(f"unknown validator '{engine}' (choose {', '.join(VALIDATORS)})")


def validation_results(store: Store, engine: str = "store") -> tuple[list[ValidationResult], rdflib.Graph,
                                                                      rdflib.Graph | None]:
    """(results, the shapes graph they refer to, the engine's own report graph or None)."""
    if engine == "store":
        compiled = compiled_shapes()
        return shacl.run(compiled, store), compiled.shapes, None
    if engine == "pyshacl":
        import pyshacl

        shapes = shapes_graph()
        _conforms, report, _text = pyshacl.validate(
            store.to_rdflib(), shacl_graph=shapes, inference="none", allow_warnings=True, allow_infos=True)
        return shacl.results_from_report(report), shapes, report
    check_validator(engine)
    raise AssertionError(engine)  # a name in VALIDATORS without an engine above


def validate(store: Store, engine: str = "store") -> Validation:
    """Validate everything in the store (data, catalogues, inferences, run parameters) with the
    compiled shapes ("store") or pySHACL ("pyshacl"); both give the same findings."""
    results, shapes, report = validation_results(store, engine)
    labels = register_ids(store, [n for r in results for n in (r.focus, r.value) if n is not None])
    return Validation(findings_from_results(results, shapes, labels), results, engine, shapes, report)


# Requirements per readiness group: the sub-clauses directly under each clause 4-10 (with every
# catalogue entry below them), and the controls under each Annex A objective A.2-A.10.
# The catalogue graph alone holds the clause and control hierarchy: read there, not in the union
# of every graph (0.10 -> 0.016 s at 1M triples).
READINESS_QUERY = """
SELECT ?kind ?group ?notation ?title ?requirement ?part WHERE { GRAPH <%s> {
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
} }""" % GRAPH_CATALOGUES


# Annex A controls that are not met whatever the findings say: neither effective (applicable,
# implemented, evidence valid at as-of) nor excluded with a justification (planned, partial,
# not-implemented, unevidenced, without status, or with no SoA row at all).
# The entry's type is checked in a nested EXISTS so that pyoxigraph walks each control's few
# entries, not every effective entry once per control (0.10 -> 0.02 s at 1M triples).
CONTROLS_NOT_MET_QUERY = """
SELECT ?control WHERE {
  ?control a aims:AnnexAControl .
  FILTER NOT EXISTS { ?entry aims:forControl ?control FILTER EXISTS { ?entry a aims:EffectiveSoAEntry } }
  FILTER NOT EXISTS { ?entry aims:forControl ?control FILTER EXISTS { ?entry aims:applicable false ; aims:justification ?why } }
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
