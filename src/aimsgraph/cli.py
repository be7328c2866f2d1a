"""`aimsgraph` command line: thin wrappers over the pipeline functions.

Exit codes (register.md, "Exit codes"): `gaps` exits 0 when it read the input and found no
violation, 1 when it found one, 2 when the input could not be read; `--fail-on` moves the bar
(`warning`, `never`), and `report` takes it too (default `never`). Commands that answer or
export (classify, query, trace, impact, hotspots, soa, explain, convert, docs) exit 0 when they
wrote their answer and 2 on bad input. Every error goes to standard error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import __version__
from .errors import AimsGraphError, InputError
from .load import load_packaged, read_input
from .pipeline import (Analysis, Progress, analyse, analyse_stored, check_filters, classify, filter_findings,
                       gaps_text)
from .query import named_queries, named_query, rows_as_text, run_named_text
from .acttext import CHOICES as ACT_TEXT_CHOICES
from .owl import OWL_ENGINES
from .render import classification_text, findings_markdown, findings_text, to_json
from .namespaces import GRAPH_DATA
from .store import DIALECTS, open_store
from .validate import VALIDATORS, readiness, report_turtle

# Plain (click) help: rich panels in this typer release print flags as if they took a <bool>.
app = typer.Typer(help="Knowledge graph and rule inference for ISO/IEC 42001 and the EU AI Act.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
err = Console(stderr=True)

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def choices(name: str, *values: str) -> type[Enum]:
    """A closed list of option values (typer shows and checks them)."""
    return Enum(name, {v: v for v in values}, type=str)


FailOn = choices("FailOn", "violation", "warning", "never")
GapsFormat = choices("GapsFormat", "json", "text", "markdown", "turtle")
AnswerFormat = choices("AnswerFormat", "json", "text")
Severity = choices("Severity", "violation", "warning", "info")
SoAFormat = choices("SoAFormat", "csv", "xlsx", "html")
ActTextChoice = choices("ActTextChoice", *ACT_TEXT_CHOICES)


# --- the options every analysing command shares, declared once ----------------------------------


@dataclass(frozen=True)
class RunOptions:
    """How a register is analysed: the date it is judged at, the store and engines, the windows."""

    as_of: date
    store: str = "oxigraph"
    store_dir: str | None = None
    org: str | None = None
    store_auth: str | None = None
    store_timeout: float = 120.0
    store_dialect: str | None = None
    owl_engine: str = "auto"
    validator: str = "store"
    window_months: int = 12
    expiring_days: int = 30
    ai_act_text: str = "auto"

    @property
    def persistent(self) -> bool:
        """Whether the analysis lives in a store that outlasts the command (on disk or a server)."""
        return self.store_dir is not None or self.store.startswith(("http://", "https://"))


def _parse_date(value: Optional[str]) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date YYYY-MM-DD", param_hint="--as-of") from None


_RUN_PARAMETERS = [
    inspect.Parameter("as_of", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option("--as-of", metavar="YYYY-MM-DD",
                                    help="Judge time-dependent rules at this date (default: today).")]),
    inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, default="oxigraph", annotation=Annotated[
        str, typer.Option("--store", metavar="ENGINE|URL", help=(
            "oxigraph (embedded, in memory, default), rdflib (reference), or the URL of a SPARQL 1.1 server "
            "(e.g. http://127.0.0.1:7878 for `oxigraph serve`), where the analysis is kept in named graphs "
            "of its own and each request names the graphs it reads."))]),
    inspect.Parameter("store_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option("--store-dir", metavar="DIR", help=(
            "Keep the analysis in an on-disk store in DIR (created when missing): `load` writes it, the other "
            "commands read it when no REGISTER is given."))]),
    inspect.Parameter("org", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option("--org", metavar="ID", help=(
            "The organisation in a store that holds several (default: the register's, or the store's only one)."))]),
    inspect.Parameter("store_auth", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option("--store-auth", metavar="CREDENTIALS", envvar="AIMSGRAPH_STORE_AUTH", help=(
            "For --store URL: 'Bearer TOKEN', 'Basic BASE64', user:password (basic) or 'Digest user:password' "
            "(or $AIMSGRAPH_STORE_AUTH)."))]),
    inspect.Parameter("store_timeout", inspect.Parameter.KEYWORD_ONLY, default=120.0, annotation=Annotated[
        float, typer.Option("--store-timeout", min=1, metavar="SECONDS", help="For --store URL: seconds one request may take.")]),
    inspect.Parameter("store_dialect", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str], typer.Option("--store-dialect", metavar="SERVER", help=(
            f"For --store URL: the server's workarounds ({', '.join(DIALECTS)}; docs/servers.md), "
            "none for plain SPARQL 1.1 such as Oxigraph server (or $AIMSGRAPH_STORE_DIALECT)."))]),
    inspect.Parameter("owl_engine", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation=Annotated[
        str, typer.Option("--owl-engine", metavar="ENGINE", help=(
            f"OWL 2 RL engine: {', '.join(OWL_ENGINES)}; auto runs the compiled rules in the store (sparql), "
            "except on the rdflib store (reasonable); owlrl is the reference."))]),
    inspect.Parameter("validator", inspect.Parameter.KEYWORD_ONLY, default="store", annotation=Annotated[
        str, typer.Option("--validator", metavar="ENGINE", help=(
            f"SHACL validator: {', '.join(VALIDATORS)}; store runs the shapes compiled to SPARQL in the store, "
            "pyshacl is the reference."))]),
    inspect.Parameter("window_months", inspect.Parameter.KEYWORD_ONLY, default=12, annotation=Annotated[
        int, typer.Option("--window-months", min=1, help="Look-back window for audits, reviews and training.")]),
    inspect.Parameter("expiring_days", inspect.Parameter.KEYWORD_ONLY, default=30, annotation=Annotated[
        int, typer.Option("--expiring-days", min=0, help="Evidence expiring within this many days counts as expiring.")]),
    inspect.Parameter("ai_act_text", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation=Annotated[
        ActTextChoice, typer.Option("--ai-act-text", help=(
            "The text of the EU AI Act to apply: original (Regulation (EU) 2024/1689 as adopted), amended "
            "(as the shipped catalogue records its amendment), auto (the text in force at --as-of)."))]),
]


def with_run_options(command: Callable) -> Callable:
    """Give a command the shared run options (as-of, store, engines, windows): its own signature
    plus those, gathered into one `run: RunOptions` argument before it is called."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "run"]
    names = [p.name for p in _RUN_PARAMETERS]

    @functools.wraps(command)
    def wrapper(**kwargs):
        chosen = {name: kwargs.pop(name) for name in names}
        run = RunOptions(_parse_date(chosen.pop("as_of")), **chosen)
        return command(run=run, **kwargs)

    wrapper.__signature__ = inspect.Signature(own + _RUN_PARAMETERS)  # type: ignore[attr-defined]
    return wrapper


