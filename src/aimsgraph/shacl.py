"""SHACL shapes compiled to SPARQL that the store runs: one whole-graph query per constraint,
all focus nodes at once, through `Store.query` alone (so it runs unchanged on a remote SPARQL
server). pySHACL is the reference; the results are the ones pySHACL reports (focus node, value,
result path, source shape, source constraint component, severity), which the equivalence tests
check on every conformity case, every example and generated registers.

How a constraint becomes a query: the shape's targets become a pattern binding `?this` (all
focus nodes), joined with the constraint's body. pySHACL runs a SPARQL constraint once per focus
node with `$this` pre-bound; joining the target in first gives the same rows wherever `$this`
is bound on the query's top level or inside FILTER (NOT) EXISTS, which the compiler checks on
rdflib's algebra of the query (and refuses otherwise). Subclass sets of sh:targetClass and
sh:class are resolved by one small query per validation and written into the queries as VALUES
blocks, because a property path inside the big join is slow on pyoxigraph; "no value" checks are
written with MINUS, which pyoxigraph answers far faster than FILTER NOT EXISTS.

Supported subset (anything else raises ShapesError when the shapes are compiled, never skipped):
- shapes as pySHACL finds them: sh:NodeShape / sh:PropertyShape instances, subjects of targets
  and of sh:property, values of sh:property and sh:not; sh:deactivated, sh:severity
  (default sh:Violation), sh:message; annotations outside the sh: namespace are ignored.
- targets: sh:targetClass (instances of the class or of any rdfs:subClassOf* subclass in the
  data), implicit class targets (a shape that is also an rdfs:Class), sh:targetNode (IRIs and
  literals), sh:targetSubjectsOf, sh:targetObjectsOf.
- property shapes (under a node shape's sh:property, or with targets of their own) with paths
  built from predicates, sequences, sh:inversePath, sh:alternativePath, sh:zeroOrMorePath,
  sh:oneOrMorePath, sh:zeroOrOnePath.
- core constraints: sh:minCount, sh:maxCount (property shapes), sh:hasValue, sh:in,
  sh:not over a shape whose only constraint is sh:in, sh:class.
- sh:sparql SELECT constraints on node and property shapes: `$this` pre-bound, `?value` and
  `?path` read from the rows (the focus node is the value of a node shape's result without
  one), `$PATH` substituted, prefixes from sh:prefixes / sh:declare exactly as pySHACL collects
  them, sh:deactivated on the constraint.
- SPARQL-based constraint components (sh:ConstraintComponent with sh:parameter): SELECT
  validators as sh:propertyValidator on property shapes and sh:nodeValidator on node shapes,
  parameters pre-bound from the shape, `$value` pre-bound to each value node.
Not supported, among others: sh:node, sh:and/or/xone, sh:qualifiedValueShape, sh:closed,
sh:datatype, sh:nodeKind, string, range and property-pair constraints, ASK validators
(sh:validator), SHACL-AF (sh:target, sh:rule, functions), and in SPARQL constraints MINUS,
VALUES, SERVICE, GRAPH, sub-SELECTs, aggregates, solution modifiers, SELECT * and expressions
in the projection (pySHACL rejects most of these in pre-bound queries too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS
from rdflib.term import Node, Variable

from .errors import QueryError, ShapesError
from .namespaces import PREFIXES, SH
from .store import Store, matching_brace

# Prefix of every variable the compiler adds, so it never meets one of the shapes' own.
HELPER = "aimsgraph_"
GENERIC_COMPONENT_MESSAGE = "Parameterised SHACL Query generated constraint validation reports."

_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
_COMMON = {RDF.type, SH.severity, SH.message, SH.deactivated, SH.name, SH.description, SH.order, SH.group,
           *_TARGETS, SH.sparql, SH.hasValue, SH["in"], SH["class"], SH["not"]}
_NODE_ONLY = {SH.property}
_PROPERTY_ONLY = {SH.path, SH.minCount, SH.maxCount}
_PATH_KINDS = (SH.inversePath, SH.alternativePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath)
_UNSUPPORTED_TYPES = (SH.SPARQLFunction, SH.SPARQLTarget, SH.SPARQLTargetType, SH.SPARQLRule, SH.JSFunction,
                      SH.JSConstraint, SH.JSTarget, SH.TripleRule, SH.SPARQLAskValidator)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ValidationResult:
    """One SHACL validation result, as both engines report it. `shape` and `path` are nodes of
    the shapes graph the engine used; `constraint` is the sh:sparql node (sh:sourceConstraint)."""

    shape: Node
    focus: Node
    value: Node | None
    path: Node | None
    component: URIRef
    severity: URIRef
    constraint: Node | None = None
    messages: tuple[Literal, ...] = field(default=(), compare=False)
    # the other variables a sh:sparql SELECT projects (name, term), for message placeholders
    # such as {?control}; empty for pySHACL's results, whose sh:resultMessage is already filled in
    bindings: tuple[tuple[str, Node], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Target:
    classes: tuple[URIRef, ...] = ()
    nodes: tuple[Node, ...] = ()
    subjects_of: tuple[URIRef, ...] = ()
    objects_of: tuple[URIRef, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.classes or self.nodes or self.subjects_of or self.objects_of)


@dataclass(frozen=True)
class CompiledQuery:
    """One constraint of one shape as a whole-graph SELECT. `template` holds @@TARGET@@ and
    @@CLASSES <iri>@@ placeholders, filled in at run time from the subclass sets."""

    name: str
    shape: Node
    component: URIRef
    severity: URIRef
    path: Node | None
    constraint: Node | None
    messages: tuple[Literal, ...]
    target: Target
    template: str
    kind: str  # "core" | "sparql" | "component"
    property_shape: bool
    projected: frozenset[str] = frozenset()  # of this / path / value, for sparql and component

    def text(self, classes: dict[URIRef, tuple[URIRef, ...] | None]) -> str:
        out = self.template.replace("@@TARGET@@", _target_pattern(self.target, classes))
        out = out.replace("@@TARGET_FILTER@@", _target_filter(self.target, classes))
        return _CLASSES.sub(lambda m: _class_list(URIRef(m.group(1)), classes), out)

    def results(self, rows: Iterable[dict[str, Node]]) -> Iterator[ValidationResult]:
        for row in rows:
            focus = row["this"]
            value: Node | None
            path: Node | None = self.path
            if self.kind == "core":
                value = row.get("value")
            else:
                t = row.get("this") if "this" in self.projected else None
                p = row.get("path") if "path" in self.projected else None
                v = row.get("value") if "value" in self.projected else None
                if self.kind == "sparql":
                    if t is None and p is None and v is None:
                        continue  # pySHACL reports nothing for such a row
                    value = v if v is not None else (None if self.property_shape else focus)
                else:
                    if not (p or v or t):  # pySHACL's truth test, literals included
                        continue
                    value = v if v is not None else (None if self.property_shape else focus)
                if p is not None:
                    path = p
            extra = tuple(sorted((k, v) for k, v in row.items() if k not in ("this", "path", "value")
                                 and not k.startswith(HELPER))) if self.kind == "sparql" else ()
            yield ValidationResult(self.shape, focus, value, path, self.component, self.severity,
                                   self.constraint, self.messages, extra)


@dataclass(frozen=True)
class CompiledShapes:
    shapes: rdflib.Graph = field(repr=False, compare=False)
    queries: tuple[CompiledQuery, ...]

    @property
    def classes(self) -> tuple[URIRef, ...]:
        """Every class whose subclass set the queries need (targets and sh:class)."""
        found: set[URIRef] = set()
        for q in self.queries:
            found.update(q.target.classes)
            found.update(URIRef(c) for c in _CLASSES.findall(q.template))
        return tuple(sorted(found))


# ---------------------------------------------------------------------------- running


def run(compiled: CompiledShapes, store: Store, timings: dict[str, float] | None = None) -> list[ValidationResult]:
    """Every result of the compiled shapes on the store's data (all graphs). The queries run at
    the same time where the store can (`Store.map_concurrently`), one after another when
    `timings` asks for each query's seconds (which would overlap)."""
    import time

    classes = resolve_classes(store, compiled.classes)

    def results_of(q: CompiledQuery) -> list[ValidationResult]:
        started = time.perf_counter()
        try:
            rows = store.query(q.text(classes)).rows
        except QueryError as exc:
            raise QueryError(f"validating {q.name}: {exc}") from exc
        if timings is not None:
            timings[q.name] = timings.get(q.name, 0.0) + time.perf_counter() - started
        return q.results(rows)

    if timings is None:
        answers = store.map_concurrently(results_of, compiled.queries)
    else:
        answers = [results_of(q) for q in compiled.queries]
    results = [r for found in answers for r in found]
    return sorted(results, key=_result_order)  # each query is DISTINCT; across queries pySHACL keeps repeats too


