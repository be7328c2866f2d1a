"""The wheel carries everything it needs: built from this checkout and installed into an empty
folder (not editable, not the checkout), it finds the ontology, catalogues, shapes, rules, queries
and the demo's example inside the package and answers `demo` and `classify` correctly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling (the test extra)")
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(work / "dist"), str(ROOT)], check=True, capture_output=True)
    [wheel] = (work / "dist").glob("aimsgraph-*.whl")
    target = work / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    return target


def run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`aimsgraph ARGS` from the installed copy alone: -S keeps the editable install's .pth out of
    sys.path, and only the target and the dependencies' site-packages are put on it."""
    dependencies = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    code = ("import sys; sys.path[:0] = " + repr([str(target), *dependencies]) + "\n"
            "import aimsgraph, aimsgraph.cli\n"
            "sys.stderr.write('module: ' + aimsgraph.__file__ + '\\n')\n"
            "sys.argv = ['aimsgraph'] + " + repr(list(args)) + "\n"
            "aimsgraph.cli.main()\n")
    return subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=cwd)


def test_wheel_ships_the_data_folders(installed):
    package = installed / "aimsgraph"
    for folder, pattern, at_least in [("ontology", "*.ttl", 2), ("ontology/catalogues", "*.ttl", 4),
                                      ("shapes", "*.ttl", 1), ("rules", "*.rq", 20), ("queries", "*.rq", 15)]:
        assert len(list((package / folder).glob(pattern))) >= at_least, folder
    assert (package / "examples" / "finsecure" / "register.yaml").is_file()


def test_installed_wheel_runs_the_demo(installed, tmp_path):
    result = run_installed(installed, "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"module: {installed / 'aimsgraph' / '__init__.py'}" in result.stderr
    assert "aimsgraph demo — FinSecure Bank AG" in result.stdout
    assert "credit-scorer            high-risk (euaia:art6, euaia:annex3-5b)" in result.stdout
    assert "Findings at 2026-01-31: " in result.stdout


def test_installed_wheel_classifies_a_register_outside_the_checkout(installed, tmp_path):
    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "examples" / "finsecure" / "register.yaml", register)
    result = run_installed(installed, "classify", str(register), "--as-of", "2026-01-31", "--format", "json",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    systems = {s["id"]: (s["category"], s["basis"]) for s in json.loads(result.stdout)["systems"]}
    assert systems == {
        "credit-scorer": ("high-risk", ["euaia:art6", "euaia:annex3-5b"]),
        "credit-scorer-features": ("out-of-scope", []),
        "fraud-detector": ("minimal-risk", []),
        "support-chatbot": ("limited-risk", ["euaia:art50", "euaia:art50-1", "euaia:art50-2"]),
    }
