"""Manifest-driven conformity suite (in the style of the W3C SHACL test manifests).

Every case of manifest.yaml patches a copy of base.yaml, runs the whole pipeline
(`aimsgraph.pipeline.analyse`) at the case's as-of date and compares the EXACT list of findings
(rule, focus, refs, severity) with the case's `expect`. A case marked `xfail: "reason"` records
where the product disagrees with /work/shared/spec/conformity.md; it is run with
`pytest.mark.xfail(strict=True)`, so it fails loudly once the product is fixed. The pipeline
validates with its default, the shapes compiled to SPARQL; `test_case_pyshacl_agrees` runs
pySHACL (the reference) on each case's reasoned store and asserts the same findings and SHACL
results.

Patch language (each operation is a one-key mapping naming the operation, plus `value`):

    {set: PATH, value: V}      replace or add the key or list item at PATH
    {delete: PATH}             remove the key or list item at PATH (it must exist)
    {append: PATH, value: V}   append V to the list at PATH (created when the key is missing)
    {merge: PATH, value: {..}} update the mapping at PATH with the keys of V

PATH is a dotted path into the register; a list item is chosen by `[N]` (index) or `[key=value]`
(the single item whose `key` equals `value`, compared as text), e.g. `aims.scope`,
`risks[id=NW-R-1].treatment.option`, `controls[id=A.10.4]`, `training[0].date`. Dots inside
brackets belong to the selector.

`ai_act_text` (optional) names the text of the EU AI Act the case is judged under: `original`
(Regulation (EU) 2024/1689 as adopted), `amended` (as amended by Regulation (EU) 2026/1744) or
`auto` (default: the text in force at the case's as-of date, amended from 2026-07-27).

`rdf_extra` (optional) is Turtle appended to the RDF converted from the patched register
(`aimsgraph.load.read_input`); the result is written as .ttl and analysed instead of the YAML.
Prefixes aims:, iso42001:, euaia:, rdfs:, xsd: ... are declared, and `data:` is the base of the
base register's minted IRIs (https://w3id.org/aimsgraph/data/northwind/).
"""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from aimsgraph.load import read_input
from aimsgraph.namespaces import DATA_BASE, PREFIXES
from aimsgraph.pipeline import Analysis, analyse
from aimsgraph.shacl import result_key
from aimsgraph.validate import validate

HERE = Path(__file__).parent
BASE = HERE / "base.yaml"
MANIFEST = HERE / "manifest.yaml"
# The public contract sits beside the repository in ../shared; its rule ids are frozen here too so
# the suite runs without it.
SPEC = HERE.parents[2] / "shared" / "spec" / "conformity.md"
SPEC_RULE_IDS = [
    "scope-missing", "interested-parties-missing", "ai-policy-missing", "ai-policy-review-overdue",
    "owner-unknown", "objectives-missing", "risk-assessment-missing", "risk-untreated",
    "risk-acceptance-unapproved", "residual-above-appetite", "impact-assessment-missing",
    "impact-assessment-overdue", "impact-assessment-incomplete", "soa-incomplete",
    "soa-exclusion-unjustified", "treatment-uses-excluded-control", "treatment-not-implemented", "control-unevidenced",
    "evidence-expired", "internal-audit-missing", "management-review-missing",
    "corrective-action-missing", "corrective-action-overdue", "competence-missing",
    "prohibited-practice", "derogation-invalid", "obligation-uncovered", "fria-missing",
    "serious-incident-unreported", "obligation-partially-covered", "derogation-without-annex-iii",
]
DEFAULT_AS_OF = date(2026, 1, 31)
DATA_PREFIX = f"{DATA_BASE}northwind/"
SEVERITIES = {"violation", "warning", "info"}


# ---------------------------------------------------------------------------- patch language

_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def parse_path(path: str) -> list[Any]:
    """'risks[id=R-1].treatment' -> ['risks', ('id', 'R-1'), 'treatment']; '[2]' -> 2."""
    steps: list[Any] = []
    pos = 0
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _STEP.match(path, pos)
        if m is None:
            raise ValueError(f"bad patch path {path!r} at {pos}")
        if m.group(1) is not None:
            sel = m.group(1)
            if "=" in sel:
                key, _, val = sel.partition("=")
                steps.append((key.strip(), val.strip()))
            else:
                steps.append(int(sel))
        else:
            steps.append(m.group(2))
        pos = m.end()
    if not steps:
        raise ValueError(f"empty patch path {path!r}")
    return steps


