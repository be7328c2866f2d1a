"""Every namespace the project uses, in one place (register.md fixes the four of our own).

Other modules import prefixes from here; nothing else spells out a namespace IRI.
"""

from __future__ import annotations

import re

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

AIMS = Namespace("https://w3id.org/aimsgraph/ontology#")
ISO42001 = Namespace("https://w3id.org/aimsgraph/iso42001/")
EUAIA = Namespace("https://w3id.org/aimsgraph/eu-ai-act/")
NISTAIRMF = Namespace("https://w3id.org/aimsgraph/nist-ai-rmf/")
AIMSMAP = Namespace("https://w3id.org/aimsgraph/crosswalk/")
AIMSSH = Namespace("https://w3id.org/aimsgraph/shapes#")
SH = Namespace("http://www.w3.org/ns/shacl#")
VANN = Namespace("http://purl.org/vocab/vann/")

# Named graphs: asserted data, catalogues and inferences are kept apart so each can be
# replaced, dumped or explained on its own.
GRAPH_BASE = "https://w3id.org/aimsgraph/graph/"
GRAPH_ONTOLOGY = GRAPH_BASE + "ontology"
GRAPH_CATALOGUES = GRAPH_BASE + "catalogues"
GRAPH_DATA = GRAPH_BASE + "data"
GRAPH_INFERRED = GRAPH_BASE + "inferred"
GRAPH_PARAMETERS = GRAPH_BASE + "parameters"

# The node that carries one run's parameters (as-of date, windows) in GRAPH_PARAMETERS.
RUN_IRI = "https://w3id.org/aimsgraph/run"

# Default base for IRIs minted from register ids; `organization.base_iri` overrides it.
DATA_BASE = "https://w3id.org/aimsgraph/data/"

PREFIXES: dict[str, str] = {
    "aims": str(AIMS),
    "iso42001": str(ISO42001),
    "euaia": str(EUAIA),
    "nistairmf": str(NISTAIRMF),
    "aimsmap": str(AIMSMAP),
    "aimssh": str(AIMSSH),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "prov": str(PROV),
    "sh": str(SH),
    "vann": str(VANN),
}

# The CURIE prefixes a user may write in a register or a finding (register.md, "Identifiers").
CATALOGUE_PREFIXES = ("iso42001", "euaia", "nistairmf")


def sparql_prologue() -> str:
    """PREFIX lines for every known prefix, for queries that leave them out."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


def expand_curie(curie: str) -> str | None:
    """`euaia:art9` -> full IRI, or None when the prefix is not one of ours."""
    prefix, sep, local = curie.partition(":")
    if not sep or prefix not in PREFIXES or not local:
        return None
    return PREFIXES[prefix] + local


_CURIE_PREFIXES = CATALOGUE_PREFIXES + ("aims", "aimsmap")
# the namespaces in that order, each followed by at least one character: the first that matches
# is the one the loop over them took (one regex match, not a startswith per prefix: to_curie runs
# once per distinct IRI of a query's answer, ~90k for trace-nodes at 1M triples)
_CURIE_NAMESPACE = re.compile("|".join(f"({re.escape(PREFIXES[p])})(?=[\\s\\S])" for p in _CURIE_PREFIXES))


def to_curie(iri: str) -> str:
    """Shortest CURIE for a catalogue IRI; other IRIs come back unchanged."""
    found = _CURIE_NAMESPACE.match(iri)
    if found is None:
        return iri
    return f"{_CURIE_PREFIXES[found.lastindex - 1]}:{iri[found.end():]}"
