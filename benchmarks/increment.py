"""One evidence item added to a large organisation in an on-disk store: how long until `gaps`
shows it (issue 12: "within 1 s at 1M triples").

    python -m benchmarks.increment --triples 1m [--store-dir DIR] [--verify] --json

Loads the generated register into an on-disk store (or reuses DIR when it already holds it),
validated once as `aimsgraph load` does, then for each scenario adds one evidence item as
`aimsgraph add` does — in process, so Python's start-up is not counted — and reads `gaps` as the
next command would. Scenarios: evidence for an SoA entry that is already effective; evidence that
makes an own control's entry effective (its crosswalk reach covers obligations of many systems);
evidence for an Annex A control's entry that had none valid. `--verify` also validates the store
from scratch after each add and compares the findings, and reasons it from scratch once at the
end and compares the inferred graph. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import AS_OF, DATA_DIR, _generator_version, parse_size, plan_for_triples, write_yaml  # noqa: E402

DATA = "https://w3id.org/aimsgraph/data/"
FIND_ENTRY = {
    "already-effective": "SELECT ?e WHERE { ?e a aims:EffectiveSoAEntry ; aims:forControl ?c . ?c a aims:AnnexAControl } "
                         "ORDER BY ?e LIMIT 1",
    "own-control-becomes-effective": "SELECT ?e WHERE { ?e a aims:SoAEntry ; aims:applicable true ; "
                                     "aims:implementationStatus aims:status-implemented ; aims:forControl ?c . "
                                     "FILTER NOT EXISTS { ?c a aims:AnnexAControl } "
                                     "FILTER NOT EXISTS { ?e a aims:EffectiveSoAEntry } } ORDER BY ?e LIMIT 1",
    "annex-a-control-gets-evidence": "SELECT ?e WHERE { ?e a aims:SoAEntry ; aims:applicable true ; "
                                     "aims:implementationStatus aims:status-implemented ; aims:forControl ?c . "
                                     "?c a aims:AnnexAControl FILTER NOT EXISTS { ?e a aims:EffectiveSoAEntry } } "
                                     "ORDER BY ?e LIMIT 1",
}


def _evidence(org: str, entry: str, number: int) -> str:
    item = f"<{DATA}{org}/EV-BENCH-{number}>"
    return (f"@prefix aims: <https://w3id.org/aimsgraph/ontology#> .\n"
            f"@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
            f"{item} a aims:Evidence ; aims:registerId \"EV-BENCH-{number}\" ; aims:inOrganization <{DATA}{org}/{org}> ;\n"
            f"  aims:date \"2026-01-10\"^^xsd:date ; aims:validUntil \"2027-01-10\"^^xsd:date .\n"
            f"<{entry}> aims:hasEvidence {item} .\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", default="1m")
    parser.add_argument("--store-dir", help="keep the store here (reused when it holds the register already)")
    parser.add_argument("--verify", action="store_true", help="compare with validating and reasoning from scratch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("AIMSGRAPH_CACHE_DIR", tempfile.mkdtemp(prefix="aimsgraph-bench-cache-"))

    from aimsgraph import workspace
    from aimsgraph.namespaces import GRAPH_INFERRED
    from aimsgraph.pipeline import add_stored, analyse, analyse_stored, gaps_text
    from aimsgraph.reason import reason, stored_parameters
    from aimsgraph.store import OxigraphStore, open_store
    from aimsgraph.validate import validate

    plan = plan_for_triples(parse_size(args.triples))
    register = DATA_DIR / f"org-{plan.systems}sys-seed{plan.seed}-{_generator_version()}.yaml"
    if not register.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        write_yaml(plan, register)
    folder = Path(args.store_dir or tempfile.mkdtemp(prefix="aimsgraph-bench-store-"))
    store = open_store("oxigraph", str(folder))
    out: dict = {"triples": args.triples, "register": register.name, "scenarios": []}
    if not workspace.organisations(store):
        started = time.perf_counter()
        loaded = analyse(register, AS_OF, store=store)
        loaded.validation  # as `aimsgraph load` does: validated once, the findings kept
        out["load_s"] = round(time.perf_counter() - started, 2)
    org = workspace.organisations(store)[0]
    started = time.perf_counter()
    analyse_stored(store, AS_OF, org=org).validation  # kept by the load; validated now if it was not
    out["first_gaps_s"] = round(time.perf_counter() - started, 2)
    # Each `aimsgraph add` is a process of its own: what the load and the first gaps built is
    # dropped and the rest frozen, so the adds below do not pay collections of a heap the
    # command would not have (after an in-process load, the first add took 2.1 s instead of 0.3).
    loaded = None
    gc.collect()
    gc.freeze()
    for number, (name, query) in enumerate(FIND_ENTRY.items(), start=1):
        view = workspace.current(store, org).view(store)
        rows = view.query(query).rows
        if not rows:
            continue
        fragment = folder.parent / f"{folder.name}-evidence-{number}.ttl"
        fragment.write_text(_evidence(org, str(rows[0]["e"]), number + int(time.time()) % 100000 * 10), encoding="utf-8")
        started = time.perf_counter()
        analysis, report = add_stored(store, fragment, org=org)
        added = time.perf_counter() - started
        started = time.perf_counter()
        shown = analyse_stored(store, AS_OF, org=org)
        document = gaps_text(shown)  # what `aimsgraph gaps --format json` writes
        gaps_s = time.perf_counter() - started
        findings_after_add = len(shown.validation.findings)
        row = {"scenario": name, "entry": str(rows[0]["e"]).rsplit("/", 1)[-1], "new_triples": report.data_added,
               "inferred_added": len(report.added or ()) - report.data_added, "removed": len(report.removed or ()),
               "rule_runs": report.rule_runs, "reason_s": round(report.seconds, 3),
               "add_s": round(added, 3), "gaps_s": round(gaps_s, 3), "visible_s": round(added + gaps_s, 3),
               "findings": findings_after_add, "fallback": report.fallback, "gaps_bytes": len(document)}
        if args.verify:
            fresh = validate(shown.store)
            row["findings_equal_full_validation"] = ([f.as_json() for f in fresh.findings]
                                                     == [f.as_json() for f in shown.validation.findings])
        out["scenarios"].append(row)
        fragment.unlink()
    if args.verify:
        version = workspace.current(store, org)
        view = version.view(store)
        reference = OxigraphStore()
        for graph in view.graphs():
            if graph.startswith(("https://w3id.org/aimsgraph/graph/delta/",)) or graph == GRAPH_INFERRED:
                continue
            reference.add(graph, view.triples(graph))
        params = stored_parameters(view)
        reason(reference, params)
        out["inferred_equal_full_reasoning"] = set(reference.triples(GRAPH_INFERRED)) == set(view.triples(GRAPH_INFERRED))
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if not args.json:
        for row in out["scenarios"]:
            print(f"{row['scenario']:32} +{row['new_triples']} data, +{row['inferred_added']}/-{row['removed']} inferred: "
                  f"add {row['add_s']:.3f} s (reasoning {row['reason_s']:.3f}), gaps {row['gaps_s']:.3f} s, "
                  f"visible in {row['visible_s']:.3f} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
