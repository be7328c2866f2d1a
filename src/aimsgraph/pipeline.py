"""The stages joined up: load -> reason -> validate, and the answers built on them (gaps,
classify). CLI commands and API routes call these plain functions and only format the result.

A command runs only the stages it needs: `analyse` loads and reasons; validation runs the first
time `Analysis.validation` is read (gaps, report, demo), never for classify, query or trace.
Each stage tells a `Progress` when it starts, what it has done and when it ends; the CLI shows
that on a terminal."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from .acttext import applied_text, check_choice
from .errors import InputError, Problem, unknown_name
from .limits import DEFAULT_LIMITS, Limits
from . import workspace
from .load import read_data, store_data
from .namespaces import AIMS, GRAPH_CATALOGUES, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_PARAMETERS, to_curie
from .query import rows_as_text, run_named
from .reason import Parameters, ReasoningReport, reason
from .store import GraphView, OxigraphStore, Store, copy_from_view, copy_into_view, open_store
from . import kept
from .validate import SEVERITY_RANK, Finding, Validation, check_validator, readiness, shapes_graph, validate


class Progress:
    """Told about each stage of a run; this base class stays silent (tests, the API, pipes)."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Callable[[str], None]]:
        """Runs around one stage; the callable it yields takes a short note of what the stage has
        done so far ("12,345 triples"), shown beside the stage's name and elapsed time."""
        yield lambda note: None


QUIET = Progress()


@dataclass
class Analysis:
    """One register judged at one date: the store after loading and reasoning, and the findings,
    computed the first time they are asked for."""

    store: Store
    params: Parameters
    reasoning: ReasoningReport
    progress: Progress = field(default=QUIET, repr=False)
    validator: str = "store"
    _validation: Validation | None = field(default=None, repr=False)
    temporary: list[str] = field(default_factory=list, repr=False)  # graphs to drop when done
    kept_as: tuple[str, int] | None = field(default=None, repr=False)  # a persistent store's state: findings kept under it
    validate_on: Store | None = field(default=None, repr=False)  # an in-memory copy of `store`'s graphs, if any

    def release(self) -> None:
        """Drop what only this analysis needed (a temporary reasoning version in a persistent store)."""
        base = getattr(self.store, "base", self.store)
        for graph in self.temporary:
            base.clear(graph)
        self.temporary = []

    @property
    def validation(self) -> Validation:
        if self._validation is None:
            use_kept = self.kept_as is not None and self.validator == "store"
            if use_kept:
                self._validation = kept.kept_validation(*self.kept_as)
            if self._validation is None:
                with self.progress.stage("validate") as note:
                    self._validation = validate(self.validate_on or self.store, self.validator)
                    self.validate_on = None  # the copy is not needed once validated
                    note(f"{len(self._validation.findings):,} findings")
                if use_kept:
                    kept.keep(*self.kept_as, self._validation)
        return self._validation


