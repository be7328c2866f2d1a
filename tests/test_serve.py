"""The HTTP API: SPARQL 1.1 Protocol endpoint with content negotiation, findings, classification
and named queries; a real SPARQL client (SPARQLWrapper) against a loopback server."""

import csv
import io
import json
import socket
import threading
import time
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from aimsgraph.errors import NetworkAccessError  # noqa: E402
from aimsgraph.serve import Service, create_app, negotiate  # noqa: E402
from aimsgraph.store import forbid_network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
DATA = "https://w3id.org/aimsgraph/data/finsecure/"
SYSTEMS_QUERY = "SELECT ?id WHERE { ?s a aims:AISystem ; aims:registerId ?id } ORDER BY ?id"
SYSTEM_IDS = ["credit-scorer", "credit-scorer-features", "fraud-detector", "support-chatbot"]


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.from_path(FINSECURE, AS_OF)


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    return TestClient(create_app(service))


def test_select_as_sparql_json_by_default(client):
    r = client.get("/sparql", params={"query": SYSTEMS_QUERY})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    doc = r.json()
    assert doc["head"]["vars"] == ["id"]
    assert [b["id"]["value"] for b in doc["results"]["bindings"]] == SYSTEM_IDS


def test_select_in_every_results_format(client):
    xml = client.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "application/sparql-results+xml"})
    assert xml.headers["content-type"].startswith("application/sparql-results+xml")
    assert xml.text.count("<literal>") == 4 and "<literal>fraud-detector</literal>" in xml.text
    text = client.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "text/csv"}).text
    assert list(csv.reader(io.StringIO(text))) == [["id"]] + [[s] for s in SYSTEM_IDS]
    tsv = client.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "text/tab-separated-values"}).text
    assert tsv.splitlines() == ["?id"] + [f'"{s}"' for s in SYSTEM_IDS]


def test_accept_header_q_values_pick_the_preferred_type():
    offers = {"application/sparql-results+json": "json", "text/csv": "csv"}
    assert negotiate("text/csv;q=0.9, application/sparql-results+json;q=0.5", offers) == "text/csv"
    assert negotiate("text/*", offers) == "text/csv"
    assert negotiate("*/*", offers) == "application/sparql-results+json"
    assert negotiate(None, offers) == "application/sparql-results+json"
    assert negotiate("image/png", offers) is None
    assert negotiate("text/csv;q=0", offers) is None


def test_unacceptable_type_is_406(client):
    r = client.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "image/png"})
    assert r.status_code == 406


def test_ask_and_construct(client):
    ask = client.get("/sparql", params={"query": "ASK { ?s a aims:HighRiskSystem }"})
    # the category is derived; ask for a fact that must hold either way
    ask = client.get("/sparql", params={"query": f"ASK {{ <{DATA}credit-scorer> a aims:AISystem }}"})
    assert ask.json() == {"head": {}, "boolean": True}
    query = f"CONSTRUCT {{ <{DATA}credit-scorer> aims:partOfNothing ?id }} WHERE {{ <{DATA}credit-scorer> aims:registerId ?id }}"
    ttl = client.get("/sparql", params={"query": query})
    assert ttl.headers["content-type"].startswith("text/turtle")
    assert '"credit-scorer"' in ttl.text
    nt = client.get("/sparql", params={"query": query}, headers={"Accept": "application/n-triples"})
    assert nt.text.strip() == (f'<{DATA}credit-scorer> <https://w3id.org/aimsgraph/ontology#partOfNothing> '
                               '"credit-scorer" .')


def test_post_forms_of_the_protocol(client):
    body = client.post("/sparql", content=SYSTEMS_QUERY, headers={"Content-Type": "application/sparql-query"})
    form = client.post("/sparql", data={"query": SYSTEMS_QUERY})
    assert body.json() == form.json()
    assert len(body.json()["results"]["bindings"]) == 4


def test_endpoint_is_read_only_and_rejects_bad_queries(client):
    assert client.post("/sparql", data={"update": "CLEAR ALL"}).status_code == 403
    assert client.post("/sparql", content="CLEAR ALL", headers={"Content-Type": "application/sparql-update"}).status_code == 403
    assert client.get("/sparql", params={"query": "SELECT WHERE {"}).status_code == 400
    assert client.get("/sparql").status_code == 400
    still = client.get("/sparql", params={"query": SYSTEMS_QUERY}).json()
    assert len(still["results"]["bindings"]) == 4


