"""The HTTP API over a store of several organisations: every route takes `org`, answers for that
organisation alone (the same findings as the CLI's run on that organisation), refuses a missing
or unknown one with 400/404 naming those there are, writes to one organisation without touching
another, and a certification body's cross-organisation query is asked of all of them."""

import json
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from aimsgraph.pipeline import analyse, analyse_stored, gaps_document  # noqa: E402
from aimsgraph.serve import Service  # noqa: E402
from aimsgraph.store import open_store  # noqa: E402
from servers import client, running  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FINSECURE = ROOT / "examples" / "finsecure" / "register.yaml"
NORTHWIND = ROOT / "examples" / "conformant" / "register.yaml"
AS_OF = date(2026, 1, 31)
TOKEN = "orgs-test-token"
SYSTEMS = "SELECT ?id WHERE { ?s a aims:AISystem ; aims:registerId ?id } ORDER BY ?id"


@pytest.fixture(scope="module")
def expected():
    """Each organisation's gaps document from a one-shot in-memory run."""
    return {org: json.loads(json.dumps(gaps_document(analyse(path, AS_OF)), default=str))
            for org, path in (("finsecure", FINSECURE), ("northwind", NORTHWIND))}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orgs-store")
    store = open_store("oxigraph", str(folder / "store"))
    for path in (FINSECURE, NORTHWIND):
        analyse(path, AS_OF, store=store)
    analyses = {org: analyse_stored(store, AS_OF, org=org) for org in ("finsecure", "northwind")}
    for analysis in analyses.values():
        analysis.validation  # noqa: B018
    return Service.from_analyses(analyses, workers=1, timeout=60, write_token=TOKEN)


@pytest.fixture(scope="module")
def http(service):
    with running(service) as base, client(base) as c:
        yield c


def findings(doc: dict) -> list[tuple[str, str]]:
    return [(f["rule"], f["focus"]) for f in doc["findings"]]


def test_gaps_per_organisation_equal_the_one_shot_runs(http, expected):
    for org in ("finsecure", "northwind"):
        r = http.get("/gaps", params={"org": org})
        assert r.status_code == 200
        assert findings(r.json()) == findings(expected[org])
    assert len(expected["finsecure"]["findings"]) == 31 and findings(expected["northwind"]) == []


def test_no_org_on_a_server_of_several_is_400_naming_them(http):
    for route in ("/gaps", "/classify", "/soa", "/hotspots", "/report", "/queries/risk-chain", "/trace/credit-scorer"):
        r = http.get(route)
        assert r.status_code == 400, route
        assert r.json()["error"] == ("this server holds 2 organisations; name one with org=ID (finsecure, northwind)")
    r = http.get("/sparql", params={"query": SYSTEMS})
    assert r.status_code == 400 and "name one with org=ID" in r.json()["error"]


def test_an_unknown_org_is_404_with_the_closest(http):
    r = http.get("/gaps", params={"org": "finsecur"})
    assert r.status_code == 404
    assert r.json()["error"] == ("this server holds no organisation 'finsecur'; did you mean 'finsecure'? "
                                 "(known: finsecure, northwind)")
    r = http.get("/sparql", params={"query": SYSTEMS, "org": "nobody"})
    assert r.status_code == 404 and r.json()["error"].startswith("this server holds no organisation 'nobody'")
    assert http.get("/sparql", params={"org": "nobody"}).status_code == 404  # the service description too


def test_sparql_and_named_queries_see_one_organisation(http):
    def ids(org):
        r = http.get("/sparql", params={"query": SYSTEMS, "org": org})
        assert r.status_code == 200
        return [b["id"]["value"] for b in r.json()["results"]["bindings"]]

    assert ids("finsecure") == ["credit-scorer", "credit-scorer-features", "fraud-detector", "support-chatbot"]
    northwind = ids("northwind")
    assert northwind and not set(northwind) & set(ids("finsecure"))
    rows = http.get("/queries/systems-without-impact-assessment", params={"org": "northwind"}).json()["rows"]
    assert rows == []
    classified = http.get("/classify", params={"org": "finsecure"}).json()
    assert sorted(s["id"] for s in classified["systems"]) == ids("finsecure")


def test_a_cross_organisation_query_without_org_asks_each(http):
    doc = http.get("/queries/organisations-with-prohibited-practices").json()
    each = [http.get("/queries/organisations-with-prohibited-practices", params={"org": org}).json()["rows"]
            for org in ("finsecure", "northwind")]
    assert doc["rows"] == sorted(each[0] + each[1], key=lambda row: [str(row.get(c, "")) for c in doc["columns"]])


def test_health_lists_every_organisation(http, expected):
    orgs = http.get("/health").json()["organisations"]
    assert sorted(orgs) == ["finsecure", "northwind"]
    assert orgs["finsecure"]["findings"] == len(expected["finsecure"]["findings"])
    assert orgs["northwind"]["findings"] == 0 and orgs["northwind"]["generation"] == 0


def test_a_write_changes_its_organisation_only(http, expected):
    """Northwind's evidence NW-EV-03 made to lapse: northwind re-reasoned (the evidence now
    expired), finsecure exactly as before, at the same generation."""
    update = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
DELETE { ?e aims:validUntil ?until } INSERT { ?e aims:validUntil "2025-06-30"^^xsd:date }
WHERE { ?e a aims:Evidence ; aims:registerId "NW-EV-03" ; aims:validUntil ?until }"""
    before = http.get("/gaps", params={"org": "finsecure"}).json()
    r = http.post("/sparql", params={"org": "northwind"}, content=update,
                  headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.json()["generation"] == 1
    after = http.get("/gaps", params={"org": "northwind", "rule": "evidence-expired"}).json()
    assert findings(after) == [("evidence-expired", "NW-EV-03")]
    assert http.get("/gaps", params={"org": "finsecure"}).json() == before
    health = http.get("/health").json()["organisations"]
    assert health["northwind"]["generation"] == 1 and health["finsecure"]["generation"] == 0
    refused = http.post("/sparql", params={"org": "nobody"}, content=update,
                        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 404


def test_one_organisation_server_accepts_its_own_org_and_refuses_others(tmp_path):
    service = Service.from_path(FINSECURE, AS_OF, workers=1, timeout=60)
    with running(service) as base, client(base) as http:
        assert http.get("/gaps", params={"org": "finsecure"}).json() == http.get("/gaps").json()
        r = http.get("/gaps", params={"org": "northwind"})
        assert r.status_code == 404
        assert r.json()["error"] == "this server holds no organisation 'northwind' (known: finsecure)"


def test_the_act_text_chosen_holds_at_another_as_of_date():
    """Re-reasoning at another date in a worker keeps the server's --ai-act-text choice."""
    service = Service.from_path(FINSECURE, AS_OF, workers=1, timeout=60, ai_act_text="original")
    with running(service) as base, client(base) as http:
        now = http.get("/gaps").json()["ai_act_text"]
        later = http.get("/gaps", params={"as_of": "2030-01-01"}).json()["ai_act_text"]
    assert (now["choice"], now["applied"]) == ("original", "original")
    assert (later["choice"], later["applied"]) == ("original", "original")
