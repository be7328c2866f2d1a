"""HTML documentation of the shipped ontology and catalogues, written without any network access.

The ontology page comes from pyLODE (OntPub profile); the catalogue and crosswalk pages are
tables built from SPARQL over the shipped graph, one page per SKOS concept scheme. Before
writing, the metadata shapes in `shapes/metadata/` are run over the ontology and catalogues, so
a missing label, summary or rationale is reported rather than published.
"""

from __future__ import annotations

import html
import importlib.metadata
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import rdflib

from .load import catalogue_files, load_packaged, ontology_files
from .resources import data_files
from .namespaces import SH, to_curie
from .schema import USE_BASE
from .store import Store, open_store


@dataclass(frozen=True)
class MetadataProblem:
    focus: str  # CURIE or IRI of the term, entry or mapping at fault
    path: str  # the property concerned ("" for node-level constraints)
    message: str


def packaged_graph() -> rdflib.Graph:
    """Ontology, alignment and catalogues in one rdflib graph (what the metadata shapes check)."""
    g = rdflib.Graph()
    for path in ontology_files() + catalogue_files():
        g.parse(path, format="turtle")
    return g


def metadata_shapes() -> rdflib.Graph:
    g = rdflib.Graph()
    for path in data_files("shapes/metadata"):
        g.parse(path, format="turtle")
    return g


def metadata_report(data: rdflib.Graph | None = None) -> list[MetadataProblem]:
    """SHACL metadata shapes over `data` (default: the shipped ontology and catalogues)."""
    import pyshacl

    data = packaged_graph() if data is None else data
    _conforms, report, _text = pyshacl.validate(data, shacl_graph=metadata_shapes(), inference="none")
    problems = {
        MetadataProblem(
            to_curie(str(report.value(r, SH.focusNode))),
            to_curie(str(report.value(r, SH.resultPath) or "")),
            str(report.value(r, SH.resultMessage) or ""),
        )
        for r in report.subjects(rdflib.RDF.type, SH.ValidationResult)
    }
    return sorted(problems, key=lambda p: (p.focus, p.path, p.message))


def _ontpub():
    """pyLODE's OntPub class. pyLODE 3.4 reads its own version from a pyproject.toml that its
    wheel does not ship; give it the installed distribution's version instead."""
    if "pylode.version" not in sys.modules:
        version = types.ModuleType("pylode.version")
        version.__version__ = importlib.metadata.version("pylode")
        sys.modules["pylode.version"] = version
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    from pylode import OntPub

    # importing pyLODE configures the root logger for debug output; undo that
    root.setLevel(level)
    root.handlers[:] = handlers
    return OntPub


# --- catalogue pages: plain tables from SPARQL -----------------------------------------------

_SCHEMES = """
SELECT ?scheme ?label ?definition WHERE {
  GRAPH <https://w3id.org/aimsgraph/graph/catalogues> { ?scheme a skos:ConceptScheme }
  ?scheme rdfs:label ?label .
  OPTIONAL { ?scheme skos:definition ?definition }
} ORDER BY ?scheme
"""

_ENTRIES = """
SELECT ?scheme ?entry ?notation ?label ?summary ?parent ?source WHERE {
  ?entry skos:inScheme ?scheme ; skos:notation ?notation ; rdfs:label ?label .
  OPTIONAL { ?entry skos:definition ?summary }
  OPTIONAL { ?entry skos:broader ?parent }
  OPTIONAL { ?entry dcterms:source ?source }
} ORDER BY ?entry
"""

_MAPPINGS = """
SELECT ?source ?relationship ?target ?rationale ?reference WHERE {
  ?mapping a aims:Mapping ; aims:mappingSource ?source ; aims:mappingTarget ?target ;
           aims:relationship ?relationship ; aims:rationale ?rationale .
  OPTIONAL { ?mapping dcterms:source ?reference }
} ORDER BY ?source ?target
"""

