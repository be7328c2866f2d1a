"""Persistent stores (issue 12): `aimsgraph load` into an on-disk store and a SPARQL server, every
command answering from what the store holds, several organisations side by side, and loads that
are all or nothing: killed at any point, the store holds exactly the previous state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from aimsgraph import workspace
from aimsgraph.namespaces import GRAPH_DATA, GRAPH_INFERRED
from aimsgraph.pipeline import analyse, analyse_stored, classify
from aimsgraph.store import open_store

from conftest import _oxigraph_binary, free_port

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
CONFORMANT = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = date(2026, 1, 31)
AS_OF_TEXT = ["--as-of", "2026-01-31"]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aimsgraph", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=300)


def state(store_location: list[str]) -> dict:
    """What a store holds for FinSecure, as a test compares it: versions, graph sizes, findings."""
    store = open_store(*store_location) if store_location[0].startswith("http") else open_store("oxigraph", store_location[0])
    versions = workspace.current_versions(store)
    out = {"orgs": sorted(versions), "graphs": sorted(store.graphs())}
    if "finsecure" in versions:
        view = versions["finsecure"].view(store)
        out["data"] = view.count(GRAPH_DATA)
        out["inferred"] = view.count(GRAPH_INFERRED)
        analysis = analyse_stored(store, AS_OF, org="finsecure")
        out["findings"] = [f.as_json() for f in analysis.validation.findings]
    del store
    return out


@pytest.fixture(scope="module")
def embedded_gaps() -> str:
    return cli("gaps", str(FINSECURE), *AS_OF_TEXT, "--format", "json").stdout


@pytest.fixture
def store_dir(tmp_path) -> Path:
    folder = tmp_path / "store"
    result = cli("load", str(FINSECURE), "--store-dir", str(folder), *AS_OF_TEXT)
    assert result.returncode == 0, result.stderr
    return folder


# --- load once, then answer from the store -------------------------------------------------------


def test_load_then_every_command_answers_from_the_store(store_dir, embedded_gaps):
    at = ["--store-dir", str(store_dir), *AS_OF_TEXT]
    gaps = cli("gaps", *at, "--format", "json")
    assert gaps.returncode == 1 and gaps.stdout == embedded_gaps  # the same bytes as a one-shot run
    classified = json.loads(cli("classify", *at, "--format", "json").stdout)
    assert {s["id"]: s["category"] for s in classified["systems"]}["credit-scorer"] == "high-risk"
    assert "control A.6.2.4" in cli("trace", "R-CS-01", *at).stdout
    assert "risks" in cli("impact", "A.7.4", *at, "--format", "json").stdout
    assert cli("query", "risks-untreated", *at).stdout == "system\trisk\tscore\tappetite\toption\nsupport-chatbot\tR-SC-01\t20\t9\t\n"
    assert "rule eu-high-risk-annex-iii" in cli("explain", "credit-scorer", "aims:euAIActCategory", *at).stdout
    assert cli("soa", *at).stdout.count("\n") == 7 + 1 + 38 + 2  # header rows, column names, rows
    orgs = json.loads(cli("orgs", "--store-dir", str(store_dir), "--format", "json").stdout)
    assert [o["org"] for o in orgs["organisations"]] == ["finsecure"]


def test_another_date_is_reasoned_apart_and_leaves_the_store_as_it_was(store_dir):
    before = state([str(store_dir)])
    later = cli("gaps", "--store-dir", str(store_dir), "--as-of", "2026-09-30", "--format", "json")
    assert later.returncode == 1
    assert json.loads(later.stdout)["as_of"] == "2026-09-30"
    assert json.loads(later.stdout)["findings"] != before["findings"]
    assert state([str(store_dir)]) == before  # the temporary reasoning is gone, nothing else changed


def test_commands_without_a_register_need_a_store_holding_one(tmp_path):
    empty = cli("gaps", "--store-dir", str(tmp_path / "new"), *AS_OF_TEXT)
    assert empty.returncode == 2
    assert empty.stderr == "error: the store holds no organisation yet: load a register first (aimsgraph load REGISTER)\n"
    memory = cli("gaps", *AS_OF_TEXT)
    assert memory.returncode == 2 and "give a register" in memory.stderr
    load_in_memory = cli("load", str(FINSECURE))
    assert load_in_memory.returncode == 2 and "--store-dir DIR or --store URL" in load_in_memory.stderr


def test_a_bad_register_changes_nothing(store_dir, tmp_path):
    before = state([str(store_dir)])
    bad = tmp_path / "bad.yaml"
    bad.write_text(FINSECURE.read_text(encoding="utf-8").replace("organization:", "organization:\n  colour: red", 1),
                   encoding="utf-8")
    result = cli("load", str(bad), "--store-dir", str(store_dir), *AS_OF_TEXT)
    assert result.returncode == 2 and "key 'colour': unknown key" in result.stderr
    assert state([str(store_dir)]) == before


def test_a_store_in_use_is_a_clear_error(store_dir):
    holder = open_store("oxigraph", str(store_dir))
    try:
        result = cli("gaps", "--store-dir", str(store_dir), *AS_OF_TEXT)
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: cannot open the store in {store_dir}") and "another aimsgraph" in result.stderr
    finally:
        del holder


# --- several organisations ---------------------------------------------------------------------


def test_organisations_live_side_by_side_and_never_see_each_other(store_dir, embedded_gaps):
    assert cli("load", str(CONFORMANT), "--store-dir", str(store_dir), *AS_OF_TEXT).returncode == 0
    assert [o["org"] for o in json.loads(cli("orgs", "--store-dir", str(store_dir), "--format", "json").stdout)
            ["organisations"]] == ["finsecure", "northwind"]
    ambiguous = cli("gaps", "--store-dir", str(store_dir), *AS_OF_TEXT)
    assert ambiguous.returncode == 2
    assert ambiguous.stderr == "error: the store holds 2 organisations; choose one with --org (finsecure, northwind)\n"
    assert cli("gaps", "--store-dir", str(store_dir), "--org", "finsecure", *AS_OF_TEXT,
               "--format", "json").stdout == embedded_gaps
    northwind = cli("gaps", "--store-dir", str(store_dir), "--org", "northwind", *AS_OF_TEXT, "--format", "json")
    assert northwind.returncode == 0 and json.loads(northwind.stdout)["findings"] == []
    typo = cli("gaps", "--store-dir", str(store_dir), "--org", "finsecur", *AS_OF_TEXT)
    assert typo.returncode == 2 and "did you mean 'finsecure'?" in typo.stderr


def test_catalogues_are_stored_once_for_every_organisation(store_dir):
    cli("load", str(CONFORMANT), "--store-dir", str(store_dir), *AS_OF_TEXT)
    graphs = state([str(store_dir)])["graphs"]
    assert len([g for g in graphs if g.startswith(workspace.PACKAGED_BASE)]) == 2  # ontology + catalogues
    assert len([g for g in graphs if g.startswith(workspace.ORG_BASE)]) == 2 * 3  # data, inferred, parameters


# --- all or nothing -----------------------------------------------------------------------------

KILL_POINTS = {
    "while-storing-data": "aimsgraph.pipeline.store_data",
    "after-reasoning": "aimsgraph.pipeline.reason",
    "at-the-commit": "aimsgraph.workspace.commit",
    "before-the-sweep": "aimsgraph.workspace.sweep",
}


def killed_load(point: str, location: list[str]) -> subprocess.CompletedProcess:
    """`aimsgraph load` of the conformant example under FinSecure's id, SIGKILLed at `point`
    (right after the patched function returns, or, for the commit, just before it runs)."""
    module, _, name = KILL_POINTS[point].rpartition(".")
    before = point == "at-the-commit"
    code = f"""
