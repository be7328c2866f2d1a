"""Stage 2, reason: the OWL 2 RL closure of ontology + catalogues + data, then the domain rules
in `rules/` (SPARQL CONSTRUCT files, stratified, each stratum run to a fixpoint). Everything
derived goes into the inferred graph.

Each rule runs inside the store as `INSERT { template } WHERE { where, minus what is already
known }` into a small delta graph, which is then added to the inferred graph: no solution row
crosses the Store interface, so reasoning costs what the store's query engine costs, and runs
unchanged on a remote SPARQL server. Which rule derived a triple, and with which bindings, is
found again when `explain` asks (`rule_justifications`); `reason(..., record=True)` also keeps
the first rule of every derived triple for tests and small registers.

OWL engines (owl.py): 'sparql' (default, compiled to updates the store runs), 'reasonable' and
'owlrl' (the reference) over a copy of the triples; 'none' skips the closure.
"""

from __future__ import annotations

import re
import time
from calendar import monthrange
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import rdflib
from rdflib import Literal, URIRef, Variable
from rdflib.namespace import RDF, XSD
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

from .cache import cached
from .errors import AimsGraphError, QueryError
from .resources import data_files
from .namespaces import (
    AIMS,
    PREFIXES,
    GRAPH_CATALOGUES,
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_ONTOLOGY,
    GRAPH_PARAMETERS,
    RUN_IRI,
)
from .owl import DELTA_GRAPH, owl_closure, resolve_engine, sparql_closure
from .store import Node, Store, Triple

_HEADER = re.compile(r"^#\s*(id|purpose|source|stratum):\s*(.+?)\s*$", re.MULTILINE)
_CONSTRUCT = re.compile(r"\bCONSTRUCT\s*\{[^{}]*\}\s*WHERE\b", re.IGNORECASE)
_GRAPH_IRI = re.compile(r"\bGRAPH\s*<([^>]+)>", re.IGNORECASE)  # our own rule files: trusted text

Pattern = tuple  # a triple pattern: three rdflib terms, any of them a Variable


@dataclass(frozen=True)
class Rule:
    """A domain rule: a SPARQL CONSTRUCT with its id, purpose, legal source and stratum.
    `template` is the CONSTRUCT template; `premises` the triple patterns its WHERE requires
    (positive ones only: NOT EXISTS patterns are conditions on absence, not premises)."""

    id: str
    purpose: str
    source: str
    stratum: int
    query: str
    file: str
    template: tuple[Pattern, ...] = ()
    premises: tuple[Pattern, ...] = ()
    reads: frozenset | None = None  # dependency keys of every pattern it matches; None: any triple
    template_text: str = ""  # the CONSTRUCT template, as written
    where_text: str = ""  # the WHERE group's content, as written

    @property
    def writes(self) -> frozenset:
        """Dependency keys of the triples it derives (see `_pattern_key`)."""
        return frozenset(_pattern_key(*t) for t in self.template)

    def insert_where(self, values: str | None = None, probe: bool = False) -> str:
        """The WHERE that inserts only what is not known yet. Its solutions are first narrowed to
        the distinct values of the template's variables (a join that pairs each obligation with
        every covering control would otherwise reach the anti-join once per pair); those whose
        template triples all exist are then left out: MINUS when each template triple names its
        predicate and, for rdf:type, its class (the anti-join reads one small index range), else
        NOT EXISTS. Newlines keep a comment on the WHERE's last line from swallowing a brace.
        `values`, a VALUES block put first, restricts the solutions (incremental.py); `probe`:
        few solutions are expected, so each is looked up (NOT EXISTS) rather than the template's
        whole index range read for an anti-join (MINUS), which at 1M triples costs 50 ms a run."""
        variables = " ".join(sorted({f"?{t}" for pattern in self.template for t in pattern if isinstance(t, Variable)}))
        distinct = f"{{ SELECT DISTINCT {variables} WHERE {{\n{values or ''}\n{self.where_text}\n}} }}"
        selective = all(not isinstance(p, Variable) and (p != RDF.type or not isinstance(o, Variable))
                        for _s, p, o in self.template)
        if selective and not probe:
            return f"{distinct} MINUS {{\n{self.template_text}\n}}"
        return f"{distinct} FILTER NOT EXISTS {{\n{self.template_text}\n}}"

    @property
    def named_graphs(self) -> tuple[str, ...]:
        """Graphs the WHERE reads by name (`GRAPH <iri> { … }`): an update's USING clauses hide
        them unless they are also given as USING NAMED."""
        return tuple(sorted(set(_GRAPH_IRI.findall(self.where_text))))

    @property
    def select_query(self) -> str:
        """The rule's WHERE as `SELECT *`: one row of bindings per solution."""
        return _CONSTRUCT.sub("SELECT * WHERE", self.query, count=1)

    def instantiate(self, row: dict[str, Node]) -> list[Triple]:
        """The template's triples for one solution; like CONSTRUCT, a pattern with an unbound
        variable or a literal subject yields nothing."""
        return [t for t in (_bind(p, row) for p in self.template) if t is not None and not isinstance(t[0], Literal)]

    def premise_triples(self, row: dict[str, Node]) -> list[Triple]:
        """The WHERE's positive triple patterns, bound by one solution (unbound ones left out;
        UNION branches not taken are included here and must be checked against the store)."""
        out: list[Triple] = []
        for pattern in self.premises:
            t = _bind(pattern, row)
            if t is not None and t not in out:
                out.append(t)
        return out