_NO_COUNTERPART = """
SELECT ?article ?reason WHERE { ?article aims:noCounterpart ?reason } ORDER BY ?article
"""

_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}"
          "th{background:#eee}code{white-space:nowrap}")


def _text(row: dict, key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value)


def _cell(text: str, code: bool = False) -> str:
    escaped = html.escape(text)
    return f"<td><code>{escaped}</code></td>" if code and text else f"<td>{escaped}</td>"


def _page(title: str, intro: str, headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n<p><a href=\"index.html\">aimsgraph documentation</a></p>\n"
            f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(intro)}</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table></body></html>\n")


def _slug(iri: str) -> str:
    if iri.startswith(USE_BASE):  # the use-descriptor schemes: use-domains, use-purposes, ...
        return "use-" + iri[len(USE_BASE):].replace("/", "-")
    return to_curie(iri).replace(":", "-").replace("/", "-")


def _scheme_pages(store: Store) -> dict[str, tuple[str, str]]:
    """file name -> (title, HTML) for every concept scheme."""
    pages = {}
    for scheme in store.query(_SCHEMES).rows:
        iri = str(scheme["scheme"])
        entries = store.query(_ENTRIES, {"scheme": rdflib.URIRef(iri)}).rows
        rows = [
            "<tr>" + _cell(_text(e, "notation"), code=True) + _cell(_text(e, "label")) + _cell(_text(e, "summary"))
            + _cell(to_curie(_text(e, "parent")) if e.get("parent") else "", code=True) + _cell(_text(e, "source"))
            + "</tr>"
            for e in entries
        ]
        title = str(scheme["label"])
        pages[f"{_slug(iri)}.html"] = (title, _page(title, _text(scheme, "definition"),
                                                    ["notation", "title", "summary (ours)", "parent", "source"], rows))
    return pages


def _crosswalk_page(store: Store) -> str:
    rows = [
        "<tr>" + _cell(to_curie(_text(m, "source")), code=True) + _cell(to_curie(_text(m, "relationship")), code=True)
        + _cell(to_curie(_text(m, "target")), code=True) + _cell(_text(m, "rationale")) + _cell(_text(m, "reference"))
        + "</tr>"
        for m in store.query(_MAPPINGS).rows
    ]
    rows += [
        "<tr>" + _cell("—") + _cell("no counterpart") + _cell(to_curie(_text(n, "article")), code=True)
        + _cell(_text(n, "reason")) + _cell("") + "</tr>"
        for n in store.query(_NO_COUNTERPART).rows
    ]
    return _page("Crosswalk: ISO/IEC 42001 ↔ EU AI Act ↔ NIST AI RMF",
                 "Typed mappings (OLIR relationship types) read as: ISO/IEC 42001 entry, relationship, target.",
                 ["ISO/IEC 42001", "relationship", "target", "rationale", "source"], rows)


def write_docs(out_dir: Path | str) -> list[Path]:
    """Write index.html, ontology.html (pyLODE), one page per concept scheme and crosswalk.html
    into `out_dir`; returns the files written, in order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    ontology = rdflib.Graph()
    for path in ontology_files():
        ontology.parse(path, format="turtle")
    ontology_html = out / "ontology.html"
    _ontpub()(ontology).make_html(destination=ontology_html)
    written.append(ontology_html)

    store = open_store()
    load_packaged(store)
    pages = _scheme_pages(store)
    pages["crosswalk.html"] = ("Crosswalk", _crosswalk_page(store))
    for name, (_title, text) in pages.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)

    links = [f'<li><a href="ontology.html">Ontology (classes and properties)</a></li>'] + [
        f'<li><a href="{html.escape(name)}">{html.escape(title)}</a></li>' for name, (title, _t) in pages.items()]
    index = out / "index.html"
    index.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>aimsgraph documentation</title>"
        f"<style>{_STYLE}</style></head><body><h1>aimsgraph documentation</h1><ul>\n" + "\n".join(links)
        + "\n</ul></body></html>\n", encoding="utf-8")
    return [index] + written