RegisterArg = Annotated[Optional[Path], typer.Argument(metavar="[REGISTER]", help=(
    "Register (YAML file or folder of CSV files) or RDF file; leave it out to use what a persistent "
    "store holds (--store-dir DIR or --store URL)."))]
FailOnOption = Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding of this severity or worse is found (never: always 0).")]


# --- progress and errors -----------------------------------------------------------------------


class TerminalProgress(Progress):
    """On a terminal: a spinner naming the stage, what it has done so far and the time it has
    taken, then one line per finished stage. Elsewhere (pipes, CI logs): nothing."""

    def __init__(self, console: Console):
        self.console = console

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Callable[[str], None]]:
        if not self.console.is_terminal:
            yield lambda note: None
            return
        from rich.progress import Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn

        started = time.perf_counter()
        last = {"note": ""}
        with Bar(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                 console=self.console, transient=True) as bar:
            task = bar.add_task(f"{name}…")

            def note(text: str) -> None:
                last["note"] = text
                bar.update(task, description=f"{name}: {text}")

            yield note
        self.console.print(f"{name:<9} {last['note']:<44} {time.perf_counter() - started:7.2f} s",
                           highlight=False, markup=False)


@contextlib.contextmanager
def input_errors() -> Iterator[None]:
    """Unreadable input, unknown names and store failures: a message on stderr and exit code 2."""
    try:
        yield
    except AimsGraphError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


_open_analyses: list[Analysis] = []  # released when the command ends (temporary graphs in a store)


def open_run_store(run: RunOptions):
    with input_errors():
        return open_store(run.store, run.store_dir, auth=run.store_auth, timeout=run.store_timeout,
                          dialect=run.store_dialect)