def _result_order(r: ValidationResult) -> tuple:
    return (str(r.shape), str(r.component), str(r.focus), str(r.value), str(r.path))


def resolve_classes(store: Store, classes: Iterable[URIRef]) -> dict[URIRef, tuple[URIRef, ...] | None]:
    """Each class with its rdfs:subClassOf* subclasses in the data, in one query; None where a
    subclass is a blank node (which a VALUES block cannot hold: the query then walks the path)."""
    classes = sorted(set(classes))
    out: dict[URIRef, set | None] = {c: {c} for c in classes}
    if classes:
        rows = store.query("SELECT ?target ?class WHERE { VALUES ?target { %s } ?class <%s>+ ?target }"
                           % (" ".join(c.n3() for c in classes), RDFS.subClassOf)).rows
        for row in rows:
            found = out.get(row["target"])
            if found is None:
                continue
            if isinstance(row["class"], BNode):
                out[row["target"]] = None
            else:
                found.add(row["class"])
    return {c: (None if s is None else tuple(sorted(s))) for c, s in out.items()}


_CLASSES = re.compile(r"@@CLASSES <([^>]*)>@@")


def _class_list(cls: URIRef, classes: dict) -> str:
    members = classes.get(cls)
    return " ".join(c.n3() for c in (members if members is not None else (cls,)))


def _class_pattern(var: str, classes_of: Iterable[URIRef], classes: dict, helper: str) -> str:
    """`?var` is an instance of one of `classes_of` or of a subclass."""
    plain: set[URIRef] = set()
    walked: list[str] = []
    for c in classes_of:
        members = classes.get(c)
        if members is None:  # a blank-node subclass: fall back to the path
            walked.append(f"{{ ?{var} <{RDF.type}>/<{RDFS.subClassOf}>* {c.n3()} }}")
        else:
            plain.update(members)
    parts = []
    if len(plain) == 1:
        parts.append(f"{{ ?{var} <{RDF.type}> {next(iter(plain)).n3()} }}")
    elif plain:
        parts.append(f"{{ VALUES ?{helper} {{ {' '.join(c.n3() for c in sorted(plain))} }} ?{var} <{RDF.type}> ?{helper} }}")
    parts += walked
    return " UNION ".join(parts)


def _target_pattern(target: Target, classes: dict) -> str:
    """A pattern binding ?this to each focus node of `target`: a plain triple pattern for one
    class without subclasses, VALUES for target nodes alone, else a DISTINCT sub-select (several
    classes or target kinds, or a target that repeats a focus node once per triple), which
    measured as fast as the plain pattern on pyoxigraph and keeps each focus node once."""
    if target.classes and not (target.nodes or target.subjects_of or target.objects_of):
        members = [classes.get(c) for c in target.classes]
        if len(members) == 1 and members[0] is not None and len(members[0]) == 1:
            return f"?this <{RDF.type}> {members[0][0].n3()} ."
    if target.nodes and not (target.classes or target.subjects_of or target.objects_of):
        return f"VALUES ?this {{ {' '.join(n.n3() for n in target.nodes)} }}"
    return f"{{ SELECT DISTINCT ?this WHERE {{ {_target_union(target, classes)} }} }}"


def _target_union(target: Target, classes: dict) -> str:
    """One UNION branch per kind of target, each binding ?this to its focus nodes."""
    parts = []
    if target.classes:
        parts.append(_class_pattern("this", target.classes, classes, HELPER + "class"))
    if target.nodes:
        parts.append(f"{{ VALUES ?this {{ {' '.join(n.n3() for n in target.nodes)} }} }}")
    for p in target.subjects_of:
        parts.append(f"{{ ?this {p.n3()} ?{HELPER}o }}")
    for p in target.objects_of:
        parts.append(f"{{ ?{HELPER}s {p.n3()} ?this }}")
    return " UNION ".join(parts)


