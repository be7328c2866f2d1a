"""Stage 2, reason, kept current: after new data triples join a reasoned store, re-derive only
what they touch instead of reasoning from scratch (`add_data`).

How, in the terms of the rules' own text:
- The OWL 2 RL closure is monotone: its semi-naive rounds start from the new data triples alone
  (owl.sparql_closure with a seed).
- The domain rules are stratified and use NOT EXISTS, MINUS, OPTIONAL and aggregates, so new
  triples can also take conclusions away. Each stratum is brought up to date by delete and
  re-derive (DRed): a rule pattern that a changed triple matches gives bindings (unification);
  where the pattern is negated (or optional, or aggregated) and the triple is new, or positive
  and the triple is gone, the rule's conclusions under those bindings are deleted; each deleted
  triple is then checked by running the rules that can derive it with its terms bound, and kept
  if one does; finally the rules run with the bindings of every new or re-derived triple as a
  VALUES block, until nothing is added (semi-naive).
- Bindings go into VALUES only for variables that every solution binds through a triple pattern
  (not OPTIONAL or one-branch UNION variables, not BIND targets, not a sub-select's inner
  variables): pre-binding any other would change what the rule derives.
Anything outside what this handles (schema triples, blank nodes, an OWL engine that works on a
copy) falls back to reasoning from scratch, and says so in the report. Tests prove the result
equal to a full `reason` for every entity of the examples added this way.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import rdflib
from rdflib import BNode, URIRef, Variable
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue

from .cache import cached
from .errors import AimsGraphError, QueryError
from .namespaces import GRAPH_DATA, GRAPH_INFERRED, PREFIXES
from .resources import data_files
from .owl import DELTA_GRAPH, compile_updates, read_schema, resolve_engine, sparql_closure
from .reason import RULE_DELTA, Parameters, Rule, _unify, load_rules, reason
from .store import Dataset, Store, Triple

POSITIVE, NEGATIVE, BOTH = 1, -1, 0
_SCHEMA_PREDICATES = frozenset({RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range})
_CHUNK = 500  # rows per VALUES block
_WITNESS = re.compile(r"^#\s*witness:", re.MULTILINE)


@dataclass(frozen=True)
class _Use:
    """Where a rule reads a triple pattern: its polarity, and which of its variables are the
    rule's own (None: all; a sub-select's inner variables are not)."""

    pattern: tuple
    polarity: int
    shared: frozenset[str] | None


@dataclass(frozen=True)
class RuleForm:
    """A rule as the maintainer reads it."""

    rule: Rule
    uses: tuple[_Use, ...]
    certain: frozenset[str]  # variables VALUES may pre-bind (see the module docstring)
    # variables every solution binds to one of a few constants (a VALUES block, BIND of an IRI):
    # a changed triple with another value there cannot matter to the rule
    domains: dict = field(default_factory=dict, compare=False, hash=False)

    def seeds(self, index: "_Index", polarities: tuple[int, ...]) -> list[dict[str, rdflib.term.Node]]:
        """Bindings from every changed triple (in `index`) that a pattern of a polarity in
        `polarities` matches, restricted to the rule's own variables."""
        out = []
        for use in self.uses:
            if use.polarity not in polarities:
                continue
            for t in index.matching(use.pattern):
                bindings = _unify(use.pattern, t)
                if bindings is None or any(v not in self.domains.get(k, (v,)) for k, v in bindings.items()):
                    continue
                if use.shared is not None:
                    bindings = {k: v for k, v in bindings.items() if k in use.shared}
                out.append(bindings)
        return out


class _Index:
    """Changed triples by predicate, for unification."""

    def __init__(self, triples: Iterable[Triple] = ()):
        self.by_predicate: dict = defaultdict(set)
        for t in triples:
            self.by_predicate[t[1]].add(t)

    def matching(self, pattern: tuple) -> Iterable[Triple]:
        p = pattern[1]
        if isinstance(p, Variable):
            return [t for ts in self.by_predicate.values() for t in ts]
        if isinstance(p, URIRef):
            return self.by_predicate.get(p, ())
        # a property path: any triple of a predicate it names may take part
        return [t for q in set(_path_terms(p)) for t in self.by_predicate.get(q, ())]

    def __bool__(self) -> bool:
        return any(self.by_predicate.values())


