"""The CSV folder form of a register: one table per section, `;` between list items, `a.b`
columns for nested keys, the same RDF as the YAML form, and every problem of every table
reported in one run with file, entry and key."""

import shutil
from pathlib import Path

import pytest
from rdflib.compare import isomorphic

from aimsgraph.errors import RegisterError
from aimsgraph.load import load_input, read_register, register_to_graph
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
CSV_EXAMPLE = ROOT / "examples" / "csv-minimal"
YAML_TWIN = ROOT / "tests" / "fixtures" / "csv-minimal.yaml"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A writable copy of the CSV example."""
    return Path(shutil.copytree(CSV_EXAMPLE, tmp_path / "register"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(folder: Path) -> list[tuple[str, str, str, str]]:
    with pytest.raises(RegisterError) as caught:
        read_register(folder)
    return [(p.file, p.entry, p.key, p.message) for p in caught.value.problems]


def test_the_csv_example_gives_the_same_rdf_as_its_yaml_twin():
    assert isomorphic(register_to_graph(read_register(CSV_EXAMPLE)), register_to_graph(read_register(YAML_TWIN)))


def test_list_cells_split_on_semicolons_and_nested_columns_fill_a_mapping():
    entries = {e.id: e for e in read_register(CSV_EXAMPLE)}
    assert entries["KT-MR-2025"].values["attendees"] == ["kt-ceo", "kt-cto", "kt-cs", "kt-comp"]
    assert entries["KT-R-1"].values["treatment"] == {
        "option": "mitigate", "controls": ["A.6.2.4", "KT-DISCLOSE"], "owner": "kt-cs",
        "residual_likelihood": 2, "residual_impact": 3}
    # eu_ai_act.* columns; empty cells are absent, so the booleans with defaults get them
    assert entries["trip-assistant"].values["eu_ai_act"] == {
        "roles": ["provider", "deployer"], "interacts_with_people": True, "synthetic_content": True}


def test_cells_are_typed_like_yaml_values(folder):
    edit(folder / "incidents.csv", "KT-INC-1,trip-assistant,2025-06-14,2025-06-14,other,false,",
         "KT-INC-1,trip-assistant,2025-06-14,2025-06-14,other,FALSE,")
    entries = {e.id: e for e in read_register(folder)}
    assert entries["KT-INC-1"].values["serious"] is False  # spreadsheets write TRUE/FALSE
    assert entries["KT-R-2"].values["likelihood"] == 2
    assert str(entries["KT-IA-1"].values["date"]) == "2025-03-10"


def test_errors_in_several_tables_are_all_reported(folder):
    edit(folder / "incidents.csv", ",false,", ",maybe,")
    edit(folder / "risks.csv", "trip-assistant,machine-learning,travellers,3,", "trip-assistant,machine-learning,travellers,three,")
    edit(folder / "people.csv", "kt-cto,Tomás Byrne,Head of Technology", "kt-cto,Tomás Byrne,Head of Technology,extra")
    edit(folder / "policies.csv", "2026-02-03", "2026-02-31")
    assert problems(folder) == [
        ("people.csv", "kt-cto", "", "line 3 has 4 cells but the header names 3 columns"),
        ("policies.csv", "KT-POL-AI", "next_review", "'2026-02-31' is not a real calendar date"),
        ("risks.csv", "KT-R-1", "likelihood", "must be a whole number, got 'three'"),
        ("incidents.csv", "KT-INC-1", "serious", "must be true or false, got 'maybe'"),
    ]


def test_a_dangling_reference_names_the_table_and_row(folder):
    edit(folder / "training.csv", "kt-cto;kt-cs;kt-comp", "kt-cto;kt-cs;kt-cfo")
    assert problems(folder) == [("training.csv", "KT-TR-2025", "attendees", "'kt-cfo' names no person in the register")]


@pytest.mark.parametrize("header, problem", [
    ("id,name,name", ("people.csv", "", "name", "column appears twice in the header row")),
    ("id,name,", ("people.csv", "", "", "a column has no name in the header row")),
    ("id,name,role.title", ("people.csv", "kt-ceo", "role", "must be text, got dict {'title': 'top-management'}")),
])
def test_header_problems(folder, header, problem):
    edit(folder / "people.csv", "id,name,role", header)
    assert problems(folder)[0] == problem


def test_a_plain_and_a_nested_column_for_the_same_key_clash(folder):
    edit(folder / "risks.csv", "treatment.option,", "treatment,treatment.option,")
    edit(folder / "risks.csv", "mitigate,", "x,mitigate,")
    edit(folder / "risks.csv", "accept,", "x,accept,")
    assert problems(folder)[0] == ("risks.csv", "", "treatment", "column 'treatment' clashes with nested columns 'treatment.…'")


def test_interested_parties_have_their_own_table(folder):
    edit(folder / "aims.csv", "scope,", "interested_parties,scope,")
    edit(folder / "aims.csv", '"The trip', 'travellers,"The trip')
    assert problems(folder) == [("aims.csv", "", "interested_parties", "goes in its own table, interested_parties.csv")]


def test_blank_rows_are_skipped_and_a_byte_order_mark_is_allowed(folder):
    people = folder / "people.csv"
    people.write_bytes(b"\xef\xbb\xbf" + people.read_bytes() + b",,\n\n")
    assert len(read_register(folder)) == len(read_register(CSV_EXAMPLE))


def test_an_empty_table_is_an_empty_section(folder):
    (folder / "training.csv").write_text("", encoding="utf-8")
    ids = {e.id for e in read_register(folder)}
    assert "KT-TR-2025" not in ids and "KT-MR-2025" in ids


def test_organization_needs_exactly_one_row(folder):
    (folder / "organization.csv").write_text("id,name\n", encoding="utf-8")
    assert problems(folder) == [
        ("organization.csv", "", "", "must have exactly one data row, found 0"),
        ("register", "", "organization", "is required"),
    ]


def test_unknown_tables_and_empty_folders(folder, tmp_path):
    (folder / "suppliers.csv").write_text("id\nvendor\n", encoding="utf-8")
    [(file, entry, key, message)] = problems(folder)
    assert (file, entry, key) == ("suppliers.csv", "", "") and message.startswith("unknown register table 'suppliers'")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert problems(empty) == [(str(empty), "", "", "no register tables (*.csv) in this folder"),
                               ("empty", "", "organization", "is required")]


def test_a_broken_csv_folder_loads_nothing(folder):
    store = open_store()
    load_input(store, CSV_EXAMPLE)
    before = {g: set(store.triples(g)) for g in store.graphs()}
    edit(folder / "incidents.csv", ",false,", ",maybe,")
    with pytest.raises(RegisterError):
        load_input(store, folder)
    assert {g: set(store.triples(g)) for g in store.graphs()} == before