def run_analysis(register: Path | None, run: RunOptions, store=None) -> Analysis:
    """The register analysed (and, in a persistent store, kept as its organisation's current
    version), or with no register what the persistent store holds."""
    store = store or open_run_store(run)
    options = dict(owl_engine=run.owl_engine, validator=run.validator, window_months=run.window_months,
                   expiring_days=run.expiring_days, progress=TerminalProgress(err), org=run.org,
                   ai_act_text=str(getattr(run.ai_act_text, "value", run.ai_act_text)))
    with input_errors():
        if register is not None:
            analysis = analyse(register, run.as_of, store=store, **options)
        else:
            analysis = analyse_stored(store, run.as_of, **options)
    _open_analyses.append(analysis)
    return analysis


def split_register(run: RunOptions, register: str | None, *rest: str | None) -> tuple[Path | None, list]:
    """For commands with further arguments (trace ID, explain SUBJECT …): REGISTER may be left
    out when a persistent store is given; the first argument is the register when it names an
    existing file or folder, or when no store is given."""
    stored = run.persistent
    if register is not None and (Path(register).exists() or not stored):
        return Path(register), list(rest)
    shifted = [register, *rest]
    if shifted[-1] is not None:
        raise typer.BadParameter(f"'{shifted[0]}' is no file or folder, and with a store there is one argument too many")
    return None, shifted[:-1]


def fail_on_exit(analysis: Analysis, fail_on: FailOn) -> None:
    """Exit 1 when the findings reach the `--fail-on` severity, else 0."""
    worst = {f.severity for f in analysis.validation.findings}
    failing = {FailOn.violation: {"violation"}, FailOn.warning: {"violation", "warning"}, FailOn.never: set()}
    raise typer.Exit(EXIT_FINDINGS if worst & failing[fail_on] else EXIT_OK)


# --- commands ----------------------------------------------------------------------------------


