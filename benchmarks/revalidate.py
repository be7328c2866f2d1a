"""Focus-scoped re-validation against a full validation after one evidence item (or another entity,
--kind) is added, on a generated register (aimsgraph.revalidate).

    python -m benchmarks.revalidate --triples 1m

The reasoned register is loaded from (or written to) the cache that benchmarks.named keeps. One
evidence item of the data (the middle one by IRI) is taken out with every data triple that names
it, the rest reasoned again from scratch: that is the state before the item is added. The union
diff of the two reasoned stores is the change; the figures are CPU seconds of `shacl.run` on the
state after against `revalidate` from the results before (cold: the query analyses are parsed
first; warm: cached), both ways (the item added, and removed again), the results checked equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DEFAULT_SEED, parse_size  # noqa: E402
from benchmarks.named import reasoned_store  # noqa: E402


def _union(store) -> set:
    import pyoxigraph as ox

    return {ox.Triple(q.subject, q.predicate, q.object) for q in store.native.quads_for_pattern(None, None, None, None)}


def _cpu(fn):
    started = time.process_time()
    out = fn()
    return out, time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    import pyoxigraph as ox

    from aimsgraph import revalidate as rv
    from aimsgraph import shacl, validate
    from aimsgraph.namespaces import AIMS, GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS
    from aimsgraph.reason import Parameters, reason
    from aimsgraph.store import OxigraphStore, from_ox_term

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", default="1m")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--kind", default="Evidence", help="the class of the entity added (Evidence, SoAEntry, ...)")
    parser.add_argument("--item", help="the entity's IRI ending (e.g. soa/A.6.2.4) instead of the middle one of --kind")
    parser.add_argument("--restrict-each", type=int, metavar="N",
                        help="instead: each query run whole and restricted to N of its focus nodes (the plan check)")
    args = parser.parse_args(argv)

    after, _ = reasoned_store(parse_size(args.triples), args.seed, skip_reason=True)
    if args.restrict_each:
        return restrict_each(after, args.restrict_each)
    data = ox.NamedNode(GRAPH_DATA)
    items = sorted((q.subject for q in after.native.quads_for_pattern(
        None, ox.NamedNode(str(__import__("rdflib").RDF.type)), ox.NamedNode(str(AIMS[args.kind])), data)), key=str)
    item = next(i for i in items if i.value.endswith("/" + args.item)) if args.item else items[len(items) // 2]
    drop = {q for q in after.native.quads_for_pattern(item, None, None, data)} | \
           {q for q in after.native.quads_for_pattern(None, None, item, data)}
    skip = {ox.NamedNode(GRAPH_INFERRED), ox.NamedNode(GRAPH_PARAMETERS)}
    raw = ox.Store()
    raw.extend([q for q in after.native.quads_for_pattern(None, None, None, None)
                if q.graph_name not in skip and q not in drop])
    before = OxigraphStore.wrap(raw)
    started = time.perf_counter()
    reason(before, Parameters(AS_OF))
    reason_s = time.perf_counter() - started
    u_after, u_before = _union(after), _union(before)
    conv = lambda ts: [(from_ox_term(t.subject), from_ox_term(t.predicate), from_ox_term(t.object)) for t in ts]  # noqa: E731
    added, removed = conv(u_after - u_before), conv(u_before - u_after)

    compiled = validate.compiled_shapes()
    prev, _ = _cpu(lambda: shacl.run(compiled, before))
    full, full_s = _cpu(lambda: shacl.run(compiled, after))
    stats_cold: dict = {}
    inc_cold, cold_s = _cpu(lambda: rv.revalidate(compiled, after, added, removed, prev, stats=stats_cold))
    stats: dict = {}
    inc, warm_s = _cpu(lambda: rv.revalidate(compiled, after, added, removed, prev, stats=stats))
    wall = stats.get("seconds", 0.0)
    back_stats: dict = {}
    back, back_s = _cpu(lambda: rv.revalidate(compiled, before, removed, added, full, stats=back_stats))
    out = {
        "triples": len(u_after), "item": item.value, "data_triples": len(drop),
        "added": len(added), "removed": len(removed), "reason_before_s": round(reason_s, 1),
        "run_cpu_s": round(full_s, 3), "revalidate_cold_cpu_s": round(cold_s, 3),
        "revalidate_warm_cpu_s": round(warm_s, 3), "revalidate_warm_wall_s": round(wall, 3), "revalidate_back_cpu_s": round(back_s, 3),
        "equal": inc == full and inc_cold == full, "back_equal": back == prev,
        "results": len(full), "stats": {k: v for k, v in stats.items() if k != "seconds"},
        "back_stats": {k: v for k, v in back_stats.items() if k != "seconds"},
    }
    print(json.dumps(out))
    return 0 if out["equal"] and out["back_equal"] else 1


def restrict_each(store, n: int) -> int:
    """Each compiled query whole and with `VALUES ?this` for `n` focus nodes (of its own results,
    else of any query's): CPU seconds of both, and the restricted rows checked against the
    whole query's rows for those nodes. Shows the leading VALUES keeps every plan fast."""
    from collections import Counter

    from aimsgraph import revalidate as rv
    from aimsgraph import shacl, validate

    compiled = validate.compiled_shapes()
    classes = shacl.resolve_classes(store, compiled.classes)
    any_focus = sorted({r.focus for r in shacl.run(compiled, store)}, key=str)
    rows_out, ok = [], True
    for q in compiled.queries:
        text = q.text(classes)
        whole, whole_s = _cpu(lambda: store.query(text).rows)
        foci = sorted({r["this"] for r in whole}, key=str)
        step = max(1, len(foci) // n)
        chosen = foci[::step][:n] or any_focus[::max(1, len(any_focus) // n)][:n]
        part, part_s = _cpu(lambda: store.query(rv.restricted(text, chosen)).rows)
        key = lambda row: tuple(sorted((k, v.n3()) for k, v in row.items()))  # noqa: E731
        same = Counter(map(key, part)) == Counter(key(r) for r in whole if r["this"] in set(chosen))
        ok = ok and same
        rows_out.append({"query": q.name, "whole_rows": len(whole), "whole_cpu_s": round(whole_s, 4),
                         "restricted_cpu_s": round(part_s, 4), "same": same})
    for row in sorted(rows_out, key=lambda r: -r["restricted_cpu_s"]):
        print(json.dumps(row))
    print(json.dumps({"whole_cpu_s": round(sum(r["whole_cpu_s"] for r in rows_out), 3),
                      "restricted_cpu_s": round(sum(r["restricted_cpu_s"] for r in rows_out), 3),
                      "all_same": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
