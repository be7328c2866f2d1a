"""Focus-scoped re-validation: after a small change to the store, the results `shacl.run` would
give now, from the results it gave before, re-running each compiled query only for the focus
nodes the change can affect.

`revalidate(compiled, store, added, removed, previous)`: `store` is in the new state, `added` /
`removed` the triples that appeared in / disappeared from the union of its graphs (net), and
`previous` exactly `shacl.run(compiled, store_before)`. It returns exactly `shacl.run(compiled,
store)`: the same list in the same order.

Why it is exact. Take one compiled query Q (a SELECT whose every solution binds ?this) and the
old and new graphs G1, G2, which differ by the changed triples D = added + removed. Read Q's
algebra as a tree of groups. For a triple pattern p of Q, its *ancestry* Anc(p) is the
conjunction of the triple patterns (and VALUES tables) every solution going through p also
matches: p's own BGP, and at each enclosing node the patterns of the sides that are joined to it
unconditionally -- both sides of a Join, the left side of an OPTIONAL or MINUS when p is on the
right, the group a FILTER (NOT) EXISTS filters when p is inside it; never a sibling OPTIONAL,
another UNION branch or a filter expression (dropping a constraint only widens). A variable of an
inner part (OPTIONAL right side, MINUS right side, EXISTS, sub-select) keeps its name in Anc(p)
only where the outer part binds it in every solution (the left side's certainly bound
variables; a sub-select's projection); elsewhere it is renamed apart, because the solution that
witnesses the change need not agree with the outer part on it.

Lemma (by induction over the algebra): if a solution μ of a pattern P is in one graph's answer
and not the other's, there is a triple pattern p in P, a changed triple t and a graph Gi that
holds t, with a homomorphism h of Anc(p) into Gi, h(p) = t, agreeing with μ on the variables of
Anc(p) that kept their names. The cases: a BGP (some triple of μ changed); a Join (either a
pattern of μ's mandatory part changed -- then μ itself is the witness -- or the differing side's
witness extends by μ's other side, whose triples are then in both graphs); an OPTIONAL, MINUS or
(NOT) EXISTS whose inner answer changed (the inner witness extends by the outer mandatory part,
on the shared, certainly bound variables); a UNION (the branch μ came from); a sub-select (the
projection). So a focus node f whose rows changed is h(?this) for a homomorphism of Anc(p) with
p mapped to a changed triple -- provided ?this is among Anc(p)'s variables under its own name.

The candidates of Q are therefore, for each pattern p and each side:
  added:   SELECT DISTINCT ?this { VALUES σ  Anc(p) - p }          on the store (G2 holds t)
  removed: the same, each pattern q of Anc(p) - p matched against G2 or the removed triples
           ({ q } UNION { VALUES σq }), because the witness lives in G1, which G2 + removed
           contains (the superset only widens).
where σ are the unifiers of p with the changed triples of that side (one query per pattern and
side, all its triples in one VALUES block). Q is re-run with `VALUES ?this { candidates }` first
in its WHERE group -- the same rows for those focus nodes, since every solution binds ?this and
a filter on it commutes with the joins, OPTIONALs, MINUS and GROUP BY ?this around it -- and
its previous results for those focus nodes are replaced.

Where this cannot be localised the query is re-run whole (correct, slower): a pattern that a
changed triple matches but whose ancestry does not reach ?this; a changed triple or candidate
with a blank node (VALUES cannot hold one), or a literal focus node (rdflib may have normalised
its lexical form; literals elsewhere in the VALUES blocks are left UNDEF, which only widens); a
property path other than sequences, inverses and alternatives of IRIs that a changed triple's
predicate could feed (a * or ? path, or a negated one, depends on every node, so on any change);
a query whose algebra the analysis does not cover (GRAPH, SERVICE, LIMIT in a sub-select ...).
A changed rdfs:subClassOf triple can change the subclass sets the queries are written with
(`shacl.resolve_classes`): then everything is run again (`shacl.run`).

Order: `run` concatenates the queries' results and sorts them stably by `_result_order`, so
its list is ordered by (_result_order, query position); results tie on that only within one
query (then they are equal as ValidationResults). Results are told apart by (shape, component,
constraint); the queries sharing that key are adjacent (the compiler writes them together) and
are re-run together. The kept previous results stay in their order and the few new ones are
placed by bisection on (_result_order, group position): sorting the ~100k results of a 1M-triple
register again would cost more than the re-validation itself.

Assumed, as in the shipped shapes: aggregates count DISTINCT values (a change of a solution's
multiplicity alone, with no solution appearing or disappearing, is not looked for).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import operator
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import RDFS
from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Node, Variable

from .cache import cached
from .namespaces import PREFIXES
from .shacl import _OPAQUE, HELPER, CompiledShapes, ValidationResult, _result_order, resolve_classes, run
from .store import Store, Triple, matching_brace

THIS = Variable("this")
ALL = None  # a query's candidates when it cannot be localised: every focus node
# Past this many candidates a query runs whole and its rows are filtered: at 1M triples
# obligation-partially-covered took 0.97 s restricted to 1,752 systems, 0.54 s whole.
WHOLE_ABOVE = 1000


class _Unsupported(Exception):
    """The analysis does not cover this part of a query (it is then re-run on any change)."""


# ---------------------------------------------------------------------------- atoms


@dataclass(frozen=True)
class _Triple:
    """A triple pattern: `p` a variable or the IRIs it may be (an alternative of IRIs)."""

    s: Node
    p: Variable | tuple[URIRef, ...]
    o: Node

    def variables(self) -> tuple[Variable, ...]:
        return tuple(dict.fromkeys(t for t in (self.s, self.p, self.o) if isinstance(t, Variable)))

    def text(self) -> str:
        p = self.p.n3() if isinstance(self.p, Variable) else "|".join(i.n3() for i in self.p)
        return f"{self.s.n3()} {p} {self.o.n3()} ."


@dataclass(frozen=True)
class _PathAtom:
    """A property path kept as written; `preds` the IRIs it reads, None for any predicate."""

    s: Node
    path: str
    o: Node
    preds: frozenset[URIRef] | None

    def text(self) -> str:
        return f"{self.s.n3()} {self.path} {self.o.n3()} ."


@dataclass(frozen=True)
class _Values:
    """A VALUES table (None: UNDEF): independent of the graph, so it stays in the ancestry."""

    variables: tuple[Variable, ...]
    rows: tuple[tuple[Node | None, ...], ...]

    def text(self) -> str:
        return _values_text(self.variables, self.rows)


def _values_text(variables, rows) -> str:
    head = " ".join(v.n3() for v in variables)
    body = " ".join("(" + " ".join("UNDEF" if t is None else t.n3() for t in row) + ")" for row in rows)
    return f"VALUES ({head}) {{ {body} }}"


# ---------------------------------------------------------------------------- the analysis


class _Env:
    """Variable names inside one scope: a variable outside `shared` is renamed apart from the
    enclosing scope's (see the module docstring); the root scope keeps every name."""

    def __init__(self, parent: _Env | None = None, shared: set[Variable] = frozenset(), tag: int = 0):
        self.parent, self.shared, self.tag = parent, shared, tag

    def __call__(self, v: Variable) -> Variable:
        if self.parent is None:
            return v
        if v in self.shared:
            return self.parent(v)
        return Variable(f"{HELPER}r{self.tag}_{v}")


