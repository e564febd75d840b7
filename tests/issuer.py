# -*- test-case-name: tests.test_tokens -*-
"""
The demo's OIDC issuer (L{occid.demo.issuer.Issuer}) served over HTTP on
127.0.0.1 from a thread of the test process, for the token tests and the
daemons they start; it stops itself when its context ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from occid.demo.issuer import Issuer


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the server's issuer."""

    server: _IssuerServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.calls.append(self.path)
        status, answer = self.server.issuer.answer(self.command, self.path, headers, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _IssuerServer(ThreadingHTTPServer):
    daemon_threads = True
    issuer: Issuer
    calls: list[str]


@contextmanager
def serving_issuer() -> Iterator[tuple[Issuer, list[str]]]:
    """An L{Issuer} at C{http://127.0.0.1:<port>}, and the paths it was asked for."""
    server = _IssuerServer(("127.0.0.1", 0), _Handler)
    server.issuer = Issuer(f"http://127.0.0.1:{server.server_address[1]}")
    server.calls = []
    thread = threading.Thread(target=server.serve_forever, name="test-issuer", daemon=True)
    thread.start()
    try:
        yield server.issuer, server.calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
