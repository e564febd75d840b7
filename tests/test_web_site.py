"""
Tests for L{occid.server.site}: the body limit, the request timeout,
disconnects, and the C{Server} header on responses the OCCI root did not
write.  Raw HTTP/1.1 over in-memory transports; time is a
C{MemoryReactorClock}.
"""

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.pages import notFound

from occid.server.respond import SERVER_HEADER
from occid.server.site import make_site
from tests.gateway import make_gateway
from tests.rawhttp import connect, http_request, read_response

HEAD = b"POST /compute/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
BODY = (
    b'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    b'Category: ami-0123456789abcdef0; '
    b'scheme="http://occi.occi.example.org/occi/infrastructure/os_tpl#"; class="mixin"\n'
    b'X-OCCI-Attribute: occi.core.title="vm"\n'
)


def chunked(body: bytes, size: int) -> bytes:
    """C{body} in chunked transfer coding, C{size} bytes a chunk."""
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_413_declared_length_before_reading():
    """A Content-Length over max_body is refused at once, before any body byte, and the connection closed."""
    gateway = make_gateway(max_body=100)
    channel, transport = connect(gateway.site)
    channel.dataReceived(HEAD + b"Content-Length: 101\r\nAccept: application/occi+json\r\n\r\n")
    response = read_response(transport.value())
    assert response.status == 413
    assert response.header("Server") == SERVER_HEADER
    assert response.header("Content-Type") == "application/occi+json"
    assert b"100 bytes" in response.body
    assert transport.disconnecting
    channel.dataReceived(b"x" * 101)
    assert transport.value().count(b"HTTP/1.1 ") == 1, "the refused request is never served"


def test_413_no_100_continue():
    """A client expecting 100-continue gets only the 413, never a 100 after it."""
    gateway = make_gateway(max_body=100)
    channel, transport = connect(gateway.site)
    channel.dataReceived(HEAD + b"Content-Length: 101\r\nExpect: 100-continue\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in transport.value()


def test_413_chunked_counted_as_it_arrives():
    """A chunked body is refused as soon as what arrived passes max_body."""
    gateway = make_gateway(max_body=len(BODY) - 1)
    channel, transport = connect(gateway.site)
    channel.dataReceived(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    channel.dataReceived(chunked(BODY, 64))
    response = read_response(transport.value())
    assert response.status == 413
    assert transport.disconnecting
    assert transport.value().count(b"HTTP/1.1 ") == 1
    assert gateway.backend.store.operations == []


def test_body_within_limit_chunked_or_not():
    """Bodies up to max_body, chunked or with a length, are served."""
    gateway = make_gateway(max_body=len(BODY))
    assert gateway.request("POST", "/compute/", [("Content-Type", "text/plain")], BODY).status == 201
    channel, transport = connect(gateway.site)
    channel.dataReceived(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(BODY, 50))
    assert read_response(transport.value()).status == 201


def test_timeout_answers_504_and_abandons_work():
    """A request still pending after request_timeout gets 504; its backend call is cancelled."""
    gateway = make_gateway(request_timeout=30)
    gateway.backend.store.stall = True
    channel, transport = connect(gateway.site)
    channel.dataReceived(b"GET /compute/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.value() == b""
    gateway.clock.advance(29)
    assert transport.value() == b""
    gateway.clock.advance(1)
    response = read_response(transport.value())
    assert response.status == 504
    assert response.header("Server") == SERVER_HEADER
    assert b"30 seconds" in response.body
    [pending] = gateway.backend.store.stalled
    assert pending.called
    assert transport.value().count(b"HTTP/1.1") == 1


def test_no_timeout_after_answer():
    """A request answered in time leaves no timer behind."""
    gateway = make_gateway(request_timeout=30)
    assert gateway.request("GET", "/compute/").status == 200
    timers = [c for c in gateway.clock.getDelayedCalls() if c.func.__name__ == "_time_out"]
    assert timers == []


def test_write_timeout_says_the_change_may_still_happen():
    """
    A write answered 504 says that it may still happen and that a retry
    with the same Idempotency-Key is safe; a read's 504 just says it timed out.
    """
    gateway = make_gateway(request_timeout=30)
    gateway.backend.store.stall = True
    answers = {}
    for method, content in ((b"POST", BODY), (b"DELETE", b""), (b"GET", b"")):
        channel, transport = connect(gateway.site)
        channel.dataReceived(method + b" /compute/ HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                             % len(content) + content)
        gateway.clock.advance(30)
        answers[method] = read_response(transport.value())
    assert {answer.status for answer in answers.values()} == {504}
    for write in (b"POST", b"DELETE"):
        assert b"may still happen" in answers[write].body
        assert b"same Idempotency-Key header" in answers[write].body
    assert answers[b"GET"].body.strip() == b"the request took over 30 seconds and was abandoned"


class DisconnectTests(SynchronousTestCase):
    """A client that goes away."""

    def test_disconnect_cancels_work(self):
        """
        A client that goes away gets nothing written; its backend call is
        cancelled and logged as abandoned.
        """
        gateway = make_gateway()
        gateway.backend.store.stall = True
        channel, transport = connect(gateway.site)
        channel.dataReceived(b"GET /compute/ HTTP/1.1\r\nHost: x\r\n\r\n")
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        channel.connectionLost(Failure(ConnectionDone()))
        assert [e["path"] for e in events if "abandoned" in e["log_format"]] == ["/compute/"]
        assert not [e for e in events if "log_failure" in e]
        [pending] = gateway.backend.store.stalled
        assert pending.called
        assert transport.value() == b""
        gateway.clock.advance(3600)
        assert transport.value() == b""


def test_server_header_on_foreign_responses():
    """The Request class puts Server and Accept on responses written by other resources too."""
    clock = MemoryReactorClock()
    site = make_site(notFound(), 1000, 10, clock)
    response = http_request(site, "GET", "/anything")
    assert response.status == 404
    assert response.header("Server") == SERVER_HEADER
    assert response.header("Accept")
