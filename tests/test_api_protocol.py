"""Each requirement the W3C SPARQL 1.1 Protocol tests check, written here with our own data,
against a running server: dataset selection by the protocol and by FROM / FROM NAMED (among the
store's graphs, never fetched), one query per request, the methods and media types, UTF-8
only, syntax errors, the base IRI, results in the right family of formats, and updates with
the write token (the protocol's update side). `scripts/w3c_sparql.py` runs the suite itself."""

import json
from datetime import date

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from aimsgraph.serve import Service  # noqa: E402
from servers import Listener, client, running  # noqa: E402

EX = "http://example.org/protocol/"
TOKEN = "test-token-0123456789abcdef"
TRIG = f"""
<{EX}g1> {{ <{EX}doc1> a <{EX}Document> ; <{EX}title> "one" . }}
<{EX}g2> {{ <{EX}doc2> a <{EX}Document> ; <{EX}title> "two" . }}
<{EX}g3> {{ <{EX}doc3> a <{EX}Document> ; <{EX}title> "three" . }}
"""
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    path = tmp_path_factory.mktemp("protocol") / "graphs.trig"
    path.write_text(TRIG, encoding="utf-8")
    service = Service.from_path(path, date(2026, 1, 31), workers=1, timeout=20, write_token=TOKEN)
    with running(service) as base, client(base) as c:
        yield c