def _bind(pattern: Pattern, row: dict[str, Node]) -> Triple | None:
    terms = []
    for term in pattern:
        if isinstance(term, Variable):
            term = row.get(str(term))
            if term is None:
                return None
        terms.append(term)
    return (terms[0], terms[1], terms[2])


def _positive_patterns(node) -> list[Pattern]:
    """Triple patterns of a parsed WHERE clause, skipping NOT EXISTS (and MINUS) subtrees."""
    found: list[Pattern] = []
    if isinstance(node, CompValue):
        if node.name in ("Builtin_NOTEXISTS", "Minus", "MinusGraphPattern"):
            return found
        if node.name in ("BGP", "TriplesBlock"):
            found.extend(tuple(t) for t in node["triples"])
            return found
        for value in node.values():
            found.extend(_positive_patterns(value))
    elif isinstance(node, (list, tuple)):
        for value in node:
            found.extend(_positive_patterns(value))
    return found


def _all_patterns(node) -> list[Pattern]:
    """Every triple pattern of a parsed query, NOT EXISTS included."""
    if isinstance(node, CompValue):
        if node.name in ("BGP", "TriplesBlock"):
            return [tuple(t) for t in node["triples"]]
        if node.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
            # the translated pattern is the attribute: the item is the parse tree, whose FILTERs
            # (a NOT EXISTS inside this one) rdflib has moved out of it
            return _all_patterns(node.graph)
        return [t for value in node.values() for t in _all_patterns(value)]
    if isinstance(node, (list, tuple)):
        return [t for value in node for t in _all_patterns(value)]
    return []


def _pattern_key(s, p, o):
    """What a pattern depends on: (rdf:type, class) for a typing pattern, else its predicate;
    None when the predicate is a variable (any new triple may matter)."""
    if isinstance(p, Variable):
        return None
    if p == RDF.type and not isinstance(o, Variable):
        return (p, o)
    return p


def triple_keys(t: Triple) -> set:
    """The dependency keys a new triple touches (see `_pattern_key`)."""
    return {t[1], (t[1], t[2])} if t[1] == RDF.type else {t[1]}


_CONSTRUCT_PARTS = re.compile(r"\bCONSTRUCT\s*\{(?P<template>[^{}]*)\}\s*WHERE\s*\{(?P<where>.*)\}\s*$",
                              re.IGNORECASE | re.DOTALL)


