# -*- test-case-name: tests.test_connections -*-
"""
The caps on concurrent connections, enforced when a connection is accepted:
at most C{[server] max_connections} in all and C{max_connections_per_peer}
from one address.

A connection over a cap is closed at once, before its TLS handshake: it
costs no handshake, no certificate validation and no more than the accept.
(It cannot be answered 503: HTTP is spoken only inside TLS, and a handshake
is the expensive work the cap saves.)  Refusals are logged in one line per
L{RefusalLog.interval}, counting those since the last line, so that a flood
does not flood the log too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IOpenSSLServerConnectionCreator,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol

log = Logger()


@dataclass(frozen=True)
class Caps:
    """
    How many connections may be open at once.

    @ivar total: in all.
    @ivar per_peer: from one peer address.
    """

    total: int
    per_peer: int


class ConnectionCount:
    """The connections open, in all and by peer address, held under L{Caps}."""

    def __init__(self, caps: Caps):
        self.caps = caps
        self.total = 0
        self._by_peer: Counter[str] = Counter()

    def admit(self, peer: str) -> str | None:
        """
        Count a new connection from C{peer}, or refuse it.

        @return: C{None} when admitted (and counted), else the cap it is
            over, as words for the log.
        """
        if self.total >= self.caps.total:
            return f"max_connections ({self.caps.total})"
        if self._by_peer[peer] >= self.caps.per_peer:
            return f"max_connections_per_peer ({self.caps.per_peer})"
        self.total += 1
        self._by_peer[peer] += 1
        return None

    def release(self, peer: str) -> None:
        """Forget a connection from C{peer} that L{admit} counted."""
        self.total -= 1
        self._by_peer[peer] -= 1
        if not self._by_peer[peer]:
            del self._by_peer[peer]

    def open_from(self, peer: str) -> int:
        """How many connections from C{peer} are open."""
        return self._by_peer[peer]


class RefusalLog:
    """
    Logs refused connections in one line per C{interval} seconds at most:
    the first refusal at once, later ones counted into the next line.
    """

    #: Seconds between two lines.
    interval = 10.0

    def __init__(self, clock: IReactorTime):
        self.clock = clock
        self._unlogged = 0
        self._last: float | None = None

    def refused(self, peer: str, cap: str) -> None:
        """Note a connection from C{peer} refused for being over C{cap}."""
        self._unlogged += 1
        now = self.clock.seconds()
        if self._last is not None and now - self._last < self.interval:
            return
        log.warn(
            "Refused {count} connection(s) over {cap} since the last such line, "
            "the latest from {peer}",
            count=self._unlogged, cap=cap, peer=peer,
        )
        self._last = now
        self._unlogged = 0


def peer_host(address: IAddress) -> str:
    """The host part of an IP peer address; the address as Twisted prints it otherwise."""
    if isinstance(address, IPv4Address | IPv6Address):
        return address.host
    return str(address)


class CappedTLSFactory(TLSMemoryBIOFactory):
    """
    The TLS factory of the listener, refusing connections over its L{Caps}
    before any TLS: L{buildProtocol} answers C{None}, and the listening port
    closes the socket it just accepted.

    @ivar count: the connections open.
    @ivar refusals: where refusals are logged.
    """

    def __init__(self, caps: Caps, creator: IOpenSSLServerConnectionCreator,
                 wrapped: IProtocolFactory, clock: IReactorTime):
        super().__init__(creator, False, wrapped, clock=clock)
        self.count = ConnectionCount(caps)
        self.refusals = RefusalLog(clock)
        self._peers: dict[IProtocol, str] = {}

    def buildProtocol(self, addr: IAddress) -> TLSMemoryBIOProtocol | None:  # type: ignore[override]
        peer = peer_host(addr)
        cap = self.count.admit(peer)
        if cap is not None:
            self.refusals.refused(peer, cap)
            return None
        protocol = super().buildProtocol(addr)
        self._peers[protocol] = peer
        return protocol

    def unregisterProtocol(self, p: IProtocol) -> None:
        super().unregisterProtocol(p)
        peer = self._peers.pop(p, None)
        if peer is not None:
            self.count.release(peer)
