# -*- test-case-name: tests.test_web_site,tests.test_tap -*-
"""
The C{Site} occid serves, and its requests, which enforce the limits.

Bodies over C{max_body} are refused with 413 and the connection closed: a
declared C{Content-Length} before any of the body is read, a chunked body as
soon as the bytes received pass the limit.  A request still unanswered after
C{request_timeout} gets 504, and the OCCI resource abandons its work (it
watches C{notifyFinish}).  Every response, including those Twisted itself
writes, carries C{Server} and C{Accept}.  Each connection is a
L{BoundedHTTPChannel} held to the site's L{Deadlines} (with an authenticator,
a L{GridHTTPChannel} authenticating its TLS peer once).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from io import BytesIO

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.http import HTTPChannel, Request
from twisted.web.resource import IResource

from occid.interfaces import IAuthenticator
from occid.occi.errors import GatewayTimeout, OCCIError
from occid.server.bounded import (
    DEFAULT_DEADLINES,
    BoundedHTTPChannel,
    Deadlines,
    body_too_large,
)
from occid.server.channel import GridHTTPChannel
from occid.server.handlers import READ_METHODS
from occid.server.respond import Answer, error_answer, fallback_renderer, send, send_refusal, stamp

log = Logger()


@dataclass(frozen=True)
class Limits:
    """
    What a request may take.

    @ivar max_body: the largest request body accepted, in bytes.
    @ivar request_timeout: seconds before an unanswered request gets 504.
    @ivar clock: the reactor's clock, for the timeout.
    """

    max_body: int
    request_timeout: float
    clock: IReactorTime


class OCCIRequest(server.Request):
    """A request that enforces its L{Limits} and carries C{Server} and C{Accept}."""

    _refused = False
    _received = 0
    _deadline: IDelayedCall | None = None
    _gone = False

    def __init__(self, channel: HTTPChannel, *args: object, limits: Limits, **kwargs: object):
        super().__init__(channel, *args, **kwargs)
        self.limits = limits

    # -- the body limit -------------------------------------------------------------

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.limits.max_body:
            self.content = BytesIO()
            # No "100 Continue" after the refusal (the channel sends it next).
            self.requestHeaders.removeHeader(b"expect")
            self._refuse_body()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._received > self.limits.max_body:
            self._refuse_body()
        else:
            super().handleContentChunk(data)

    def _refuse_body(self) -> None:
        """Answer 413 straight on the transport and close the connection."""
        self._refused = True
        error = body_too_large(self.limits.max_body)
        log.info(
            "request body over {max_body} bytes refused", max_body=self.limits.max_body,
            status=error.status,
        )
        send_refusal(self.channel, self._error_answer(error))

    # -- the timeout ----------------------------------------------------------------

    def process(self) -> None:
        """
        Serve the request; only one left unanswered when the resource
        returns gets a timer, for what remains of C{request_timeout} (most
        answers are written at once, and need neither a timer nor its
        cancellation).
        """
        if self._refused:
            return
        clock = self.limits.clock
        started = clock.seconds()
        super().process()
        if not self.finished and not self._gone:
            remaining = max(0.0, started + self.limits.request_timeout - clock.seconds())
            self._deadline = clock.callLater(remaining, self._time_out)

    def _stop_clock(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def finish(self) -> None:
        self._stop_clock()
        return super().finish()

    def connectionLost(self, reason: Failure) -> None:
        self._gone = True
        self._stop_clock()
        super().connectionLost(reason)

    def _time_out(self) -> None:
        """Answer 504 for a request that ran over its time."""
        self._deadline = None
        if self.finished or self._gone:
            return
        # Logged by the pipeline's request event, with the query hidden.
        error = GatewayTimeout(timed_out(self.method, self.limits.request_timeout))
        send(self, self._error_answer(error))

    # -- every response ---------------------------------------------------------------

    def _error_answer(self, error: OCCIError) -> Answer:
        """C{error} in the type this request accepts, for the limits' answers."""
        return error_answer(error, fallback_renderer(self))

    def write(self, data: bytes) -> None:
        if not self.startedWriting:
            stamp(self.responseHeaders)
        super().write(data)


def timed_out(method: bytes, request_timeout: float) -> str:
    """
    The message of the 504 of a C{method} request abandoned after
    C{request_timeout} seconds: a write may still happen (its EC2 calls
    were under way), and the client is told how to retry it safely.
    """
    said = f"the request took over {request_timeout:g} seconds and was abandoned"
    if method.decode("latin-1") in READ_METHODS:
        return said
    return (f"{said}; the change may still happen: check the resource's state, or retry "
            "with the same Idempotency-Key header, which is safe")


class OCCISite(server.Site):
    """
    A C{Site} of L{OCCIRequest}s.  Its access log is off: the OCCI resource
    logs one structured event per request instead.

    @ivar authenticator: what authenticates each connection's TLS peer, or
        C{None} for plain HTTP channels (tests, benchmarks).
    @ivar deadlines: the L{Deadlines} of each connection.
    """

    displayTracebacks = False

    def __init__(
        self, root: IResource, limits: Limits, authenticator: IAuthenticator | None = None,
        deadlines: Deadlines = DEFAULT_DEADLINES,
    ):
        super().__init__(root, reactor=limits.clock)
        self.authenticator = authenticator
        self.use(limits, deadlines)

    def use(self, limits: Limits, deadlines: Deadlines) -> None:
        """Connections made from now on follow C{limits} and C{deadlines} (a reload)."""
        self.limits = limits
        self.deadlines = deadlines
        self.timeOut = deadlines.idle_timeout
        # As server.Site sets it: a factory of OCCIRequest, which mypy takes for a class.
        self.requestFactory = partial(OCCIRequest, limits=limits)  # type: ignore[assignment]
        # Factory.protocol is an attribute meant to be set, but HTTPFactory
        # defines its default as a function, which mypy takes for a method.
        if self.authenticator is not None:
            self.protocol = partial(  # type: ignore[method-assign,assignment]
                GridHTTPChannel, self.authenticator, limits.clock, deadlines, limits.max_body
            )
        else:
            self.protocol = partial(  # type: ignore[method-assign,assignment]
                BoundedHTTPChannel, limits.clock, deadlines, limits.max_body
            )

    def log(self, request: Request) -> None:
        """No access log line: see L{occid.server.pipeline}'s structured events."""


def make_site(
    root: IResource, max_body: int, request_timeout: float, clock: IReactorTime,
    authenticator: IAuthenticator | None = None, deadlines: Deadlines = DEFAULT_DEADLINES,
) -> OCCISite:
    """
    The C{Site} serving C{root}.

    @param max_body: the largest request body accepted, in bytes.
    @param request_timeout: seconds before an unanswered request gets 504.
    @param clock: the reactor (or a test clock).
    @param authenticator: authenticates each connection's TLS peer once,
        after the handshake; without one, channels are plain HTTP.
    @param deadlines: the L{Deadlines} of each connection.
    """
    return OCCISite(root, Limits(max_body, request_timeout, clock), authenticator, deadlines)
