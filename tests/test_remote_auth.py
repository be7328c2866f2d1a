"""Credentials for a SPARQL server (--store-auth) and the server's dialect (--store-dialect):
bearer and basic headers sent as given, digest challenges answered, bad values refused by name.
The digest server is a loopback stub written here (RFC 7616 with MD5 and qop=auth), so the
test needs no Virtuoso."""

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aimsgraph.errors import StoreError
from aimsgraph.store import RemoteStore, _authorization, open_store

USER, PASSWORD, REALM, NONCE = "auditor", "s3cret:with colon", "aimsgraph-test", "c2f1e8a0"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - what the protocol prescribes


class DigestEndpoint(BaseHTTPRequestHandler):
    """Answers ASK with true to a request whose digest response is right, 401 with a challenge
    otherwise; records the Authorization headers it saw."""

    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        header = self.headers.get("Authorization") or ""
        self.seen.append(header)
        if header.startswith("Digest ") and self._valid(header[7:]):
            body = json.dumps({"head": {}, "boolean": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
        else:
            body = b"unauthorised"
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth", algorithm=MD5')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _valid(self, fields: str) -> bool:
        parts = {}
        for item in fields.split(","):
            key, _, value = item.strip().partition("=")
            parts[key] = value.strip('"')
        ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"POST:{parts.get('uri')}")
        expected = _md5(f"{ha1}:{NONCE}:{parts.get('nc')}:{parts.get('cnonce')}:auth:{ha2}")
        return parts.get("username") == USER and parts.get("response") == expected

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def digest_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), DigestEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    DigestEndpoint.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_digest_credentials_answer_the_servers_challenge(digest_server):
    store = RemoteStore(digest_server, auth=f"Digest {USER}:{PASSWORD}", retries=0)
    assert store.query("ASK {}").boolean is True
    assert DigestEndpoint.seen[0] == ""  # urllib sends no credentials before the challenge
    assert DigestEndpoint.seen[-1].startswith(f'Digest username="{USER}", realm="{REALM}"')


def test_a_wrong_digest_password_is_refused_by_name(digest_server):
    store = RemoteStore(digest_server, auth=f"Digest {USER}:wrong", retries=0)
    with pytest.raises(StoreError, match=r"refused aimsgraph \(401\): check the credentials"):
        store.query("ASK {}")


def test_without_credentials_a_digest_server_refuses(digest_server):
    with pytest.raises(StoreError, match=r"refused aimsgraph \(401\)"):
        RemoteStore(digest_server, retries=0).query("ASK {}")


def test_the_credential_forms():
    assert _authorization(None) == (None, None)
    assert _authorization("Bearer abc") == ("Bearer abc", None)
    assert _authorization("Basic YTpi") == ("Basic YTpi", None)
    assert _authorization("a:b") == ("Basic YTpi", None)
    assert _authorization("Digest dba:p:w") == (None, ("dba", "p:w"))
    for bad in ("nocolon", "Digest nocolon", "Token abc", "Bearer"):
        with pytest.raises(StoreError, match="Digest user:password"):
            _authorization(bad)


def test_virtuoso_auth_endpoints_keep_their_names():
    store = RemoteStore("http://127.0.0.1:9/sparql-auth", dialect="virtuoso", auth="Digest dba:dba")
    assert (store.query_url, store.update_url, store.graph_store_url) == \
           ("http://127.0.0.1:9/sparql-auth", "http://127.0.0.1:9/sparql-auth", "http://127.0.0.1:9/sparql-graph-crud-auth")


def test_a_dialect_is_for_a_server_only():
    with pytest.raises(StoreError, match="--store-dialect is for a SPARQL server"):
        open_store("oxigraph", dialect="virtuoso")
    assert open_store("http://127.0.0.1:9", dialect="none").dialect is None
    assert open_store("http://127.0.0.1:9", dialect="virtuoso").dialect == "virtuoso"


def test_an_unknown_dialect_on_the_command_line_exits_2():
    out = subprocess.run([sys.executable, "-m", "aimsgraph", "orgs", "--store", "http://127.0.0.1:9",
                          "--store-dialect", "fuseky"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown SPARQL server dialect 'fuseky' (choose virtuoso, or none)" in out.stderr


def test_the_dialect_in_the_environment_leaves_embedded_commands_alone():
    """$AIMSGRAPH_STORE_DIALECT names the server's dialect for --store URL only: a command on the
    embedded store runs as without it (scripts/second_engine.py sets it for a whole test run)."""
    import os
    from pathlib import Path

    register = Path(__file__).resolve().parents[1] / "examples" / "finsecure" / "register.yaml"
    out = subprocess.run([sys.executable, "-m", "aimsgraph", "classify", str(register), "--as-of", "2026-01-31"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "AIMSGRAPH_STORE_DIALECT": "virtuoso"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
