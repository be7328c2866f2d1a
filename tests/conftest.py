"""Shared fixtures: a loopback Oxigraph SPARQL server for the remote-store tests, or another
server named by $AIMSGRAPH_TEST_SPARQL (scripts/second_engine.py starts Virtuoso and sets it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _oxigraph_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("oxigraph")
    return str(beside_python) if beside_python.exists() else shutil.which("oxigraph")


@pytest.fixture(scope="session")
def oxigraph_server():
    """Start `oxigraph serve` (from the `oxigraph` PyPI package, test extra) in memory on
    127.0.0.1, yield its root URL, stop it afterwards. (Not `--union-default-graph`: aimsgraph names
    the graphs of every request, and Oxigraph refuses USING in updates with that flag.)"""
    binary = _oxigraph_binary()
    if binary is None:
        pytest.skip("the oxigraph server binary is not installed (pip install 'aimsgraph[remote]')")
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/query?query=ASK%7B%7D", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"oxigraph serve exited: {proc.stderr.read().decode()}") from None
                time.sleep(0.05)
        else:
            raise RuntimeError("oxigraph serve did not start within 10 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# Set by scripts/second_engine.py: the URL of another SPARQL server (its query endpoint) and the
# RemoteStore dialect it needs (AIMSGRAPH_STORE_DIALECT, read by open_store, also reaches the CLI).
EXTERNAL_SERVER = os.environ.get("AIMSGRAPH_TEST_SPARQL")


@pytest.fixture(scope="session")
def sparql_server(request):
    """The SPARQL server the store-parametrised tests run against: $AIMSGRAPH_TEST_SPARQL when
    set (started and stopped by whoever set it), else the loopback Oxigraph server."""
    if EXTERNAL_SERVER:
        return EXTERNAL_SERVER
    return request.getfixturevalue("oxigraph_server")


def pytest_collection_modifyitems(config, items):
    """Against another server only the tests that use it run (the rest do not touch it)."""
    if not EXTERNAL_SERVER:
        return
    keep = [item for item in items if "sparql_server" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep
