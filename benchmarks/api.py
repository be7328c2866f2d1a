"""HTTP API benchmark: 50 concurrent clients against `aimsgraph serve` at 100k triples.

The server runs as its own process (`python -m aimsgraph serve DATA.nt`, default options:
2 query workers, 1 heavy worker, 30 s timeout); this script is the second process, driving the
clients with asyncio over loopback, each on its own keep-alive HTTP/1.1 connection (a small
client written on asyncio streams: httpx spends more CPU per request than the server does). Each client loops for `--seconds` over its route,
pausing `--think` seconds (uniformly 0..2x, mean as given) between requests, like a person or
a dashboard would:

- `simple`: a one-system SPARQL SELECT (POST application/sparql-query), the figure to watch;
- `trace`: GET /trace/{system} for one of 20 systems;
- `named`: GET /queries/{name} (controls-for-article, obligations-for-role, nist-for-clause);
- `gaps`: GET /gaps filtered by one of 20 systems;
- `post_gaps`: POST /gaps with the FinSecure register (a whole load + reason + validate each).

It prints requests/s and p50/p99 latency per route (and errors, by status), and one JSON line
last. Generated data is cached in benchmarks/data/ (benchmarks/generate.py).

    python benchmarks/api.py [--triples 100k] [--seconds 30] [--think 0.1] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIX = {"simple": 20, "trace": 10, "named": 14, "gaps": 5, "post_gaps": 1}  # clients per route, of 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def data_file(triples: str) -> Path:
    from benchmarks.generate import parse_size, plan_for_triples, write_data

    return write_data(plan_for_triples(parse_size(triples)))


def start_server(data: Path, port: int, extra: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "aimsgraph", "serve", str(data), "--as-of", "2026-01-31",
                             "--port", str(port), *extra], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


class Connection:
    """One keep-alive HTTP/1.1 connection, written with asyncio streams: a Python HTTP client
    library (httpx) costs more CPU per request than the server, and would measure itself."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.reader = self.writer = None
        return status, data


async def wait_ready(base: str, proc: subprocess.Popen, seconds: float = 900) -> dict:
    port = int(base.rsplit(":", 1)[1])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            status, body = await Connection(port).request("GET", "/health")
            return json.loads(body)
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


async def drive(base: str, seconds: float, think: float, clients: int, mix: dict[str, int] = MIX) -> dict:
    from urllib.parse import quote, urlencode

    port = int(base.rsplit(":", 1)[1])
    first = Connection(port)
    query = ("PREFIX aims: <https://w3id.org/aimsgraph/ontology#> SELECT ?id WHERE "
             "{ ?s a aims:AISystem ; aims:registerId ?id } ORDER BY ?id LIMIT 20")
    _, body = await first.request("POST", "/sparql", query.encode(), {"Content-Type": "application/sparql-query"})
    systems = [b["id"]["value"] for b in json.loads(body)["results"]["bindings"]]
    register = (ROOT / "examples" / "finsecure" / "register.yaml").read_bytes()
    named = [("controls-for-article", {"article": "euaia:art9"}),
             ("obligations-for-role", {"role": "euaia:provider", "category": "euaia:high-risk"}),
             ("nist-for-clause", {"entry": "iso42001:6.1.2"})]
    sparql = {"Content-Type": "application/sparql-query"}

    def request(conn: Connection, route: str, rng: random.Random):
        system = rng.choice(systems)
        if route == "simple":
            return conn.request("POST", "/sparql", (
                "PREFIX aims: <https://w3id.org/aimsgraph/ontology#> SELECT ?s ?name WHERE { ?s aims:registerId "
                f'"{system}" . OPTIONAL {{ ?s aims:name ?name }} }}').encode(), sparql)
        if route == "trace":
            return conn.request("GET", f"/trace/{quote(system)}")
        if route == "named":
            name, params = rng.choice(named)
            return conn.request("GET", f"/queries/{name}?{urlencode(params)}")
        if route == "gaps":
            return conn.request("GET", f"/gaps?{urlencode({'system': system})}")
        return conn.request("POST", "/gaps?as_of=2026-01-31", register, {"Content-Type": "application/yaml"})

    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    stop = time.monotonic() + seconds
    scale = clients / sum(mix.values())
    plan = [route for route, n in mix.items() if n for _ in range(max(1, round(n * scale)))]

    async def client(index: int, route: str) -> None:
        rng = random.Random(index)
        conn = Connection(port)
        await asyncio.sleep(rng.uniform(0, think * 2))
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                status, _ = await request(conn, route, rng)
                statuses[route][status] += 1
            except (OSError, asyncio.IncompleteReadError) as exc:
                statuses[route][type(exc).__name__] += 1
                conn = Connection(port)
            latencies[route].append(time.perf_counter() - started)
            if think:
                await asyncio.sleep(rng.uniform(0, think * 2))

    started = time.monotonic()
    await asyncio.gather(*(client(i, route) for i, route in enumerate(plan)))
    elapsed = time.monotonic() - started
    _, body = await Connection(port).request("GET", "/health")
    return {"seconds": elapsed, "clients": len(plan), "mix": dict(Counter(plan)), "health": json.loads(body),
            "routes": {route: {"requests": len(values), "per_s": len(values) / elapsed,
                               "p50_ms": 1000 * percentile(values, 0.5), "p99_ms": 1000 * percentile(values, 0.99),
                               "statuses": {str(k): v for k, v in statuses[route].items()}}
                       for route, values in sorted(latencies.items())}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", default="100k")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--think", type=float, default=0.1, help="mean pause between one client's requests (s)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=5, help="seconds of the same load before measuring")
    parser.add_argument("--server-option", action="append", default=[], help="passed to aimsgraph serve")
    parser.add_argument("--mix", default=",".join(f"{k}={v}" for k, v in MIX.items()),
                        help="clients per route, scaled to --clients (default %(default)s)")
    args = parser.parse_args(argv)
    mix = {k: int(v) for k, _, v in (item.partition("=") for item in args.mix.split(","))}
    data = data_file(args.triples)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = start_server(data, port, args.server_option)
    try:
        health = asyncio.run(wait_ready(base, proc))
        print(f"server ready in {time.monotonic() - started:.1f} s: {health['triples']:,} triples, "
              f"{health['findings']:,} findings, workers {health['workers']['query']['size']} query + "
              f"{health['workers']['heavy']['size']} heavy")
        if args.warmup:
            asyncio.run(drive(base, args.warmup, args.think, args.clients, mix))
        load = os.getloadavg()
        result = asyncio.run(drive(base, args.seconds, args.think, args.clients, mix))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    total = sum(r["requests"] for r in result["routes"].values())
    print(f"{result['clients']} clients {result['mix']}, think {args.think:g} s, {result['seconds']:.0f} s: "
          f"{total / result['seconds']:.0f} requests/s in all; machine load average {load[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after (this benchmark counts for about 2)")
    print(f"{'route':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for route, r in result["routes"].items():
        print(f"{route:<10} {r['requests']:>8} {r['per_s']:>7.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}  {r['statuses']}")
    print(json.dumps({"triples": args.triples, "think": args.think, "server_options": args.server_option,
                      "load_before": load[0], "load_after": os.getloadavg()[0], **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
