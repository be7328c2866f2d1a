"""The evidence package for an auditor: one zip with the HTML report, the Statement of
Applicability (CSV, XLSX, HTML), the OSCAL assessment results and catalog, and `manifest.json`
listing every evidence item of the register (what it evidences, where it is, its date, who
produced it, its freshness at the as-of date) and the SHA-256 of each file in the package.

An evidence item whose location is a relative path to a file inside the register's folder is
hashed (SHA-256). Nothing else is: a location with a URL scheme (https:, dms:, git:, file: …) is
never fetched or opened, and a path that leaves the register's folder (an absolute path, `..`,
a symbolic link pointing out) is refused, so a register cannot make the package read a file
elsewhere on the machine. `local_file` in the manifest says which case applies.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .oscal import (
    CATALOG_FILE,
    ExportError,
    catalog_json,
    organisation,
    results_json,
    writable,
)
from .query import rows_as_text
from .store import Store

RESULTS_FILE = "oscal-assessment-results.json"
MEMBERS = ("manifest.json", "report.html", "soa.csv", "soa.xlsx", "soa.html", RESULTS_FILE, CATALOG_FILE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
CHUNK = 1 << 20

# local_file values
HASHED, NOT_A_PATH, MISSING, OUTSIDE, NO_FOLDER = "hashed", "url", "missing", "outside-register", "no-register-folder"


@dataclass(frozen=True)
class EvidenceItem:
    id: str
    title: str
    kind: str
    evidences: tuple[str, ...]  # the controls whose SoA row cites it (Annex A notation or own id)
    location: str
    date: str
    valid_until: str
    produced_by: str
    freshness: str  # valid | expiring | expired | pending at the as-of date, or unknown


def _natural(text: str) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def evidence_items(store: Store) -> list[EvidenceItem]:
    """Every evidence item of the register with its freshness at the analysis' as-of date."""
    rows = rows_as_text(store.query("""
        SELECT ?id ?title ?kind ?location ?date ?valid_until ?producer ?freshness ?control WHERE {
          ?e a aims:Evidence ; aims:registerId ?id .
          OPTIONAL { ?e rdfs:label ?title }
          OPTIONAL { ?e aims:evidenceKind ?kind }
          OPTIONAL { ?e aims:location ?location }
          OPTIONAL { ?e aims:date ?date }
          OPTIONAL { ?e aims:validUntil ?valid_until }
          OPTIONAL { ?e aims:producedBy/aims:registerId ?producer }
          OPTIONAL { ?e aims:evidenceStatus ?status }
          OPTIONAL {
            ?row a aims:SoAEntry ; aims:hasEvidence ?e ; aims:forControl ?c .
            OPTIONAL { ?c skos:notation ?notation }
            OPTIONAL { ?c aims:registerId ?own }
            BIND (COALESCE(?own, ?notation) AS ?control)
          }
          BIND (COALESCE(STRAFTER(STR(?status), "#evidence-"), "unknown") AS ?freshness)
        }"""))
    items: dict[str, dict] = {}
    for row in rows:
        item = items.setdefault(row["id"], {**{k: row.get(k, "") for k in (
            "title", "kind", "location", "date", "valid_until", "freshness")},
            "produced_by": row.get("producer", ""), "evidences": set()})
        if row.get("control"):
            item["evidences"].add(row["control"])
    return [EvidenceItem(ident, d["title"], d["kind"], tuple(sorted(d["evidences"], key=_natural)), d["location"],
                         d["date"], d["valid_until"], d["produced_by"], d["freshness"])
            for ident, d in sorted(items.items(), key=lambda kv: _natural(kv[0]))]


def register_folder(register: Path | None) -> Path | None:
    """The folder evidence paths are relative to: a register file's folder, or a CSV register's
    folder itself; None without a register (a persistent store)."""
    if register is None:
        return None
    return register if register.is_dir() else register.parent


