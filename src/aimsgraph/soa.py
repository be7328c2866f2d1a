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
    owner: str  # register id of the person
    effective: bool
    risks: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (evidence id, freshness)
    owner_name: str = ""  # that person's name, shown instead of the id

    @property
    def freshness(self) -> str:
        """The worst freshness of the control's evidence, or "none"."""
        states = {f for _, f in self.evidence}
        return next((s for s in FRESHNESS_ORDER if s in states), "none")

    def cells(self) -> list:
        return [self.control, self.title, "Annex A" if self.origin == "annex-a" else "Organisation",
                "yes" if self.in_soa else "MISSING",
                "" if self.applicable is None else ("yes" if self.applicable else "no"),
                self.justification, self.status, self.owner_name or self.owner,
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
            evidence=tuple(evidence), owner_name=row.get("ownerName", "")))
    return sorted(rows, key=lambda r: (r.origin != "annex-a", _natural(r.control)))


@dataclass(frozen=True)
class SoAHeader:
    """What every SoA format says above its rows: whose SoA, which version, who approved it and
    when, the date it is judged at and the text of the EU AI Act applied."""

    organisation: str
    as_of: date
    version: str = ""
    approved_by: str = ""  # the approver's name
    approved_on: str = ""
    act_text: str = ""  # e.g. "Regulation (EU) 2024/1689 as adopted (2024 text) (in force at the as-of date)"

    @property
    def title(self) -> str:
        return f"Statement of Applicability {self.organisation}".strip()

    def fields(self) -> list[tuple[str, str]]:
        """(label, value) in print order; unknown values say so instead of vanishing."""
        return [("Organisation", self.organisation or "not recorded"),
                ("Version", self.version or "not recorded (aims.soa_version)"),
                ("Approved by", self.approved_by or "not recorded (aims.soa_approved_by)"),
                ("Approved on", self.approved_on or "not recorded (aims.soa_approved_on)"),
                ("As of", self.as_of.isoformat()),
                ("EU AI Act text", self.act_text or "Regulation (EU) 2024/1689")]


def soa_header(store: Store, as_of: date) -> SoAHeader:
    """The header of the register's SoA: the organisation's name and the aims section's
    soa_version, soa_approved_by (as a name) and soa_approved_on."""
    from .acttext import applied_text
    from .render import text_line

    rows = rows_as_text(store.query("""
        SELECT ?name ?version ?approver ?approvedOn WHERE {
          ?org a aims:Organization ; rdfs:label ?name .
          OPTIONAL { ?org aims:hasManagementSystem ?aims .
                     OPTIONAL { ?aims aims:soaVersion ?version }
                     OPTIONAL { ?aims aims:soaApprovedBy ?person . ?person rdfs:label ?approver }
                     OPTIONAL { ?aims aims:soaApprovedOn ?approvedOn } }
        } ORDER BY ?name"""))
    row = rows[0] if rows else {}
    return SoAHeader(row.get("name", ""), as_of, row.get("version", ""), row.get("approver", ""),
                     row.get("approvedOn", ""), text_line(applied_text(store)).removeprefix("EU AI Act text: "))


def soa_csv(rows: list[SoARow], header: SoAHeader | None = None) -> str:
    """The SoA as CSV: with a header, its fields first as label,value rows and an empty row,
    then the table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(["Statement of Applicability", header.organisation])
        writer.writerows(header.fields()[1:])
        writer.writerow([])
    writer.writerow(HEADERS)
    for row in rows:
        writer.writerow(row.cells())
    return buffer.getvalue()


def write_xlsx(rows: list[SoARow], path: Path, header: SoAHeader) -> None:
    """One sheet, "Statement of Applicability": the header's fields above the table, the table's
    header row frozen, filterable and repeated on every printed page, missing rows and stale
    evidence highlighted; printed landscape, fitted to the page width, with the title, version
    and as-of date in the page header and page numbers in the footer."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
    except ImportError as exc:
        raise AimsGraphError("XLSX export needs openpyxl: pip install 'aimsgraph[reports]'") from exc
    book = Workbook()
    sheet = book.active
    sheet.title = "Statement of Applicability"
    sheet.append([header.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in header.fields()[1:]:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    first = sheet.max_row + 2  # the table's header row, below an empty one
    sheet.append([])
    sheet.append(list(HEADERS))
    bold, red = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="FDE8E8")
    for cell in sheet[first]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="2F5597")
    for row in rows:
        sheet.append(row.cells())
        if not row.in_soa or row.freshness in ("expired", "pending") or (row.applicable and not row.effective):
            for cell in sheet[sheet.max_row]:
                cell.fill = red
    for column, width in zip("ABCDEFGHIJKL", (12, 44, 13, 9, 11, 50, 15, 16, 10, 22, 30, 12)):
        sheet.column_dimensions[column].width = width
    for cells in sheet.iter_rows(min_row=first + 1):
        for cell in cells:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = f"A{first + 1}"
    sheet.auto_filter.ref = f"A{first}:L{sheet.max_row}"
    # print: landscape A4, all columns on one page wide, the table's header row on every page
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{first}:{first}"
    sheet.print_options.gridLines = True
    sheet.oddHeader.left.text = header.title
    sheet.oddHeader.center.text = f"Version {header.version}" if header.version else ""
    sheet.oddHeader.right.text = f"As of {header.as_of.isoformat()}"
    sheet.oddFooter.left.text = (f"Approved by {header.approved_by}" + (f" on {header.approved_on}" if header.approved_on else "")
                                 if header.approved_by else "")
    sheet.oddFooter.right.text = "Page &P of &N"
    book.properties.title = header.title
    book.properties.description = (f"As of {header.as_of.isoformat()}; {'EU AI Act text: ' + header.act_text + '; ' if header.act_text else ''}"
                                   "generated by aimsgraph")
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
.id.expiring{color:#9a6700}.just{display:block;max-width:340px;font-size:11.5px;color:#4b5563}.badge.good{background:#e3f1e7;color:#38764a}.badge.warn{background:#fff1d6;color:#9a6700}
dl.soa-head{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 14px}dl.soa-head dt{font-weight:600}dl.soa-head dd{margin:0}
@media print{@page{size:A4 landscape;margin:12mm}body{margin:0}table.soa th{position:static}thead{display:table-header-group}tr{break-inside:avoid}}"""


def soa_header_html(header: SoAHeader) -> str:
    """The header's fields as a definition list (the SoA page and the report's SoA section)."""
    return ('<dl class="soa-head">' + "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>"
                                              for label, value in header.fields()) + "</dl>")


def soa_page_html(rows: list[SoARow], header: SoAHeader) -> str:
    title = html.escape(header.title)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{SOA_PAGE_CSS}</style></head><body><h1>{title}</h1>\n{soa_header_html(header)}\n"
            f"<p>Rows in red need attention: missing from the SoA, "
            f"evidence expired or pending, or applicable but not effective.</p>\n"
            f"{soa_table_html(rows)}\n</body></html>\n")


def export_soa(store: Store, path: Path, fmt: str, as_of: date) -> list[SoARow]:
    """Write the SoA to `path` as csv, xlsx or html, header included; returns the rows written."""
    rows = soa_rows(store)
    header = soa_header(store, as_of)
    if fmt == "csv":
        path.write_text(soa_csv(rows, header), encoding="utf-8")
    elif fmt == "xlsx":
        write_xlsx(rows, path, header)
    elif fmt == "html":
        path.write_text(soa_page_html(rows, header), encoding="utf-8")
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
