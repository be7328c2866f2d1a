"""OSCAL exports for auditors: an Assessment Results document with one finding per `gaps`
finding, and a Catalog of the shipped requirements those findings point into.

The catalog holds, as OSCAL controls nested the way the catalogues nest them (`skos:broader`):
the ISO/IEC 42001 clauses 4-10 and Annex A objectives and controls, and the EU AI Act chapters,
articles, paragraphs and per-role obligations. Each control carries the catalogue's id and title
and one `statement` part whose prose is aimsgraph's own one-sentence summary (never the text of
the standard or the Regulation).

The results come from an analysis' findings as they are (`Analysis.validation.findings`, what
`gaps` reports): each finding targets the requirement it is about (its most specific ref: an
article, else an Annex A control, else a clause) as `statement-id` `<control id>_smt` of the
catalog, and has one related observation whose subjects are the entity at fault and the evidence
items behind it (also listed as `relevant-evidence`, href = the evidence's location). Every UUID
is a version-5 UUID from a fixed namespace and stable ids, and every timestamp is the as-of date,
so the same register and date give the same bytes.

Documents are built and checked with compliance-trestle's pydantic OSCAL models (extra `oscal`).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import networkx as nx
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from . import __version__
from .errors import AimsGraphError, InputError
from .namespaces import AIMS, EUAIA, ISO42001, to_curie

# Every UUID aimsgraph writes into OSCAL is uuid5(NAMESPACE, "<kind>|<stable ids>").
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/aimsgraph/oscal")
PROP_NS = "https://w3id.org/aimsgraph/oscal"  # the namespace of aimsgraph's own property names
CATALOG_FILE = "oscal-catalog.json"  # the catalog's name beside the results (and in the evidence pack)
CATALOG_MEDIA_TYPE = "application/oscal.catalog+json"
# The catalog's last-modified: fixed per release of the shipped catalogues (they carry no date),
# so the catalog's bytes change only with its content.
CATALOG_RELEASED = datetime(2026, 12, 1, tzinfo=UTC)

# (top group id, title, concept classes it holds)
GROUPS = (
    ("iso42001-clauses", "ISO/IEC 42001:2023 clauses 4-10", (AIMS.Clause,)),
    ("iso42001-annex-a", "ISO/IEC 42001:2023 Annex A controls", (AIMS.ControlObjective, AIMS.AnnexAControl)),
    ("euaia", "EU AI Act (Regulation (EU) 2024/1689): articles and obligations",
     (AIMS.Chapter, AIMS.Article, AIMS.ArticleParagraph, AIMS.Obligation)),
)
CLASS_NAMES = {AIMS.Clause: "clause", AIMS.ControlObjective: "objective", AIMS.AnnexAControl: "control",
               AIMS.Chapter: "chapter", AIMS.Article: "article", AIMS.ArticleParagraph: "paragraph",
               AIMS.Obligation: "obligation"}


class ExportError(InputError):
    """An export that cannot be written (a bad output path) or an OSCAL model that refuses it."""


def _trestle():
    try:
        from trestle.oscal import OSCAL_VERSION, assessment_results, catalog, common
    except ImportError as exc:
        raise AimsGraphError("OSCAL export needs compliance-trestle: pip install 'aimsgraph[oscal]'") from exc
    return OSCAL_VERSION, assessment_results, catalog, common


def stable_uuid(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join((kind, *parts))))


def oscal_id(curie: str) -> str:
    """A catalogue CURIE as an OSCAL token: iso42001:A.7.4 -> iso42001-A.7.4, euaia:art50-1 -> euaia-art50-1."""
    return curie.replace(":", "-", 1)


def statement_id(curie: str) -> str:
    return oscal_id(curie) + "_smt"


def _moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _natural(text: str) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def _prop(common, name: str, value: str, own: bool = True):
    return common.Property(name=name, value=value, ns=PROP_NS if own else None)


def _dump(model) -> str:
    return model.oscal_serialize_json(pretty=True) + "\n"


# --- catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    curie: str
    kind: str  # CLASS_NAMES value
    notation: str
    title: str
    summary: str
    parent: str | None  # the CURIE of its broader requirement, when that is in the catalog too


def requirements(catalogues: Graph | None = None) -> dict[str, Requirement]:
    """Every requirement the catalog holds, by CURIE, from the shipped catalogues."""
    if catalogues is None:
        from .load import catalogue_graph

        catalogues = catalogue_graph()
    found: dict[URIRef, URIRef] = {}
    for _, _, classes in GROUPS:
        for cls in classes:
            for s in catalogues.subjects(RDF.type, cls):
                found.setdefault(s, cls)
    out = {}
    for s, cls in found.items():
        broader = catalogues.value(s, SKOS.broader)
        title = catalogues.value(s, SKOS.prefLabel) or catalogues.value(s, RDFS.label) or to_curie(str(s))
        out[to_curie(str(s))] = Requirement(
            to_curie(str(s)), CLASS_NAMES[cls], str(catalogues.value(s, SKOS.notation) or ""), str(title).strip(),
            " ".join(str(catalogues.value(s, SKOS.definition) or "").split()),
            to_curie(str(broader)) if broader in found else None)
    return out


def _group_of(req: Requirement) -> str:
    if req.curie.startswith("euaia:"):
        return "euaia"
    return "iso42001-annex-a" if req.kind in ("objective", "control") else "iso42001-clauses"


def catalog_model(reqs: dict[str, Requirement] | None = None):
    """The OSCAL Catalog (trestle model) of the shipped requirements."""
    OSCAL_VERSION, _, catalog, common = _trestle()
    reqs = requirements() if reqs is None else reqs
    children: dict[str | None, list[Requirement]] = {}
    for req in reqs.values():
        children.setdefault(req.parent, []).append(req)
    for items in children.values():
        items.sort(key=lambda r: (r.kind == "obligation", _natural(r.curie)))

    def control(req: Requirement):
        props = [_prop(common, "label", req.notation, own=False)] if req.notation else []
        props.append(_prop(common, "kind", req.kind))
        nested = [control(child) for child in children.get(req.curie, [])]
        return catalog.Control(
            id=oscal_id(req.curie), class_=req.kind, title=req.title, props=props,
            links=[common.Link(href=_iri(req.curie), rel="canonical")],
            parts=[common.Part(id=statement_id(req.curie), name="statement",
                               prose=req.summary or req.title)],
            controls=nested or None)

    groups = []
    for group_id, title, _ in GROUPS:
        top = [r for r in children.get(None, []) if _group_of(r) == group_id]
        if top:
            groups.append(catalog.Group2(id=group_id, title=title, controls=[control(r) for r in top]))
    digest = hashlib.sha256(json.dumps(sorted((r.curie, r.title, r.summary, r.parent or "") for r in reqs.values()))
                            .encode()).hexdigest()
    metadata = common.Metadata(
        title="aimsgraph catalogue of ISO/IEC 42001:2023 and EU AI Act requirements (ids, titles, own summaries)",
        last_modified=CATALOG_RELEASED, version=__version__, oscal_version=OSCAL_VERSION,
        props=[_prop(common, "content-digest", digest)],
        remarks=("Numbers and titles come from ISO/IEC 42001:2023 and Regulation (EU) 2024/1689; every statement "
                 "is aimsgraph's own short summary, not the text of the standard or of the Regulation. Consult "
                 "the official publications for the normative wording."))
    return catalog.Catalog(uuid=stable_uuid("catalog", digest), metadata=metadata, groups=groups)


def _iri(curie: str) -> str:
    prefix, local = curie.split(":", 1)
    return (str(ISO42001) if prefix == "iso42001" else str(EUAIA)) + local


def catalog_json(reqs: dict[str, Requirement] | None = None) -> str:
    return _dump(catalog_model(reqs))


# --- assessment results ------------------------------------------------------------------------

TARGET_ORDER = ("article", "paragraph", "obligation", "control", "clause", "objective", "chapter")


def finding_target(refs, reqs: dict[str, Requirement]) -> str | None:
    """The requirement a finding is about: among its refs that the catalog holds, the first
    article or paragraph of the EU AI Act, else the first Annex A control, else the first clause."""
    held = [r for r in refs if r in reqs]
    if not held:
        return None
    return min(held, key=lambda r: TARGET_ORDER.index(reqs[r].kind))


def finding_evidence(finding, graph: nx.DiGraph) -> list[str]:
    """The evidence items (register ids) behind a finding: the item itself for an evidence
    finding; what a risk or control rests on; else what the organisation's controls give the
    articles and Annex A controls the finding refers to (through the trace graph)."""
    def below(node: str) -> set[str]:
        if node not in graph:
            return set()
        return {n for n in nx.descendants(graph, node) | {node} if graph.nodes[n].get("kind") == "evidence"}

    kind = graph.nodes[finding.focus].get("kind") if finding.focus in graph else None
    if kind in ("evidence", "risk", "control"):
        found = below(finding.focus)
    else:
        found = set()
        for ref in finding.refs:
            if ref.startswith("euaia:"):
                found |= below(ref)
            elif ref.startswith("iso42001:A."):
                found |= below(ref.split(":", 1)[1])  # Annex A controls are traced by notation
    return sorted(found, key=_natural)


def organisation(store) -> tuple[str, str]:
    """(register id, name) of the organisation the analysis is about."""
    rows = store.query("SELECT ?id ?name WHERE { ?o a aims:Organization ; aims:registerId ?id . "
                       "OPTIONAL { ?o rdfs:label ?name } } ORDER BY ?id").rows
    if not rows:
        return "", "the organisation"
    return str(rows[0]["id"]), str(rows[0].get("name") or rows[0]["id"])


def results_model(analysis, source: str = "", catalog_href: str = CATALOG_FILE,
                  reqs: dict[str, Requirement] | None = None):
    """The OSCAL Assessment Results (trestle model) of an analysis: one finding per finding of
    `analysis.validation.findings`, judged at the analysis' as-of date."""
    from .acttext import applied_text
    from .evidence_pack import evidence_items
    from .render import text_line
    from .trace import trace_graph

    OSCAL_VERSION, ar, _, common = _trestle()
    reqs = requirements() if reqs is None else reqs
    as_of = analysis.params.as_of
    moment = _moment(as_of)
    org_id, org_name = organisation(analysis.store)
    findings = analysis.validation.findings
    graph = trace_graph(analysis.store)
    items = {item.id: item for item in evidence_items(analysis.store)}
    scope = (org_id, as_of.isoformat())

    resources: dict[str, object] = {}

    def subject_resource(key: str, title: str, props: list, rlink: str | None = None) -> str:
        ident = stable_uuid("resource", *scope, key)
        if ident not in resources:
            resources[ident] = common.Resource(
                uuid=ident, title=title, props=props or None,
                rlinks=[common.Rlink(href=rlink)] if rlink else None)
        return ident

    observations, oscal_findings, seen = [], [], set()
    for finding in findings:
        target = finding_target(finding.refs, reqs)
        if target is None:
            raise AimsGraphError(f"finding '{finding.rule}' about '{finding.focus}' has no ref the OSCAL catalog "
                                 f"holds ({', '.join(finding.refs)})")
        key = "|".join((finding.rule, finding.focus, " ".join(finding.refs), finding.message))
        n = 0
        while (key, n) in seen:
            n += 1
        seen.add((key, n))
        ident = (*scope, key, str(n))
        focus_title = graph.nodes[finding.focus].get("label") if finding.focus in graph else ""
        subjects = [common.SubjectReference(
            subject_uuid=subject_resource(f"entity|{finding.focus_iri}", finding.focus,
                                          [_prop(common, "register-id", finding.focus)]),
            type="resource", title=f"{finding.focus}: {focus_title}" if focus_title else finding.focus)]
        evidence = []
        for ev_id in finding_evidence(finding, graph):
            item = items.get(ev_id)
            if item is None:
                continue
            ev_props = [_prop(common, "evidence-id", item.id), _prop(common, "freshness", item.freshness)]
            if item.valid_until:
                ev_props.append(_prop(common, "valid-until", item.valid_until))
            subjects.append(common.SubjectReference(
                subject_uuid=subject_resource(f"evidence|{item.id}", item.title or item.id, ev_props[:1],
                                              item.location or None),
                type="resource", title=f"{item.id}: {item.title}" if item.title else item.id))
            evidence.append(common.RelevantEvidence(
                href=item.location or None, description=f"{item.id}: {item.title or 'evidence item'}",
                props=ev_props))
        observation_uuid = stable_uuid("observation", *ident)
        observations.append(common.Observation(
            uuid=observation_uuid, title=f"{finding.rule}: {finding.focus}", description=finding.message,
            props=[_prop(common, "rule", finding.rule), _prop(common, "severity", finding.severity)],
            methods=["EXAMINE"], types=["finding"], subjects=subjects, relevant_evidence=evidence or None,
            collected=moment))
        req = reqs[target]
        oscal_findings.append(common.Finding(
            uuid=stable_uuid("finding", *ident), title=f"{finding.rule}: {finding.focus}",
            description=finding.message,
            props=[_prop(common, "rule", finding.rule), _prop(common, "severity", finding.severity),
                   _prop(common, "focus", finding.focus)]
                  + [_prop(common, "ref", ref) for ref in finding.refs],
            target=common.FindingTarget(
                type="statement-id", target_id=statement_id(target), title=f"{req.notation or target} {req.title}",
                status=common.ObjectiveStatus(state="not-satisfied")),
            related_observations=[common.RelatedObservation(observation_uuid=observation_uuid)]))

    digest = hashlib.sha256(json.dumps([f.as_json() for f in findings]).encode()).hexdigest()
    catalog_resource = stable_uuid("catalog-resource", *scope)
    register_resource = stable_uuid("register", *scope)
    back_matter = [
        common.Resource(uuid=catalog_resource, title="aimsgraph catalogue of the requirements the findings target",
                        rlinks=[common.Rlink(href=catalog_href, media_type=CATALOG_MEDIA_TYPE)]),
        common.Resource(uuid=register_resource, title=f"Register {source}".strip(),
                        description="The AI management system register aimsgraph analysed; it stands in for an "
                                    "assessment plan, which aimsgraph does not write.",
                        props=[_prop(common, "organisation", org_id)] if org_id else None),
    ] + [resources[k] for k in sorted(resources)]
    act = text_line(applied_text(analysis.store))
    result = ar.Result(
        uuid=stable_uuid("result", *scope, digest), title=f"aimsgraph gaps at {as_of.isoformat()}",
        description=(f"The conformity findings aimsgraph's gaps command reports for {org_name} at "
                     f"{as_of.isoformat()} ({sum(f.severity == 'violation' for f in findings)} violations, "
                     f"{sum(f.severity == 'warning' for f in findings)} warnings). {act}".strip()),
        start=moment, end=moment,
        props=[_prop(common, "as-of", as_of.isoformat()), _prop(common, "finding-count", str(len(findings)))],
        links=[common.Link(href=f"#{catalog_resource}", rel="reference", text="requirements catalog")],
        reviewed_controls=common.ReviewedControls(control_selections=[common.ControlSelectionsAll(
            description="Every requirement of the aimsgraph catalogue", include_all=common.IncludeAll())]),
        observations=observations or None, findings=oscal_findings or None)
    metadata = common.Metadata(
        title=f"aimsgraph assessment results: {org_name} at {as_of.isoformat()}", last_modified=moment,
        version=__version__, oscal_version=OSCAL_VERSION,
        links=[common.Link(href=f"#{catalog_resource}", rel="reference", text="requirements catalog")])
    return ar.AssessmentResults(
        uuid=stable_uuid("assessment-results", *scope, digest), metadata=metadata,
        import_ap=ar.ImportAp(href=f"#{register_resource}",
                              remarks="No OSCAL assessment plan: the findings come from the register named here."),
        results=[result], back_matter=common.BackMatter(resources=back_matter))


