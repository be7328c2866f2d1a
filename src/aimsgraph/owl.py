"""OWL 2 RL closure engines for the reason stage.

- `sparql` (default): the schema axioms found in the store (ontology, catalogues and any the data
  brings) are read once, their hierarchies closed in Python, and the OWL 2 RL/RDF rules about
  individuals compiled into SPARQL updates that the store itself runs (embedded or remote):
  no triple is copied out of the store. Rounds run until one adds nothing; after the first, each
  rule reads only what the previous round added (semi-naive evaluation).
- `reasonable` (Rust) and `owlrl` (the reference) reason over a copy of the triples in Python.

The `sparql` engine implements the rules of the W3C OWL 2 RL/RDF tables that derive facts about
individuals: cax-sco, cax-eqc1/2, prp-dom, prp-rng, prp-spo1, prp-eqp1/2, prp-inv1/2, prp-symp,
prp-trp, prp-spo2 (property chains), cls-hv1/2, cls-int1/2, cls-uni, cls-svf1/2, cls-avf,
prp-fp, prp-ifp, eq-sym, eq-trans, eq-rep-s/o. Schema-level entailments (scm-*) are computed only
as far as those rules need them (closed class and property hierarchies) and are not stored;
datatype and consistency rules are not applied, as with owlrl in the configuration aimsgraph uses.
Tests compare its closure with owlrl's on every fact about individuals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from .errors import AimsGraphError
from .namespaces import GRAPH_BASE, GRAPH_INFERRED
from .store import Store, Triple

OWL_ENGINES = ("auto", "sparql", "reasonable", "owlrl", "none")


def resolve_engine(engine: str, store: Store) -> str:
    """`auto`: `sparql` where the store's query engine is fast enough to run the rules in place
    (pyoxigraph, SPARQL servers), `reasonable` on the rdflib reference store (whose MINUS and
    VALUES evaluation makes the compiled rules take minutes)."""
    if engine not in OWL_ENGINES:
        raise AimsGraphError(f"unknown OWL engine '{engine}' (choose one of: {', '.join(OWL_ENGINES)})")
    if engine == "auto":
        return "sparql" if store.reasons_in_place else "reasonable"
    return engine
DELTA_GRAPH = GRAPH_BASE + "delta/"
IGNORED_CLASSES = frozenset({OWL.Thing, RDFS.Resource})
MAX_ROUNDS = 100  # a bound, not a tuning knob: real schemas close in a handful of rounds


def _n3(term) -> str:
    return term.n3()


def _values(var: str, terms: Iterable) -> str:
    return f"VALUES ?{var} {{ {' '.join(sorted(_n3(t) for t in terms))} }}"


def _closure(edges: dict, node) -> set:
    """Every node reachable from `node` along `edges` (node -> set of nodes), `node` included."""
    seen, todo = {node}, [node]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@dataclass
class Schema:
    """The axioms the instance rules need, read from the store."""

    sub_class: dict = field(default_factory=lambda: defaultdict(set))  # C -> direct supers (eqc both ways)
    sub_property: dict = field(default_factory=lambda: defaultdict(set))
    domain: dict = field(default_factory=lambda: defaultdict(set))  # property -> classes
    range: dict = field(default_factory=lambda: defaultdict(set))
    inverse: dict = field(default_factory=lambda: defaultdict(set))  # p -> q with p inverseOf q (both ways)
    symmetric: set = field(default_factory=set)
    transitive: set = field(default_factory=set)
    chains: list = field(default_factory=list)  # (property, [p1, ..., pn])
    class_expressions: bool = False  # hasValue, intersectionOf, unionOf, some/allValuesFrom present
    equality: bool = False  # functional or inverse-functional properties, or owl:sameAs, present

    def super_classes(self, cls) -> set:
        return _closure(self.sub_class, cls) - IGNORED_CLASSES

    def super_properties(self, prop) -> set:
        return _closure(self.sub_property, prop)


_SCHEMA_QUERY = """
SELECT ?s ?p ?o WHERE {
  VALUES ?p { rdfs:subClassOf owl:equivalentClass rdfs:subPropertyOf owl:equivalentProperty rdfs:domain
              rdfs:range owl:inverseOf }
  ?s ?p ?o .
}"""
_TYPES_QUERY = """
SELECT ?s ?o WHERE {
  VALUES ?o { owl:SymmetricProperty owl:TransitiveProperty owl:FunctionalProperty owl:InverseFunctionalProperty }
  ?s a ?o .
}"""
_CHAIN_QUERY = """
SELECT ?property ?node ?first ?rest WHERE {
  ?property owl:propertyChainAxiom ?list . ?list rdf:rest* ?node . ?node rdf:first ?first ; rdf:rest ?rest .
}"""
_EXPRESSIONS_QUERY = """
ASK { VALUES ?p { owl:hasValue owl:intersectionOf owl:unionOf owl:someValuesFrom owl:allValuesFrom } ?s ?p ?o }"""
_SAME_AS_QUERY = "ASK { ?s owl:sameAs ?o }"


def read_schema(store: Store) -> Schema:
    schema = Schema()
    for row in store.query(_SCHEMA_QUERY).rows:
        s, p, o = row["s"], row["p"], row["o"]
        if not isinstance(s, URIRef) or not isinstance(o, URIRef):
            continue  # class expressions (blank nodes) are handled by the generic rules
        if p == RDFS.subClassOf:
            schema.sub_class[s].add(o)
        elif p == OWL.equivalentClass:
            schema.sub_class[s].add(o)
            schema.sub_class[o].add(s)
        elif p == RDFS.subPropertyOf:
            schema.sub_property[s].add(o)
        elif p == OWL.equivalentProperty:
            schema.sub_property[s].add(o)
            schema.sub_property[o].add(s)
        elif p == RDFS.domain:
            schema.domain[s].add(o)
        elif p == RDFS.range:
            schema.range[s].add(o)
        elif p == OWL.inverseOf:
            schema.inverse[s].add(o)
            schema.inverse[o].add(s)
    for row in store.query(_TYPES_QUERY).rows:
        if row["o"] == OWL.SymmetricProperty:
            schema.symmetric.add(row["s"])
        elif row["o"] == OWL.TransitiveProperty:
            schema.transitive.add(row["s"])
        else:
            schema.equality = True
    nodes: dict = {}
    heads: dict = {}
    for row in store.query(_CHAIN_QUERY).rows:
        nodes[row["node"]] = (row["first"], row["rest"])
        heads.setdefault(row["property"], set()).add(row["node"])
    for prop, members in heads.items():
        # the head is the node no other node's rest points to
        rests = {nodes[n][1] for n in members}
        for head in (n for n in members if n not in rests):
            chain, node = [], head
            while node in nodes and len(chain) <= len(nodes):
                chain.append(nodes[node][0])
                node = nodes[node][1]
            schema.chains.append((prop, chain))
    schema.class_expressions = bool(store.query(_EXPRESSIONS_QUERY).boolean)
    schema.equality = schema.equality or bool(store.query(_SAME_AS_QUERY).boolean)
    return schema


@dataclass(frozen=True)
class OwlUpdate:
    """One compiled rule: the template and WHERE it inserts with; `delta_where` reads only what
    the previous round added (None: always run on everything, for rules with several premises)."""

    name: str
    template: str
    where: str
    delta_where: str | None
    guard: str | None = None  # an ASK that must hold for the rule to be worth running
    # (head variables, UNION branches) of a rule whose head is one class or property: the
    # incremental maintainer re-checks a triple it removed by running the branches for it alone
    branches: tuple[str, tuple[str, ...]] | None = None

    @property
    def probing_delta_where(self) -> str | None:
        """`delta_where` with its final anti-join as NOT EXISTS: for a delta of a few triples,
        a lookup per solution instead of reading every instance of the head's class."""
        if self.delta_where is None or " MINUS {" not in self.delta_where:
            return self.delta_where
        head, _, tail = self.delta_where.rpartition(" MINUS {")
        return f"{head} FILTER NOT EXISTS {{{tail}"

    def seeded_where(self, values: str) -> str | None:
        """The WHERE for the head values in `values` (a VALUES block) only; None if the rule
        is not of that form."""
        if self.branches is None:
            return None
        head, parts = self.branches
        union = " UNION ".join(f"{{ {b} }}" for b in parts)
        return f"{{ SELECT DISTINCT {head} WHERE {{ {values} {union} }} }} FILTER NOT EXISTS {{ {self.template} }}"


