"""`aimsgraph` command line: thin wrappers over the pipeline functions.

Exit codes (register.md): 0 read and no violation, 1 read with violations, 2 input unreadable.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import __version__
from .errors import AimsGraphError, InputError, QueryError
from .load import load_packaged, read_input
from .pipeline import analyse, classify, filter_findings, gaps_document
from .query import named_queries, rows_as_text, run_named
from .reason import OWL_ENGINES
from .render import classification_text, findings_markdown, findings_text, to_json
from .store import open_store
from .validate import readiness, report_turtle

app = typer.Typer(help="Knowledge graph and rule inference for ISO/IEC 42001 and the EU AI Act.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
err = Console(stderr=True)

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


class GapsFormat(str, Enum):
    json = "json"
    text = "text"
    markdown = "markdown"
    turtle = "turtle"


class ClassifyFormat(str, Enum):
    json = "json"
    text = "text"


class Severity(str, Enum):
    violation = "violation"
    warning = "warning"
    info = "info"


def _date(value: Optional[str]) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date YYYY-MM-DD") from None


AsOf = Annotated[Optional[str], typer.Option("--as-of", help="Judge time-dependent rules at this date (YYYY-MM-DD; default today).")]
OwlEngine = Annotated[str, typer.Option("--owl-engine", help=f"OWL 2 RL engine: {', '.join(OWL_ENGINES)}.")]
StoreEngine = Annotated[str, typer.Option("--store", help="Store: oxigraph (embedded, default), rdflib (reference), or the URL of a SPARQL 1.1 server whose default graph is the union of its graphs (e.g. http://127.0.0.1:7878 for `oxigraph serve --union-default-graph`). Its named graphs are replaced.")]
Window = Annotated[int, typer.Option("--window-months", min=1, help="Look-back window for audits, reviews and training.")]
Expiring = Annotated[int, typer.Option("--expiring-days", min=0, help="Evidence expiring within this many days is flagged as expiring.")]


@contextlib.contextmanager
def _progress(message: str):
    """A spinner on stderr for steps that can take more than a second (only on a terminal)."""
    if err.is_terminal:
        with err.status(message):
            yield
    else:
        yield


@contextlib.contextmanager
def _input_errors():
    """Turn unreadable input into a message on stderr and exit code 2."""
    try:
        yield
    except InputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (QueryError, AimsGraphError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _analyse(path: Path, as_of, owl_engine, store, window, expiring):
    with _input_errors(), _progress("Loading, reasoning and validating…"):
        return analyse(path, _date(as_of), owl_engine=owl_engine, store_engine=store,
                       window_months=window, expiring_days=expiring)


def _exit_for(violations: int) -> None:
    raise typer.Exit(EXIT_VIOLATIONS if violations else EXIT_OK)


@app.command()
def convert(
    register: Annotated[Path, typer.Argument(help="Register: a YAML file or a folder of CSV files.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of standard output.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="turtle, nt, json-ld or xml.")] = "turtle",
) -> None:
    """Turn a register into RDF under the aimsgraph ontology (exit 2 on any register error)."""
    if fmt not in ("turtle", "nt", "json-ld", "xml"):
        raise typer.BadParameter("choose turtle, nt, json-ld or xml", param_hint="--format")
    with _input_errors():
        graph = read_input(register)
    text = graph.serialize(format=fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(graph)} triples to {output}")
    else:
        sys.stdout.write(text)


@app.command()
def gaps(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    as_of: AsOf = None,
    fmt: Annotated[GapsFormat, typer.Option("--format", help="json (spec), text, markdown or turtle (SHACL report).")] = GapsFormat.text,
    severity: Annotated[Optional[Severity], typer.Option(help="Only findings of this severity or worse.")] = None,
    rule: Annotated[Optional[str], typer.Option(help="Only findings of this rule id.")] = None,
    system: Annotated[Optional[str], typer.Option(help="Only findings about this AI system (id).")] = None,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
    window_months: Window = 12,
    expiring_days: Expiring = 30,
) -> None:
    """Check conformity with ISO/IEC 42001 and the EU AI Act; exit 1 when a violation is found."""
    analysis = _analyse(register, as_of, owl_engine, store, window_months, expiring_days)
    findings = filter_findings(analysis.validation.findings, severity.value if severity else None, rule, system,
                               analysis.store)
    as_of_text = analysis.params.as_of.isoformat()
    if fmt is GapsFormat.json:
        sys.stdout.write(to_json(gaps_document(analysis, findings)))
    elif fmt is GapsFormat.markdown:
        sys.stdout.write(findings_markdown(findings, as_of_text, readiness(analysis.store, analysis.validation.findings)))
    elif fmt is GapsFormat.turtle:
        sys.stdout.write(report_turtle(analysis.validation))
    else:
        sys.stdout.write(findings_text(findings, as_of_text, readiness(analysis.store, analysis.validation.findings)))
    _exit_for(analysis.validation.violations)


@app.command("classify")
def classify_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    fmt: Annotated[ClassifyFormat, typer.Option("--format", help="json (spec) or text.")] = ClassifyFormat.text,
    as_of: AsOf = None,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
) -> None:
    """EU AI Act category, basis, roles and obligations of each AI system, derived by the rules."""
    analysis = _analyse(register, as_of, owl_engine, store, 12, 30)
    doc = classify(analysis.store)
    sys.stdout.write(to_json(doc) if fmt is ClassifyFormat.json else classification_text(doc))
    _exit_for(analysis.validation.violations)


@app.command()
def queries() -> None:
    """List the named queries with their questions and parameters."""
    for q in named_queries().values():
        params = ", ".join(f"{k} ({v})" for k, v in q.params.items()) or "none"
        sys.stdout.write(f"{q.name}\n    {q.question}\n    parameters: {params}\n    columns: {q.columns}\n")


@app.command()
def query(
    name: Annotated[Optional[str], typer.Argument(help="A named query (see `aimsgraph queries`).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", exists=True, dir_okay=False, readable=True, help="Run the SPARQL query in this file instead.")] = None,
    register: Annotated[Optional[Path], typer.Option("--register", "-r", help="Register or RDF to query; default: the shipped catalogues alone.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="Parameter as name=value (repeatable).")] = None,
    as_of: AsOf = None,
    fmt: Annotated[ClassifyFormat, typer.Option("--format", help="json or text (tab-separated).")] = ClassifyFormat.text,
    store_engine: StoreEngine = "oxigraph",
) -> None:
    """Run a named SPARQL query or a query file over the reasoned graph."""
    if (name is None) == (file is None):
        raise typer.BadParameter("give a query name or --file, not both")
    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"'{item}' is not name=value", param_hint="--param")
        params[key.strip()] = value
    with _input_errors():
        if register is not None:
            analysis = _analyse(register, as_of, "reasonable", store_engine, 12, 30)
            store = analysis.store
        else:
            store = open_store(store_engine)
            load_packaged(store)
        if file is not None:
            from .query import term_from_text

            from .store import forbid_network

            text = file.read_text(encoding="utf-8")
            forbid_network(text)  # a user's query file must not reach out (SERVICE) unasked
            result = store.query(text, {k: term_from_text(v) for k, v in params.items()})
        else:
            result = run_named(store, name, params)
    if result.kind == "ask":
        sys.stdout.write(to_json({"boolean": result.boolean}) if fmt is ClassifyFormat.json else f"{result.boolean}\n")
        return
    if result.kind == "construct":
        import rdflib

        g = rdflib.Graph()
        for t in result.triples:
            g.add(t)
        sys.stdout.write(g.serialize(format="turtle"))
        return
    rows = rows_as_text(result)
    if fmt is ClassifyFormat.json:
        sys.stdout.write(to_json({"columns": result.vars, "rows": rows}))
    else:
        sys.stdout.write("\t".join(result.vars) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(row.get(v, "") for v in result.vars) + "\n")


@app.command()
def serve(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file to serve.")],
    as_of: AsOf = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    allow_service: Annotated[bool, typer.Option("--allow-service", help="Let SPARQL queries use SERVICE (network access).")] = False,
    owl_engine: OwlEngine = "reasonable",
) -> None:
    """Serve findings, classification, named queries and a SPARQL 1.1 endpoint over HTTP."""
    try:
        import uvicorn

        from .serve import Service, create_app
    except ImportError:
        err.print("error: the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with _input_errors(), _progress("Loading, reasoning and validating…"):
        service = Service.from_path(register, _date(as_of), owl_engine=owl_engine, allow_service=allow_service)
    err.print(f"serving {register} as of {service.analysis.params.as_of} on http://{host}:{port} "
              f"(SPARQL endpoint /sparql, API docs /docs)")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("explain")
def explain_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    subject: Annotated[str, typer.Argument(help="Register id, CURIE (euaia:art9) or IRI.")],
    predicate: Annotated[Optional[str], typer.Argument(help="CURIE or IRI; default: every derived fact about SUBJECT.")] = None,
    obj: Annotated[Optional[str], typer.Argument(metavar="OBJECT", help="Register id, CURIE, IRI or literal value.")] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", help="text (tree) or json (same tree as the API).")] = ExplainFormat.text,
    as_of: AsOf = None,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
    window_months: Window = 12,
    expiring_days: Expiring = 30,
) -> None:
    """Why a derived fact holds: the rule or OWL axiom that produced it and its premises, as a tree."""
    from .explain import explain, register_names, render_text

    analysis = _analyse(register, as_of, owl_engine, store, window_months, expiring_days)
    with _input_errors():
        trees = explain(analysis.store, analysis.reasoning, subject, predicate, obj)
    if fmt is ExplainFormat.json:
        sys.stdout.write(to_json({"facts": [tree.as_json() for tree in trees]}))
    else:
        sys.stdout.write(render_text(trees, register_names(analysis.store)))
    _exit_for(analysis.validation.violations)


@app.command()
def docs(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the HTML pages into.")],
) -> None:
    """Write HTML documentation of the ontology, catalogues and crosswalk (offline); exit 1 when
    the metadata shapes find a gap in the shipped ontology or catalogues."""
    from .docs import metadata_report, write_docs

    problems = metadata_report()
    for p in problems:
        where = f"{p.focus} {p.path}" if p.path else p.focus
        err.print(f"metadata: {where}: {p.message}", markup=False, soft_wrap=True)
    files = write_docs(out)
    sys.stdout.write(f"wrote {len(files)} pages to {out}\n")
    _exit_for(len(problems))


class TraceFormat(str, Enum):
    text = "text"
    json = "json"


class SoAFormat(str, Enum):
    csv = "csv"
    xlsx = "xlsx"
    html = "html"


@app.command("trace")
def trace_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    ident: Annotated[str, typer.Argument(metavar="ID", help="A risk, AI system, control (A.7.4, FS-FAIR-01), evidence item, article (euaia:art10) or clause (iso42001:8.1).")],
    as_of: AsOf = None,
    graphml: Annotated[Optional[Path], typer.Option("--graphml", help="Also write the trace as GraphML here.")] = None,
    dot: Annotated[Optional[Path], typer.Option("--dot", help="Also write the trace as Graphviz DOT here.")] = None,
    svg: Annotated[Optional[Path], typer.Option("--svg", help="Also draw the trace as SVG here (no Graphviz needed).")] = None,
    png: Annotated[Optional[Path], typer.Option("--png", help="Also draw the trace as PNG here (needs Graphviz 'dot').")] = None,
    fmt: Annotated[TraceFormat, typer.Option("--format", help="text (tree) or json (nodes and edges).")] = TraceFormat.text,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
) -> None:
    """The chains an entry rests on (risk -> treatment -> control -> evidence, article or clause ->
    control -> evidence, system -> risks and obligations -> ...) as a tree; for a control or
    evidence item also what rests on it. Gaps (expired evidence, controls not effective) are marked ✗."""
    from . import trace as tr

    if png is not None:
        with _input_errors():
            tr.png_renderer()  # fail before the analysis, not after
    analysis = _analyse(register, as_of, owl_engine, store, 12, 30)
    with _input_errors():
        graph = tr.trace_graph(analysis.store)
        root = tr.resolve(graph, ident)
        sub = tr.trace(graph, root)
        if png is not None:
            tr.write_png(sub, png)
    if graphml is not None:
        tr.write_graphml(sub, graphml)
    if dot is not None:
        dot.write_text(tr.to_dot(sub), encoding="utf-8")
    if svg is not None:
        svg.write_text(tr.to_svg(sub, f"Trace of {root} at {analysis.params.as_of.isoformat()}"), encoding="utf-8")
    if fmt is TraceFormat.json:
        sys.stdout.write(to_json({"root": root, "nodes": [{"id": n, **d} for n, d in sorted(sub.nodes(data=True))],
                                  "edges": [{"source": u, "relation": d["relation"], "target": v}
                                            for u, v, d in sorted(sub.edges(data=True))]}))
    else:
        sys.stdout.write(tr.trace_text(graph, root))
    _exit_for(analysis.validation.violations)


@app.command("impact")
def impact_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    ident: Annotated[str, typer.Argument(metavar="ID", help="The control that fails (A.7.4, FS-FAIR-01) or the evidence item that lapses (EV-16).")],
    as_of: AsOf = None,
    fmt: Annotated[TraceFormat, typer.Option("--format", help="text or json.")] = TraceFormat.text,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
) -> None:
    """If a control fails (or an evidence item lapses), which risks, AI systems, EU AI Act
    articles and ISO/IEC 42001 clauses lose cover; ✗ marks those left with no other effective control."""
    from .trace import impact, impact_text, resolve, trace_graph

    analysis = _analyse(register, as_of, owl_engine, store, 12, 30)
    with _input_errors():
        graph = trace_graph(analysis.store)
        result = impact(graph, resolve(graph, ident))
    sys.stdout.write(to_json(result.as_json()) if fmt is TraceFormat.json else impact_text(result))
    _exit_for(analysis.validation.violations)


@app.command("hotspots")
def hotspots_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    as_of: AsOf = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Only the first N controls.")] = None,
    fmt: Annotated[TraceFormat, typer.Option("--format", help="text or json.")] = TraceFormat.text,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
) -> None:
    """Controls ranked by the coverage they carry (risks, systems, articles and clauses resting on
    them; ties by betweenness centrality): where an auditor samples first."""
    from .trace import hotspots, hotspots_text, trace_graph

    analysis = _analyse(register, as_of, owl_engine, store, 12, 30)
    spots = hotspots(trace_graph(analysis.store), top)
    sys.stdout.write(to_json({"hotspots": [h.as_json() for h in spots]}) if fmt is TraceFormat.json
                     else hotspots_text(spots))
    _exit_for(analysis.validation.violations)


@app.command("soa")
def soa_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    as_of: AsOf = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here (needed for xlsx); default standard output.")] = None,
    fmt: Annotated[Optional[SoAFormat], typer.Option("--format", help="csv, xlsx or html; default from the -o suffix, else csv.")] = None,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
) -> None:
    """Statement of Applicability: all 38 Annex A controls (missing rows flagged) and the
    organisation's own controls, with applicability, justification, status, owner, linked risks,
    evidence and its freshness at the as-of date."""
    from .soa import export_soa, soa_csv, soa_page_html, soa_rows

    suffix = output.suffix.lstrip(".").lower() if output is not None else ""
    chosen = fmt.value if fmt else (suffix if suffix in ("csv", "xlsx", "html") else "csv")
    if chosen == "xlsx" and output is None:
        raise typer.BadParameter("xlsx needs a file: add -o FILE.xlsx", param_hint="--format")
    analysis = _analyse(register, as_of, owl_engine, store, 12, 30)
    with _input_errors():
        if output is None:
            rows = soa_rows(analysis.store)
            sys.stdout.write(soa_csv(rows) if chosen == "csv" else soa_page_html(rows, analysis.params.as_of))
        else:
            rows = export_soa(analysis.store, output, chosen, analysis.params.as_of)
            err.print(f"wrote {len(rows)} SoA rows to {output}")
    _exit_for(analysis.validation.violations)


@app.command("report")
def report_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")],
    as_of: AsOf = None,
    owl_engine: OwlEngine = "reasonable",
    store: StoreEngine = "oxigraph",
    window_months: Window = 12,
    expiring_days: Expiring = 30,
) -> None:
    """The auditor's report: one self-contained HTML file with readiness per clause, EU AI Act
    classification and obligation cover, findings by clause, the SoA and a risk -> control ->
    evidence picture per AI system; exit 1 when a violation is found."""
    from .report import write_report

    analysis = _analyse(register, as_of, owl_engine, store, window_months, expiring_days)
    with _input_errors():
        write_report(analysis, output, register.name)
    err.print(f"wrote the report to {output}")
    _exit_for(analysis.validation.violations)


def example_register() -> Path:
    """The FinSecure example: shipped inside the wheel, or in the source tree when run from a checkout."""
    from .resources import data_path

    return data_path("examples") / "finsecure" / "register.yaml"


@app.command()
def demo(as_of: Annotated[str, typer.Option("--as-of", help="Judge at this date.")] = "2026-01-31") -> None:
    """Run the whole pipeline on the FinSecure example and print a summary."""
    from .demo import demo_summary

    path = example_register()
    analysis = _analyse(path, as_of, "reasonable", "oxigraph", 12, 30)
    sys.stdout.write(demo_summary(analysis, path))


def version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"aimsgraph {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version.")] = False,
) -> None:
    """aimsgraph: model, reason over and check an AI management system."""


def main() -> None:
    app()
