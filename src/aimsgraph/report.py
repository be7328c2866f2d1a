"""The auditor's report: ONE self-contained HTML file (inline CSS and SVG, nothing fetched) with
the summary and readiness per clause, the EU AI Act classification of each AI system with its
obligations and their cover, the findings grouped by clause with what each one affects, the
Statement of Applicability, and a picture of each system's risk -> control -> evidence graph.

Then the records an auditor samples: nonconformities and corrective actions, internal audits,
management reviews, incidents and the evidence register (where each item is, when and by whom
it was produced, how fresh it is). The cover names when and by which aimsgraph version the
report was generated, the text of the EU AI Act applied and the SHA-256 of each input file.

Everything comes from the analysis: findings from `validation.findings`, classification from
`pipeline.classify`, obligation cover from the named query `system-obligations` and dates from
`obligations-not-yet-applicable`, the SoA from `soa.soa_rows`, the records from the named
queries `nonconformities`, `audits`, `management-reviews`, `incidents` and `evidence-register`,
and the pictures from `trace`.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import networkx as nx

from . import __version__
from .acttext import applied_text
from .pipeline import Analysis, classify, obligation_cover
from .query import rows_as_text, run_named
from .render import catalogue_title, group_title, grouped, text_line
from .soa import SoARow, soa_header, soa_header_html, soa_rows, soa_table_html
from .trace import impact, to_svg, trace_graph
from .validate import Finding, readiness

CLAUSE_GROUPS = [f"iso42001:{n}" for n in range(4, 11)] + ["iso42001:A", "euaia"]
STATUS_TEXT = {"ready": "Ready", "attention": "Needs attention", "not-ready": "Not ready"}


@dataclass(frozen=True)
class Readiness:
    group: str  # iso42001:4 ... iso42001:10, iso42001:A, euaia
    title: str
    violations: int
    warnings: int
    infos: int

    @property
    def status(self) -> str:
        return "not-ready" if self.violations else "attention" if self.warnings else "ready"


def readiness_by_clause(findings: list[Finding]) -> list[Readiness]:
    """Readiness of each ISO/IEC 42001 clause 4-10, Annex A and the EU AI Act: not ready while a
    violation is open, needs attention with warnings only, ready with neither. Findings are
    grouped as in the gaps report (`render.grouped`)."""
    groups = grouped(findings)
    out = []
    for group in CLAUSE_GROUPS:
        items = groups.get(group, [])
        out.append(Readiness(group, group_title(group), sum(f.severity == "violation" for f in items),
                             sum(f.severity == "warning" for f in items), sum(f.severity == "info" for f in items)))
    return out


def organisation_facts(analysis: Analysis) -> dict[str, str]:
    rows = rows_as_text(analysis.store.query("""
        SELECT ?name ?scope WHERE {
          ?org a aims:Organization ; rdfs:label ?name .
          OPTIONAL { ?org aims:hasManagementSystem/aims:scopeStatement ?scope }
        } ORDER BY ?name"""))
    return rows[0] if rows else {}


def _natural(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _sorted_words(text: str) -> str:
    return " ".join(sorted(text.split(), key=_natural))


# The record sections: (section id, heading, lead, column headings), filled by `records`.
RECORD_SECTIONS = (
    ("nonconformities", "Nonconformities and corrective actions",
     "Clause 10.2: each nonconformity with what it concerns, the audit that raised it, its root cause and "
     "corrective action, and its state at the as-of date (overdue: due before it and not completed).",
     ("Nonconformity", "Title", "Raised on", "Raised by audit", "Concerns", "Root cause", "Corrective action",
      "Due", "Completed on", "State")),
    ("audits", "Internal audits",
     "Clause 9.2: each internal audit with its scope, auditor, independence and the nonconformities it raised.",
     ("Audit", "Date", "Scope", "Auditor", "Independent", "Nonconformities raised")),
    ("reviews", "Management reviews",
     "Clause 9.3: each management review with its attendees (by name) and decisions.",
     ("Review", "Date", "Attendees", "Decisions")),
    ("incidents", "Incidents",
     "A.8.4 and Art 73: each incident; for a serious one the reporting limit and when it was reported.",
     ("Incident", "AI system", "Date", "Aware on", "Serious", "Kind", "Report limit", "Reported on", "Reporting")),
    ("evidence", "Evidence",
     "Clause 7.5: every evidence item with where it is kept, its date, who produced it, its freshness at the "
     "as-of date and the controls it backs.",
     ("Evidence", "Title", "Kind", "Location", "Date", "Valid until", "Freshness", "Produced by", "Controls")),
)


def _reporting(row: dict) -> str:
    if row.get("serious") != "true":
        return "not serious: no report owed"
    limit = int(row.get("limitDays") or 15)
    if row.get("delayDays"):
        days = int(row["delayDays"])
        return f"reported after {days} day{'s' * (days != 1)}, " + ("within the limit" if days <= limit else "late")
    days = int(row.get("daysUnreported") or 0)
    return f"not reported, {days} day{'s' * (days != 1)} since awareness" + (" (past the limit)" if days > limit else "")


def records(store) -> dict[str, list[tuple[str, ...]]]:
    """The rows of the record sections as the report shows them, from the named queries:
    people by name, lists sorted, states at the as-of date."""
    def rows(name: str) -> list[dict]:
        return rows_as_text(run_named(store, name))

    out = {}
    out["nonconformities"] = [
        (r["nonconformity"], r["title"], r.get("raisedOn", ""), _sorted_words(r.get("audits", "")),
         _sorted_words(r.get("refs", "")), r.get("rootCause", ""), r.get("action", ""), r.get("due", ""),
         r.get("completedOn", ""), r["state"])
        for r in sorted(rows("nonconformities"), key=lambda r: _natural(r["nonconformity"]))]
    out["audits"] = [
        (r["audit"], r["date"], _sorted_words(r.get("scope", "")), r.get("auditor", ""),
         {"true": "yes", "false": "no"}.get(r.get("independent", ""), ""), _sorted_words(r.get("findings", "")))
        for r in rows("audits")]
    out["reviews"] = [
        (r["review"], r["date"], "; ".join(sorted(filter(None, r.get("attendees", "").split("; ")))),
         "\n".join(sorted(filter(None, r.get("decisions", "").split("\n")))))
        for r in rows("management-reviews")]
    out["incidents"] = [
        (r["incident"], r.get("system", ""), r["date"], r.get("awareOn", ""), "yes" if r.get("serious") == "true" else "no",
         r.get("kind", ""), f"{r['limitDays']} days" if r.get("limitDays") else "", r.get("reportedOn", ""), _reporting(r))
        for r in rows("incidents")]
    out["evidence"] = [
        (r["evidence"], r["title"], r.get("kind", ""), r.get("location", ""), r.get("date", ""), r.get("validUntil", ""),
         r.get("freshness", "") or "unknown", r.get("producedBy", ""), _sorted_words(r.get("controls", "")))
        for r in sorted(rows("evidence-register"), key=lambda r: _natural(r["evidence"]))]
    return out


DATE_COLUMNS = {"Raised on", "Due", "Completed on", "Date", "Aware on", "Reported on", "Valid until"}
STATE_PILL = {"closed": "ready", "open": "attention", "overdue": "not-ready", "valid": "ready", "expiring": "attention",
              "expired": "not-ready", "pending": "not-ready", "unknown": "attention"}


def _record_sections(tables: dict[str, list[tuple[str, ...]]]) -> str:
    out = []
    for key, heading, lead, columns in RECORD_SECTIONS:
        rows = tables.get(key, [])
        body = []
        for row in rows:
            cells = []
            for column, value in zip(columns, row):
                if column in ("State", "Freshness") and value:
                    cells.append(f'<td><span class="pill {STATE_PILL.get(value, "")}">{_e(value)}</span></td>')
                elif column == "Decisions":
                    cells.append("<td><ul class=\"plain\">" + "".join(f"<li>{_e(d)}</li>" for d in value.split("\n") if d)
                                 + "</ul></td>")
                elif column in ("Nonconformity", "Audit", "Review", "Incident", "Evidence", "Raised by audit"):
                    cells.append(f'<td class="id">{_e(value)}</td>')
                elif column in DATE_COLUMNS:
                    cells.append(f'<td class="date">{_e(value)}</td>')
                elif column == "Location":
                    cells.append(f'<td class="loc">{_e(value)}</td>')
                else:
                    cells.append(f"<td>{_e(value)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        table = (f'<div class="wide"><table class="records {key}"><thead><tr>'
                 + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr></thead><tbody>" + "".join(body)
                 + "</tbody></table></div>") if rows else '<p class="muted">None recorded in the register.</p>'
        out.append(f'<section id="{key}"><h2>{_e(heading)}</h2><p class="lead">{_e(lead)}</p>{table}</section>')
    return "".join(out)


def input_digests(paths: list[Path]) -> list[tuple[str, str]]:
    """(file name, SHA-256 hex) of each input file; a CSV register folder gives one per file in it."""
    out = []
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            name = f"{path.name}/{file.name}" if path.is_dir() else file.name
            out.append((name, hashlib.sha256(file.read_bytes()).hexdigest()))
    return out


def _cover(analysis: Analysis, org: str, generated: datetime, inputs: list[Path], source: str) -> str:
    text = applied_text(analysis.store)
    which = {"original": "original (Regulation (EU) 2024/1689 as adopted)",
             "amended": "amended (as the shipped catalogue records the amendment)"}.get(text.get("applied", ""),
                                                                                         text.get("applied", "original"))
    how = "chosen with --ai-act-text" if text.get("choice") not in (None, "", "auto") else "the text in force at the as-of date"
    digests = input_digests(inputs) if inputs else []
    files = ("".join(f'<div class="digest"><span>{_e(name)}</span> <code>sha256:{_e(digest)}</code></div>'
                     for name, digest in digests)
             if digests else f"<div>{_e(source or 'the store')} (no digest: built from a stored analysis, not from a file)</div>")
    fields = [("Organisation", _e(org or "not recorded")),
              ("Judged as of", _e(analysis.params.as_of.isoformat())),
              ("Generated", _e(generated.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))),
              ("aimsgraph version", _e(__version__)),
              ("EU AI Act text applied", _e(f"{which}; {how}")),
              ("Input", files)]
    return '<dl class="cover">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in fields) + "</dl>"


def not_yet_applicable(store) -> dict[tuple[str, str], str]:
    """(system id, article CURIE) -> the date its obligations apply from, for those that do not
    apply yet at the as-of date (named query obligations-not-yet-applicable)."""
    return {(r["system"], r["article"]): r["appliesFrom"] for r in rows_as_text(run_named(store, "obligations-not-yet-applicable"))}


CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--brand:#2f5597;--bad:#c00000;--warn:#9a6700;--good:#38764a}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);background:#f6f7f9}
header.top{background:var(--brand);color:#fff;padding:28px 40px 22px}
header.top h1{margin:0 0 4px;font-size:24px;font-weight:600}
header.top .meta{opacity:.85;font-size:13px}
header.top .scope{margin:12px 0 0;max-width:1000px;font-size:12.5px;opacity:.9}
main{max-width:1180px;margin:0 auto;padding:8px 40px 40px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:18px 0}
h2{font-size:18px;margin:0 0 12px;color:var(--brand)}
h3{font-size:15px;margin:18px 0 8px}
p.lead{margin:0 0 12px;color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fbfbfc}
.card .n{font-size:24px;font-weight:700}
.card .l{font-size:12px;color:var(--muted)}
.card.bad .n{color:var(--bad)}.card.warn .n{color:var(--warn)}.card.good .n{color:var(--good)}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:0}
.verdict.not-ready{background:#fde8e8;color:var(--bad)}.verdict.attention{background:#fff4dc;color:var(--warn)}
.verdict.ready{background:#e3f1e7;color:var(--good)}
table{border-collapse:collapse;width:100%;font-size:13px}
th{background:#f1f3f6;text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);font-weight:600}
td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
.pill,.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:11.5px;font-weight:600;white-space:nowrap}
.pill.not-ready,.pill.violation,.badge.bad,.pill.high-risk,.pill.prohibited{background:#fde8e8;color:var(--bad)}
.pill.attention,.pill.warning,.badge.warn,.pill.limited-risk{background:#fff1d6;color:var(--warn)}
.pill.ready,.pill.info,.badge.good,.pill.minimal-risk{background:#e3f1e7;color:var(--good)}
.pill.out-of-scope{background:#eef0f3;color:var(--muted)}
.share{display:flex;align-items:center;gap:8px;font-size:12px;color:var(--muted)}
.bar{height:8px;border-radius:4px;background:#fde8e8;overflow:hidden;display:flex;flex:1;min-width:100px}
.bar span{display:block;height:100%}.bar .ok{background:#5b9f6e}.muted{color:var(--muted)}
.systems{display:grid;grid-template-columns:repeat(2,1fr);gap:14px}
.system{border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.system h3{margin:0 0 6px;display:flex;justify-content:space-between;align-items:center;gap:8px}
.system .sub{color:var(--muted);font-size:12.5px;margin-bottom:8px}
ul.obl{list-style:none;margin:0;padding:0;columns:2;font-size:12.5px}
ul.obl li{padding:1px 0}ul.obl .ok{color:var(--good)}ul.obl .no{color:var(--bad);font-weight:600}ul.obl .part{color:var(--warn)}
.finding{border-left:4px solid var(--line);padding:6px 12px;margin:8px 0;background:#fbfbfc;border-radius:0 6px 6px 0}
.finding.violation{border-color:var(--bad)}.finding.warning{border-color:#e3a008}.finding.info{border-color:var(--good)}
.finding .head{display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.finding code{background:#eef0f3;padding:0 5px;border-radius:4px;font-size:12px}
.finding .why{color:var(--muted);font-size:12.5px;margin-top:3px}
table.soa{font-size:12px}table.soa th{position:sticky;top:0;background:#f1f3f6;color:var(--ink)}
.id{white-space:nowrap}.id.expired,.id.pending{color:var(--bad);font-weight:600}.id.expiring{color:var(--warn)}
.just{display:block;max-width:340px;font-size:11.5px;color:#4b5563}
table.soa tr.gap td{background:#fdf4f4}
.figure{overflow-x:auto;border:1px solid var(--line);border-radius:8px;padding:8px;margin:8px 0 16px;background:#fff}
.figure svg{height:auto}
footer{color:var(--muted);font-size:12px;text-align:center;padding:10px 40px 30px}
dl.cover{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:14px 0 0;font-size:12.5px}
dl.cover dt{opacity:.8}dl.cover dd{margin:0}dl.cover code{font-size:11.5px;word-break:break-all}
td.date{white-space:nowrap}
dl.soa-head{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 12px;font-size:13px}
dl.soa-head dt{font-weight:600}dl.soa-head dd{margin:0}
.wide{overflow-x:auto}
table.records{font-size:12px}table.records td.loc{word-break:break-all;max-width:260px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px}
ul.plain{margin:0;padding-left:16px}
ul.obl .from{color:var(--muted);font-weight:400;font-size:11.5px;white-space:nowrap}
.figure svg{max-width:none}
@media print{@page{size:A4 landscape;margin:10mm}body{background:#fff}main{max-width:none;padding:0 6px}
section{break-inside:auto;border:none}header.top{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.wide,.figure{overflow:visible}table.soa th{position:static}thead{display:table-header-group}tr{break-inside:avoid}
.figure svg{max-width:100%}.cards{grid-template-columns:repeat(6,1fr)}}
"""


