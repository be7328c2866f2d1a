"""Headless Chromium (Debian's `chromium`) for the rendering tests of the report and the SoA:
a screenshot at a given width, a PDF printed as a browser prints it, and the DOM after parsing.
Nothing is fetched: the pages are local files and the network features are switched off."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); the pages cannot be rendered "
                             "in a real browser here")


def _flags(profile: Path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}"]


def screenshot(page: Path, out: Path, profile: Path, width: int = 1400, height: int = 2000) -> Path:
    subprocess.run([CHROMIUM, *_flags(profile), f"--screenshot={out}", f"--window-size={width},{height}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return out


def print_pdf(page: Path, out: Path, profile: Path) -> Path:
    subprocess.run([CHROMIUM, *_flags(profile), "--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return out


def dump_dom(page: Path, profile: Path) -> str:
    return subprocess.run([CHROMIUM, *_flags(profile), "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True).stdout


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct byte values in the pixel data (a blank page has ~2)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def pdf_pages(path: Path) -> int:
    """Number of page objects in a PDF as Chromium (Skia) writes it: `/Type /Page` dictionaries."""
    data = path.read_bytes()
    assert data[:5] == b"%PDF-"
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
