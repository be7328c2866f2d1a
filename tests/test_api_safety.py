"""The API as an attacker tries it, against a running server: SERVICE and LOAD refused on the
parsed query (a loopback listener proves no connection is made, whatever hides the keyword),
entity and alias bombs refused within a second with bounded memory, and every bad input a 4xx
with a short JSON message, never a 5xx, a traceback or a server path."""

import json
import time
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from aimsgraph.errors import NetworkAccessError, QueryError  # noqa: E402
from aimsgraph.serve import Service  # noqa: E402
from aimsgraph.sparql_guard import forbid_network, inspect_query, inspect_update  # noqa: E402
from servers import Listener, client, running  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
TOKEN = "safety-token-0123456789abcdef"
MAX_BODY = 256 * 1024


@pytest.fixture(scope="module")
def listener():
    listen = Listener()
    yield listen
    listen.close()


@pytest.fixture(scope="module")
def service():
    return Service.from_path(FINSECURE, date(2026, 1, 31), workers=1, heavy_workers=1, timeout=20,
                             max_body=MAX_BODY, write_token=TOKEN)


@pytest.fixture(scope="module")
def http(service):
    with running(service) as base, client(base) as c:
        yield c


def bypasses(url: str) -> list[str]:
    """SERVICE hidden every way we know: no space, comments, case, escapes, sub-selects,
    EXISTS / NOT EXISTS, OPTIONAL, MINUS, UNION, a variable endpoint, SILENT."""
    return [
        f"SELECT * WHERE {{ ?s0 ?p0 ?x.SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?s0 ?p0 ?x .\n# SERVICE in a comment\nSERVICE<{url}>{{?s ?p ?o}} }}",
        f"select * {{ sErViCe <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ {{ SELECT * {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }} }} }}",
        f"ASK {{ FILTER EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        f"ASK {{ FILTER NOT EXISTS {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * {{ ?a ?b ?c OPTIONAL {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * {{ ?a ?b ?c MINUS {{ SERVICE <{url}> {{ ?a ?p ?o }} }} }}",
        f"SELECT * {{ {{ ?a ?b ?c }} UNION {{ SERVICE <{url}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * {{ BIND (<{url}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        f"PREFIX x: <{url.rsplit('/', 1)[0]}/> SELECT * {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    ]


def test_the_guard_refuses_every_bypass_on_the_parse_tree(listener):
    for query in bypasses(listener.url):
        with pytest.raises(NetworkAccessError):
            inspect_query(query)
    for update in (f"LOAD <{listener.url}>", f"LOAD SILENT <{listener.url}> INTO GRAPH <http://g/>",
                   f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
                   f"DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER EXISTS {{ SERVICE <{listener.url}> {{}} }} }}"):
        with pytest.raises(NetworkAccessError):
            inspect_update(update)
        with pytest.raises(NetworkAccessError):
            forbid_network(update)


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?service ?p ?o }",
    'SELECT * WHERE { ?s <http://example.org/SERVICE> "SERVICE <http://x/> {}" } # SERVICE here is a comment',
    "PREFIX service: <http://example.org/> SELECT * WHERE { ?s service:load ?o }",
])
def test_lookalikes_pass(text):
    forbid_network(text)


def test_an_unparseable_text_is_a_query_error():
    with pytest.raises(QueryError):
        forbid_network("SELECT WHERE {")


def test_no_bypass_reaches_the_network_over_http(http, listener):
    before = listener.connections
    for query in bypasses(listener.url):
        for request in (lambda: http.get("/sparql", params={"query": query}),
                        lambda: http.post("/sparql", content=query, headers={"Content-Type": "application/sparql-query"}),
                        lambda: http.post("/sparql", data={"query": query})):  # what a cross-origin form sends
            r = request()
            assert r.status_code == 403, (query, r.text)
            assert "SERVICE" in r.json()["error"]
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/sparql-update"}
    for update in (f"LOAD <{listener.url}>",
                   f"INSERT {{ GRAPH <http://g/> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"):
        assert http.post("/sparql", content=update, headers=auth).status_code == 403
    time.sleep(0.3)
    assert listener.connections == before == 0
    assert "LEAKED" not in http.get("/sparql", params={"query": "SELECT * { ?s ?p 'LEAKED' }"}).text


def test_query_file_on_the_command_line_is_guarded_too(tmp_path, listener):
    from typer.testing import CliRunner

    from aimsgraph.cli import app

    path = tmp_path / "q.rq"
    path.write_text(bypasses(listener.url)[0], encoding="utf-8")
    result = CliRunner().invoke(app, ["query", "--file", str(path)])
    assert result.exit_code == 2 and "SERVICE" in result.output
    assert listener.connections == 0


LAUGHS = "<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY lol \"lol\">\n" + "".join(
    f"  <!ENTITY lol{i} \"{('&lol' + (str(i - 1) if i > 1 else '') + ';') * 10}\">\n" for i in range(1, 10)) + (
    "]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:ex=\"http://ex.example/\">\n"
    "  <rdf:Description rdf:about=\"http://ex.example/a\"><ex:p>&lol9;</ex:p></rdf:Description>\n</rdf:RDF>\n")
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
DEEP_YAML = "a: " + "[" * 10_000 + "]" * 10_000 + "\n"
DEEP_JSONLD = '{"@context": {"ex": "http://ex.example/"}, "ex:p": ' + "[" * 10_000 + "]" * 10_000 + "}"


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("name, body, ctype, message", [
    ("entity bomb", LAUGHS, "application/rdf+xml", "entity"),
    ("alias bomb", ALIAS_BOMB, "application/yaml", "aliases are expanded"),
    ("deep YAML", DEEP_YAML, "application/yaml", "nesting depth"),
    ("deep JSON-LD", DEEP_JSONLD, "application/ld+json", "deep"),
])
def test_bombs_are_refused_within_a_second_with_bounded_memory(http, name, body, ctype, message):
    assert len(body.encode()) < MAX_BODY
    heavy = http.get("/health").json()["workers"]["heavy"]["pids"][0]
    started = time.perf_counter()
    r = http.post("/gaps", content=body.encode(), headers={"Content-Type": ctype})
    seconds = time.perf_counter() - started
    assert r.status_code == 422, r.text
    assert seconds < 1.0, f"{name} took {seconds:.2f} s"
    text = r.json()["error"]
    assert message in text.lower() and len(text) < 400
    assert _peak_rss_kb(heavy) < 600 * 1024  # the worker that read it never grew past a few hundred MB


def test_empty_rdf_is_bad_input(http):
    for ctype in ("text/turtle", "application/n-triples", "application/ld+json", "application/trig"):
        body = b"{}" if "json" in ctype else b""
        r = http.post("/gaps", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 422 and "no triples" in r.json()["error"], (ctype, r.text)


def _sweep(http) -> list[tuple[str, str, dict]]:
    bad_utf8 = b"\xff\xfe\xfa not UTF-8"
    big = b"x" * (MAX_BODY + 1)
    requests = [
        ("GET", "/sparql", {"params": {"query": "SELECT * WHERE {"}}),
        ("GET", "/sparql", {"params": {"query": "\ufffd\x00"}}),
        ("GET", "/sparql?query=%FF%FE", {}),
        ("GET", "/sparql", {"params": {"query": "SELECT * {}", "default-graph-uri": "http://x y"}}),
        ("GET", "/sparql", {"params": {"query": "SELECT * {}", "named-graph-uri": "<>"}}),
        ("GET", "/sparql", {"params": {"query": "SELECT * FROM <http://x y> {}"}}),
        ("POST", "/sparql", {"content": "SELECT * " + "{" * 5000 + "}" * 5000,
                             "headers": {"Content-Type": "application/sparql-query"}}),
        ("POST", "/sparql", {"content": "SELECT * { ?s ?p ?o FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }",
                             "headers": {"Content-Type": "application/sparql-query"}}),
        ("POST", "/sparql", {"content": bad_utf8, "headers": {"Content-Type": "application/sparql-query"}}),
        ("POST", "/sparql", {"content": bad_utf8, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("POST", "/sparql", {"content": b"query=%FF%FE", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("POST", "/sparql", {"content": big, "headers": {"Content-Type": "application/sparql-query"}}),
        ("POST", "/sparql", {"content": b"ASK {}", "headers": {"Content-Type": "image/png"}}),
        ("POST", "/sparql", {"content": bad_utf8, "headers": {"Content-Type": "application/sparql-update",
                                                             "Authorization": f"Bearer {TOKEN}"}}),
        ("POST", "/sparql", {"content": b"INSERT DATA { <http://x y> <p> <o> }",
                             "headers": {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"}}),
        ("POST", "/gaps", {"content": bad_utf8, "headers": {"Content-Type": "application/yaml"}}),
        ("POST", "/gaps", {"content": bad_utf8, "headers": {"Content-Type": "text/turtle"}}),
        ("POST", "/gaps", {"content": b"<a> <b> .", "headers": {"Content-Type": "text/turtle"}}),
        ("POST", "/gaps", {"content": b"", "headers": {"Content-Type": "text/turtle"}}),
        ("POST", "/gaps", {"content": b"{not json", "headers": {"Content-Type": "application/ld+json"}}),
        ("POST", "/gaps", {"content": b"<rdf:RDF", "headers": {"Content-Type": "application/rdf+xml"}}),
        ("POST", "/gaps", {"content": DEEP_YAML.encode(), "headers": {"Content-Type": "application/yaml"}}),
        ("POST", "/gaps", {"content": DEEP_JSONLD.encode(), "headers": {"Content-Type": "application/ld+json"}}),
        ("POST", "/gaps", {"content": b"- just\n- a list\n", "headers": {"Content-Type": "application/yaml"}}),
        ("POST", "/gaps", {"content": b"a: b", "headers": {"Content-Type": "application/pdf"}}),
        ("POST", "/gaps", {"content": b"a: b"}),
        ("POST", "/gaps", {"content": big, "headers": {"Content-Type": "application/yaml"}}),
        ("POST", "/gaps?as_of=yesterday", {"content": b"a: b", "headers": {"Content-Type": "application/yaml"}}),
        ("POST", "/gaps?rule=" + "x" * 5000, {"content": FINSECURE.read_bytes(), "headers": {"Content-Type": "application/yaml"}}),
        ("GET", "/gaps?severity=" + "\u00e9" * 3000, {}),
        ("GET", "/gaps?system=%00", {}),
        ("GET", "/gaps?as_of=2026-02-30", {}),
        ("GET", "/classify?as_of=%FF", {}),
        ("GET", "/queries/controls-for-article?article=http://x%20y", {}),
        ("GET", "/queries/risk-chain?risk=%3C%3E", {}),
        ("GET", "/queries/risk-chain?risk=%3Chttp://x%20y%3E", {}),
        ("GET", "/queries/controls-for-article?article=nope:x", {}),
        ("GET", "/queries/evidence-expiring?before=31-12-2026", {}),
        ("GET", "/queries/" + "q" * 3000, {}),
        ("GET", "/queries/controls-for-article?article=a&article=b", {}),
        ("GET", "/trace/%FF%FE", {}),
        ("GET", "/trace/" + "x" * 3000, {}),
        ("GET", "/impact/<>", {}),
        ("GET", "/hotspots?top=-1", {}),
        ("GET", "/hotspots?top=many", {}),
        ("GET", "/explain", {}),
        ("GET", "/explain?subject=http://x%20y", {}),
        ("GET", "/explain?subject=credit-scorer&predicate=%3C%3E", {}),
        ("GET", "/soa?format=../../etc/passwd", {}),
        ("GET", "/report?as_of=soon", {}),
        ("GET", "/store", {}),
        ("GET", "/store?graph=http://x%20y", {}),
        ("GET", "/store?graph=http://example.org/none", {}),
        ("PUT", "/store?default", {"content": bad_utf8, "headers": {"Content-Type": "text/turtle",
                                                                    "Authorization": f"Bearer {TOKEN}"}}),
        ("PUT", "/store?graph=http://example.org/g", {"content": b"", "headers": {"Content-Type": "text/turtle",
                                                                                  "Authorization": f"Bearer {TOKEN}"}}),
        ("PUT", "/store?graph=http://example.org/g", {"content": LAUGHS.encode(), "headers": {
            "Content-Type": "application/rdf+xml", "Authorization": f"Bearer {TOKEN}"}}),
        ("POST", "/store?graph=http://example.org/g", {"content": b"x", "headers": {"Content-Type": "text/plain",
                                                                                    "Authorization": f"Bearer {TOKEN}"}}),
        ("DELETE", "/store?graph=http://example.org/none", {"headers": {"Authorization": f"Bearer {TOKEN}"}}),
        ("PATCH", "/sparql", {}),
    ]
    return requests


def test_every_bad_input_is_a_4xx_with_a_short_json_message(http):
    for method, path, kwargs in _sweep(http):
        r = http.request(method, path, **kwargs)
        where = f"{method} {path[:80]}"
        assert 400 <= r.status_code < 500, (where, r.status_code, r.text[:300])
        text = r.text
        assert "Traceback" not in text and 'File "' not in text, where
        assert "/tmp/" not in text and "/work/" not in text and "/home/" not in text and "site-packages" not in text, \
            (where, text[:300])
        assert r.headers["content-type"].startswith("application/json"), where
        assert len(json.loads(text)["error"]) < 2000, where
    assert http.get("/health").json()["status"] == "ok"


def test_a_body_past_the_cap_is_413_before_it_is_read(http):
    r = http.post("/gaps", content=b"x" * (MAX_BODY + 1), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: counted while reading
        for _ in range(10):
            yield b"y" * (MAX_BODY // 4)

    r = http.post("/sparql", content=chunks(), headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413


def test_the_row_cap_refuses_a_huge_answer(tmp_path):
    service = Service.from_path(FINSECURE, date(2026, 1, 31), workers=1, heavy_workers=1, timeout=20, max_rows=100)
    with running(service) as base, client(base) as http:
        r = http.get("/sparql", params={"query": "SELECT * { ?s ?p ?o }"})
        assert r.status_code == 400 and "more than 100 rows" in r.json()["error"]
        assert http.get("/sparql", params={"query": "SELECT * { ?s ?p ?o } LIMIT 100"}).status_code == 200
        r = http.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
        assert r.status_code == 400 and "triples" in r.json()["error"]
