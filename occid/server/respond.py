# -*- test-case-name: tests.test_web_status,tests.test_web_site -*-
"""
The one place where an answer becomes HTTP: status, headers and body.

Every response occid writes goes through L{send} (or, for a body refused
before it was read, L{send_refusal}); both fill their headers with L{_fill},
which stamps C{Server} and C{Accept} through L{stamp}, the only code that sets
them, and drops a C{Location} header from any answer but a 201 (C{Location}
names what a create made; collections list theirs in C{X-OCCI-Location}),
and sets C{Content-Length} on all but a C{304}.
An error becomes an answer in L{error_answer}: its status, its headers, and
its message rendered in the negotiated type (text/plain when nothing was
negotiated, or when the client asked for text/uri-list, which cannot carry
a message).
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.web.http import NOT_MODIFIED, RESPONSES, HTTPChannel, Request
from twisted.web.http_headers import Headers

from occid import __version__
from occid.occi import rendering
from occid.occi.errors import NotAcceptable, OCCIError
from occid.occi.negotiation import OCCIVersion, client_version, negotiate

#: The C{Server} header of every response (OCCI requires the versions it speaks).
SERVER_HEADER = f"occid/{__version__} OCCI/1.1 OCCI/1.2"

#: The C{Accept} header of every response: the renderings occid offers.
ACCEPT_HEADER = ", ".join(rendering.MEDIA_TYPES)


#: Reason phrases Twisted's table lacks.
_REASONS = {431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class Answer:
    """
    What a request is answered with.

    @ivar status: the HTTP status code.
    @ivar rendered: the body and its headers, or C{None} for an empty body.
    @ivar headers: further headers (C{Location}, C{Allow}, ...), each name
        replacing any earlier value of its name; a name given several times
        (the C{WWW-Authenticate} challenges of a 401) is sent with each value.
    """

    status: int
    rendered: rendering.Rendered | None = None
    headers: tuple[tuple[str, str], ...] = ()


def error_answer(error: OCCIError, renderer: rendering.Renderer | None) -> Answer:
    """
    C{error} as an answer, rendered by C{renderer} (the negotiated one), or
    as text/plain when there is none or it renders URI lists only.
    """
    if renderer is None or renderer.media_type == "text/uri-list":
        version = renderer.version if renderer is not None else OCCIVersion.V1_2
        renderer = rendering.renderer("text/plain", version)
    return Answer(error.status, renderer.error(error), error.headers)


def fallback_renderer(request: Request) -> rendering.Renderer:
    """
    The renderer for an answer made outside the pipeline (a refused body, a
    timeout): the type the request's C{Accept} asks for, else text/plain,
    for the OCCI version its C{User-Agent} names.
    """
    user_agent = request.getHeader(b"user-agent")
    version = client_version(user_agent.decode("latin-1") if user_agent is not None else None)
    accept = request.getHeader(b"accept")
    try:
        media_type = negotiate(
            accept.decode("latin-1") if accept is not None else None, rendering.MEDIA_TYPES
        )
    except NotAcceptable:
        media_type = "text/plain"
    return rendering.renderer(media_type, version)


#: The values of L{stamp}, encoded once.
_SERVER_VALUE = [SERVER_HEADER.encode("latin-1")]
_ACCEPT_VALUE = [ACCEPT_HEADER.encode("latin-1")]


def stamp(headers: Headers) -> None:
    """Put C{Server}, and C{Accept} unless present, on a response's C{headers}."""
    headers.setRawHeaders(b"Server", _SERVER_VALUE)
    if not headers.hasHeader(b"accept"):
        headers.setRawHeaders(b"Accept", _ACCEPT_VALUE)


def _fill(headers: Headers, answer: Answer) -> bytes:
    """Fill C{headers} for C{answer} (C{Location} on a 201 only); return its body."""
    body = b""
    if answer.rendered is not None:
        for name, value in answer.rendered.headers:
            headers.addRawHeader(name, value)
        headers.setRawHeaders("Content-Type", [answer.rendered.content_type])
        body = answer.rendered.body
    grouped: dict[str, list[str]] = {}
    for name, value in answer.headers:
        grouped.setdefault(name, []).append(value)
    for name, values in grouped.items():
        headers.setRawHeaders(name, values)
    if answer.status != 201:
        headers.removeHeader(b"Location")
    stamp(headers)
    if answer.status != NOT_MODIFIED:
        # A 304 has no body, and its Content-Length could only be the
        # length of the 200 it stands for (RFC 9110, 8.6).
        headers.setRawHeaders(b"Content-Length", [b"%d" % len(body)])
    return body


def send(request: Request, answer: Answer) -> None:
    """Write C{answer} as the whole response to C{request}, and finish it."""
    request.setResponseCode(answer.status)
    body = _fill(request.responseHeaders, answer)
    request.write(body)
    request.finish()


def send_refusal(channel: HTTPChannel, answer: Answer) -> None:
    """
    Write C{answer} straight on C{channel}'s transport and close the
    connection: for a request refused while its body is still arriving,
    before the request exists for the resource tree.
    """
    headers = Headers()
    body = _fill(headers, answer)
    headers.setRawHeaders(b"Connection", [b"close"])
    reason = RESPONSES.get(answer.status, _REASONS.get(answer.status, b"Error"))
    channel.writeHeaders(b"HTTP/1.1", b"%d" % answer.status, reason, headers)
    if channel.transport is not None:
        channel.transport.write(body)
        channel.loseConnection()