def _in_delta(pattern: str) -> str:
    return f"GRAPH ?delta {{ {pattern} }}"


def compile_updates(schema: Schema) -> list[OwlUpdate]:
    """The instance rules for `schema`, specialised to its closed hierarchies."""
    properties = set(schema.sub_property) | set(schema.domain) | set(schema.range) | set(schema.inverse) \
        | schema.symmetric | schema.transitive | {p for p, _ in schema.chains}
    for p in list(properties):
        properties |= schema.super_properties(p)
    # which properties a triple's subject (object) gets each class from: its own domain (range) and
    # those of every super-property it entails (prp-spo1 then prp-dom/prp-rng)
    subject_sources: dict = defaultdict(set)
    object_sources: dict = defaultdict(set)
    for p in properties:
        for q in schema.super_properties(p):
            for d in schema.domain.get(q, ()):
                for c in schema.super_classes(d):
                    subject_sources[c].add(p)
            for r in schema.range.get(q, ()):
                for c in schema.super_classes(r):
                    object_sources[c].add(p)
    class_sources: dict = defaultdict(set)
    for cls in list(schema.sub_class):
        for sup in schema.super_classes(cls) - {cls}:
            class_sources[sup].add(cls)

    updates: list[OwlUpdate] = []
    for cls in sorted(set(subject_sources) | set(object_sources) | set(class_sources), key=str):
        branches, delta_branches = [], []
        if subject_sources[cls]:
            branches.append(f"{_values('p', subject_sources[cls])} ?x ?p ?y .")
            delta_branches.append(f"{_values('p', subject_sources[cls])} {_in_delta('?x ?p ?y .')}")
        if object_sources[cls]:
            branches.append(f"{_values('p', object_sources[cls])} ?y ?p ?x . FILTER (!isLiteral(?x))")
            delta_branches.append(f"{_values('p', object_sources[cls])} {_in_delta('?y ?p ?x .')} FILTER (!isLiteral(?x))")
        if class_sources[cls]:
            branches.append(f"{_values('d', class_sources[cls])} ?x a ?d .")
            delta_branches.append(f"{_values('d', class_sources[cls])} {_in_delta('?x a ?d .')}")
        c = _n3(cls)

        def typed(parts: list[str]) -> str:
            union = " UNION ".join(f"{{ {b} }}" for b in parts)
            return f"{{ SELECT DISTINCT ?x WHERE {{ {union} }} }} MINUS {{ ?x a {c} }}"

        updates.append(OwlUpdate(f"type {cls}", f"?x a {c} .", typed(branches), typed(delta_branches),
                                 branches=("?x", tuple(branches))))

    for q in sorted(properties, key=str):
        subs = {p for p in properties if q in schema.super_properties(p) and p != q}
        inverses = set(schema.inverse.get(q, ())) | ({q} if q in schema.symmetric else set())
        branches, delta_branches = [], []
        if subs:
            branches.append(f"{_values('p', subs)} ?x ?p ?y .")
            delta_branches.append(f"{_values('p', subs)} {_in_delta('?x ?p ?y .')}")
        if inverses:
            branches.append(f"{_values('p', inverses)} ?y ?p ?x . FILTER (!isLiteral(?x))")
            delta_branches.append(f"{_values('p', inverses)} {_in_delta('?y ?p ?x .')} FILTER (!isLiteral(?x))")
        if branches:
            def related(parts: list[str], prop=_n3(q)) -> str:
                union = " UNION ".join(f"{{ {b} }}" for b in parts)
                return f"{{ SELECT DISTINCT ?x ?y WHERE {{ {union} }} }} MINUS {{ ?x {prop} ?y }}"

            updates.append(OwlUpdate(f"property {q}", f"?x {_n3(q)} ?y .", related(branches),
                                     related(delta_branches), branches=("?x ?y", tuple(branches))))
        if q in schema.transitive:
            # semi-naive: a new pair has a new step on one side (the delta is part of the union)
            step = f"?x {_n3(q)} ?y", f"?y {_n3(q)} ?z"
            updates.append(OwlUpdate(f"transitive {q}", f"?x {_n3(q)} ?z .",
                                     f"{step[0]} . {step[1]} . MINUS {{ ?x {_n3(q)} ?z }}",
                                     f"{{ {_in_delta(step[0])} {step[1]} }} UNION {{ {step[0]} {_in_delta(step[1])} }} "
                                     f"MINUS {{ ?x {_n3(q)} ?z }}"))
    for prop, chain in schema.chains:
        links = [f"?x{i} {_n3(p)} ?x{i + 1} ." for i, p in enumerate(chain)]
        head = f"MINUS {{ ?x0 {_n3(prop)} ?x{len(chain)} }}"
        delta = " UNION ".join("{ " + " ".join(_in_delta(link) if i == j else link for j, link in enumerate(links)) + " }"
                               for i in range(len(links)))
        updates.append(OwlUpdate(f"chain {prop}", f"?x0 {_n3(prop)} ?x{len(chain)} .",
                                 f"{' '.join(links)} {head}", f"{delta} {head}"))
    if schema.class_expressions:
        updates += [OwlUpdate(name, template, where, None) for name, template, where in _CLASS_EXPRESSION_RULES]
    if schema.equality:
        updates += [OwlUpdate(name, template, where, _EQUALITY_DELTAS.get(name), guard)
                    for name, template, where, guard in _EQUALITY_RULES]
    return updates


