"""Validation benchmark: the shapes compiled to SPARQL in the store ("store") against pySHACL
("pyshacl", the reference) and pyshacl-turbo (when installed) on generated registers, with the
findings compared. The reasoned graph of each generated register is cached under
`benchmarks/data/` (git-ignored), so a measurement times validation alone.

    python -m benchmarks.validation --triples 100k --engines store,pyshacl-turbo,pyshacl

`measure_validation(triples, engine)` is the plain function a benchmark runner calls.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DATA_DIR, DEFAULT_SEED, parse_size, plan_for_triples, write_data  # noqa: E402

ENGINES = ("store", "pyshacl-turbo", "pyshacl")
ROOT = Path(__file__).resolve().parent.parent


def _reasoning_version() -> str:
    """Changes with the reasoner, its rules and the ontology, so a cached closure never outlives them."""
    digest = hashlib.sha256()
    for folder in ("rules", "ontology"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file():
                digest.update(path.read_bytes())
    digest.update((ROOT / "src" / "aimsgraph" / "reason.py").read_bytes())
    return digest.hexdigest()[:10]


def reasoned_store(triples: int, seed: int = DEFAULT_SEED):
    """An OxigraphStore holding the generated register of about `triples` triples, reasoned at
    the benchmark's as-of date (the closure cached as N-Quads beside the generated data)."""
    import pyoxigraph

    from aimsgraph.load import load_packaged
    from aimsgraph.namespaces import GRAPH_DATA
    from aimsgraph.reason import Parameters, reason
    from aimsgraph.store import OxigraphStore

    data = write_data(plan_for_triples(triples, seed))
    cached = DATA_DIR / f"{data.stem}-reasoned-{_reasoning_version()}.nq"
    store = OxigraphStore()
    # the cache is N-Quads (every named graph in one file), which Store.load (one target graph)
    # cannot take, so it goes through the embedded pyoxigraph store directly
    if cached.exists():
        store._store.load(cached.read_bytes(), format=pyoxigraph.RdfFormat.N_QUADS)
        return store
    load_packaged(store)
    store.load(data.read_bytes(), "nt", GRAPH_DATA)
    reason(store, Parameters(AS_OF), "reasonable")
    partial = cached.with_suffix(".part")
    with partial.open("wb") as out:
        store._store.dump(out, format=pyoxigraph.RdfFormat.N_QUADS)
    partial.replace(cached)
    return store


def _turbo_findings(store):
    """pyshacl-turbo (pySHACL's API, Rust inside) on the same rdflib graph pySHACL gets."""
    import pyshacl_turbo

    from aimsgraph import shacl
    from aimsgraph.validate import findings_from_results, register_ids, shapes_graph

    shapes = shapes_graph()
    _conforms, report, _text = pyshacl_turbo.validate(
        store.to_rdflib(), shacl_graph=shapes, inference="none", allow_warnings=True, allow_infos=True)
    results = shacl.results_from_report(report)
    labels = register_ids(store, [n for r in results for n in (r.focus, r.value) if n is not None])
    return findings_from_results(results, shapes, labels), results, shapes


def _fingerprint(findings) -> str:
    return hashlib.sha256(json.dumps([f.as_json() for f in findings]).encode()).hexdigest()[:16]


def measure_validation(triples: int, engine: str = "store", seed: int = DEFAULT_SEED, repeat: int = 1,
                       keep: bool = False) -> dict:
    """Validate the reasoned generated register of about `triples` triples with `engine`
    ("store", "pyshacl" or "pyshacl-turbo"): median seconds of `repeat` runs (shape compilation
    excluded and reported apart), findings and violations, a fingerprint of the findings, and
    for the store the seconds of each compiled query. `keep` adds the findings themselves."""
    from aimsgraph import shacl
    from aimsgraph.validate import compiled_shapes, validate

    store = reasoned_store(triples, seed)
    out: dict = {"engine": engine, "triples": sum(store.count(g) for g in store.graphs()),
                 "target_triples": triples, "seed": seed}
    if engine == "store":
        started = time.perf_counter()
        compiled = compiled_shapes()
        out["seconds_compile"] = time.perf_counter() - started
    runs, validation = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        if engine == "pyshacl-turbo":
            findings, _results, _shapes = _turbo_findings(store)
        else:
            validation = validate(store, engine)
            findings = validation.findings
        runs.append(time.perf_counter() - started)
    out["seconds"] = statistics.median(runs)
    out["runs"] = runs
    out["findings"] = len(findings)
    out["violations"] = sum(1 for f in findings if f.severity == "violation")
    out["fingerprint"] = _fingerprint(findings)
    if engine == "store":
        timings: dict[str, float] = {}
        shacl.run(compiled, store, timings)
        out["seconds_per_query"] = dict(sorted(timings.items(), key=lambda kv: -kv[1]))
    if keep:
        out["finding_list"] = [f.as_json() for f in findings]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", default="10k", help="target size incl. ontology + catalogues (10k, 100k, ...)")
    parser.add_argument("--engines", default="store", help=f"comma-separated, of {', '.join(ENGINES)}")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--save", type=Path, help="also write every measurement with its findings to this JSON file")
    args = parser.parse_args(argv)
    rows = []
    for engine in (e.strip() for e in args.engines.split(",") if e.strip()):
        row = measure_validation(parse_size(args.triples), engine, args.seed, args.repeat, keep=bool(args.save))
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "finding_list"}), flush=True)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if len({r["fingerprint"] for r in rows}) > 1:
        print("FINDINGS DIFFER between engines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