@app.command()
def convert(
    register: Annotated[Path, typer.Argument(metavar="REGISTER", help="Register: a YAML file or a folder of CSV files.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of standard output.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="turtle, nt, json-ld or xml.")] = "turtle",
) -> None:
    """Turn a register into RDF under the aimsgraph ontology (loads only; exit 2 on any register error)."""
    if fmt not in ("turtle", "nt", "json-ld", "xml"):
        raise typer.BadParameter("choose turtle, nt, json-ld or xml", param_hint="--format")
    with input_errors():
        graph = read_input(register)
    text = graph.serialize(format=fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {len(graph)} triples to {output}")
    else:
        sys.stdout.write(text)


@app.command("load")
@with_run_options
def load_command(
    register: Annotated[Path, typer.Argument(metavar="REGISTER", help="Register (YAML file or folder of CSV files) or RDF file.")],
    run: RunOptions,
) -> None:
    """Load a register into a persistent store (--store-dir DIR or --store URL) and reason over it:
    all or nothing, the organisation's previous analysis stays until the new one is complete.
    Later commands given no REGISTER answer from it."""
    from . import workspace

    store = open_run_store(run)
    if not store.persistent:
        raise typer.BadParameter("load keeps the analysis in a persistent store: give --store-dir DIR or --store URL",
                                 param_hint="--store-dir")
    started = time.perf_counter()
    analysis = run_analysis(register, run, store)
    version = workspace.current(store, run.org or _org_of(analysis))
    reasoning = analysis.reasoning
    analysis.validation  # validated once now and kept: later commands and `add` start from it
    from .incremental import rule_forms

    rule_forms()  # the rules as `add` reads them, parsed now (once per version), not by the first add
    err.print(f"loaded '{version.org}': {analysis.store.count(GRAPH_DATA):,} triples, "
              f"{reasoning.owl_triples + reasoning.rule_triples:,} inferred at {analysis.params.as_of}, "
              f"version {version.data} ({time.perf_counter() - started:.1f} s){_traffic(store)}", highlight=False)


@app.command("add")
@with_run_options
def add_command(
    source: Annotated[Path, typer.Argument(metavar="FILE", help=(
        "RDF file (Turtle, N-Triples, …) of new data, e.g. one evidence item; or the register again "
        "with entries added."))],
    run: RunOptions,
) -> None:
    """Add new data to an organisation's analysis in a persistent store (--store-dir DIR or --store
    URL), re-deriving only what it touches: the OWL 2 RL closure from the new triples, the rules by
    delete and re-derive. All or nothing; data that cannot be added this way (blank nodes, schema
    triples, a register that leaves entries out) is reasoned from scratch as load does."""
    from .pipeline import add_stored

    store = open_run_store(run)
    started = time.perf_counter()
    with input_errors():
        analysis, report = add_stored(store, source, org=run.org, progress=TerminalProgress(err),
                                      validator=run.validator, owl_engine=run.owl_engine)
    _open_analyses.append(analysis)
    how = (f"reasoned from scratch ({report.fallback})" if report.fallback else
           f"{len(report.added):,} triples added and {len(report.removed):,} removed by re-deriving only what "
           f"they touch, {report.rule_runs} rule runs")
    err.print(f"added {report.data_added:,} new triples: {how} ({time.perf_counter() - started:.2f} s)"
              f"{_traffic(store)}", highlight=False, soft_wrap=True)


def _org_of(analysis: Analysis) -> str | None:
    rows = analysis.store.query("SELECT ?id WHERE { ?o a aims:Organization ; aims:registerId ?id }").rows
    return str(rows[0]["id"]) if len(rows) == 1 else None


def _traffic(store) -> str:
    """What crossed the network to a SPARQL server, for the user to see that the work ran there."""
    if not hasattr(store, "bytes_sent"):
        return ""
    return (f"; {store.requests} requests, {store.bytes_sent:,} bytes sent, "
            f"{store.bytes_received:,} bytes received")


@app.command("orgs")
@with_run_options
def orgs_command(
    run: RunOptions,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="json or text.")] = AnswerFormat.text,
) -> None:
    """The organisations a persistent store holds, with their current versions."""
    from . import workspace

    store = open_run_store(run)
    with input_errors():
        versions = workspace.current_versions(store) if store.persistent else {}
    rows = [{"org": v.org, "data_version": v.data, "reasoning_version": v.reasoning} for _, v in sorted(versions.items())]
    if fmt is AnswerFormat.json:
        sys.stdout.write(to_json({"organisations": rows}))
    else:
        for row in rows:
            sys.stdout.write(f"{row['org']}\tdata {row['data_version']}\treasoning {row['reasoning_version']}\n")


@app.command()
@with_run_options
def gaps(
    run: RunOptions,
    register: RegisterArg = None,
    fmt: Annotated[GapsFormat, typer.Option("--format", help="json (spec), text, markdown or turtle (SHACL report).")] = GapsFormat.text,
    severity: Annotated[Optional[Severity], typer.Option(help="Only findings of this severity or worse.")] = None,
    rule: Annotated[Optional[str], typer.Option(help="Only findings of this rule id.")] = None,
    system: Annotated[Optional[str], typer.Option(help="Only findings about this AI system (id).")] = None,
    fail_on: FailOnOption = FailOn.violation,
) -> None:
    """Check conformity with ISO/IEC 42001 and the EU AI Act; exit 1 when a violation is found."""
    analysis = run_analysis(register, run)
    with input_errors():
        check_filters(analysis.store, severity.value if severity else None, rule, system)
    validation = analysis.validation
    findings = filter_findings(validation.findings, severity.value if severity else None, rule, system,
                               analysis.store)
    as_of_text = analysis.params.as_of.isoformat()
    if fmt is GapsFormat.json:
        sys.stdout.write(gaps_text(analysis, findings if severity or rule or system else None))
    elif fmt is GapsFormat.markdown:
        sys.stdout.write(findings_markdown(findings, as_of_text, readiness(analysis.store, validation.findings)))
    elif fmt is GapsFormat.turtle:
        sys.stdout.write(report_turtle(validation))
    else:
        sys.stdout.write(findings_text(findings, as_of_text, readiness(analysis.store, validation.findings)))
    fail_on_exit(analysis, fail_on)


@app.command("classify")
@with_run_options
def classify_command(
    run: RunOptions,
    register: RegisterArg = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="json (spec) or text.")] = AnswerFormat.text,
) -> None:
    """EU AI Act category, basis, roles and obligations of each AI system, derived by the rules."""
    analysis = run_analysis(register, run)
    doc = classify(analysis.store)
    sys.stdout.write(to_json(doc) if fmt is AnswerFormat.json else classification_text(doc))


@app.command()
def queries() -> None:
    """List the named queries with their questions and parameters."""
    for q in named_queries().values():
        params = ", ".join(f"{k} ({v})" for k, v in q.params.items()) or "none"
        sys.stdout.write(f"{q.name}\n    {q.question}\n    parameters: {params}\n    columns: {q.columns}\n"
                         f"    reads: {q.reads}\n")


def _parse_params(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"'{item}' is not name=value", param_hint="--param")
        params[key.strip()] = value
    return params


