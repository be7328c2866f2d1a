"""Statement of Applicability export (ISO/IEC 42001 6.1.3 d): every Annex A control, flagged
when the register has no row for it, then the organisation's own controls, with applicability,
justification, status, owner, linked risks and evidence with its freshness at the as-of date.

The rows come from the one named query `statement-of-applicability`; this module only sorts
and formats them as CSV, XLSX (openpyxl, extra `reports`) or HTML.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .errors import AimsGraphError
from .query import rows_as_text, run_named
from .store import Store

# Worst first: the freshness of a control's evidence as a whole is that of its worst item.
FRESHNESS_ORDER = ("expired", "pending", "unknown", "expiring", "valid")
HEADERS = ("Control", "Title", "Origin", "In SoA", "Applicable", "Justification", "Status", "Owner",
           "Effective", "Linked risks", "Evidence", "Evidence freshness")


def _natural(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class SoARow:
    control: str  # notation or register id, e.g. A.7.4 or FS-FAIR-01
    title: str
    origin: str  # annex-a | organisation
    in_soa: bool
    applicable: bool | None
    justification: str
    status: str
    owner: str
    effective: bool
    risks: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (evidence id, freshness)

    @property
    def freshness(self) -> str:
        """The worst freshness of the control's evidence, or "none"."""
        states = {f for _, f in self.evidence}
        return next((s for s in FRESHNESS_ORDER if s in states), "none")

    def cells(self) -> list:
        return [self.control, self.title, "Annex A" if self.origin == "annex-a" else "Organisation",
                "yes" if self.in_soa else "MISSING",
                "" if self.applicable is None else ("yes" if self.applicable else "no"),
                self.justification, self.status, self.owner,
                "n/a" if self.applicable is False else ("yes" if self.effective else "no"),
                " ".join(self.risks), " ".join(f"{e} ({f})" for e, f in self.evidence),
                self.freshness]


def soa_rows(store: Store) -> list[SoARow]:
    """Annex A controls in catalogue order (A.2.2 ... A.10.4), then the organisation's controls."""
    rows = []
    for row in rows_as_text(run_named(store, "statement-of-applicability")):
        evidence = sorted((tuple(item.split("=", 1)) for item in row.get("evidence", "").split()),
                          key=lambda pair: _natural(pair[0]))
        applicable = row.get("applicable")
        rows.append(SoARow(
            control=row["notation"], title=row.get("title", ""), origin=row["origin"],
            in_soa=row["inSoA"] == "true", applicable=None if applicable is None else applicable == "true",
            justification=row.get("justification", ""), status=row.get("status", ""), owner=row.get("owner", ""),
            effective=row["effective"] == "true", risks=tuple(sorted(row.get("risks", "").split(), key=_natural)),
            evidence=tuple(evidence)))
    return sorted(rows, key=lambda r: (r.origin != "annex-a", _natural(r.control)))


