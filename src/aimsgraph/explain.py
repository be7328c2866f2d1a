"""Why does the graph say that? For a derived fact: the rule that produced it, the variable
bindings it fired with and its premises, each explained in turn, as a tree; for an OWL 2 RL
closure triple: the engine and the schema axiom(s) that entail it, with their instance premises.

`explain` returns plain data (`Explanation`, with `as_json()` for the HTTP API); `render_text`
draws the tree for the CLI. Everything is read through `Store.query`, so it works on every store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from .errors import AimsGraphError
from .namespaces import (
    GRAPH_CATALOGUES,
    GRAPH_DATA,
    GRAPH_INFERRED,
    GRAPH_ONTOLOGY,
    GRAPH_PARAMETERS,
    expand_curie,
    to_curie,
)
from .reason import ReasoningReport, rule_justification
from .store import Node, Store, Triple

GRAPH_NAMES = {GRAPH_DATA: "data", GRAPH_CATALOGUES: "catalogues", GRAPH_ONTOLOGY: "ontology",
               GRAPH_PARAMETERS: "parameters", GRAPH_INFERRED: "inferred"}
MAX_DEPTH = 12
W3C_PREFIXES = {"rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "prov": PROV, "skos": SKOS, "dcterms": DCTERMS}


class ExplainError(AimsGraphError):
    """A term that names nothing, or no fact to explain (the API answers 404, the CLI exits 2)."""


@dataclass
class Explanation:
    """One node of an explanation tree.

    `how` is "rule" (a domain rule derived it), "owl" (the OWL 2 RL closure did), "asserted"
    (it is in the data, catalogues, ontology or parameters graph: `graph`), or "seen" (explained
    earlier in the same tree; not repeated)."""

    triple: Triple
    how: str
    graph: str | None = None
    rule: str | None = None
    purpose: str | None = None
    source: str | None = None
    bindings: dict[str, Node] = field(default_factory=dict)
    axioms: list[Triple] = field(default_factory=list)
    premises: list[Explanation] = field(default_factory=list)

    def as_json(self) -> dict:
        doc: dict = {"triple": [term_text(t) for t in self.triple], "how": self.how}
        for key in ("graph", "rule", "purpose", "source"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        if self.bindings:
            doc["bindings"] = {k: term_text(v) for k, v in sorted(self.bindings.items())}
        if self.axioms:
            doc["axioms"] = [[term_text(t) for t in axiom] for axiom in self.axioms]
        if self.premises:
            doc["premises"] = [p.as_json() for p in self.premises]
        return doc


def term_text(term: Node, names: dict[str, str] | None = None) -> str:
    """A term as a user writes it: register id (when `names` knows it), CURIE, IRI or literal."""
    if isinstance(term, Literal):
        if term.datatype in (None, XSD.string, XSD.integer, XSD.boolean, XSD.decimal):
            return str(term)
        return f"{term}^^{to_curie_any(str(term.datatype))}"
    text = str(term)
    if names and text in names:
        return names[text]
    return to_curie_any(text)


def to_curie_any(iri: str) -> str:
    """`to_curie`, plus the W3C vocabularies explanations mention (rdf:, owl:, prov:, ...)."""
    for prefix, ns in W3C_PREFIXES.items():
        if iri.startswith(str(ns)):
            return f"{prefix}:{iri[len(str(ns)):]}"
    return to_curie(iri)


def register_names(store: Store) -> dict[str, str]:
    """IRI -> register id for every node the register named."""
    rows = store.query("SELECT ?node ?id WHERE { GRAPH ?g { ?node aims:registerId ?id } }").rows
    return {str(r["node"]): str(r["id"]) for r in rows}


def resolve_term(store: Store, text: str, position: str) -> Node:
    """A register id, CURIE (aims:..., euaia:art9) or IRI (bare or in <>) as an RDF term.
    Objects that are none of these are taken as literals (e.g. a score)."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    if text.startswith(("http://", "https://", "urn:")):
        return URIRef(text)
    if text == "a" and position == "predicate":
        return RDF.type
    rows = store.query("SELECT DISTINCT ?node ?id WHERE { ?node aims:registerId ?id }", {"id": Literal(text)}).rows
    if len(rows) == 1:
        return rows[0]["node"]
    if len(rows) > 1:
        raise ExplainError(f"{position} '{text}': more than one register entry has this id; give its IRI")
    iri = expand_curie(text)  # aims:, euaia:, ... and rdf:, rdfs:, owl:, prov: ...
    if iri:
        return URIRef(iri)
    if position == "object":
        return Literal(text)
    raise ExplainError(f"{position} '{text}' is neither a register id, a CURIE nor an IRI")