def _write_result(result, fmt: AnswerFormat) -> None:
    if result.kind == "ask":
        sys.stdout.write(to_json({"boolean": result.boolean}) if fmt is AnswerFormat.json else f"{result.boolean}\n")
        return
    if result.kind == "construct":
        import rdflib

        g = rdflib.Graph()
        for t in result.triples:
            g.add(t)
        sys.stdout.write(g.serialize(format="turtle"))
        return
    _write_rows(result.vars, [[row.get(v) for v in result.vars] for row in rows_as_text(result)], fmt)


def _write_rows(columns: list[str], rows: list[list[str | None]], fmt: AnswerFormat) -> None:
    """Rows of text (None for unbound) as JSON (a row names its bound columns) or tab-separated."""
    if fmt is AnswerFormat.json:
        sys.stdout.write(to_json({"columns": columns, "rows": [
            {c: v for c, v in zip(columns, row) if v is not None} for row in rows]}))
    else:
        lines = ["\t".join(columns)]
        lines.extend("\t".join(v or "" for v in row) for row in rows)
        sys.stdout.write("\n".join(lines) + "\n")


@app.command()
@with_run_options
def query(
    run: RunOptions,
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A named query (see `aimsgraph queries`).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", dir_okay=False, help="Run the SPARQL query in this file instead.")] = None,
    register: Annotated[Optional[Path], typer.Option("--register", "-r", help="Register or RDF to query; default: the shipped catalogues alone.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="Parameter as name=value (repeatable).")] = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="json or text (tab-separated).")] = AnswerFormat.text,
) -> None:
    """Run a named SPARQL query or a query file over the reasoned graph."""
    if (name is None) == (file is None):
        raise typer.BadParameter("give a query name or --file, not both")
    params = _parse_params(param)
    stored = run.persistent
    with input_errors():
        text = None
        if file is not None:
            try:
                text = file.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{file}: cannot read the query file: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise InputError(f"{file}: the query file is not UTF-8 text") from None
        else:
            named = named_query(name)
            named.bindings(params)  # names and values checked before any register is read
            if named.needs_register and register is None and not stored:
                raise InputError(f"query '{name}' reads register data: pass the register with -r REGISTER "
                                 "(or a store that holds one: --store-dir DIR)")
    if register is None and stored and text is None and named.reads == "organisations":
        from . import workspace

        with input_errors():
            store = workspace.cross_organisation_view(open_run_store(run))
    elif register is not None or (stored and (text is not None or named.needs_register)):
        store = run_analysis(register, run).store
    else:
        with input_errors():
            store = open_store(run.store)
            load_packaged(store)
    with input_errors():
        if text is not None:
            from .query import term_from_text
            from .sparql_guard import forbid_network

            forbid_network(text)  # a user's query file must not reach out (SERVICE) unasked
            result = store.query(text, {k: term_from_text(v) for k, v in params.items()})
        else:  # named queries are SELECTs: their rows go out as text without becoming rdflib terms
            columns, rows = run_named_text(store, name, params)
            _write_rows(columns, rows, fmt)
            return
    _write_result(result, fmt)


@app.command()
@with_run_options
def serve(
    run: RunOptions,
    register: RegisterArg = None,
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    allow_service: Annotated[bool, typer.Option("--allow-service", help="Let SPARQL queries use SERVICE and updates LOAD (network access).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Stop any request's work after this long and answer 503.")] = 30.0,
    max_body: Annotated[int, typer.Option("--max-body", min=1, metavar="BYTES", help="Largest request body accepted (413 past it).")] = 16 * 1024 * 1024,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes answering queries at once (more wait, then 503).")] = 2,
    heavy_workers: Annotated[int, typer.Option("--heavy-workers", min=1, help="Worker processes for uploads, reports, other as-of dates and writes.")] = 1,
    max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Largest answer in rows or triples (400 past it).")] = 100_000,
    write_token_file: Annotated[Optional[Path], typer.Option("--write-token-file", dir_okay=False, help="Allow SPARQL Update and Graph Store writes to requests that send this file's token as 'Authorization: Bearer ...' (or set AIMSGRAPH_WRITE_TOKEN).")] = None,
) -> None:
    """Serve findings, classification, named queries and a SPARQL 1.1 endpoint over HTTP."""
    try:
        import uvicorn

        from .serve import Service, create_app, read_token
    except ImportError:
        err.print("error: the HTTP API needs the server extra: pip install 'aimsgraph[server]'")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with input_errors():
        token = read_token(file=write_token_file)
    options = dict(engine="rdflib" if run.store == "rdflib" else "oxigraph", timeout=timeout, max_body=max_body,
                   workers=workers, heavy_workers=heavy_workers, max_rows=max_rows, write_token=token,
                   allow_service=allow_service)
    stored = run.persistent
    orgs, store = [], None
    if register is None and stored and run.org is None:
        from . import workspace

        store = open_run_store(run)
        with input_errors():
            orgs = workspace.organisations(store)
    if len(orgs) > 1:  # every organisation of the store, each request names one (org=ID)
        analyses = {org: run_analysis(None, dataclasses.replace(run, org=org), store) for org in orgs}
        with input_errors():
            for analysis in analyses.values():
                analysis.validation  # noqa: B018 - findings before serving, not in the first request
            service = Service.from_analyses(analyses, "the store", **options)
        what = f"{len(orgs)} organisations of the store (name one with org=ID)"
    else:
        analysis = run_analysis(register, run, store)
        with input_errors():
            analysis.validation  # noqa: B018 - findings before serving, not in the first request
            service = Service.from_analysis(analysis, register.name if register else (run.org or "the store"),
                                            **options)
        what = str(register or "the store")
    writes = "writes with the token" if token else "read-only"
    err.print(f"serving {what} as of {service.meta.as_of} on http://{host}:{port} "
              f"(SPARQL endpoint /sparql, API docs /docs; {writes}; timeout {timeout:g} s)", highlight=False)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)


@app.command("explain")
@with_run_options
def explain_command(
    run: RunOptions,
    register: Annotated[Optional[str], typer.Argument(metavar="[REGISTER]", help="Register or RDF file; left out with a persistent store.")] = None,
    subject: Annotated[Optional[str], typer.Argument(metavar="SUBJECT", help="Register id, CURIE (euaia:art9) or IRI.")] = None,
    predicate: Annotated[Optional[str], typer.Argument(metavar="[PREDICATE]", help="CURIE or IRI; default: every derived fact about SUBJECT.")] = None,
    obj: Annotated[Optional[str], typer.Argument(metavar="[OBJECT]", help="Register id, CURIE, IRI or literal value.")] = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="text (tree) or json (same tree as the API).")] = AnswerFormat.text,
) -> None:
    """Why a derived fact holds: the rule or OWL axiom that produced it and its premises, as a tree."""
    from .explain import explain, register_names, render_text

    path, (subject, predicate, obj) = split_register(run, register, subject, predicate, obj)
    if subject is None:
        raise typer.BadParameter("give the SUBJECT to explain", param_hint="SUBJECT")
    analysis = run_analysis(path, run)
    with input_errors():
        trees = explain(analysis.store, analysis.reasoning, subject, predicate, obj)
    if fmt is AnswerFormat.json:
        sys.stdout.write(to_json({"facts": [tree.as_json() for tree in trees]}))
    else:
        sys.stdout.write(render_text(trees, register_names(analysis.store)))


