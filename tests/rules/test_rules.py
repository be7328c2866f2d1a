"""One runner for every domain rule in rules/.

Each rule has a folder tests/rules/<rule-id>/ with
  fires.yaml    a register on which the rule fires (or fires.ttl: RDF input, for the rules that read
                AIRO descriptions),
  expected.ttl  the EXACT triples that rule derives on it (first derivations: a triple an earlier
                rule already derived is that rule's: ReasoningReport.derived_by with reason(record=True)),
  holds.yaml    a register on which it derives nothing (or holds.ttl),
  run.yaml      (optional) the run's parameters for both registers: as_of, ai_act_text.
Registers are reasoned (OWL 2 RL closure, then all rules to a fixpoint) at AS_OF (or run.yaml's)
with the default windows, on the embedded store (pyoxigraph) and the reference store (rdflib):
the rules are plain SPARQL and must derive the same triples on both.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pytest
import rdflib
import yaml
from rdflib import Literal
from rdflib.namespace import XSD

from aimsgraph.load import load_input
from aimsgraph.reason import Parameters, load_rules, reason
from aimsgraph.store import open_store

HERE = Path(__file__).parent
AS_OF = date(2026, 1, 31)
STORES = ("oxigraph", "rdflib")
RULE_IDS = [rule.id for rule in load_rules()]


def _norm(triple):
    """xsd:string literals as plain literals (the same RDF term; rdflib keeps them apart)."""
    s, p, o = triple
    if isinstance(o, Literal) and o.datatype == XSD.string:
        o = Literal(str(o))
    return (s, p, o)


def run_parameters(folder: Path) -> Parameters:
    """The folder's run.yaml (as_of, ai_act_text), else AS_OF with the default text (auto)."""
    path = folder / "run.yaml"
    options = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    as_of = options.get("as_of", AS_OF)
    return Parameters(as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of)),
                      ai_act_text=options.get("ai_act_text", "auto"))


@cache
def derived_by_rule(register: Path, store_engine: str) -> dict[str, frozenset]:
    """rule id -> the triples it derived (first) on `register`, with its folder's run parameters."""
    store = open_store(store_engine)
    load_input(store, register)
    report = reason(store, run_parameters(register.parent), record=True)
    out: dict[str, set] = {}
    for triple, rule_id in report.derived_by.items():
        out.setdefault(rule_id, set()).add(_norm(triple))
    return {rule_id: frozenset(triples) for rule_id, triples in out.items()}


def register(folder: Path, name: str) -> Path:
    """The folder's `name`.yaml register, or its `name`.ttl RDF input."""
    path = folder / f"{name}.yaml"
    return path if path.exists() else folder / f"{name}.ttl"


def expected_triples(folder: Path) -> set:
    graph = rdflib.Graph().parse(folder / "expected.ttl", format="turtle")
    return {_norm(t) for t in graph}


def _show(triples) -> str:
    graph = rdflib.Graph()
    graph.bind("aims", "https://w3id.org/aimsgraph/ontology#")
    graph.bind("euaia", "https://w3id.org/aimsgraph/eu-ai-act/")
    graph.bind("data", "https://w3id.org/aimsgraph/data/acme/")
    for t in triples:
        graph.add(t)
    return graph.serialize(format="turtle")


def test_every_rule_has_a_folder_and_every_folder_a_rule():
    folders = {p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders == set(RULE_IDS)
    for rule_id in RULE_IDS:
        names = {p.name for p in (HERE / rule_id).iterdir()}
        assert "expected.ttl" in names and names & {"fires.yaml", "fires.ttl"} and names & {"holds.yaml", "holds.ttl"}, rule_id
        assert names <= {"fires.yaml", "fires.ttl", "expected.ttl", "holds.yaml", "holds.ttl", "run.yaml"}, rule_id


@pytest.mark.parametrize("store_engine", STORES)
@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_fires_exactly(rule_id, store_engine):
    folder = HERE / rule_id
    expected = expected_triples(folder)
    assert expected, f"{folder / 'expected.ttl'} must list at least one triple"
    derived = set(derived_by_rule(register(folder, "fires"), store_engine).get(rule_id, ()))
    assert derived == expected, (f"missing:\n{_show(expected - derived)}\nunexpected:\n{_show(derived - expected)}")


@pytest.mark.parametrize("store_engine", STORES)
@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_holds(rule_id, store_engine):
    derived = derived_by_rule(register(HERE / rule_id, "holds"), store_engine).get(rule_id, frozenset())
    assert not derived, f"{rule_id} must not fire on holds.yaml:\n{_show(derived)}"