PREBOUND_STAND_IN = "urn:x-aimsgraph:prebound"


def _target_filter(target: Target, classes: dict) -> str:
    """The target as a condition on a ?this the query has bound already: for a constraint whose
    first triple patterns join $this, evaluating them first and checking the target per row is
    what pyoxigraph answers fastest (it keeps a leading sub-select's order: at 1M triples
    obligation-partially-covered took 4.0 s with the target joined first, 0.4 s with it last)."""
    return f"FILTER EXISTS {{ {_target_union(target, classes)} }}"


# ---------------------------------------------------------------------------- report graph


def report_graph(results: Iterable[ValidationResult], shapes: rdflib.Graph) -> rdflib.Graph:
    """A standard sh:ValidationReport of `results`. sh:conforms is false only when a result is a
    sh:Violation, as pySHACL reports it with warnings and infos allowed."""
    g = rdflib.Graph()
    report = BNode()
    results = list(results)
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(not any(r.severity == SH.Violation for r in results))))
    copied: set[Node] = set()
    for r in results:
        node = BNode()
        g.add((report, SH.result, node))
        g.add((node, RDF.type, SH.ValidationResult))
        g.add((node, SH.focusNode, r.focus))
        g.add((node, SH.resultSeverity, r.severity))
        g.add((node, SH.sourceShape, r.shape))
        g.add((node, SH.sourceConstraintComponent, r.component))
        if r.value is not None:
            g.add((node, SH.value, r.value))
        if r.path is not None:
            g.add((node, SH.resultPath, r.path))
            _copy_bnode_closure(shapes, r.path, g, copied)
        if r.constraint is not None:
            g.add((node, SH.sourceConstraint, r.constraint))
        for m in r.messages:
            g.add((node, SH.resultMessage, m))
    return g


def _copy_bnode_closure(source: rdflib.Graph, node: Node, target: rdflib.Graph, done: set[Node]) -> None:
    if not isinstance(node, BNode) or node in done:
        return
    done.add(node)
    for p, o in source.predicate_objects(node):
        target.add((node, p, o))
        _copy_bnode_closure(source, o, target, done)


# ---------------------------------------------------------------------------- comparing engines


def path_text(graph: rdflib.Graph, path: Node | None) -> str | None:
    """A SHACL path as SPARQL path text (full IRIs), e.g. for comparing two engines' results."""
    if path is None:
        return None
    if isinstance(path, URIRef):
        return path.n3()
    if isinstance(path, Literal):
        return path.n3()
    if (path, RDF.first, None) in graph:
        return "(" + " / ".join(path_text(graph, p) for p in Collection(graph, path)) + ")"
    for kind in _PATH_KINDS:
        inner = graph.value(path, kind)
        if inner is None:
            continue
        if kind == SH.alternativePath:
            return "(" + " | ".join(path_text(graph, p) for p in Collection(graph, inner)) + ")"
        text = path_text(graph, inner)
        return {SH.inversePath: f"^({text})", SH.zeroOrMorePath: f"({text})*",
                SH.oneOrMorePath: f"({text})+", SH.zeroOrOnePath: f"({text})?"}[kind]
    raise ShapesError(f"malformed SHACL path {path}")


def shape_key(graph: rdflib.Graph, shape: Node) -> str:
    """A name for a shape that is the same in two parses of the shapes: its IRI, or for a blank
    property shape its node shape, path and constraints."""
    if not isinstance(shape, BNode):
        return str(shape)
    parent = next(graph.subjects(SH.property, shape), None)
    parts = sorted(f"{p.n3()}={path_text(graph, o) if p == SH.path else _node_key(graph, o)}"
                   for p, o in graph.predicate_objects(shape))
    return f"{parent}[{' '.join(parts)}]"


def _node_key(graph: rdflib.Graph, node: Node) -> str:
    if not isinstance(node, BNode):
        return node.n3()
    if (node, RDF.first, None) in graph:
        return "(" + " ".join(_node_key(graph, n) for n in Collection(graph, node)) + ")"
    return "[" + " ".join(sorted(f"{p.n3()}={_node_key(graph, o)}" for p, o in graph.predicate_objects(node))) + "]"


def result_key(result: ValidationResult, shapes: rdflib.Graph) -> tuple[str, ...]:
    """(focus, path, value, source shape, component, severity) as text (N-Triples terms, SPARQL
    path text, "" where absent), comparable and sortable across engines and parses."""
    return (result.focus.n3(), path_text(shapes, result.path) or "",
            result.value.n3() if result.value is not None else "", shape_key(shapes, result.shape),
            str(result.component), str(result.severity))


def results_from_report(report: rdflib.Graph) -> list[ValidationResult]:
    """The results of a SHACL report graph (pySHACL's), as ValidationResult."""
    out = []
    for node in report.subjects(RDF.type, SH.ValidationResult):
        out.append(ValidationResult(
            report.value(node, SH.sourceShape), report.value(node, SH.focusNode), report.value(node, SH.value),
            report.value(node, SH.resultPath), report.value(node, SH.sourceConstraintComponent),
            report.value(node, SH.resultSeverity), report.value(node, SH.sourceConstraint),
            tuple(sorted(report.objects(node, SH.resultMessage)))))
    return sorted(out, key=_result_order)


# ---------------------------------------------------------------------------- compiling


def compile_shapes(shapes: rdflib.Graph) -> CompiledShapes:
    """Compile every active shape with targets into whole-graph queries; ShapesError for any
    SHACL feature outside the supported subset (see the module docstring)."""
    return _Compiler(shapes).compile()


@dataclass
class _Component:
    node: Node
    parameters: list[tuple[URIRef, bool]]  # (path, optional)
    validators: list[Node]
    node_validators: list[Node]
    property_validators: list[Node]