def explain(store: Store, reasoning: ReasoningReport, subject: str, predicate: str | None = None,
            obj: str | None = None) -> list[Explanation]:
    """Explanation trees for the derived facts about `subject` (narrowed to `predicate` and
    `obj` when given). A fully given fact that is asserted, not derived, is explained as such."""
    s = resolve_term(store, subject, "subject")
    p = resolve_term(store, predicate, "predicate") if predicate else None
    o = resolve_term(store, obj, "object") if obj else None
    facts = _matching(store, s, p, o, GRAPH_INFERRED)
    if not facts and p is not None and o is not None:
        facts = _matching(store, s, p, o, None)
    if not facts:
        wanted = " ".join(x for x in (subject, predicate, obj) if x)
        raise ExplainError(f"no derived fact matches '{wanted}'")
    return [explain_triple(store, reasoning, t) for t in facts]


def _matching(store: Store, s: Node, p: Node | None, o: Node | None, graph: str | None) -> list[Triple]:
    """Triples (s, p, o) of `graph` (or of any graph); a literal object matches by its text."""
    where = "GRAPH ?g { ?s ?p ?o }"
    bindings: dict[str, Node] = {"s": s}
    if graph:
        bindings["g"] = URIRef(graph)
    if p is not None:
        bindings["p"] = p
    if o is not None and not isinstance(o, Literal):
        bindings["o"] = o
    rows = store.query(f"SELECT DISTINCT ?s ?p ?o ?g WHERE {{ {where} }}", bindings).rows
    triples = {(r["s"], r["p"], r["o"]) for r in rows}
    if isinstance(o, Literal):
        triples = {t for t in triples if str(t[2]) == str(o)}
    return sorted(triples, key=lambda t: (str(t[1]), str(t[2])))


def explain_triple(store: Store, reasoning: ReasoningReport, triple: Triple) -> Explanation:
    return _explain(store, reasoning, triple, set(), 0)


def _graphs_of(store: Store, triple: Triple) -> list[str]:
    rows = store.query("SELECT DISTINCT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }",
                       {"s": triple[0], "p": triple[1], "o": triple[2]}).rows
    return sorted(str(r["g"]) for r in rows)


def _explain(store: Store, reasoning: ReasoningReport, triple: Triple, seen: set[Triple], depth: int) -> Explanation:
    graphs = _graphs_of(store, triple)
    asserted = [g for g in graphs if g != GRAPH_INFERRED]
    if asserted:
        return Explanation(triple, "asserted", graph=GRAPH_NAMES.get(asserted[0], asserted[0]))
    if triple in seen or depth > MAX_DEPTH:  # a derived fact is explained once per tree
        return Explanation(triple, "seen")
    seen.add(triple)
    found = rule_justification(store, triple)
    if found is not None:
        rule, bindings = found
        premises = [t for t in rule.premise_triples(bindings) if t != triple and store.has(t)]
        return Explanation(triple, "rule", graph="inferred", rule=rule.id, purpose=rule.purpose, source=rule.source,
                           bindings=bindings,
                           premises=[_explain(store, reasoning, t, seen, depth + 1) for t in premises])
    axioms, premises = owl_justification(store, triple)
    return Explanation(triple, "owl", graph="inferred", rule="OWL 2 RL",
                       source="W3C OWL 2 RL/RDF rules", axioms=axioms,
                       premises=[_explain(store, reasoning, t, seen, depth + 1) for t in premises])


