"""The named query library (queries/NN_slug.rq) and the `query`/`queries` commands.

- Every query file, whoever wrote it, is parsed and run on both stores: its header gives a
  question, declares every parameter it takes (each `?name` that is a parameter appears in the
  text and in the SELECT, which pyoxigraph needs to bind it), its `columns:` equal the projected
  variables, and it ends in ORDER BY.
- Competency tests (queries 04-15): on tests/queries/register.yaml judged at 2026-01-31, the
  EXACT rows, on pyoxigraph and on rdflib; and a fixture or parameter on which it has no rows
  (tests/queries/clean.yaml is a register without the gaps the gap queries look for).
Rows are compared as text (`rows_as_text`: CURIEs for catalogue IRIs, register ids, lexical
values), columns in SELECT order, "" for an unbound column.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aimsgraph.cli import app
from aimsgraph.resources import data_files
from aimsgraph.pipeline import analyse
from rdflib import Literal, URIRef

from aimsgraph.query import parse_query_file, rows_as_text, run_named, run_named_text, term_from_text
from aimsgraph.store import QueryResult

HERE = Path(__file__).parent / "queries"
REGISTER = HERE / "register.yaml"
CLEAN = HERE / "clean.yaml"
AS_OF = date(2026, 1, 31)
STORES = ("oxigraph", "rdflib")
QUERY_FILES = data_files("queries", ".rq")

# A value of each declared parameter type, to show that binding works on every store.
SAMPLE_VALUES = {"iri": "euaia:art14", "curie": "euaia:art14", "date": "2026-01-31", "integer": "30", "text": "R-1"}



@pytest.fixture(scope="module", params=STORES)
def engine(request):
    return request.param


_ANALYSES: dict = {}


def analysed(path: Path, engine: str):
    """One analysis per (register, store) for the whole module: each costs about a second."""
    key = (path, engine)
    if key not in _ANALYSES:
        _ANALYSES[key] = analyse(path, AS_OF, store_engine=engine)
    return _ANALYSES[key]


def rows(path: Path, engine: str, name: str, **params: str) -> list[tuple[str, ...]]:
    result = run_named(analysed(path, engine).store, name, params)
    return [tuple(row.get(v, "") for v in result.vars) for row in rows_as_text(result)]


# ------------------------------------------------------------------ every file: header and run

def _projected(text: str) -> list[str]:
    """Variables of the outermost SELECT clause, in order: `?x` or `(... AS ?x)`."""
    body = re.sub(r"^\s*#.*$", "", text, flags=re.MULTILINE)
    clause = re.search(r"\bSELECT\s+(?:DISTINCT\s+|REDUCED\s+)?(.*?)\s*\bWHERE\b", body, re.S | re.I).group(1)
    clause = re.sub(r"\((?:[^()]|\([^()]*\))*\bAS\s+\?(\w+)\s*\)", r"?\1", clause, flags=re.I)
    return re.findall(r"\?(\w+)", clause)


def _columns(header: str) -> list[str]:
    return [c.strip() for c in header.split(",") if c.strip()]


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_query_file_header(path):
    q = parse_query_file(path)
    assert q.question.endswith("?"), "the question is a question in plain words"
    assert re.match(r"^\d\d_[a-z0-9-]+\.rq$", path.name)
    body = re.sub(r"^\s*#.*$", "", q.text, flags=re.MULTILINE)
    # every query orders its rows deterministically: in SPARQL, or (a whole-graph export whose sort
    # pyoxigraph makes slow) by the `# order:` columns, which run_named sorts by
    assert re.search(r"\bORDER BY\b", body) or q.order, "every query orders its rows deterministically"
    assert not (re.search(r"\bORDER BY\b", body) and q.order), "ORDER BY or '# order:', not both"
    assert set(q.order) <= set(_projected(q.text)), "'# order:' names projected columns"
    assert _columns(q.columns) == _projected(q.text), "declared columns = SELECT's projected variables"
    if 4 <= int(path.name[:2]) <= 19:  # the library's own convention: say which derived facts it reads
        assert re.search(r"^# derived facts read: \S", q.text, re.MULTILINE)
    # `# reads:` says whether the query needs a register; a catalogue query names no register class
    reads_register = bool(re.search(r"aims:(registerId|AISystem|Risk|SoAEntry|Evidence|AssessmentRun|covers)\b", body))
    if q.reads == "organisations":  # a question across the clients of a store names each row's organisation
        assert "aims:inOrganization" in body and _columns(q.columns)[0] == "organisation"
    else:
        assert q.reads == ("register" if reads_register else "catalogues")
    for name, kind in q.params.items():
        assert re.search(rf"\?{name}\b", body), f"parameter {name} is never used"
        assert kind.split()[0].rstrip(":") in SAMPLE_VALUES, f"parameter {name} has an unknown type: {kind}"


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_query_file_runs_with_and_without_parameters(path, engine):
    q = parse_query_file(path)
    store = analysed(REGISTER, engine).store
    result = store.query(q.text)
    assert result.kind == "select"
    assert result.vars == _columns(q.columns)
    bindings = {k: term_from_text(SAMPLE_VALUES[v.split()[0].rstrip(":")], v) for k, v in q.params.items()}
    bound = store.query(q.text, bindings)
    assert bound.vars == _columns(q.columns)
    for row in bound.rows:  # a bound parameter shows in its column
        for name, value in bindings.items():
            assert row.get(name) == value



@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_query_file_gives_the_same_rows_on_both_stores(path):
    q = parse_query_file(path)
    results = {engine: rows_as_text(run_named(analysed(REGISTER, engine).store, q.name)) for engine in STORES}
    assert results["oxigraph"] == results["rdflib"]


@pytest.mark.parametrize("path", [p for p in QUERY_FILES if parse_query_file(p).order], ids=lambda p: p.name)
def test_order_header_sorts_as_order_by_would(path, engine):
    """run_named's sort by the `# order:` columns gives the rows in the order the same query with
    ORDER BY over those columns gives on the store (and with `# distinct: rows`, the rows of the
    text as SELECT DISTINCT)."""
    q = parse_query_file(path)
    store = analysed(REGISTER, engine).store
    body = re.sub(r"^SELECT ", "SELECT DISTINCT ", q.text, count=1, flags=re.MULTILINE) if q.distinct else q.text
    assert body != q.text or not q.distinct
    ordered = store.query(body.rstrip() + "\nORDER BY " + " ".join(f"?{c}" for c in q.order) + "\n")
    assert rows_as_text(run_named(store, q.name)) == rows_as_text(ordered)

# ------------------------------------------------------------------ competency tests (04-15)

CHAIN_R1 = [
    ("R-1", "scorer", "20", "aims:option-mitigate", "4", "iso42001:A.6.2.4", "aims:status-implemented", "EV-1", "aims:evidence-valid"),
    ("R-1", "scorer", "20", "aims:option-mitigate", "4", "iso42001:A.7.4", "aims:status-implemented", "EV-3", "aims:evidence-expired"),
    ("R-1", "scorer", "20", "aims:option-mitigate", "4", "iso42001:A.9.2", "", "", ""),
    ("R-1", "scorer", "20", "aims:option-mitigate", "4", "OWN-1", "aims:status-implemented", "EV-2", "aims:evidence-expiring"),
]


def test_risk_chain(engine):
    assert rows(REGISTER, engine, "risk-chain", risk="R-1") == CHAIN_R1
    assert rows(REGISTER, engine, "risk-chain", risk="R-4") == [
        ("R-4", "scorer", "12", "aims:option-mitigate", "8", "", "", "", ""),
    ]
    assert rows(REGISTER, engine, "risk-chain", risk="R-2") == [("R-2", "chatbot", "9", "", "", "", "", "", "")]
    assert rows(REGISTER, engine, "risk-chain") == CHAIN_R1 + [
        ("R-2", "chatbot", "9", "", "", "", "", "", ""),
        ("R-3", "chatbot", "4", "", "", "", "", "", ""),
        ("R-4", "scorer", "12", "aims:option-mitigate", "8", "", "", "", ""),
    ]


def test_risk_chain_none(engine):
    assert rows(REGISTER, engine, "risk-chain", risk="scorer") == []  # a system id is not a risk


def test_system_chains(engine):
    assert rows(REGISTER, engine, "system-chains", system="scorer") == [
        ("scorer", "R-1", "20", "iso42001:A.6.2.4", "true", "EV-1", "aims:evidence-valid"),
        ("scorer", "R-1", "20", "iso42001:A.7.4", "false", "EV-3", "aims:evidence-expired"),
        ("scorer", "R-1", "20", "iso42001:A.9.2", "false", "", ""),
        ("scorer", "R-1", "20", "OWN-1", "true", "EV-2", "aims:evidence-expiring"),
        ("scorer", "R-4", "12", "", "", "", ""),
    ]
    assert rows(REGISTER, engine, "system-chains", system="chatbot") == [
        ("chatbot", "R-2", "9", "", "", "", ""),
        ("chatbot", "R-3", "4", "", "", "", ""),
    ]


def test_system_chains_none(engine):
    assert rows(REGISTER, engine, "system-chains", system="legacy") == []  # no risk recorded


def test_requirement_chain(engine):
    assert rows(REGISTER, engine, "requirement-chain", target="euaia:art50-1") == [
        ("euaia:art50-1", "OWN-1", "aims:mapsTo", "aims:status-implemented", "true", "EV-2", "aims:evidence-expiring"),
    ]
    assert rows(REGISTER, engine, "requirement-chain", target="iso42001:8.1") == [
        ("iso42001:8.1", "iso42001:A.10.4", "aims:relatedClause", "", "false", "", ""),
        ("iso42001:8.1", "iso42001:A.6.2.4", "aims:relatedClause", "aims:status-implemented", "true", "EV-1", "aims:evidence-valid"),
        ("iso42001:8.1", "iso42001:A.7.4", "aims:relatedClause", "aims:status-implemented", "false", "EV-3", "aims:evidence-expired"),
    ]
    assert rows(REGISTER, engine, "requirement-chain", target="nistairmf:MEASURE-2.11") == [
        ("nistairmf:MEASURE-2.11", "iso42001:A.6.2.4", "aims:intersectsWith", "aims:status-implemented", "true", "EV-1", "aims:evidence-valid"),
        ("nistairmf:MEASURE-2.11", "iso42001:A.7.4", "aims:intersectsWith", "aims:status-implemented", "false", "EV-3", "aims:evidence-expired"),
    ]


def test_requirement_chain_none(engine):
    assert rows(REGISTER, engine, "requirement-chain", target="euaia:art5") == []


def test_controls_without_valid_evidence(engine):
    assert rows(REGISTER, engine, "controls-without-valid-evidence") == [  # default: the run's as-of
        ("2026-01-31", "iso42001:A.4.6", "aims:status-planned"),
        ("2026-01-31", "iso42001:A.7.4", "aims:status-implemented"),
    ]
    assert rows(REGISTER, engine, "controls-without-valid-evidence", at="2026-03-01") == [
        ("2026-03-01", "iso42001:A.7.4", "aims:status-implemented"),
        ("2026-03-01", "OWN-1", "aims:status-implemented"),
    ]


def test_controls_without_valid_evidence_none(engine):
    assert rows(CLEAN, engine, "controls-without-valid-evidence") == []


def test_evidence_expiring(engine):
    assert rows(REGISTER, engine, "evidence-expiring") == [  # defaults: as-of and --expiring-days 30
        ("2026-01-31", "30", "EV-2", "Review log", "2026-02-15", "15", "OWN-1"),
    ]
    assert rows(REGISTER, engine, "evidence-expiring", at="2026-03-01", days="400") == [
        ("2026-03-01", "400", "EV-1", "Validation report", "2026-12-31", "305", "iso42001:A.6.2.4"),
        ("2026-03-01", "400", "EV-4", "Competence plan", "2027-03-01", "365", "iso42001:A.4.6"),
    ]
    # the bound is exclusive, as in rule evidence-expiring: 15 days left is not within 15 days
    assert rows(REGISTER, engine, "evidence-expiring", days="15") == []
    assert rows(REGISTER, engine, "evidence-expiring", days="16") == [
        ("2026-01-31", "16", "EV-2", "Review log", "2026-02-15", "15", "OWN-1"),
    ]


def test_evidence_expiring_none(engine):
    assert rows(CLEAN, engine, "evidence-expiring") == []


def test_risks_untreated(engine):
    assert rows(REGISTER, engine, "risks-untreated") == [
        ("chatbot", "R-2", "9", "8", ""),
        ("scorer", "R-4", "12", "8", "aims:option-mitigate"),
    ]
    assert rows(REGISTER, engine, "risks-untreated", system="chatbot") == [("chatbot", "R-2", "9", "8", "")]


def test_risks_untreated_none(engine):
    assert rows(CLEAN, engine, "risks-untreated") == []


def test_system_obligations(engine):
    expected = [  # (covered, partial): A.4.6 is only planned, OWN-1 maps to Art 50(1)
        ("chatbot", "euaia:limited-risk", "euaia:obl-art4-provider", "euaia:art4", "false", "false"),
        ("chatbot", "euaia:limited-risk", "euaia:obl-art50-1-provider", "euaia:art50-1", "true", "false"),
    ]
    assert rows(REGISTER, engine, "system-obligations") == expected
    assert rows(REGISTER, engine, "system-obligations", system="chatbot") == expected


def test_system_obligations_none(engine):
    assert rows(REGISTER, engine, "system-obligations", system="scorer") == []  # no eu_ai_act block


def test_control_crosswalk(engine):
    assert rows(REGISTER, engine, "control-crosswalk", control="iso42001:A.7.4") == [
        ("iso42001:A.7.4", "euaia:art10", "Data and data governance", "aims:intersectsWith",
         "Setting data quality requirements and checking data against them overlaps Art 10(3) on relevant, "
         "representative, error-free and complete data and the Art 10(2)(f)-(g) examination and mitigation of bias."),
        ("iso42001:A.7.4", "euaia:art26", "Obligations of deployers of high-risk AI systems", "aims:intersectsWith",
         "Data quality requirements applied to operational data support Art 26(4), under which input data the "
         "deployer controls must be relevant and sufficiently representative."),
        ("iso42001:A.7.4", "nistairmf:MAP-2.3", "Scientific integrity and TEVV considerations", "aims:intersectsWith",
         "Data quality requirements cover representativeness and suitability of data, which MAP 2.3 requires to be identified."),
        ("iso42001:A.7.4", "nistairmf:MEASURE-2.11", "Fairness and bias evaluation", "aims:intersectsWith",
         "Data quality requirements address data-related bias, a principal input to evaluating fairness and bias."),
        ("iso42001:A.7.4", "iso42001:8.1", "Operational planning and control", "aims:relatedClause", ""),
    ]


def test_control_crosswalk_none(engine):
    assert rows(REGISTER, engine, "control-crosswalk", control="iso42001:8.1") == []  # a clause, not a control


def test_controls_treating_no_risk(engine):
    assert rows(REGISTER, engine, "controls-treating-no-risk") == [("iso42001:A.4.6", "aims:status-planned")]


def test_controls_treating_no_risk_none(engine):
    assert rows(CLEAN, engine, "controls-treating-no-risk") == []


def test_systems_without_impact_assessment(engine):
    assert rows(REGISTER, engine, "systems-without-impact-assessment") == [
        ("chatbot", "true", "euaia:limited-risk"),
        ("legacy", "false", ""),
    ]


def test_systems_without_impact_assessment_none(engine):
    assert rows(CLEAN, engine, "systems-without-impact-assessment") == []


def test_nist_coverage(engine):
    # A.6.2.4 is the only effective Annex A control with NIST mappings: seven MEASURE subcategories
    assert rows(REGISTER, engine, "nist-coverage") == [
        ("nistairmf:GOVERN", "19", "0"),
        ("nistairmf:MANAGE", "13", "0"),
        ("nistairmf:MAP", "18", "0"),
        ("nistairmf:MEASURE", "22", "7"),
    ]
    assert rows(REGISTER, engine, "nist-coverage", function="nistairmf:MEASURE") == [("nistairmf:MEASURE", "22", "7")]


def test_nist_coverage_none(engine):
    assert rows(REGISTER, engine, "nist-coverage", function="nistairmf:GOVERN-1") == []  # a category



MEASURE_SUBCATEGORIES = [  # (subcategory number, title, covering effective control)
    ("1.1", "Selecting approaches and metrics for significant risks", ""),
    ("1.2", "Reassessing metrics and control effectiveness", ""),
    ("1.3", "Independent assessors and expert consultation", ""),
    ("2.1", "TEVV test sets, metrics and tools documented", "iso42001:A.6.2.4"),
    ("2.10", "Privacy risk examination", ""),
    ("2.11", "Fairness and bias evaluation", "iso42001:A.6.2.4"),  # A.7.4 maps here too, but is not effective
    ("2.12", "Environmental impact and sustainability", ""),
    ("2.13", "Effectiveness of TEVV metrics and processes", "iso42001:A.6.2.4"),
    ("2.2", "Human subject evaluations", ""),
    ("2.3", "Performance measured for deployment-like conditions", "iso42001:A.6.2.4"),
    ("2.4", "Monitoring functionality and behavior in production", ""),
    ("2.5", "Validity, reliability and generalizability limits", "iso42001:A.6.2.4"),
    ("2.6", "Safety risk evaluation and safe failure", "iso42001:A.6.2.4"),
    ("2.7", "Security and resilience evaluation", "iso42001:A.6.2.4"),
    ("2.8", "Transparency and accountability risks", ""),
    ("2.9", "Explainability and interpretability of model and output", ""),
    ("3.1", "Tracking existing, unanticipated and emergent risks", ""),
    ("3.2", "Risk tracking where measurement is difficult", ""),
    ("3.3", "End-user feedback and appeal processes", ""),
    ("4.1", "Context-informed measurement approaches", ""),
    ("4.2", "Validating trustworthiness results with expert input", ""),
    ("4.3", "Measurable performance improvements or declines", ""),
]


def test_nist_subcategory_coverage(engine):
    assert rows(REGISTER, engine, "nist-subcategory-coverage", function="nistairmf:MEASURE") == [
        ("nistairmf:MEASURE", f"nistairmf:MEASURE-{number}", title, control)
        for number, title, control in MEASURE_SUBCATEGORIES
    ]


def test_nist_subcategory_coverage_none(engine):
    assert rows(REGISTER, engine, "nist-subcategory-coverage", function="nistairmf:GOVERN-1") == []  # a category


# ------------------------------------------------------------------ the commands

runner = CliRunner()


def test_cli_named_query_over_a_register():
    result = runner.invoke(app, ["query", "risk-chain", "--register", str(REGISTER), "--as-of", "2026-01-31",
                                 "--param", "risk=R-4", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["columns"] == ["risk", "system", "score", "option", "residual", "control", "status", "evidence",
                              "evidence_status"]
    assert doc["rows"] == [{"risk": "R-4", "system": "scorer", "score": "12", "option": "aims:option-mitigate",
                            "residual": "8"}]


def test_cli_query_text_format():
    result = runner.invoke(app, ["query", "risks-untreated", "-r", str(REGISTER), "--as-of", "2026-01-31",
                                 "-p", "system=chatbot"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "system\trisk\tscore\tappetite\toption\nchatbot\tR-2\t9\t8\t\n"


def test_cli_query_file_binds_typed_parameters(tmp_path):
    query = tmp_path / "my.rq"
    query.write_text("SELECT ?article ?label WHERE { ?article rdfs:label ?label } ORDER BY ?label")
    result = runner.invoke(app, ["query", "--file", str(query), "-p", "article=euaia:art14", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rows"] == [{"article": "euaia:art14", "label": "Human oversight"}]


def test_cli_query_errors():
    unknown = runner.invoke(app, ["query", "no-such-query"])
    assert unknown.exit_code == 2 and "no query named 'no-such-query'" in unknown.stderr
    bad_param = runner.invoke(app, ["query", "risk-chain", "-p", "colour=red"])
    assert bad_param.exit_code == 2
    assert "query 'risk-chain': no parameter 'colour' (known: risk)" in bad_param.stderr
    neither = runner.invoke(app, ["query"])
    assert neither.exit_code == 2


def test_cli_queries_lists_every_query_with_its_question():
    result = runner.invoke(app, ["queries"])
    assert result.exit_code == 0
    for path in QUERY_FILES:
        q = parse_query_file(path)
        assert f"{q.name}\n    {q.question}\n" in result.stdout


def test_parameter_values_become_typed_terms():
    from rdflib import Literal, URIRef
    from rdflib.namespace import XSD

    from aimsgraph.errors import QueryError

    assert term_from_text("euaia:art14", "iri — an article") == URIRef("https://w3id.org/aimsgraph/eu-ai-act/art14")
    assert term_from_text("2026-03-01", "date — a date") == Literal("2026-03-01", datatype=XSD.date)
    assert term_from_text("90", "integer — days") == Literal(90, datatype=XSD.integer)
    assert term_from_text("2026-03-01", "text — an id") == Literal("2026-03-01")
    # undeclared (a --file query): guessed from the value
    assert term_from_text("euaia:art14") == URIRef("https://w3id.org/aimsgraph/eu-ai-act/art14")
    assert term_from_text("2026-03-01") == Literal("2026-03-01", datatype=XSD.date)
    assert term_from_text("30") == Literal(30, datatype=XSD.integer)
    assert term_from_text("R-1") == Literal("R-1")
    assert term_from_text("mailto:x@example.org") == Literal("mailto:x@example.org")  # not one of our prefixes
    with pytest.raises(QueryError, match="not a date"):
        term_from_text("2026-02-30", "date — a date")
    with pytest.raises(QueryError, match="not a whole number"):
        term_from_text("ten", "integer — days")


def test_cli_bad_parameter_value_is_bad_input():
    result = runner.invoke(app, ["query", "evidence-expiring", "-p", "days=ten"])
    assert result.exit_code == 2 and "'ten' is not a whole number" in result.stderr


def test_cli_query_file_must_exist(tmp_path):
    result = runner.invoke(app, ["query", "--file", str(tmp_path / "missing.rq")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'missing.rq'}: cannot read the query file: No such file or directory" in result.stderr


def test_cli_query_on_the_reference_store():
    args = ["query", "systems-without-impact-assessment", "-r", str(REGISTER), "--as-of", "2026-01-31"]
    outputs = {engine: runner.invoke(app, args + ["--store", engine]) for engine in STORES}
    assert {engine: (r.exit_code, r.stdout) for engine, r in outputs.items()} == {
        engine: (0, "system\tin_scope\tcategory\nchatbot\ttrue\teuaia:limited-risk\nlegacy\tfalse\t\n") for engine in STORES
    }


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.name)
def test_text_rows_equal_the_term_rows_shown_as_text(path):
    """run_named_text (the `query` command's path: the engine's TSV cells straight to text) gives
    the rows, order and unbound cells that rows_as_text(run_named(...)) gives."""
    q = parse_query_file(path)
    store = analysed(REGISTER, "oxigraph").store
    result = run_named(store, q.name)
    expected = [[row.get(v) for v in result.vars] for row in rows_as_text(result)]
    assert run_named_text(store, q.name) == (result.vars, expected)
    for name, kind in q.params.items():  # and with a parameter bound
        params = {name: SAMPLE_VALUES[kind.split()[0].rstrip(":")]}
        bound = run_named(store, q.name, params)
        assert run_named_text(store, q.name, params) == (
            bound.vars, [[row.get(v) for v in bound.vars] for row in rows_as_text(bound)])


# ------------------------------------------------------------------ `# distinct: rows` and the `# order:` sort

_TWICE = """# question: Which ids are there?
# columns: node, id
# reads: register
# order: ?id ?node
{distinct}SELECT ?node ?id WHERE {{ ?node aims:registerId ?id ; <urn:in> ?where }}
"""


def _twice_store(engine: str):
    """A store where the query gives one (node, id) row twice (two ?where for it, not projected)
    and another once."""
    from aimsgraph.store import OxigraphStore, RdflibStore

    store = OxigraphStore() if engine == "oxigraph" else RdflibStore()
    store.update('INSERT DATA { GRAPH <urn:g> { <urn:a> <https://w3id.org/aimsgraph/ontology#registerId> "A" ; '
                 '<urn:in> <urn:x>, <urn:y> . <urn:b> <https://w3id.org/aimsgraph/ontology#registerId> "B" ; <urn:in> <urn:x> } }')
    return store


@pytest.mark.parametrize("distinct", [True, False])
def test_distinct_header_drops_repeated_rows(tmp_path, monkeypatch, engine, distinct):
    """`# distinct: rows` makes run_named and run_named_text drop repeated rows (what SELECT
    DISTINCT gives); without it the repeats stay."""
    import aimsgraph.query as query

    path = tmp_path / "90_twice.rq"
    path.write_text(_TWICE.format(distinct="# distinct: rows\n" if distinct else ""), encoding="utf-8")
    q = parse_query_file(path)
    assert q.distinct is distinct
    monkeypatch.setattr(query, "named_queries", lambda: {q.name: q})
    store = _twice_store(engine)
    assert store.query(q.text).rows.count({"node": URIRef("urn:a"), "id": Literal("A")}) == 2
    once = [{"node": URIRef("urn:a"), "id": Literal("A")}, {"node": URIRef("urn:b"), "id": Literal("B")}]
    got = run_named(store, "twice").rows
    assert got == (once if distinct else [once[0], once[0], once[1]])
    assert run_named_text(store, "twice") == (["node", "id"], [[str(r["node"]), str(r["id"])] for r in got])


def test_distinct_header_takes_rows_only(tmp_path):
    path = tmp_path / "90_twice.rq"
    path.write_text(_TWICE.format(distinct="# distinct: yes\n"), encoding="utf-8")
    with pytest.raises(Exception, match="distinct"):
        parse_query_file(path)


def test_order_sort_equals_a_flat_key_per_row(tmp_path, monkeypatch):
    """The `# order:` sort (a column at a time, bare text for a column of IRIs or plain strings)
    gives the order of one flat `_order_key` tuple per row, stable, for every kind of cell and
    unbound ones, in run_named and run_named_text."""
    import aimsgraph.query as query
    from aimsgraph.store import OxigraphStore

    store = OxigraphStore()
    store.update(r'''INSERT DATA { GRAPH <urn:g> {
      <urn:a> <urn:p> "x", "a	b", "q\"", "01"^^<http://www.w3.org/2001/XMLSchema#integer>, 5, true, "hi"@en,
        "2026-01-01"^^<http://www.w3.org/2001/XMLSchema#date>, _:b1, <urn:é>, <urn:b>, "", "é😀" ; <urn:k> "k" .
      <urn:b> <urn:p> <urn:a>, <urn:c>, "x" ; <urn:k> "k" .
      <urn:c> <urn:p> "y" . } }''')
    path = tmp_path / "90_sorted.rq"
    path.write_text("# question: Which?\n# columns: s, o, k\n# reads: register\n# order: ?k ?o ?s\n"
                    "SELECT ?s ?o ?k WHERE { ?s <urn:p> ?o OPTIONAL { ?s <urn:k> ?k } }\n", encoding="utf-8")
    q = parse_query_file(path)
    monkeypatch.setattr(query, "named_queries", lambda: {q.name: q})
    raw = store.query(q.text).rows
    expected = sorted(raw, key=lambda row: sum((query._order_key(row.get(c)) for c in q.order), ()))
    assert run_named(store, "sorted").rows == expected
    names = ["s", "o", "k"]
    text = rows_as_text(QueryResult("select", names, expected))
    assert run_named_text(store, "sorted") == (names, [[row.get(v) for v in names] for row in text])
    # and columns of one kind each (IRIs, plain strings), keyed by their bare text
    iris = store.query("SELECT ?s ?o WHERE { ?s <urn:p> ?o FILTER isIRI(?o) }").rows
    assert query._sorted_rows(list(iris), ("o", "s")) == sorted(
        iris, key=lambda row: query._order_key(row["o"]) + query._order_key(row["s"]))


def test_to_curie_takes_the_first_namespace_that_matches():
    """to_curie (one regex over the namespaces) gives what the loop over them in order gave: the
    first whose IRI starts the given one with something after it; anything else unchanged."""
    from aimsgraph.namespaces import CATALOGUE_PREFIXES, PREFIXES, to_curie

    def loop(iri: str) -> str:
        for prefix in CATALOGUE_PREFIXES + ("aims", "aimsmap"):
            ns = PREFIXES[prefix]
            if iri.startswith(ns) and len(iri) > len(ns):
                return f"{prefix}:{iri[len(ns):]}"
        return iri

    samples = [ns + tail for ns in PREFIXES.values() for tail in ("", "a", "A.7.4", "\n", "x/y#z", "é")]
    samples += ["", "urn:x", "https://w3id.org/aimsgraph/data/acme/R-1", PREFIXES["euaia"][:-1]]
    assert [to_curie(s) for s in samples] == [loop(s) for s in samples]
    assert to_curie(PREFIXES["euaia"] + "art14") == "euaia:art14"


def test_distinct_rows_by_text_only_for_a_column_of_one_kind():
    """_distinct_rows (`# distinct: rows` off the embedded store) keys a column of IRIs or of plain
    strings by text, any other by its terms: an IRI and a string of one text, or two literals of
    one text and different datatypes, stay apart; unbound cells are equal to each other."""
    from rdflib.namespace import XSD

    import aimsgraph.query as query

    a, text, number = URIRef("urn:a"), Literal("urn:a"), Literal("1", datatype=XSD.integer)
    rows = [{"x": a}, {"x": text}, {"x": a}, {"x": Literal("1")}, {"x": number}, {}, {"x": number}, {}]
    assert query._distinct_rows(rows, ["x"]) == [{"x": a}, {"x": text}, {"x": Literal("1")}, {"x": number}, {}]
    same_kind = [{"x": a, "y": Literal("1")}, {"x": a, "y": Literal("1")}, {"x": URIRef("urn:b"), "y": Literal("1")}]
    assert query._distinct_rows(same_kind, ["x", "y"]) == [same_kind[0], same_kind[2]]
    assert query._distinct_rows([{}, {}], []) == [{}]


# ------------------------------------------------------------------ `# parallel: branches`

def test_union_branches_splits_only_a_where_made_of_a_union():
    from aimsgraph.query import union_branches

    assert union_branches('PREFIX x: <x:>\n# a } comment\nSELECT ?a ?b WHERE { { ?a x:p "}" } UNION '
                          "{ ?a x:q '''{''' FILTER (?a < 3) } UNION { SELECT ?a ?b WHERE { ?a x:r ?b } } }") == (
        'PREFIX x: <x:>\n# a } comment\nSELECT ?a ?b WHERE { ?a x:p "}" }',
        "PREFIX x: <x:>\n# a } comment\nSELECT ?a ?b WHERE { ?a x:q '''{''' FILTER (?a < 3) }",
        "PREFIX x: <x:>\n# a } comment\nSELECT ?a ?b WHERE { SELECT ?a ?b WHERE { ?a x:r ?b } }")
    for whole in ("SELECT ?a WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } } LIMIT 1",  # a modifier
                  "SELECT ?a WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } ?a <x:r> ?b }",  # a join beside it
                  "SELECT DISTINCT ?a WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } }",
                  "SELECT (1 AS ?a) WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } }",
                  "SELECT * WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } }",
                  "SELECT ?a WHERE { { ?a <x:p> 1 } { ?a <x:q> 1 } }",  # a join of two groups
                  "SELECT ?a WHERE { { ?a <x:p> 1 } }", "ASK { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } }"):
        assert union_branches(whole) == (), whole


def test_parallel_header_needs_a_query_that_splits(tmp_path):
    path = tmp_path / "90_split.rq"
    header = "# question: Which?\n# columns: a\n# reads: register\n# parallel: branches\n"
    path.write_text(header + "SELECT ?a WHERE { ?a <x:p> 1 }\n", encoding="utf-8")
    with pytest.raises(Exception, match="needs SELECT"):
        parse_query_file(path)
    path.write_text(header.replace("branches", "yes") + "SELECT ?a WHERE { { ?a <x:p> 1 } UNION { ?a <x:q> 1 } }\n",
                    encoding="utf-8")
    with pytest.raises(Exception, match="'# parallel:' must be 'branches'"):
        parse_query_file(path)


@pytest.mark.parametrize("distinct", [True, False])
def test_parts_give_the_rows_and_order_of_the_whole_query(tmp_path, monkeypatch, distinct):
    """A query run in parts gives run_named and run_named_text the rows of the query run whole,
    in the same order: a row two branches both give is dropped once with `# distinct: rows`,
    and an order column of IRIs in one branch and strings or nothing in another sorts by the
    order keys (unbound, IRIs, strings)."""
    import dataclasses

    import aimsgraph.query as query
    from aimsgraph.store import OxigraphStore

    store = OxigraphStore()
    store.update('INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> <urn:z>, "b" . <urn:b> <urn:p> "a" ; <urn:q> <urn:z> . '
                 '<urn:c> <urn:q> "c" . <urn:d> <urn:r> 1 } }')
    path = tmp_path / "90_parts.rq"
    path.write_text("# question: Which?\n# columns: s, o, how\n# reads: register\n# order: ?o ?s\n"
                    + ("# distinct: rows\n" if distinct else "") + "# parallel: branches\n"
                    "SELECT ?s ?o ?how WHERE { { ?s <urn:p>|<urn:q> ?o } UNION { ?s <urn:q> ?o } "
                    "UNION { ?s <urn:r> ?x BIND ('r' AS ?how) } }\n", encoding="utf-8")
    q = parse_query_file(path)
    assert len(q.parts) == 3
    whole = dataclasses.replace(q, parts=())
    monkeypatch.setattr(query, "named_queries", lambda: {q.name: whole})
    expected, expected_text = run_named(store, "parts"), run_named_text(store, "parts")
    monkeypatch.setattr(query, "named_queries", lambda: {q.name: q})
    got = run_named(store, "parts")
    assert got.rows == expected.rows and got.vars == expected.vars == ["s", "o", "how"]
    assert run_named_text(store, "parts") == expected_text
    z, a, b, c = URIRef("urn:z"), URIRef("urn:a"), URIRef("urn:b"), URIRef("urn:c")
    twice = [{"s": b, "o": z}] * (1 if distinct else 2)
    assert got.rows == [{"s": URIRef("urn:d"), "how": Literal("r")}, {"s": a, "o": z}, *twice,
                        {"s": b, "o": Literal("a")}, {"s": a, "o": Literal("b")}, *[{"s": c, "o": Literal("c")}] * (1 if distinct else 2)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_a_query_in_parts():
    """The threads that run a query's parts are made again in a forked child (it inherits the
    pool, not its threads: without that the child would wait for ever)."""
    store = analysed(REGISTER, "oxigraph").store
    rows = run_named(store, "trace-nodes").rows
    pid = os.fork()
    if pid == 0:
        os._exit(0 if run_named(store, "trace-nodes").rows == rows else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
