"""Stage 5, serve: the pipeline over HTTP.

`make_router(service)` is a mountable FastAPI router (a host application can include it under any
prefix); `create_app(...)` is the thin application `aimsgraph serve` runs. The routes are thin
wrappers over the same plain functions the CLI calls:

- `GET|POST /sparql`: a read-only SPARQL 1.1 Protocol endpoint over the reasoned graph (query via
  GET `query=`, POST form, or POST `application/sparql-query`), with content negotiation:
  SELECT/ASK as SPARQL JSON, XML, CSV or TSV results; CONSTRUCT/DESCRIBE as Turtle, N-Triples,
  JSON-LD or RDF/XML. SERVICE clauses are refused unless the service allows them.
- `GET /gaps`, `GET /classify`, `GET /queries`, `GET /queries/{name}`: the CLI's answers as JSON.
- `POST /gaps`: findings for a register sent in the body (YAML, or RDF by content type), so other
  tools can check a register without a server-side file.
"""

from __future__ import annotations

import io
import tempfile
from urllib.parse import parse_qs
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import rdflib
from rdflib import BNode, URIRef
from rdflib.query import Result
from rdflib.term import Variable

from .errors import InputError, NetworkAccessError, QueryError
from .limits import API_LIMITS
from .namespaces import PREFIXES
from .pipeline import Analysis, analyse, check_filters, classify, filter_findings, gaps_document
from .query import named_queries, rows_as_text, run_named
from .store import QueryResult, forbid_network

try:  # the server extra; the module still imports (for its plain functions) without it
    from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
    from fastapi.responses import JSONResponse, Response
except ImportError:  # pragma: no cover - exercised only without the extra
    APIRouter = FastAPI = None  # type: ignore[assignment,misc]

