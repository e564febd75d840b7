# -*- test-case-name: tests.test_bounded,tests.test_connections_tls -*-
"""
The HTTP/1.1 channel held to deadlines and size limits, which answers each
breach at once and closes the connection.

Deadlines (L{Deadlines}): the head of a request (its request line and
headers) must be complete within C{header_timeout} of the connection's start
(so the TLS handshake counts too) or, on a kept-alive connection, of the
request's first byte.  Bytes arriving do not push the deadline back: a client
dribbling its headers a byte at a time is cut off.  Between requests, a
kept-alive connection with no byte for C{idle_timeout} is closed (Twisted's
idle timeout, which also bounds a pause in a request body).

Limits, each answered at once: a request line over C{MAX_LENGTH} bytes is
414; a header line over it, headers over C{totalHeadersSize} bytes in all,
or more than C{maxHeaders} of them, 431; a line ending in a bare LF, and
anything else Twisted's parser refuses (a malformed request line, header or
chunk size), 400; chunk sizes declared past the body limit, 413 before the
chunk is read.

Closing after an answer: the channel discards whatever else the client sends
and closes its side (over TLS, a close_notify after the answer), so a client
still sending its request can read the answer; one that never closes is cut
off L{LINGER} seconds later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITCPTransport
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel, Request, _ChunkedTransferDecoder

from occid.occi.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    OCCIError,
    PayloadTooLarge,
    RequestTimeout,
    URITooLong,
)
from occid.server.context import describe_peer
from occid.server.respond import error_answer, fallback_renderer, send_refusal

log = Logger()

#: Seconds a closing connection may stay open for its peer to read the answer.
LINGER = 5.0


@dataclass(frozen=True)
class Deadlines:
    """
    How long a connection may take (C{[server]} keys of the same names).

    @ivar header_timeout: seconds for a request's head, the first
        request's including the TLS handshake.
    @ivar idle_timeout: seconds a connection may stay silent between
        requests.
    """

    header_timeout: float = 10.0
    idle_timeout: float = 30.0


#: The deadlines of the defaults of C{[server]}.
DEFAULT_DEADLINES = Deadlines()


def body_too_large(max_body: int) -> PayloadTooLarge:
    """The refusal of a request body over C{max_body} bytes."""
    return PayloadTooLarge(f"the request body is over {max_body} bytes; send less")


class BoundedHTTPChannel(HTTPChannel):
    """
    An HTTP channel enforcing L{Deadlines} and the head and body limits.

    @ivar clock: the reactor's clock, for the deadlines.
    @ivar deadlines: the L{Deadlines}.
    @ivar max_body: the largest request body accepted, in bytes.
    """

    MAX_LENGTH = 16384
    totalHeadersSize = 32768

    _head: IDelayedCall | None = None
    _head_begun = False
    _linger: IDelayedCall | None = None
    _closing = False

    def __init__(self, clock: IReactorTime, deadlines: Deadlines = DEFAULT_DEADLINES,
                 max_body: int = 1 << 20):
        super().__init__()
        self.clock = clock
        self.deadlines = deadlines
        self.max_body = max_body
        # Twisted annotates it as whole seconds; any number of seconds works.
        self.timeOut = deadlines.idle_timeout  # type: ignore[assignment]

    # -- the head deadline ------------------------------------------------------------

    def connectionMade(self) -> None:
        super().connectionMade()
        self._start_head()

    def _start_head(self) -> None:
        """Start the deadline of the next request's head."""
        self._head_begun = False
        self._head = self.clock.callLater(self.deadlines.header_timeout, self._head_overdue)

    def _stop_head(self) -> None:
        if self._head is not None and self._head.active():
            self._head.cancel()
        self._head = None

    def _head_overdue(self) -> None:
        """Close a connection whose request head is late (with 408 if it began)."""
        self._head = None
        if self._head_begun:
            self._refuse(RequestTimeout(
                f"the request line and headers did not arrive within "
                f"{self.deadlines.header_timeout:g} seconds; send them at once"))
        else:
            log.info("No request from {peer} within {timeout} s; closing",
                     peer=self._peer(), timeout=self.deadlines.header_timeout)
            self.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._head is None and self.line_mode and not self._handlingRequest:
            # The first bytes of the next request on a kept-alive connection.
            self._start_head()
        self._head_begun = True
        super().dataReceived(data)
        if not self._closing and self._head is not None and b"\n" in self._buffer:
            self._refuse(BadRequest(
                "a request line or header line ends in a bare LF; "
                "HTTP/1.1 lines end in CR LF"))

    def allHeadersReceived(self) -> None:
        self._stop_head()
        super().allHeadersReceived()

    def requestDone(self, request: Request) -> None:
        super().requestDone(request)
        if (not self._closing and self._head is None and self.line_mode
                and not self._handlingRequest and self._buffer):
            # Part of a pipelined request's head was waiting.
            self._start_head()
            self._head_begun = True

    # -- the head limits ----------------------------------------------------------------

    def lineReceived(self, line: bytes) -> None:
        if self._closing:
            return
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._refuse(HeaderFieldsTooLarge(
                f"the request line and headers are over {self.totalHeadersSize} bytes "
                "in all; send fewer or smaller headers"))
            return
        super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:
        if self._receivedHeaderCount >= self.maxHeaders:
            self._refuse(HeaderFieldsTooLarge(
                f"the request has more than {self.maxHeaders} header fields; send fewer"))
            return False
        return bool(super().headerReceived(line))

    def lineLengthExceeded(self, line: bytes) -> None:
        """Answer 414 to a request line over C{MAX_LENGTH}, 431 to a header line."""
        if self.requests:
            self._refuse(HeaderFieldsTooLarge(
                f"a request header line is over {self.MAX_LENGTH} bytes; send less"))
        else:
            self._refuse(URITooLong(
                f"the request line is over {self.MAX_LENGTH} bytes; use a shorter URL"))

    def _respondToBadRequestAndDisconnect(self) -> None:
        """Twisted's parser refused the request: 400 with a reason."""
        self._refuse(BadRequest(
            "the request is not valid HTTP/1.1: its request line, a header or the "
            "chunked framing of its body is malformed"))

    # -- the chunked body -----------------------------------------------------------------

    def _maybeChooseTransferDecoder(self, header: bytes, data: bytes) -> bool:
        chosen = bool(super()._maybeChooseTransferDecoder(header, data))
        if chosen and type(self._transferDecoder) is _ChunkedTransferDecoder:
            self._transferDecoder = _BoundedChunks(
                self.requests[-1].handleContentChunk, self._finishRequestBody,
                self.max_body, self._chunks_too_large,
            )
        return chosen

    def _chunks_too_large(self) -> None:
        self._refuse(body_too_large(self.max_body), self.requests[-1])

    # -- closing ---------------------------------------------------------------------------

    def _refuse(self, error: OCCIError, request: Request | None = None) -> None:
        """
        Answer C{error} (in the type C{request} accepts, else text/plain)
        and close.
        """
        log.info("Refused a request from {peer}: {status} {message}", peer=self._peer(),
                 status=error.status, message=error.message)
        renderer = fallback_renderer(request) if request is not None else None
        send_refusal(self, error_answer(error, renderer))

    def loseConnection(self) -> None:
        """
        Close after what was written, discarding what the peer still sends;
        cut the connection off if the peer has not closed after L{LINGER}.
        """
        if self._closing:
            return
        self._closing = True
        self._stop_head()
        self.setTimeout(None)
        self._linger = self.clock.callLater(LINGER, self._cut)
        super().loseConnection()

    def timeoutConnection(self) -> None:
        """The idle timeout: close (the linger cuts off a peer that stays)."""
        log.info("Closing the connection of {peer}, idle for {timeout} s", peer=self._peer(),
                 timeout=self.deadlines.idle_timeout)
        self.loseConnection()

    def _cut(self) -> None:
        self._linger = None
        if self.transport is not None:
            cast(ITCPTransport, self.transport).abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_head()
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        self._linger = None
        super().connectionLost(reason)

    def _peer(self) -> str:
        """The client's address, for the log."""
        return describe_peer(self.transport.getPeer() if self.transport is not None else None)


class _BoundedChunks(_ChunkedTransferDecoder):
    """
    A chunked body decoder that calls C{over} as soon as the chunk sizes
    declared pass C{limit}, before reading the chunk.
    """

    def __init__(self, data: Callable[[bytes], None], finish: Callable[[bytes], None],
                 limit: int, over: Callable[[], None]):
        super().__init__(data, finish)
        self.limit = limit
        self.over = over
        self.declared = 0

    def _dataReceived_CHUNK_LENGTH(self) -> bool:
        if not super()._dataReceived_CHUNK_LENGTH():
            return False
        self.declared += self.length
        if self.declared > self.limit:
            self.over()
            return False
        return True