def analyse(path: Path | str, as_of: date | None = None, *, owl_engine: str = "auto",
            store_engine: str = "oxigraph", window_months: int = 12, expiring_days: int = 30,
            store: Store | None = None, progress: Progress = QUIET, limits: Limits = DEFAULT_LIMITS,
            validator: str = "store", org: str | None = None, ai_act_text: str = "auto") -> Analysis:
    """Load a register or RDF file (bounded by `limits`; the HTTP API passes
    `limits.API_LIMITS`) and reason over it, judged at `as_of`; the findings follow on demand
    (`Analysis.validation`) from the validator named by `validator` (validate.VALIDATORS: the
    compiled shapes or pySHACL).

    In a persistent store (on disk, a SPARQL server) the analysis becomes organisation `org`'s
    (default: the register's organisation id) current version in one commit (workspace.py):
    killed at any point, the store keeps its previous state.

    Everything is judged under the text of the EU AI Act `ai_act_text` names: `original`, `amended`
    (by Regulation (EU) 2026/1744), or `auto`, the text in force at `as_of` (acttext.py)."""
    check_validator(validator)
    check_choice(ai_act_text)
    store = store or open_store(store_engine)
    params = Parameters(as_of or date.today(), window_months, expiring_days, ai_act_text)
    with progress.stage("load") as note:
        data = read_data(Path(path), limits)  # read and checked before the store is touched
        note(f"{data.count:,} triples read")
    if not store.persistent:
        with progress.stage("store") as note:
            store_data(store, data)
            note(f"{data.count:,} triples")
        with progress.stage("reason") as note:
            reasoning = reason(store, params, owl_engine, progress=note)
            note(f"{reasoning.owl_triples + reasoning.rule_triples:,} triples inferred")
        return Analysis(store, params, reasoning, progress, validator)
    org = org or data.org
    if org is None:
        raise InputError(f"{Path(path).name}: the input names no single organisation (aims:Organization with "
                         "aims:registerId); give its id with --org")

    scratch: list[OxigraphStore] = []

    def fill(view: GraphView) -> ReasoningReport:
        target: Store = view
        if type(store) is OxigraphStore:
            # an embedded on-disk store reasons in memory and takes the result in one bulk load:
            # pyoxigraph's on-disk updates cost 2-5x its in-memory ones (a 1M-triple load took
            # 241.6 s, now 82 s). The new version's graphs stay invisible until commit, as before.
            target = OxigraphStore()
            scratch.append(target)
        with progress.stage("store") as note:
            store_data(target, data)
            note(f"{data.count:,} triples")
        with progress.stage("reason") as note:
            report = reason(target, params, owl_engine, progress=note)
            note(f"{report.owl_triples + report.rule_triples:,} triples inferred")
        if target is not view:
            with progress.stage("store") as note:
                written = copy_into_view(target, view, skip=(GRAPH_ONTOLOGY, GRAPH_CATALOGUES))
                note(f"{written:,} triples written")
        return report

    reasoning = workspace.replace(store, org, fill)
    analysis = _current_analysis(store, org, params, reasoning, progress, validator)
    if scratch:  # the same graphs as the stored version's, in memory: validated there, and kept
        analysis.validate_on = scratch[0]
    return analysis


def analyse_stored(store: Store, as_of: date | None = None, *, org: str | None = None, owl_engine: str = "auto",
                   window_months: int = 12, expiring_days: int = 30, progress: Progress = QUIET,
                   validator: str = "store", ai_act_text: str = "auto") -> Analysis:
    """The analysis an organisation's current version in a persistent store holds, judged at
    `as_of`: its inferences as they are when they were made at the same parameters, else
    reasoned again over the same data into a temporary version (`Analysis.release` drops it;
    nothing of the stored state changes)."""
    check_validator(validator)
    check_choice(ai_act_text)
    if not store.persistent:
        raise InputError("give a register: an in-memory store holds nothing between commands "
                         "(load it once into --store-dir DIR or a SPARQL server with aimsgraph load)")
    params = Parameters(as_of or date.today(), window_months, expiring_days, ai_act_text)
    version = workspace.current(store, org)
    view = version.view(store)
    stored = set(view.triples(GRAPH_PARAMETERS))
    if stored == {_plain(t) for t in params.triples()}:
        return Analysis(view, params, ReasoningReport(owl_engine), progress, validator,
                        kept_as=workspace.state_key(store, version))
    if type(store) is OxigraphStore:  # embedded: reasoned in memory (see analyse), nothing written
        scratch = copy_from_view(view, (GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA))
        with progress.stage("reason") as note:
            reasoning = reason(scratch, params, owl_engine, progress=note)
            note(f"{reasoning.owl_triples + reasoning.rule_triples:,} triples inferred (at {params.as_of})")
        return Analysis(scratch, params, reasoning, progress, validator)
    temporary = workspace.Version(version.org, version.data, workspace.new_version_id(), version.packaged)
    view = temporary.view(store)
    with progress.stage("reason") as note:
        reasoning = reason(view, params, owl_engine, progress=note)
        note(f"{reasoning.owl_triples + reasoning.rule_triples:,} triples inferred (at {params.as_of})")
    analysis = Analysis(view, params, reasoning, progress, validator)
    analysis.temporary = [g for logical, g in temporary.mapping().items() if logical in (GRAPH_INFERRED, GRAPH_PARAMETERS)]
    return analysis