def _index(container: Any, step: Any) -> Any:
    """The key or list index `step` denotes inside `container` (which must exist for selectors)."""
    if isinstance(step, tuple):
        key, val = step
        if not isinstance(container, list):
            raise KeyError(f"selector [{key}={val}] applied to a non-list")
        hits = [i for i, item in enumerate(container) if isinstance(item, dict) and str(item.get(key)) == val]
        if len(hits) != 1:
            raise KeyError(f"selector [{key}={val}] matches {len(hits)} items")
        return hits[0]
    if isinstance(step, int):
        if not isinstance(container, list) or not -len(container) <= step < len(container):
            raise KeyError(f"index [{step}] out of range")
        return step
    if not isinstance(container, dict):
        raise KeyError(f"key {step!r} applied to a non-mapping")
    return step


def _parent(doc: Any, steps: list[Any]) -> tuple[Any, Any]:
    node = doc
    for step in steps[:-1]:
        idx = _index(node, step)
        if isinstance(node, dict) and idx not in node:
            raise KeyError(f"missing key {idx!r}")
        node = node[idx]
    return node, _index(node, steps[-1])


def apply_patch(doc: dict, ops: list[dict]) -> dict:
    """A patched deep copy of `doc` (see the module docstring for the language)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kinds = [k for k in ("set", "delete", "append", "merge") if k in op]
        if len(kinds) != 1 or set(op) - {kinds[0], "value"}:
            raise ValueError(f"bad patch operation {op!r}")
        kind = kinds[0]
        if kind != "delete" and "value" not in op:
            raise ValueError(f"patch operation {op!r} needs a value")
        parent, idx = _parent(doc, parse_path(op[kind]))
        value = copy.deepcopy(op.get("value"))
        if kind == "set":
            parent[idx] = value
        elif kind == "delete":
            if isinstance(parent, dict) and idx not in parent:
                raise KeyError(f"cannot delete missing key {op[kind]!r}")
            del parent[idx]
        elif kind == "append":
            if isinstance(parent, dict) and idx not in parent:
                parent[idx] = []
            if not isinstance(parent[idx], list):
                raise KeyError(f"cannot append to non-list {op[kind]!r}")
            parent[idx].append(value)
        else:
            if not isinstance(parent[idx], dict) or not isinstance(value, dict):
                raise KeyError(f"cannot merge into {op[kind]!r}")
            parent[idx].update(value)
    return doc


# ---------------------------------------------------------------------------- manifest


def load_base() -> dict:
    return yaml.safe_load(BASE.read_text(encoding="utf-8"))


def load_manifest() -> list[dict]:
    cases = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(cases, list), "manifest.yaml must be a list of cases"
    return cases


def spec_rule_ids() -> list[str]:
    """Rule ids from the first column of the spec's rule tables (the frozen list without it)."""
    if not SPEC.exists():
        return list(SPEC_RULE_IDS)
    ids = []
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*([a-z0-9]+(?:-[a-z0-9]+)+)\s*\|", line)
        if m and m.group(1) not in ids:
            ids.append(m.group(1))
    return ids


def expected_rows(case: dict) -> list[tuple]:
    return sorted((e["rule"], str(e["focus"]), list(e["refs"]), e["severity"]) for e in case["expect"])


_ANALYSED: dict[tuple[str, str], Analysis] = {}  # (case name, as-of) -> analysis, shared by the findings and engine tests


def analysed_case(case: dict, tmp_path: Path) -> Analysis:
    """The case's register loaded, reasoned and validated with the default (compiled) validator."""
    key = (case["name"], str(case.get("as_of", DEFAULT_AS_OF)))
    if key not in _ANALYSED:
        _ANALYSED[key] = _analyse_case(case, tmp_path)
    return _ANALYSED[key]