def results_json(analysis, source: str = "", catalog_href: str = CATALOG_FILE) -> str:
    return _dump(results_model(analysis, source, catalog_href))


def writable(path: Path, what: str) -> Path:
    """Refuse an output path that cannot be written before any work is done (ExportError)."""
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give the {what} file to write")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: folder '{path.parent}' does not exist; cannot write the {what} there")
    return path


def write_text(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the {what} ({exc.strerror or exc})") from None


def write_oscal(analysis, output: Path, source: str = "", catalog: Path | None = None) -> tuple[Path, Path]:
    """Write the assessment results to `output` and the catalog they point into beside it
    (`oscal-catalog.json`, or `catalog`); returns both paths."""
    writable(output, "OSCAL assessment results")
    catalog = output.with_name(CATALOG_FILE) if catalog is None else catalog
    writable(catalog, "OSCAL catalog")
    if catalog.resolve() == output.resolve():
        raise ExportError(f"{output}: the results and the catalog cannot be the same file")
    href = catalog.name if catalog.parent.resolve() == output.parent.resolve() else catalog.resolve().as_uri()
    text = results_json(analysis, source, href)
    write_text(catalog, catalog_json(), "OSCAL catalog")
    write_text(output, text, "OSCAL assessment results")
    return output, catalog