def _path_terms(path) -> Iterable[URIRef]:
    if isinstance(path, URIRef):
        yield path
        return
    for name in ("args", "path"):
        inner = getattr(path, name, None)
        if inner is None:
            continue
        for part in inner if isinstance(inner, (list, tuple)) else [inner]:
            yield from _path_terms(part)


# ---------------------------------------------------------------------------- reading a rule


def _uses(node, polarity: int, shared: frozenset[str] | None, out: list[_Use], witness: bool = False) -> None:
    if isinstance(node, CompValue):
        name = node.name
        if name in ("BGP", "TriplesBlock"):
            out.extend(_Use(tuple(t), polarity, shared) for t in node["triples"])
            return
        if name in ("Builtin_NOTEXISTS", "Builtin_EXISTS"):
            # the translated pattern is the attribute; the item keeps the parse tree, whose
            # FILTERs rdflib has moved out of it
            _uses(node.graph, -polarity if name == "Builtin_NOTEXISTS" else polarity, shared, out, witness)
            return
        if name in ("Minus",):
            _uses(node["p1"], polarity, shared, out, witness)
            _uses(node["p2"], -polarity, shared, out, witness)
            return
        if name == "MinusGraphPattern":
            _uses(node["graph"], -polarity, shared, out, witness)
            return
        if name == "LeftJoin":
            _uses(node["p1"], polarity, shared, out, witness)
            _uses(node["p2"], BOTH, shared, out, witness)
            _uses(node.get("expr"), BOTH, shared, out, witness)
            return
        if name in ("Group", "AggregateJoin") and witness:
            # a witness sub-select (the rule's `# witness:` header): it picks one of the rows
            # and the conclusions do not depend on which, so a row more or less is an ordinary
            # premise, not a change to an aggregate
            for value in node.values():
                _uses(value, polarity, shared, out, witness)
            return
        if name in ("OptionalGraphPattern", "Group", "AggregateJoin", "UnaryNot", "ConditionalOrExpression"):
            for value in node.values():
                _uses(value, BOTH, shared, out, witness)
            return
        if name == "Project":  # a sub-select: only its projected variables are shared
            projected = frozenset(str(v) for v in node["PV"])
            _uses(node["p"], polarity, projected if shared is None else shared & projected, out, witness)
            return
        if name == "SubSelect":
            _uses(node.get("where"), BOTH, frozenset(), out)
            return
        for value in node.values():
            _uses(value, polarity, shared, out, witness)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _uses(value, polarity, shared, out, witness)


def _certain(node) -> set[str]:
    """Variables every solution of an algebra node binds."""
    if not isinstance(node, CompValue):
        return set()
    name = node.name
    if name == "BGP":
        return {str(t) for triple in node["triples"] for t in triple if isinstance(t, Variable)}
    if name == "Join":
        return _certain(node["p1"]) | _certain(node["p2"])
    if name in ("LeftJoin", "Minus"):
        return _certain(node["p1"])
    if name == "Union":
        return _certain(node["p1"]) & _certain(node["p2"])
    if name == "Extend":
        return _certain(node["p"]) | {str(node["var"])}
    if name == "Project":
        return _certain(node["p"]) & {str(v) for v in node["PV"]}
    if name in ("Filter", "Distinct", "Reduced", "OrderBy", "Slice", "ToMultiSet", "Graph"):
        return _certain(node["p"])
    return set()


def _bind_targets(node) -> set[str]:
    """BIND targets of the rule's own level (not inside a sub-select): VALUES may not bind them."""
    if isinstance(node, CompValue):
        if node.name == "ToMultiSet":
            return set()
        found = {str(node["var"])} if node.name == "Extend" else set()
        for value in node.values():
            found |= _bind_targets(value)
        return found
    if isinstance(node, (list, tuple)):
        return set().union(*(_bind_targets(v) for v in node)) if node else set()
    return set()


