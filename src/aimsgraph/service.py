"""What the HTTP API serves, and where its work runs.

A `Service` serves one analysed register, kept as a **snapshot**: a folder holding a pyoxigraph
store on disk (every graph: data, ontology, catalogues, inferences, parameters) and the
analysis that goes with it (parameters, reasoning report, findings). A snapshot never changes
once written; a write makes the next one and the Service swaps to it.

Every piece of heavy work (SPARQL queries, named queries, findings filters, trace and impact,
reports, POST /gaps analyses, writes) runs in a worker process (`workers.WorkerPool`), so a
query that runs too long is killed at its deadline while everything else keeps answering; the
event loop only parses requests and dispatches. Two pools: `query` workers for answers from the
snapshot, and `heavy` workers (lower CPU priority) for analyses that build a store of their own
(POST /gaps, another as-of date, reports, writes), so a burst of uploads cannot starve queries.

Measured with pyoxigraph 0.5 (engines.md): any number of processes may open one store folder
with `Store.read_only` at once, but a read-only open while another process writes is undefined
behaviour, so snapshots are written once and never touched again; `Store.backup` of a read-only
store works (hard links). The read-only on-disk store answers the named queries 4-8x slower
than the in-memory store (RocksDB vs in-memory maps), so by default each worker copies the
snapshot into memory when it starts (0.5-2 s at 100k triples); `worker_store="disk"` queries
the folder itself instead, for stores too big to copy.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import pickle
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from .errors import AimsGraphError, InputError, NetworkAccessError, Problem, QueryError, ResultTooLarge, StoreError
from .limits import API_LIMITS, MiB, shorten
from .namespaces import GRAPH_BASE, GRAPH_DATA, GRAPH_INFERRED, GRAPH_PARAMETERS, PREFIXES
from .store import GRAPH_MEDIA, OxigraphStore, RdflibStore, RemoteStore, Store, nt_triples

DERIVED_GRAPHS = (GRAPH_INFERRED, GRAPH_PARAMETERS)
DERIVED_PREFIX = GRAPH_BASE + "delta"  # the reasoner's scratch graphs (owl.DELTA_GRAPH)

RESULT_OFFERS = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                 "text/tab-separated-values"]
BOOLEAN_OFFERS = ["application/sparql-results+json", "application/sparql-results+xml"]
GRAPH_OFFERS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
MEDIA_ALIASES = {"application/json": "application/sparql-results+json",
                 "application/xml": "application/sparql-results+xml"}
UPLOAD_TYPES = {  # POST /gaps and graph store bodies -> file suffix the loader recognises
    "application/yaml": ".yaml",
    "application/x-yaml": ".yaml",
    "text/yaml": ".yaml",
    "text/turtle": ".ttl",
    "application/n-triples": ".nt",
    "application/ld+json": ".jsonld",
    "application/rdf+xml": ".rdf",
    "application/trig": ".trig",
    "application/n-quads": ".nq",
}
RDF_UPLOAD_TYPES = {k: v for k, v in UPLOAD_TYPES.items() if v in (".ttl", ".nt", ".jsonld", ".rdf")}


def negotiate(accept: str | None, offers: list[str] | dict[str, Any]) -> str | None:
    """The offered media type the Accept header prefers (q-values honoured, `*/*` and `type/*`
    match, `application/json` and `application/xml` as the SPARQL results types); the first offer
    when there is no header; None when nothing acceptable is offered."""
    offers = list(offers)
    if not accept or not accept.strip():
        return offers[0]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.replace(" ", "").startswith("q="):
                try:
                    q = float(p.split("=", 1)[1])
                except ValueError:
                    q = 0.0
        ranked.append((q, -position, media.lower()))
    for q, _, media in sorted(ranked, reverse=True):
        if q <= 0:
            continue
        media = MEDIA_ALIASES.get(media, media) if MEDIA_ALIASES.get(media) in offers else media
        if media == "*/*":
            return offers[0]
        if media.endswith("/*"):
            match = next((o for o in offers if o.startswith(media[:-1])), None)
            if match:
                return match
        elif media in offers:
            return media
    return None


@dataclass
class Reply:
    """What a task answers: an HTTP status, a media type and the body bytes."""

    status: int
    media_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, document: Any, status: int = 200) -> "Reply":
        return cls(status, "application/json", json.dumps(document, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def error(cls, status: int, message: str, problems: list[Problem] | None = None) -> "Reply":
        doc: dict[str, Any] = {"error": shorten(message, 1000)}
        if problems:
            doc["problems"] = [{"file": p.file, "entry": p.entry, "key": p.key, "message": p.message}
                               for p in problems]
        return cls.json(doc, status)


def error_reply(exc: Exception, input_status: int = 400) -> Reply:
    """An aimsgraph error as the HTTP answer it calls for (never 500 for bad input)."""
    from .explain import ExplainError
    from .trace import TraceError

    if isinstance(exc, NetworkAccessError):
        return Reply.error(403, str(exc))
    if isinstance(exc, ResultTooLarge):
        return Reply.error(400, str(exc))
    if isinstance(exc, (TraceError, ExplainError)):
        return Reply.error(404, str(exc))
    if isinstance(exc, InputError):
        return Reply.error(input_status, str(exc), exc.problems)
    if isinstance(exc, StoreError):
        return Reply.error(502, shorten(str(exc), 300))
    if isinstance(exc, AimsGraphError):
        return Reply.error(400, str(exc))
    return Reply.error(500, "internal error: the server could not answer this request")


# --- snapshots -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """One immutable state of the served store: `directory/store` (pyoxigraph) and
    `directory/meta.pickle` (SnapshotMeta)."""

    directory: str
    generation: int
    engine: str = "oxigraph"  # how workers read it: oxigraph, rdflib (reference) or a server URL
    worker_store: str = "memory"  # memory: each worker copies it into memory; disk: reads it in place
    org: str = ""  # the organisation whose analysis it holds ("": a register that names none)

    @property
    def store_dir(self) -> str:
        return os.path.join(self.directory, "store")

    def meta(self) -> "SnapshotMeta":
        with open(os.path.join(self.directory, "meta.pickle"), "rb") as f:
            return pickle.load(f)


@dataclass
class SnapshotMeta:
    """The analysis that goes with a snapshot's store."""

    as_of: date
    window_months: int
    expiring_days: int
    owl_engine: str
    validator: str
    reasoning: Any  # reason.ReasoningReport
    findings: list  # validate.Finding
    source: str = ""
    graphs: dict[str, int] = field(default_factory=dict)  # named graph -> triples
    ai_act_text: str = "auto"  # the --ai-act-text choice the analysis was made under

    def params(self, as_of: date | None = None):
        from .reason import Parameters

        return Parameters(as_of or self.as_of, self.window_months, self.expiring_days,
                          getattr(self, "ai_act_text", "auto"))