def _e(text) -> str:
    return html.escape(str(text))


def _summary(findings: list[Finding], by_clause: list[Readiness], doc: dict, soa: list[SoARow],
             summary: dict, blocking: dict) -> str:
    """`summary` is the readiness of validate.readiness; `blocking` the same judged on the
    violations alone, so a requirement open only through warnings reads "needs attention" and
    one open through a violation or a control that is not effective reads "not ready"."""
    violations = sum(f.severity == "violation" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    annex = [r for r in soa if r.origin == "annex-a"]
    missing = sum(not r.in_soa for r in annex)
    effective = sum(r.effective for r in soa)
    applicable = sum(bool(r.applicable) for r in soa)
    ineffective = applicable - effective
    high_risk = sum(s["category"] == "high-risk" for s in doc["systems"])
    stale = len({e for r in soa for e, f in r.evidence if f in ("expired", "pending")})
    cards = [
        ("bad" if violations else "good", violations, "violations"),
        ("warn" if warnings else "good", warnings, "warnings"),
        ("", len(doc["systems"]), f"AI systems ({high_risk} high-risk)"),
        ("bad" if missing else "good", f"{len(annex) - missing}/{len(annex)}", "Annex A controls in the SoA"),
        ("warn" if effective < applicable else "good", f"{effective}/{applicable}", "applicable controls effective"),
        ("bad" if stale else "good", stale, "evidence items expired or pending"),
    ]
    # Readiness counts only effective or justified-excluded controls as met (conformity.md, second
    # edition): applicable controls that are planned, partial or unevidenced block certification
    # even when no finding names them.
    overall = "not-ready" if violations or ineffective or missing else "attention" if warnings else "ready"
    blockers = []
    if violations:
        blockers.append(f"{violations} violation{'s' * (violations != 1)} must be closed")
    if ineffective:
        blockers.append(f"{ineffective} of {applicable} applicable controls are not effective "
                        "(planned, partial or without valid evidence)")
    if missing:
        blockers.append(f"{missing} Annex A control{'s' * (missing != 1)} missing from the SoA")
    verdict = {
        "not-ready": "Not ready: " + "; ".join(blockers) + ", before the certification audit.",
        "attention": f"Ready with reservations: {warnings} warning{'s' * (warnings != 1)} to address.",
        "ready": "Ready: no violations or warnings at this date, every applicable control effective.",
    }[overall]

    def whole_annex(groups: dict) -> dict:
        objectives = groups["annex_a"]
        by_id = {entry["id"]: entry for entry in groups["clauses"]}
        if objectives:  # Annex A as a whole: all its objectives' controls together
            by_id["iso42001:A"] = {"requirements": sum(e["requirements"] for e in objectives),
                                   "met": sum(e["met"] for e in objectives),
                                   "open": [r for e in objectives for r in e["open"]]}
        return by_id

    met, blocked = whole_annex(summary), whole_annex(blocking)
    objectives = summary["annex_a"]
    rows = []
    for r in by_clause:
        entry = met.get(r.group)
        # A requirement open through a violation or an ineffective control is not ready, whichever
        # clause its finding sorts under; one open only through warnings needs attention.
        status = ("not-ready" if blocked.get(r.group, {}).get("open") else
                  "attention" if r.status == "ready" and entry and entry["open"] else r.status)
        share = (f'<td>{_share_bar(entry)}</td><td>{_e(", ".join(entry["open"]) or "—")}</td>' if entry
                 else '<td colspan="2" class="muted">—</td>')
        rows.append(f'<tr><td>{_e(r.title)}</td><td>{r.violations}</td><td>{r.warnings}</td>{share}'
                    f'<td><span class="pill {status}">{STATUS_TEXT[status]}</span></td></tr>')
    share_head = '<th style="width:22%">Requirements met</th><th>Open requirements</th>'
    annex = ""
    if objectives:
        annex = ('<h3>Annex A control objectives</h3><table><thead><tr><th>Objective</th><th style="width:30%">Controls met</th>'
                 '<th>Open</th></tr></thead><tbody>'
                 + "".join(f'<tr><td>{_e(e["id"].split(":")[1])} — {_e(e["title"])}</td><td>{_share_bar(e)}</td>'
                           f'<td>{_e(", ".join(e["open"]) or "—")}</td></tr>' for e in objectives)
                 + "</tbody></table>")
    return (
        '<section id="summary"><h2>Summary and readiness</h2>'
        '<div class="cards">' + "".join(f'<div class="card {c}"><div class="n">{_e(n)}</div><div class="l">{_e(label)}</div></div>'
                                       for c, n, label in cards) + "</div>"
        f'<p class="verdict {overall}">{_e(verdict)}</p>'
        '<h3>Readiness per clause</h3><table><thead><tr><th>Requirement</th><th>Violations</th><th>Warnings</th>'
        f'{share_head}<th>Readiness</th></tr></thead><tbody>' + "".join(rows) + f"</tbody></table>{annex}</section>")


def _share_bar(entry: dict) -> str:
    """`met` of `requirements` as a bar with the numbers beside it (pipeline's readiness summary)."""
    share = 100 * entry["met"] / entry["requirements"] if entry["requirements"] else 100
    return (f'<div class="share"><div class="bar"><span class="ok" style="width:{share:.0f}%"></span></div>'
            f'<span>{entry["met"]}/{entry["requirements"]}</span></div>')


MARKS = {"covered": ("ok", "✓"), "partial": ("part", "◐"), "uncovered": ("no", "✗")}


def _classification(doc: dict, cover: dict[str, dict[str, str]], later: dict[tuple[str, str], str] | None = None) -> str:
    """`later`: (system, article) -> the date obligations not yet applicable at as-of apply from."""
    later = later or {}
    cards = []
    for s in doc["systems"]:
        basis = ", ".join(s["basis"]) or "no classification basis"
        roles = ", ".join(s["roles"]) or "no EU AI Act role recorded"
        if s.get("role_basis"):
            roles += " (" + "; ".join(f"{role} by {', '.join(why)}" for role, why in s["role_basis"].items()) + ")"
        obligations = cover.get(s["id"], {})
        states = list(obligations.values())
        items = "".join(
            f'<li class="{MARKS[obligations.get(a, "uncovered")][0]}" title="{_e(catalogue_title(a))}">'
            f'{MARKS[obligations.get(a, "uncovered")][1]} {_e(a)} {_e(catalogue_title(a))}'
            + (f' <span class="from">applies from {_e(later[s["id"], a])}</span>' if (s["id"], a) in later else "")
            + "</li>" for a in s["obligations"])
        gpai = " · general-purpose AI model" if s["gpai"] else ""
        partial = f', {states.count("partial")} only partially (crosswalk rows that do not discharge them)' \
            if states.count("partial") else ""
        limited = (f'<div class="sub">Limited by {_e(", ".join(s["scope_limited_by"]))}: only Art 6(1), 102-109 and 112 '
                   f'apply; excluded: {_e(", ".join(s["excluded_obligations"]) or "none")}</div>'
                   if s.get("scope_limited_by") else "")
        body = (f'<div class="sub">{_e(basis)} · as {_e(roles)}{gpai}</div>{limited}'
                + (f'<div class="sub">{states.count("covered")} of {len(states)} obligations covered by an effective '
                   f'control{partial}</div>'
                   f'<ul class="obl">{items}</ul>' if s["obligations"] else '<div class="sub">No EU AI Act obligations derived.</div>'))
        cards.append(f'<div class="system"><h3><span>{_e(s["id"])}</span>'
                     f'<span class="pill {_e(s["category"])}">{_e(s["category"])}</span></h3>{body}</div>')
    return ('<section id="classification"><h2>EU AI Act classification</h2>'
            '<p class="lead">Category, basis and operator roles as derived by the rules; each obligation is ticked when an '
            'effective control discharges it (◐: only crosswalk rows that do not discharge it cover it in part); '
            '"applies from" marks obligations that do not apply yet at the as-of date (Art 113).</p>'
            f'<div class="systems">{"".join(cards)}</div></section>')


def _affects(graph: nx.DiGraph, focus: str) -> str:
    """What a finding's focus takes down with it, read from the trace graph."""
    if focus not in graph:
        return ""
    kind = graph.nodes[focus]["kind"]
    if kind in ("control", "evidence"):
        hit = impact(graph, focus)
        parts = [f"{name}: {', '.join(values)}" for name, values in
                 (("risks", hit.risks), ("systems", hit.systems), ("articles", hit.articles)) if values]
        return "Affects " + "; ".join(parts) + "." if parts else ""
    if kind == "risk":
        systems = [p for p in graph.predecessors(focus) if graph.nodes[p]["kind"] == "system"]
        return f"Risk of {', '.join(sorted(systems))}: {graph.nodes[focus]['label']}" if systems else ""
    return ""


def _findings(findings: list[Finding], graph: nx.DiGraph) -> str:
    if not findings:
        return '<section id="findings"><h2>Findings</h2><p class="verdict ready">No findings at this date.</p></section>'
    out = ['<section id="findings"><h2>Findings by clause</h2>'
           '<p class="lead">Each finding names the rule that raised it, the entry it is about, the requirements it '
           'rests on and, where the trace graph knows, what it affects.</p>']
    for group, items in grouped(findings).items():
        out.append(f"<h3>{_e(group_title(group))}</h3>")
        for f in items:
            refs = "; ".join(f"{_e(r)} {_e(catalogue_title(r))}".strip() for r in f.refs)
            affects = _affects(graph, f.focus)
            out.append(f'<div class="finding {f.severity}"><div class="head"><span class="pill {f.severity}">{f.severity}</span>'
                       f"<code>{_e(f.rule)}</code><strong>{_e(f.focus)}</strong></div>"
                       f"<div>{_e(f.message)}</div><div class=\"why\">Requirements: {refs}</div>"
                       + (f'<div class="why">{_e(affects)}</div>' if affects else "") + "</div>")
    out.append("</section>")
    return "".join(out)


CHAIN_RELATIONS = {"has-component", "has-risk", "treated-by", "uses-control", "evidenced-by"}


def system_risk_graph(graph: nx.DiGraph, system: str) -> nx.DiGraph:
    """A system's risk -> treatment -> control -> evidence chains (its components' too),
    without the obligation and clause branches, for the report's pictures."""
    view = nx.subgraph_view(graph, filter_edge=lambda u, v: graph.edges[u, v]["relation"] in CHAIN_RELATIONS)
    return view.subgraph({system} | nx.descendants(view, system)).copy()


def _pictures(graph: nx.DiGraph, doc: dict) -> str:
    out = ['<section id="trace"><h2>Risk → control → evidence, per AI system</h2>'
           '<p class="lead">Boxes in red are gaps: evidence expired or pending, controls not effective. '
           'Run <code>aimsgraph trace REGISTER ID</code> for any entry.</p>']
    for s in doc["systems"]:
        sub = system_risk_graph(graph, s["id"]) if s["id"] in graph else nx.DiGraph()
        out.append(f"<h3>{_e(s['id'])}</h3>")
        if sub.number_of_nodes() <= 1:
            out.append('<p class="lead">No risks recorded for this system.</p>')
            continue
        out.append(f'<div class="figure">{to_svg(sub, id_prefix="fig-" + s["id"])}</div>')
    out.append("</section>")
    return "".join(out)


def report_html(analysis: Analysis, source: str = "", inputs: list[Path] | None = None,
                generated: datetime | None = None) -> str:
    """The whole report as one HTML document. `inputs` are the register file(s) read, whose
    SHA-256 the cover gives; `generated` the time printed on it (default: now)."""
    findings = analysis.validation.findings
    doc = classify(analysis.store)
    cover = obligation_cover(analysis.store)
    soa = soa_rows(analysis.store)
    graph = trace_graph(analysis.store)
    facts = organisation_facts(analysis)
    org = facts.get("name", "")
    as_of = analysis.params.as_of.isoformat()
    generated = generated or datetime.now(timezone.utc)
    scope = f'<p class="scope"><strong>AIMS scope:</strong> {_e(facts["scope"])}</p>' if facts.get("scope") else ""
    soa_section = ('<section id="soa"><h2>Statement of Applicability</h2>'
                   f"{soa_header_html(soa_header(analysis.store, analysis.params.as_of))}"
                   '<p class="lead">Every ISO/IEC 42001 Annex A control (MISSING: no row in the register), then the '
                   "organisation's own controls; owners by name, evidence freshness at the as-of date.</p>"
                   f'<div class="wide">{soa_table_html(soa)}</div></section>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(f'AIMS audit report {org} {as_of}'.strip())}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>AI management system audit report</h1>'
        f'<div class="meta">{_e(org)} · ISO/IEC 42001:2023 and EU AI Act (Regulation (EU) 2024/1689) · '
        f"judged as of {as_of}</div>"
        f'<div class="meta">{_e(text_line(applied_text(analysis.store)))}</div>{scope}'
        f"{_cover(analysis, org, generated, list(inputs or []), source)}</header><main>"
        + _summary(findings, readiness_by_clause(findings), doc, soa, readiness(analysis.store, findings),
                   readiness(analysis.store, [f for f in findings if f.severity == "violation"]))
        + _classification(doc, cover, not_yet_applicable(analysis.store))
        + _findings(findings, graph)
        + soa_section
        + _record_sections(records(analysis.store))
        + _pictures(graph, doc)
        + "</main>"
        f"<footer>Generated by aimsgraph {_e(__version__)}"
        + (f" from {_e(source)}" if source else "")
        + f" on {_e(generated.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}"
        + ". ISO/IEC 42001 clause and control titles only; summaries are aimsgraph's own words.</footer>"
        "</body></html>\n")


def write_report(analysis: Analysis, path: Path, source: str = "", inputs: list[Path] | None = None,
                 generated: datetime | None = None) -> None:
    path.write_text(report_html(analysis, source, inputs, generated), encoding="utf-8")
