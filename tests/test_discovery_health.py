"""
Tests for L{occid.discovery.health}: the endpoint's GLUE health comes from
the daemon's C{/readyz} (asked over real HTTP on 127.0.0.1) when
C{[metrics]} listens on TCP: C{ok}, C{critical} naming the problems, or
C{unknown} without a listener to ask or when it does not answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from occid.discovery.health import Health, endpoint_health, readyz_url
from occid.metricsconfig import MetricsConfig
from tests.motoserver import free_port


@pytest.mark.parametrize("listen, url", [
    ("tcp:9464:interface=127.0.0.1", "http://127.0.0.1:9464/readyz"),
    ("tcp:9464", "http://127.0.0.1:9464/readyz"),
    ("tcp:9464:interface=0.0.0.0:backlog=5", "http://127.0.0.1:9464/readyz"),
    ("tcp:9464:interface=192.0.2.1", "http://192.0.2.1:9464/readyz"),
    (r"tcp6:9464:interface=\:\:1", "http://[::1]:9464/readyz"),
    ("tcp6:9464", "http://[::1]:9464/readyz"),
    ("unix:/run/occid-metrics.sock", None),
    ("systemd:domain=INET:index=1", None),
])
def test_readyz_url(listen, url):
    """The URL of a TCP listener (loopback when it listens everywhere); none otherwise."""
    assert readyz_url(listen) == url


@contextmanager
def readyz(status: int, document: object) -> Iterator[MetricsConfig]:
    """A /readyz answering C{status} and C{document} on 127.0.0.1, for the test's length."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield MetricsConfig(f"tcp:{server.server_address[1]}:interface=127.0.0.1")
    finally:
        server.shutdown()
        server.server_close()


def test_ready_is_ok():
    """/readyz 200: ok."""
    with readyz(200, {"ready": True, "problems": []}) as metrics:
        assert endpoint_health(metrics) == Health("ok")


def test_not_ready_is_critical_with_the_problems():
    """/readyz 503: critical, its problems as the info."""
    with readyz(503, {"ready": False, "problems": ["a CRL expired", "no catalogue"]}) as metrics:
        assert endpoint_health(metrics) == Health("critical", "a CRL expired; no catalogue")


def test_no_listener_is_unknown():
    """No [metrics], a listener not on TCP, or nothing answering: unknown."""
    assert endpoint_health(None) == Health("unknown")
    assert endpoint_health(MetricsConfig("unix:/run/occid.sock")) == Health("unknown")
    silent = endpoint_health(MetricsConfig(f"tcp:{free_port()}:interface=127.0.0.1"))
    assert silent.state == "unknown" and "did not answer" in (silent.info or "")