@dataclass
class _Part:
    mand: list  # atoms every solution matches (scope's names)
    certain: set[Variable]  # variables every solution binds (original names)
    paths: list[tuple[_Triple, list]]  # each triple pattern with its ancestry (itself included)


@dataclass(frozen=True)
class _Plan:
    """What the analysis found in one query text."""

    paths: tuple[tuple[_Triple, tuple, bool], ...] = ()  # (pattern, ancestry, ?this reachable)
    path_preds: frozenset[URIRef] = frozenset()  # predicates read by kept property paths
    any_pred: bool = False  # a path reads any predicate or every node
    restrictable: bool = False  # every solution binds ?this on the top level
    unsupported: str | None = None


class _Analyser:
    def __init__(self) -> None:
        self.tags = itertools.count(1)
        self.path_preds: set[URIRef] = set()
        self.any_pred = False

    def child(self, env: _Env, shared: set[Variable]) -> _Env:
        return _Env(env, set(shared), next(self.tags))

    def term(self, t: Node, env: _Env) -> Node:
        if isinstance(t, Variable):
            return env(t)
        if isinstance(t, BNode):  # a blank node in a query pattern is a variable of its BGP
            return env(Variable(f"{HELPER}bn{t}"))
        return t

    def part(self, node, env: _Env) -> _Part:
        name = node.name
        if name == "BGP":
            atoms: list = []
            certain: set[Variable] = set()
            for s, p, o in node.triples:
                atoms += self.atoms(s, p, o, env, certain)
            return _Part(atoms, certain, [(a, atoms) for a in atoms if isinstance(a, _Triple)])
        if name == "Join":
            x, y = self.part(node.p1, env), self.part(node.p2, env)
            return _Part(x.mand + y.mand, x.certain | y.certain,
                         [(a, anc + y.mand) for a, anc in x.paths] + [(a, anc + x.mand) for a, anc in y.paths])
        if name in ("LeftJoin", "Minus"):
            x = self.part(node.p1, env)
            inner_env = self.child(env, x.certain)
            y = self.part(node.p2, inner_env)
            paths = x.paths + [(a, anc + x.mand) for a, anc in y.paths]
            if name == "LeftJoin":  # the OPTIONAL's filter sees both sides' bindings
                exists_env = self.child(inner_env, x.certain | y.certain)
                for pattern in self.exists(node.get("expr")):
                    e = self.part(pattern, exists_env)
                    paths += [(a, anc + x.mand + y.mand) for a, anc in e.paths]
            return _Part(x.mand, x.certain, paths)
        if name in ("Filter", "Extend"):
            x = self.part(node.p, env)
            paths = list(x.paths)
            exists = list(self.exists(node.expr))
            if exists:
                exists_env = self.child(env, x.certain)
                for pattern in exists:
                    e = self.part(pattern, exists_env)
                    paths += [(a, anc + x.mand) for a, anc in e.paths]
            return _Part(x.mand, x.certain, paths)
        if name == "Union":
            x, y = self.part(node.p1, env), self.part(node.p2, env)
            return _Part([], x.certain & y.certain, x.paths + y.paths)
        if name in ("ToMultiSet", "Distinct", "Reduced", "OrderBy"):
            return self.part(node.p, env)
        if name == "values":
            variables = tuple(sorted({v for row in node.res for v in row}, key=str))
            rows = tuple(dict.fromkeys(tuple(row.get(v) for v in variables) for row in node.res))
            if any(isinstance(t, BNode) for row in rows for t in row):
                raise _Unsupported("a blank node in VALUES")
            certain = {v for v in variables if all(v in row for row in node.res)}
            return _Part([_Values(tuple(env(v) for v in variables), rows)], certain, [])
        if name == "Project":  # a sub-select: its other variables are its own
            projected = set(node.PV)
            x = self.part(node.p, self.child(env, projected))
            return _Part(x.mand, x.certain & projected, x.paths)
        if name == "Group":
            x = self.part(node.p, env)
            keys = {v for v in (node.expr or []) if isinstance(v, Variable)}
            return _Part(x.mand, x.certain & keys, x.paths)
        if name == "AggregateJoin":
            if list(self.exists(node.A)):
                raise _Unsupported("EXISTS inside an aggregate")
            return self.part(node.p, env)
        raise _Unsupported(name)

    def exists(self, expr):
        """The graph patterns of the (NOT) EXISTS in an expression (rdflib leaves some of them
        as parse trees: translated here)."""
        from rdflib.plugins.sparql.algebra import translateGroupGraphPattern

        if isinstance(expr, CompValue):
            if expr.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                graph = expr.graph
                if graph.name in ("GroupGraphPatternSub", "SubSelect") and not graph.translated:
                    graph = translateGroupGraphPattern(graph)
                yield graph
                return
            for key, value in expr.items():
                if key != "_vars":
                    yield from self.exists(value)
        elif isinstance(expr, (list, tuple)):
            for item in expr:
                yield from self.exists(item)

    def atoms(self, s, p, o, env: _Env, certain: set[Variable]) -> list:
        for t in (s, p, o):
            if isinstance(t, Variable):
                certain.add(t)
            elif isinstance(t, BNode):
                certain.add(Variable(f"{HELPER}bn{t}"))
        s, o = self.term(s, env), self.term(o, env)
        if isinstance(p, (Variable, BNode)):
            return [_Triple(s, self.term(p, env), o)]
        if isinstance(p, URIRef):
            return [_Triple(s, (p,), o)]
        steps = _steps(p)
        if steps is None:  # kept as a path: it only constrains, never takes a changed triple
            preds = _path_preds(p)
            if preds is None:
                self.any_pred = True
            else:
                self.path_preds |= preds
            return [_PathAtom(s, _path_text(p), o, preds)]
        out, here = [], s
        for i, (preds, inverse) in enumerate(steps):
            if i == len(steps) - 1:
                there = o
            else:  # the sequence's inner nodes: variables of this BGP alone
                local = Variable(f"{HELPER}seq{next(self.tags)}")
                certain.add(local)
                there = env(local)
            out.append(_Triple(there, preds, here) if inverse else _Triple(here, preds, there))
            here = there
        return out