def _analyse_case(case: dict, tmp_path: Path) -> Analysis:
    register = apply_patch(load_base(), case.get("patch") or [])
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(register, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if case.get("rdf_extra"):
        graph = read_input(path)
        prologue = "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in PREFIXES.items())
        graph.parse(data=prologue + f"@prefix data: <{DATA_PREFIX}> .\n" + case["rdf_extra"], format="turtle")
        path = tmp_path / "register.ttl"
        graph.serialize(destination=str(path), format="turtle")
    as_of = case.get("as_of", DEFAULT_AS_OF)
    as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    return analyse(path, as_of, ai_act_text=case.get("ai_act_text", "auto"))


def analysed_rows(case: dict, tmp_path: Path) -> list[tuple]:
    findings = analysed_case(case, tmp_path).validation.findings
    return sorted((f.rule, f.focus, list(f.refs), f.severity) for f in findings)


CASES = load_manifest()


def _param(case: dict):
    marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
    return pytest.param(case, id=case["name"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: dict, tmp_path: Path) -> None:
    assert analysed_rows(case, tmp_path) == expected_rows(case)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_case_pyshacl_agrees(case: dict, tmp_path: Path) -> None:
    """pySHACL, the reference, gives the compiled validator's exact findings and SHACL results
    on the same reasoned store (xfail or not: the engines must agree either way)."""
    analysis = analysed_case(case, tmp_path)
    reference = validate(analysis.store, "pyshacl")
    assert reference.findings == analysis.validation.findings
    assert sorted(result_key(r, reference.shapes) for r in reference.results) == \
        sorted(result_key(r, analysis.validation.shapes) for r in analysis.validation.results)


# ---------------------------------------------------------------------------- the suite itself


@pytest.mark.parametrize("as_of", ["2026-01-31", "2026-09-01"])
def test_base_register_conforms(as_of: str, tmp_path: Path) -> None:
    assert analysed_rows({"name": "base", "as_of": as_of, "patch": []}, tmp_path) == []


def test_base_register_has_every_annex_a_row() -> None:
    from aimsgraph.load import annex_a_controls

    rows = {c["id"] for c in load_base()["controls"]}
    catalogue = {c.rsplit("/", 1)[-1].removeprefix("iso42001:") for c in annex_a_controls()}
    assert len(catalogue) == 38
    assert catalogue <= rows


def test_spec_lists_31_rules() -> None:
    """The second edition adds treatment-not-implemented, obligation-partially-covered and
    derogation-without-annex-iii."""
    ids = spec_rule_ids()
    assert ids == SPEC_RULE_IDS and len(ids) == 31
    assert ids[0] == "scope-missing" and ids[-1] == "derogation-without-annex-iii"


def test_manifest_is_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    rules = set(spec_rule_ids())
    for case in CASES:
        assert set(case) <= {"name", "rule", "as_of", "ai_act_text", "patch", "expect", "rdf_extra", "xfail",
                             "note"}, case["name"]
        assert case["rule"] in rules, case["name"]
        assert isinstance(case["expect"], list), case["name"]
        for e in case["expect"]:
            assert set(e) == {"rule", "focus", "refs", "severity"}, case["name"]
            assert e["rule"] in rules and e["severity"] in SEVERITIES, case["name"]
        apply_patch(load_base(), case.get("patch") or [])  # every path resolves


def test_every_rule_fires_and_stays_silent() -> None:
    """Each spec rule has >= 1 case where it fires and >= 1 case where it must not."""
    firing = {r: 0 for r in spec_rule_ids()}
    silent = dict(firing)
    for case in CASES:
        rule = case["rule"]
        if any(e["rule"] == rule for e in case["expect"]):
            firing[rule] += 1
        else:
            silent[rule] += 1
    assert [r for r, n in firing.items() if n == 0] == []
    assert [r for r, n in silent.items() if n == 0] == []


def test_patch_language() -> None:
    doc = {"a": {"b": 1}, "xs": [{"id": "A.1", "v": 1}, {"id": "A.10.4", "v": 2}]}
    out = apply_patch(doc, [
        {"set": "a.b", "value": None},
        {"set": "xs[id=A.10.4].v", "value": 5},
        {"delete": "xs[0]"},
        {"append": "ys", "value": 1},
        {"merge": "a", "value": {"c": 2}},
    ])
    assert out == {"a": {"b": None, "c": 2}, "xs": [{"id": "A.10.4", "v": 5}], "ys": [1]}
    assert doc["a"] == {"b": 1}  # the input is not touched
    with pytest.raises(KeyError):
        apply_patch(doc, [{"delete": "xs[id=nope]"}])
    with pytest.raises(KeyError):
        apply_patch(doc, [{"delete": "a.zz"}])
