"""Reasoning and validation benchmarks: owlrl (reference) vs reasonable (fast), and pySHACL,
on generated organisations of 10k / 100k / 1M triples (data + ontology + catalogues).

Every measurement runs in a fresh process, started by a fresh wrapper process, so the
wrapper's resource.getrusage(RUSAGE_CHILDREN).ru_maxrss is that measurement's own peak RSS
(the counter is a high-water mark over all children, so one wrapper per measurement).

    python -m benchmarks.run --sizes 10k,100k --engines reasonable,owlrl --validate
    python benchmarks/run.py --sizes 1m --engines reasonable --timeout-minutes 30
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DEFAULT_SEED, parse_size, plan_for_triples, write_data  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REFERENCE_ENGINE, FAST_ENGINE = "owlrl", "reasonable"
VALIDATOR = "pyshacl"
PACKAGES = ("rdflib", "pyoxigraph", "reasonable", "owlrl", "pyshacl", "aimsgraph")


# --- inside the measured process ------------------------------------------------------------


def _loaded_store(data: Path):
    from aimsgraph.load import load_packaged
    from aimsgraph.namespaces import GRAPH_DATA
    from aimsgraph.store import OxigraphStore

    store = OxigraphStore()
    load_packaged(store)
    store.load(data.read_bytes(), "nt", GRAPH_DATA)
    return store


def _time_calls(store, method: str, spent: dict[str, float], key=lambda *args: "all") -> None:
    """Add the seconds spent in `store.<method>` to `spent[key(*args)]` (keys that are None are
    not counted): instruments one measurement without touching the code under test."""
    original = getattr(store, method)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            name = key(*args)
            if name is not None:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    setattr(store, method, timed)


def measure(kind: str, engine: str, data: Path, profile: Path | None = None) -> dict:
    """One measurement in this process: 'reason' with an OWL engine, or 'validate' (pySHACL on
    the graph reasoned with the fast engine). Returns seconds per phase and sizes."""
    from aimsgraph.reason import Parameters, load_rules, reason
    from aimsgraph.validate import validate

    started = time.perf_counter()
    store = _loaded_store(data)
    out: dict = {"seconds_load": time.perf_counter() - started,
                 "triples": sum(store.count(g) for g in store.graphs())}
    profiler = cProfile.Profile() if profile else None
    params = Parameters(AS_OF)
    if kind == "reason":
        conversion: dict[str, float] = {}  # store terms -> rdflib terms for the OWL engine
        _time_calls(store, "to_rdflib", conversion, lambda *_: "to_rdflib")
        _time_calls(store, "triples", conversion, lambda *_: "triples")  # to_rdflib calls it: nested, so max()
        rule_of_query = {getattr(rule, form): rule.id for rule in load_rules()  # CONSTRUCT, or SELECT of its WHERE
                         for form in ("query", "select_query") if hasattr(rule, form)}
        rule_seconds: dict[str, float] = {}  # the CONSTRUCT queries alone, summed over fixpoint rounds
        _time_calls(store, "query", rule_seconds, lambda sparql, *_: rule_of_query.get(sparql))
        if profiler:
            profiler.enable()
        report = reason(store, params, engine)
        if profiler:
            profiler.disable()
        convert = max(conversion.values(), default=0.0)
        out.update(seconds_convert=convert, seconds_owl=report.seconds_owl - convert,
                   seconds_rules=report.seconds_rules, owl_triples=report.owl_triples,
                   rule_triples=report.rule_triples, per_rule=report.per_rule,
                   seconds_per_rule_query=dict(sorted(rule_seconds.items(), key=lambda kv: -kv[1])))
        out["seconds"] = report.seconds_owl + report.seconds_rules
    else:
        reason(store, params, FAST_ENGINE)
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        validation = validate(store, engine)  # engine: a validator of validate.VALIDATORS
        out["seconds"] = time.perf_counter() - started
        if profiler:
            profiler.disable()
        per_rule: dict[str, int] = {}
        for finding in validation.findings:
            per_rule[finding.rule] = per_rule.get(finding.rule, 0) + 1
        out.update(findings=len(validation.findings), violations=validation.violations, per_rule=per_rule)
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
        profile.write_text(text.getvalue(), encoding="utf-8")
    return out


# --- isolation: wrapper process -> measured process -----------------------------------------


def _script_command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def wrap(timeout: float, command: list[str]) -> dict:
    """Run `command` (which prints one JSON line) with a timeout; add its own peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        result = {"timed_out": False, "returncode": proc.returncode}
        if proc.returncode == 0:
            result.update(json.loads(stdout.strip().splitlines()[-1]))
        else:
            result["error"] = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        result = {"timed_out": True}
    result["wall_seconds"] = time.perf_counter() - started
    # Linux reports ru_maxrss in KiB
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