def _steps(path) -> list[tuple[tuple[URIRef, ...], bool]] | None:
    """A path as (IRIs, inverse?) steps when it is made of IRIs, inverses, sequences and
    alternatives of IRIs alone; None otherwise."""
    if isinstance(path, URIRef):
        return [((path,), False)]
    if isinstance(path, InvPath):
        inner = _steps(path.arg)
        return None if inner is None else [(preds, not inv) for preds, inv in reversed(inner)]
    if isinstance(path, SequencePath):
        out = []
        for arg in path.args:
            inner = _steps(arg)
            if inner is None:
                return None
            out += inner
        return out
    if isinstance(path, AlternativePath):
        options = [_steps(arg) for arg in path.args]
        if any(o is None or len(o) != 1 for o in options):
            return None
        directions = {o[0][1] for o in options}
        if len(directions) != 1:
            return None
        return [(tuple(sorted({p for o in options for p in o[0][0]})), directions.pop())]
    return None


def _path_preds(path) -> frozenset[URIRef] | None:
    """The IRIs a path reads; None where it may match without a triple (*, ?: every node is
    an answer) or reads any predicate (negated sets)."""
    if isinstance(path, URIRef):
        return frozenset((path,))
    if isinstance(path, NegatedPath):
        return None
    if isinstance(path, MulPath):
        return None if path.mod in ("*", "?") else _path_preds(path.path)
    args = [path.arg] if isinstance(path, InvPath) else list(path.args)
    out: set[URIRef] = set()
    for arg in args:
        inner = _path_preds(arg)
        if inner is None:
            return None
        out |= inner
    return frozenset(out)