# Rules whose premises are class expressions (blank nodes) or equality: written over the schema
# triples themselves, run only when the schema has such axioms. (name, template, WHERE)
_CLASS_EXPRESSION_RULES = [
    # cax-sco / cax-eqc where one side is a class expression: SPARQL cannot name a stored blank
    # node, so these read the axiom itself instead of a compiled class list
    ("cax-sco (expression)", "?x a ?d .",
     "?c rdfs:subClassOf ?d . FILTER (isBlank(?c) || isBlank(?d)) ?x a ?c . MINUS { ?x a ?d }"),
    ("cax-eqc (expression)", "?x a ?d .",
     "{ ?c owl:equivalentClass ?d } UNION { ?d owl:equivalentClass ?c } FILTER (isBlank(?c) || isBlank(?d)) "
     "?x a ?c . MINUS { ?x a ?d }"),
    ("cls-hv1", "?x ?p ?v .",
     "?r owl:hasValue ?v ; owl:onProperty ?p . ?x a ?r . MINUS { ?x ?p ?v }"),
    ("cls-hv2", "?x a ?r .",
     "?r owl:hasValue ?v ; owl:onProperty ?p . ?x ?p ?v . MINUS { ?x a ?r }"),
    ("cls-svf1", "?x a ?r .",
     "?r owl:someValuesFrom ?c ; owl:onProperty ?p . ?x ?p ?y . ?y a ?c . FILTER (?c != owl:Thing) MINUS { ?x a ?r }"),
    ("cls-svf2", "?x a ?r .",
     "?r owl:someValuesFrom owl:Thing ; owl:onProperty ?p . ?x ?p ?y . MINUS { ?x a ?r }"),
    ("cls-avf", "?y a ?c .",
     "?r owl:allValuesFrom ?c ; owl:onProperty ?p . ?x a ?r ; ?p ?y . FILTER (!isLiteral(?y)) MINUS { ?y a ?c }"),
    ("cls-uni", "?x a ?c .",
     "?c owl:unionOf ?list . ?list rdf:rest*/rdf:first ?member . ?x a ?member . MINUS { ?x a ?c }"),
    ("cls-int2", "?x a ?member .",
     "?c owl:intersectionOf ?list . ?list rdf:rest*/rdf:first ?member . ?x a ?c . MINUS { ?x a ?member }"),
    ("cls-int1", "?x a ?c .",
     "?c owl:intersectionOf ?list . ?list rdf:first ?first . ?x a ?first . "
     "FILTER NOT EXISTS { ?list rdf:rest*/rdf:first ?member . FILTER NOT EXISTS { ?x a ?member } } MINUS { ?x a ?c }"),
]
# Equality rules copy every triple of an individual that is the same as another: they run only
# once some owl:sameAs between two different terms exists (the guard), starting from those pairs.
_SAME_AS_PAIRS = "{ SELECT ?a ?b WHERE { ?a owl:sameAs ?b . FILTER (?a != ?b) } }"
_HAS_SAME_AS = "ASK { ?a owl:sameAs ?b . FILTER (?a != ?b) }"
_EQUALITY_RULES = [
    ("prp-fp", "?y1 owl:sameAs ?y2 .",
     "?p a owl:FunctionalProperty . ?x ?p ?y1 , ?y2 . FILTER (?y1 != ?y2 && !isLiteral(?y1) && !isLiteral(?y2)) "
     "MINUS { ?y1 owl:sameAs ?y2 }", None),
    ("prp-ifp", "?x1 owl:sameAs ?x2 .",
     "?p a owl:InverseFunctionalProperty . ?x1 ?p ?y . ?x2 ?p ?y . FILTER (?x1 != ?x2) MINUS { ?x1 owl:sameAs ?x2 }",
     None),
    ("eq-sym", "?b owl:sameAs ?a .", f"{_SAME_AS_PAIRS} MINUS {{ ?b owl:sameAs ?a }}", _HAS_SAME_AS),
    ("eq-trans", "?a owl:sameAs ?c .",
     f"{_SAME_AS_PAIRS} ?b owl:sameAs ?c . FILTER (?a != ?c) MINUS {{ ?a owl:sameAs ?c }}", _HAS_SAME_AS),
    ("eq-rep-s", "?b ?p ?o .",
     f"{_SAME_AS_PAIRS} ?a ?p ?o . FILTER (?p != owl:sameAs) MINUS {{ ?b ?p ?o }}", _HAS_SAME_AS),
    ("eq-rep-o", "?s ?p ?b .",
     f"{_SAME_AS_PAIRS} ?s ?p ?a . FILTER (?p != owl:sameAs) MINUS {{ ?s ?p ?b }}", _HAS_SAME_AS),
]


