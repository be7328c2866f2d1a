"""Stage 5, serve: the pipeline over HTTP.

`make_router(service)` is a mountable FastAPI router (a host application can include it under
any prefix; the service starts its workers on first use, or in the host's lifespan with
`await service.start()`); `create_app(service)` is the thin application `aimsgraph serve` runs.

The routes only parse, check and dispatch: every answer that reads the store is computed in a
worker process (`service.Service`), under the request timeout, so nothing a client sends can
block the event loop, `/health` included.

- `GET|POST /sparql`: the SPARQL 1.1 Protocol (query via GET `query=`, POST form or POST
  `application/sparql-query`; `default-graph-uri` / `named-graph-uri` and `FROM` / `FROM NAMED`
  choose among the store's own named graphs, never fetched), with content negotiation; with no
  query, the service description. Updates (`application/sparql-update`, form `update=`) and the
  Graph Store Protocol (`/store`) need the write token.
- JSON routes mirroring the CLI: `/gaps` (GET, and POST with a register in the body),
  `/classify`, `/queries`, `/queries/{name}`, `/trace/{id}`, `/impact/{id}`, `/hotspots`,
  `/explain`, `/soa`, `/report` (HTML); `as_of=YYYY-MM-DD` wherever time matters.
- `/health`: liveness, answered on the event loop from what the server already knows.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from .errors import InputError, QueryError
from .limits import shorten
from .query import named_queries
from .service import GRAPH_OFFERS, UPLOAD_TYPES, Reply, Service, UnknownOrganisation, negotiate, read_token  # noqa: F401 (API)

try:  # the server extra; the module still imports (for its plain functions) without it
    from fastapi import APIRouter, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError:  # pragma: no cover - exercised only without the extra
    APIRouter = FastAPI = None  # type: ignore[assignment,misc]

__all__ = ["Service", "create_app", "install_error_handlers", "make_router", "negotiate", "read_token",
           "service_description"]

_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$")
SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"


class BadRequest(Exception):
    """A request the route refuses: status and message (answered as JSON)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _reply(reply: Reply) -> "Response":
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type, headers=reply.headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> "JSONResponse":
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _iri(value: str, what: str) -> str:
    if not _ABSOLUTE_IRI.match(value):
        raise BadRequest(400, f"{what} '{shorten(value, 80)}' is not an absolute IRI")
    return value


def _ident(value: str | None, what: str) -> str | None:
    """A register id, CURIE or IRI given by a client: at most 200 characters, and a real IRI when
    it is written as one (`<...>`, `http://...`), so the store never sees a malformed term."""
    if value is None:
        return None
    if len(value) > 200:
        raise BadRequest(400, f"{what} '{shorten(value, 60)}' is longer than 200 characters")
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        _iri(text[1:-1], what)
    elif text.startswith(("http://", "https://", "urn:")):
        _iri(text, what)
    return value


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(400, f"as_of '{shorten(value, 40)}' is not a date YYYY-MM-DD") from None


def _media(content_type: str | None) -> tuple[str, dict[str, str]]:
    """A Content-Type header as (media type, parameters), lower-cased."""
    if not content_type:
        return "", {}
    media, *rest = content_type.split(";")
    params = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


def _utf8_only(params: dict[str, str]) -> None:
    charset = params.get("charset")
    if charset and charset not in ("utf-8", "utf8"):
        raise BadRequest(415, f"the body must be UTF-8, not {shorten(charset, 20)}")


def _decode(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"the {what} is not UTF-8 (invalid byte at offset {exc.start})") from None