def _constants(node) -> dict[str, set]:
    """Variables that every solution of an algebra node binds through a VALUES block or a BIND
    of a constant, with those constants."""
    if not isinstance(node, CompValue):
        return {}
    name = node.name
    if name == "values":
        found: dict[str, set] = {}
        for row in node["res"]:
            for var, value in row.items():
                found.setdefault(str(var), set()).add(value)
        variables = {str(v) for row in node["res"] for v in row}
        return {v: found[v] for v in variables if all(Variable(v) in row for row in node["res"])}
    if name == "Join":
        left, right = _constants(node["p1"]), _constants(node["p2"])
        return {**left, **{k: (left[k] & v if k in left else v) for k, v in right.items()}}
    if name in ("LeftJoin", "Minus"):
        return _constants(node["p1"])
    if name == "Union":
        left, right = _constants(node["p1"]), _constants(node["p2"])
        return {k: left[k] | right[k] for k in left.keys() & right.keys()}
    if name == "Extend":
        inner = _constants(node["p"])
        if isinstance(node["expr"], (URIRef, rdflib.Literal)):
            inner[str(node["var"])] = {node["expr"]}
        return inner
    if name in ("Filter", "Distinct", "Reduced", "OrderBy", "Slice", "ToMultiSet", "Graph", "Project"):
        return _constants(node["p"])
    return {}


@lru_cache(maxsize=1)
def rule_forms() -> tuple[RuleForm, ...]:
    """The shipped rules as the maintainer reads them (parsed once per version: cache.py)."""
    return cached("rule-forms", [*data_files("rules", ".rq"), Path(__file__)], _read_rules)


def _read_rules() -> tuple[RuleForm, ...]:
    forms = []
    for rule in load_rules():
        algebra = prepareQuery(rule.select_query,
                               initNs={k: rdflib.Namespace(v) for k, v in PREFIXES.items()}).algebra
        root = algebra["p"]["p"]  # under the SELECT * projection
        uses: list[_Use] = []
        _uses(root, POSITIVE, None, uses, witness=bool(_WITNESS.search(rule.query)))
        certain = frozenset(_certain(root) - _bind_targets(root))
        forms.append(RuleForm(rule, tuple(dict.fromkeys(uses)), certain, _constants(root)))
    return tuple(forms)


# ---------------------------------------------------------------------------- the maintainer


@dataclass
class MaintenanceReport:
    """What `add_data` did. `added`/`removed`: the net change of the union of the store's
    graphs (data, OWL closure, rule conclusions), which validation is brought up to date with."""

    data_added: int = 0
    owl_added: int = 0
    rules_added: int = 0
    rules_removed: int = 0
    rederived: int = 0
    rule_runs: int = 0
    seconds: float = 0.0
    fallback: str | None = None  # why it reasoned from scratch instead
    # None after a fallback: anything may have changed
    added: set | None = field(default_factory=set)
    removed: set | None = field(default_factory=set)


def _values(rows: list[dict]) -> list[str]:
    """VALUES blocks (at most _CHUNK rows each) for binding rows, grouped by their variables."""
    groups: dict[tuple[str, ...], set[tuple]] = defaultdict(set)
    for row in rows:
        names = tuple(sorted(row))
        groups[names].add(tuple(row[n] for n in names))
    blocks = []
    for names, tuples in groups.items():
        ordered = sorted(tuples, key=lambda r: tuple(str(x) for x in r))
        for start in range(0, len(ordered), _CHUNK):
            body = " ".join("(" + " ".join(t.n3() for t in r) + ")" for r in ordered[start:start + _CHUNK])
            blocks.append(f"VALUES ({' '.join('?' + n for n in names)}) {{ {body} }}")
    return blocks


def present(store: Store, triples: Iterable[Triple], graph: str | None = None,
             dataset: Dataset | None = None) -> set[Triple]:
    """Which of `triples` the store holds (in `graph`, else in the default graph of `dataset`,
    by default the union of every graph)."""
    triples = [t for t in triples if not any(isinstance(x, BNode) for x in t)]
    found: set[Triple] = set()
    for start in range(0, len(triples), _CHUNK):
        chunk = triples[start:start + _CHUNK]
        body = " ".join(f"({s.n3()} {p.n3()} {o.n3()})" for s, p, o in chunk)
        pattern = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
        rows = store.query(f"SELECT ?s ?p ?o WHERE {{ VALUES (?s ?p ?o) {{ {body} }} {pattern} }}",
                           dataset=dataset).rows
        found |= {(r["s"], r["p"], r["o"]) for r in rows}
    return found


