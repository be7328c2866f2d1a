"""Many organisations in one SPARQL server: load N generated organisations into a loopback
Oxigraph server (a fresh on-disk one), then run gaps for one organisation and for all of them,
and print the seconds and the bytes that crossed the network against the size of the dataset.

    python -m benchmarks.orgs --orgs 100 --triples-each 10k --json

Reasoning and validation run on the server (SPARQL updates and queries); aimsgraph sends the
registers once and receives the findings, never the dataset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DATA_DIR, build_register, parse_size, plan_for_triples  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("oxigraph") or str(Path(sys.executable).with_name("oxigraph"))
    port = _free_port()
    proc = subprocess.Popen([binary, "serve", "--location", str(folder), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            urllib.request.urlopen(url + "/query?query=ASK%7B%7D", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("oxigraph serve did not start")


def registers(count: int, triples_each: int) -> list[Path]:
    """`count` generated registers (cached), each its own organisation `org-NNN`."""
    import yaml

    from benchmarks.generate import _date_representer, _generator_version
    from datetime import date

    folder = DATA_DIR / f"orgs-{count}x{triples_each}-{_generator_version()}"
    folder.mkdir(parents=True, exist_ok=True)
    dumper = type("RegisterDumper", (yaml.SafeDumper,), {})
    dumper.add_representer(date, _date_representer)
    paths = []
    for n in range(count):
        path = folder / f"org-{n:03d}.yaml"
        if not path.exists():
            plan = plan_for_triples(triples_each, seed=1000 + n)
            register = build_register(plan)
            register["organization"]["id"] = f"org-{n:03d}"
            register["organization"]["name"] = f"Generated organisation {n}"
            register["organization"].pop("base_iri", None)
            path.write_text(yaml.dump(register, Dumper=dumper, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def _traffic(store) -> dict:
    return {"requests": store.requests, "bytes_sent": store.bytes_sent, "bytes_received": store.bytes_received}


def run(count: int, triples_each: int) -> dict:
    from aimsgraph import workspace
    from aimsgraph.pipeline import analyse, analyse_stored
    from aimsgraph.store import RemoteStore

    from aimsgraph.load import read_data

    paths = registers(count, triples_each)
    dataset_bytes = sum(len(read_data(p).nt) for p in paths)  # the registers' RDF as N-Triples, no inferences
    with tempfile.TemporaryDirectory() as folder:
        server, url = _server(Path(folder))
        try:
            store = RemoteStore(url, timeout=600)
            started = time.perf_counter()
            for path in paths:
                analyse(path, AS_OF, store=store)
            load = {"seconds": round(time.perf_counter() - started, 1), **_traffic(store)}
            triples = int(store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }").rows[0]["n"])

            one = RemoteStore(url, timeout=600)
            started = time.perf_counter()
            findings_one = len(analyse_stored(one, AS_OF, org="org-000").validation.findings)
            gaps_one = {"seconds": round(time.perf_counter() - started, 2), "findings": findings_one, **_traffic(one)}

            every = RemoteStore(url, timeout=600)
            started = time.perf_counter()
            total = 0
            for org in workspace.organisations(every):
                total += len(analyse_stored(every, AS_OF, org=org).validation.findings)
            gaps_all = {"seconds": round(time.perf_counter() - started, 1), "findings": total, **_traffic(every)}
        finally:
            server.kill()
            server.wait(timeout=30)
    return {"organisations": count, "triples_in_store": triples, "data_nt_bytes": dataset_bytes,
            "load": load, "gaps_one": gaps_one, "gaps_all": gaps_all,
            "gaps_all_bytes_moved_share_of_data": round(
                (gaps_all["bytes_sent"] + gaps_all["bytes_received"]) / dataset_bytes, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--triples-each", default="18k", help=(
        "target size of each organisation incl. the ~7.5k triples of ontology and catalogues it would carry alone"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.orgs, parse_size(args.triples_each))
    text = (f"{result['organisations']} organisations, {result['triples_in_store']:,} triples in the server\n"
            f"load all: {result['load']['seconds']} s, {result['load']['bytes_sent']:,} bytes sent\n"
            f"gaps one: {result['gaps_one']['seconds']} s, {result['gaps_one']['findings']} findings, "
            f"{result['gaps_one']['bytes_sent'] + result['gaps_one']['bytes_received']:,} bytes moved\n"
            f"gaps all: {result['gaps_all']['seconds']} s, {result['gaps_all']['findings']} findings, "
            f"{result['gaps_all']['bytes_sent'] + result['gaps_all']['bytes_received']:,} bytes moved "
            f"(the data alone as N-Triples: {result['data_nt_bytes']:,} bytes)")
    print(text, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