def isolated(kind: str, engine: str, data: Path, timeout: float, profile: Path | None = None) -> dict:
    """One measurement in a fresh wrapper + worker pair (see module docstring)."""
    worker = _script_command("--worker", kind, "--engine", engine, "--data", str(data))
    if profile:
        worker += ["--profile-to", str(profile)]
    wrapper = _script_command("--wrap", str(timeout), "--", *worker)
    done = subprocess.run(wrapper, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the benchmark: sizes x engines, table, JSON ------------------------------------------------


def _summary(kind: str, engine: str, label: str, runs: list[dict], timeout_minutes: float) -> dict:
    ok = [r for r in runs if not r.get("timed_out") and "error" not in r]
    row = {"size": label, "kind": kind, "engine": engine, "runs": runs,
           "peak_mb": max(r["peak_mb"] for r in runs)}
    if not ok:
        failed = runs[0]
        row["status"] = (f"timed out after {timeout_minutes:g} min" if failed.get("timed_out")
                         else f"failed: {failed.get('error')}")
        return row
    row["status"] = "ok"
    row["triples"] = ok[0]["triples"]
    for key in ("seconds", "seconds_convert", "seconds_owl", "seconds_rules"):
        if key in ok[0]:
            row[key] = statistics.median(r[key] for r in ok)
    for key in ("owl_triples", "rule_triples", "findings", "violations"):
        if key in ok[0]:
            row[key] = ok[0][key]
    return row


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def table(rows: list[dict]) -> str:
    """Markdown table: reasoning rows (phases separately, ratio reference/fast), then validation."""
    fast = {r["size"]: r for r in rows if r["kind"] == "reason" and r["engine"] == FAST_ENGINE and r["status"] == "ok"}
    lines = ["| size | triples | stage | engine | convert s | OWL s | rules s | total s | peak MB | "
             "ratio ref/fast (OWL, total) | derived / findings |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        triples = f"{r['triples']:,}" if "triples" in r else "–"
        if r["status"] != "ok":
            lines.append(f"| {r['size']} | {triples} | {r['kind']} | {r['engine']} | – | – | – | {r['status']} | "
                         f"{r['peak_mb']:.0f} | – | – |")
            continue
        if r["kind"] == "reason":
            ratio = "–"
            base = fast.get(r["size"])
            if r["engine"] == REFERENCE_ENGINE and base:
                ratio = f"{r['seconds_owl'] / base['seconds_owl']:.0f}x, {r['seconds'] / base['seconds']:.1f}x"
            derived = f"{r['owl_triples']:,} OWL + {r['rule_triples']:,} rule"
            lines.append(f"| {r['size']} | {triples} | reason | {r['engine']} | {_seconds(r.get('seconds_convert', r.get('seconds_to_rdflib')))} | "
                         f"{_seconds(r['seconds_owl'])} | {_seconds(r['seconds_rules'])} | {_seconds(r['seconds'])} | "
                         f"{r['peak_mb']:.0f} | {ratio} | {derived} |")
        else:
            lines.append(f"| {r['size']} | {triples} | validate | {r['engine']} | – | – | – | {_seconds(r['seconds'])} | "
                         f"{r['peak_mb']:.0f} | – | {r['findings']:,} findings ({r['violations']:,} violations) |")
    return "\n".join(lines)


def machine() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cpus": os.cpu_count(), "load_average": os.getloadavg(), "versions": versions}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--wrap"]:
        print(json.dumps(wrap(float(argv[1]), argv[3:])))
        return 0
    parser = argparse.ArgumentParser(description="Reasoning and validation benchmarks (see benchmarks/README.md)")
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated target triple counts: 10k,100k,1m")
    parser.add_argument("--engines", default=f"{FAST_ENGINE},{REFERENCE_ENGINE}", help="OWL engines to time")
    parser.add_argument("--validate", action="store_true", help="also time pySHACL validation")
    parser.add_argument("--no-reason", action="store_true", help="skip the reasoning measurements")
    parser.add_argument("--timeout-minutes", type=float, default=30.0, help="per measurement")
    parser.add_argument("--repeat", type=int, help="runs per measurement (default: 3 below 100k triples, else 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--profile", action="store_true", help="write cProfile top-40 per measurement to results/")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                        help="print one table from earlier results files instead of measuring")
    parser.add_argument("--worker", choices=("reason", "validate"), help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker, args.engine, args.data, args.profile_to)))
        return 0
    if args.table:
        print(table([row for path in args.table for row in json.loads(path.read_text(encoding="utf-8"))["rows"]]))
        return 0
    return run_benchmarks(args)


def run_benchmarks(args: argparse.Namespace) -> int:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    timeout = args.timeout_minutes * 60
    jobs = [("reason", e.strip()) for e in args.engines.split(",") if e.strip() and not args.no_reason]
    if args.validate:
        jobs.append(("validate", VALIDATOR))
    rows = []
    info = {"started": stamp, "as_of": AS_OF.isoformat(), "seed": args.seed, "machine": machine(),
            "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]), "rows": rows}
    for label in (s.strip() for s in args.sizes.split(",") if s.strip()):
        target = parse_size(label)
        plan = plan_for_triples(target, args.seed)
        print(f"[{label}] generating {plan.systems} systems ...", file=sys.stderr, flush=True)
        data = write_data(plan)
        repeat = args.repeat or (3 if target < 100_000 else 1)
        for kind, engine in jobs:
            runs = []
            for n in range(repeat):
                profile = RESULTS_DIR / f"profile-{stamp}-{label}-{kind}-{engine}.txt" if args.profile and n == 0 else None
                print(f"[{label}] {kind} {engine} run {n + 1}/{repeat} ...", file=sys.stderr, flush=True)
                runs.append(isolated(kind, engine, data, timeout, profile))
                if runs[-1].get("timed_out"):
                    break  # a second timed-out run teaches nothing
            row = _summary(kind, engine, label, runs, args.timeout_minutes)
            row["systems"] = plan.systems
            rows.append(row)
            print(f"[{label}] {kind} {engine}: {row['status']} {row.get('seconds', '')}", file=sys.stderr, flush=True)
            (RESULTS_DIR / f"bench-{stamp}.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    info["finished"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    info["load_average_end"] = os.getloadavg()
    (RESULTS_DIR / f"bench-{stamp}.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    print(table(rows))
    print(f"\nresults: {RESULTS_DIR / f'bench-{stamp}.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
