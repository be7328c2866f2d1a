"""The command line behaves as its ecosystem does (register.md, "Exit codes"; conformity.md,
"Added in the second edition"): only the check signals findings by its exit code, unknown names
are bad input with the closest match, flags look like flags, progress stays off pipes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from aimsgraph.cli import TerminalProgress, app

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = str(ROOT / "examples" / "finsecure" / "register.yaml")
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = ["--as-of", "2026-01-31"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def warnings_only(tmp_path_factory) -> str:
    """The conformant example with one overdue corrective action: a warning and no violation."""
    register = yaml.safe_load(CONFORMANT.read_text(encoding="utf-8"))
    action = register["nonconformities"][0]["corrective_action"]
    action.pop("completed_on", None)
    action["due"] = "2025-12-01"
    path = tmp_path_factory.mktemp("warn") / "register.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False), encoding="utf-8")
    return str(path)


# --- exit codes -------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_on, expected", [(None, 1), ("violation", 1), ("warning", 1), ("never", 0)])
def test_gaps_exit_code_follows_fail_on_with_violations(fail_on, expected):
    args = ["gaps", FINSECURE, *AS_OF, "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    assert invoke(*args).exit_code == expected


@pytest.mark.parametrize("fail_on, expected", [(None, 0), ("violation", 0), ("warning", 1), ("never", 0)])
def test_gaps_exit_code_follows_fail_on_with_warnings_only(warnings_only, fail_on, expected):
    args = ["gaps", warnings_only, *AS_OF, "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    result = invoke(*args)
    assert '"rule": "corrective-action-overdue"' in result.stdout and '"severity": "violation"' not in result.stdout
    assert result.exit_code == expected


@pytest.mark.parametrize("command", [
    ["classify", FINSECURE],
    ["query", "risks-untreated", "-r", FINSECURE],
    ["trace", FINSECURE, "R-CS-01"],
    ["impact", FINSECURE, "A.7.4"],
    ["hotspots", FINSECURE, "--top", "2"],
    ["soa", FINSECURE],
    ["explain", FINSECURE, "credit-scorer", "aims:euAIActCategory"],
], ids=lambda c: c[0])
def test_answering_commands_exit_0_on_a_register_with_violations(command):
    result = invoke(*command, *AS_OF)
    assert result.exit_code == 0, result.stderr
    assert result.stdout and result.stderr == ""


def test_report_exits_0_by_default_and_1_with_fail_on_violation(tmp_path):
    assert invoke("report", FINSECURE, *AS_OF, "-o", str(tmp_path / "r.html")).exit_code == 0
    failing = invoke("report", FINSECURE, *AS_OF, "-o", str(tmp_path / "r2.html"), "--fail-on", "violation")
    assert failing.exit_code == 1 and (tmp_path / "r2.html").exists()


@pytest.mark.parametrize("command", [["classify"], ["soa"], ["trace", "R-1"], ["gaps"], ["report", "-o", "x.html"]],
                         ids=lambda c: c[0])
def test_unreadable_register_exits_2_on_every_command(tmp_path, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: aimsgraph-register/1\norganization: {id: x, name: X, colour: red}\n", encoding="utf-8")
    name, *rest = command
    result = invoke(name, str(bad), *rest, *AS_OF)
    assert result.exit_code == 2
    assert "bad.yaml: entry 'x', key 'colour': unknown key" in result.stderr and result.stdout == ""


# --- unknown names are bad input ----------------------------------------------------------------


def test_gaps_unknown_rule_is_bad_input_with_the_closest_rule():
    result = invoke("gaps", FINSECURE, *AS_OF, "--rule", "risk-untreatd")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: no rule 'risk-untreatd'; did you mean 'risk-untreated'? (known: ")
    assert "soa-incomplete" in result.stderr


def test_gaps_unknown_system_is_bad_input_listing_the_systems():
    result = invoke("gaps", FINSECURE, *AS_OF, "--system", "fraud-detecter")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: no AI system 'fraud-detecter'; did you mean 'fraud-detector'? (known: "
                             "credit-scorer, credit-scorer-features, fraud-detector, support-chatbot)\n")


def test_query_unknown_name_and_parameter_name_the_closest():
    result = invoke("query", "risk-chian")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no query named 'risk-chian'; did you mean 'risk-chain'? (known: ")
    result = invoke("query", "risk-chain", "-r", FINSECURE, "-p", "rsk=R-CS-01")
    assert result.exit_code == 2
    assert result.stderr == "error: query 'risk-chain': no parameter 'rsk'; did you mean 'risk'? (known: risk)\n"


def test_query_reading_register_data_without_one_says_to_pass_r():
    result = invoke("query", "risk-chain", "-p", "risk=R-CS-01")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("error: query 'risk-chain' reads register data: pass the register with -r REGISTER "
                             "(or a store that holds one: --store-dir DIR)\n")


def test_catalogue_query_needs_no_register():
    result = invoke("query", "controls-for-article", "-p", "article=euaia:art14")
    assert result.exit_code == 0 and result.stdout.startswith("control\ttitle\trelationship\trationale\tarticle\n")


# --- help and progress ----------------------------------------------------------------------------


def test_flags_show_as_flags_in_help():
    text = invoke("serve", "--help").stdout
    assert re.search(r"^  --allow-service\s+Let SPARQL queries use SERVICE", text, re.MULTILINE)
    assert "<bool>" not in text


@pytest.mark.parametrize("command", ["gaps", "classify", "query", "trace", "impact", "hotspots", "soa",
                                     "report", "explain", "serve"])
def test_every_analysing_command_takes_the_shared_run_options(command):
    text = invoke(command, "--help").stdout
    for option in ("--as-of", "--store", "--store-dir", "--org", "--store-auth", "--store-timeout", "--owl-engine",
                   "--validator", "--window-months", "--expiring-days"):
        assert len(re.findall(rf"^  {option}(?![\w-])", text, re.MULTILINE)) == 1, (command, option)


def test_progress_is_silent_off_a_terminal():
    result = invoke("classify", FINSECURE, *AS_OF)
    assert result.exit_code == 0 and result.stderr == ""


def test_progress_on_a_terminal_names_each_stage_with_its_count_and_time():
    out = io.StringIO()
    progress = TerminalProgress(Console(file=out, force_terminal=True, width=120))
    with progress.stage("reason") as note:
        note("1,234 triples inferred")
    assert re.fullmatch(r"reason +1,234 triples inferred +\d+\.\d\d s\n", out.getvalue().split("\r")[-1]
                        .replace("\x1b[?25h", "").replace("\x1b[2K", "").replace("\x1b[1A", ""))
    quiet = io.StringIO()
    with TerminalProgress(Console(file=quiet, force_terminal=False)).stage("load") as note:
        note("5 triples")
    assert quiet.getvalue() == ""
