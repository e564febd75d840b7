# -*- test-case-name: tests.test_testing -*-
"""
A raw HTTP/1.1 client for tests: drive a twisted.web C{Site} with request
bytes over an in-memory transport and parse the bytes it answers; or send
raw request bytes to a real daemon over TLS (L{tls_exchange}).
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocol
from twisted.internet.testing import StringTransport
from twisted.web.server import Site


@dataclass(frozen=True)
class RawResponse:
    """One HTTP response read off a transport."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def values(self, name: str) -> list[str]:
        """Every value of header C{name} (case-insensitive), in order."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        """The first value of header C{name}, or C{None}."""
        values = self.values(name)
        return values[0] if values else None


def connect(site: Site, peer: str = "127.0.0.1") -> tuple[IProtocol, StringTransport]:
    """
    Open an in-memory connection to C{site}.

    @return: C{(channel, transport)}: feed request bytes with
        C{channel.dataReceived}, read the answer with
        C{read_response(transport.value())}.
    """
    channel = site.buildProtocol(IPv4Address("TCP", peer, 40000))
    assert channel is not None
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 11443),
        peerAddress=IPv4Address("TCP", peer, 40000),
    )
    channel.makeConnection(transport)
    return channel, transport


def read_response(data: bytes) -> RawResponse:
    """
    Parse the first HTTP/1.1 response in C{data} (C{Content-Length} or
    chunked framing, else everything after the headers).
    """
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    response = RawResponse(status=int(status_line.split()[1]), headers=headers, body=b"")
    length = response.header("Content-Length")
    if length is not None:
        return replace(response, body=rest[: int(length)])
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        body = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return replace(response, body=body)
            body, rest = body + rest[:size], rest[size + 2:]
    return replace(response, body=rest)


def http_request(
    site: Site,
    method: str,
    path: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    peer: str = "127.0.0.1",
) -> RawResponse:
    """
    Send one HTTP/1.1 request to C{site} over a fresh in-memory connection
    and read the answer (which must be complete once the request is fed:
    the fakes answer synchronously).

    @param headers: C{(name, value)} pairs; C{Host}, C{Connection: close}
        and, for a body or a POST/PUT, C{Content-Length} are added.
    """
    channel, transport = connect(site, peer)
    lines = [f"{method} {path} HTTP/1.1", "Host: occi.example.org", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
    return read_response(transport.value())


@dataclass(frozen=True)
class Exchange:
    """
    What L{tls_exchange} saw: the bytes answered, the seconds from connecting
    to the first of them (C{None} if none came), whether the server closed
    the connection, and how much of the request it had taken by then.
    """

    answer: bytes
    first_byte: float | None
    closed: bool
    sent: int


def tls_exchange(port: int, cafile: str, request: bytes, timeout: float) -> Exchange:
    """
    Send C{request} over TLS to 127.0.0.1:C{port} while reading the answer,
    as a client that keeps sending a long request but reads what comes back
    (one thread: a memory BIO and a non-blocking socket), until the server
    closes or C{timeout} seconds pass.
    """
    context = ssl.create_default_context(cafile=cafile)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setblocking(False)
    start = time.monotonic()
    pending, wire, answer = memoryview(request), b"", b""
    first: float | None = None
    shaken = closed = False
    sent = 0
    try:
        while not closed and time.monotonic() - start < timeout:
            if not shaken:
                try:
                    tls.do_handshake()
                    shaken = True
                except ssl.SSLWantReadError:
                    pass
            if shaken and pending and len(wire) < 1 << 16:
                written = tls.write(pending[: 1 << 14])
                pending, sent = pending[written:], sent + written
            wire += outgoing.read()
            readable, writable, _ = select.select([sock], [sock] if wire else [], [], 0.05)
            if writable:
                try:
                    wire = wire[sock.send(wire):]
                except OSError:  # the server has closed: stop sending
                    pending, wire = memoryview(b""), b""
            if not readable:
                continue
            try:
                data = sock.recv(1 << 16)
            except ConnectionResetError:
                closed = True
                break
            if data:
                incoming.write(data)
            else:
                incoming.write_eof()
                closed = True
            while True:
                try:
                    chunk = tls.read(1 << 16)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                if first is None:
                    first = time.monotonic() - start
                answer += chunk
    finally:
        sock.close()
    return Exchange(answer, first, closed, sent)