# Semi-naive forms of the two equality rules that run without a guard (every round, on every
# triple of a functional property otherwise): one of the pair of triples is new.
_EQUALITY_DELTAS = {  # each branch starts from the delta: a UNION is evaluated on its own
    "prp-fp": "{ GRAPH ?delta { ?x ?p ?y1 } ?p a owl:FunctionalProperty . ?x ?p ?y2 } "
              "UNION { GRAPH ?delta { ?x ?p ?y2 } ?p a owl:FunctionalProperty . ?x ?p ?y1 } "
              "FILTER (?y1 != ?y2 && !isLiteral(?y1) && !isLiteral(?y2)) MINUS { ?y1 owl:sameAs ?y2 }",
    "prp-ifp": "{ GRAPH ?delta { ?x1 ?p ?y } ?p a owl:InverseFunctionalProperty . ?x2 ?p ?y } "
               "UNION { GRAPH ?delta { ?x2 ?p ?y } ?p a owl:InverseFunctionalProperty . ?x1 ?p ?y } "
               "FILTER (?x1 != ?x2) MINUS { ?x1 owl:sameAs ?x2 }",
}


def sparql_closure(store: Store, progress: Callable[[str], None] | None = None,
                   seed: Iterable[Triple] | None = None, collect: list[Triple] | None = None,
                   target: str = GRAPH_INFERRED, updates: list[OwlUpdate] | None = None) -> int:
    """Run the compiled OWL 2 RL rules in the store until a round adds nothing; every new triple
    goes to the inferred graph. Returns how many were added. With `seed` (new data triples added
    to a store whose closure was complete) the first round reads only them, semi-naive as every
    later round; `collect` receives every triple added; `target` is where they go; `updates`: the
    rules compiled for this store's schema already (compiled here when not given)."""
    if updates is None:
        updates = compile_updates(read_schema(store))
    added = 0
    previous: str | None = None
    if seed is not None:
        previous = f"{DELTA_GRAPH}owl-seed"
        store.clear(previous)
        if not store.add(previous, seed):
            store.clear(previous)
            return 0
    for round_number in range(1, MAX_ROUNDS + 1):
        delta = f"{DELTA_GRAPH}owl-{round_number}"
        store.clear(delta)
        for update in updates:
            if update.guard is not None and not store.query(update.guard).boolean:
                continue
            if previous is None:
                store.insert_where(delta, update.template, update.where)
            elif update.delta_where is not None:
                where = update.probing_delta_where if seed is not None else update.delta_where
                store.insert_where(delta, update.template, f"VALUES ?delta {{ <{previous}> }} {where}", named=[previous])
            else:
                store.insert_where(delta, update.template, update.where)
        if previous is not None:
            store.clear(previous)
        new = store.count(delta)
        if not new:
            store.clear(delta)
            return added
        if collect is not None:
            collect.extend(store.triples(delta))
        store.add_graph(delta, target)
        added += new
        previous = delta
        if progress:
            progress(f"OWL 2 RL round {round_number}: {added:,} triples")
    raise AimsGraphError(f"the OWL 2 RL closure did not settle within {MAX_ROUNDS} rounds")


# --- reference engines over a copy of the triples ------------------------------------------------


def _keep(t: Triple) -> bool:
    """Drop closure noise nobody queries: literal subjects, reflexive sameAs, owl:Thing typing."""
    s, p, o = t
    if isinstance(s, Literal):
        return False
    if p == OWL.sameAs and s == o:
        return False
    return not (p == RDF.type and o in IGNORED_CLASSES)


def _plain(t: Triple) -> Triple:
    """xsd:string literals as plain literals: RDF 1.1 says they are the same term, rdflib does not."""
    o = t[2]
    if isinstance(o, Literal) and o.datatype == rdflib.XSD.string:
        return (t[0], t[1], Literal(str(o)))
    return t


def owl_closure(base: rdflib.Graph | Iterable[Triple], engine: str) -> set[Triple]:
    """Triples the OWL 2 RL closure adds to `base` (not those already in it), with the engines
    that reason over a copy: `reasonable` reads a plain list of triples, `owlrl` an rdflib Graph."""
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



