"""Load-stage benchmark: seconds and peak RSS of `aimsgraph.load.load_input` on a register,
against the floor, pyoxigraph loading the same data triples as N-Triples into an empty store.

Each measurement runs in a fresh process, so its peak RSS (`ru_maxrss`) is its own; the RSS
after imports (before any reading) is reported too, so the load's own memory is the difference.
CPU seconds (user + system) are reported beside wall seconds: on a shared machine they are
the steadier figure.

    python benchmarks/generate.py --triples 100k --yaml /tmp/org100k.yaml
    python benchmarks/load.py /tmp/org100k.yaml [--nt benchmarks/data/org-….nt] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(kind: str, path: Path) -> dict:
    """One measurement in this process: 'load' (load_input into a new OxigraphStore, ontology
    and catalogues included) or 'floor' (pyoxigraph loading an N-Triples file)."""
    import pyoxigraph as ox

    from aimsgraph.load import load_input
    from aimsgraph.namespaces import GRAPH_DATA
    from aimsgraph.store import OxigraphStore

    baseline = _rss_mb()
    started, cpu = time.perf_counter(), _cpu()
    if kind == "load":
        store = OxigraphStore()
        load_input(store, path)
        triples = store.count(GRAPH_DATA)
    else:
        store = ox.Store()
        store.load(path.read_bytes(), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(GRAPH_DATA))
        triples = len(store)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    return {"kind": kind, "file": path.name, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "data_triples": triples,
            "rss_after_imports_mb": round(baseline), "peak_rss_mb": round(_rss_mb())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("register", type=Path, nargs="?", help="register (YAML file or CSV folder) to load")
    parser.add_argument("--nt", type=Path, help="N-Triples of the same data, for the floor")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]))))
        return 0
    runs = [("load", args.register)] if args.register else []
    runs += [("floor", args.nt)] if args.nt else []
    for kind, path in runs:
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                                 capture_output=True, text=True, check=False)
            print(out.stdout.strip() or out.stderr.strip()[-2000:], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
