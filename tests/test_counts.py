"""The demo, classify, trace, the SoA, gaps and the report give the same counts for the same input
and date: obligations and their cover per AI system (the distinct articles classify lists),
findings by severity, applicable and effective controls, and the text of the Act applied."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from aimsgraph.demo import demo_summary
from aimsgraph.pipeline import classify, gaps_document
from aimsgraph.report import report_html
from aimsgraph.soa import soa_rows
from aimsgraph.trace import trace_graph
from analyses import analysed

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"


def demo_counts(text: str) -> dict:
    systems = {}
    for m in re.finditer(r"^  (\S+)\s+\S+(?: \([^)]*\))?; (\d+)/(\d+) obligations covered(?:, (\d+) only partially)?$",
                         text, re.M):
        systems[m.group(1)] = (int(m.group(3)), int(m.group(2)), int(m.group(4) or 0))
    v, w = re.search(r"^Findings at \S+: (\d+) violations?, (\d+) warnings?$", text, re.M).groups()
    effective, applicable = re.search(r"^Controls: (\d+)/(\d+) applicable controls effective$", text, re.M).groups()
    act = re.search(r"^EU AI Act text: (.*) \((?:chosen|in force at the as-of date)\)$", text, re.M).group(1)
    return {"systems": systems, "findings": (int(v), int(w)), "controls": (int(effective), int(applicable)),
            "text": act}


def report_counts(html: str) -> dict:
    systems = {}
    for m in re.finditer(r'<h3><span>([^<]+)</span>.*?(?:<div class="sub">(\d+) of (\d+) obligations covered by an '
                         r'effective control(?:, (\d+) only partially[^<]*)?</div>|No EU AI Act obligations derived)',
                         html, re.S):
        if m.group(2) is not None:
            systems[m.group(1)] = (int(m.group(3)), int(m.group(2)), int(m.group(4) or 0))
    cards = dict((label, n) for n, label in re.findall(r'<div class="n">([^<]+)</div><div class="l">([^<]+)</div>', html))
    effective, applicable = cards["applicable controls effective"].split("/")
    act = re.search(r"EU AI Act text: (.*?) \((?:chosen|in force at the as-of date)\)", html).group(1)
    return {"systems": systems, "findings": (int(cards["violations"]), int(cards["warnings"])),
            "controls": (int(effective), int(applicable)), "text": act}


def trace_counts(analysis) -> dict[str, tuple[int, int, int]]:
    graph = trace_graph(analysis.store)
    out = {}
    for node, data in graph.nodes(data=True):
        if data["kind"] != "system":
            continue
        articles = [a for a in graph.successors(node) if graph.edges[node, a]["relation"] == "has-obligation"]
        if articles:
            states = [graph.nodes[a]["state"] for a in articles]
            out[node] = (len(articles), states.count("covered"), states.count("partially covered"))
    return out


@pytest.mark.parametrize("as_of", [date(2026, 1, 31), date(2026, 9, 1)])
def test_every_output_gives_the_same_counts(as_of):
    analysis = analysed(FINSECURE, as_of)
    demo = demo_counts(demo_summary(analysis, FINSECURE))
    report = report_counts(report_html(analysis))
    doc = classify(analysis.store)
    with_obligations = {s["id"]: len(s["obligations"]) for s in doc["systems"] if s["obligations"]}
    traced = trace_counts(analysis)
    gaps = gaps_document(analysis)
    soa = soa_rows(analysis.store)

    # obligations per system: classify's list, the demo, the report and the trace agree
    assert {k: v[0] for k, v in demo["systems"].items()} == with_obligations
    assert demo["systems"] == report["systems"] == traced
    # findings by severity: gaps, the demo and the report
    severities = [f["severity"] for f in gaps["findings"]]
    assert demo["findings"] == report["findings"] == (severities.count("violation"), severities.count("warning"))
    # controls: the SoA, the demo and the report
    assert demo["controls"] == report["controls"] == (sum(r.effective for r in soa), sum(bool(r.applicable) for r in soa))
    # the text of the Act: every output names the same one
    assert demo["text"] == report["text"] == gaps["ai_act_text"]["title"] == doc["ai_act_text"]["title"]
    assert gaps["ai_act_text"]["applied"] == ("original" if as_of < date(2026, 7, 27) else "amended")
