"""The HTTP API against a running server (uvicorn on loopback, worker processes, a real HTTP
client): SPARQL endpoint with content negotiation, the service description, and the JSON
routes that mirror the CLI, with `as_of`."""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from aimsgraph.serve import Service, negotiate  # noqa: E402
from servers import client, running  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
DATA = "https://w3id.org/aimsgraph/data/finsecure/"
SYSTEMS_QUERY = "SELECT ?id WHERE { ?s a aims:AISystem ; aims:registerId ?id } ORDER BY ?id"
SYSTEM_IDS = ["credit-scorer", "credit-scorer-features", "fraud-detector", "support-chatbot"]


@pytest.fixture(scope="module")
def service():
    return Service.from_path(FINSECURE, AS_OF, workers=2, timeout=20)


@pytest.fixture(scope="module")
def http(service):
    with running(service) as base, client(base) as c:
        yield c


def test_select_as_sparql_json_by_default(http):
    r = http.get("/sparql", params={"query": SYSTEMS_QUERY})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/sparql-results+json")
    doc = r.json()
    assert doc["head"]["vars"] == ["id"]
    assert [b["id"]["value"] for b in doc["results"]["bindings"]] == SYSTEM_IDS


def test_select_in_every_results_format(http):
    xml = http.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "application/sparql-results+xml"})
    assert xml.headers["content-type"].startswith("application/sparql-results+xml")
    assert xml.text.count("<literal>") == 4 and "<literal>fraud-detector</literal>" in xml.text
    text = http.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "text/csv"}).text
    assert list(csv.reader(io.StringIO(text))) == [["id"]] + [[s] for s in SYSTEM_IDS]
    tsv = http.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "text/tab-separated-values"}).text
    assert tsv.splitlines() == ["?id"] + [f'"{s}"' for s in SYSTEM_IDS]


def test_tsv_escapes_tabs_and_line_breaks_and_keeps_lexical_forms(http):
    """TSV cells are terms in Turtle syntax: a tab or line break inside a literal is escaped
    (never a raw tab, never triple quotes); timezones and dates keep their lexical form."""
    query = ('SELECT ?text ?when ?day WHERE { BIND ("a\\tb\\nc" AS ?text) '
             'BIND ("2026-01-31T10:00:00Z"^^xsd:dateTime AS ?when) BIND ("2026-01-31+02:00"^^xsd:date AS ?day) }')
    tsv = http.get("/sparql", params={"query": query}, headers={"Accept": "text/tab-separated-values"}).text
    header, row = tsv.splitlines()
    assert header == "?text\t?when\t?day"
    cells = row.split("\t")
    assert cells == ['"a\\tb\\nc"', '"2026-01-31T10:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>',
                     '"2026-01-31+02:00"^^<http://www.w3.org/2001/XMLSchema#date>']
    doc = http.get("/sparql", params={"query": query}).json()["results"]["bindings"][0]
    assert doc["when"]["value"] == "2026-01-31T10:00:00Z" and doc["day"]["value"] == "2026-01-31+02:00"


def test_accept_header_q_values_pick_the_preferred_type():
    offers = ["application/sparql-results+json", "text/csv"]
    assert negotiate("text/csv;q=0.9, application/sparql-results+json;q=0.5", offers) == "text/csv"
    assert negotiate("text/*", offers) == "text/csv"
    assert negotiate("*/*", offers) == "application/sparql-results+json"
    assert negotiate("application/json", offers) == "application/sparql-results+json"
    assert negotiate(None, offers) == "application/sparql-results+json"
    assert negotiate("image/png", offers) is None
    assert negotiate("text/csv;q=0", offers) is None


