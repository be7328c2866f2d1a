"""RDF input: Turtle, N-Triples, JSON-LD and RDF/XML parse to the same triples; TriG/N-Quads
graphs are merged; nothing ever goes to the network (remote JSON-LD contexts are refused with
a clear error, owl:imports is not followed)."""

import socket
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from aimsgraph.errors import RDFInputError
from aimsgraph.load import load_input, read_input, read_rdf
from aimsgraph.namespaces import AIMS, GRAPH_DATA
from aimsgraph.store import open_store

EX = "https://data.example.org/"
TRIPLES = [
    (URIRef(EX + "scorer"), URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), AIMS.AISystem),
    (URIRef(EX + "scorer"), AIMS.registerId, Literal("scorer")),
    (URIRef(EX + "scorer"), AIMS.owner, URIRef(EX + "ceo")),
]
TEXTS = {
    "register.ttl": f"""@prefix aims: <{AIMS}> .
<{EX}scorer> a aims:AISystem ; aims:registerId "scorer" ; aims:owner <{EX}ceo> .
""",
    "register.nt": "".join(f"{s.n3()} {p.n3()} {o.n3()} .\n" for s, p, o in TRIPLES),
    "register.jsonld": f"""{{"@context": {{"aims": "{AIMS}"}},
  "@id": "{EX}scorer", "@type": "aims:AISystem", "aims:registerId": "scorer",
  "aims:owner": {{"@id": "{EX}ceo"}}}}""",
    "register.rdf": f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:aims="{AIMS}">
  <aims:AISystem rdf:about="{EX}scorer">
    <aims:registerId>scorer</aims:registerId>
    <aims:owner rdf:resource="{EX}ceo"/>
  </aims:AISystem>
</rdf:RDF>
""",
}


def expected() -> Graph:
    g = Graph()
    for t in TRIPLES:
        g.add(t)
    return g


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_each_rdf_format_parses_to_the_same_triples(tmp_path, name, no_network):
    path = tmp_path / name
    path.write_text(TEXTS[name], encoding="utf-8")
    assert isomorphic(read_rdf(path), expected())


def test_rdf_input_goes_into_the_data_graph(tmp_path, no_network):
    path = tmp_path / "register.ttl"
    path.write_text(TEXTS["register.ttl"], encoding="utf-8")
    store = open_store()
    load_input(store, path)
    assert set(store.triples(GRAPH_DATA)) == set(TRIPLES)


@pytest.mark.parametrize("context", [
    '"https://schema.org/"',
    '["https://w3id.org/aimsgraph/context.jsonld", {"aims": "https://w3id.org/aimsgraph/ontology#"}]',
    '{"@import": "https://example.org/context.jsonld"}',
])
def test_a_remote_json_ld_context_is_refused_without_network_access(tmp_path, no_network, context):
    path = tmp_path / "register.jsonld"
    path.write_text(f'{{"@context": {context}, "@id": "{EX}scorer", "aims:registerId": "scorer"}}', encoding="utf-8")
    store = open_store()
    with pytest.raises(RDFInputError) as caught:
        load_input(store, path)
    [problem] = caught.value.problems
    assert (problem.file, problem.key) == ("register.jsonld", "@context")
    assert "is not in this file, and aimsgraph never fetches anything over the network" in problem.message
    assert store.graphs() == []  # nothing loaded


def test_a_nested_remote_context_is_refused_too(tmp_path, no_network):
    path = tmp_path / "register.jsonld"
    path.write_text(f'{{"@graph": [{{"@context": "https://schema.org/", "@id": "{EX}a"}}]}}', encoding="utf-8")
    with pytest.raises(RDFInputError, match="'https://schema.org/' is not in this file"):
        read_rdf(path)


def test_owl_imports_is_kept_as_a_triple_and_not_followed(tmp_path, no_network):
    path = tmp_path / "register.ttl"
    path.write_text("<https://data.example.org/> <http://www.w3.org/2002/07/owl#imports> "
                    "<https://www.w3.org/ns/dcat3.ttl> .\n", encoding="utf-8")
    assert len(read_rdf(path)) == 1


def test_trig_and_nquads_graphs_read_as_one_graph(tmp_path, no_network):
    path = tmp_path / "register.trig"
    path.write_text(f"<{EX}a> <{EX}p> <{EX}b> . <{EX}g> {{ <{EX}a> <{EX}p> <{EX}c> . }}", encoding="utf-8")
    assert {str(o) for o in read_rdf(path).objects()} == {EX + "b", EX + "c"}


@pytest.mark.parametrize("name, text", [
    ("register.trig", f"<{EX}a> <{EX}p> <{EX}b> . <{EX}g> {{ <{EX}a> <{EX}p> <{EX}c> . }}"),
    ("register.nq", f"<{EX}a> <{EX}p> <{EX}b> .\n<{EX}a> <{EX}p> <{EX}c> <{EX}g> .\n"),
])
def test_trig_and_nquads_keep_their_graph_names_in_the_store(tmp_path, no_network, name, text):
    from aimsgraph.load import load_input
    from aimsgraph.namespaces import GRAPH_DATA
    from aimsgraph.store import open_store

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    store = open_store()
    load_input(store, path)
    assert EX + "g" in store.graphs()
    assert [str(t[2]) for t in store.triples(EX + "g")] == [EX + "c"]
    assert [str(t[2]) for t in store.triples(GRAPH_DATA)] == [EX + "b"]


def test_a_trig_graph_may_not_take_an_aimsgraph_graph_name(tmp_path, no_network):
    path = tmp_path / "register.trig"
    path.write_text(f"<https://w3id.org/aimsgraph/graph/inferred> {{ <{EX}a> <{EX}p> <{EX}c> . }}", encoding="utf-8")
    with pytest.raises(RDFInputError, match="one of aimsgraph's own graphs"):
        read_rdf(path)


@pytest.mark.parametrize("name, text, message", [
    ("bad.ttl", "<a> <b> .", "cannot parse turtle"),
    ("bad.jsonld", "{not json", "cannot parse json-ld"),
    ("bad.rdf", "<rdf:RDF", "cannot parse xml"),
    ("bad.csv", "id\n", "unknown RDF file type '.csv'"),
])
def test_unparseable_rdf_is_an_input_error(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RDFInputError) as caught:
        read_input(path)
    assert caught.value.problems[0].file == name
    assert message in caught.value.problems[0].message


def test_a_missing_rdf_file_is_an_input_error(tmp_path):
    with pytest.raises(RDFInputError, match="no such file or folder"):
        read_input(tmp_path / "nowhere.ttl")