def soa_csv(rows: list[SoARow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow(row.cells())
    return buffer.getvalue()


def write_xlsx(rows: list[SoARow], path: Path, as_of: date, organisation: str = "", act_text: str = "") -> None:
    """One sheet, "Statement of Applicability": header row frozen and filterable, missing rows
    and stale evidence highlighted."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
    except ImportError as exc:
        raise AimsGraphError("XLSX export needs openpyxl: pip install 'aimsgraph[reports]'") from exc
    book = Workbook()
    sheet = book.active
    sheet.title = "Statement of Applicability"
    sheet.append(list(HEADERS))
    bold, red = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="FDE8E8")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="2F5597")
    for row in rows:
        sheet.append(row.cells())
        if not row.in_soa or row.freshness in ("expired", "pending") or (row.applicable and not row.effective):
            for cell in sheet[sheet.max_row]:
                cell.fill = red
    for column, width in zip("ABCDEFGHIJKL", (12, 44, 13, 9, 11, 50, 15, 16, 10, 22, 30, 12)):
        sheet.column_dimensions[column].width = width
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.properties.title = f"Statement of Applicability {organisation}".strip()
    book.properties.description = f"As of {as_of.isoformat()}; {act_text + '; ' if act_text else ''}generated by aimsgraph"
    book.save(path)


def soa_table_html(rows: list[SoARow]) -> str:
    """The SoA as an HTML table (no page around it), for the auditor's report and `soa --format html`."""
    out = ['<table class="soa"><thead><tr>' + "".join(f"<th>{h}</th>" for h in HEADERS if h != "Origin")
           + "</tr></thead><tbody>"]
    for row in rows:
        cells = row.cells()
        del cells[2]  # origin: the section rows say it
        gap = not row.in_soa or row.freshness in ("expired", "pending") or (row.applicable and not row.effective)
        css = ' class="gap"' if gap else ""
        tds = []
        for header, value in zip([h for h in HEADERS if h != "Origin"], cells):
            text = html.escape(str(value))
            if header == "Linked risks":
                text = " ".join(f'<span class="id">{html.escape(r)}</span>' for r in row.risks)
            elif header == "Evidence":
                text = " ".join(f'<span class="id {f}" title="{f}">{html.escape(e)}</span>' for e, f in row.evidence)
            elif header == "Justification" and value:
                text = f'<span class="just">{text}</span>'
            elif header in ("In SoA", "Evidence freshness") and value in ("MISSING", "expired", "pending"):
                text = f'<span class="badge bad">{text}</span>'
            elif header == "Effective" and value != "n/a":
                text = f'<span class="badge {"good" if value == "yes" else "warn"}">{text}</span>'
            tds.append(f"<td>{text}</td>")
        out.append(f"<tr{css}>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


SOA_PAGE_CSS = """body{font:13px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2937;margin:24px}
table.soa{border-collapse:collapse;width:100%}table.soa th{background:#2f5597;color:#fff;text-align:left;padding:6px;
position:sticky;top:0}table.soa td{border-bottom:1px solid #e5e7eb;padding:5px 6px;vertical-align:top}
tr.gap td{background:#fdf2f2}.badge{border-radius:9px;padding:1px 7px;font-size:11px;font-weight:600}
.badge.bad{background:#c00000;color:#fff}table.soa{font-size:12px}.id{white-space:nowrap}.id.expired,.id.pending{color:#c00000;font-weight:600}
.id.expiring{color:#9a6700}.just{display:block;max-width:340px;font-size:11.5px;color:#4b5563}.badge.good{background:#e3f1e7;color:#38764a}.badge.warn{background:#fff1d6;color:#9a6700}"""


def soa_page_html(rows: list[SoARow], as_of: date, organisation: str = "", act_text: str = "") -> str:
    title = html.escape(f"Statement of Applicability {organisation}".strip())
    text = f" {html.escape(act_text)}." if act_text else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{SOA_PAGE_CSS}</style></head><body><h1>{title}</h1>"
            f"<p>As of {as_of.isoformat()}.{text} Rows in red need attention: missing from the SoA, "
            f"evidence expired or pending, or applicable but not effective.</p>\n"
            f"{soa_table_html(rows)}\n</body></html>\n")


def export_soa(store: Store, path: Path, fmt: str, as_of: date, organisation: str = "") -> list[SoARow]:
    """Write the SoA to `path` as csv, xlsx or html; returns the rows written."""
    from .acttext import applied_text
    from .render import text_line

    rows = soa_rows(store)
    act_text = text_line(applied_text(store))  # the SoA itself is ISO/IEC 42001; its obligations' text is named
    if fmt == "csv":
        path.write_text(soa_csv(rows), encoding="utf-8")
    elif fmt == "xlsx":
        write_xlsx(rows, path, as_of, organisation, act_text)
    elif fmt == "html":
        path.write_text(soa_page_html(rows, as_of, organisation, act_text), encoding="utf-8")
    else:
        raise AimsGraphError(f"unknown SoA format '{fmt}' (choose csv, xlsx or html)")
    return rows


# --- a drafted SoA: proposed rows for the Annex A controls the register leaves out ------------

RELATIONSHIP_TEXT = {"aims:intersectsWith": "intersects-with", "aims:subsetOf": "subset-of",
                     "aims:supersetOf": "superset-of", "aims:equivalentTo": "equivalent-to"}


@dataclass(frozen=True)
class DraftEntry:
    """A proposed SoA row for an Annex A control without one, with the reasons it rests on."""

    control: str  # notation, e.g. A.7.3
    title: str
    applicable: bool
    reasons: tuple[str, ...]  # one line per basis, each naming the ids it rests on
    justification: str

    def as_register(self) -> dict:
        """The row under the register's keys (register.md, `controls`)."""
        row: dict = {"id": self.control, "applicable": self.applicable}
        if self.applicable:
            row["status"] = "planned"
        row["justification"] = self.justification
        return row


def _in_scope_stages(store: Store) -> list[tuple[str, str]]:
    """(system id, life cycle stage) of every AI system in the AIMS scope, sorted."""
    rows = rows_as_text(store.query("""
        SELECT ?system ?stage WHERE {
          ?node a aims:InScopeSystem ; aims:registerId ?system .
          OPTIONAL { ?node aims:lifecycleStage/skos:notation ?stage }
        }"""))
    return sorted((r["system"], r.get("stage", "")) for r in rows)


STAGE_ORDER = ("inception", "design-development", "verification-validation", "deployment", "operation", "retirement")


def _control_stages(store: Store) -> dict[str, list[str]]:
    """Annex A control notation -> the life cycle stages the catalogue says it concerns
    (aims:concernsStage), in life cycle order."""
    out: dict[str, set[str]] = {}
    for row in rows_as_text(store.query("""
            SELECT ?notation ?stage WHERE {
              ?control a aims:AnnexAControl ; skos:notation ?notation ; aims:concernsStage/skos:notation ?stage .
            }""")):
        out.setdefault(row["notation"], set()).add(row["stage"])
    return {k: [s for s in STAGE_ORDER if s in v] for k, v in out.items()}


def _pairs(items) -> str:
    return ", ".join(f"{system} ({stage})" for system, stage in items)


def draft_soa(store: Store) -> list[DraftEntry]:
    """For each Annex A control without an SoA row, in catalogue order, a proposed row: applicable
    when a risk treatment names it, when a crosswalk row from it reaches an obligation of an AI
    system in scope, or when an AI system in scope is in a life cycle stage it concerns (a control
    naming no stage concerns them all); else not applicable. The reasons come from the named query
    `soa-draft-basis`; controls with a row are never proposed."""
    missing = [r for r in soa_rows(store) if r.origin == "annex-a" and not r.in_soa]
    basis: dict[str, dict[str, list[dict]]] = {}
    for row in rows_as_text(run_named(store, "soa-draft-basis")):
        basis.setdefault(row["notation"], {}).setdefault(row["basis"], []).append(row)
    in_scope = _in_scope_stages(store)
    concerned = _control_stages(store)
    out = []
    for control in missing:
        found = basis.get(control.control, {})
        reasons = []
        if found.get("treatment"):
            reasons.append("risk treatments name it: " + ", ".join(
                f"{r['ref']} ({r['system']}" + (f", risk source {r['detail']})" if r.get("detail") else ")")
                for r in sorted(found["treatment"], key=lambda r: _natural(r["ref"]))))
        if found.get("obligation"):
            by_system: dict[tuple[str, str], list[str]] = {}
            kinds = set()
            for r in found["obligation"]:
                category, _, role = r.get("detail", "").partition("/")
                by_system.setdefault((r["system"], ", ".join(p for p in (category, role) if p)), []).append(r["ref"])
                kinds.add(RELATIONSHIP_TEXT.get(r.get("relationship", ""), r.get("relationship", "")))
            reasons.append(f"through the crosswalk ({', '.join(sorted(kinds))}) it bears on obligations of AI systems "
                           "in scope: " + "; ".join(
                               f"{system} ({what}): {', '.join(sorted(set(refs), key=_natural))}"
                               for (system, what), refs in sorted(by_system.items())))
        if found.get("stage"):
            reasons.append("AI systems in scope are in a life cycle stage it concerns: "
                           + _pairs(sorted((r["system"], r["ref"]) for r in found["stage"])))
        if found.get("lifecycle"):
            reasons.append("it concerns the whole life cycle and the management system, and AI systems are in "
                           "scope: " + _pairs(sorted((r["system"], r["ref"]) for r in found["lifecycle"])))
        if reasons:
            justification = "Proposed applicable: " + "; ".join(reasons) + "."
            out.append(DraftEntry(control.control, control.title, True, tuple(reasons), justification))
            continue
        stages = concerned.get(control.control, [])
        where = (f"no AI system in scope is in a life cycle stage it concerns ({', '.join(stages)})" if stages
                 else "no AI system is in the AIMS scope")
        reasons = ["no risk treatment names it",
                   "no crosswalk row from it reaches an obligation of an AI system in scope",
                   where + (f"; in scope: {_pairs(in_scope)}" if in_scope else "")]
        justification = ("Proposed not applicable: no risk treatment names it, no crosswalk row from it reaches an "
                         f"obligation of an AI system in scope, and {reasons[2]}.")
        out.append(DraftEntry(control.control, control.title, False, tuple(reasons), justification))
    return out


def draft_yaml(entries: list[DraftEntry], as_of: date, source: str = "") -> str:
    """The drafted rows as YAML under the register's `controls` key, each with a comment giving
    its reasons: paste the entries under `controls:` in the register and review them."""
    import json

    from . import __version__

    lines = [f"# Statement of Applicability drafted by aimsgraph {__version__}"
             + (f" from {source}" if source else "") + f" at {as_of.isoformat()}.",
             f"# {len(entries)} Annex A control{'s' * (len(entries) != 1)} without a row in the register's SoA, "
             "each proposed with the reasons it rests on.",
             "# Rows the register has are left out. Review each entry, set status, owner and evidence, then paste",
             "# the entries under `controls:` in the register."]
    if not entries:
        return "\n".join(lines) + "\ncontrols: []\n"
    lines.append("controls:")
    for entry in entries:
        lines.append(f"  # {entry.control} {entry.title}: proposed "
                     + ("applicable (status planned until you record what is in place)" if entry.applicable
                        else "not applicable"))
        lines += [f"  #   - {reason}" for reason in entry.reasons]
        row = entry.as_register()
        lines.append(f"  - id: {row.pop('id')}")
        for key, value in row.items():  # JSON strings and booleans are YAML scalars too
            lines.append(f"    {key}: {value if key == 'status' else json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