import os, signal, sys, importlib
module = importlib.import_module({module!r})
original = getattr(module, {name!r})
def patched(*args, **kwargs):
    if {before!r}:
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(module, {name!r}, patched)
sys.argv = ["aimsgraph", "load", {str(CONFORMANT)!r}, "--org", "finsecure", *{location!r}, "--as-of", "2026-01-31"]
from aimsgraph.cli import main
main()
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_load_killed_anywhere_leaves_the_previous_state_or_the_new_one(store_dir, point):
    before = state([str(store_dir)])
    result = killed_load(point, ["--store-dir", str(store_dir)])
    assert result.returncode == -signal.SIGKILL, result.stderr
    after = state([str(store_dir)])
    if point == "before-the-sweep":  # committed: the new state, complete (the old graphs swept later)
        assert after["data"] == 580 and after["findings"] != before["findings"]
        cli("load", str(FINSECURE), "--store-dir", str(store_dir), *AS_OF_TEXT)  # the next load sweeps
        assert len([g for g in state([str(store_dir)])["graphs"] if g.startswith(workspace.ORG_BASE)]) == 3
    else:
        assert {k: after[k] for k in ("orgs", "data", "inferred", "findings")} == \
               {k: before[k] for k in ("orgs", "data", "inferred", "findings")}
        # and the half-written version is swept away by the next load
        assert cli("load", str(FINSECURE), "--store-dir", str(store_dir), *AS_OF_TEXT).returncode == 0
        assert len([g for g in state([str(store_dir)])["graphs"] if g.startswith(workspace.ORG_BASE)]) == 3


