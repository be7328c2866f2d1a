"""The whole pipeline, timed by stage, on a generated organisation of N triples (data + ontology +
catalogues), against the floor and, on request, the reference stack and a peer validator.

    python -m benchmarks.run --triples 100k --reference --peer --json

Each measurement runs in a fresh process of its own (its peak RSS is its own `ru_maxrss`):

- ours: `aimsgraph.pipeline.analyse` on the register (YAML) with the defaults (embedded
  pyoxigraph, the `sparql` OWL 2 RL engine, the compiled validator), then every named query once;
  stages load, reason, validate, queries and their total, in seconds; each query's seconds in
  that one pass (`per_query_s`) and, after it, the median of three more runs
  (`per_query_median_s`: a single run on a shared machine varies by 20-40%);
- floor: pyoxigraph loading the same triples (the register's RDF plus ontology and catalogues)
  as N-Triples into an empty store, the least any RDF pipeline pays;
- reference (`--reference`): the seed stack, the same register on the rdflib store with owlrl and
  pySHACL, the same stages; `ratio` is its total over ours, `findings_equal` compares every
  finding (rule, severity, focus, refs, message);
- peer (`--peer`): pyshacl-turbo validating our reasoned graph with the same shapes.

The last line printed is one JSON object with those figures (`--json`); a table comes before it.
Generated registers are cached in benchmarks/data/ (ignored by git).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DATA_DIR, DEFAULT_SEED, parse_size, plan_for_triples, write_yaml  # noqa: E402

STAGES = ("load", "reason", "validate", "queries")


def register_file(triples: int, seed: int = DEFAULT_SEED) -> Path:
    """The generated register for `triples` as YAML (cached)."""
    plan = plan_for_triples(triples, seed)
    from benchmarks.generate import _generator_version

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"org-{plan.systems}sys-seed{seed}-{_generator_version()}.yaml"
    if not path.exists():
        partial = path.with_suffix(".part")
        write_yaml(plan, partial)
        partial.replace(path)
    return path


# --- inside the measured process --------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stage_timer():
    """A pipeline Progress that records each stage's seconds."""
    from aimsgraph.pipeline import Progress

    class StageTimer(Progress):
        def __init__(self):
            self.seconds: dict[str, float] = {}

        @contextlib.contextmanager
        def stage(self, name):
            started = time.perf_counter()
            yield lambda note: None
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    return StageTimer()


def measure_pipeline(register: Path, stack: str, findings_out: Path | None) -> dict:
    """load -> reason -> validate -> every named query once, on `stack` ('ours' or 'reference')."""
    from aimsgraph.pipeline import analyse
    from aimsgraph.query import named_queries, run_named
    from aimsgraph.reason import load_rules
    from aimsgraph.validate import shapes_graph

    load_rules()  # parsing the shipped rules and shapes is start-up, not a stage
    shapes_graph()
    options = {} if stack == "ours" else {"store_engine": "rdflib", "owl_engine": "owlrl", "validator": "pyshacl"}
    timer = _stage_timer()
    analysis = analyse(register, AS_OF, progress=timer, **options)
    findings = analysis.validation.findings
    started = time.perf_counter()
    per_query = {}
    for name in named_queries():
        began = time.perf_counter()
        run_named(analysis.store, name)
        per_query[name] = round(time.perf_counter() - began, 4)
    timer.seconds["queries"] = time.perf_counter() - started
    medians = {}
    if stack == "ours":  # after the timed pass: each query's median of three more runs, the steadier figure
        for name in named_queries():
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                run_named(analysis.store, name)
                runs.append(time.perf_counter() - began)
            medians[name] = round(sorted(runs)[1], 4)
    stages = {stage: round(timer.seconds.get(stage, 0.0), 3) for stage in STAGES}
    stages["total"] = round(sum(stages.values()), 3)
    if findings_out is not None:
        findings_out.write_text(json.dumps([f.as_json() for f in findings]), encoding="utf-8")
    return {"stages": stages, "peak_mb": round(_peak_mb()), "findings": len(findings), "per_query_s": per_query,
            **({"per_query_median_s": medians} if medians else {}),
            "per_rule_s": {k: round(v, 3) for k, v in sorted(analysis.reasoning.seconds_per_rule.items(),
                                                              key=lambda kv: -kv[1])[:8]}}


def measure_floor(register: Path) -> dict:
    """pyoxigraph loading the same triples as N-Triples into an empty store."""
    import pyoxigraph as ox

    from aimsgraph.load import load_input
    from aimsgraph.namespaces import GRAPH_DATA
    from aimsgraph.store import OxigraphStore

    prepared = OxigraphStore()
    load_input(prepared, register)  # data + ontology + catalogues, as our pipeline holds them
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "all.nt"
        with path.open("wb") as out:
            for graph in prepared.graphs():
                quads = prepared._store.quads_for_pattern(None, None, None, ox.NamedNode(graph))  # noqa: SLF001
                out.write(ox.serialize((q.triple for q in quads), format=ox.RdfFormat.N_TRIPLES))
        triples = prepared.count(GRAPH_DATA) + sum(prepared.count(g) for g in prepared.graphs() if g != GRAPH_DATA)
        del prepared
        started = time.perf_counter()
        empty = ox.Store()
        empty.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
        seconds = time.perf_counter() - started
    return {"floor_s": round(seconds, 3), "triples": triples, "loaded": len(empty)}