def _current_analysis(store: Store, org: str, params: Parameters, reasoning: ReasoningReport,
                      progress: Progress, validator: str) -> Analysis:
    """The organisation's current version in a persistent store as an Analysis whose findings are
    kept under that state's key."""
    version = workspace.current(store, org)
    return Analysis(version.view(store), params, reasoning, progress, validator,
                    kept_as=workspace.state_key(store, version))


def add_stored(store: Store, path: Path | str, *, org: str | None = None, progress: Progress = QUIET,
               limits: Limits = DEFAULT_LIMITS, validator: str = "store", owl_engine: str = "auto"):
    """Add the triples of `path` (an RDF file or a register) to the organisation's current
    version in a persistent store, re-deriving only what they touch (incremental.py); returns
    (Analysis, MaintenanceReport). A register must hold every triple the stored data holds (it
    may only add): otherwise, and when the triples cannot be added incrementally (blank nodes,
    schema triples), the stored data plus the new triples is reasoned from scratch into a new
    version, as `load` does (`report.fallback` says why). All or nothing either way: killed
    during the increment, the next command finds it unfinished and reasons the previous data
    again (workspace.recover)."""
    from .incremental import MaintenanceReport, NotIncremental, add_data, not_incremental, present
    from .reason import stored_parameters
    from .store import nt_triples

    check_validator(validator)
    if not store.persistent:
        raise InputError("add changes what a persistent store holds: give --store-dir DIR or --store URL")
    with progress.stage("load") as note:
        data = read_data(Path(path), limits)
        if data.nquads:
            raise InputError(f"{Path(path).name}: add takes triples for the data graph, not named graphs")
        triples = nt_triples(data.nt)
        note(f"{len(triples):,} triples read")
    version = workspace.current(store, org or data.org)
    view = version.view(store)
    params = stored_parameters(view)
    if params is None:
        raise InputError(f"organisation '{version.org}' has no stored analysis to add to: load its register first")
    why = not_incremental(view, triples, owl_engine)
    if why is None and data.org is not None:  # a whole register: it may add, not take away
        if len(present(view, triples, GRAPH_DATA)) < view.count(GRAPH_DATA):
            why = "the register leaves out triples the stored data holds (add only adds; use load to replace)"
    report = None
    before_key = workspace.state_key(store, version)
    if why is None:
        finish = workspace.begin_increment(store, version)
        try:
            with progress.stage("reason") as note:
                report = add_data(view, triples, params, owl_engine, fallback=False, finish=finish)
                note(f"{report.data_added:,} new triples: {len(report.added):,} added, "
                     f"{len(report.removed):,} removed in {report.seconds:.2f} s")
        except NotIncremental as exc:
            why = str(exc)
    if why is not None:
        if type(store) is OxigraphStore:  # embedded: reasoned in memory and written in one load (see analyse)
            scratch = copy_from_view(view, (GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA))
            scratch.add(GRAPH_DATA, triples)

            def fill(new_view: GraphView) -> ReasoningReport:
                done = reason(scratch, params, owl_engine)
                copy_into_view(scratch, new_view, skip=(GRAPH_ONTOLOGY, GRAPH_CATALOGUES))
                return done
        else:
            stored = view.triples(GRAPH_DATA)

            def fill(new_view: GraphView) -> ReasoningReport:
                new_view.add(GRAPH_DATA, [*stored, *triples])
                return reason(new_view, params, owl_engine)

        with progress.stage("reason") as note:
            reasoning = workspace.replace(store, version.org, fill)
            note(f"reasoned from scratch: {why}")
        report = MaintenanceReport(data_added=len(triples), fallback=why, added=None, removed=None)
        return _current_analysis(store, version.org, params, reasoning, progress, validator), report
    analysis = _current_analysis(store, version.org, params, ReasoningReport(owl_engine), progress, validator)
    if validator == "store" and analysis.kept_as == (before_key[0], before_key[1] + 1):
        # the findings brought up to date from the change alone, when they were kept
        with progress.stage("validate") as note:
            analysis._validation = kept.update(before_key[0], analysis.store, before_key[1], report.added,
                                               report.removed)
            reached = getattr(analysis._validation, "reached", None)
            note(f"{reached:,} focus nodes validated again" if reached is not None
                 else f"{len(analysis._validation.findings):,} findings")
    else:  # validated whole (pySHACL, or no kept state to start from), and kept
        analysis.validation
    return analysis, report