SELECT_TYPES = {
    "application/sparql-results+json": "json",
    "application/json": "json",
    "application/sparql-results+xml": "xml",
    "application/xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
REGISTER_TYPES = {  # POST /gaps body -> file suffix the loader recognises
    "application/yaml": ".yaml",
    "application/x-yaml": ".yaml",
    "text/yaml": ".yaml",
    "text/turtle": ".ttl",
    "application/n-triples": ".nt",
    "application/ld+json": ".jsonld",
    "application/rdf+xml": ".rdf",
}


def negotiate(accept: str | None, offers: dict[str, str]) -> str | None:
    """The offered media type the Accept header prefers (q-values honoured, `*/*` and `type/*`
    match); the first offer when there is no header; None when nothing acceptable is offered."""
    if not accept or not accept.strip():
        return next(iter(offers))
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        ranked.append((q, -position, media.lower()))
    for q, _, media in sorted(ranked, reverse=True):
        if q <= 0:
            continue
        if media == "*/*":
            return next(iter(offers))
        if media.endswith("/*"):
            family = media[:-1]
            match = next((o for o in offers if o.startswith(family)), None)
            if match:
                return match
        elif media in offers:
            return media
    return None


def _tsv_term(term: Any) -> str:
    """A term in SPARQL/Turtle syntax, as the TSV results format requires."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    return term.n3()


def serialize_result(result: QueryResult, media_type: str) -> bytes:
    """A query result in the named SPARQL results or RDF format."""
    if result.kind == "construct":
        g = rdflib.Graph()
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        for t in result.triples:
            g.add(t)
        return g.serialize(format=GRAPH_TYPES[media_type], encoding="utf-8")
    fmt = SELECT_TYPES[media_type]
    if fmt == "tsv":
        if result.kind == "ask":
            raise QueryError("an ASK answer has no TSV form; ask for JSON or XML")
        out = io.StringIO()
        out.write("\t".join("?" + v for v in result.vars) + "\n")
        for row in result.rows:
            out.write("\t".join(_tsv_term(row.get(v)) for v in result.vars) + "\n")
        return out.getvalue().encode("utf-8")
    if fmt == "csv" and result.kind == "ask":
        raise QueryError("an ASK answer has no CSV form; ask for JSON or XML")
    res = Result("ASK" if result.kind == "ask" else "SELECT")
    if result.kind == "ask":
        res.askAnswer = bool(result.boolean)
    else:
        res.vars = [Variable(v) for v in result.vars]
        res.bindings = [{Variable(k): v for k, v in row.items()} for row in result.rows]
    buffer = io.BytesIO()
    res.serialize(buffer, format=fmt, encoding="utf-8")
    return buffer.getvalue()


@dataclass
class Service:
    """What the API serves: one analysed register (store, parameters, findings), read-only;
    pyoxigraph answers concurrent read queries safely, so requests need no lock."""

    analysis: Analysis
    allow_service: bool = False

    @classmethod
    def from_path(cls, path: Path | str, as_of: date | None = None, **options: Any) -> "Service":
        allow_service = options.pop("allow_service", False)
        return cls(analyse(path, as_of, **options), allow_service=allow_service)

    def sparql(self, text: str) -> QueryResult:
        if not self.allow_service:
            forbid_network(text)
        return self.analysis.store.query(text)


def gaps_for_upload(body: bytes, content_type: str, as_of: date | None, **filters: Any) -> dict:
    """Findings JSON for a register or RDF document sent as bytes (POST /gaps)."""
    suffix = REGISTER_TYPES.get(content_type.split(";")[0].strip().lower())
    if suffix is None:
        raise InputError(f"unsupported content type '{content_type}' (send one of: {', '.join(REGISTER_TYPES)})")
    with tempfile.TemporaryDirectory(prefix="aimsgraph-") as folder:
        path = Path(folder) / f"register{suffix}"
        path.write_bytes(body)
        analysis = analyse(path, as_of, limits=API_LIMITS)
    check_filters(analysis.store, **filters)
    findings = filter_findings(analysis.validation.findings, store=analysis.store, **filters)
    return gaps_document(analysis, findings)


def _problem_response(exc: Exception, status: int) -> "JSONResponse":
    problems = [{"file": p.file, "entry": p.entry, "key": p.key, "message": p.message}
                for p in getattr(exc, "problems", [])]
    return JSONResponse({"error": str(exc), "problems": problems}, status_code=status)


def _parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"as_of '{value}' is not a date YYYY-MM-DD") from None


def make_router(service: Service) -> "APIRouter":
    """The aimsgraph routes over one Service; include it in any FastAPI app."""
    if APIRouter is None:
        raise ImportError("the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
    router = APIRouter()

    def run_sparql(text: str | None, request: Request) -> Response:
        if not text:
            raise HTTPException(400, "missing SPARQL query (use the 'query' parameter or an application/sparql-query body)")
        if request.query_params.getlist("default-graph-uri") or request.query_params.getlist("named-graph-uri"):
            raise HTTPException(400, "default-graph-uri and named-graph-uri are not supported: "
                                     "the default graph is the union of all graphs; use GRAPH in the query")
        try:
            result = service.sparql(text)
        except NetworkAccessError as exc:
            raise HTTPException(403, str(exc)) from None
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None
        offers = GRAPH_TYPES if result.kind == "construct" else SELECT_TYPES
        media = negotiate(request.headers.get("accept"), offers)
        if media is None:
            raise HTTPException(406, f"cannot answer in the requested type; available: {', '.join(offers)}")
        try:
            body = serialize_result(result, media)
        except QueryError as exc:
            raise HTTPException(406, str(exc)) from None
        return Response(body, media_type=media)

    @router.get("/sparql", summary="SPARQL 1.1 query (GET)")
    def sparql_get(request: Request, query: str | None = Query(None)) -> Response:
        return run_sparql(query, request)

    @router.post("/sparql", summary="SPARQL 1.1 query (POST form or application/sparql-query)")
    async def sparql_post(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/sparql-query":
            text = (await request.body()).decode("utf-8")
        elif ctype == "application/x-www-form-urlencoded":
            form = parse_qs((await request.body()).decode("utf-8"))
            text = form.get("query", [None])[0]
            if "update" in form:
                raise HTTPException(403, "this endpoint is read-only: SPARQL updates are not accepted")
        elif ctype == "application/sparql-update":
            raise HTTPException(403, "this endpoint is read-only: SPARQL updates are not accepted")
        else:
            raise HTTPException(415, "send application/sparql-query or an application/x-www-form-urlencoded form")
        return run_sparql(str(text) if text is not None else None, request)

    @router.get("/gaps", summary="Findings (register.md output contract)")
    def gaps_get(severity: str | None = None, rule: str | None = None, system: str | None = None) -> JSONResponse:
        a = service.analysis
        try:
            check_filters(a.store, severity, rule, system)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        findings = filter_findings(a.validation.findings, severity, rule, system, a.store)
        return JSONResponse(gaps_document(a, findings))

    @router.post("/gaps", summary="Findings for a register sent in the body")
    async def gaps_post(request: Request, as_of: str | None = None, severity: str | None = None,
                        rule: str | None = None, system: str | None = None) -> JSONResponse:
        try:
            doc = gaps_for_upload(await request.body(), request.headers.get("content-type", ""),
                                  _parse_as_of(as_of), severity=severity, rule=rule, system=system)
        except InputError as exc:
            return _problem_response(exc, 422)
        return JSONResponse(doc)

    @router.get("/classify", summary="EU AI Act classification per AI system")
    def classify_get() -> JSONResponse:
        return JSONResponse(classify(service.analysis.store))

    @router.get("/queries", summary="The named query library")
    def queries_list() -> JSONResponse:
        return JSONResponse({"queries": [
            {"name": q.name, "question": q.question, "parameters": q.params, "columns": q.columns}
            for q in named_queries().values()]})

    @router.get("/queries/{name}", summary="Run a named query; parameters as query-string values")
    def queries_run(name: str, request: Request) -> JSONResponse:
        if name not in named_queries():
            raise HTTPException(404, f"no query named '{name}'")
        try:
            result = run_named(service.analysis.store, name, dict(request.query_params))
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None
        if result.kind == "ask":
            return JSONResponse({"boolean": result.boolean})
        return JSONResponse({"columns": result.vars, "rows": rows_as_text(result)})

    @router.get("/health", summary="Liveness and what is loaded")
    def health() -> dict:
        a = service.analysis
        return {"status": "ok", "as_of": a.params.as_of.isoformat(), "findings": len(a.validation.findings)}

    return router


def create_app(service: Service) -> "FastAPI":
    """The thin application around the router."""
    if FastAPI is None:
        raise ImportError("the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
    from fastapi_offline import FastAPIOffline  # Swagger UI and ReDoc assets served locally, no CDN

    from . import __version__

    app = FastAPIOffline(title="aimsgraph", version=__version__,
                         description="ISO/IEC 42001 and EU AI Act knowledge graph: findings, classification, "
                                     "named queries and a SPARQL 1.1 endpoint.")
    app.include_router(make_router(service))
    return app