def test_a_load_killed_from_outside_at_random_moments_never_half_writes(store_dir, tmp_path):
    """Real SIGKILLs at several moments of a load (not at patched points)."""
    finished = tmp_path / "finished"  # the state the load reaches when nothing stops it
    assert cli("load", str(CONFORMANT), "--org", "finsecure", "--store-dir", str(finished), *AS_OF_TEXT).returncode == 0
    complete = state([str(finished)])
    before = state([str(store_dir)])
    for delay in (0.3, 0.8, 1.5, 2.5):
        proc = subprocess.Popen([sys.executable, "-m", "aimsgraph", "load", str(CONFORMANT), "--org", "finsecure",
                                 "--store-dir", str(store_dir), *AS_OF_TEXT], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        after = state([str(store_dir)])
        if after.get("data") == complete["data"]:  # it got as far as the commit: the new state, complete
            assert (after["inferred"], after["findings"]) == (complete["inferred"], complete["findings"])
            break
        assert {k: after[k] for k in ("orgs", "data", "inferred", "findings")} == \
               {k: before[k] for k in ("orgs", "data", "inferred", "findings")}


# --- a SPARQL server ------------------------------------------------------------------------------


def test_the_pipeline_on_a_server_gives_the_embedded_answers(sparql_server, embedded_gaps):
    location = ["--store", sparql_server]
    loaded = cli("load", str(FINSECURE), *location, *AS_OF_TEXT)
    assert loaded.returncode == 0, loaded.stderr
    assert "bytes sent" in loaded.stderr  # what crossed the network is reported
    assert cli("gaps", *location, "--org", "finsecure", *AS_OF_TEXT, "--format", "json").stdout == embedded_gaps
    remote = analyse_stored(open_store(sparql_server), AS_OF, org="finsecure")
    assert classify(remote.store) == classify(analyse(FINSECURE, AS_OF).store)


@pytest.mark.parametrize("point", ["after-reasoning", "at-the-commit"])
def test_a_load_into_a_server_killed_leaves_the_previous_state(sparql_server, point):
    location = ["--store", sparql_server]
    assert cli("load", str(FINSECURE), *location, *AS_OF_TEXT).returncode == 0
    before = state([sparql_server])
    result = killed_load(point, location)
    assert result.returncode == -signal.SIGKILL
    after = state([sparql_server])
    assert {k: after[k] for k in ("data", "inferred", "findings")} == {k: before[k] for k in ("data", "inferred", "findings")}


def test_a_server_that_goes_away_mid_run_is_a_clear_error(tmp_path):


    binary = _oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install 'aimsgraph[remote]')")
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            if cli("orgs", "--store", url).returncode == 0:
                break
            time.sleep(0.05)
        proc = subprocess.Popen([sys.executable, "-m", "aimsgraph", "load", str(FINSECURE), "--store", url, *AS_OF_TEXT],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.6)
        server.kill()
        server.wait(timeout=10)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 2
        assert f"cannot reach the SPARQL server at {url}/" in stderr and "attempts" in stderr
        assert "Traceback" not in stderr
    finally:
        server.kill()


def test_wrong_credentials_are_a_clear_error(sparql_server):
    bad = cli("orgs", "--store", sparql_server, "--store-auth", "nocolon")
    assert bad.returncode == 2 and "user:password" in bad.stderr


# --- questions across the organisations of a store -----------------------------------------------