def graph_counts(store: ox.Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):
        if isinstance(row["g"], ox.NamedNode):
            counts[row["g"].value] = int(row["n"].value)
    return dict(sorted(counts.items()))


def write_snapshot(native: ox.Store, meta: SnapshotMeta, root: str, generation: int, engine: str,
                   worker_store: str, org: str = "") -> Snapshot:
    """Write `native` (every graph) and `meta` to `root/gen-N`, atomically: a folder that exists
    under its final name is complete."""
    final = os.path.join(root, f"gen-{generation}")
    partial = final + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)  # (and `root`, for an organisation's first snapshot)
    disk = ox.Store(os.path.join(partial, "store"))
    disk.bulk_load(native.dump(format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    disk.flush()
    del disk
    meta.graphs = graph_counts(native)
    with open(os.path.join(partial, "meta.pickle"), "wb") as f:
        pickle.dump(meta, f)
    os.rename(partial, final)
    return Snapshot(final, generation, engine, worker_store, org)


def analysis_meta(analysis, source: str = "") -> SnapshotMeta:
    return SnapshotMeta(analysis.params.as_of, analysis.params.window_months, analysis.params.expiring_days,
                        analysis.reasoning.owl_engine, analysis.validator, analysis.reasoning,
                        list(analysis.validation.findings), source, ai_act_text=analysis.params.ai_act_text)


def _copy_store(native: ox.Store) -> ox.Store:
    copy = ox.Store()
    copy.bulk_load(native.dump(format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    return copy


def _asserted_copy(native: ox.Store) -> ox.Store:
    """A new in-memory store with every graph but the derived ones."""
    copy = ox.Store()
    for graph in native.named_graphs():
        name = graph.value if isinstance(graph, ox.NamedNode) else ""
        if name in DERIVED_GRAPHS or name.startswith(DERIVED_PREFIX):
            continue
        copy.bulk_load(native.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=graph), format=ox.RdfFormat.N_TRIPLES,
                       to_graph=graph)
    return copy


# --- the worker's side: one snapshot opened, the tasks -------------------------------------------


class WorkerState:
    """What one worker process holds: the snapshot's store (opened read-only, copied into memory
    unless told otherwise), its analysis, and caches (the trace graph, one analysis at another
    as-of date). Built in the worker by the pool; `run` does one task."""

    KEEP_OPEN = 4  # snapshots (organisations) a worker keeps open besides the one it reads
    _PER_SNAPSHOT = ("snapshot", "meta", "store", "native", "analysis", "_trace", "_other")

    def __init__(self, snapshot: Snapshot, limits: dict):
        self.limits = limits
        self.snapshot: Snapshot | None = None
        self._kept: OrderedDict[str, dict] = OrderedDict()  # directory -> the attributes above
        self.open(snapshot)

    def open(self, snapshot: Snapshot) -> None:
        from .pipeline import Analysis
        from .validate import Validation

        meta = snapshot.meta()
        native: ox.Store | None = None
        if snapshot.engine.startswith(("http://", "https://")):
            store: Store = RemoteStore(snapshot.engine, timeout=self.limits.get("timeout", 30.0))
        else:
            disk = ox.Store.read_only(snapshot.store_dir)
            if snapshot.engine == "rdflib":
                store = RdflibStore()
                for graph in meta.graphs:
                    store.load(disk.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph)), "nt", graph)
                del disk
            else:
                native = _copy_store(disk) if snapshot.worker_store == "memory" else disk
                store = OxigraphStore.wrap(native)
        self.snapshot, self.meta, self.store, self.native = snapshot, meta, store, native
        self.analysis = Analysis(store, meta.params(), meta.reasoning, validator=meta.validator,
                                 _validation=Validation(meta.findings, engine=meta.validator))
        self._trace: dict[date, Any] = {}
        self._other: tuple[date, Any] | None = None

    # helpers

    def ensure(self, snapshot: Snapshot) -> None:
        """Read `snapshot` from now on: the one open, one kept open (a server of several
        organisations switches between them per request), or opened now. An organisation's older
        generations are dropped; past KEEP_OPEN the least recently read one is."""
        if self.snapshot is not None and snapshot.directory == self.snapshot.directory:
            return
        if self.snapshot is not None:
            self._kept[self.snapshot.directory] = {name: getattr(self, name) for name in self._PER_SNAPSHOT}
        for directory in [d for d, kept in self._kept.items()
                          if kept["snapshot"].org == snapshot.org and d != snapshot.directory]:
            del self._kept[directory]
        kept = self._kept.pop(snapshot.directory, None)
        while len(self._kept) > self.KEEP_OPEN:
            self._kept.popitem(last=False)
        if kept is not None:
            self.__dict__.update(kept)
        else:
            self.open(snapshot)

    def analysis_at(self, as_of: date | None):
        """The analysis at `as_of`: the snapshot's own, or the register re-reasoned at that date
        (kept until another date is asked for)."""
        if as_of is None or as_of == self.meta.as_of:
            return self.analysis
        if self._other is not None and self._other[0] == as_of:
            return self._other[1]
        from .pipeline import Analysis
        from .reason import reason

        if self.native is None:
            raise QueryError("as_of needs the embedded store; this server reads another engine")
        store = OxigraphStore.wrap(_asserted_copy(self.native))
        params = self.meta.params(as_of)
        reasoning = reason(store, params, self.meta.owl_engine)
        analysis = Analysis(store, params, reasoning, validator=self.meta.validator)
        self._other = (as_of, analysis)
        return analysis

    def trace_graph(self, as_of: date | None):
        from .trace import trace_graph

        analysis = self.analysis_at(as_of)
        key = analysis.params.as_of
        if key not in self._trace:
            self._trace = {key: trace_graph(analysis.store)}
        return self._trace[key]

    def run(self, name: str, args: tuple) -> Reply:
        snapshot, *rest = args
        if snapshot is not None:
            self.ensure(snapshot)
        input_status = 422 if name in ("gaps_upload", "write_graph") else 400
        try:
            return getattr(self, "task_" + name)(*rest)
        except RecursionError:
            return Reply.error(400, "the input nests too deeply to be read")
        except AimsGraphError as exc:
            return error_reply(exc, input_status)

    # the tasks (each answers a Reply)

    def task_noop(self) -> Reply:
        return Reply.json({"generation": self.snapshot.generation if self.snapshot else None})

    def task_sleep(self, seconds: float) -> Reply:  # for tests of the deadline
        import time

        time.sleep(seconds)
        return Reply.json({"slept": seconds})

    def task_sparql(self, text: str, accept: str | None, default_graphs, named_graphs, base_iri: str | None,
                    allow_network: bool) -> Reply:
        from .sparql_guard import inspect_query

        info = inspect_query(text, allow_network, base_iri)
        offers = GRAPH_OFFERS if info.returns_graph else BOOLEAN_OFFERS if info.form == "ask" else RESULT_OFFERS
        media = negotiate(accept, offers)
        if media is None:
            return Reply.error(406, f"cannot answer this {info.form.upper()} in the requested type; "
                                    f"available: {', '.join(offers)}")
        answer = self.store.answer(text, media, default_graphs=default_graphs, named_graphs=named_graphs,
                                   base_iri=base_iri, max_rows=self.limits.get("max_rows"),
                                   max_bytes=self.limits.get("max_result_bytes"), allow_network=allow_network)
        charset = "; charset=utf-8" if answer.media_type.startswith("text/") or "json" in answer.media_type \
            or "xml" in answer.media_type else ""
        return Reply(200, answer.media_type + charset, answer.body)

    def task_named(self, name: str, params: dict[str, str], as_of: date | None) -> Reply:
        from .query import rows_as_text, run_named

        result = run_named(self.analysis_at(as_of).store, name, params)
        if result.kind == "ask":
            return Reply.json({"boolean": result.boolean})
        max_rows = self.limits.get("max_rows")
        if max_rows is not None and len(result.rows) > max_rows:
            raise ResultTooLarge(f"the answer has more than {max_rows:,} rows, the server's limit")
        return Reply.json({"columns": result.vars, "rows": rows_as_text(result)})

    def task_gaps(self, severity, rule, system, as_of) -> Reply:
        from .pipeline import check_filters, filter_findings, gaps_document

        analysis = self.analysis_at(as_of)
        check_filters(analysis.store, severity, rule, system)
        findings = filter_findings(analysis.validation.findings, severity, rule, system, analysis.store)
        return Reply.json(gaps_document(analysis, findings))

    def task_classify(self, as_of) -> Reply:
        from .pipeline import classify

        analysis = self.analysis_at(as_of)
        return Reply.json({"as_of": analysis.params.as_of.isoformat(), **classify(analysis.store)})

    def task_trace(self, ident: str, as_of) -> Reply:
        from .trace import resolve, trace

        graph = self.trace_graph(as_of)
        root = resolve(graph, ident)
        sub = trace(graph, root)
        return Reply.json({"root": root, "nodes": [{"id": n, **d} for n, d in sorted(sub.nodes(data=True))],
                           "edges": [{"source": u, "relation": d["relation"], "target": v}
                                     for u, v, d in sorted(sub.edges(data=True))]})

    def task_impact(self, ident: str, as_of) -> Reply:
        from .trace import impact, resolve

        graph = self.trace_graph(as_of)
        return Reply.json(impact(graph, resolve(graph, ident)).as_json())

    def task_hotspots(self, top: int | None, as_of) -> Reply:
        from .trace import hotspots

        return Reply.json({"hotspots": [h.as_json() for h in hotspots(self.trace_graph(as_of), top)]})

    def task_explain(self, subject: str, predicate: str | None, obj: str | None, as_of) -> Reply:
        from .explain import explain

        analysis = self.analysis_at(as_of)
        trees = explain(analysis.store, analysis.reasoning, subject, predicate, obj)
        return Reply.json({"facts": [tree.as_json() for tree in trees]})

    def task_soa(self, fmt: str, as_of) -> Reply:
        from .soa import soa_csv, soa_header, soa_rows, write_xlsx

        analysis = self.analysis_at(as_of)
        rows = soa_rows(analysis.store)
        header = soa_header(analysis.store, analysis.params.as_of)
        if fmt == "csv":
            return Reply(200, "text/csv; charset=utf-8", soa_csv(rows, header).encode("utf-8"))
        if fmt == "xlsx":
            with tempfile.TemporaryDirectory(prefix="aimsgraph-soa-") as folder:
                path = Path(folder) / "soa.xlsx"
                write_xlsx(rows, path, header)
                body = path.read_bytes()
            return Reply(200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body,
                         {"Content-Disposition": 'attachment; filename="statement-of-applicability.xlsx"'})
        doc = []
        for row in rows:
            item = dataclasses.asdict(row)
            item["risks"] = list(row.risks)
            item["evidence"] = [{"id": e, "freshness": f} for e, f in row.evidence]
            item["freshness"] = row.freshness
            doc.append(item)
        return Reply.json({"as_of": analysis.params.as_of.isoformat(), "header": dict(header.fields()), "rows": doc})

    def task_report(self, as_of) -> Reply:
        from .report import report_html

        analysis = self.analysis_at(as_of)
        return Reply(200, "text/html; charset=utf-8", report_html(analysis, self.meta.source).encode("utf-8"))

    def task_gaps_upload(self, body: bytes, content_type: str, as_of: date | None, filters: dict) -> Reply:
        from .pipeline import analyse, check_filters, filter_findings, gaps_document

        suffix = UPLOAD_TYPES.get(content_type)
        if suffix is None:
            return Reply.error(415, f"unsupported content type '{shorten(content_type, 60)}' "
                                    f"(send one of: {', '.join(UPLOAD_TYPES)})")
        with tempfile.TemporaryDirectory(prefix="aimsgraph-upload-") as folder:
            path = Path(folder) / f"register{suffix}"
            path.write_bytes(body)
            analysis = analyse(path, as_of, limits=API_LIMITS, validator=self.meta.validator)
            check_filters(analysis.store, **filters)
            findings = filter_findings(analysis.validation.findings, store=analysis.store, **filters)
            return Reply.json(gaps_document(analysis, findings))

    def task_read_graph(self, graph: str | None, accept: str | None) -> Reply:
        media = negotiate(accept, GRAPH_OFFERS)
        if media is None:
            return Reply.error(406, f"available: {', '.join(GRAPH_OFFERS)}")
        name = graph or GRAPH_DATA
        if self.native is not None:
            if not self.native.contains_named_graph(ox.NamedNode(name)):
                return Reply.error(404, f"the store has no graph <{shorten(name, 100)}>")
            triples = [q.triple for q in self.native.quads_for_pattern(None, None, None, ox.NamedNode(name))]
            body = ox.serialize(triples, format=GRAPH_MEDIA[media],
                                prefixes=PREFIXES if media in ("text/turtle", "application/rdf+xml") else None)
        else:
            answer = self.store.answer(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}", media)
            body = answer.body
        return Reply(200, media + "; charset=utf-8", body)

    # writes: run in a heavy worker, on a copy; the Service swaps snapshots when they succeed

    def _prepare(self) -> ox.Store:
        if self.native is None:
            raise QueryError("writes need the embedded oxigraph store; this server reads another engine")
        return _copy_store(self.native)

    def _commit(self, work: ox.Store, root: str, generation: int, added: list | None = None) -> tuple[Snapshot, dict]:
        """Re-reason and re-validate the changed store, then write it as the next snapshot. With
        `added` (the write only added these data triples, not yet in `work`), the inferences are
        brought up to date from them alone (incremental.add_data), as `aimsgraph add` does; a
        change that needs it (blank nodes, schema triples) is reasoned from scratch."""
        from .incremental import NotIncremental, add_data
        from .reason import reason
        from .validate import validate

        store = OxigraphStore.wrap(work)
        params = self.meta.params()
        reasoning, how = None, "from scratch"
        if added is not None:
            try:
                report = add_data(store, added, params, self.meta.owl_engine, fallback=False)
                reasoning, how = self.meta.reasoning, "incremental" if report.data_added else "incremental: nothing new"
            except NotIncremental as exc:
                store.add(GRAPH_DATA, added)
                how = f"from scratch: {exc}"
        if reasoning is None:
            reasoning = reason(store, params, self.meta.owl_engine)
        validation = validate(store, self.meta.validator)
        meta = SnapshotMeta(params.as_of, params.window_months, params.expiring_days, self.meta.owl_engine,
                            self.meta.validator, reasoning, list(validation.findings), self.meta.source,
                            ai_act_text=params.ai_act_text)
        assert self.snapshot is not None
        snapshot = write_snapshot(work, meta, root, generation, self.snapshot.engine, self.snapshot.worker_store,
                                  self.snapshot.org)
        return snapshot, {"generation": generation, "findings": len(meta.findings),
                          "inferred": meta.graphs.get(GRAPH_INFERRED, 0),  # counted by write_snapshot
                          "reasoned": how}

    def task_write_update(self, text: str, using: list[str] | None, using_named: list[str] | None,
                          base_iri: str | None, allow_network: bool, root: str, generation: int):
        """A SPARQL update, on a copy of the store in which the data graph is the default graph
        (so `INSERT DATA { triples }` adds to the organisation's data), re-reasoned."""
        from .sparql_guard import add_using, inspect_update

        info = inspect_update(text, allow_network, base_iri)
        if (using or using_named) and info.has_dataset:
            raise QueryError("the request names a dataset (using-graph-uri / using-named-graph-uri) and the "
                             "update names its own (USING / WITH): the SPARQL Protocol forbids both")
        touched = [g for g in info.targets if g in DERIVED_GRAPHS or g.startswith(DERIVED_PREFIX)]
        if touched:
            raise QueryError(
                f"<{touched[0]}> is derived by the reasoner and rebuilt after every write; change the data instead")
        if using or using_named:
            text = add_using(text, using or [], using_named or [])
        added = _inserted_data(text, base_iri) if set(info.operations) == {"InsertData"} else None
        if added is not None:
            snapshot, summary = self._commit(self._prepare(), root, generation, added=added)
            return snapshot, Reply.json({"updated": True, **summary})
        work = self._prepare()
        data, default = ox.NamedNode(GRAPH_DATA), ox.DefaultGraph()
        for quad in list(work.quads_for_pattern(None, None, None, data)):
            work.add(ox.Quad(quad.subject, quad.predicate, quad.object, default))
        work.remove_graph(data)
        try:
            work.update(text, base_iri=base_iri, prefixes=PREFIXES)
        except SyntaxError as exc:
            raise QueryError(f"SPARQL syntax error: {shorten(str(exc), 200)}") from None
        except (OSError, ValueError, RuntimeError) as exc:
            raise QueryError(shorten(str(exc), 300)) from None
        for quad in list(work.quads_for_pattern(None, None, None, default)):
            work.add(ox.Quad(quad.subject, quad.predicate, quad.object, data))
        work.clear_graph(default)
        snapshot, summary = self._commit(work, root, generation)
        return snapshot, Reply.json({"updated": True, **summary})

    def task_write_graph(self, method: str, graph: str | None, body: bytes, content_type: str,
                         root: str, generation: int):
        """The Graph Store Protocol: PUT replaces a graph, POST adds to it, DELETE drops it;
        `graph` None is the default graph, which here is the data graph."""
        from .load import rdf_data

        name = graph or GRAPH_DATA
        if name in DERIVED_GRAPHS or name.startswith(DERIVED_PREFIX):
            return None, Reply.error(403, f"<{shorten(name, 100)}> is derived by the reasoner and rebuilt after "
                                          "every write; change the data instead")
        work = self._prepare()
        target = ox.NamedNode(name)
        created = False
        if method == "DELETE":
            if not work.contains_named_graph(target):
                return None, Reply.error(404, f"the store has no graph <{shorten(name, 100)}>")
            work.remove_graph(target)
        else:
            suffix = RDF_UPLOAD_TYPES.get(content_type)
            if suffix is None:
                return None, Reply.error(415, f"send one of: {', '.join(RDF_UPLOAD_TYPES)}")
            with tempfile.TemporaryDirectory(prefix="aimsgraph-graph-") as folder:
                path = Path(folder) / f"graph{suffix}"
                path.write_bytes(body)
                data = rdf_data(path, API_LIMITS)
            created = not work.contains_named_graph(target)
            if method == "POST" and name == GRAPH_DATA:  # additions to the data: re-derived from them alone
                snapshot, summary = self._commit(work, root, generation, added=nt_triples(data.nt))
                return snapshot, Reply.json({"graph": name, **summary}, 200)
            if method == "PUT" and not created:
                work.remove_graph(target)
            work.bulk_load(data.nt, format=ox.RdfFormat.N_TRIPLES, to_graph=target)
        snapshot, summary = self._commit(work, root, generation)
        status = 201 if created else 200
        return snapshot, Reply.json({"graph": name, **summary}, status)


def _inserted_data(text: str, base_iri: str | None) -> list | None:
    """The triples an update made only of INSERT DATA adds to the default graph (the data graph
    here, or the data graph named), read by running it on an empty store (INSERT DATA reads
    nothing); None when it also writes another graph."""
    from .store import from_ox_term

    scratch = ox.Store()
    try:
        scratch.update(text, base_iri=base_iri, prefixes=PREFIXES)
    except (SyntaxError, OSError, ValueError, RuntimeError):
        return None  # the full path reports the error as it does for any update
    data = ox.NamedNode(GRAPH_DATA)
    quads = list(scratch)
    if any(q.graph_name != ox.DefaultGraph() and q.graph_name != data for q in quads):
        return None
    return [(from_ox_term(q.subject), from_ox_term(q.predicate), from_ox_term(q.object)) for q in quads]


# --- the server's side ---------------------------------------------------------------------------


class ReplyCache:
    """Replies of the document routes for the current snapshot (it never changes, so neither
    do they), bounded in bytes; emptied when a write swaps the snapshot."""

    def __init__(self, max_bytes: int = 32 * MiB, max_item: int = 4 * MiB):
        self.max_bytes, self.max_item = max_bytes, max_item
        self._items: OrderedDict[tuple, Reply] = OrderedDict()
        self._size = 0

    def get(self, key: tuple) -> Reply | None:
        reply = self._items.get(key)
        if reply is not None:
            self._items.move_to_end(key)
        return reply

    def put(self, key: tuple, reply: Reply) -> None:
        if reply.status != 200 or len(reply.body) > self.max_item or key in self._items:
            return
        self._items[key] = reply
        self._size += len(reply.body)
        while self._size > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self._size -= len(old.body)

    def clear(self) -> None:
        self._items.clear()
        self._size = 0


def read_token(value: str | None = None, file: str | Path | None = None) -> str | None:
    """The write token: given, read from a file (first line), or AIMSGRAPH_WRITE_TOKEN; None when
    there is none (writes are then refused). A token shorter than 16 characters is refused."""
    token = value
    if token is None and file is not None:
        try:
            token = Path(file).read_text(encoding="utf-8").splitlines()[0].strip() if Path(file).stat().st_size else ""
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            raise InputError(f"cannot read the write token file: {exc}") from None
    if token is None:
        token = os.environ.get("AIMSGRAPH_WRITE_TOKEN")
    if token is None:
        return None
    token = token.strip()
    if len(token) < 16:
        raise InputError("the write token must be at least 16 characters")
    return token


class UnknownOrganisation(InputError):
    """A request names no organisation this server holds, or none where it holds several."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Service:
    """The served organisations (one for a register; one or more for a persistent store), each
    with its current snapshot, plus the worker pools and the limits. Requests name the
    organisation with `org`; with one organisation it may be left out.

    Build it with `from_path` (load, reason and validate a register, then write the first
    snapshot), `from_analysis` or `from_analyses`; start its workers with `await start()` (the
    application's lifespan does) and stop them with `await close()`."""

    def __init__(self, snapshot: "Snapshot | dict[str, Snapshot]", *, root: str | None = None, owns_root: bool = False,
                 timeout: float = 30.0, write_timeout: float = 300.0, workers: int = 2, heavy_workers: int = 1,
                 max_body: int = API_LIMITS.max_bytes, max_rows: int | None = 100_000,
                 max_result_bytes: int | None = 64 * MiB, max_queue: int = 64, worker_memory_mb: int | None = None,
                 write_token: str | None = None, allow_service: bool = False):
        self.snapshots: dict[str, Snapshot] = dict(sorted(
            ({snapshot.org: snapshot} if isinstance(snapshot, Snapshot) else snapshot).items()))
        if not self.snapshots:
            raise InputError("nothing to serve: the store holds no organisation")
        self.metas = {org: s.meta() for org, s in self.snapshots.items()}
        self.default_org = next(iter(self.snapshots)) if len(self.snapshots) == 1 else None
        first = next(iter(self.snapshots.values()))
        self.root = root or str(Path(first.directory).parent)
        self.owns_root = owns_root
        self.timeout = timeout
        self.write_timeout = write_timeout
        self.max_body = max_body
        self.max_rows = max_rows
        self.max_result_bytes = max_result_bytes
        self.write_token = write_token
        self.allow_service = allow_service
        self.cache = ReplyCache()
        limits = {"max_rows": max_rows, "max_result_bytes": max_result_bytes, "timeout": timeout}
        from .workers import WorkerPool

        def state_args() -> tuple:  # a worker started later opens a snapshot served then
            return (next(iter(self.snapshots.values())), limits)

        self.pools = {
            "query": WorkerPool("query", workers, WorkerState, state_args, max_queue=max_queue,
                                memory_mb=worker_memory_mb),
            "heavy": WorkerPool("heavy", heavy_workers, WorkerState, state_args, max_queue=max(4, max_queue // 4),
                                nice=10, memory_mb=worker_memory_mb),
        }
        self._write_lock: Any = None
        self._start_lock: Any = None
        self.started = False

    # the organisations

    @property
    def organisations(self) -> list[str]:
        return list(self.snapshots)

    def resolve_org(self, org: str | None) -> str:
        """The organisation a request means; UnknownOrganisation (400 or 404) says which there are."""
        if org is None or org == "":
            if self.default_org is not None:
                return self.default_org
            listed = ", ".join(self.organisations[:20]) + (", …" if len(self.snapshots) > 20 else "")
            raise UnknownOrganisation(f"this server holds {len(self.snapshots)} organisations; name one with "
                                      f"org=ID ({listed})", 400)
        if org not in self.snapshots:
            from .errors import unknown_name

            raise UnknownOrganisation("this server holds " + unknown_name("organisation", shorten(org, 80),
                                                                          self.snapshots), 404)
        return org

    @property
    def snapshot(self) -> "Snapshot":
        """The snapshot of the only (or first) organisation."""
        return self.snapshots[self.default_org if self.default_org is not None else next(iter(self.snapshots))]

    @property
    def meta(self) -> "SnapshotMeta":
        return self.metas[self.snapshot.org]

    def meta_for(self, org: str | None) -> "SnapshotMeta":
        """The analysis of `org`; UnknownOrganisation when the request names none served."""
        return self.metas[self.resolve_org(org)]

    def meta_of(self, org: str | None) -> "SnapshotMeta | None":
        """The analysis of `org`, or None when the request names none served (it fails later)."""
        try:
            return self.meta_for(org)
        except UnknownOrganisation:
            return None

    # building

    @classmethod
    def from_analysis(cls, analysis, source: str = "", root: str | None = None, engine: str = "oxigraph",
                      worker_store: str = "memory", **options: Any) -> "Service":
        owns = root is None
        root = root or tempfile.mkdtemp(prefix="aimsgraph-serve-")
        snapshot = _first_snapshot(analysis, source, root, engine, worker_store, organisation_of(analysis.store) or "")
        return cls(snapshot, root=root, owns_root=owns, **options)

    @classmethod
    def from_analyses(cls, analyses: "dict[str, Any]", source: str = "", root: str | None = None,
                      engine: str = "oxigraph", worker_store: str = "memory", **options: Any) -> "Service":
        """Serve several organisations (org id -> its Analysis), each under `root/org-<id>/`."""
        owns = root is None
        root = root or tempfile.mkdtemp(prefix="aimsgraph-serve-")
        snapshots = {org: _first_snapshot(analysis, source or org, os.path.join(root, f"org-{org}"), engine,
                                          worker_store, org)
                     for org, analysis in analyses.items()}
        return cls(snapshots, root=root, owns_root=owns, **options)

    @classmethod
    def from_path(cls, path: Path | str, as_of: date | None = None, *, owl_engine: str = "auto",
                  store_engine: str = "oxigraph", validator: str = "store", window_months: int = 12,
                  expiring_days: int = 30, root: str | None = None, worker_store: str = "memory",
                  progress=None, ai_act_text: str = "auto", **options: Any) -> "Service":
        from .pipeline import QUIET, analyse

        analysis = analyse(path, as_of, owl_engine=owl_engine, store_engine=store_engine,
                           window_months=window_months, expiring_days=expiring_days, validator=validator,
                           progress=progress or QUIET, ai_act_text=ai_act_text)
        analysis.validation  # noqa: B018 - findings before serving, not in the first request
        return cls.from_analysis(analysis, Path(path).name, root, store_engine, worker_store, **options)

    # running

    async def start(self) -> None:
        """Start the worker pools (each worker opens the snapshot); idempotent."""
        import asyncio

        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.started:
                return
            self._write_lock = asyncio.Lock()
            await asyncio.gather(*(pool.start() for pool in self.pools.values()))
            self.started = True

    async def ensure_started(self) -> None:
        if not self.started:
            await self.start()

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()
        self.started = False
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    async def run(self, task: str, *args: Any, heavy: bool = False, cache: bool = False,
                  timeout: float | None = None, org: str | None = None) -> Reply:
        """Run one task on organisation `org`'s snapshot in a worker within the timeout: its
        Reply, or 503 when the deadline passed (the worker is killed and replaced), the workers are
        all busy with a full queue, or a worker died; 400/404 when `org` names none served."""
        from .workers import PoolBusy, PoolTimeout, WorkerDied

        try:
            org = self.resolve_org(org)
        except UnknownOrganisation as exc:
            return Reply.error(exc.status, str(exc))
        snapshot = self.snapshots[org]
        key = (snapshot.directory, task, _hashable(args))
        if cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        limit = timeout or self.timeout
        pool = self.pools["heavy" if heavy else "query"]
        try:
            reply = await pool.run(task, (snapshot, *args), limit)
        except PoolTimeout:
            return _unavailable(f"the request took longer than the server's limit of {limit:g} s and was stopped",
                                retry=False)
        except PoolBusy as exc:
            return _unavailable(f"the server is at its limit of concurrent work ({exc}); try again shortly")
        except WorkerDied:
            return _unavailable("the request was stopped: its worker ended (past its memory limit?)", retry=False)
        except AimsGraphError as exc:
            return error_reply(exc)
        if cache and snapshot is self.snapshots.get(org):
            self.cache.put(key, reply)
        return reply

    async def run_each(self, task: str, *args: Any, cache: bool = False) -> dict[str, Reply]:
        """The same task on every organisation served, one after the other (the workers run
        them; each organisation's reply is cached like a single one)."""
        return {org: await self.run(task, *args, cache=cache, org=org) for org in self.organisations}

    async def write(self, task: str, *args: Any, org: str | None = None) -> Reply:
        """Run a write on organisation `org`'s store in a heavy worker, on a copy; when it
        succeeds (re-reasoned and validated), swap that organisation to the snapshot it wrote. One
        write at a time; a failed or timed out write changes nothing, and other organisations are
        never touched."""
        from .workers import PoolBusy, PoolTimeout, WorkerDied

        try:
            org = self.resolve_org(org)
        except UnknownOrganisation as exc:
            return Reply.error(exc.status, str(exc))
        async with self._write_lock:
            current = self.snapshots[org]
            root = str(Path(current.directory).parent)
            generation = current.generation + 1
            try:
                result = await self.pools["heavy"].run(task, (current, *args, root, generation),
                                                       self.write_timeout)
            except PoolTimeout:
                result = (None, _unavailable(f"the write took longer than {self.write_timeout:g} s; nothing changed",
                                             retry=False))
            except (PoolBusy, WorkerDied) as exc:
                result = (None, _unavailable(f"the write could not run ({exc}); nothing changed"))
            except AimsGraphError as exc:
                result = (None, error_reply(exc))
            if isinstance(result, Reply):  # the task failed before writing (an error reply)
                snapshot, reply = None, result
            else:
                snapshot, reply = result
            if snapshot is None:
                shutil.rmtree(os.path.join(root, f"gen-{generation}"), ignore_errors=True)
                shutil.rmtree(os.path.join(root, f"gen-{generation}.partial"), ignore_errors=True)
                return reply
            self.snapshots[org] = snapshot
            self.metas[org] = snapshot.meta()
            self.cache.clear()
            self._forget(root, before=current.generation)
            return reply

    def _forget(self, root: str, before: int) -> None:
        """Delete an organisation's snapshots older than generation `before` (the one just
        replaced stays for the tasks still reading it)."""
        for entry in Path(root).glob("gen-*"):
            try:
                number = int(entry.name.split("-", 1)[1].split(".")[0])
            except ValueError:
                continue
            if number < before:
                shutil.rmtree(entry, ignore_errors=True)

    def token_ok(self, header: str | None) -> bool:
        """Whether an Authorization header carries the write token (constant-time compare)."""
        if not self.write_token or not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8"), self.write_token.encode("utf-8"))

    def health(self) -> dict:
        """Liveness, and per organisation what is loaded (at the top level too with one)."""
        pools = {name: {**dataclasses.asdict(pool.stats()), "pids": pool.pids()} for name, pool in self.pools.items()}

        def loaded(org: str) -> dict:
            meta = self.metas[org]
            return {"as_of": meta.as_of.isoformat(), "findings": len(meta.findings),
                    "generation": self.snapshots[org].generation, "triples": sum(meta.graphs.values())}

        single = loaded(self.default_org) if self.default_org is not None else {}
        return {"status": "ok" if self.started else "starting", **single,
                "organisations": {org: loaded(org) for org in self.organisations},
                "workers": pools, "timeout_s": self.timeout, "writes": bool(self.write_token)}


def _hashable(value: Any) -> Any:
    """A cache key for task arguments (a named query's parameters come as a dict)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def _unavailable(message: str, retry: bool = True) -> Reply:
    reply = Reply.error(503, message)
    if retry:
        reply.headers["Retry-After"] = "1"
    return reply


def organisation_of(store: Store) -> str | None:
    """The register id of the organisation a store's data describes, when it names exactly one."""
    rows = store.query("SELECT DISTINCT ?id WHERE { ?o a aims:Organization ; aims:registerId ?id }").rows
    return str(rows[0]["id"]) if len(rows) == 1 else None


def _first_snapshot(analysis, source: str, root: str, engine: str, worker_store: str, org: str) -> Snapshot:
    native = analysis.store.native if isinstance(analysis.store, OxigraphStore) else _native_copy(analysis.store)
    return write_snapshot(native, analysis_meta(analysis, source), root, 0, engine, worker_store, org)


def _native_copy(store: Store) -> ox.Store:
    """Any store's graphs in a new pyoxigraph store (the snapshot is always written by pyoxigraph)."""
    native = ox.Store()
    for graph in store.graphs():
        triples = store.triples(graph)
        if triples:
            import rdflib

            g = rdflib.Graph()
            for t in triples:
                g.add(t)
            native.bulk_load(g.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES,
                             to_graph=ox.NamedNode(graph))
    return native
