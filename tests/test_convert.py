"""`aimsgraph convert`: register (YAML or CSV folder) or RDF in, RDF out; exit 2 with every
problem on stderr (file, entry, key) when the register is broken."""

from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from typer.testing import CliRunner

from aimsgraph.cli import app
from aimsgraph.load import read_input

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CSV_EXAMPLE = ROOT / "examples" / "csv-minimal"

runner = CliRunner()


@pytest.fixture(scope="module")
def finsecure_graph() -> Graph:
    return read_input(FINSECURE)


def test_convert_writes_turtle_to_stdout(finsecure_graph):
    result = runner.invoke(app, ["convert", str(FINSECURE)])
    assert result.exit_code == 0, result.stderr
    assert isomorphic(Graph().parse(data=result.stdout, format="turtle"), finsecure_graph)


@pytest.mark.parametrize("fmt, suffix", [("turtle", "ttl"), ("nt", "nt"), ("json-ld", "jsonld"), ("xml", "rdf")])
def test_convert_with_output_file_and_format_round_trips(tmp_path, finsecure_graph, fmt, suffix):
    out = tmp_path / f"finsecure.{suffix}"
    result = runner.invoke(app, ["convert", str(FINSECURE), "-o", str(out), "--format", fmt])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert " ".join(result.stderr.split()) == f"wrote {len(finsecure_graph)} triples to {out}"
    # the written file is RDF input in its own right
    assert isomorphic(read_input(out), finsecure_graph)


def test_convert_a_csv_folder():
    result = runner.invoke(app, ["convert", str(CSV_EXAMPLE), "--format", "nt"])
    assert result.exit_code == 0, result.stderr
    assert isomorphic(Graph().parse(data=result.stdout, format="nt"), read_input(CSV_EXAMPLE))


def test_a_broken_register_exits_2_with_every_problem_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: aimsgraph-register/1\n"
                   "organization: {id: acme, name: ACME, colour: red}\n"
                   "people: [{id: ceo, name: Jane}]\n"
                   "policies: [{id: POL, kind: ai-policy, title: T, approved_by: cfo, approved_on: 2025-02-30}]\n",
                   encoding="utf-8")
    out = tmp_path / "out.ttl"
    result = runner.invoke(app, ["convert", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert not out.exists()
    stderr = " ".join(result.stderr.split())  # rich may wrap long lines
    assert "3 problems in the input:" in stderr
    assert "bad.yaml: entry 'acme', key 'colour': unknown key" in stderr
    assert "bad.yaml: entry 'POL', key 'approved_on': '2025-02-30' is not a real calendar date" in stderr
    assert "bad.yaml: entry 'POL', key 'approved_by': 'cfo' names no person in the register" in stderr


def test_a_broken_csv_folder_names_the_table(tmp_path):
    folder = tmp_path / "register"
    folder.mkdir()
    (folder / "organization.csv").write_text("id,name\nacme,ACME\n", encoding="utf-8")
    (folder / "people.csv").write_text("id,name,mail\nceo,Jane,j@acme.example\n", encoding="utf-8")
    result = runner.invoke(app, ["convert", str(folder)])
    assert result.exit_code == 2
    assert "people.csv: entry 'ceo', key 'mail': unknown key" in " ".join(result.stderr.split())


def test_an_unknown_output_format_is_a_usage_error():
    result = runner.invoke(app, ["convert", str(FINSECURE), "--format", "csv"])
    assert result.exit_code == 2
    assert "choose turtle, nt, json-ld or xml" in " ".join(result.stderr.split())