@app.command()
def docs(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the HTML pages into.")],
) -> None:
    """Write HTML documentation of the ontology, catalogues and crosswalk (offline); gaps the
    metadata shapes find in the shipped ontology or catalogues are listed on stderr."""
    from .docs import metadata_report, write_docs

    for p in metadata_report():
        where = f"{p.focus} {p.path}" if p.path else p.focus
        err.print(f"metadata: {where}: {p.message}", markup=False, soft_wrap=True)
    with input_errors():
        try:
            files = write_docs(out)
        except OSError as exc:
            raise InputError(f"{out}: cannot write the documentation there ({exc.strerror or exc})") from None
    sys.stdout.write(f"wrote {len(files)} pages to {out}\n")


@app.command("trace")
@with_run_options
def trace_command(
    run: RunOptions,
    register: Annotated[Optional[str], typer.Argument(metavar="[REGISTER]", help="Register or RDF file; left out with a persistent store.")] = None,
    ident: Annotated[Optional[str], typer.Argument(metavar="ID", help="A risk, AI system, control (A.7.4, FS-FAIR-01), evidence item, article (euaia:art10) or clause (iso42001:8.1).")] = None,
    graphml: Annotated[Optional[Path], typer.Option("--graphml", help="Also write the trace as GraphML here.")] = None,
    dot: Annotated[Optional[Path], typer.Option("--dot", help="Also write the trace as Graphviz DOT here.")] = None,
    svg: Annotated[Optional[Path], typer.Option("--svg", help="Also draw the trace as SVG here (no Graphviz needed).")] = None,
    png: Annotated[Optional[Path], typer.Option("--png", help="Also draw the trace as PNG here (needs Graphviz 'dot').")] = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="text (tree) or json (nodes and edges).")] = AnswerFormat.text,
) -> None:
    """The chains an entry rests on (risk -> treatment -> control -> evidence, article or clause ->
    control -> evidence, system -> risks and obligations -> ...) as a tree; for a control or
    evidence item also what rests on it. Gaps (expired evidence, controls not effective) are marked ✗."""
    from . import trace as tr

    path, (ident,) = split_register(run, register, ident)
    if ident is None:
        raise typer.BadParameter("give the ID to trace", param_hint="ID")
    if png is not None:
        with input_errors():
            tr.png_renderer()  # fail before the analysis, not after
    analysis = run_analysis(path, run)
    with input_errors():
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
    if fmt is AnswerFormat.json:
        sys.stdout.write(to_json({"root": root, "nodes": [{"id": n, **d} for n, d in sorted(sub.nodes(data=True))],
                                  "edges": [{"source": u, "relation": d["relation"], "target": v}
                                            for u, v, d in sorted(sub.edges(data=True))]}))
    else:
        sys.stdout.write(tr.trace_text(graph, root))