def _schema_triple(t: Triple) -> bool:
    s, p, o = t
    if p in _SCHEMA_PREDICATES or str(p).startswith(str(OWL)):
        return True
    return p == RDF.type and (str(o).startswith(str(OWL)) or o in (RDFS.Class, RDF.Property))


# While the maintainer works, what it adds stays out of the data and inferred graphs, and what
# it removes from the inferred graph is kept aside: queries can then read the store as it was
# (for what lost its support) or as it is becoming (for what is derived now), and the data graph
# is untouched until the last update, which merges the additions in one step.
NEW_DATA = DELTA_GRAPH + "increment/data"
NEW_INFERRED = DELTA_GRAPH + "increment/inferred"
REMOVED = DELTA_GRAPH + "increment/removed"
INCREMENT_GRAPHS = (NEW_DATA, NEW_INFERRED, REMOVED)


class _Maintainer:
    def __init__(self, store: Store, report: MaintenanceReport):
        self.store = store
        self.report = report
        self.forms = rule_forms()
        self.before: dict[Triple, bool] = {}  # whether a triple touched was in the store before the change
        physical = getattr(store, "physical", lambda g: g)
        base = [physical(g) for g in store.graphs() if not g.startswith(DELTA_GRAPH)]
        extra = lambda *gs: [physical(g) for g in gs]  # noqa: E731
        self.old = Dataset(tuple(base + extra(REMOVED)), tuple(base + extra(REMOVED)))
        self.new = Dataset(tuple(base + extra(NEW_DATA, NEW_INFERRED, RULE_DELTA)),
                           tuple(base + extra(NEW_DATA, NEW_INFERRED, RULE_DELTA)))
        self.owl_updates = {}
        self.owl_rules = compile_updates(read_schema(store))  # the closure runs these too
        for update in self.owl_rules:
            kind, _, iri = update.name.partition(" ")
            if update.branches is not None:
                key = (RDF.type, URIRef(iri)) if kind == "type" else URIRef(iri)
                self.owl_updates[key] = update

    def _collect(self) -> set[Triple]:
        """The delta graph's triples, moved to the increment's inferred graph."""
        store = self.store
        new = set(store.triples(RULE_DELTA))
        if new:
            store.add_graph(RULE_DELTA, NEW_INFERRED)
        store.clear(RULE_DELTA)
        for t in new:
            self.before.setdefault(t, False)  # absent when inserted, and not removed before
        return new

    def run(self, runs: list[tuple[Rule, str | None]]) -> set[Triple]:
        """One pass of rule runs on the store as it is becoming; returns what they added."""
        store = self.store
        store.clear(RULE_DELTA)
        for rule, values in runs:
            try:
                store.insert_where(RULE_DELTA, rule.template_text, rule.insert_where(values, probe=values is not None),
                                   dataset=self.new)
            except QueryError as exc:
                raise AimsGraphError(f"rule {rule.id} ({rule.file}) failed: {exc}") from exc
            self.report.rule_runs += 1
        return self._collect()

    def seeded(self, form: RuleForm, seeds: list[dict]) -> list[str | None]:
        """VALUES blocks for `seeds`, of the bindings VALUES may hold; [None] (run unrestricted)
        when some seed leaves nothing to bind."""
        rows = []
        for seed in seeds:
            row = {k: v for k, v in seed.items() if k in form.certain and not isinstance(v, BNode)}
            if not row:
                return [None]
            rows.append(row)
        return _values(rows)

    def conclusions(self, form: RuleForm, seeds: list[dict]) -> set[Triple]:
        """What the rule concluded, in the store as it was, from solutions agreeing with `seeds`."""
        found: set[Triple] = set()
        variables = sorted({str(t) for p in form.rule.template for t in p if isinstance(t, Variable)})
        for block in self.seeded(form, seeds):
            where = f"{block or ''}\n{form.rule.where_text}\n"
            try:
                rows = self.store.query(f"SELECT DISTINCT {' '.join('?' + v for v in variables)} WHERE {{\n{where}}}",
                                        dataset=self.old).rows
            except QueryError as exc:
                raise AimsGraphError(f"rule {form.rule.id} ({form.rule.file}) failed: {exc}") from exc
            self.report.rule_runs += 1
            for row in rows:
                found.update(form.rule.instantiate(row))
        return found

    def remove(self, triples: set[Triple]) -> set[Triple]:
        """Take `triples` out of the store as it is becoming; returns those that were there."""
        store = self.store
        held = present(store, triples, GRAPH_INFERRED)
        fresh = present(store, triples, NEW_INFERRED)
        if held:
            store.remove(GRAPH_INFERRED, held)
            store.add(REMOVED, held)
        if fresh:
            store.remove(NEW_INFERRED, fresh)
        for t in held:
            self.before.setdefault(t, True)  # present when removed, and not added before
        return held | fresh

    def rederive(self, candidates: set[Triple], forms: list[RuleForm]) -> set[Triple]:
        """Of `candidates` (just removed), those that `forms` or the OWL 2 RL closure still
        derive, put back; returns them and anything else a run added."""
        runs: list[tuple[Rule, str | None]] = []
        for form in forms:
            seeds = [b for t in candidates for p in form.rule.template if (b := _unify(p, t)) is not None]
            if seeds:
                runs += [(form.rule, block) for block in self.seeded(form, seeds)]
        back = self.run(runs) if runs else set()
        owl = [t for t in candidates - back if self._owl_update(t) is not None]
        if owl:
            back |= self.owl_rederive(owl)
        return back

    def _owl_update(self, t: Triple):
        return self.owl_updates.get((t[1], t[2])) if t[1] == RDF.type else self.owl_updates.get(t[1])

    def owl_rederive(self, triples: list[Triple]) -> set[Triple]:
        store = self.store
        store.clear(RULE_DELTA)
        by_update: dict = defaultdict(list)
        for t in triples:
            by_update[self._owl_update(t)].append({"x": t[0]} if t[1] == RDF.type else {"x": t[0], "y": t[2]})
        for update, rows in by_update.items():
            for block in _values(rows):
                store.insert_where(RULE_DELTA, update.template, update.seeded_where(block), dataset=self.new)
        return self._collect()

    def stratum(self, layer: list[RuleForm], lower: list[RuleForm], plus: set[Triple], minus: set[Triple],
                pending: set[Triple]) -> None:
        """Bring one stratum up to date; `plus`/`minus` (triples added to / removed from the
        store so far) and `pending` (removed, not re-derived yet) are updated in place."""
        # 1. remove what may have lost its support, within the stratum too
        deleted_here: set[Triple] = set()
        grown, shrunk = _Index(plus), _Index(minus)
        while grown or shrunk:
            candidates: set[Triple] = set()
            for form in layer:
                seeds = form.seeds(grown, (NEGATIVE, BOTH)) + form.seeds(shrunk, (POSITIVE, BOTH))
                if seeds:
                    candidates |= self.conclusions(form, seeds)
            candidates -= deleted_here
            if any(isinstance(x, BNode) for t in candidates for x in t):
                raise _Fallback("a conclusion to re-check holds a blank node")
            removed = self.remove(candidates) if candidates else set()
            if not removed:
                break
            deleted_here |= removed
            minus |= removed
            grown, shrunk = _Index(), _Index(removed)
        # 2. keep what is still derived: the new removals by every rule up to this stratum, the
        # older ones by this stratum's rules (the lower strata have checked them already)
        back: set[Triple] = set()
        if deleted_here:
            back |= self.rederive(deleted_here, lower + layer)
        older = pending - deleted_here
        if older:
            back |= self.rederive(older, layer)
        pending |= deleted_here
        # 3. add what the changes allow, until nothing more is added
        new = set(back)
        seeds_plus, seeds_minus = plus | back, set(minus)
        while True:
            grown, shrunk = _Index(seeds_plus), _Index(seeds_minus)
            runs = []
            for form in layer:
                seeds = form.seeds(grown, (POSITIVE, BOTH)) + form.seeds(shrunk, (NEGATIVE, BOTH))
                if seeds:
                    runs += [(form.rule, block) for block in self.seeded(form, seeds)]
            added = (self.run(runs) if runs else set()) - new
            if not added:
                break
            new |= added
            seeds_plus, seeds_minus = added, set()
        self.report.rederived += len(new & pending)
        pending -= new
        plus |= new