def _path_text(path) -> str:
    """SPARQL text of a path, every compound parenthesised (rdflib's n3 is not, for nesting)."""
    if isinstance(path, URIRef):
        return path.n3()
    if isinstance(path, InvPath):
        return f"^({_path_text(path.arg)})"
    if isinstance(path, SequencePath):
        return "(" + " / ".join(_path_text(a) for a in path.args) + ")"
    if isinstance(path, AlternativePath):
        return "(" + " | ".join(_path_text(a) for a in path.args) + ")"
    if isinstance(path, MulPath):
        return f"({_path_text(path.path)}){path.mod}"
    if isinstance(path, NegatedPath):
        return "!(" + " | ".join(_path_text(a) for a in path.args) + ")"
    raise _Unsupported(f"path {path!r}")


@lru_cache(maxsize=512)
def plan(text: str) -> _Plan:
    """The analysis of one compiled query's text (cached: rdflib's parse costs ~10-50 ms)."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        algebra = prepareQuery(text, initNs=PREFIXES).algebra
        node = algebra.p
        while node.name in ("Distinct", "Reduced", "Project", "OrderBy"):  # the query's own projection
            node = node.p
        analyser = _Analyser()
        top = analyser.part(node, _Env())
    except Exception as exc:  # noqa: BLE001 (anything the analysis did not foresee: the query runs whole)
        return _Plan(unsupported=f"{type(exc).__name__}: {exc}")
    paths = tuple((atom, tuple(dict.fromkeys(anc)), any(THIS in _atom_vars(a) for a in anc))
                  for atom, anc in top.paths)
    return _Plan(paths, frozenset(analyser.path_preds), analyser.any_pred, THIS in top.certain)


def _atom_vars(atom) -> set[Variable]:
    if isinstance(atom, _Values):
        return set(atom.variables)
    return {t for t in (atom.s, getattr(atom, "p", None), atom.o) if isinstance(t, Variable)}


# ---------------------------------------------------------------------------- unification


class _Changes:
    """One side's changed triples, indexed by predicate."""

    def __init__(self, triples: Iterable[Triple]):
        self.triples = list(triples)
        self.by_pred: dict[Node, list[Triple]] = defaultdict(list)
        self.by_pred_obj: dict[tuple[Node, Node], list[Triple]] = defaultdict(list)
        for t in self.triples:
            self.by_pred[t[1]].append(t)
            self.by_pred_obj[t[1], t[2]].append(t)  # `?x a aims:Risk` need not see every type triple

    def matching(self, atom: _Triple) -> Iterable[Triple]:
        if isinstance(atom.p, Variable):
            return self.triples
        if not isinstance(atom.o, Variable):
            return itertools.chain.from_iterable(self.by_pred_obj.get((p, atom.o), ()) for p in atom.p)
        return itertools.chain.from_iterable(self.by_pred.get(p, ()) for p in atom.p)

    def __bool__(self) -> bool:
        return bool(self.triples)