def local_file(location: str, folder: Path | None) -> tuple[str, Path | None]:
    """(local_file value, the file to hash or None) for an evidence location."""
    if not location or (_SCHEME.match(location) and not _DRIVE.match(location)):
        return NOT_A_PATH, None
    if folder is None:
        return NO_FOLDER, None
    relative = Path(location)
    if relative.is_absolute() or _DRIVE.match(location) or location.startswith(("/", "\\")):
        return OUTSIDE, None
    root = folder.resolve()
    try:
        target = (root / relative).resolve()  # symbolic links are followed here, then checked
    except (OSError, RuntimeError):
        return MISSING, None
    if not target.is_relative_to(root):
        return OUTSIDE, None
    return (HASHED, target) if target.is_file() else (MISSING, None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_entries(store: Store, folder: Path | None) -> list[dict]:
    out = []
    for item in evidence_items(store):
        state, path = local_file(item.location, folder)
        sha = None
        if path is not None:
            try:
                sha = sha256_file(path)
            except OSError:
                state = MISSING
        entry = asdict(item)
        entry["evidences"] = list(item.evidences)
        out.append({**entry, "sha256": sha, "local_file": state})
    return out


def manifest(analysis, register: Path | None, files: dict[str, bytes]) -> dict:
    from .acttext import applied_text

    org_id, org_name = organisation(analysis.store)
    return {
        "generator": f"aimsgraph {__version__}",
        "as_of": analysis.params.as_of.isoformat(),
        "organisation": {"id": org_id, "name": org_name},
        "register": register.name if register is not None else None,
        "ai_act_text": applied_text(analysis.store),
        "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()],
        "evidence": manifest_entries(analysis.store, register_folder(register)),
    }


def pack_files(analysis, register: Path | None) -> dict[str, bytes]:
    """Every member of the package, by name, manifest first. The report and the SoA files are
    what the `report` and `soa` commands write (through the same functions)."""
    from .report import write_report
    from .soa import export_soa

    source = register.name if register is not None else "the store"
    as_of = analysis.params.as_of
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="aimsgraph-pack-") as work:
        folder = Path(work)
        # the report's generation time is the as-of date, as for the workbook: same analysis, same package
        write_report(analysis, folder / "report.html", source, [register] if register is not None else [],
                     generated=datetime.combine(as_of, datetime.min.time(), timezone.utc))
        for fmt in ("csv", "xlsx", "html"):
            export_soa(analysis.store, folder / f"soa.{fmt}", fmt, as_of)
        for name in ("report.html", "soa.csv", "soa.xlsx", "soa.html"):
            files[name] = (folder / name).read_bytes()
    files["soa.xlsx"] = reproducible_xlsx(files["soa.xlsx"], as_of)
    files[RESULTS_FILE] = results_json(analysis, source, CATALOG_FILE).encode("utf-8")
    files[CATALOG_FILE] = catalog_json().encode("utf-8")
    text = json.dumps(manifest(analysis, register, files), indent=2, ensure_ascii=False) + "\n"
    return {"manifest.json": text.encode("utf-8"), **files}


_XLSX_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def reproducible_xlsx(data: bytes, as_of) -> bytes:
    """The workbook with the as-of date in place of the time it was written (its zip entries'
    times and its created/modified properties), so the same analysis gives the same package."""
    stamp = as_of.timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "docProps/core.xml":
                body = _XLSX_STAMP.sub(rb"\g<1>" + as_of.isoformat().encode() + rb"T00:00:00Z\g<2>", body)
            target.writestr(zipfile.ZipInfo(info.filename, date_time=stamp), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_pack(analysis, output: Path, register: Path | None = None) -> list[str]:
    """Write the evidence package to `output` (a zip); returns its member names."""
    writable(output, "evidence package")
    files = pack_files(analysis, register)
    stamp = analysis.params.as_of.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    try:
        output.write_bytes(buffer.getvalue())
    except OSError as exc:
        raise ExportError(f"{output}: cannot write the evidence package ({exc.strerror or exc})") from None
    return list(files)
