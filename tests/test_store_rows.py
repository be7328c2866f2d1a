"""OxigraphStore.query reads SELECT rows from the engine's TSV text (store._tsv_rows): every kind
of term comes back as iterating pyoxigraph's solutions gives it (from_ox_term), unbound
variables stay absent, and edge cases (no rows, no variables) hold."""

from __future__ import annotations

from aimsgraph.store import OxigraphStore, from_ox_term

DATA = r'''INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> "x", "a	b", "q\"", "back\\slash", "nl\nx", "cr\rx",
  "01"^^<http://www.w3.org/2001/XMLSchema#integer>, 5, -2, 1.50, 1e3, true, false, "yes"^^<http://www.w3.org/2001/XMLSchema#boolean>,
  "2026-01-01"^^<http://www.w3.org/2001/XMLSchema#date>, "hi"@en, "tab\tend"@en-GB, "", "\"", "ends with quote\"",
  _:b1, <urn:é>, <http://example.org/a#b?c=d>, "é\u2028😀", "x"^^<urn:dt>, "<not an IRI>", "_:nope", "  spaces  " } }'''


def _store() -> OxigraphStore:
    store = OxigraphStore()
    store.update(DATA)
    return store


def test_rows_equal_the_terms_iteration_gives():
    store = _store()
    text = "SELECT ?s ?o ?none WHERE { ?s ?p ?o OPTIONAL { ?s <urn:nope> ?none } }"
    expected = [{k: from_ox_term(v) for k, v in (("s", sol["s"]), ("o", sol["o"])) if v is not None}
                for sol in store.native.query(text, use_default_graph_as_union=True)]
    rows = store.query(text).rows
    assert len(rows) == 28
    assert rows == expected
    for got, want in zip(rows, expected):  # same kinds, datatypes and languages, not only equal values
        assert type(got["o"]) is type(want["o"]) and got["o"].n3() == want["o"].n3()


def test_no_rows_and_no_variables():
    store = _store()
    assert store.query("SELECT ?o WHERE { ?s <urn:nothing> ?o }").rows == []
    empty = store.query("SELECT * WHERE { }")
    assert empty.vars == [] and empty.rows == [{}]
    assert store.query("SELECT ?x WHERE { OPTIONAL { ?s <urn:nothing> ?x } }").rows == [{}]


def test_a_column_of_mostly_distinct_strings_with_unbound_cells():
    store = _store()
    text = "SELECT ?o ?x WHERE { ?s ?p ?o BIND (IF(isIRI(?o) || isBlank(?o), ?nothing, STR(?o)) AS ?x) }"
    expected = [{k: from_ox_term(sol[k]) for k in ("o", "x") if sol[k] is not None}
                for sol in store.native.query(text, use_default_graph_as_union=True)]
    rows = store.query(text).rows
    assert rows == expected and sum("x" not in row for row in rows) == 3


def test_one_kind_reads_the_joined_cells_as_each_cell_would():
    """store.one_kind checks the cells joined by tabs; it must say what checking each cell says."""
    from itertools import product

    from aimsgraph.store import _tsv_lines, one_kind, tsv_columns

    store = _store()
    res = store.native.query("SELECT ?o WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
    cells = [line for line in _tsv_lines(res)] + [""]

    def each(column):
        if column[0][:1] == "<":
            return all(c[:1] == "<" for c in column)
        return all(len(c) > 1 and c[0] == '"' == c[-1] and "\\" not in c for c in column)

    for column in product(cells, repeat=2):
        assert one_kind(list(column)) == each(column), column
    assert not one_kind([]) and not one_kind([""])
    lines = _tsv_lines(store.native.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", use_default_graph_as_union=True))
    assert tsv_columns(lines, 3) == [list(c) for c in zip(*(line.split("\t") for line in lines))]


def test_rows_built_with_the_collector_paused_go_to_the_oldest_generation():
    import gc

    from aimsgraph.store import collector_paused

    was = gc.isenabled()
    gc.enable()
    try:
        store = OxigraphStore()
        store.update("INSERT DATA { GRAPH <urn:g> { %s } }" % " ".join(
            f'<urn:s{i}> <urn:p> "label {i}" .' for i in range(12_000)))
        gc.collect()
        with collector_paused():
            assert not gc.isenabled()
            rows = store.query("SELECT ?s ?o WHERE { ?s ?p ?o }").rows
        assert gc.isenabled() and gc.get_count()[:2] == (0, 0) and len(rows) == 12_000
        assert any(o is rows[0] for o in gc.get_objects(generation=2))
        gc.collect()
        with collector_paused():  # a small answer leaves the generations alone
            small = _store().query("SELECT ?s ?o WHERE { ?s ?p ?o }").rows
        assert len(small) == 28 and gc.get_count()[0] > 0
        assert not any(o is small[0] for o in gc.get_objects(generation=2))
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that turned it off keeps it off
        gc.enable()
        gc.freeze()  # objects the caller froze stay frozen
        frozen = gc.get_freeze_count()
        with collector_paused():
            [{} for _ in range(10)]
        assert gc.get_freeze_count() == frozen > 0
    finally:
        gc.unfreeze()
        if not was:
            gc.disable()
