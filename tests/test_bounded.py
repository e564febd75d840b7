"""
Tests for L{occid.server.bounded}: the head deadline and the idle timeout on
a C{MemoryReactorClock}, and the head and body limits answered at once,
over in-memory transports.
"""

from __future__ import annotations

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.web.resource import Resource
from twisted.web.server import Request

from occid.server.bounded import LINGER, Deadlines
from occid.server.site import OCCISite, make_site
from tests.rawhttp import connect, read_response

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class Hello(Resource):
    """Answers every GET with C{hello}, and a POST with its body's length."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        return b"hello"

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        return b"%d" % len(request.content.read())


def site(clock: MemoryReactorClock, max_body: int = 1000) -> OCCISite:
    """A site with a 10 s head deadline and a 30 s idle timeout on C{clock}."""
    return make_site(Hello(), max_body, 60, clock, deadlines=Deadlines(10, 30))


# -- the head deadline ---------------------------------------------------------------


def test_head_deadline_not_pushed_back_by_bytes():
    """A header byte a second does not keep the head alive: 408 at 10 s from the start."""
    clock = MemoryReactorClock()
    channel, transport = connect(site(clock))
    channel.dataReceived(b"GET / HTTP/1.1\r\nX-Slow: ")
    for _ in range(9):
        clock.advance(1)
        channel.dataReceived(b"a")
    assert not transport.disconnecting
    clock.advance(1)
    response = read_response(transport.value())
    assert response.status == 408
    assert b"did not arrive within 10 seconds" in response.body
    assert transport.disconnecting


def test_silent_connection_closed_without_answer():
    """Not a byte in 10 s (a TLS handshake never finished looks the same): closed, nothing sent."""
    clock = MemoryReactorClock()
    _, transport = connect(site(clock))
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting
    assert transport.value() == b""


def test_head_in_time_then_idle_timeout():
    """A head within the deadline is served; the kept-alive connection then closes after 30 s idle."""
    clock = MemoryReactorClock()
    channel, transport = connect(site(clock))
    clock.advance(9)
    channel.dataReceived(GET)
    assert read_response(transport.value()).body == b"hello"
    clock.advance(29.9)          # past the first head's deadline: not closed
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting


def test_next_request_has_its_own_head_deadline():
    """On a kept-alive connection the deadline restarts at the next request's first byte."""
    clock = MemoryReactorClock()
    channel, transport = connect(site(clock))
    channel.dataReceived(GET)
    transport.clear()
    clock.advance(20)
    channel.dataReceived(b"GET / HT")
    clock.advance(9.9)
    channel.dataReceived(b"T")
    assert not transport.disconnecting
    clock.advance(0.1)
    assert read_response(transport.value()).status == 408
    assert transport.disconnecting


def test_pipelined_requests_each_answered():
    """Two requests in one write are both answered (the deadline does not cut the second)."""
    clock = MemoryReactorClock()
    channel, transport = connect(site(clock))
    channel.dataReceived(GET + GET)
    assert transport.value().count(b"hello") == 2
    clock.advance(9.9)
    assert not transport.disconnecting


def test_refused_connection_discards_then_is_cut_after_linger():
    """After a refusal the peer's further bytes are ignored; a peer that stays is cut off."""
    clock = MemoryReactorClock()
    channel, transport = connect(site(clock))
    channel.dataReceived(b"GET /" + b"a" * 20000)
    answer = transport.value()
    channel.dataReceived(b"b" * 100000 + b" HTTP/1.1\r\n\r\n" + GET)
    assert transport.value() == answer
    assert transport.disconnecting and not transport.disconnected
    clock.advance(LINGER)
    assert transport.disconnected   # aborted


# -- the limits -------------------------------------------------------------------------


def answer_to(data: bytes, max_body: int = 1000) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection is closing, after feeding C{data}."""
    channel, transport = connect(site(MemoryReactorClock(), max_body))
    channel.dataReceived(data)
    response = read_response(transport.value())
    return response.status, response.body, transport.disconnecting


@pytest.mark.parametrize("data, status, words", [
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n", 414, b"request line is over 16384 bytes"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431,
     b"a request header line is over 16384 bytes"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 12000) for i in range(3)),
     431, b"over 32768 bytes in all"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(501)) + b"\r\n",
     431, b"more than 500 header fields"),
    (b"GET / HTTP/1.1\nHost: x\n\n", 400, b"bare LF"),
    (b"GET / HTTP/1.1\r\nHost: x\n\n", 400, b"bare LF"),
    (b"GET /\x00 HTTP/1.1\r\n\r\n", 400, b"not valid HTTP/1.1"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n", 413,
     b"the request body is over 1000 bytes"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + b"a" * 512
     + b"\r\n300\r\n", 413, b"the request body is over 1000 bytes"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, b"chunked framing"),
])
def test_limits_answered_at_once(data, status, words):
    """Each breach is answered with its status and reason as soon as it is seen, and closed."""
    got, body, closing = answer_to(data)
    assert (got, closing) == (status, True), body
    assert words in body


def test_within_the_limits():
    """A 16 KiB header line, 30 KiB of headers and a chunked body of max_body are served."""
    head = (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 16000 + b"\r\nX-B: "
            + b"b" * 14000 + b"\r\n\r\n")
    assert answer_to(head)[:2] == (200, b"hello")
    status, body, _ = answer_to(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + b"a" * 1000
        + b"\r\n0\r\n\r\n")
    assert (status, body) == (200, b"1000")
