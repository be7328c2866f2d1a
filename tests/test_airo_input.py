"""AI systems described in AIRO/VAIR RDF are classified without a register (rules airo-system,
airo-use-descriptors): their VAIR terms become use descriptors, and the descriptor conditions
derive the Annex III point as for a register's `uses`."""

from datetime import date
from pathlib import Path

import pytest

from aimsgraph.load import load_input
from aimsgraph.pipeline import classify
from aimsgraph.reason import Parameters, reason
from aimsgraph.store import open_store

AIRO = Path(__file__).parent / "fixtures" / "airo" / "systems.ttl"


@pytest.mark.parametrize("store_engine", ["oxigraph", "rdflib"])
def test_airo_systems_are_classified(store_engine):
    store = open_store(store_engine)
    load_input(store, AIRO)
    reason(store, Parameters(date(2026, 9, 1)))
    got = {s["id"]: (s["category"], s["basis"], s["roles"], s["obligations"]) for s in classify(store)["systems"]}
    assert got == {
        "proctor": ("high-risk", ["euaia:art6", "euaia:annex3-3d"], [], []),  # VAIR terms as values
        "driver_checks": ("high-risk", ["euaia:art6", "euaia:annex3-4b"], [], []),  # older namespace, typed purpose
        "detector": ("high-risk", ["euaia:art6", "euaia:annex3-6e"], [], []),  # every value a typed individual
        "chatbot": ("minimal-risk", [], [], []),
    }