def _unify(atom: _Triple, t: Triple) -> dict[Variable, Node] | None:
    sigma: dict[Variable, Node] = {}
    for pattern, term in ((atom.s, t[0]), (atom.p, t[1]), (atom.o, t[2])):
        if isinstance(pattern, Variable):
            if sigma.setdefault(pattern, term) != term:
                return None
        elif isinstance(pattern, tuple):
            if term not in pattern:
                return None
        elif pattern != term:
            return None
    return sigma


def _fits_values(sigma: dict[Variable, Node], anc: tuple) -> bool:
    """Whether σ agrees with every VALUES table of the ancestry (cheap, saves a query)."""
    for atom in anc:
        if not isinstance(atom, _Values):
            continue
        idx = [(i, sigma[v]) for i, v in enumerate(atom.variables) if v in sigma]
        if idx and not any(all(row[i] is None or row[i] == val for i, val in idx) for row in atom.rows):
            return False
    return True


class _NotLocal(Exception):
    """This query's candidates cannot be computed: re-run it whole."""


def _loose(rows: Iterable[tuple]) -> list[tuple]:
    """VALUES rows with every literal left UNDEF (free): rdflib normalises some lexical forms
    ("01"^^xsd:integer reads back as "1"), and a VALUES row must be the store's very term to
    join. A free column only widens the candidates."""
    out = {tuple(None if isinstance(t, Literal) else t for t in row) for row in rows}
    return sorted(out, key=lambda r: tuple("" if t is None else t.n3() for t in r))


def _side_query(atom: _Triple, anc: tuple, rows: set[tuple], removed: _Changes | None) -> str:
    """The candidate query of one pattern and one side (see the module docstring)."""
    variables = atom.variables()
    parts = [_values_text(variables, _loose(rows))] if variables else []
    for other in anc:
        if other == atom:
            continue
        if removed is not None and isinstance(other, _Triple):
            gone = set()
            for t in removed.matching(other):
                sigma = _unify(other, t)
                if sigma is None:
                    continue
                if any(isinstance(x, BNode) for x in t):
                    raise _NotLocal
                gone.add(tuple(sigma[v] for v in other.variables()))
            if gone:
                if other.variables():
                    parts.append(f"{{ {other.text()} }} UNION {{ {_values_text(other.variables(), _loose(gone))} }}")
                # a ground pattern that a removed triple matched held in the old graph: no constraint
                continue
        parts.append(other.text())
    return "SELECT DISTINCT ?this WHERE {\n  " + "\n  ".join(parts) + "\n}"


def candidates(plan_: _Plan, store: Store, added: _Changes, removed: _Changes,
               stats: dict | None = None) -> set[Node] | None:
    """The focus nodes whose results of the query `plan_` describes can differ; ALL (None)
    when that cannot be localised."""
    if plan_.unsupported is not None or plan_.any_pred:
        return ALL
    if plan_.path_preds and (plan_.path_preds & (added.by_pred.keys() | removed.by_pred.keys())):
        return ALL
    found: set[Node] = set()
    for atom, anc, reaches in plan_.paths:
        for changes, is_removed in ((added, False), (removed, True)):
            rows = set()
            for t in changes.matching(atom):
                sigma = _unify(atom, t)
                if sigma is None or not _fits_values(sigma, anc):
                    continue
                if any(isinstance(x, BNode) for x in t):
                    return ALL
                rows.add(tuple(sigma[v] for v in atom.variables()))
            if not rows:
                continue
            if not reaches or not plan_.restrictable:
                return ALL
            try:
                text = _side_query(atom, anc, rows, removed if is_removed else None)
            except _NotLocal:
                return ALL
            if stats is not None:
                stats["candidate_queries"] = stats.get("candidate_queries", 0) + 1
            found.update(row["this"] for row in store.query(text).rows if "this" in row)
    return found