class _Compiler:
    def __init__(self, shapes: rdflib.Graph):
        self.g = shapes
        self.queries: list[CompiledQuery] = []
        self.steps = 0  # numbers the helper variables of path chains
        self.components = self._components()
        self.parameter_paths = {p for c in self.components for p, _ in c.parameters}

    # -- shapes as pySHACL finds them --------------------------------------------------------

    def compile(self) -> CompiledShapes:
        g = self.g
        for kind in _UNSUPPORTED_TYPES:
            for node in g.subjects(RDF.type, kind):
                raise ShapesError(f"{_name(g, node)} is a {_curie(kind)}, which the compiled validator does not support")
        node_shapes, property_shapes, inner = self._shapes()
        for shape in sorted(node_shapes | property_shapes, key=str):
            self._check_predicates(shape, shape in property_shapes, shape in inner)
        for shape in sorted(node_shapes | property_shapes, key=str):
            if self._deactivated(shape):
                continue
            target = self._target(shape)
            if not target:
                continue  # evaluated only through the shape that references it, as in pySHACL
            if shape in property_shapes:
                self._compile_property_shape(shape, target)
            else:
                self._compile_node_shape(shape, target)
        return CompiledShapes(g, tuple(self.queries))

    def _shapes(self) -> tuple[set[Node], set[Node], set[Node]]:
        g = self.g
        declared_nodes = set(g.subjects(RDF.type, SH.NodeShape))
        declared_props = set(g.subjects(RDF.type, SH.PropertyShape))
        for s in declared_nodes & declared_props:
            raise ShapesError(f"{_name(g, s)} is declared both a sh:NodeShape and a sh:PropertyShape")
        subjects = {s for p in (*_TARGETS, SH.property, SH.node) for s in g.subjects(p, None)}
        values = {o for p in (SH.property, SH.node, SH["not"], SH.qualifiedValueShape) for o in g.objects(None, p)}
        for p in (SH["and"], SH["or"], SH.xone):
            for lst in g.objects(None, p):
                values.update(Collection(g, lst))
        nodes, props = set(declared_nodes), set(declared_props)
        for s in (subjects | values) - declared_nodes - declared_props:
            (props if (s, SH.path, None) in g else nodes).add(s)
        for s in props:
            if len(set(g.objects(s, SH.path))) != 1:
                raise ShapesError(f"property shape {_name(g, s)} must have exactly one sh:path")
        for s in nodes:
            if (s, SH.path, None) in g:
                raise ShapesError(f"node shape {_name(g, s)} cannot have a sh:path")
        inner = set(g.objects(None, SH["not"]))
        return nodes, props, inner

    def _check_predicates(self, shape: Node, is_property: bool, is_inner: bool) -> None:
        allowed = _COMMON | (_PROPERTY_ONLY if is_property else _NODE_ONLY)
        for p in set(self.g.predicates(shape, None)):
            if str(p).startswith(str(SH)) and p not in allowed:
                where = "a property shape" if is_property else "a node shape"
                raise ShapesError(f"{_name(self.g, shape)} uses {_curie(p)} on {where}, which the compiled "
                                  "validator does not support (see aimsgraph.shacl for the supported subset)")
        if is_inner:
            self._inner_in_list(shape)

    def _deactivated(self, node: Node) -> bool:
        values = set(self.g.objects(node, SH.deactivated))
        if len(values) > 1:
            raise ShapesError(f"{_name(self.g, node)} has more than one sh:deactivated")
        return bool(values) and isinstance(next(iter(values)), Literal) and bool(next(iter(values)).value)

    def _severity(self, shape: Node) -> URIRef:
        return next(iter(sorted(self.g.objects(shape, SH.severity))), SH.Violation)

    def _messages(self, node: Node) -> tuple[Literal, ...]:
        return tuple(sorted(self.g.objects(node, SH.message)))

    def _target(self, shape: Node) -> Target:
        g = self.g
        classes = set(g.objects(shape, SH.targetClass))
        class_types = {RDFS.Class, OWL.Class} | set(g.subjects(RDFS.subClassOf, RDFS.Class))
        if set(g.objects(shape, RDF.type)) & class_types:
            classes.add(shape)  # implicit class target
        nodes = set(g.objects(shape, SH.targetNode))
        subjects_of = set(g.objects(shape, SH.targetSubjectsOf))
        objects_of = set(g.objects(shape, SH.targetObjectsOf))
        for node in classes | subjects_of | objects_of:
            if not isinstance(node, URIRef):
                raise ShapesError(f"{_name(g, shape)}: a target class or property must be an IRI, not {node.n3()}")
        for node in nodes:
            if isinstance(node, BNode):
                raise ShapesError(f"{_name(g, shape)}: sh:targetNode {node.n3()} is a blank node, which a "
                                  "compiled query cannot name")
        return Target(tuple(sorted(classes)), tuple(sorted(nodes)), tuple(sorted(subjects_of)),
                      tuple(sorted(objects_of)))

    # -- shapes -------------------------------------------------------------------------------

    def _compile_node_shape(self, shape: Node, target: Target) -> None:
        g = self.g
        self._core(shape, target, None, False)
        self._sparql(shape, target, None, False)
        self._custom(shape, target, None, False)
        for prop in sorted(g.objects(shape, SH.property), key=str):
            if prop not in set(g.subjects(SH.path, None)):
                raise ShapesError(f"{_name(g, shape)}: sh:property {prop.n3()} has no sh:path")
            if not self._deactivated(prop):
                self._compile_property_shape(prop, target)

    def _compile_property_shape(self, shape: Node, target: Target) -> None:
        path = self.g.value(shape, SH.path)
        path_text(self.g, path)  # malformed paths fail here
        self._core(shape, target, path, True)
        self._sparql(shape, target, path, True)
        self._custom(shape, target, path, True)

    def _query(self, shape: Node, component: URIRef, path: Node | None, template: str, target: Target,
               kind: str, is_property: bool, constraint: Node | None = None, projected: frozenset = frozenset(),
               messages: tuple[Literal, ...] | None = None) -> None:
        label = f"{_name(self.g, shape)} {_curie(component)}"
        self.queries.append(CompiledQuery(
            label, shape, component, self._severity(shape), path, constraint,
            self._messages(shape) if messages is None else messages, target, template, kind, is_property,
            projected))

    # -- core constraints ---------------------------------------------------------------------

    def _core(self, shape: Node, target: Target, path: Node | None, is_property: bool) -> None:
        g = self.g
        # the value nodes: ?value for a property shape; the focus node itself for a node shape
        value = "?value" if is_property else "?this"
        values = self._path_pattern(path, "?this", value) if is_property else ""

        def add(component: URIRef, body: str, reports_value: bool, tail: str = "") -> None:
            select = "?this"
            if reports_value:
                select = "?this ?value" if is_property else "?this (?this AS ?value)"
            text = f"SELECT DISTINCT {select} WHERE {{\n  @@TARGET@@\n  {body}\n}}{tail}"
            self._query(shape, component, path, text, target, "core", is_property)

        for n in g.objects(shape, SH.minCount):
            count = _count(shape, SH.minCount, n, g)
            if count == 1:
                add(SH.MinCountConstraintComponent, f"MINUS {{ {self._path_pattern(path, '?this', f'?{HELPER}v')} }}",
                    False)
            elif count > 1:
                add(SH.MinCountConstraintComponent,
                    f"OPTIONAL {{ {self._path_pattern(path, '?this', f'?{HELPER}v')} }}", False,
                    f" GROUP BY ?this HAVING (COUNT(DISTINCT ?{HELPER}v) < {count})")
        for n in g.objects(shape, SH.maxCount):
            count = _count(shape, SH.maxCount, n, g)
            add(SH.MaxCountConstraintComponent, self._path_pattern(path, "?this", f"?{HELPER}v"), False,
                f" GROUP BY ?this HAVING (COUNT(DISTINCT ?{HELPER}v) > {count})")
        for v in g.objects(shape, SH.hasValue):
            if isinstance(v, BNode):
                raise ShapesError(f"{_name(g, shape)}: sh:hasValue of a blank node is not supported")
            if is_property:
                add(SH.HasValueConstraintComponent, f"MINUS {{ {self._path_pattern(path, '?this', v.n3())} }}", False)
            else:
                add(SH.HasValueConstraintComponent, f"FILTER (!sameTerm(?this, {v.n3()}))", False)
        for lst in g.objects(shape, SH["in"]):
            members = self._list_terms(shape, lst)
            add(SH.InConstraintComponent, f"{values}\n  MINUS {{ VALUES {value} {{ {members} }} }}", True)
        for inner in g.objects(shape, SH["not"]):
            members = self._inner_in_list(inner)
            add(SH.NotConstraintComponent, f"{values}\n  VALUES {value} {{ {members} }}", True)
        for cls in g.objects(shape, SH["class"]):
            if not isinstance(cls, URIRef):
                raise ShapesError(f"{_name(g, shape)}: sh:class must be an IRI")
            add(SH.ClassConstraintComponent, f"{values}\n  MINUS {{ VALUES ?{HELPER}c {{ @@CLASSES {cls.n3()}@@ }} "
                f"{value} <{RDF.type}> ?{HELPER}c }}", True)

    def _inner_in_list(self, inner: Node) -> str:
        """The sh:in members of a shape under sh:not, the only form of sh:not supported."""
        g = self.g
        constraints = {p for p in g.predicates(inner, None) if str(p).startswith(str(SH))}
        lists = list(g.objects(inner, SH["in"]))
        if constraints != {SH["in"]} or len(lists) != 1 or (inner, RDF.type, SH.PropertyShape) in g:
            raise ShapesError(f"sh:not {_name(g, inner)}: only sh:not over a shape with a single sh:in list is supported")
        return self._list_terms(inner, lists[0])

    def _list_terms(self, shape: Node, lst: Node) -> str:
        members = list(Collection(self.g, lst))
        if any(isinstance(m, BNode) for m in members):
            raise ShapesError(f"{_name(self.g, shape)}: sh:in with blank nodes is not supported")
        return " ".join(m.n3() for m in members)

    def _path_pattern(self, path: Node, subject: str, obj: str) -> str:
        """Triple patterns from `subject` along the path to `obj`. Sequences of predicates and
        inverse predicates become a chain of plain triple patterns (a property path followed by
        joins is slow on pyoxigraph); other paths stay SPARQL property paths."""
        simple = self._simple_steps(path)
        if simple is None:
            return f"{subject} {path_text(self.g, path)} {obj} ."
        out, here = [], subject
        for i, (pred, inverse) in enumerate(simple):
            self.steps += 1
            there = obj if i == len(simple) - 1 else f"?{HELPER}step{self.steps}"
            out.append(f"{there} {pred.n3()} {here} ." if inverse else f"{here} {pred.n3()} {there} .")
            here = there
        return " ".join(out)

    def _simple_steps(self, path: Node) -> list[tuple[URIRef, bool]] | None:
        """The path as (predicate, inverse?) steps when it is a predicate, an inverse predicate
        or a sequence of those; None for other paths."""
        g = self.g
        steps = list(Collection(g, path)) if isinstance(path, BNode) and (path, RDF.first, None) in g else [path]
        simple = []
        for step in steps:
            if isinstance(step, URIRef):
                simple.append((step, False))
            elif isinstance(step, BNode) and isinstance(g.value(step, SH.inversePath), URIRef) \
                    and len(set(g.predicates(step, None))) == 1:
                simple.append((g.value(step, SH.inversePath), True))
            else:
                return None
        return simple

    # -- SPARQL-based constraints -------------------------------------------------------------

    def _sparql(self, shape: Node, target: Target, path: Node | None, is_property: bool) -> None:
        g = self.g
        for node in sorted(g.objects(shape, SH.sparql), key=str):
            selects = list(g.objects(node, SH.select))
            if list(g.objects(node, SH.ask)) or len(selects) != 1:
                raise ShapesError(f"{_name(g, shape)}: a sh:sparql constraint needs exactly one sh:select "
                                  "(ASK constraints are not supported)")
            if self._deactivated(node):
                continue
            prefixes = self._prefixes(node)
            query = _SelectQuery.parse(str(selects[0]), prefixes, path_text(g, path) if path is not None else None,
                                       f"the sh:sparql constraint of {_name(g, shape)}", {"this"})
            projected = frozenset(v for v in query.projection if v in ("this", "path", "value"))
            if not projected:
                raise ShapesError(f"the sh:sparql constraint of {_name(g, shape)} selects none of $this, ?path, ?value")
            extra = [v for v in query.projection if v not in ("this",)]
            body = query.body({"this": "?this"})
            template = query.assemble(["?this"] + [f"?{v}" for v in extra], body,
                                      target_last=query.binds_focus_first())
            messages = self._messages(shape) or tuple(sorted(g.objects(node, SH.message)))
            self._query(shape, SH.SPARQLConstraintComponent, path, template, target, "sparql", is_property,
                        node, projected, messages)

    # -- SPARQL-based constraint components ---------------------------------------------------

    def _components(self) -> list[_Component]:
        g = self.g
        nodes = set(g.subjects(RDF.type, SH.ConstraintComponent))
        for sub in set(g.subjects(RDFS.subClassOf, SH.ConstraintComponent)):
            nodes.update(g.subjects(RDF.type, sub))
        out = []
        for node in sorted(nodes, key=str):
            if str(node).startswith(str(SH)):
                continue
            params = []
            for param in g.objects(node, SH.parameter):
                paths = list(g.objects(param, SH.path))
                if len(paths) != 1 or not isinstance(paths[0], URIRef):
                    raise ShapesError(f"a parameter of {_name(g, node)} needs exactly one sh:path IRI")
                optional = g.value(param, SH.optional)
                params.append((paths[0], bool(optional is not None and optional.value)))
            if not params:
                raise ShapesError(f"constraint component {_name(g, node)} has no sh:parameter")
            out.append(_Component(node, sorted(params), sorted(g.objects(node, SH.validator), key=str),
                                  sorted(g.objects(node, SH.nodeValidator), key=str),
                                  sorted(g.objects(node, SH.propertyValidator), key=str)))
        return out

    def _custom(self, shape: Node, target: Target, path: Node | None, is_property: bool) -> None:
        g = self.g
        for comp in self.components:
            if not all((shape, p, None) in g for p, optional in comp.parameters if not optional):
                continue
            chosen = comp.property_validators if is_property else comp.node_validators
            if not chosen:
                raise ShapesError(f"{_name(g, shape)} uses {_name(g, comp.node)}, which has no "
                                  f"{'sh:propertyValidator' if is_property else 'sh:nodeValidator'}; ASK "
                                  "validators (sh:validator) are not supported")
            validator = chosen[0]
            selects = list(g.objects(validator, SH.select))
            if len(selects) != 1 or (validator, RDF.type, SH.SPARQLAskValidator) in g:
                raise ShapesError(f"the validator of {_name(g, comp.node)} must be a SELECT validator")
            bound: dict[str, str] = {}
            for p, _optional in comp.parameters:
                vals = list(g.objects(shape, p))
                if len(vals) > 1:
                    raise ShapesError(f"{_name(g, shape)} gives {_curie(p)} more than one value")
                if vals:
                    if isinstance(vals[0], BNode):
                        raise ShapesError(f"{_name(g, shape)}: parameter {_curie(p)} is a blank node")
                    name = re.split(r"[#/]", str(p))[-1]
                    if name in ("this", "shapesGraph", "currentShape", "path", "PATH", "value"):
                        raise ShapesError(f"parameter name {name} of {_name(g, comp.node)} cannot be used")
                    bound[name] = vals[0].n3()
            text = str(selects[0])
            # pySHACL pre-binds $value to each value node when the text names it
            value_bound = re.search(_PREBOUND.format("value"), _OPAQUE.sub(lambda m: " " * len(m.group(0)), text))
            query = _SelectQuery.parse(text, self._prefixes(validator), path_text(g, path) if path is not None
                                       else None, f"the validator of {_name(g, comp.node)}",
                                       {"this", "value"} if value_bound else {"this"})
            substitutions = {"this": "?this", **bound}
            value_node_var = None
            value_pattern = ""
            if is_property:
                value_node_var = "value" if value_bound else HELPER + "valuenode"
                if not (value_bound and query.binds_path(self._simple_steps(path))):
                    # pySHACL runs the query once per value node; joining the value nodes in is the
                    # same, and redundant where the query itself walks the path to $value
                    value_pattern = self._path_pattern(path, "?this", f"?{value_node_var}")
                if value_bound:
                    substitutions["value"] = "?value"
            elif value_bound:
                substitutions["value"] = "?this"  # a node shape's only value node is the focus node
            projected = frozenset(v for v in query.projection if v in ("this", "path", "value"))
            select = ["?this"]
            if is_property:
                select.append(f"?{value_node_var}")
            for v in ("path", "value"):
                if v in projected and f"?{v}" not in select:
                    select.append("(?this AS ?value)" if v == "value" and not is_property and value_bound
                                  else f"?{v}")
            body = value_pattern + "\n  " + query.body(substitutions)
            template = query.assemble(select, body)
            messages = self._messages(shape) or tuple(sorted(g.objects(validator, SH.message))) or (
                Literal(GENERIC_COMPONENT_MESSAGE),)
            self._query(shape, URIRef(comp.node), path, template, target, "component", is_property, None,
                        projected, messages)

    def _prefixes(self, node: Node) -> dict[str, str]:
        """The prefixes pySHACL gives a query of `node`: rdf, rdfs, owl, and the sh:declare of
        its sh:prefixes (with every ontology's declarations, as pySHACL merges them)."""
        g = self.g
        out = {"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)}
        ontologies = set(g.subjects(RDF.type, OWL.Ontology))
        global_declares = {d for o in ontologies for d in g.objects(o, SH.declare)}
        for value in g.objects(node, SH.prefixes):
            own = set(g.objects(value, SH.declare))
            declares = own if own and value in ontologies else global_declares | own
            for dec in declares:
                prefix, namespace = list(g.objects(dec, SH.prefix)), list(g.objects(dec, SH.namespace))
                if len(prefix) != 1 or len(namespace) != 1:
                    raise ShapesError(f"a sh:declare of {_name(g, value)} needs one sh:prefix and one sh:namespace")
                out[str(prefix[0])] = str(namespace[0])
        return out


def _count(shape: Node, predicate: URIRef, value: Node, g: rdflib.Graph) -> int:
    if not isinstance(value, Literal) or not isinstance(value.value, int) or isinstance(value.value, bool):
        raise ShapesError(f"{_name(g, shape)}: {_curie(predicate)} must be an integer")
    return int(value.value)


def _curie(iri: Node) -> str:
    text = str(iri)
    return "sh:" + text[len(str(SH)):] if text.startswith(str(SH)) else f"<{text}>"


def _name(g: rdflib.Graph, node: Node) -> str:
    if isinstance(node, BNode):
        parent = next(g.subjects(SH.property, node), None) or next(g.subjects(SH.sparql, node), None) \
            or next(g.subjects(SH["not"], node), None)
        return f"a blank node of {_name(g, parent)}" if parent is not None else "a blank-node shape"
    return f"<{node}>"


# ---------------------------------------------------------------------------- query text

# Comments, strings and IRIs, blanked before the query's structure is looked at.
_OPAQUE = re.compile(r'#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
                     r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>')
_VAR = re.compile(r"[?$]([A-Za-z_0-9\u00B7-\uFFFF]+)")
_PREBOUND = r"([\s{{}}()])[\$\?]{}"  # pySHACL's test for a pre-bound variable in the query text
_FORBIDDEN = {"Minus": "MINUS", "MinusGraphPattern": "MINUS", "values": "VALUES", "InlineData": "VALUES",
              "InlineDataFull": "VALUES", "InlineDataOneVar": "VALUES", "ServiceGraphPattern": "SERVICE",
              "Graph": "GRAPH", "GraphGraphPattern": "GRAPH", "ToMultiSet": "a sub-SELECT",
              "SubSelect": "a sub-SELECT", "Group": "GROUP BY or an aggregate", "AggregateJoin": "an aggregate",
              "OrderBy": "ORDER BY", "Slice": "LIMIT or OFFSET"}


@dataclass
class _SelectQuery:
    """A shape's SELECT query, taken apart: prologue, projection and the WHERE group's body."""

    label: str
    text: str  # with $PATH substituted, as pySHACL runs it
    prefixes: dict[str, str]
    prologue: str
    projection: list[str]
    inner: str  # the WHERE group without its braces
    algebra: object

    @classmethod
    def parse(cls, select: str, prefixes: dict[str, str], path: str | None, label: str,
              pre: set[str]) -> _SelectQuery:
        """Take the query apart and check it. `pre` are the variables pySHACL pre-binds; the
        algebra is that of the query with a stand-in for the target joined first, as compiled."""
        if "@@" in select:
            raise ShapesError(f"{label}: '@@' is reserved by the compiler")
        masked = _OPAQUE.sub(lambda m: " " * len(m.group(0)), select)
        for m in _VAR.finditer(masked):
            if m.group(1).startswith(HELPER):
                raise ShapesError(f"{label}: variable names starting with {HELPER} are reserved")
        if re.search(_PREBOUND.format("PATH"), masked):
            if path is None:
                raise ShapesError(f"{label} uses $PATH on a shape without a path")
            select = re.sub(_PREBOUND.format("PATH"), lambda m: m.group(1) + path, select)
            masked = _OPAQUE.sub(lambda m: " " * len(m.group(0)), select)
        if re.search(_PREBOUND.format("(shapesGraph|currentShape)"), masked):
            raise ShapesError(f"{label} uses $shapesGraph or $currentShape, which are not supported")
        form = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", masked, re.IGNORECASE)
        if form is None or form.group(1).upper() != "SELECT":
            raise ShapesError(f"{label} must be a SELECT query")
        opening = masked.find("{", form.end())
        head = masked[form.end():opening]
        head = re.sub(r"\bWHERE\s*$", "", head.strip(), flags=re.IGNORECASE).strip()
        if re.search(r"\bFROM\b", head, re.IGNORECASE):
            raise ShapesError(f"{label}: FROM clauses are not supported")
        words = head.split()
        if words and words[0].upper() in ("DISTINCT", "REDUCED"):
            words = words[1:]
        if not words or any(not re.fullmatch(r"[?$]\w+", w) for w in words):
            raise ShapesError(f"{label}: the projection must list variables (no SELECT *, no expressions)")
        try:
            closing = matching_brace(masked, opening)
        except QueryError:
            raise ShapesError(f"{label}: unbalanced braces") from None
        if masked[closing + 1:].strip():
            raise ShapesError(f"{label}: solution modifiers and VALUES after the WHERE group are not supported")
        prologue_lines = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items())
        from rdflib.plugins.sparql import prepareQuery

        stand_in = " ".join(f"?this <{PREBOUND_STAND_IN}> ?{v} ." for v in sorted(pre))
        try:
            # the store's default prefixes count as declared: pySHACL sees them bound in the data graph
            algebra = prepareQuery(prologue_lines + select[:opening + 1] + stand_in + select[opening + 1:],
                                   initNs=PREFIXES).algebra
        except Exception as exc:  # pyparsing and rdflib raise assorted errors
            raise ShapesError(f"{label} is not valid SPARQL with its declared prefixes: {exc}") from exc
        _forbid(algebra, label)
        query = cls(label, select, prefixes, select[:form.start()], [w[1:] for w in words],
                    select[opening + 1:closing], algebra)
        query.check_prebinding(pre)
        return query


    def body(self, substitutions: dict[str, str]) -> str:
        """The WHERE group's body with pre-bound variables renamed or replaced by constants."""
        masked = _OPAQUE.sub(lambda m: " " * len(m.group(0)), self.inner)
        out, last = [], 0
        for m in _VAR.finditer(masked):
            if m.group(1) in substitutions:
                out.append(self.inner[last:m.start()])
                out.append(substitutions[m.group(1)])
                last = m.end()
        out.append(self.inner[last:])
        return "".join(out)

    def assemble(self, select: list[str], body: str, target_last: bool = False) -> str:
        """The whole-graph query: the target joined in first, or with `target_last` (see
        `binds_focus_first`) checked after the body."""
        prefixes = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in self.prefixes.items())
        if target_last:
            return (f"{prefixes}{self.prologue.strip()}\nSELECT DISTINCT {' '.join(select)} WHERE {{\n"
                    f"  {body.strip()}\n  @@TARGET_FILTER@@\n}}")
        return (f"{prefixes}{self.prologue.strip()}\nSELECT DISTINCT {' '.join(select)} WHERE {{\n"
                f"  @@TARGET@@\n  {body.strip()}\n}}")

    def binds_focus_first(self) -> bool:
        """Whether the WHERE group starts with triple patterns that join $this: then every
        solution binds $this before any OPTIONAL, MINUS, sub-select, BIND or filter of the group
        sees it, so checking the target after the body gives the rows joining it in first gives
        (a filter on $this commutes with the joins and left joins that keep its binding)."""
        node = self.algebra.p
        while True:
            if node.name in ("Distinct", "Reduced", "Project", "Filter", "Extend"):
                node = node.p
            elif node.name in ("Join", "LeftJoin", "Minus"):
                node = node.p1
            else:
                break
        stand_in = URIRef(PREBOUND_STAND_IN)  # the parse's stand-in for the target (see `parse`)
        return node.name == "BGP" and any(Variable("this") in triple and triple[1] != stand_in
                                          for triple in node.triples)

    def binds_path(self, steps: list[tuple[URIRef, bool]] | None) -> bool:
        """Whether the query's top level already joins a chain of triple patterns from $this
        along `steps` to $value (then $value ranges over the value nodes anyway)."""
        if not steps:
            return False
        triples = []
        node = self.algebra.p
        pending = [node]
        while pending:  # the BGPs every solution of the top level goes through
            node = pending.pop()
            name = node.name
            if name == "BGP":
                triples.extend(node.triples)
            elif name in ("Distinct", "Reduced", "Project", "Filter", "Extend"):
                pending.append(node.p)
            elif name == "Join":
                pending += [node.p1, node.p2]
            elif name == "LeftJoin":
                pending.append(node.p1)
        ends = {Variable("this"), Variable("value")}

        def walk(here: Node, rest: list[tuple[URIRef, bool]]) -> bool:
            if not rest:
                return here == Variable("value")
            pred, inverse = rest[0]
            for s, p, o in triples:
                if p != pred:
                    continue
                start, there = (o, s) if inverse else (s, o)
                if start == here and isinstance(there, Variable) and (len(rest) == 1 or there not in ends):
                    if walk(there, rest[1:]):
                        return True
            return False

        return walk(Variable("this"), steps)

    def check_prebinding(self, pre: set[str]) -> None:
        """Refuse a query whose pre-bound variables sit where joining the target in first would
        not bind them as pySHACL's pre-binding does (see the module docstring). (Parameters are
        replaced by their values in the text, which is pre-binding, so they need no check.)"""
        pre_vars = {Variable(v) for v in pre}
        node = self.algebra.p
        while node.name in ("Distinct", "Reduced", "Project"):
            node = node.p
        _Prebinding(pre_vars, self.label).spine(node)