@pytest.fixture
def two_clients(tmp_path) -> Path:
    """Northwind (the conformant example, audited 2025-09-16) and 'southwind', a copy that was
    never audited and whose forecaster does social scoring (Art 5(1)(c))."""
    import yaml

    folder = tmp_path / "clients"
    assert cli("load", str(CONFORMANT), "--store-dir", str(folder), *AS_OF_TEXT).returncode == 0
    register = yaml.safe_load(CONFORMANT.read_text(encoding="utf-8"))
    register["organization"].update(id="southwind", name="Southwind Logistics")
    register["audits"] = []
    for nc in register.get("nonconformities", []):
        nc["refs"] = nc.get("refs", [])
    register["ai_systems"][0]["eu_ai_act"] = {"roles": ["deployer"], "prohibited_practice": "c"}
    path = tmp_path / "southwind.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False), encoding="utf-8")
    loaded = cli("load", str(path), "--store-dir", str(folder), *AS_OF_TEXT)
    assert loaded.returncode == 0, loaded.stderr
    return folder


def test_clients_without_an_internal_audit_in_the_year(two_clients):
    result = cli("query", "organisations-without-internal-audit", "--store-dir", str(two_clients), "-p", "at=2026-01-31")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "organisation\tname\tlast_audit\tat\nsouthwind\tSouthwind Logistics\t\t2026-01-31\n"
    later = cli("query", "organisations-without-internal-audit", "--store-dir", str(two_clients), "-p", "at=2026-09-17")
    assert later.stdout.splitlines()[1:] == ["northwind\tNorthwind Analytics BV\t2025-09-16\t2026-09-17",
                                             "southwind\tSouthwind Logistics\t\t2026-09-17"]
    on_the_day = cli("query", "organisations-without-internal-audit", "--store-dir", str(two_clients), "-p", "at=2026-09-16")
    assert [line.split("\t")[0] for line in on_the_day.stdout.splitlines()[1:]] == ["northwind", "southwind"]
    day_before = cli("query", "organisations-without-internal-audit", "--store-dir", str(two_clients), "-p", "at=2026-09-15")
    assert [line.split("\t")[0] for line in day_before.stdout.splitlines()[1:]] == ["southwind"]


def test_clients_with_prohibited_practices(two_clients):
    result = cli("query", "organisations-with-prohibited-practices", "--store-dir", str(two_clients))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "organisation\tsystem\tpractice\nsouthwind\tinbound-forecaster\teuaia:art5-1c\n"
    only = cli("query", "organisations-with-prohibited-practices", "--store-dir", str(two_clients),
               "-p", "organisation=northwind")
    assert only.stdout == "organisation\tsystem\tpractice\n"


def test_questions_across_organisations_need_a_store():
    result = cli("query", "organisations-with-prohibited-practices")
    assert result.returncode == 2 and "--store-dir DIR" in result.stderr


def test_the_embedded_store_runs_queries_concurrently_in_order_and_raises_the_first_error():
    import threading

    from aimsgraph.errors import QueryError
    from aimsgraph.store import OxigraphStore

    store = OxigraphStore()
    store.update("INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> 1, 2, 3 } }")
    threads = set()

    def count_above(n):
        threads.add(threading.get_ident())
        return len(store.query(f"SELECT ?o WHERE {{ <urn:a> <urn:p> ?o FILTER (?o > {n}) }}").rows)

    assert store.map_concurrently(count_above, [0, 1, 2, 3] * 4) == [3, 2, 1, 0] * 4
    assert threading.get_ident() not in threads

    def failing(n):
        if n in (2, 3):
            raise QueryError(f"query {n}")
        return n

    with pytest.raises(QueryError, match="query 2"):
        store.map_concurrently(failing, [0, 1, 2, 3])


def test_the_validator_finds_the_same_run_concurrently_and_one_by_one():
    from aimsgraph import shacl
    from aimsgraph.pipeline import analyse
    from aimsgraph.validate import compiled_shapes

    store = analyse(Path(__file__).resolve().parents[1] / "examples" / "finsecure" / "register.yaml",
                    date(2026, 1, 31)).store
    timings: dict = {}
    one_by_one = shacl.run(compiled_shapes(), store, timings)
    assert shacl.run(compiled_shapes(), store) == one_by_one and len(one_by_one) > 10
    assert set(timings) == {q.name for q in compiled_shapes().queries}
