"""Bounded and non-blocking, against running servers: a query past the timeout is stopped and
answered 503 while /health keeps answering; past the concurrent work cap requests get 503 at
once; SIGTERM stops the server and its workers within seconds; writes (SPARQL Update, Graph
Store Protocol) need the token, are atomic, and are re-reasoned before the next read."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402

from aimsgraph.serve import Service  # noqa: E402
from servers import client, free_port, running  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
AS_OF = date(2026, 1, 31)
TOKEN = "limits-token-0123456789abcdef"
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
DATA = "https://w3id.org/aimsgraph/data/finsecure/"


@pytest.fixture(scope="module")
def analysis():
    from analyses import analysed

    return analysed(FINSECURE, AS_OF)


def test_a_query_past_the_timeout_is_stopped_while_health_answers(analysis):
    service = Service.from_analysis(analysis, "register.yaml", workers=1, heavy_workers=1, timeout=2)
    with running(service) as base, client(base) as http:
        answers = {}

        def slow():
            started = time.perf_counter()
            answers["r"] = http.post("/sparql", content=CROSS_JOIN, headers={"Content-Type": "application/sparql-query"})
            answers["seconds"] = time.perf_counter() - started

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.3)
        pauses = []
        while thread.is_alive():
            started = time.perf_counter()
            assert http.get("/health").status_code == 200
            pauses.append(time.perf_counter() - started)
            time.sleep(0.05)
        thread.join()
        assert answers["r"].status_code == 503 and "longer than" in answers["r"].json()["error"]
        assert 1.9 < answers["seconds"] < 5
        assert pauses and max(pauses) < 0.5  # /health never waited on the query
        # the killed worker was replaced: the next query is answered
        for _ in range(100):
            if http.get("/health").json()["workers"]["query"]["idle"] == 1:
                break
            time.sleep(0.1)
        ok = http.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert ok.status_code == 200 and ok.json()["boolean"] is True
        assert http.get("/health").json()["workers"]["query"]["killed"] == 1


def test_past_the_concurrent_work_cap_requests_get_503_at_once(analysis):
    service = Service.from_analysis(analysis, "register.yaml", workers=1, heavy_workers=1, timeout=3, max_queue=1)
    with running(service) as base:
        results = []

        def one():
            with client(base) as c:
                started = time.perf_counter()
                r = c.post("/sparql", content=CROSS_JOIN, headers={"Content-Type": "application/sparql-query"})
                results.append((r.status_code, time.perf_counter() - started, r.headers.get("retry-after")))

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
        busy = [r for r in results if r[1] < 1]
        assert len(busy) == 2 and all(status == 503 and retry == "1" for status, _, retry in busy)
        assert sorted(status for status, _, _ in results) == [503, 503, 503, 503]  # the others timed out


def test_sigterm_stops_the_server_and_its_workers_within_seconds(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "aimsgraph", "serve", str(FINSECURE), "--as-of", "2026-01-31",
                             "--port", str(port), "--timeout", "60"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                health = httpx.get(base + "/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        pids = health["workers"]["query"]["pids"] + health["workers"]["heavy"]["pids"]
        assert len(pids) == 3
        busy = threading.Thread(target=lambda: httpx.post(base + "/sparql", content=CROSS_JOIN, timeout=30,
                                                          headers={"Content-Type": "application/sparql-query"}))
        busy.start()
        time.sleep(0.5)
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.perf_counter() - started < 5
        time.sleep(0.5)
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()
                 and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
        assert alive == []
        busy.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def writable(analysis):
    service = Service.from_analysis(analysis, "register.yaml", workers=1, heavy_workers=1, timeout=30,
                                    write_token=TOKEN)
    with running(service) as base, client(base) as http:
        yield http


def auth(token: str = TOKEN, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


def ask(http, query: str) -> bool:
    return http.get("/sparql", params={"query": query}).json()["boolean"]


def test_writes_are_refused_without_a_token_on_the_server(analysis):
    service = Service.from_analysis(analysis, "register.yaml", workers=1, heavy_workers=1)
    with running(service) as base, client(base) as http:
        for r in (http.post("/sparql", data={"update": "CLEAR ALL"}, headers=auth()),
                  http.post("/sparql", content="CLEAR ALL", headers=auth(**{"Content-Type": "application/sparql-update"})),
                  http.put("/store?graph=http://example.org/g", content=b"<a:b> <a:c> <a:d> .",
                           headers=auth(**{"Content-Type": "text/turtle"}))):
            assert r.status_code == 403 and "read-only" in r.json()["error"]
        assert http.get("/health").json()["writes"] is False


def test_writes_need_the_right_bearer_token(writable):
    update = {"Content-Type": "application/sparql-update"}
    text = "INSERT DATA { <http://example.org/x> <http://example.org/p> 1 }"
    assert writable.post("/sparql", content=text, headers=update).status_code == 403
    assert writable.post("/sparql", content=text, headers=auth("wrong-token-0123456789abcdef", **update)).status_code == 403
    assert writable.post("/sparql", content=text, headers={**update, "Authorization": f"Basic {TOKEN}"}).status_code == 403
    assert not ask(writable, "ASK { <http://example.org/x> ?p ?o }")
    generation = writable.get("/health").json()["generation"]
    r = writable.post("/sparql", content=text, headers=auth(**update))
    assert r.status_code == 200, r.text
    assert writable.get("/health").json()["generation"] == generation + 1
    assert ask(writable, "ASK { GRAPH <https://w3id.org/aimsgraph/graph/data> { <http://example.org/x> ?p 1 } }")


def test_a_write_is_re_reasoned_before_the_next_read(writable):
    new = f"<{DATA}new-system>"
    assert not ask(writable, f"ASK {{ {new} a prov:Entity }}")
    r = writable.post("/sparql", data={"update": f'INSERT DATA {{ {new} a aims:AISystem ; aims:registerId "new-system" }}'},
                      headers=auth())
    assert r.status_code == 200, r.text
    # derived by the OWL closure from the ontology (an AI system is a prov:Entity), in the inferred graph
    assert ask(writable, f"ASK {{ GRAPH <https://w3id.org/aimsgraph/graph/inferred> {{ {new} a prov:Entity }} }}")
    assert "new-system" in {s["id"] for s in writable.get("/classify").json()["systems"]}


def test_a_failed_write_changes_nothing(writable):
    before = writable.get("/health").json()["generation"]
    graph = "http://example.org/atomic"
    # the first operation would succeed; the second fails (the graph exists): nothing is kept
    text = f"INSERT DATA {{ GRAPH <{graph}> {{ <http://example.org/a> <http://example.org/b> 1 }} }} ; CREATE GRAPH <{graph}>"
    r = writable.post("/sparql", content=text, headers=auth(**{"Content-Type": "application/sparql-update"}))
    assert r.status_code == 400
    assert writable.get("/health").json()["generation"] == before
    assert not ask(writable, f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
    derived = writable.post("/sparql", data={"update": "CLEAR GRAPH <https://w3id.org/aimsgraph/graph/inferred>"},
                            headers=auth())
    assert derived.status_code == 400 and "derived" in derived.json()["error"]


def test_the_graph_store_protocol(writable):
    graph = "http://example.org/gsp"
    turtle = {"Content-Type": "text/turtle"}
    assert writable.get("/store", params={"graph": graph}).status_code == 404
    assert writable.put("/store", params={"graph": graph}, content=b"<http://example.org/s> <http://example.org/p> 1 .",
                        headers=turtle).status_code == 403
    created = writable.put("/store", params={"graph": graph}, content=b"<http://example.org/s> <http://example.org/p> 1 .",
                           headers=auth(**turtle))
    assert created.status_code == 201, created.text
    added = writable.post("/store", params={"graph": graph}, content=b"<http://example.org/s> <http://example.org/p> 2 .",
                          headers=auth(**turtle))
    assert added.status_code == 200
    nt = writable.get("/store", params={"graph": graph}, headers={"Accept": "application/n-triples"}).text
    assert sorted(nt.splitlines()) == ['<http://example.org/s> <http://example.org/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .',
                                       '<http://example.org/s> <http://example.org/p> "2"^^<http://www.w3.org/2001/XMLSchema#integer> .']
    assert writable.get("/store?default", headers={"Accept": "application/n-triples"}).status_code == 200
    refused = writable.put("/store", params={"graph": "https://w3id.org/aimsgraph/graph/inferred"},
                           content=b"<http://example.org/s> <http://example.org/p> 1 .", headers=auth(**turtle))
    assert refused.status_code == 403
    assert writable.delete("/store", params={"graph": graph}, headers=auth()).status_code == 200
    assert writable.get("/store", params={"graph": graph}).status_code == 404


EVIDENCE_FOR_A74 = f"""
<{DATA}EV-API> a aims:Evidence ; aims:registerId "EV-API" ; aims:inOrganization <{DATA}finsecure> ;
  aims:date "2026-01-10"^^xsd:date ; aims:validUntil "2027-01-10"^^xsd:date .
