"""Seconds of each named query and each rule on a generated register, reasoned once.

    python -m benchmarks.named --triples 1m                 # reason (per-rule seconds), then every query
    python -m benchmarks.named --triples 1m --skip-reason   # queries on the cached reasoned store
    python -m benchmarks.named --triples 100k --skip-reason --compare trace-edges --against OLD.rq
    python -m benchmarks.named --triples 100k --dump-rows DIR  # every query's rows, sorted, one file each

The register is the one `benchmarks.run` uses (benchmarks/data/, ignored by git). The first run
loads and reasons it with the defaults of `aimsgraph.pipeline.analyse` and keeps the reasoned
store as N-Quads next to it, so later runs only load that (seconds of pyoxigraph's parser).
Per-rule seconds are summed over the fixpoint passes (`ReasoningReport.seconds_per_rule`); a query's
seconds are `aimsgraph.query.run_named` with no parameters (what `benchmarks.run` times: the
engine plus the rows as rdflib terms), median of `--repeat` runs, wall and CPU seconds (CPU
seconds are the steadier figure on a shared machine, but a query of `# parallel: branches` runs
on several threads, so its CPU seconds exceed its wall seconds); `cli s` / `cli cpu s` are the
rows as `aimsgraph query NAME` gets them before writing them (`cli_rows`: text, no terms). `--compare` checks that a named
query gives the same multiset of rows (and the same order) as an older text of it; it asserts
nothing in a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DEFAULT_SEED, parse_size  # noqa: E402
from benchmarks.run import register_file  # noqa: E402


def reasoned_store(triples: int, seed: int, skip_reason: bool):
    """The reasoned store for the generated register, and the reasoning report (None when loaded
    from the cached dump)."""
    import pyoxigraph as ox

    from aimsgraph.store import OxigraphStore

    register = register_file(triples, seed)
    dump = register.with_name(register.stem + "-reasoned.nq")
    if skip_reason and dump.exists():
        store = ox.Store()
        started = time.perf_counter()
        store.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
        print(f"loaded {dump.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return OxigraphStore.wrap(store), None
    from aimsgraph.pipeline import analyse
    from aimsgraph.reason import load_rules

    load_rules()
    started = time.perf_counter()
    analysis = analyse(register, AS_OF)
    print(f"analysed {register.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    analysis.store.native.dump(output=str(dump), format=ox.RdfFormat.N_QUADS)
    return analysis.store, analysis.reasoning


def cli_rows(store, name: str):
    """The rows `aimsgraph query NAME` writes, as it gets them: `run_named_text` (the engine's
    TSV cells to text), or on an aimsgraph without it (an older checkout measured for comparison)
    rows_as_text(run_named(...)), what the command did before."""
    import aimsgraph.query as query

    if hasattr(query, "run_named_text"):
        return query.run_named_text(store, name)
    return query.rows_as_text(query.run_named(store, name))


def canonical_rows(result) -> Counter:
    return Counter(tuple(sorted((k, v.n3()) for k, v in row.items())) for row in result.rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", default="1m")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-reason", action="store_true", help="use the cached reasoned store when there is one")
    parser.add_argument("--only", default="", help="comma-separated query names")
    parser.add_argument("--compare", help="a named query (as it is now) to compare ...")
    parser.add_argument("--against", type=Path, help="... with this older query file (same multiset of rows; same order)")
    parser.add_argument("--rule-where", action="store_true",
                        help="also time each rule's WHERE on the reasoned store (CPU seconds)")
    parser.add_argument("--dump-rows", type=Path, help="write every named query's sorted rows to this folder")
    args = parser.parse_args(argv)

    from aimsgraph.query import named_queries, run_named

    store, reasoning = reasoned_store(parse_size(args.triples), args.seed, args.skip_reason)
    out: dict = {}
    if reasoning is not None:
        out["reason_s"] = round(reasoning.seconds_owl + reasoning.seconds_rules, 2)
        out["owl_s"], out["rules_s"] = round(reasoning.seconds_owl, 2), round(reasoning.seconds_rules, 2)
        out["per_rule_s"] = {k: round(v, 3) for k, v in sorted(reasoning.seconds_per_rule.items(), key=lambda kv: -kv[1])}
        out["per_rule_triples"] = reasoning.per_rule
        for rule, seconds in out["per_rule_s"].items():
            print(f"rule  {rule:<45} {seconds:8.3f} s  {reasoning.per_rule.get(rule, 0):>8} triples", file=sys.stderr)
    if args.compare:
        # the named query as it is now (through run_named, so with its `# order:` sort) against
        # an older text of it run as it was (its ORDER BY in SPARQL)
        started = time.perf_counter()
        now = run_named(store, args.compare)
        now_s = time.perf_counter() - started
        started = time.perf_counter()
        before = store.query(args.against.read_text(encoding="utf-8"))
        before_s = time.perf_counter() - started
        same = canonical_rows(now) == canonical_rows(before)
        ordered = [sorted(r.items()) for r in now.rows] == [sorted(r.items()) for r in before.rows]
        print(json.dumps({"query": args.compare, "against": str(args.against), "rows": len(now.rows),
                          "rows_before": len(before.rows), "same_multiset": same, "same_order": ordered,
                          "s": round(now_s, 3), "s_before": round(before_s, 3)}))
        return 0 if same else 1
    if args.rule_where:
        # each rule's WHERE as the reasoner runs it (distinct template values less what is known),
        # on the reasoned store: the cost of its last fixpoint pass, in CPU seconds
        from aimsgraph.namespaces import PREFIXES
        from aimsgraph.reason import load_rules

        per_rule_where: dict = {}
        for rule in load_rules():
            started = time.process_time()
            n = sum(1 for _ in store.native.query(f"SELECT * WHERE {{\n{rule.insert_where()}\n}}", prefixes=PREFIXES,
                                                   use_default_graph_as_union=True))
            per_rule_where[rule.id] = round(time.process_time() - started, 3)
            print(f"where {rule.id:<45} {per_rule_where[rule.id]:8.3f} cpu s  {n:>8} new", file=sys.stderr)
        out["per_rule_where_cpu_s"] = per_rule_where
    only = {n for n in args.only.split(",") if n}
    per_query: dict = {}
    for name in named_queries():
        if only and name not in only:
            continue
        seconds, cpu, cli, cli_cpu = [], [], [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = run_named(store, name)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            started, started_cpu = time.perf_counter(), time.process_time()
            cli_rows(store, name)
            cli.append(time.perf_counter() - started)
            cli_cpu.append(time.process_time() - started_cpu)
        per_query[name] = {"s": round(statistics.median(seconds), 3), "cpu_s": round(statistics.median(cpu), 3),
                           "cli_s": round(statistics.median(cli), 3), "cli_cpu_s": round(statistics.median(cli_cpu), 3),
                           "rows": len(result.rows)}
        print(f"query {name:<45} {per_query[name]['s']:8.3f} s {per_query[name]['cpu_s']:8.3f} cpu s"
              f" {per_query[name]['cli_s']:8.3f} cli s {per_query[name]['cli_cpu_s']:8.3f} cli cpu s"
              f"  {len(result.rows):>8} rows", file=sys.stderr)
        if args.dump_rows:
            args.dump_rows.mkdir(parents=True, exist_ok=True)
            lines = sorted("\t".join(f"{k}={v.n3()}" for k, v in sorted(row.items())) for row in result.rows)
            (args.dump_rows / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out["per_query"] = per_query
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
