"""Stage 2, reason: the OWL 2 RL closure of ontology + catalogues + data, then the domain rules
in `rules/` (SPARQL CONSTRUCT, stratified, each run to a fixpoint). Everything derived goes into
the inferred graph; every rule-derived triple remembers the rule that first produced it and the
variable bindings it was produced with, so `explain` can show its premises.

Each rule runs as the SELECT of its WHERE clause; its CONSTRUCT template is instantiated here from
every solution row (the same triples the CONSTRUCT gives, plus the bindings behind each one).

OWL engines: 'reasonable' (fast, default) or 'owlrl' (reference); 'none' skips the closure.
The domain rules are plain SPARQL and run unchanged on any store behind the Store interface.
"""

from __future__ import annotations

import re
import time
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import rdflib
from rdflib import Literal, URIRef, Variable
from rdflib.namespace import OWL, RDF, XSD
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

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
from .store import Node, Store, Triple

OWL_ENGINES = ("reasonable", "owlrl", "none")
_HEADER = re.compile(r"^#\s*(id|purpose|source|stratum):\s*(.+?)\s*$", re.MULTILINE)
_CONSTRUCT = re.compile(r"\bCONSTRUCT\s*\{[^{}]*\}\s*WHERE\b", re.IGNORECASE)

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
    """The shipped rules, ordered by stratum then file name."""
    rules = []
    for path in data_files("rules", ".rq"):
        text = path.read_text(encoding="utf-8")
        meta = dict(_HEADER.findall(text))
        missing = {"id", "purpose", "source", "stratum"} - meta.keys()
        if missing:
            raise AimsGraphError(f"rule file {path.name} lacks header field(s): {', '.join(sorted(missing))}")
        try:
            template, premises, reads = _parse_rule(text)
        except Exception as exc:  # rdflib raises pyparsing errors for bad SPARQL
            raise AimsGraphError(f"rule file {path.name} cannot be parsed: {exc}") from exc
        rules.append(Rule(meta["id"], meta["purpose"], meta["source"], int(meta["stratum"]), text, path.name,
                          template, premises, reads))
    return tuple(sorted(rules, key=lambda r: (r.stratum, r.file)))


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
    derived_by: dict[Triple, str] = field(default_factory=dict)  # rule-derived triple -> rule id
    bindings: dict[Triple, dict[str, Node]] = field(default_factory=dict)  # ... -> the solution that derived it
    per_rule: dict[str, int] = field(default_factory=dict)


def _keep(t: Triple) -> bool:
    """Drop closure noise nobody queries: literal subjects, reflexive sameAs, owl:Thing typing."""
    s, p, o = t
    if isinstance(s, Literal):
        return False
    if p == OWL.sameAs and s == o:
        return False
    return not (p == RDF.type and o in (OWL.Thing, rdflib.RDFS.Resource))


def _plain(t: Triple) -> Triple:
    """xsd:string literals as plain literals: RDF 1.1 says they are the same term, rdflib does not."""
    o = t[2]
    if isinstance(o, Literal) and o.datatype == XSD.string:
        return (t[0], t[1], Literal(str(o)))
    return t


def owl_closure(base: rdflib.Graph | Iterable[Triple], engine: str) -> set[Triple]:
    """Triples the OWL 2 RL closure adds to `base` (not those already in it). `base` may be a
    plain list of triples: reasonable reads those directly, without building an rdflib Graph."""
    if engine == "none":
        return set()
    triples = base if isinstance(base, rdflib.Graph) else list(base)
    known = base if isinstance(base, rdflib.Graph) else set(triples)
    if engine == "reasonable":
        import reasonable

        reasoner = reasonable.PyReasoner()
        reasoner.from_graph(triples)
        closure = (_plain(t) for t in reasoner.reason())
        return {t for t in closure if t not in known and _keep(t)}
    if engine == "owlrl":
        import owlrl

        expanded = rdflib.Graph()
        for t in triples:
            expanded.add(t)
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(expanded)
        return {t for t in expanded if t not in known and _keep(t)}
    raise AimsGraphError(f"unknown OWL engine '{engine}' (choose one of: {', '.join(OWL_ENGINES)})")


def apply_rules(store: Store, report: ReasoningReport, rules: tuple[Rule, ...] | None = None) -> None:
    """Run each stratum's rules until none of them adds a triple, lowest stratum first. After the
    first pass only the rules that read something the previous pass added run again (the others
    cannot find anything new), which halves the queries on a typical register."""
    rules = load_rules() if rules is None else rules
    for stratum in sorted({r.stratum for r in rules}):
        layer = [r for r in rules if r.stratum == stratum]
        pending = layer
        while pending:
            added = 0
            touched: set = set()
            for rule in pending:
                try:
                    result = store.query(rule.select_query)
                except QueryError as exc:
                    raise AimsGraphError(f"rule {rule.id} ({rule.file}) failed: {exc}") from exc
                solutions: dict[Triple, dict[str, Node]] = {}
                for row in result.rows:
                    for t in rule.instantiate(row):
                        solutions.setdefault(t, row)
                new = [t for t in solutions if not store.has(t)]
                if not new:
                    continue
                store.add(GRAPH_INFERRED, new)
                for t in new:
                    report.derived_by.setdefault(t, rule.id)
                    report.bindings.setdefault(t, solutions[t])
                report.per_rule[rule.id] = report.per_rule.get(rule.id, 0) + len(new)
                added += len(new)
                touched.update(key for t in new for key in triple_keys(t))
            report.rule_triples += added
            pending = [r for r in layer if r.reads is None or r.reads & touched] if added else []


def reason(store: Store, params: Parameters, owl_engine: str = "reasonable") -> ReasoningReport:
    """Fill the inferred graph from scratch for the data in `store`, judged at `params`."""
    if owl_engine not in OWL_ENGINES:
        raise AimsGraphError(f"unknown OWL engine '{owl_engine}' (choose one of: {', '.join(OWL_ENGINES)})")
    report = ReasoningReport(owl_engine)
    store.clear(GRAPH_INFERRED)
    set_parameters(store, params)
    started = time.perf_counter()
    base = [t for graph in (GRAPH_ONTOLOGY, GRAPH_CATALOGUES, GRAPH_DATA) for t in store.triples(graph)]
    inferred = owl_closure(base, owl_engine)
    report.owl_triples = store.add(GRAPH_INFERRED, inferred)
    report.seconds_owl = time.perf_counter() - started
    started = time.perf_counter()
    apply_rules(store, report)
    report.seconds_rules = time.perf_counter() - started
    return report
