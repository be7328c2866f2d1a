"""Run the W3C SPARQL 1.1 Protocol and syntax-query test suites against `aimsgraph serve`.

The suites are not part of this repository: point the script at a checkout of
w3c/rdf-tests (its `sparql/sparql11/protocol` and `sparql/sparql11/syntax-query` folders).

    python scripts/w3c_sparql.py /path/to/rdf-tests [--only protocol|syntax] [--verbose]

It writes the protocol tests' data files into one TriG file, each under the graph name the
manifest gives it (the tests name their graphs with kasei.us IRIs; the server never fetches
them, it finds them among its own named graphs), serves that file with a write token on a free
loopback port, replays every request of every test in order, and checks the expected status,
result format and boolean. Syntax tests: a positive query must be answered 2xx, a negative one
4xx. Prints one line per failure and the totals per suite (query side, update side, syntax).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import rdflib
from rdflib.collection import Collection

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, str, bytes]:
    url = base + path.replace("/sparql/", "/sparql", 1)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 (loopback test server)
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def kind_of(ctype: str) -> str:
    media = ctype.split(";")[0].strip()
    if media in ("application/sparql-results+json", "application/sparql-results+xml"):
        return "results"
    if media in ("text/csv", "text/tab-separated-values"):
        return "tabular"
    if media in ("text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"):
        return "RDF"
    return media


def boolean_of(ctype: str, body: bytes) -> bool | None:
    import json

    if "json" in ctype:
        return json.loads(body).get("boolean")
    if "xml" in ctype:
        text = body.decode()
        return True if "<boolean>true</boolean>" in text else False if "<boolean>false</boolean>" in text else None
    return None


def protocol(suite: Path, verbose: bool) -> tuple[dict, list[str]]:
    manifest = rdflib.Graph()
    base = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/"
    manifest.parse(suite / "manifest.ttl", format="turtle", publicID=base + "manifest.ttl")
    graphs: dict[str, Path] = {}
    for _, _, data in manifest.triples((None, UT.graphData, None)):
        graphs[str(manifest.value(data, rdflib.RDFS.label))] = suite / str(manifest.value(data, UT.graph)).rsplit("/", 1)[1]
    trig = "".join(f"<{name}> {{\n{path.read_text(encoding='utf-8')}\n}}\n" for name, path in sorted(graphs.items()))
    token = secrets.token_hex(16)
    folder = Path(tempfile.mkdtemp(prefix="aimsgraph-w3c-"))
    (folder / "data.trig").write_text(trig, encoding="utf-8")
    (folder / "token").write_text(token, encoding="utf-8")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = subprocess.Popen([sys.executable, "-m", "aimsgraph", "serve", str(folder / "data.trig"), "--port", str(port),
                               "--write-token-file", str(folder / "token"), "--as-of", "2026-01-31"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base_url + "/health", timeout=1).read()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(server.stderr.read().decode()) from None
                time.sleep(0.1)
        entries = Collection(manifest, manifest.value(rdflib.URIRef(base + "manifest.ttl"), MF.entries))
        totals = {"query": [0, 0], "update": [0, 0]}
        failures = []
        for test in entries:
            name = str(test).rsplit("#", 1)[1]
            side = "update" if "update" in name else "query"
            ok, why = True, ""
            action = manifest.value(test, MF.action)
            for req in Collection(manifest, manifest.value(action, HT.requests)):
                method = str(manifest.value(req, HT.methodName))
                path = str(manifest.value(req, HT.absolutePath))
                headers = {}
                hlist = manifest.value(req, HT.headers)
                if hlist is not None:
                    for h in Collection(manifest, hlist):
                        headers[str(manifest.value(h, HT.fieldName))] = str(manifest.value(h, HT.fieldValue))
                body = None
                node = manifest.value(req, HT.body)
                if node is not None:
                    encoding = str(manifest.value(node, CNT.characterEncoding) or "UTF-8")
                    body = str(manifest.value(node, CNT.chars)).encode("utf-16" if encoding == "UTF-16" else "utf-8")
                if method in ("POST", "PUT") and "content-type" not in {k.lower() for k in headers}:
                    headers["Content-Type"] = ""  # the test sends none; urllib would add the form type
                if side == "update" or "update" in (body or b"").decode("utf-8", "replace")[:7]:
                    headers["Authorization"] = f"Bearer {token}"
                status, ctype, answer = request(base_url, method, path, body, headers)
                resp = manifest.value(req, HT.resp)
                expected = {str(s).rsplit("#", 1)[1] for s in manifest.objects(resp, MF.expectedStatus)}
                family = f"StatusCode{status // 100}xx"
                if family not in expected:
                    ok, why = False, f"{method} {path[:60]}: status {status}, expected {sorted(expected)}: {answer[:200]!r}"
                    break
                fmt = manifest.value(resp, MF.expectedFormat)
                if fmt is not None:
                    got = kind_of(ctype)
                    want = {"boolean": ("results",), "tabular": ("results", "tabular"), "RDF": ("RDF",)}[str(fmt)]
                    if got not in want:
                        ok, why = False, f"{method} {path[:60]}: answered {ctype}, expected {fmt}"
                        break
                boolean = manifest.value(resp, MF.expectedBoolean)
                if boolean is not None and boolean_of(ctype, answer) != boolean.toPython():
                    ok, why = False, f"{method} {path[:60]}: boolean {boolean_of(ctype, answer)}, expected {boolean}"
                    break
            totals[side][1] += 1
            totals[side][0] += ok
            if not ok:
                failures.append(f"protocol {name}: {why}")
            elif verbose:
                print(f"ok protocol {name}")
        return totals, failures
    finally:
        server.terminate()
        server.wait(timeout=20)


def syntax(suite: Path, base_url: str, verbose: bool) -> tuple[list[int], list[str]]:
    manifest = rdflib.Graph()
    manifest.parse(suite / "manifest.ttl", format="turtle", publicID="http://example.org/syntax-query/manifest.ttl")
    totals, failures = [0, 0], []
    for test, kind in manifest.subject_objects(rdflib.RDF.type):
        kind = str(kind).rsplit("#", 1)[1]
        if "Syntax" not in kind:
            continue
        file = suite / str(manifest.value(test, MF.action)).rsplit("/", 1)[1]
        positive = "Positive" in kind
        status, _, answer = request(base_url, "POST", "/sparql", file.read_bytes(),
                                    {"Content-Type": "application/sparql-query", "Accept": "*/*"})
        ok = (200 <= status < 300) if positive else (400 <= status < 500)
        totals[1] += 1
        totals[0] += ok
        if not ok:
            failures.append(f"syntax {file.name} ({kind}): {status} {answer[:200]!r}")
        elif verbose:
            print(f"ok syntax {file.name}")
    return totals, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rdf_tests", type=Path, help="a checkout of w3c/rdf-tests")
    parser.add_argument("--only", choices=("protocol", "syntax"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    sparql11 = args.rdf_tests / "sparql" / "sparql11"
    failures: list[str] = []
    if args.only in (None, "protocol"):
        totals, failed = protocol(sparql11 / "protocol", args.verbose)
        failures += failed
        print(f"protocol, query side: {totals['query'][0]} of {totals['query'][1]} pass")
        print(f"protocol, update side: {totals['update'][0]} of {totals['update'][1]} pass")
    if args.only in (None, "syntax"):
        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        server = subprocess.Popen([sys.executable, "-m", "aimsgraph", "serve", str(ROOT / "examples" / "finsecure" /
                                   "register.yaml"), "--port", str(port), "--as-of", "2026-01-31"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            totals, failed = syntax(sparql11 / "syntax-query", f"http://127.0.0.1:{port}", args.verbose)
        finally:
            server.terminate()
            server.wait(timeout=20)
        failures += failed
        print(f"syntax-query: {totals[0]} of {totals[1]} behave")
    for line in failures:
        print("FAIL", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