# Each entry: which kind of triple it explains, the SPARQL that finds the axiom and the instance
# data, and how to build (axiom triples, premise triples) from one row. ?s ?p ?o are the triple
# (bound, so projected: SELECT *, which store substitution needs).
_TYPE_AXIOMS = [
    ("SELECT * WHERE { ?c rdfs:subClassOf ?o . ?s a ?c . FILTER (?c != ?o) }",
     lambda s, p, o, r: ([(r["c"], RDFS.subClassOf, o)], [(s, RDF.type, r["c"])])),
    ("SELECT * WHERE { { ?c owl:equivalentClass ?o } UNION { ?o owl:equivalentClass ?c } ?s a ?c . FILTER (?c != ?o) }",
     lambda s, p, o, r: ([(r["c"], OWL.equivalentClass, o)], [(s, RDF.type, r["c"])])),
    ("SELECT * WHERE { ?q rdfs:domain ?o . ?s ?q ?x . }",
     lambda s, p, o, r: ([(r["q"], RDFS.domain, o)], [(s, r["q"], r["x"])])),
    ("SELECT * WHERE { ?q rdfs:range ?o . ?x ?q ?s . }",
     lambda s, p, o, r: ([(r["q"], RDFS.range, o)], [(r["x"], r["q"], s)])),
]
_PROPERTY_AXIOMS = [
    ("SELECT * WHERE { ?q rdfs:subPropertyOf ?p . ?s ?q ?o . FILTER (?q != ?p) }",
     lambda s, p, o, r: ([(r["q"], RDFS.subPropertyOf, p)], [(s, r["q"], o)])),
    ("SELECT * WHERE { { ?q owl:equivalentProperty ?p } UNION { ?p owl:equivalentProperty ?q } ?s ?q ?o . FILTER (?q != ?p) }",
     lambda s, p, o, r: ([(r["q"], OWL.equivalentProperty, p)], [(s, r["q"], o)])),
    ("SELECT * WHERE { { ?p owl:inverseOf ?q BIND (true AS ?forward) } UNION { ?q owl:inverseOf ?p BIND (false AS ?forward) } ?o ?q ?s . }",
     lambda s, p, o, r: ([(p, OWL.inverseOf, r["q"]) if r["forward"].toPython() else (r["q"], OWL.inverseOf, p)],
                         [(o, r["q"], s)])),
    ("SELECT * WHERE { ?p a owl:SymmetricProperty . ?o ?p ?s . BIND (owl:SymmetricProperty AS ?kind) }",
     lambda s, p, o, r: ([(p, RDF.type, OWL.SymmetricProperty)], [(o, p, s)])),
    ("SELECT * WHERE { ?p a owl:TransitiveProperty . ?s ?p ?m . ?m ?p ?o . FILTER (?m != ?s && ?m != ?o) }",
     lambda s, p, o, r: ([(p, RDF.type, OWL.TransitiveProperty)], [(s, p, r["m"]), (r["m"], p, o)])),
    # OWL 2 RL rules scm-sco / scm-spo: subclass and subproperty chains close transitively
    ("SELECT * WHERE { ?s ?p ?m . ?m ?p ?o . FILTER (?p IN (rdfs:subClassOf, rdfs:subPropertyOf) && ?m != ?s && ?m != ?o) }",
     lambda s, p, o, r: ([], [(s, p, r["m"]), (r["m"], p, o)])),
]


def owl_justification(store: Store, triple: Triple) -> tuple[list[Triple], list[Triple]]:
    """The schema axioms that entail a closure triple under OWL 2 RL, and the instance triples
    they apply to: the first justification found, preferring premises that are asserted."""
    s, p, o = triple
    candidates = _TYPE_AXIOMS if p == RDF.type else _PROPERTY_AXIOMS
    found: list[tuple[list[Triple], list[Triple]]] = []
    for sparql, build in candidates:
        bindings = {k: v for k, v in (("s", s), ("p", p), ("o", o)) if f"?{k}" in sparql}
        for row in store.query(sparql, bindings).rows:
            axioms, premises = build(s, p, o, row)
            if triple not in premises:
                found.append((axioms, premises))
    if not found:
        return [], []
    # asserted premises first, then a fixed order, so every store gives the same justification
    found.sort(key=lambda j: (sum(GRAPH_INFERRED in _graphs_of(store, t) for t in j[1]), str(j)))
    return found[0]


def render_text(explanations: list[Explanation], names: dict[str, str] | None = None) -> str:
    """The trees as indented text, one fact per line, premises below their conclusion."""
    lines: list[str] = []

    def fact(t: Triple) -> str:
        return " ".join(term_text(x, names) for x in t)

    def walk(node: Explanation, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        if node.how == "rule":
            why = f"[rule {node.rule}: {node.purpose} ({node.source})]"
        elif node.how == "owl":
            why = f"[{node.rule}]"
        elif node.how == "asserted":
            why = f"[asserted in {node.graph}]"
        else:
            why = "[explained above]"
        lines.append(f"{prefix}{branch}{fact(node.triple)}  {why}")
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        children: list = [("axiom", a) for a in node.axioms] + [("premise", p) for p in node.premises]
        if node.how == "rule" and node.bindings:
            shown = ", ".join(f"?{k}={term_text(v, names)}" for k, v in sorted(node.bindings.items()))
            lines.append(f"{child_prefix}   with {shown}")
        for i, (kind, child) in enumerate(children):
            is_last = i == len(children) - 1
            if kind == "axiom":
                lines.append(f"{child_prefix}{'└─ ' if is_last else '├─ '}{fact(child)}  [schema axiom]")
            else:
                walk(child, child_prefix, is_last, False)

    for i, explanation in enumerate(explanations):
        if i:
            lines.append("")
        walk(explanation, "", True, True)
    return "\n".join(lines) + "\n"