<{DATA}soa/A.7.4> aims:hasEvidence <{DATA}EV-API> ."""


def _reasoned_from_scratch(analysis, added_turtle: str):
    """The analysis' data with the triples added, reasoned and validated from scratch: the
    inferred graph (N-Triples lines) and the findings."""
    import pyoxigraph as ox

    from aimsgraph.namespaces import GRAPH_DATA, GRAPH_INFERRED, PREFIXES
    from aimsgraph.reason import reason
    from aimsgraph.store import OxigraphStore
    from aimsgraph.validate import validate

    store = OxigraphStore()
    for graph in analysis.store.graphs():
        if graph != GRAPH_INFERRED and not graph.startswith("https://w3id.org/aimsgraph/graph/parameters"):
            store.add(graph, analysis.store.triples(graph))
    prologue = "".join(f"@prefix {k}: <{v}> .\n" for k, v in PREFIXES.items())
    store.native.load(prologue + added_turtle, format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(GRAPH_DATA))
    reason(store, analysis.params)
    inferred = {str(q.triple) for q in store.native.quads_for_pattern(None, None, None, ox.NamedNode(GRAPH_INFERRED))}
    return inferred, [f.as_json() for f in validate(store).findings]


@pytest.mark.parametrize("how", ["update", "graph-store"])
def test_a_write_that_only_adds_data_is_reasoned_incrementally_as_from_scratch(analysis, how):
    """INSERT DATA (or a Graph Store POST to the data graph) re-derives only what the new triples
    touch (`"reasoned": "incremental"`), and the served inferences and findings are those of
    reasoning and validating the same data from scratch: here evidence that makes A.7.4
    effective."""
    import pyoxigraph as ox

    from aimsgraph.namespaces import PREFIXES

    service = Service.from_analysis(analysis, "register.yaml", workers=1, heavy_workers=1, timeout=30,
                                    write_token=TOKEN)
    with running(service) as base, client(base) as http:
        before = http.get("/gaps").json()["findings"]
        if how == "update":
            r = http.post("/sparql", data={"update": f"INSERT DATA {{ {EVIDENCE_FOR_A74} }}"}, headers=auth())
        else:
            prologue = "".join(f"@prefix {k}: <{v}> .\n" for k, v in PREFIXES.items())
            r = http.post("/store", params={"default": ""}, content=(prologue + EVIDENCE_FOR_A74).encode(),
                          headers=auth(**{"Content-Type": "text/turtle"}))
        assert r.status_code == 200, r.text
        assert r.json()["reasoned"] == "incremental"
        inferred, findings = _reasoned_from_scratch(analysis, EVIDENCE_FOR_A74)
        served = http.get("/store", params={"graph": "https://w3id.org/aimsgraph/graph/inferred"},
                          headers={"Accept": "application/n-triples"})
        assert {str(t) for t in ox.parse(served.content, format=ox.RdfFormat.N_TRIPLES)} == inferred
        after = http.get("/gaps").json()["findings"]
        assert after == findings and after != before
        assert r.json()["inferred"] == len(inferred)


def test_a_write_that_also_removes_is_reasoned_from_scratch(writable):
    r = writable.post("/sparql", data={"update": f"DELETE DATA {{ <{DATA}nothing> aims:registerId 'x' }} ; "
                                                 f"INSERT DATA {{ <{DATA}other> aims:registerId 'y' }}"}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["reasoned"] == "from scratch"