def test_service_clauses_are_refused_without_network(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"})
    assert r.status_code == 403
    assert "SERVICE" in r.json()["detail"]


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?service ?p ?o }",
    'SELECT * WHERE { ?s <http://example.org/SERVICE> "LOAD" } # SERVICE here is a comment',
    "PREFIX service: <http://example.org/> SELECT * WHERE { ?s service:load ?o }",
])
def test_network_guard_lets_lookalikes_through(text):
    forbid_network(text)


@pytest.mark.parametrize("text", ["select * { service <http://x/> { ?s ?p ?o } }", "LOAD <http://example.org/x.ttl>"])
def test_network_guard_refuses_service_and_load(text):
    with pytest.raises(NetworkAccessError):
        forbid_network(text)


def test_gaps_route_matches_the_cli_document(client, service):
    doc = client.get("/gaps").json()
    assert doc["as_of"] == "2026-01-31"
    assert [f["rule"] for f in doc["findings"]] == [f.rule for f in service.analysis.validation.findings]
    only = client.get("/gaps", params={"rule": "evidence-expired"}).json()["findings"]
    assert [(f["rule"], f["focus"]) for f in only] == [("evidence-expired", "EV-16")]
    assert client.get("/gaps", params={"severity": "bad"}).status_code == 400
    unknown = client.get("/gaps", params={"rule": "evidence-expird"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("no rule 'evidence-expird'; did you mean 'evidence-expired'?")
    assert client.get("/gaps", params={"system": "nosuch"}).status_code == 400


def test_api_docs_need_no_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "unpkg" not in page.text
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200
    assert "cdn." not in client.get("/redoc").text


def test_post_gaps_checks_a_register_in_the_body(client):
    r = client.post("/gaps", params={"as_of": "2026-01-31", "rule": "soa-incomplete"},
                    content=FINSECURE.read_bytes(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200
    assert [(f["rule"], f["focus"]) for f in r.json()["findings"]] == [("soa-incomplete", "iso42001:A.10.4")]


def test_post_gaps_reports_register_errors_with_entry_and_key(client):
    bad = b"format: aimsgraph-register/1\norganization: {id: acme, name: ACME}\npeople:\n  - {id: p1, name: P, colour: red}\n"
    r = client.post("/gaps", content=bad, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422
    assert r.json()["problems"] == [{"file": "register.yaml", "entry": "p1", "key": "colour",
                                     "message": r.json()["problems"][0]["message"]}]
    assert "unknown key" in r.json()["problems"][0]["message"]


def test_classify_and_named_queries(client):
    systems = {s["id"]: s for s in client.get("/classify").json()["systems"]}
    assert systems["credit-scorer"]["category"] == "high-risk"
    assert systems["credit-scorer-features"]["category"] == "out-of-scope"
    names = [q["name"] for q in client.get("/queries").json()["queries"]]
    assert "controls-for-article" in names
    rows = client.get("/queries/controls-for-article", params={"article": "euaia:art14"}).json()
    assert rows["columns"][0] == "control"
    assert rows["rows"] and all(r["control"].startswith("iso42001:A.") for r in rows["rows"])
    assert client.get("/queries/no-such-query").status_code == 404
    assert client.get("/queries/controls-for-article", params={"nope": "1"}).status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_standard_sparql_client_talks_to_a_loopback_server(service):
    uvicorn = pytest.importorskip("uvicorn")
    from SPARQLWrapper import JSON, SPARQLWrapper

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        client = SPARQLWrapper(f"http://127.0.0.1:{port}/sparql")
        client.setQuery("PREFIX aims: <https://w3id.org/aimsgraph/ontology#> " + SYSTEMS_QUERY)
        client.setReturnFormat(JSON)
        doc = client.queryAndConvert()
        assert [b["id"]["value"] for b in doc["results"]["bindings"]] == SYSTEM_IDS
        client.setMethod("POST")
        assert json.loads(json.dumps(client.queryAndConvert())) == doc
    finally:
        server.should_exit = True
        thread.join(timeout=10)
