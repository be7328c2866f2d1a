"""Findings and classifications as text, Markdown and JSON for people and other tools."""

from __future__ import annotations

import json
from collections import OrderedDict

from rdflib import URIRef
from rdflib.namespace import RDFS

from .load import catalogue_graph
from .namespaces import expand_curie
from .validate import Finding

MARK = {"violation": "✗", "warning": "!", "info": "i"}


def to_json(document: dict) -> str:
    """Stable JSON: same input, same bytes."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def finding_json(f: Finding, text=json.encoder.encode_basestring) -> str:
    refs = "[\n" + ",\n".join(f"        {text(r)}" for r in f.refs) + "\n      ]" if f.refs else "[]"
    return (f'    {{\n      "rule": {text(f.rule)},\n      "severity": {text(f.severity)},\n'
            f'      "focus": {text(f.focus)},\n      "focus_iri": {text(f.focus_iri)},\n      "refs": {refs},\n'
            f'      "message": {text(f.message)}\n    }}')


def gaps_json(document: dict, fragments: list[str] | None = None) -> str:
    """`to_json(document)` for a gaps document (pipeline.gaps_document) whose `findings` are
    still Finding objects: each is written by one format string (json.dumps with an indent runs
    its pure-Python encoder, ~1 s for the 68k findings of a 1M-triple register), or taken from
    `fragments`, their texts as finding_json wrote them (kept.py keeps them)."""
    findings = document["findings"]
    text = to_json({**document, "findings": []})
    if not findings:
        return text
    block = '"findings": [\n' + ",\n".join(fragments if fragments is not None else map(finding_json, findings)) + "\n  ]"
    return text.replace('"findings": []', block, 1)


def catalogue_title(curie: str) -> str:
    iri = expand_curie(curie)
    label = catalogue_graph().value(URIRef(iri), RDFS.label) if iri else None
    return str(label) if label is not None else ""


def group_of(finding: Finding) -> str:
    """The heading a finding sorts under: its first ISO/IEC 42001 clause (4-10), else the EU AI Act."""
    for ref in finding.refs:
        if ref.startswith("iso42001:") and not ref.startswith("iso42001:A."):
            return "iso42001:" + ref.split(":")[1].split(".")[0]
    if any(r.startswith("iso42001:A.") for r in finding.refs):
        return "iso42001:A"
    return "euaia"


def group_title(group: str) -> str:
    if group == "euaia":
        return "EU AI Act (Regulation (EU) 2024/1689)"
    if group == "iso42001:A":
        return "ISO/IEC 42001 Annex A"
    return f"Clause {group.split(':')[1]} — {catalogue_title(group)}"


def grouped(findings: list[Finding]) -> "OrderedDict[str, list[Finding]]":
    def order(g: str) -> tuple:
        return (2, 0) if g == "euaia" else (1, 0) if g == "iso42001:A" else (0, int(g.split(":")[1]))

    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(group_of(f), []).append(f)
    return OrderedDict(sorted(groups.items(), key=lambda kv: order(kv[0])))


def _counts(findings: list[Finding]) -> str:
    v = sum(f.severity == "violation" for f in findings)
    w = sum(f.severity == "warning" for f in findings)
    return f"{v} violation{'s' * (v != 1)}, {w} warning{'s' * (w != 1)}"


def _readiness_rows(summary: dict) -> list[tuple[str, str, str, str]]:
    """(heading, title, met/requirements, percent) per clause 4-10, then per Annex A objective."""
    rows = []
    for kind in ("clauses", "annex_a"):
        for g in summary[kind]:
            number = g["id"].split(":", 1)[1]
            heading = f"Clause {number}" if kind == "clauses" else number
            rows.append((heading, g["title"], f"{g['met']}/{g['requirements']}", f"{round(100 * g['share'])}%"))
    return rows


def findings_text(findings: list[Finding], as_of: str, summary: dict | None = None) -> str:
    lines = [f"Findings at {as_of}: {_counts(findings)}"]
    for group, items in grouped(findings).items():
        lines += ["", group_title(group)]
        for f in items:
            lines.append(f"  {MARK[f.severity]} {f.rule:<32} {f.focus}")
            lines.append(f"      {f.message}")
            lines.append(f"      refs: {', '.join(f.refs)}")
    if not findings:
        lines.append("No findings.")
    if summary:
        lines += ["", "Readiness (requirements met: nothing open about them; Annex A controls effective or justified-excluded)"]
        for heading, title, ratio, percent in _readiness_rows(summary):
            lines.append(f"  {heading:<10} {title:<50} {ratio:>5} {percent:>5}")
    return "\n".join(lines) + "\n"


def findings_markdown(findings: list[Finding], as_of: str, summary: dict | None = None) -> str:
    lines = [f"# Findings at {as_of}", "", f"{_counts(findings)}."]
    for group, items in grouped(findings).items():
        lines += ["", f"## {group_title(group)}", "", "| severity | rule | focus | refs | message |",
                  "|---|---|---|---|---|"]
        for f in items:
            cells = [f.severity, f"`{f.rule}`", f"`{f.focus}`", ", ".join(f.refs), f.message.replace("|", "\\|")]
            lines.append("| " + " | ".join(cells) + " |")
    if summary:
        lines += ["", "## Readiness", "", "| requirement group | title | met | share |", "|---|---|---|---|"]
        lines += [f"| {heading} | {title} | {ratio} | {percent} |" for heading, title, ratio, percent in _readiness_rows(summary)]
    return "\n".join(lines) + "\n"


def text_line(text: dict) -> str:
    """The text of the EU AI Act a run applied, as one line every output can carry."""
    if not text:
        return "EU AI Act text: Regulation (EU) 2024/1689"
    how = "chosen" if text.get("choice") not in (None, "", "auto") else "in force at the as-of date"
    return f"EU AI Act text: {text.get('title', text.get('applied'))} ({how})"


def classification_text(doc: dict) -> str:
    lines = []
    for s in doc["systems"]:
        basis = f" ({', '.join(s['basis'])})" if s["basis"] else ""
        gpai = ", GPAI model" if s["gpai"] else ""
        roles = f" as {', '.join(s['roles'])}" if s["roles"] else ""
        lines.append(f"{s['id']}: {s['category']}{basis}{gpai}{roles}")
        for role, why in s.get("role_basis", {}).items():
            lines.append(f"    {role} by {', '.join(why)}")
        if s.get("scope_limited_by"):
            lines.append(f"    limited by {', '.join(s['scope_limited_by'])}: only Art 6(1), 102-109 and 112 apply"
                         + (f"; excluded: {', '.join(s['excluded_obligations'])}" if s.get("excluded_obligations") else ""))
        if s["obligations"]:
            lines.append(f"    obligations: {', '.join(s['obligations'])}")
    if doc.get("ai_act_text"):
        lines.append(text_line(doc["ai_act_text"]))
    return "\n".join(lines) + "\n"


