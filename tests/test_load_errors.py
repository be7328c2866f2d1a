"""Every kind of register error: the message names the file, the entry id and the key; every
problem of a register is reported in one run; and nothing is loaded: a store that already held
data keeps it exactly."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from aimsgraph.errors import Problem, RegisterError
from aimsgraph.load import load_input, read_register
from aimsgraph.store import open_store

FILE = "register.yaml"

# A small valid register touching every section; each case below breaks one thing in a copy.
VALID = {
    "format": "aimsgraph-register/1",
    "organization": {"id": "acme", "name": "ACME Ltd", "jurisdictions": ["EU"], "public_body": False},
    "aims": {"scope": "Everything", "scope_approved_on": "2025-01-10",
             "interested_parties": [{"id": "customers", "name": "Customers", "needs": "Fair scores"}]},
    "people": [{"id": "ceo", "name": "Jane Doe", "role": "top-management"},
               {"id": "cto", "name": "Joe Roe", "role": "Chief Technology Officer"}],
    "policies": [{"id": "POL-AI", "kind": "ai-policy", "title": "AI policy", "approved_by": "ceo",
                  "approved_on": "2025-01-15", "next_review": "2026-01-15"}],
    "risk_criteria": {"appetite": 8},
    "objectives": [{"id": "OBJ-1", "title": "Fair", "annex_c": "fairness", "owner": "ceo", "due": "2026-06-30"}],
    "ai_systems": [
        {"id": "scorer", "name": "Credit scorer", "lifecycle_stage": "operation", "owner": "ceo",
         "eu_ai_act": {"roles": ["provider"], "annex_iii": "5b"}},
        {"id": "features", "name": "Feature pipeline", "owner": "cto", "part_of": "scorer"},
    ],
    "impact_assessments": [{"id": "IA-1", "ai_system": "scorer", "date": "2025-03-01", "affected": ["customers"],
                            "approved_by": "ceo"}],
    "risks": [{"id": "R-1", "title": "Bias", "ai_system": "scorer", "risk_source": "machine-learning",
               "affects": ["customers"], "likelihood": 4, "impact": 5,
               "treatment": {"option": "mitigate", "controls": ["A.7.4", "OWN-1"], "owner": "ceo",
                             "residual_likelihood": 2, "residual_impact": 4}}],
    "controls": [{"id": "A.7.4", "applicable": True, "status": "implemented", "owner": "ceo", "evidence": ["EV-1"]},
                 {"id": "OWN-1", "title": "Four eyes", "applicable": True, "status": "implemented",
                  "maps_to": ["euaia:art14"], "evidence": ["EV-1"]}],
    "evidence": [{"id": "EV-1", "title": "Report", "kind": "report", "date": "2025-04-01",
                  "valid_until": "2026-04-01", "produced_by": "ceo"}],
    "audits": [{"id": "AUD-1", "date": "2025-06-01", "scope": ["iso42001:8.2", "A.6"], "independent": True,
                "findings": ["NC-1"]}],
    "management_reviews": [{"id": "MR-1", "date": "2025-07-01", "attendees": ["ceo"], "decisions": ["Go on"]}],
    "nonconformities": [{"id": "NC-1", "title": "Gap", "raised_on": "2025-06-01", "refs": ["iso42001:8.4"],
                         "corrective_action": {"description": "Fix it", "due": "2025-09-01"}}],
    "incidents": [{"id": "INC-1", "ai_system": "scorer", "date": "2025-08-01", "serious": True,
                   "reported_to_authority_on": "2025-08-10"}],
    "training": [{"id": "TR-1", "topic": "AI literacy", "date": "2025-02-01", "attendees": ["ceo", "cto"]}],
}


def write(tmp_path: Path, register: dict, name: str = FILE) -> Path:
    path = tmp_path / name
    text = yaml.safe_dump(register, sort_keys=False, allow_unicode=True)
    # Dates unquoted, as people write them, so YAML itself sees them as dates
    path.write_text(re.sub(r"'(\d{4}-\d{2}-\d{2})'", r"\1", text), encoding="utf-8")
    return path


def broken(change) -> dict:
    register = copy.deepcopy(VALID)
    change(register)
    return register


@pytest.fixture(scope="module")
def loaded_store(tmp_path_factory):
    """A store that already holds a valid register, and a snapshot of every triple in it."""
    path = write(tmp_path_factory.mktemp("valid"), VALID)
    store = open_store()
    load_input(store, path)
    return store, snapshot(store)


def snapshot(store) -> dict[str, set]:
    return {g: set(store.triples(g)) for g in store.graphs()}


def problems_of(tmp_path: Path, register: dict, loaded_store) -> list[Problem]:
    """Load the broken register into the store that already holds data: it must raise, and the
    store must be exactly as before."""
    store, before = loaded_store
    path = write(tmp_path, register)
    with pytest.raises(RegisterError) as caught:
        load_input(store, path)
    assert snapshot(store) == before  # nothing already stored is lost, nothing new is added
    return caught.value.problems


def test_the_valid_register_loads(tmp_path, loaded_store):
    entries = read_register(write(tmp_path, VALID))
    assert len(entries) == 20
    _, before = loaded_store
    assert sum(len(v) for v in before.values()) > 0


def set_(path: str, value):
    """A change that sets a value at a dotted path (list positions as numbers)."""
    def change(register):
        *parents, last = path.split(".")
        node = register
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return change


def delete(path: str):
    def change(register):
        *parents, last = path.split(".")
        node = register
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]
    return change


# (case id, change, expected (entry, key, message start))
CASES = [
    ("unknown key", set_("people.0.email", "x@y"),
     ("ceo", "email", "unknown key (allowed: id, name, role)")),
    ("unknown nested key", set_("risks.0.treatment.deadline", "2025-01-01"),
     ("R-1", "treatment.deadline", "unknown key")),
    ("unknown section", set_("suppliers", []), ("", "suppliers", "unknown section")),
    ("wrong format", set_("format", "aimsgraph-register/2"),
     ("", "format", "must be 'aimsgraph-register/1', got 'aimsgraph-register/2'")),
    ("missing format", delete("format"), ("", "format", "must be 'aimsgraph-register/1', got nothing")),
    ("missing organization", delete("organization"), ("", "organization", "is required")),
    ("missing required key", delete("risks.0.likelihood"), ("R-1", "likelihood", "is required")),
    ("missing required nested key", delete("risks.0.treatment.option"), ("R-1", "treatment.option", "is required")),
    ("missing id", delete("training.0.id"), ("training #1", "id", "is required")),
    ("invalid id", set_("training.0.id", "TR 1"), ("TR 1", "id", "'TR 1' is not a valid id")),
    ("text expected", set_("people.0.name", ["Jane"]), ("ceo", "name", "must be text, got list")),
    ("whole number expected", set_("risks.0.likelihood", "high"),
     ("R-1", "likelihood", "must be a whole number, got 'high'")),
    ("number out of range", set_("risks.0.impact", 6), ("R-1", "impact", "must be from 1 to 5, got 6")),
    ("nested number out of range", set_("risks.0.treatment.residual_impact", 0),
     ("R-1", "treatment.residual_impact", "must be from 1 to 5, got 0")),
    ("appetite out of range", set_("risk_criteria.appetite", 26),
     ("risk_criteria", "appetite", "must be from 1 to 25, got 26")),
    ("bool expected", set_("incidents.0.serious", "maybe"), ("INC-1", "serious", "must be true or false, got 'maybe'")),
    ("date expected", set_("evidence.0.date", "1 April 2025"),
     ("EV-1", "date", "must be a date YYYY-MM-DD, got '1 April 2025'")),
    ("impossible date", set_("policies.0.approved_on", "2025-02-30"),
     ("POL-AI", "approved_on", "'2025-02-30' is not a real calendar date")),
    ("impossible nested date", set_("nonconformities.0.corrective_action.due", "2025-13-01"),
     ("NC-1", "corrective_action.due", "'2025-13-01' is not a real calendar date")),
    ("value outside closed list", set_("ai_systems.0.lifecycle_stage", "production"),
     ("scorer", "lifecycle_stage", "'production' is not allowed; use one of: inception, design-development")),
    ("closed list item", set_("ai_systems.0.eu_ai_act.roles", ["provider", "reseller"]),
     ("scorer", "eu_ai_act.roles", "'reseller' is not allowed")),
    ("annex iii point", set_("ai_systems.0.eu_ai_act.annex_iii", "9a"), ("scorer", "eu_ai_act.annex_iii", "'9a' is not allowed")),
    ("annex c objective", set_("objectives.0.annex_c", "speed"), ("OBJ-1", "annex_c", "'speed' is not allowed")),
    ("risk source", set_("risks.0.risk_source", "weather"), ("R-1", "risk_source", "'weather' is not allowed")),
    ("treatment option", set_("risks.0.treatment.option", "ignore"), ("R-1", "treatment.option", "'ignore' is not allowed")),
    ("list expected", set_("training.0.attendees", "ceo"), ("TR-1", "attendees", "must be a list, got 'ceo'")),
    ("mapping expected", set_("risks.0.treatment", "mitigate"),
     ("R-1", "treatment", "must be a mapping of keys, got 'mitigate'")),
    ("section must be a list", set_("training", {"id": "TR-1"}), ("training", "", "must be a list of entries")),
    ("entry must be a mapping", set_("training.0", "TR-1"), ("training #1", "", "must be a mapping of keys")),
    ("duplicate id in a section", lambda r: r["people"].append({"id": "ceo", "name": "Someone else"}),
     ("ceo", "id", "duplicate id: already used by an entry of 'people'")),
    ("duplicate id across sections", set_("training.0.id", "scorer"),
     ("scorer", "id", "duplicate id: already used by an entry of 'ai_systems'")),
    ("duplicate of the organization id", lambda r: r["aims"]["interested_parties"].append({"id": "acme", "name": "Us"}),
     ("acme", "id", "duplicate id: already used by an entry of 'organization'")),
    ("dangling owner", set_("objectives.0.owner", "cfo"), ("OBJ-1", "owner", "'cfo' names no person in the register")),
    ("dangling system", set_("incidents.0.ai_system", "chatbot"),
     ("INC-1", "ai_system", "'chatbot' names no AI system in the register")),
    ("dangling part_of", set_("ai_systems.1.part_of", "platform"),
     ("features", "part_of", "'platform' names no AI system in the register")),
    ("dangling control", set_("risks.0.treatment.controls", ["OWN-2"]),
     ("R-1", "treatment.controls", "'OWN-2' names no control in the register")),
    ("control that is not in Annex A", set_("risks.0.treatment.controls", ["A.99.1"]),
     ("R-1", "treatment.controls", "'A.99.1' names no control in the register")),
    ("dangling evidence", set_("controls.0.evidence", ["EV-9"]),
     ("A.7.4", "evidence", "'EV-9' names no evidence item in the register")),
    ("dangling interested party", set_("risks.0.affects", ["regulator"]),
     ("R-1", "affects", "'regulator' names no interested party in the register")),
    ("dangling nonconformity", set_("audits.0.findings", ["NC-7"]),
     ("AUD-1", "findings", "'NC-7' names no nonconformity in the register")),
    ("reference to the wrong kind of entry", set_("policies.0.approved_by", "scorer"),
     ("POL-AI", "approved_by", "'scorer' names no person in the register")),
    ("soa row for a non-Annex A control", set_("controls.0.id", "A.7.9"),
     ("A.7.9", "id", "'A.7.9' is not an ISO/IEC 42001 Annex A control")),
    ("own control without title", delete("controls.1.title"),
     ("OWN-1", "title", "an organisation's own control needs a title")),
    ("unknown catalogue reference", set_("nonconformities.0.refs", ["iso42001:99.9"]),
     ("NC-1", "refs", "'iso42001:99.9' is not an entry of the shipped catalogues")),
    ("not a catalogue reference", set_("controls.1.maps_to", ["article 14"]),
     ("OWN-1", "maps_to", "'article 14' is not a catalogue reference")),
    ("part_of onto itself", set_("ai_systems.0.part_of", "scorer"),
     ("scorer", "part_of", "part_of goes round in a cycle: scorer -> scorer")),
    ("part_of cycle", set_("ai_systems.0.part_of", "features"),
     ("scorer", "part_of", "part_of goes round in a cycle: scorer -> features -> scorer")),
    ("bad base_iri", set_("organization.base_iri", "data.acme.example"),
     ("acme", "base_iri", "must be an http(s) IRI ending in '/' or '#'")),
]


@pytest.mark.parametrize("change, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_error_names_file_entry_and_key_and_loads_nothing(tmp_path, loaded_store, change, expected):
    problems = problems_of(tmp_path, broken(change), loaded_store)
    entry, key, message = expected
    assert [(p.file, p.entry, p.key) for p in problems] == [(FILE, entry, key)], problems
    assert problems[0].message.startswith(message), problems[0].message


def test_every_problem_is_reported_in_one_run(tmp_path, loaded_store):
    def many(register):
        for c in (set_("people.0.email", "x"), set_("risks.0.impact", 9), set_("evidence.0.date", "2025-02-29"),
                  set_("incidents.0.ai_system", "chatbot"), set_("evidence.0.id", "scorer")):
            c(register)
    problems = problems_of(tmp_path, broken(many), loaded_store)
    assert [(p.entry, p.key) for p in problems] == [
        ("ceo", "email"), ("R-1", "impact"), ("scorer", "date"), ("scorer", "id"),
        # then the references, in register order: EV-1 is gone, so both controls' evidence dangles
        ("A.7.4", "evidence"), ("OWN-1", "evidence"), ("INC-1", "ai_system")]


def test_the_message_lists_every_problem_with_file_entry_and_key(tmp_path):
    register = broken(lambda r: (set_("people.0.email", "x")(r), set_("risks.0.impact", 9)(r)))
    with pytest.raises(RegisterError) as caught:
        read_register(write(tmp_path, register))
    assert str(caught.value) == (
        "2 problems in the input:\n"
        "register.yaml: entry 'ceo', key 'email': unknown key (allowed: id, name, role)\n"
        "register.yaml: entry 'R-1', key 'impact': must be from 1 to 5, got 9")


def test_accepted_by_is_a_conformity_rule_not_a_load_error(tmp_path):
    """register.md: accepted_by is 'required when option is accept' -- conformity.md makes that
    the rule risk-acceptance-unapproved, so the loader accepts the register."""
    register = broken(set_("risks.0.treatment", {"option": "accept", "owner": "ceo"}))
    assert any(e.id == "R-1" for e in read_register(write(tmp_path, register)))


def test_prefixed_annex_a_ids_are_the_same_control(tmp_path):
    register = broken(lambda r: (set_("controls.0.id", "iso42001:A.7.4")(r),
                                 set_("risks.0.treatment.controls", ["iso42001:A.7.4", "OWN-1"])(r)))
    entries = read_register(write(tmp_path, register))
    assert [e.id for e in entries if e.section == "controls"] == ["A.7.4", "OWN-1"]
    risk = next(e for e in entries if e.id == "R-1")
    assert risk.values["treatment"]["controls"] == ["A.7.4", "OWN-1"]


def test_a_person_role_is_free_text(tmp_path):
    register = broken(set_("people.1.role", "Anything at all, even with: colons"))
    person = next(e for e in read_register(write(tmp_path, register)) if e.id == "cto")
    assert person.values["role"] == "Anything at all, even with: colons"


@pytest.mark.parametrize("text, problem", [
    ("", ("", "", "the register is empty")),
    ("- just\n- a list\n", ("", "", "a register must be a mapping of sections")),
    ("format: [unclosed\n", ("", "", "not valid YAML")),
    ("format: aimsgraph-register/1\nformat: aimsgraph-register/1\n", ("", "", "not valid YAML: duplicate key 'format'")),
])
def test_unreadable_yaml(tmp_path, loaded_store, text, problem):
    store, before = loaded_store
    path = tmp_path / FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegisterError) as caught:
        load_input(store, path)
    assert snapshot(store) == before
    [got] = caught.value.problems
    assert (got.file, got.entry, got.key) == (FILE, *problem[:2])
    assert got.message.startswith(problem[2]), got.message


def test_a_byte_order_mark_is_allowed(tmp_path):
    path = write(tmp_path, VALID)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_register(path)) == 20


def test_a_yaml_date_that_does_not_exist_is_reported_not_crashed(tmp_path):
    path = tmp_path / FILE
    path.write_text(write(tmp_path, VALID).read_text().replace("due: 2025-09-01", "due: 2025-09-31"))
    with pytest.raises(RegisterError) as caught:
        read_register(path)
    assert [(p.entry, p.key, p.message) for p in caught.value.problems] == [
        ("NC-1", "corrective_action.due", "'2025-09-31' is not a real calendar date")]


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(RegisterError) as caught:
        read_register(tmp_path / "nowhere.yaml")
    assert caught.value.problems[0].message == "no such file or folder"