def measure_peer(register: Path) -> dict:
    """pyshacl-turbo on our reasoned graph (copied to rdflib, not timed), with the same shapes."""
    import pyshacl_turbo

    from aimsgraph.pipeline import analyse
    from aimsgraph.validate import shapes_graph

    analysis = analyse(register, AS_OF)
    data, shapes = analysis.store.to_rdflib(), shapes_graph()
    started = time.perf_counter()
    pyshacl_turbo.validate(data, shacl_graph=shapes, inference="none", allow_warnings=True, allow_infos=True)
    return {"peer_validate_s": round(time.perf_counter() - started, 3), "peak_mb": round(_peak_mb())}


# --- the driver -----------------------------------------------------------------------------------


def isolated(job: str, register: Path, timeout_s: float, findings_out: Path | None = None) -> dict:
    """Run one measurement in a fresh process; its last output line is its JSON result."""
    command = [sys.executable, "-m", "benchmarks.run", "--job", job, "--register", str(register)]
    if findings_out is not None:
        command += ["--findings-out", str(findings_out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(triples: int, reference: bool, peer: bool, timeout_s: float, seed: int) -> dict:
    register = register_file(triples, seed)
    with tempfile.TemporaryDirectory() as folder:
        ours_findings, reference_findings = Path(folder) / "ours.json", Path(folder) / "reference.json"
        floor = isolated("floor", register, timeout_s)
        ours = isolated("ours", register, timeout_s, ours_findings)
        result: dict = {"triples": floor.get("triples", triples), "stages": ours.get("stages"),
                        "peak_mb": ours.get("peak_mb"), "findings": ours.get("findings"),
                        "floor_s": floor.get("floor_s"), "per_query_s": ours.get("per_query_s"),
                        "per_query_median_s": ours.get("per_query_median_s"),
                        "per_rule_s": ours.get("per_rule_s")}
        if "error" in ours:
            result["error"] = ours["error"]
        if result["stages"] and result["floor_s"]:
            result["floor_ratio"] = round(result["stages"]["total"] / result["floor_s"], 2)
        if reference:
            ref = isolated("reference", register, timeout_s, reference_findings)
            result["reference"] = {"stages": ref.get("stages"), "peak_mb": ref.get("peak_mb"),
                                   **({"error": ref["error"]} if "error" in ref else {})}
            if ref.get("stages") and result["stages"]:
                result["ratio"] = round(ref["stages"]["total"] / result["stages"]["total"], 1)
                result["findings_equal"] = (json.loads(ours_findings.read_text(encoding="utf-8"))
                                            == json.loads(reference_findings.read_text(encoding="utf-8")))
        if peer:
            other = isolated("peer", register, timeout_s)
            result["peer_validate_s"] = other.get("peer_validate_s")
            if other.get("peer_validate_s") and result["stages"]:
                result["peer_validate_ratio"] = round(other["peer_validate_s"] / max(result["stages"]["validate"], 1e-3), 1)
            if "error" in other:
                result["peer_error"] = other["error"]
    result["machine"] = {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()}
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def table(result: dict) -> str:
    stages = result.get("stages") or {}
    lines = [f"triples {result['triples']:,}; floor {result.get('floor_s')} s; peak {result.get('peak_mb')} MB; "
             f"{result.get('findings')} findings",
             "stage     ours (s)  reference (s)"]
    ref = (result.get("reference") or {}).get("stages") or {}
    for stage in (*STAGES, "total"):
        lines.append(f"{stage:<9} {stages.get(stage, '-'):>8}  {ref.get(stage, '-'):>13}")
    first, median = result.get("per_query_s") or {}, result.get("per_query_median_s") or {}
    if first:
        slowest = max(first, key=first.get)
        lines.append(f"slowest query: {slowest} {first[slowest]} s in the timed pass"
                     + (f", median of 3 more {median[slowest]} s (slowest median: {max(median, key=median.get)}"
                        f" {max(median.values())} s)" if median else ""))
    for key in ("floor_ratio", "ratio", "findings_equal", "peer_validate_s", "peer_validate_ratio"):
        if key in result:
            lines.append(f"{key}: {result[key]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The pipeline timed by stage (see BENCHMARKS.md)")
    parser.add_argument("--triples", default="100k", help="target size incl. ontology and catalogues: 10k, 100k, 1m")
    parser.add_argument("--reference", action="store_true", help="also time the seed stack (rdflib, owlrl, pySHACL)")
    parser.add_argument("--peer", action="store_true", help="also time pyshacl-turbo on the same reasoned graph")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line, last")
    parser.add_argument("--timeout-minutes", type=float, default=60.0, help="per measurement")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--job", choices=("ours", "reference", "floor", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--register", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--findings-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        if args.job in ("ours", "reference"):
            out = measure_pipeline(args.register, args.job, args.findings_out)
        elif args.job == "floor":
            out = measure_floor(args.register)
        else:
            out = measure_peer(args.register)
        print(json.dumps(out))
        return 0
    result = run(parse_size(args.triples), args.reference, args.peer, args.timeout_minutes * 60, args.seed)
    print(table(result), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
