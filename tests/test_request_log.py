"""
Tests for the request event of L{occid.server.pipeline} over the memory
stack: one event per request, at its end, whether it was answered, timed
out (504, answered by the site) or left by its client (499), with the same
fields, a duration on the reactor's clock, and the request counted in
L{occid.metrics} under its kind, method and status.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from occid import metrics
from occid.server.channel import GridHTTPChannel
from occid.server.pipeline import CLIENT_GONE, REQUEST_LOG
from tests.gateway import make_gateway
from tests.rawhttp import connect

FIELDS = {"method", "path", "query", "status", "duration_ms", "bytes", "peer", "dn", "account",
          "request_id"}


def counted(kind: str, method: str, status: int) -> float:
    """The requests counted with these labels so far."""
    return metrics.REGISTRY.get_sample_value(
        "occid_requests_total", {"kind": kind, "method": method, "status": str(status)}) or 0.0


class RequestEventTests(SynchronousTestCase):
    """Every request ends with one event carrying every field."""

    def setUp(self) -> None:
        self.gateway = make_gateway(request_timeout=30)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def request_events(self) -> list[dict]:
        """The request events logged so far."""
        return [event for event in self.events if event.get("log_format") == REQUEST_LOG]

    def test_answered(self):
        """An answered request: its status, body bytes, peer, user and account; counted."""
        before = counted("storage", "GET", 200)
        response = self.gateway.request("GET", "/storage/?action=x&token=secret")
        assert response.status == 200
        [event] = self.request_events()
        assert event.keys() >= FIELDS
        assert event["status"] == 200 and event["bytes"] == len(response.body)
        assert event["query"] == "?action=x&token=*" and event["peer"].startswith("127.0.0.1:")
        assert event["dn"].startswith("/") and event["account"] != "-"
        assert counted("storage", "GET", 200) == before + 1

    def test_timed_out(self):
        """A request over its time: one event with the site's 504, after the deadline."""
        self.gateway.backend.store.stall = True
        channel, transport = connect(self.gateway.site)
        channel.dataReceived(b"GET /compute/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert self.request_events() == []
        self.gateway.clock.advance(30)
        [event] = self.request_events()
        assert event["status"] == 504 and event["duration_ms"] == 30_000
        assert b" 504 " in transport.value().split(b"\r\n")[0]

    def test_client_gone(self):
        """A request its client left: one event with 499, counted so."""
        before = counted("compute", "GET", CLIENT_GONE)
        self.gateway.backend.store.stall = True
        channel, _ = connect(self.gateway.site)
        channel.dataReceived(b"GET /compute/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.gateway.clock.advance(2)
        channel.connectionLost(Failure(ConnectionDone()))
        [event] = self.request_events()
        assert event["status"] == CLIENT_GONE and event["duration_ms"] == 2000
        assert counted("compute", "GET", CLIENT_GONE) == before + 1


def test_open_connections_gauge():
    """The gauge counts a grid channel from connectionMade to connectionLost."""
    def open_now() -> float:
        return metrics.REGISTRY.get_sample_value("occid_open_connections") or 0.0

    before = open_now()
    channel = GridHTTPChannel(authenticator=None, clock=Clock())
    channel.makeConnection(StringTransport())
    assert open_now() == before + 1
    channel.connectionLost(Failure(ConnectionDone()))
    assert open_now() == before