def ask(http, query: str, **params) -> bool:
    r = http.post("/sparql", params=params, content=query, headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def count(http, query: str, params=None) -> int:
    r = http.get("/sparql", params=[("query", query)] + list(params or []))
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def test_a_trig_input_keeps_its_graph_names(http):
    r = http.get("/sparql", params={"query": f"SELECT ?g WHERE {{ GRAPH ?g {{ ?d a <{EX}Document> }} }} ORDER BY ?g"})
    assert [b["g"]["value"] for b in r.json()["results"]["bindings"]] == [EX + "g1", EX + "g2", EX + "g3"]


def test_default_graph_uri_selects_the_default_graph(http):
    assert count(http, f"SELECT (COUNT(*) AS ?n) {{ ?d a <{EX}Document> }}") == 3  # the union
    assert count(http, f"SELECT (COUNT(*) AS ?n) {{ ?d a <{EX}Document> }}", [("default-graph-uri", EX + "g1")]) == 1
    two = [("default-graph-uri", EX + "g1"), ("default-graph-uri", EX + "g2")]
    assert ask(http, f"ASK {{ <{EX}doc1> a ?t . <{EX}doc2> a ?t }}", **{"default-graph-uri": [EX + "g1", EX + "g2"]})
    assert count(http, f"SELECT (COUNT(*) AS ?n) {{ ?d a <{EX}Document> }}", two) == 2


def test_named_graph_uri_selects_the_named_graphs(http):
    query = f"ASK {{ GRAPH ?a {{ <{EX}doc1> a ?t }} GRAPH ?b {{ <{EX}doc2> a ?t }} }}"
    assert ask(http, query, **{"named-graph-uri": [EX + "g1", EX + "g2"]})
    assert not ask(http, query, **{"named-graph-uri": [EX + "g1"]})
    # only named graphs given: the default graph is empty
    assert count(http, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", [("named-graph-uri", EX + "g1")]) == 0


def test_a_full_protocol_dataset(http):
    query = f"ASK {{ <{EX}doc3> a ?t GRAPH ?a {{ <{EX}doc1> a ?t }} GRAPH ?b {{ <{EX}doc2> a ?t }} }}"
    assert ask(http, query, **{"default-graph-uri": EX + "g3", "named-graph-uri": [EX + "g1", EX + "g2"]})


def test_from_and_from_named_select_among_the_stores_graphs(http):
    assert count(http, f"SELECT (COUNT(*) AS ?n) FROM <{EX}g2> {{ ?s ?p ?o }}") == 2
    assert count(http, f"SELECT (COUNT(*) AS ?n) FROM NAMED <{EX}g2> {{ GRAPH ?g {{ ?s ?p ?o }} }}") == 2
    assert count(http, f"SELECT (COUNT(*) AS ?n) FROM NAMED <{EX}g2> {{ ?s ?p ?o }}") == 0


def test_the_protocol_dataset_wins_over_the_querys(http):
    query = f"ASK FROM <{EX}g3> {{ GRAPH ?a {{ <{EX}doc1> a ?t }} GRAPH ?b {{ <{EX}doc2> a ?t }} }}"
    assert ask(http, query, **{"named-graph-uri": [EX + "g1", EX + "g2"]})


def test_dataset_iris_are_never_fetched():
    listener = Listener()
    try:
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp())
        (folder / "g.trig").write_text(TRIG, encoding="utf-8")
        service = Service.from_path(folder / "g.trig", date(2026, 1, 31), workers=1, heavy_workers=1, timeout=20)
        with running(service) as base, client(base) as http:
            assert count(http, f"SELECT (COUNT(*) AS ?n) FROM <{listener.url}> {{ ?s ?p ?o }}") == 0
            assert count(http, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }", [("default-graph-uri", listener.url)]) == 0
        assert listener.connections == 0
    finally:
        listener.close()


def test_one_query_per_request_and_the_right_methods(http):
    assert http.get("/sparql", params=[("query", "ASK {}"), ("query", "SELECT * {}")]).status_code == 400
    assert http.put("/sparql", params={"query": "ASK {}"}).status_code == 405
    assert http.post("/sparql", data={"query": "ASK {}"}).json()["boolean"] is True
    assert http.post("/sparql", content="query=ASK%20%7B%7D&query=ASK%20%7B%7D", headers=FORM).status_code == 400
    assert http.get("/sparql", params={"update": "CLEAR ALL"}).status_code == 400


def test_media_types_of_the_request(http):
    assert http.post("/sparql", content="ASK {}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert http.post("/sparql", content="query=ASK%20%7B%7D").status_code == 415  # no Content-Type
    assert http.post("/sparql", content="ASK {}", headers={"Content-Type": ""}).status_code == 415
    assert http.post("/sparql", content="ASK {}".encode("utf-16"),
                     headers={"Content-Type": "application/sparql-query; charset=UTF-16"}).status_code == 415
    assert http.post("/sparql", content=b"ASK { ?s ?p '\xff' }",
                     headers={"Content-Type": "application/sparql-query"}).status_code == 400


def test_syntax_errors_are_400(http):
    r = http.get("/sparql", params={"query": "ASK {"})
    assert r.status_code == 400 and "syntax" in r.json()["error"].lower()


def test_relative_iris_resolve_against_the_endpoint(http):
    r = http.post("/sparql", content="CONSTRUCT { <s> <p> 1 } WHERE {}",
                  headers={"Content-Type": "application/sparql-query", "Accept": "application/n-triples"})
    base = str(http.base_url).rstrip("/")
    assert r.status_code == 200 and r.text.startswith(f"<{base}/s> <{base}/p> ")


def test_answers_come_in_the_family_of_the_query_form(http):
    select = http.post("/sparql", content="SELECT (1 AS ?value) {}", headers={"Content-Type": "application/sparql-query"})
    assert select.headers["content-type"].split(";")[0] in ("application/sparql-results+json",)
    assert json.loads(select.text)["results"]["bindings"][0]["value"]["value"] == "1"
    ask_r = http.post("/sparql", content="ASK {}", headers={"Content-Type": "application/sparql-query"})
    assert ask_r.json() == {"head": {}, "boolean": True}
    for query in ("DESCRIBE <http://example.org/>", "CONSTRUCT { <s> <p> 1 } WHERE {}"):
        graph = http.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"})
        assert graph.status_code == 200 and graph.headers["content-type"].startswith("text/turtle")


def test_updates_with_the_token_and_the_protocols_using_parameters(http):
    """The update side: `using-graph-uri` is the update's default graph, a conflicting USING is
    refused, and the change is visible to the next query."""
    update = (f"INSERT {{ GRAPH <{EX}out> {{ ?d a <{EX}Copied> }} }} WHERE {{ ?d a <{EX}Document> }}")
    r = http.post("/sparql", params={"using-graph-uri": EX + "g1"}, content=update,
                  headers={"Content-Type": "application/sparql-update", **AUTH})
    assert r.status_code == 200, r.text
    assert count(http, f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{EX}out> {{ ?d a <{EX}Copied> }} }}") == 1
    conflict = http.post("/sparql", params={"using-named-graph-uri": EX + "g1"},
                         content=f"WITH <{EX}g2> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
                         headers={"Content-Type": "application/sparql-update", **AUTH})
    assert conflict.status_code == 400
    assert http.post("/sparql", data={"update": "CLEAR XYZ"}, headers=AUTH).status_code == 400
    assert http.post("/sparql", content="update=CLEAR%20NAMED&update=CLEAR%20DEFAULT",
                     headers={**FORM, **AUTH}).status_code == 400
    based = http.post("/sparql", content=f"INSERT DATA {{ GRAPH <{EX}base> {{ <{EX}s> <{EX}p> <test> }} }}",
                      headers={"Content-Type": "application/sparql-update", **AUTH})
    assert based.status_code == 200
    base = str(http.base_url).rstrip("/")
    assert ask(http, f"ASK {{ GRAPH <{EX}base> {{ <{EX}s> <{EX}p> <{base}/test> }} }}")