def _plain(t):
    """A parameter triple as a store gives it back (xsd:string literals plain)."""
    o = t[2]
    return (t[0], t[1], Literal(str(o))) if isinstance(o, Literal) and o.datatype == XSD.string else t


@lru_cache(maxsize=1)
def rule_ids() -> frozenset[str]:
    """The conformity rule ids the shipped shapes report."""
    return frozenset(str(o) for o in shapes_graph().objects(None, AIMS.ruleId))


def system_ids(store: Store) -> list[str]:
    rows = store.query("SELECT ?id WHERE { ?system a aims:AISystem ; aims:registerId ?id }").rows
    return sorted(str(r["id"]) for r in rows)


def check_filters(store: Store, severity: str | None = None, rule: str | None = None,
                  system: str | None = None) -> None:
    """Refuse a filter that can match nothing because it names no severity, rule or AI system
    (InputError, naming the closest known value), so a typo is not read as "no findings"."""
    problems = []
    if severity is not None and severity not in SEVERITY_RANK:
        problems.append(unknown_name("severity", severity, SEVERITY_RANK))
    if rule is not None and rule not in rule_ids():
        problems.append(unknown_name("rule", rule, rule_ids()))
    if system is not None and system not in (known := system_ids(store)):
        problems.append(unknown_name("AI system", system, known))
    if problems:
        raise InputError([Problem("", "", "", message) for message in problems])


def filter_findings(findings: Iterable[Finding], severity: str | None = None, rule: str | None = None,
                    system: str | None = None, store: Store | None = None) -> list[Finding]:
    """Keep findings of one severity (and worse), one rule, or about one AI system (the system
    itself or its risks, assessments, incidents)."""
    out = list(findings)
    if severity:
        out = [f for f in out if SEVERITY_RANK[f.severity] <= SEVERITY_RANK[severity]]
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


def gaps_document(analysis: Analysis, findings: list[Finding] | None = None, *, as_objects: bool = False) -> dict:
    """The spec's findings JSON (register.md, "Findings"), plus a readiness `summary` after the
    spec's keys, and the text of the EU AI Act the run applied (`ai_act_text`). Readiness is
    judged on every finding, whatever filter chose `findings`. With `as_objects` the findings
    stay Finding objects, for render.gaps_json."""
    findings = analysis.validation.findings if findings is None else findings
    return {"as_of": analysis.params.as_of.isoformat(),
            "findings": list(findings) if as_objects else [f.as_json() for f in findings],
            "summary": readiness(analysis.store, analysis.validation.findings),
            "ai_act_text": applied_text(analysis.store)}


def gaps_text(analysis: Analysis, findings: list[Finding] | None = None) -> str:
    """`gaps --format json` as text: what render.to_json(gaps_document(...)) gives, faster."""
    from .render import gaps_json

    fragments = getattr(analysis.validation, "fragments", None) if findings is None else None
    return gaps_json(gaps_document(analysis, findings, as_objects=True), fragments)


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