async def _body(request: "Request", limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (checked on Content-Length first,
    then while reading, for chunked bodies)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BadRequest(413, f"the body is larger than the server's limit of {limit:,} bytes")
        except ValueError:
            raise BadRequest(400, "Content-Length is not a number") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"the body is larger than the server's limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _form(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200,
                         encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(400, "a form field is not UTF-8 once percent-decoded") from None
    except ValueError as exc:
        raise BadRequest(400, f"the form cannot be read: {shorten(str(exc), 80)}") from None


def _values(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in pairs if k == name]


def _endpoint(request: "Request") -> str:
    """The endpoint's own URL (no query string): the base IRI of queries and updates."""
    return str(request.url.replace(query="", fragment=""))


def _org_meta(service: Service, org: str | None):
    try:
        return service.meta_for(org)
    except UnknownOrganisation as exc:
        raise BadRequest(exc.status, str(exc)) from None


def service_description(service: Service, endpoint: str, media: str, meta) -> bytes:
    """The SPARQL 1.1 Service Description of this endpoint: languages, formats, features, and
    the default dataset of the organisation `meta` describes (the union default graph and every
    named graph, with its size)."""
    import pyoxigraph as ox

    def n(iri: str) -> ox.NamedNode:
        return ox.NamedNode(iri)

    rdf_type = n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    void_triples = n("http://rdfs.org/ns/void#triples")
    me, dataset, default = ox.BlankNode("service"), ox.BlankNode("dataset"), ox.BlankNode("default")
    triples = [ox.Triple(me, rdf_type, n(SD + "Service")), ox.Triple(me, n(SD + "endpoint"), n(endpoint)),
               ox.Triple(me, n(SD + "supportedLanguage"), n(SD + "SPARQL11Query")),
               ox.Triple(me, n(SD + "feature"), n(SD + "UnionDefaultGraph")),
               ox.Triple(me, n(SD + "defaultDataset"), dataset),
               ox.Triple(dataset, rdf_type, n(SD + "Dataset")),
               ox.Triple(dataset, n(SD + "defaultGraph"), default),
               ox.Triple(default, rdf_type, n(SD + "Graph")),
               ox.Triple(default, void_triples, ox.Literal(str(sum(meta.graphs.values())),
                                                           datatype=n("http://www.w3.org/2001/XMLSchema#integer")))]
    if service.write_token:
        triples.append(ox.Triple(me, n(SD + "supportedLanguage"), n(SD + "SPARQL11Update")))
    if service.allow_service:
        triples.append(ox.Triple(me, n(SD + "feature"), n(SD + "BasicFederatedQuery")))
    for fmt in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                "Turtle", "N-Triples", "JSON-LD", "RDF_XML"):
        triples.append(ox.Triple(me, n(SD + "resultFormat"), n(FORMATS + fmt)))
    for index, (graph, count) in enumerate(meta.graphs.items()):
        named, inner = ox.BlankNode(f"named{index}"), ox.BlankNode(f"graph{index}")
        triples += [ox.Triple(dataset, n(SD + "namedGraph"), named), ox.Triple(named, rdf_type, n(SD + "NamedGraph")),
                    ox.Triple(named, n(SD + "name"), n(graph)), ox.Triple(named, n(SD + "graph"), inner),
                    ox.Triple(inner, rdf_type, n(SD + "Graph")),
                    ox.Triple(inner, void_triples, ox.Literal(str(count),
                                                              datatype=n("http://www.w3.org/2001/XMLSchema#integer")))]
    from .store import GRAPH_MEDIA

    prefixes = {"sd": SD, "void": "http://rdfs.org/ns/void#", "formats": FORMATS}
    return ox.serialize(triples, format=GRAPH_MEDIA[media],
                        prefixes=prefixes if media in ("text/turtle", "application/rdf+xml") else None)