# ---------------------------------------------------------------------------- re-validation


_key = operator.attrgetter("shape", "component", "constraint")  # what tells one query's results apart


def _groups(compiled: CompiledShapes) -> list[list[int]] | None:
    """The queries (by position) in runs sharing a result key; None if a key's queries are not
    adjacent."""
    groups: list[list[int]] = []
    seen: set[tuple] = set()
    queries = compiled.queries
    for i, q in enumerate(queries):
        if groups and _key(queries[groups[-1][0]]) == _key(q):
            groups[-1].append(i)
            continue
        if _key(q) in seen:
            return None
        seen.add(_key(q))
        groups.append([i])
    return groups


@lru_cache(maxsize=8)
def plans(texts: tuple[str, ...]) -> tuple[_Plan, ...]:
    """The analyses of a compiled set's query texts, kept on disk too (cache.py), as the compiled
    shapes are: parsing all of them with rdflib costs ~1-1.5 s, more than a re-validation."""
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:24]
    return cached(f"revalidate-{digest}", [Path(__file__)], lambda: tuple(plan(t) for t in texts))


_TOP_GROUP = re.compile(r"\b(OPTIONAL|MINUS)\s*\{|\{\s*SELECT\s+DISTINCT\s+\?this\s+WHERE\s*\{", re.IGNORECASE)
_INNER_VALUES = re.compile(r"\bVALUES\s*(\?\w+|\([^()]*\))\s*\{[^{}]*\}", re.IGNORECASE)
_USES_THIS = re.compile(r"[?$]this\b")


def restricted(text: str, focus: Iterable[Node]) -> str:
    """The query with `VALUES ?this { focus }` first in its WHERE group (pyoxigraph evaluates a
    leading VALUES first), and again inside those groups of that WHERE group that pyoxigraph
    evaluates on their own (else e.g. a MINUS reads every value of its path at 1M triples):
    - an OPTIONAL using ?this: its left side binds ?this to one of `focus`, so only a right-side
      solution compatible with that can extend it, with or without the VALUES;
    - a MINUS whose group is triple patterns (and VALUES) alone, using ?this: each of its
      solutions binds ?this, so only those with ?this in `focus` can remove a row;
    - the target's `{ SELECT DISTINCT ?this WHERE { … } }`: joined on ?this anyway.
    Nested groups (inside an OPTIONAL, a UNION branch …) are left alone: their left side need
    not bind ?this."""
    bare = _OPAQUE.sub(lambda m: " " * len(m.group(0)), text)
    opening = bare.index("{")
    closing = matching_brace(bare, opening)
    inserts = [opening]
    depth, i = 0, opening + 1
    for m in _TOP_GROUP.finditer(bare, opening + 1, closing):
        # the depth at the match: braces between the last position and here
        depth += bare.count("{", i, m.start()) - bare.count("}", i, m.start())
        i = m.start()
        if depth != 0:
            continue
        inner = m.end() - 1
        body = bare[inner + 1:matching_brace(bare, inner)]
        if not _USES_THIS.search(body):
            continue
        if m.group(1) and m.group(1).upper() == "MINUS":
            plain = _INNER_VALUES.sub(" ", body)
            if "{" in plain or re.search(r"\b(FILTER|BIND|OPTIONAL|UNION|MINUS|SELECT|GRAPH|SERVICE)\b", plain, re.I):
                continue
        elif not m.group(1):  # the sub-select: nothing after its WHERE group (no GROUP BY, LIMIT …)
            outer = matching_brace(bare, m.start())
            if bare[matching_brace(bare, inner) + 1:outer].strip():
                continue
        inserts.append(inner)
    values = " VALUES ?this { " + " ".join(sorted(f.n3() for f in focus)) + " } "
    out = text
    for at in sorted(inserts, reverse=True):
        out = out[:at + 1] + values + out[at + 1:]
    return out