class _Fallback(Exception):
    pass


def not_incremental(store: Store, triples: Iterable[Triple], owl_engine: str = "auto") -> str | None:
    """Why adding `triples` needs reasoning from scratch, or None when `add_data` maintains."""
    triples = list(triples)
    if any(isinstance(x, BNode) for t in triples for x in t):
        return "the new data holds blank nodes"
    if any(_schema_triple(t) for t in triples):
        return "the new data changes the schema (classes, properties, OWL axioms)"
    engine = resolve_engine(owl_engine, store)
    if engine != "sparql":
        return f"the OWL engine '{engine}' reasons over a copy of the store"
    return None


class NotIncremental(AimsGraphError):
    """Raised by `add_data(..., fallback=False)` instead of reasoning from scratch."""


def add_data(store: Store, triples: Iterable[Triple], params: Parameters, owl_engine: str = "auto",
             fallback: bool = True, finish: str = "") -> MaintenanceReport:
    """Add `triples` to the data graph of a store reasoned at `params`, and bring the inferred
    graph up to date by re-deriving only what they touch (the module docstring says how).
    Equal to adding them and calling `reason` from scratch, which it does instead when the
    change is outside what incremental maintenance handles (`report.fallback` says why; with
    `fallback=False` it raises NotIncremental, the store holding the data graph it had and an
    inferred graph to be rebuilt). `finish`: update operations run in the same request as the
    final merge (a persistent store's commit)."""
    started = time.perf_counter()
    report = MaintenanceReport()
    triples = list(dict.fromkeys(triples))
    known = present(store, triples, GRAPH_DATA)
    new = [t for t in triples if t not in known]
    report.data_added = len(new)
    if not new:
        report.seconds = time.perf_counter() - started
        return report
    why = not_incremental(store, new, owl_engine)
    if why is None:
        try:
            _maintain(store, new, report, finish)
        except _Fallback as exc:
            why = str(exc)
    if why is not None:
        if not fallback:
            for graph in INCREMENT_GRAPHS:
                store.clear(graph)
            raise NotIncremental(why)
        for graph in INCREMENT_GRAPHS:
            store.clear(graph)
        store.add(GRAPH_DATA, new)
        reason(store, params, owl_engine)
        report.fallback, report.added, report.removed = why, None, None
    report.seconds = time.perf_counter() - started
    return report


