"""The demo summary: systems with their EU AI Act category, findings grouped by clause, and one
traced risk -> treatment -> control -> evidence chain."""

from __future__ import annotations

from pathlib import Path

from .acttext import applied_text
from .namespaces import to_curie
from .pipeline import Analysis, classify, obligation_cover
from .render import findings_text, text_line
from .soa import soa_rows
from .validate import readiness

CHAIN_QUERY = """
SELECT DISTINCT ?riskId ?riskTitle ?score ?systemId ?controlId ?controlTitle ?evidenceId ?evidenceTitle ?until ?status
WHERE {
  ?risk a aims:Risk ; aims:registerId ?riskId ; rdfs:label ?riskTitle ; aims:riskScore ?score ;
        aims:riskOfSystem ?system ; aims:hasTreatment ?treatment .
  ?system aims:registerId ?systemId .
  ?treatment aims:usesControl ?control .
  ?entry aims:forControl ?control ; aims:registerId ?controlId .
  OPTIONAL { ?control rdfs:label ?controlTitle }
  OPTIONAL { ?entry aims:hasEvidence ?evidence . ?evidence aims:registerId ?evidenceId ; rdfs:label ?evidenceTitle .
             OPTIONAL { ?evidence aims:validUntil ?until } OPTIONAL { ?evidence aims:evidenceStatus ?status } }
}
ORDER BY DESC(?score) ?riskId ?controlId ?evidenceId
"""


def traced_chain(analysis: Analysis) -> list[str]:
    """The highest-scoring treated risk, traced down to its evidence."""
    rows = analysis.store.query(CHAIN_QUERY).rows
    if not rows:
        return ["(no treated risk to trace)"]
    top = str(rows[0]["riskId"])
    rows = [r for r in rows if str(r["riskId"]) == top]
    first = rows[0]
    lines = [f"risk {top} \"{first['riskTitle']}\" (score {first['score']}) on AI system {first['systemId']}"]
    controls: dict[str, list[dict]] = {}
    for r in rows:
        controls.setdefault(str(r["controlId"]), []).append(r)
    for i, (cid, items) in enumerate(controls.items()):
        last_c = i == len(controls) - 1
        title = items[0].get("controlTitle")
        lines.append(f"{'└─' if last_c else '├─'} control {cid}" + (f" \"{title}\"" if title else ""))
        evidence = [r for r in items if "evidenceId" in r]
        if not evidence:
            lines.append(f"{'   ' if last_c else '│  '}└─ (no evidence)")
        for j, r in enumerate(evidence):
            status = to_curie(str(r["status"])).split("evidence-")[-1] if "status" in r else "unknown"
            until = f", valid until {r['until']}" if "until" in r else ""
            mark = "  ← EXPIRED" if status == "expired" else ""
            lines.append(f"{'   ' if last_c else '│  '}{'└─' if j == len(evidence) - 1 else '├─'} evidence "
                         f"{r['evidenceId']} \"{r['evidenceTitle']}\" ({status}{until}){mark}")
    return lines


def demo_summary(analysis: Analysis, path: Path) -> str:
    org = analysis.store.query("SELECT ?name WHERE { ?o a aims:Organization ; rdfs:label ?name }").rows
    name = str(org[0]["name"]) if org else "the organisation"
    systems = analysis.store.query("""
        SELECT ?id ?name WHERE { ?s a aims:AISystem ; aims:registerId ?id ; rdfs:label ?name . } ORDER BY ?id""").rows
    categories = {s["id"]: s for s in classify(analysis.store)["systems"]}
    cover = obligation_cover(analysis.store)  # the counts the report and trace give too
    out = [f"aimsgraph demo — {name}", f"register: {path}", f"judged as of {analysis.params.as_of.isoformat()}",
           text_line(applied_text(analysis.store)), "", "AI systems"]
    for s in systems:
        sid = str(s["id"])
        c = categories.get(sid, {})
        basis = f" ({', '.join(c.get('basis', []))})" if c.get("basis") else ""
        states = list(cover.get(sid, {}).values())
        line = ""
        if states:
            line = f"; {states.count('covered')}/{len(states)} obligations covered"
            if states.count("partial"):
                line += f", {states.count('partial')} only partially"
        out.append(f"  {sid:<24} {c.get('category', 'out-of-scope')}{basis}{line}")
        out.append(f"  {'':<24} {s['name']}")
    soa = soa_rows(analysis.store)
    effective, applicable = sum(r.effective for r in soa), sum(bool(r.applicable) for r in soa)
    out += ["", f"Controls: {effective}/{applicable} applicable controls effective",
            "", findings_text(analysis.validation.findings, analysis.params.as_of.isoformat(),
                              readiness(analysis.store, analysis.validation.findings)).rstrip(),
            "", "Traced chain (risk → control → evidence)"]
    out += ["  " + line for line in traced_chain(analysis)]
    r = analysis.reasoning
    out += ["", f"Reasoning: {r.owl_triples} OWL 2 RL triples ({r.owl_engine}, {r.seconds_owl:.2f} s), "
            f"{r.rule_triples} rule triples ({r.seconds_rules:.2f} s)."]
    return "\n".join(out) + "\n"