def _without_comments(text: str) -> str:
    """Rule text with full-line comments removed (header and notes), so braces in them never count."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _parse_rule(text: str) -> tuple[tuple[Pattern, ...], tuple[Pattern, ...], frozenset | None]:
    parsed = prepareQuery(text, initNs={k: rdflib.Namespace(v) for k, v in PREFIXES.items()})
    if parsed.algebra.name != "ConstructQuery" or not _CONSTRUCT.search(text):
        raise AimsGraphError("a rule must be a single CONSTRUCT { ... } WHERE { ... } query")
    premises = tuple(dict.fromkeys(_positive_patterns(parsed.algebra.p)))
    keys = {_pattern_key(*t) for t in _all_patterns(parsed.algebra.p)}
    reads = None if None in keys else frozenset(keys)
    return tuple(tuple(t) for t in parsed.algebra.template), premises, reads


@lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    """The shipped rules, ordered by stratum then file name (parsed once per version of the
    rule files: cache.py)."""
    files = data_files("rules", ".rq")
    return cached("rules", [*files, Path(__file__)], lambda: _parse_rule_files(files))


def _parse_rule_files(files: list) -> tuple[Rule, ...]:
    rules = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        meta = dict(_HEADER.findall(text))
        missing = {"id", "purpose", "source", "stratum"} - meta.keys()
        if missing:
            raise AimsGraphError(f"rule file {path.name} lacks header field(s): {', '.join(sorted(missing))}")
        try:
            template, premises, reads = _parse_rule(text)
        except Exception as exc:  # rdflib raises pyparsing errors for bad SPARQL
            raise AimsGraphError(f"rule file {path.name} cannot be parsed: {exc}") from exc
        parts = _CONSTRUCT_PARTS.search(_without_comments(text))
        if parts is None:
            raise AimsGraphError(f"rule file {path.name} must be one CONSTRUCT {{ ... }} WHERE {{ ... }} query")
        rules.append(Rule(meta["id"], meta["purpose"], meta["source"], int(meta["stratum"]), text, path.name,
                          template, premises, reads, parts["template"].strip(), parts["where"].strip()))
    return tuple(sorted(rules, key=lambda r: (r.stratum, r.file)))


def _unify(pattern: Pattern, triple: Triple) -> dict[str, Node] | None:
    """Variable bindings that make `pattern` the triple, or None when no binding does."""
    bindings: dict[str, Node] = {}
    for term, value in zip(pattern, triple):
        if isinstance(term, Variable):
            if bindings.setdefault(str(term), value) != value:
                return None
        elif term != value:
            return None
    return bindings


def _row_key(row: dict[str, Node]) -> list[tuple[str, str]]:
    return sorted((k, str(v)) for k, v in row.items())


def rule_justification(store: Store, triple: Triple, rules: tuple[Rule, ...] | None = None
                       ) -> tuple[Rule, dict[str, Node]] | None:
    """The first rule (by stratum, then file) whose WHERE has a solution deriving `triple`, and
    that solution (the smallest, so every store gives the same one); None when no rule derives it.
    Found again from the store rather than remembered: strata make a rule's solutions the same
    after the fixpoint as when it fired. Only variables that a triple pattern binds are pre-bound
    (a BIND target cannot be); the rest are checked against the triple."""
    for rule in load_rules() if rules is None else rules:
        bound_by_patterns = {str(t) for pattern in rule.premises for t in pattern if isinstance(t, Variable)}
        for pattern in rule.template:
            bindings = _unify(pattern, triple)
            if bindings is None:
                continue
            pre = {k: v for k, v in bindings.items() if k in bound_by_patterns}
            try:
                rows = store.query(rule.select_query, pre).rows
            except QueryError as exc:
                raise AimsGraphError(f"rule {rule.id} ({rule.file}) failed: {exc}") from exc
            rows = [row for row in rows if triple in rule.instantiate(row)]
            if rows:
                return rule, min(rows, key=_row_key)
    return None


def rule_by_id(rule_id: str) -> Rule:
    for rule in load_rules():
        if rule.id == rule_id:
            return rule
    raise AimsGraphError(f"no rule '{rule_id}'")


@dataclass(frozen=True)
class Parameters:
    """Everything time-dependent is judged against these, stored as data in the graph."""

    as_of: date
    window_months: int = 12
    expiring_days: int = 30
    ai_act_text: str = "auto"  # original | amended | auto: the text in force at as_of (acttext.py)

    @property
    def act_text(self):
        """The text of the EU AI Act this run applies (`ai_act_text` resolved at `as_of`)."""
        from .acttext import resolve

        return resolve(self.ai_act_text, self.as_of)

    @property
    def window_start(self) -> date:
        """as_of minus window_months (day clamped to the month's length); dates after it count."""
        months = self.as_of.year * 12 + self.as_of.month - 1 - self.window_months
        year, month = divmod(months, 12)
        day = min(self.as_of.day, monthrange(year, month + 1)[1])
        return date(year, month + 1, day)

    @property
    def expiring_before(self) -> date:
        return self.as_of + timedelta(days=self.expiring_days)

    def triples(self) -> list[Triple]:
        run = URIRef(RUN_IRI)

        def d(value: date) -> Literal:
            return Literal(value.isoformat(), datatype=XSD.date)

        return [
            (run, RDF.type, AIMS.AssessmentRun),
            (run, AIMS.asOf, d(self.as_of)),
            (run, AIMS.windowMonths, Literal(self.window_months, datatype=XSD.integer)),
            (run, AIMS.windowStart, d(self.window_start)),
            (run, AIMS.expiringWithinDays, Literal(self.expiring_days, datatype=XSD.integer)),
            (run, AIMS.expiringBefore, d(self.expiring_before)),
            (run, AIMS.aiActTextChoice, Literal(self.ai_act_text)),
            (run, AIMS.aiActText, URIRef(self.act_text.iri)),
        ]


def stored_parameters(store: Store) -> Parameters | None:
    """The parameters a store was reasoned at (its parameters graph), or None."""
    rows = store.query(f"""SELECT ?asOf ?window ?days ?choice WHERE {{ GRAPH <{GRAPH_PARAMETERS}> {{
        ?run a aims:AssessmentRun ; aims:asOf ?asOf ; aims:windowMonths ?window ;
             aims:expiringWithinDays ?days ; aims:aiActTextChoice ?choice }} }}""").rows
    if len(rows) != 1:
        return None
    row = rows[0]
    return Parameters(date.fromisoformat(str(row["asOf"])), int(row["window"]), int(row["days"]), str(row["choice"]))


def set_parameters(store: Store, params: Parameters) -> None:
    store.clear(GRAPH_PARAMETERS)
    store.add(GRAPH_PARAMETERS, params.triples())


@dataclass
class ReasoningReport:
    owl_engine: str
    owl_triples: int = 0
    rule_triples: int = 0
    seconds_owl: float = 0.0
    seconds_rules: float = 0.0
    per_rule: dict[str, int] = field(default_factory=dict)  # rule id -> triples it added
    seconds_per_rule: dict[str, float] = field(default_factory=dict)  # summed over fixpoint passes
    derived_by: dict[Triple, str] = field(default_factory=dict)  # only with reason(record=True)


RULE_DELTA = DELTA_GRAPH + "rule"


def _delta_keys(store: Store) -> set:
    """The dependency keys (see `_pattern_key`) of the triples in the rule delta graph."""
    rows = store.query(f"""SELECT DISTINCT ?p ?class WHERE {{
        GRAPH <{RULE_DELTA}> {{ ?s ?p ?o }} BIND (IF(?p = rdf:type, ?o, "") AS ?class) }}""").rows
    keys: set = set()
    for row in rows:
        keys |= triple_keys((None, row["p"], row["class"]))
    return keys

def _written_keys(keys) -> set:
    """The dependency keys that triples written under `keys` touch (`triple_keys`: a typing
    (rdf:type, C) also touches rdf:type itself, which a pattern with a variable class reads)."""
    return {k for key in keys for k in triple_keys((None, *key) if isinstance(key, tuple) else (None, key, None))}


def _inferred_count(store: Store, key) -> int:
    """How many triples of the inferred graph a dependency key (a predicate, or rdf:type and a
    class) matches: the engine walks that predicate's or class's index, not the whole graph."""
    predicate, cls = key if isinstance(key, tuple) else (key, None)
    return store.count_matching(GRAPH_INFERRED, predicate, cls)


def apply_rules(store: Store, report: ReasoningReport, rules: tuple[Rule, ...] | None = None,
                record: bool = False, progress: Callable[[str], None] | None = None) -> None:
    """Run each stratum's rules until none of them adds a triple, lowest stratum first. After the
    first pass only the rules that read something the previous pass added run again (the others
    cannot find anything new).

    A rule whose template names every predicate (and every class of an rdf:type) inserts straight
    into the inferred graph, and what it added is read off the counts of the inferred triples its
    template's keys match, before and after. An embedded store never forgets a triple it once
    held (pyoxigraph's in-memory store keeps removed quads in its indexes), so a delta graph
    filled and cleared for every rule left one dead entry per inferred triple in the indexes
    every later query walks: at 1M triples 220k of them, 14% of validation and of the named
    queries (system-obligations 0.51 -> 0.71 s). Any other rule, and every rule with `record`
    (which keeps each derived triple's rule), inserts into a delta graph first, whose size and
    predicates tell what it added, and which then joins the inferred graph."""
    rules = load_rules() if rules is None else rules
    store.clear(RULE_DELTA)
    counts: dict = {}  # dependency key -> inferred triples it matches, while nothing else wrote it
    strata = sorted({r.stratum for r in rules})
    for number, stratum in enumerate(strata, start=1):
        layer = [r for r in rules if r.stratum == stratum]
        pending = layer
        while pending:
            touched: set = set()
            for rule in pending:
                started = time.perf_counter()
                # every key names its predicate (and, for rdf:type, its class)
                exact = None not in rule.writes and RDF.type not in rule.writes
                direct = exact and not record and bool(rule.writes)
                try:
                    if direct:
                        before = {key: counts[key] if key in counts else _inferred_count(store, key)
                                  for key in rule.writes}
                        store.insert_where(GRAPH_INFERRED, rule.template_text, rule.insert_where(),
                                           named=rule.named_graphs)
                        counts.update((key, _inferred_count(store, key)) for key in rule.writes)
                        grown = {key for key in rule.writes if counts[key] > before[key]}
                        new = sum(counts[key] - before[key] for key in grown)
                    else:
                        store.insert_where(RULE_DELTA, rule.template_text, rule.insert_where(),
                                           named=rule.named_graphs)
                        new = store.count(RULE_DELTA)
                except QueryError as exc:
                    raise AimsGraphError(f"rule {rule.id} ({rule.file}) failed: {exc}") from exc
                if new and direct:
                    touched |= _written_keys(grown)
                elif new:
                    if record:
                        for t in store.triples(RULE_DELTA):
                            report.derived_by.setdefault(t, rule.id)
                    # what the delta really holds, not what the template could write: a template
                    # with a variable predicate would otherwise wake every rule of the stratum, and
                    # one with a variable class would wake no rule reading a class it wrote
                    keys = _written_keys(rule.writes) if exact else _delta_keys(store)
                    touched |= keys
                    store.add_graph(RULE_DELTA, GRAPH_INFERRED)
                    store.clear(RULE_DELTA)
                    counts = {} if None in keys else {k: v for k, v in counts.items() if k not in keys}
                if new:
                    report.per_rule[rule.id] = report.per_rule.get(rule.id, 0) + new
                    report.rule_triples += new
                report.seconds_per_rule[rule.id] = (report.seconds_per_rule.get(rule.id, 0.0)
                                                    + time.perf_counter() - started)
            pending = [r for r in layer if None in touched or r.reads is None or r.reads & touched] if touched else []
        if progress:
            progress(f"rules, stratum {number}/{len(strata)}: {report.rule_triples:,} triples")


def reason(store: Store, params: Parameters, owl_engine: str = "auto",
           progress: Callable[[str], None] | None = None, record: bool = False) -> ReasoningReport:
    """Fill the inferred graph from scratch for the data in `store`, judged at `params`;
    `progress` hears what has been derived so far. `record` keeps, for every rule-derived
    triple, the rule that first derived it (`ReasoningReport.derived_by`)."""
    owl_engine = resolve_engine(owl_engine, store)
    report = ReasoningReport(owl_engine)
    for graph in store.graphs():
        if graph == GRAPH_INFERRED or graph == GRAPH_PARAMETERS or graph.startswith(DELTA_GRAPH):
            store.clear(graph)
    started = time.perf_counter()
    # The closure reads ontology, catalogues and data only: the run's parameters come after it.
    if owl_engine == "sparql":
        report.owl_triples = sparql_closure(store, progress)
    elif owl_engine != "none":
        base = [t for graph in (GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA) for t in store.triples(graph)]
        report.owl_triples = store.add(GRAPH_INFERRED, owl_closure(base, owl_engine))
    report.seconds_owl = time.perf_counter() - started
    if progress:
        progress(f"OWL 2 RL: {report.owl_triples:,} triples; rules…")
    set_parameters(store, params)
    started = time.perf_counter()
    apply_rules(store, report, record=record, progress=progress)
    report.seconds_rules = time.perf_counter() - started
    return report