def _maintain(store: Store, new: list[Triple], report: MaintenanceReport, finish: str = "") -> None:
    for graph in INCREMENT_GRAPHS:
        store.clear(graph)
    before_union = present(store, new)
    store.add(NEW_DATA, new)
    maintainer = _Maintainer(store, report)
    owl_new: list[Triple] = []
    report.owl_added = sparql_closure(store, seed=new, collect=owl_new, target=NEW_INFERRED,
                                      updates=maintainer.owl_rules)
    before = maintainer.before
    for t in new:
        before.setdefault(t, t in before_union)
    for t in owl_new:
        before.setdefault(t, False)
    plus = {t for t in new if t not in before_union} | set(owl_new)
    minus: set[Triple] = set()
    pending: set[Triple] = set()
    forms = maintainer.forms
    for stratum in sorted({f.rule.stratum for f in forms}):
        layer = [f for f in forms if f.rule.stratum == stratum]
        lower = [f for f in forms if f.rule.stratum < stratum]
        maintainer.stratum(layer, lower, plus, minus, pending)
    # the net change: what is there now and was not before, and the other way round
    after = present(store, before, dataset=maintainer.new)
    report.added = {t for t, was in before.items() if not was and t in after}
    report.removed = {t for t, was in before.items() if was and t not in after}
    report.rules_removed = len(report.removed)
    report.rules_added = len(report.added) - len({t for t in new if t not in before_union}) - len(owl_new)
    # the one update that makes the increment part of the data and the inferences
    store.update(f"ADD SILENT <{NEW_DATA}> TO <{GRAPH_DATA}> ; ADD SILENT <{NEW_INFERRED}> TO <{GRAPH_INFERRED}> ; "
                 f"DROP SILENT GRAPH <{NEW_DATA}> ; DROP SILENT GRAPH <{NEW_INFERRED}>" + (f" ; {finish}" if finish else ""))
    store.clear(REMOVED)
