"""A real HTTP server for the API tests: uvicorn on a free loopback port, in a thread of the test
process (the Service's worker processes are real processes), stopped afterwards. Tests talk to
it with httpx, a real HTTP client, never through an in-process transport."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(service, start_timeout: float = 120.0) -> Iterator[str]:
    """Serve `service` (aimsgraph.serve.create_app) on 127.0.0.1; yields the base URL."""
    import uvicorn

    from aimsgraph.serve import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def client(base: str, timeout: float = 60.0) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=timeout)


class Listener:
    """A loopback TCP listener that records every connection made to it (and answers nothing
    useful): proof that the server did, or did not, connect out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with contextlib.suppress(OSError):
                conn.recv(65536)
                body = b'{"head":{"vars":["leak"]},"results":{"bindings":[{"leak":{"type":"literal","value":"LEAKED"}}]}}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                conn.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sparql"

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()