@dataclass
class Rerun:
    """What a change makes `revalidate` run again: per result key (shape, component, constraint)
    the focus nodes whose results it replaced (ALL: every one), and the results it got."""

    foci: dict[tuple, set[Node] | None]
    fresh: list[ValidationResult]
    rank: dict[tuple, int]  # result key -> its group's position, for run's order

    def replaces(self, r: ValidationResult) -> bool:
        """Whether `r`, a result from before the change, was run again (and so is replaced)."""
        focus = self.foci.get(_key(r), ())
        return focus is ALL or r.focus in focus

    def order(self, r: ValidationResult) -> tuple:
        return _result_order(r), self.rank[_key(r)]


def rerun(compiled: CompiledShapes, store: Store, added: set[Triple], removed: set[Triple],
          stats: dict) -> Rerun | None:
    """The queries a change reaches, re-run for the focus nodes it reaches (module docstring);
    None when only a full run is sure."""
    groups = _groups(compiled)
    if groups is None or any(t[1] == RDFS.subClassOf for t in added | removed):
        return None
    classes = resolve_classes(store, compiled.classes)
    plus, minus = _Changes(added), _Changes(removed)
    foci: dict[tuple, set[Node] | None] = {}
    fresh: list[ValidationResult] = []
    queries = compiled.queries
    texts = [q.text(classes) for q in queries]
    analyses = plans(tuple(texts))
    for group in groups:
        focus: set[Node] | None = set()
        for j in group:
            found = candidates(analyses[j], store, plus, minus, stats)
            # VALUES ?this can hold neither a blank node nor, surely, a literal's own lexical form
            if found is ALL or any(isinstance(f, (BNode, Literal)) for f in found):
                focus = ALL
                break
            focus |= found
        if focus is not ALL and not focus:
            continue
        foci[_key(queries[group[0]])] = focus
        if focus is ALL:
            stats["whole"] = stats.get("whole", 0) + 1
        else:
            stats["restricted"] = stats.get("restricted", 0) + 1
            stats["candidates"] = stats.get("candidates", 0) + len(focus)
        for j in group:
            if focus is ALL:
                rows = store.query(texts[j]).rows
            elif len(focus) > WHOLE_ABOVE:  # the whole query, its rows for the candidates: cheaper
                rows = [row for row in store.query(texts[j]).rows if row["this"] in focus]
            else:
                rows = store.query(restricted(texts[j], focus)).rows
            fresh.extend(queries[j].results(rows))
    return Rerun(foci, fresh, query_rank(compiled, groups))


def query_rank(compiled: CompiledShapes, groups: list[list[int]] | None = None) -> dict[tuple, int]:
    """Result key (shape, component, constraint) -> the position of its queries' group: the tie
    break of run's order after `_result_order`."""
    queries = compiled.queries
    return {_key(queries[g[0]]): i for i, g in enumerate(groups if groups is not None else _groups(compiled) or [])}


def revalidate(compiled: CompiledShapes, store: Store, added: Iterable[Triple], removed: Iterable[Triple],
               previous: list[ValidationResult], *, stats: dict | None = None) -> list[ValidationResult]:
    """What `shacl.run(compiled, store)` returns, given `previous = shacl.run(compiled,
    store_before)` and the net changes `added` / `removed` of the union of the store's graphs
    between then and now (see the module docstring for why it is exact). `stats`, when given,
    is filled with counts and timings (groups of queries re-run whole or restricted, candidates,
    candidate queries)."""
    started = time.perf_counter()
    added, removed = set(added), set(removed)
    both = added & removed
    added, removed = added - both, removed - both
    stats = stats if stats is not None else {}
    if not added and not removed:
        return list(previous)
    again = rerun(compiled, store, added, removed, stats)
    if again is None:
        stats["full_run"] = True
        return run(compiled, store)
    kept: list[ValidationResult] = []
    for r in previous:  # in run's order: by _result_order, ties in the queries' order
        if _key(r) not in again.rank:  # not this compiled set's results: only a full run is sure
            stats["full_run"] = True
            return run(compiled, store)
        if not again.replaces(r):
            kept.append(r)
    order = again.order
    fresh = sorted(again.fresh, key=order)
    if len(fresh) * 64 < len(kept):  # a few: placed by bisection, the ~100k others' keys never built
        for r in fresh:
            kept.insert(bisect.bisect_right(kept, order(r), key=order), r)
        out = kept
    else:
        out = sorted(kept + fresh, key=order)
    stats["seconds"] = time.perf_counter() - started
    return out
