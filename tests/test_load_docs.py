"""docs/register.md's complete example is a valid register, so the page cannot drift from the
loader unnoticed."""

import re
from pathlib import Path

from aimsgraph.load import read_register

DOC = Path(__file__).resolve().parents[1] / "docs" / "register.md"


def test_the_complete_example_in_the_docs_loads(tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    [example] = [b for b in blocks if b.startswith("format: aimsgraph-register/1")]
    path = tmp_path / "register.yaml"
    path.write_text(example, encoding="utf-8")
    entries = read_register(path)
    assert {e.section for e in entries} == {
        "organization", "aims", "interested_parties", "people", "policies", "risk_criteria", "objectives",
        "ai_systems", "impact_assessments", "risks", "controls", "evidence", "audits", "management_reviews",
        "nonconformities", "incidents", "training"}