def _walk(obj) -> Iterator:
    """Every algebra node and term below `obj` (rdflib CompValues, lists, terms)."""
    if isinstance(obj, dict):
        if hasattr(obj, "name"):
            yield obj
        for key, value in obj.items():
            if key != "_vars":
                yield from _walk(value)
    elif isinstance(obj, (list, tuple, set)):
        for item in obj:
            yield from _walk(item)
    else:
        yield obj


def _forbid(algebra, label: str) -> None:
    found = {node.name for node in _walk(algebra.p) if isinstance(node, dict) and node.name in _FORBIDDEN}
    for name in _FORBIDDEN:  # in the table's order, so VALUES is named rather than its wrapper
        if name in found:
            raise ShapesError(f"{label} uses {_FORBIDDEN[name]}, which the compiled validator does not support")


def _mentioned(obj, names: set[Variable]) -> set[Variable]:
    return {t for t in _walk(obj) if isinstance(t, Variable) and t in names}


def _binds(node, var: Variable) -> bool:
    """Whether every solution of the algebra node binds `var`."""
    name = node.name
    if name == "BGP":
        return any(var in (s, o) for s, _p, o in node.triples) or any(var == p for _s, p, _o in node.triples)
    if name == "Join":
        return _binds(node.p1, var) or _binds(node.p2, var)
    if name == "LeftJoin":
        return _binds(node.p1, var)
    if name == "Union":
        return _binds(node.p1, var) and _binds(node.p2, var)
    if name in ("Filter", "Extend", "Project", "Distinct", "Reduced"):
        return _binds(node.p, var)
    return False