def make_router(service: Service) -> "APIRouter":
    """The aimsgraph routes over one Service; include it in any FastAPI app."""
    if APIRouter is None:
        raise ImportError("the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
    router = APIRouter()

    def heavy_date(as_of: date | None, org: str | None) -> bool:
        meta = service.meta_of(org)
        return as_of is not None and meta is not None and as_of != meta.as_of

    async def run(task: str, *args: Any, heavy: bool = False, cache: bool = False, org: str | None = None) -> "Response":
        await service.ensure_started()
        return _reply(await service.run(task, *args, heavy=heavy, cache=cache, org=org))

    def org_param(pairs: list[tuple[str, str]]) -> str | None:
        """`org` from the query string or form (the SPARQL and Graph Store routes read their own)."""
        values = _values(pairs, "org")
        return one(values, "org") if values else None

    def guarded(handler):
        """Turn BadRequest into its JSON answer (FastAPI routes cannot share a try block)."""
        import functools

        @functools.wraps(handler)
        async def wrapper(*args, **kwargs):
            try:
                return await handler(*args, **kwargs)
            except BadRequest as exc:
                return _error(exc.status, exc.message, exc.headers)
        return wrapper

    # --- SPARQL 1.1 Protocol ----------------------------------------------------------------

    async def query(request: Request, text: str, pairs: list[tuple[str, str]]) -> "Response":
        defaults = [_iri(v, "default-graph-uri") for v in _values(pairs, "default-graph-uri")]
        named = [_iri(v, "named-graph-uri") for v in _values(pairs, "named-graph-uri")]
        dataset_given = bool(defaults or named)
        return await run("sparql", text, request.headers.get("accept"), defaults if dataset_given else None,
                         named if dataset_given else None, _endpoint(request), service.allow_service,
                         org=org_param(pairs))

    async def update(request: Request, text: str, pairs: list[tuple[str, str]]) -> "Response":
        check_write(request)
        using = [_iri(v, "using-graph-uri") for v in _values(pairs, "using-graph-uri")]
        using_named = [_iri(v, "using-named-graph-uri") for v in _values(pairs, "using-named-graph-uri")]
        await service.ensure_started()
        return _reply(await service.write("write_update", text, using, using_named, _endpoint(request),
                                          service.allow_service, org=org_param(pairs)))

    def check_write(request: Request) -> None:
        if not service.write_token:
            raise BadRequest(403, "this server is read-only: it was started without a write token")
        if not service.token_ok(request.headers.get("authorization")):
            raise BadRequest(403, "writes need the server's write token as 'Authorization: Bearer <token>'")

    def one(values: list[str], name: str) -> str:
        if len(values) > 1:
            raise BadRequest(400, f"send one '{name}' parameter, not {len(values)}")
        return values[0]

    @router.get("/sparql", summary="SPARQL 1.1 query (GET); with no query, the service description")
    @guarded
    async def sparql_get(request: Request) -> Response:
        pairs = _form(request.url.query)
        queries = _values(pairs, "query")
        if _values(pairs, "update"):
            raise BadRequest(400, "SPARQL updates are sent by POST, never GET")
        if not queries:
            if [k for k, _ in pairs if k != "org"]:
                raise BadRequest(400, "missing SPARQL query (the 'query' parameter)")
            media = negotiate(request.headers.get("accept"), GRAPH_OFFERS)
            if media is None:
                raise BadRequest(406, f"the service description is available as: {', '.join(GRAPH_OFFERS)}")
            meta = _org_meta(service, org_param(pairs))
            return Response(service_description(service, _endpoint(request), media, meta), media_type=media)
        return await query(request, one(queries, "query"), pairs)

    @router.post("/sparql", summary="SPARQL 1.1 query or update (POST form, application/sparql-query, "
                                    "application/sparql-update)")
    @guarded
    async def sparql_post(request: Request) -> Response:
        media, params = _media(request.headers.get("content-type"))
        url_pairs = _form(request.url.query)
        if media == "application/sparql-query":
            _utf8_only(params)
            text = _decode(await _body(request, service.max_body), "query")
            return await query(request, text, url_pairs)
        if media == "application/sparql-update":
            _utf8_only(params)
            check_write(request)
            text = _decode(await _body(request, service.max_body), "update")
            return await update(request, text, url_pairs)
        if media == "application/x-www-form-urlencoded":
            _utf8_only(params)
            pairs = _form(_decode(await _body(request, service.max_body), "form")) + url_pairs
            queries, updates = _values(pairs, "query"), _values(pairs, "update")
            if queries and updates:
                raise BadRequest(400, "send either 'query' or 'update', not both")
            if updates:
                return await update(request, one(updates, "update"), pairs)
            if not queries:
                raise BadRequest(400, "missing SPARQL query (the 'query' form field)")
            return await query(request, one(queries, "query"), pairs)
        raise BadRequest(415, "send application/sparql-query, application/sparql-update or an "
                              "application/x-www-form-urlencoded form")

    # --- Graph Store Protocol ---------------------------------------------------------------

    def graph_param(request: Request) -> str | None:
        pairs = _form(request.url.query)
        graphs, default = _values(pairs, "graph"), [k for k, _ in pairs if k == "default"]
        if bool(graphs) == bool(default) or len(graphs) > 1:
            raise BadRequest(400, "name one graph: ?graph=IRI or ?default (the data graph)")
        return _iri(graphs[0], "graph") if graphs else None

    @router.get("/store", summary="Graph Store Protocol: read a graph (?graph=IRI or ?default)")
    @guarded
    async def store_get(request: Request) -> Response:
        return await run("read_graph", graph_param(request), request.headers.get("accept"),
                         org=org_param(_form(request.url.query)))

    @router.api_route("/store", methods=["PUT", "POST", "DELETE"],
                      summary="Graph Store Protocol: replace (PUT), add to (POST) or drop (DELETE) a graph")
    @guarded
    async def store_write(request: Request) -> Response:
        graph = graph_param(request)
        check_write(request)
        body, media = b"", ""
        if request.method != "DELETE":
            media, params = _media(request.headers.get("content-type"))
            _utf8_only(params)
            body = await _body(request, service.max_body)
        await service.ensure_started()
        return _reply(await service.write("write_graph", request.method, graph, body, media,
                                          org=org_param(_form(request.url.query))))

    # --- the CLI's answers ------------------------------------------------------------------

    @router.get("/gaps", summary="Findings (register.md output contract)")
    @guarded
    async def gaps_get(severity: str | None = None, rule: str | None = None, system: str | None = None,
                       as_of: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        return await run("gaps", severity, rule, system, day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.post("/gaps", summary="Findings for a register sent in the body (YAML, Turtle, N-Triples, "
                                  "JSON-LD, RDF/XML, TriG, N-Quads)")
    @guarded
    async def gaps_post(request: Request, as_of: str | None = None, severity: str | None = None,
                        rule: str | None = None, system: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        media, _params = _media(request.headers.get("content-type"))
        if media not in UPLOAD_TYPES:
            raise BadRequest(415, f"unsupported content type '{shorten(media, 60)}' "
                                  f"(send one of: {', '.join(UPLOAD_TYPES)})")
        body = await _body(request, service.max_body)
        return await run("gaps_upload", body, media, day, {"severity": severity, "rule": rule, "system": system},
                         heavy=True, org=org)  # `org` only picks the worker's settings: the upload is its own

    @router.get("/classify", summary="EU AI Act classification per AI system")
    @guarded
    async def classify_get(as_of: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        return await run("classify", day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/queries", summary="The named query library")
    async def queries_list() -> JSONResponse:
        return JSONResponse({"queries": [
            {"name": q.name, "question": q.question, "parameters": q.params, "columns": q.columns}
            for q in named_queries().values()]})

    @router.get("/queries/{name}", summary="Run a named query; parameters as query-string values")
    @guarded
    async def queries_run(name: str, request: Request) -> Response:
        if name not in named_queries():
            from .errors import unknown_name

            raise BadRequest(404, unknown_name("query named", shorten(name, 60), named_queries()))
        pairs = _form(request.url.query)
        params: dict[str, str] = {}
        for key, value in pairs:
            if key in ("as_of", "org"):
                continue
            if key in params:
                raise BadRequest(400, f"send one '{shorten(key, 40)}' parameter")
            params[key] = value
        day = _as_of(next((v for k, v in pairs if k == "as_of"), None))
        org = org_param(pairs)
        if org is None and service.default_org is None and named_queries()[name].reads == "organisations":
            return await across_organisations(name, params, day)
        return await run("named", name, params, day, heavy=heavy_date(day, org), cache=True, org=org)

    async def across_organisations(name: str, params: dict[str, str], day: date | None) -> "Response":
        """A certification body's question (`# reads: organisations`) with no org named, on a server
        of several: asked of each organisation, the rows together (each query's answer about one
        organisation depends on that organisation's graphs only)."""
        await service.ensure_started()
        replies = await service.run_each("named", name, params, day, cache=True)
        rows: list = []
        columns: list = []
        for reply in replies.values():
            if reply.status != 200:
                return _reply(reply)
            answer = json.loads(reply.body)
            columns = answer.get("columns", columns)
            rows.extend(answer.get("rows", []))
        rows.sort(key=lambda row: [str(row.get(c, "")) for c in columns])
        return JSONResponse({"columns": columns, "rows": rows})

    @router.get("/trace/{ident}", summary="The chains an entry rests on, and what rests on it (nodes, edges)")
    @guarded
    async def trace_get(ident: str, as_of: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        return await run("trace", _ident(ident, "id"), day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/impact/{ident}", summary="If this control fails or this evidence lapses: what loses cover")
    @guarded
    async def impact_get(ident: str, as_of: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        return await run("impact", _ident(ident, "id"), day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/hotspots", summary="Controls ranked by the coverage resting on them")
    @guarded
    async def hotspots_get(top: int | None = None, as_of: str | None = None, org: str | None = None) -> Response:
        if top is not None and top < 1:
            raise BadRequest(400, "top must be 1 or more")
        day = _as_of(as_of)
        return await run("hotspots", top, day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/explain", summary="Why a derived fact holds: rule or axiom and premises, as a tree")
    @guarded
    async def explain_get(subject: str, predicate: str | None = None, object: str | None = None,  # noqa: A002
                          as_of: str | None = None, org: str | None = None) -> Response:
        day = _as_of(as_of)
        return await run("explain", _ident(subject, "subject"), _ident(predicate, "predicate"),
                         _ident(object, "object"), day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/soa", summary="Statement of Applicability as JSON, CSV or XLSX")
    @guarded
    async def soa_get(format: str = "json", as_of: str | None = None, org: str | None = None) -> Response:  # noqa: A002
        if format not in ("json", "csv", "xlsx"):
            raise BadRequest(400, f"format '{shorten(format, 20)}': choose json, csv or xlsx")
        day = _as_of(as_of)
        return await run("soa", format, day, heavy=heavy_date(day, org), cache=True, org=org)

    @router.get("/report", summary="The auditor's report (one self-contained HTML page)")
    @guarded
    async def report_get(as_of: str | None = None, org: str | None = None) -> Response:
        return await run("report", _as_of(as_of), heavy=True, cache=True, org=org)

    @router.get("/health", summary="Liveness and what is loaded (never waits for a worker)")
    async def health() -> dict:
        return service.health()

    return router


def install_error_handlers(app: "FastAPI") -> None:
    """Every error as a short JSON message: no traceback, no server path, never the framework's
    echo of the whole input."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        parts = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", "invalid"))
        return _error(400, "bad request: " + "; ".join(parts))

    @app.exception_handler(InputError)
    async def input_error(request, exc: InputError):
        return _error(400, shorten(str(exc), 500))

    @app.exception_handler(QueryError)
    async def query_error(request, exc: QueryError):
        return _error(400, shorten(str(exc), 500))

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):  # a bug: said so, without details
        import traceback

        traceback.print_exc()
        return _error(500, "internal error: the server could not answer this request")


def create_app(service: Service) -> "FastAPI":
    """The thin application around the router: starts the service's workers when it starts,
    stops them when it stops."""
    if FastAPI is None:
        raise ImportError("the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
    import contextlib

    from fastapi_offline import FastAPIOffline  # Swagger UI and ReDoc assets served locally, no CDN

    from . import __version__

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPIOffline(title="aimsgraph", version=__version__, lifespan=lifespan,
                         description="ISO/IEC 42001 and EU AI Act knowledge graph: findings, classification, "
                                     "named queries and a SPARQL 1.1 endpoint.")
    install_error_handlers(app)
    app.include_router(make_router(service))
    return app

