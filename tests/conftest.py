"""Shared fixtures: a loopback Oxigraph SPARQL server for the remote-store tests."""

from __future__ import annotations

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