@app.command("impact")
@with_run_options
def impact_command(
    run: RunOptions,
    register: Annotated[Optional[str], typer.Argument(metavar="[REGISTER]", help="Register or RDF file; left out with a persistent store.")] = None,
    ident: Annotated[Optional[str], typer.Argument(metavar="ID", help="The control that fails (A.7.4, FS-FAIR-01) or the evidence item that lapses (EV-16).")] = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="text or json.")] = AnswerFormat.text,
) -> None:
    """If a control fails (or an evidence item lapses), which risks, AI systems, EU AI Act
    articles and ISO/IEC 42001 clauses lose cover; ✗ marks those left with no other effective control."""
    from .trace import impact, impact_text, resolve, trace_graph

    path, (ident,) = split_register(run, register, ident)
    if ident is None:
        raise typer.BadParameter("give the ID of the control or evidence item", param_hint="ID")
    analysis = run_analysis(path, run)
    with input_errors():
        graph = trace_graph(analysis.store)
        result = impact(graph, resolve(graph, ident))
    sys.stdout.write(to_json(result.as_json()) if fmt is AnswerFormat.json else impact_text(result))


@app.command("hotspots")
@with_run_options
def hotspots_command(
    run: RunOptions,
    register: RegisterArg = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Only the first N controls.")] = None,
    fmt: Annotated[AnswerFormat, typer.Option("--format", help="text or json.")] = AnswerFormat.text,
) -> None:
    """Controls ranked by the coverage they carry (risks, systems, articles and clauses resting on
    them; ties by betweenness centrality): where an auditor samples first."""
    from .trace import hotspots, hotspots_text, trace_graph

    analysis = run_analysis(register, run)
    spots = hotspots(trace_graph(analysis.store), top)
    sys.stdout.write(to_json({"hotspots": [h.as_json() for h in spots]}) if fmt is AnswerFormat.json
                     else hotspots_text(spots))


@app.command("soa")
@with_run_options
def soa_command(
    run: RunOptions,
    register: RegisterArg = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here (needed for xlsx); default standard output.")] = None,
    fmt: Annotated[Optional[SoAFormat], typer.Option("--format", help="csv, xlsx or html; default from the -o suffix, else csv.")] = None,
    draft: Annotated[bool, typer.Option("--draft", help=(
        "Instead: propose a row (YAML under the register's `controls` key, with the reasons as comments) "
        "for each Annex A control the register's SoA leaves out; existing rows are not repeated."))] = False,
) -> None:
    """Statement of Applicability: all 38 Annex A controls (missing rows flagged) and the
    organisation's own controls, with applicability, justification, status, owner, linked risks,
    evidence and its freshness at the as-of date. With --draft, proposed rows for the missing
    Annex A controls instead."""
    from .soa import draft_soa, draft_yaml, export_soa, soa_csv, soa_header, soa_page_html, soa_rows

    if draft:
        if fmt is not None:
            raise typer.BadParameter("--draft writes YAML; leave out --format", param_hint="--format")
        analysis = run_analysis(register, run)
        with input_errors():
            entries = draft_soa(analysis.store)
            text = draft_yaml(entries, analysis.params.as_of, register.name if register is not None else "the store")
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
            err.print(f"wrote {len(entries)} proposed SoA rows to {output}")
        return

    suffix = output.suffix.lstrip(".").lower() if output is not None else ""
    chosen = fmt.value if fmt else (suffix if suffix in ("csv", "xlsx", "html") else "csv")
    if chosen == "xlsx" and output is None:
        raise typer.BadParameter("xlsx needs a file: add -o FILE.xlsx", param_hint="--format")
    analysis = run_analysis(register, run)
    with input_errors():
        if output is None:
            rows, header = soa_rows(analysis.store), soa_header(analysis.store, analysis.params.as_of)
            sys.stdout.write(soa_csv(rows, header) if chosen == "csv" else soa_page_html(rows, header))
        else:
            rows = export_soa(analysis.store, output, chosen, analysis.params.as_of)
            err.print(f"wrote {len(rows)} SoA rows to {output}")