@dataclass
class _Prebinding:
    pre: set[Variable]
    label: str

    def fail(self, var: Variable, where: str) -> None:
        raise ShapesError(
            f"{self.label} uses ${var} {where}, where joining all focus nodes in would not bind it as "
            "pre-binding does; bind it by a triple pattern in the same group, or use it on the query's top level")

    def spine(self, node) -> None:
        """A pattern of the query's top level: the target, joined first, binds the pre-bound
        variables for it, its filters and its FILTER (NOT) EXISTS."""
        name = node.name
        if name in ("Filter", "Extend"):
            if name == "Extend" and node.var in self.pre:
                self.fail(node.var, "as the target of BIND ... AS")
            self.spine(node.p)
        elif name == "Join":
            self.spine(node.p1)
            self.nested(node.p2)
        elif name == "LeftJoin":
            self.spine(node.p1)
            self.nested(node.p2)
        elif name != "BGP":
            self.nested(node)

    def nested(self, node) -> None:
        """A pattern evaluated on its own and joined afterwards (a nested group, a UNION branch,
        an OPTIONAL's right side): its filters see only what it binds itself."""
        name = node.name
        if name == "BGP":
            return
        if name in ("Join", "Union"):
            self.nested(node.p1)
            self.nested(node.p2)
        elif name == "LeftJoin":
            self.nested(node.p1)
            self.nested(node.p2)
            for var in _mentioned([node.p2, node.get("expr")], self.pre):
                if not _binds(node.p1, var):
                    self.fail(var, "inside an OPTIONAL whose left side does not bind it")
        elif name in ("Filter", "Extend"):
            if name == "Extend" and node.var in self.pre:
                self.fail(node.var, "as the target of BIND ... AS")
            for var in _mentioned(node.expr, self.pre):
                if not _binds(node.p, var):
                    self.fail(var, "in a FILTER or BIND of a nested group that does not bind it")
            self.nested(node.p)
        else:
            raise ShapesError(f"{self.label} uses {name}, which the compiled validator does not support")
