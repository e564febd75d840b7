# -*- test-case-name: tests.test_web_root,tests.test_web_status -*-
"""
One request's state: what the pipeline has established so far
(L{Exchange}, for its answer and its log lines), and the authorised, routed
request as the handlers see it (L{Context}), with the OCCI documents its
headers, body and query carry.

Log lines name the user (DN or token issuer and subject), never a
credential: a query parameter other than C{action} is logged with its
value hidden, as a client may put a token there.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypedDict

from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress
from twisted.web.server import Request

from occid.gsi.principal import Principal
from occid.interfaces import IBackend, ICatalog, IEntityCollection
from occid.occi import rendering
from occid.occi.errors import BadRequest
from occid.occi.grammar import FIELDS
from occid.occi.model import Document
from occid.occi.negotiation import OCCIVersion
from occid.policy import AccountBinding
from occid.server.routes import Route

_ACTION_QUERY = re.compile(r"action=([A-Za-z0-9_.-]+)")

#: The names of the headers that carry OCCI fields (text/occi).
_OCCI_HEADERS = tuple(name.encode("ascii") for name in FIELDS)

#: What is logged for a query parameter value that may be a secret.
HIDDEN = "*"

#: What is logged for a field not known (yet): no user, no account.
UNKNOWN = "-"


class LogFields(TypedDict):
    """
    The fields of every log event about one request.  C{dn} is the DN, or
    C{<issuer> <sub>} for a token user; C{dn}, C{account} and C{peer} are
    C{"-"} while unknown.
    """

    method: str
    path: str
    query: str
    request_id: str
    peer: str
    dn: str
    account: str


def describe_peer(peer: IAddress | None) -> str:
    """C{host:port} of an IP peer, else the address as Twisted prints it (C{-}: none)."""
    if peer is None:
        return UNKNOWN
    if isinstance(peer, IPv4Address | IPv6Address):
        return f"{peer.host}:{peer.port}"
    return str(peer)


def loggable_query(query: str) -> str:
    """
    C{query} (with its C{?}) as logged: every parameter's value but
    C{action}'s replaced by L{HIDDEN}.
    """
    if not query:
        return query
    pairs = []
    for pair in query[1:].split("&"):
        name, equals, _ = pair.partition("=")
        pairs.append(pair if name == "action" or not equals else f"{name}={HIDDEN}")
    return "?" + "&".join(pairs)


def header(request: Request, name: bytes) -> str | None:
    """The first value of request header C{name}, as text."""
    value = request.getHeader(name)
    return value.decode("latin-1") if isinstance(value, bytes) else value


def listed(request: Request, name: bytes) -> str | None:
    """
    The value of request header C{name}, a comma-separated list, as text:
    its lines joined (RFC 9110, 5.3), or C{None} when absent.
    """
    values = request.requestHeaders.getRawHeaders(name)
    return None if values is None else b", ".join(values).decode("latin-1")


@dataclass
class Exchange:
    """
    What one request has established so far, for its answer and its logs.

    @ivar path: the request's path, which is routed.
    @ivar query: its query string with the C{?} (C{?action=stop}), or
        empty: logged after the path, so that an action is not taken for
        an update.
    @ivar occi_version: the OCCI version answers are rendered in.
    @ivar renderer: the negotiated rendering, once known.
    @ivar finished: its answer has been written.
    @ivar gone: the request ended without it (a timeout answer or a
        disconnect): nothing more is written.
    @ivar work: the pipeline's Deferred while it runs, to cancel.
    @ivar peer: the client's address, C{host:port}.
    @ivar started: when the request arrived, on the reactor's clock.
    """

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    method: str = ""
    path: str = ""
    query: str = ""
    peer: str = UNKNOWN
    started: float = 0.0
    occi_version: OCCIVersion = OCCIVersion.V1_2
    renderer: rendering.Renderer | None = None
    dn: str | None = None
    account: str | None = None
    finished: bool = False
    gone: bool = False
    work: defer.Deferred[Any] | None = None

    @classmethod
    def of(cls, request: Request, started: float = 0.0) -> Exchange:
        """A new exchange for C{request}, which arrived at C{started}."""
        _, question, query = request.uri.partition(b"?")
        return cls(
            method=request.method.decode("latin-1"),
            path=request.path.decode("utf-8", "replace"),
            query=(question + query).decode("utf-8", "replace"),
            peer=describe_peer(request.getClientAddress()),
            started=started,
        )

    def log_fields(self) -> LogFields:
        """The fields of every log event about this request."""
        return LogFields(
            method=self.method, path=self.path, query=loggable_query(self.query),
            request_id=self.request_id, peer=self.peer,
            dn=self.dn or UNKNOWN, account=self.account or UNKNOWN,
        )


@dataclass
class Context:
    """One authorised, routed request, as the handlers see it."""

    request: Request
    exchange: Exchange
    backend: IBackend
    principal: Principal
    binding: AccountBinding
    catalog: ICatalog
    target: Route
    renderer: rendering.Renderer

    def collection(self) -> IEntityCollection:
        """The routed kind's collection, bound to the request's principal."""
        return self.backend.collection(self.target.category, self.principal, self.binding)

    def headers(self) -> list[tuple[str, str]]:
        """Every request header, as text pairs in order."""
        return [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in self.request.requestHeaders.getAllRawHeaders()
            for value in values
        ]

    def filters(self) -> Document:
        """
        The Category / X-OCCI-Attribute headers of a read (GFD.185
        filtering); an empty document, without reading every header, when
        none of them is an OCCI field (most reads).
        """
        present = self.request.requestHeaders.hasHeader
        if not any(present(name) for name in _OCCI_HEADERS):
            return Document()
        return rendering.parse("text/occi", self.headers(), b"")

    def body(self) -> Document:
        """
        The request's OCCI document: from its body, or from its OCCI headers
        when the body is blank (text/occi, or no Content-Type at all).
        """
        content = self.request.content.read() if self.request.content else b""
        content_type = header(self.request, b"content-type") or ""
        return rendering.parse(content_type, self.headers(), content)

    def action_term(self) -> str | None:
        """
        The term of C{?action=term}, or C{None} without a query.

        @raise BadRequest: a query other than exactly C{action=<term>}.
        """
        _, question, query = self.request.uri.partition(b"?")
        if not question:
            return None
        text = query.decode("latin-1")
        match = _ACTION_QUERY.fullmatch(text)
        if match is None:
            raise BadRequest(f"the query must be action=<term>, not {text!r}")
        return match.group(1)