@app.command("report")
@with_run_options
def report_command(
    run: RunOptions,
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")],
    register: RegisterArg = None,
    fail_on: FailOnOption = FailOn.never,
) -> None:
    """The auditor's report: one self-contained HTML file with readiness per clause, EU AI Act
    classification and obligation cover, findings by clause, the SoA and a risk -> control ->
    evidence picture per AI system."""
    from .report import write_report

    analysis = run_analysis(register, run)
    with input_errors():
        write_report(analysis, output, register.name if register is not None else "the store",
                     [register] if register is not None else [])
    err.print(f"wrote the report to {output}")
    fail_on_exit(analysis, fail_on)


# --- export: documents for auditors (oscal.py, evidence_pack.py) --------------------------------

export_app = typer.Typer(help="Documents for auditors: OSCAL assessment results and catalog, the evidence package.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(export_app, name="export")


@export_app.command("oscal")
@with_run_options
def export_oscal_command(
    run: RunOptions,
    output: Annotated[Path, typer.Option("-o", "--output", help="The OSCAL assessment results (JSON) to write.")],
    register: RegisterArg = None,
    catalog: Annotated[Optional[Path], typer.Option("--catalog", help="Where to write the catalog the results point into (default: oscal-catalog.json beside the results).")] = None,
) -> None:
    """OSCAL assessment results: one finding per `gaps` finding at --as-of, with its observation,
    evidence and the requirement it targets; and the OSCAL catalog of those requirements beside it."""
    from .oscal import writable, write_oscal

    with input_errors():
        writable(output, "OSCAL assessment results")  # a bad path fails before the analysis
    analysis = run_analysis(register, run)
    with input_errors():
        results, written = write_oscal(analysis, output, register.name if register is not None else "the store", catalog)
    err.print(f"wrote {len(analysis.validation.findings)} findings to {results} and the catalog to {written}")


@export_app.command("oscal-catalog")
def export_oscal_catalog_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="The OSCAL catalog (JSON) to write.")],
) -> None:
    """The OSCAL catalog alone: ISO/IEC 42001 clauses and Annex A controls, EU AI Act articles and
    obligations, with ids, titles and aimsgraph's own summaries."""
    from .oscal import catalog_json, writable, write_text

    with input_errors():
        write_text(writable(output, "OSCAL catalog"), catalog_json(), "OSCAL catalog")
    err.print(f"wrote the catalog to {output}")


@export_app.command("evidence")
@with_run_options
def export_evidence_command(
    run: RunOptions,
    output: Annotated[Path, typer.Option("-o", "--output", help="The zip file to write.")],
    register: RegisterArg = None,
) -> None:
    """The evidence package: a zip with the HTML report, the SoA (CSV, XLSX, HTML), the OSCAL
    results and catalog, and manifest.json listing every evidence item (SHA-256 of local files)."""
    from .evidence_pack import write_pack
    from .oscal import writable

    with input_errors():
        writable(output, "evidence package")
    analysis = run_analysis(register, run)
    with input_errors():
        members = write_pack(analysis, output, register)
    err.print(f"wrote {len(members)} files to {output}")


def example_register() -> Path:
    """The FinSecure example: shipped inside the wheel, or in the source tree when run from a checkout."""
    from .resources import data_path

    return data_path("examples") / "finsecure" / "register.yaml"


@app.command()
def demo(
    as_of: Annotated[str, typer.Option("--as-of", metavar="YYYY-MM-DD", help="Judge at this date.")] = "2026-01-31",
) -> None:
    """Run the whole pipeline on the FinSecure example and print a summary."""
    from .demo import demo_summary

    path = example_register()
    analysis = run_analysis(path, RunOptions(_parse_date(as_of)))
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
    try:
        app()
    finally:
        for analysis in _open_analyses:
            with contextlib.suppress(AimsGraphError, OSError):
                analysis.release()
