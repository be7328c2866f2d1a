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
from .validate import report_turtle

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
StoreEngine = Annotated[str, typer.Option("--store", help="Store engine: oxigraph (embedded, default) or rdflib (reference).")]
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
        sys.stdout.write(findings_markdown(findings, as_of_text))
    elif fmt is GapsFormat.turtle:
        sys.stdout.write(report_turtle(analysis.validation))
    else:
        sys.stdout.write(findings_text(findings, as_of_text))
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
    file: Annotated[Optional[Path], typer.Option("--file", help="Run the SPARQL query in this file instead.")] = None,
    register: Annotated[Optional[Path], typer.Option("--register", "-r", help="Register or RDF to query; default: the shipped catalogues alone.")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="Parameter as name=value (repeatable).")] = None,
    as_of: AsOf = None,
    fmt: Annotated[ClassifyFormat, typer.Option("--format", help="json or text (tab-separated).")] = ClassifyFormat.text,
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
            analysis = _analyse(register, as_of, "reasonable", "oxigraph", 12, 30)
            store = analysis.store
        else:
            store = open_store()
            load_packaged(store)
        if file is not None:
            from .query import term_from_text

            result = store.query(file.read_text(encoding="utf-8"), {k: term_from_text(v) for k, v in params.items()})
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


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("explain")
def explain_command(
    register: Annotated[Path, typer.Argument(help="Register (YAML or CSV folder) or RDF file.")],
    subject: Annotated[str, typer.Argument(help="Register id, CURIE (euaia:art9) or IRI.")],
    predicate: Annotated[Optional[str], typer.Argument(help="CURIE or IRI; default: every derived fact about SUBJECT.")] = None,
    obj: Annotated[Optional[str], typer.Argument(metavar="[OBJECT]", help="Register id, CURIE, IRI or literal value.")] = None,
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


def example_register() -> Path:
    """The FinSecure example: shipped inside the wheel, or in the source tree when run from a checkout."""
    from importlib import resources

    packaged = Path(str(resources.files("aimsgraph") / "examples" / "finsecure" / "register.yaml"))
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / "finsecure" / "register.yaml"


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
