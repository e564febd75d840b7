"""
A loopback HTTP proxy in front of moto that loses answers on purpose, for
the tests of creates whose outcome is unknown (tests/test_story_cut.py).

Each request is handled by the EC2 C{Action} it carries, as L{CutProxy.rules}
say (any other action is forwarded and answered):

  - C{"cut"}: forwarded to moto, which acts on it; its answer is read and
    dropped, and the client's connection closed: the client never learns
    what happened;
  - C{"refuse"}: the client's connection is closed before anything is
    forwarded: nothing happens;
  - C{"late"}: forwarded to moto, which acts on it; its answer is held for
    L{CutProxy.late_by} seconds, so that a test can kill the client while it
    waits (tests/test_haproxy.py).

Once a request is cut, L{CutProxy.after_cut} is added to the rules (to
refuse the lookup that follows, say).

It runs in threads of the test process, listens on 127.0.0.1 only, and
stops with L{CutProxy.stop}.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: Headers of one hop, or set by the proxy itself.
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                  "server", "date"})


class CutProxy:
    """The proxy; C{rules} maps an EC2 action to C{"cut"}, C{"refuse"} or C{"late"}."""

    def __init__(self, target: str) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.rules: dict[str, str] = {}
        self.after_cut: dict[str, str] = {}
        self.seen: Counter[str] = Counter()
        self.late_by = 1.0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                proxy._handle(self)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        self.seen[action] += 1
        rule = self.rules.get(action)
        if rule == "refuse":
            return self._drop(request)
        upstream = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
            upstream.request(request.command, request.path, body, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        if rule == "cut":
            self.rules.update(self.after_cut)
            return self._drop(request)
        if rule == "late":
            time.sleep(self.late_by)
        request.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in _HOP:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    @staticmethod
    def _drop(request: BaseHTTPRequestHandler) -> None:
        """Close the client's connection without an answer."""
        request.close_connection = True
        with contextlib.suppress(OSError):
            request.connection.shutdown(socket.SHUT_RDWR)