def test_unacceptable_type_is_406(http):
    r = http.get("/sparql", params={"query": SYSTEMS_QUERY}, headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert "available" in r.json()["error"]
    ask_csv = http.get("/sparql", params={"query": "ASK {}"}, headers={"Accept": "text/csv"})
    assert ask_csv.status_code == 406


def test_ask_construct_and_describe(http):
    ask = http.get("/sparql", params={"query": f"ASK {{ <{DATA}credit-scorer> a aims:AISystem }}"})
    assert ask.json() == {"head": {}, "boolean": True}
    query = (f"CONSTRUCT {{ <{DATA}credit-scorer> aims:partOfNothing ?id }} "
             f"WHERE {{ <{DATA}credit-scorer> aims:registerId ?id }}")
    ttl = http.get("/sparql", params={"query": query})
    assert ttl.headers["content-type"].startswith("text/turtle")
    assert '"credit-scorer"' in ttl.text
    nt = http.get("/sparql", params={"query": query}, headers={"Accept": "application/n-triples"})
    assert nt.text.strip() == (f'<{DATA}credit-scorer> <https://w3id.org/aimsgraph/ontology#partOfNothing> '
                               '"credit-scorer" .')
    for media in ("application/ld+json", "application/rdf+xml"):
        assert http.get("/sparql", params={"query": query}, headers={"Accept": media}).headers[
            "content-type"].startswith(media)
    describe = http.get("/sparql", params={"query": f"DESCRIBE <{DATA}credit-scorer>"},
                        headers={"Accept": "application/n-triples"})
    assert describe.status_code == 200 and f"<{DATA}credit-scorer>" in describe.text


def test_post_forms_of_the_protocol(http):
    body = http.post("/sparql", content=SYSTEMS_QUERY, headers={"Content-Type": "application/sparql-query"})
    form = http.post("/sparql", data={"query": SYSTEMS_QUERY})
    assert body.json() == form.json()
    assert len(body.json()["results"]["bindings"]) == 4


def test_service_description_at_the_endpoint(http, service):
    r = http.get("/sparql", headers={"Accept": "application/n-triples"})
    assert r.status_code == 200
    text = r.text
    sd = "http://www.w3.org/ns/sparql-service-description#"
    base = str(http.base_url).rstrip("/")
    assert f"<{sd}Service>" in text and f"<{sd}endpoint> <{base}/sparql>" in text
    assert f"<{sd}SPARQL11Query>" in text and f"<{sd}SPARQL11Update>" not in text  # no write token
    assert "<http://www.w3.org/ns/formats/SPARQL_Results_TSV>" in text
    for graph in service.meta.graphs:
        assert f"<{sd}name> <{graph}>" in text
    assert http.get("/sparql").headers["content-type"].startswith("text/turtle")


def test_gaps_route_matches_the_cli_document(http, service):
    doc = http.get("/gaps").json()
    assert doc["as_of"] == "2026-01-31"
    assert [f["rule"] for f in doc["findings"]] == [f.rule for f in service.meta.findings]
    only = http.get("/gaps", params={"rule": "evidence-expired"}).json()["findings"]
    assert [(f["rule"], f["focus"]) for f in only] == [("evidence-expired", "EV-16")]
    assert http.get("/gaps", params={"severity": "bad"}).status_code == 400
    unknown = http.get("/gaps", params={"rule": "evidence-expird"})
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("no rule 'evidence-expird'; did you mean 'evidence-expired'?")
    assert http.get("/gaps", params={"system": "nosuch"}).status_code == 400


def test_as_of_judges_at_another_date(http):
    now = {f["focus"] for f in http.get("/gaps", params={"rule": "evidence-expired"}).json()["findings"]}
    later = http.get("/gaps", params={"rule": "evidence-expired", "as_of": "2030-01-01"}).json()
    assert later["as_of"] == "2030-01-01"
    assert now < {f["focus"] for f in later["findings"]}  # more evidence has expired by then
    assert http.get("/classify", params={"as_of": "2030-01-01"}).json()["as_of"] == "2030-01-01"
    assert http.get("/gaps", params={"as_of": "31/01/2026"}).status_code == 400


def test_api_docs_need_no_cdn(http):
    page = http.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "unpkg" not in page.text
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    assert http.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert "cdn." not in http.get("/redoc").text


def test_post_gaps_checks_a_register_in_the_body(http):
    r = http.post("/gaps", params={"as_of": "2026-01-31", "rule": "soa-incomplete"},
                  content=FINSECURE.read_bytes(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 200
    assert [(f["rule"], f["focus"]) for f in r.json()["findings"]] == [("soa-incomplete", "iso42001:A.10.4")]


def test_post_gaps_reports_register_errors_with_entry_and_key(http):
    bad = b"format: aimsgraph-register/1\norganization: {id: acme, name: ACME}\npeople:\n  - {id: p1, name: P, colour: red}\n"
    r = http.post("/gaps", content=bad, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422
    problem = r.json()["problems"][0]
    assert (problem["file"], problem["entry"], problem["key"]) == ("register.yaml", "p1", "colour")
    assert "unknown key" in problem["message"]


def test_classify_and_named_queries(http):
    systems = {s["id"]: s for s in http.get("/classify").json()["systems"]}
    assert systems["credit-scorer"]["category"] == "high-risk"
    assert systems["credit-scorer-features"]["category"] == "out-of-scope"
    names = [q["name"] for q in http.get("/queries").json()["queries"]]
    assert "controls-for-article" in names
    rows = http.get("/queries/controls-for-article", params={"article": "euaia:art14"}).json()
    assert rows["columns"][0] == "control"
    assert rows["rows"] and all(r["control"].startswith("iso42001:A.") for r in rows["rows"])
    assert http.get("/queries/no-such-query").status_code == 404
    assert http.get("/queries/controls-for-article", params={"nope": "1"}).status_code == 400


def test_trace_impact_hotspots_explain_soa_report(http):
    trace = http.get("/trace/credit-scorer").json()
    assert trace["root"] == "credit-scorer" and trace["nodes"] and trace["edges"]
    impact = http.get("/impact/EV-16").json()
    assert impact["root"] == "EV-16" and "credit-scorer" in impact["systems"]
    assert http.get("/impact/credit-scorer").status_code == 404  # impact starts from a control or evidence
    assert http.get("/trace/no-such-entry").status_code == 404
    spots = http.get("/hotspots", params={"top": 3}).json()["hotspots"]
    assert len(spots) == 3 and spots[0]["reach"] >= spots[-1]["reach"]
    facts = http.get("/explain", params={"subject": "credit-scorer"}).json()["facts"]
    assert facts and all("how" in f for f in facts)
    assert http.get("/explain", params={"subject": "no-such-id"}).status_code == 404
    soa = http.get("/soa").json()
    assert soa["as_of"] == "2026-01-31" and len([r for r in soa["rows"] if r["origin"] == "annex-a"]) == 38
    assert http.get("/soa", params={"format": "csv"}).text.startswith("Statement of Applicability,FinSecure Bank AG\nVersion,2.1\n")
    xlsx = http.get("/soa", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert http.get("/soa", params={"format": "pdf"}).status_code == 400
    report = http.get("/report")
    assert report.status_code == 200 and report.text.startswith("<!DOCTYPE html>")


def test_health_says_what_is_served(http):
    doc = http.get("/health").json()
    assert doc["status"] == "ok" and doc["as_of"] == "2026-01-31" and doc["generation"] == 0
    assert doc["workers"]["query"]["size"] == 2 and doc["writes"] is False


def test_a_standard_sparql_client_talks_to_the_server(http):
    from SPARQLWrapper import JSON, SPARQLWrapper

    sparql = SPARQLWrapper(str(http.base_url).rstrip("/") + "/sparql")
    sparql.setQuery("PREFIX aims: <https://w3id.org/aimsgraph/ontology#> " + SYSTEMS_QUERY)
    sparql.setReturnFormat(JSON)
    doc = sparql.queryAndConvert()
    assert [b["id"]["value"] for b in doc["results"]["bindings"]] == SYSTEM_IDS
    sparql.setMethod("POST")
    assert json.loads(json.dumps(sparql.queryAndConvert())) == doc
