"""Where the shipped data folders (ontology/, shapes/, queries/, rules/, examples/) are.

They live at the repository's top level, where a user who clones it looks for them, and are
copied into the wheel under `aimsgraph/` (pyproject's force-include). One function finds them
for both an installed wheel and an editable install or plain checkout.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("ontology", "shapes", "queries", "rules", "examples")
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]  # src/aimsgraph/ -> the repository


@lru_cache(maxsize=None)
def data_path(folder: str) -> Path:
    """The folder `folder` (e.g. "shapes" or "ontology/catalogues"): inside the installed
    package when it was installed from a wheel, else at the top of the source checkout."""
    top = folder.split("/", 1)[0]
    if top not in DATA_FOLDERS:
        raise ValueError(f"'{folder}' is not a shipped data folder ({', '.join(DATA_FOLDERS)})")
    packaged = Path(str(resources.files("aimsgraph"))) / folder
    if packaged.is_dir():
        return packaged
    return _CHECKOUT_ROOT / folder


def data_files(folder: str, suffix: str = ".ttl") -> list[Path]:
    """The files directly in a shipped data folder ending in `suffix`, sorted by name."""
    root = data_path(folder)
    return sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(suffix)) if root.is_dir() else []
