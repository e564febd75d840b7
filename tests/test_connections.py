"""
Tests for L{occid.server.connections}: the caps in all and per peer, the
rate-limited refusal log, and the TLS factory refusing before any TLS.
"""

from __future__ import annotations

import os
import re

from OpenSSL import SSL
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from occid.server import connections
from occid.server.connections import CappedTLSFactory, Caps, ConnectionCount, RefusalLog
from occid.server.tls import GridServerTLS
from occid.serverconfig import ServerConfig


def test_per_peer_cap():
    """One address gets C{per_peer} connections; another address is not affected."""
    count = ConnectionCount(Caps(total=10, per_peer=3))
    assert [count.admit("127.0.0.2") for _ in range(3)] == [None] * 3
    assert count.admit("127.0.0.2") == "max_connections_per_peer (3)"
    assert count.admit("127.0.0.1") is None
    assert (count.total, count.open_from("127.0.0.2")) == (4, 3)
    count.release("127.0.0.2")
    assert count.admit("127.0.0.2") is None


def test_total_cap():
    """Past C{total}, every address is refused until one closes."""
    count = ConnectionCount(Caps(total=4, per_peer=3))
    for peer in ("a", "a", "b", "c"):
        assert count.admit(peer) is None
    assert count.admit("d") == "max_connections (4)"
    count.release("c")
    assert count.admit("d") is None
    assert count.open_from("c") == 0


def captured(monkeypatch) -> list[dict]:
    """The events L{connections} logs from now on."""
    events: list[dict] = []
    monkeypatch.setattr(connections, "log", Logger(observer=events.append))
    return events


def test_refusals_logged_once_per_interval(monkeypatch):
    """A flood of refusals is one line at once, then one per 10 s counting the rest."""
    events = captured(monkeypatch)
    clock = MemoryReactorClock()
    refusals = RefusalLog(clock)
    for _ in range(500):
        refusals.refused("127.0.0.2", "max_connections_per_peer (3)")
        clock.advance(0.01)
    assert [e["count"] for e in events] == [1]
    clock.advance(5.1)
    refusals.refused("127.0.0.3", "max_connections (4)")
    assert [(e["count"], e["peer"], e["cap"]) for e in events] == [
        (1, "127.0.0.2", "max_connections_per_peer (3)"),
        (500, "127.0.0.3", "max_connections (4)"),
    ]


def test_factory_refuses_before_tls(monkeypatch):
    """
    Over a cap, C{buildProtocol} answers C{None} (the port closes the
    socket: no TLS object is made); a closed connection frees its place.
    """
    captured(monkeypatch)
    made: list[object] = []

    class Creator(GridServerTLS):
        def serverConnectionForTLS(self, tlsProtocol):
            made.append(tlsProtocol)
            return super().serverConnectionForTLS(tlsProtocol)

    clock = MemoryReactorClock()
    factory = CappedTLSFactory(Caps(total=3, per_peer=2), Creator(SSL.Context(SSL.TLS_METHOD)),
                               Factory.forProtocol(Protocol), clock)

    def accept(host: str, port: int):
        address = IPv4Address("TCP", host, port)
        protocol = factory.buildProtocol(address)
        if protocol is not None:
            protocol.makeConnection(StringTransport(peerAddress=address))
        return protocol

    first, second = accept("127.0.0.2", 1), accept("127.0.0.2", 2)
    assert accept("127.0.0.2", 3) is None
    assert accept("127.0.0.1", 4) is not None
    assert accept("127.0.0.3", 5) is None
    assert len(made) == 3
    assert first is not None and second is not None
    first.connectionLost(Failure(ConnectionDone()))
    assert factory.count.total == 2
    assert accept("127.0.0.2", 6) is not None


def test_unit_descriptors_fit_the_default_caps():
    """The unit's LimitNOFILE leaves at least as many descriptors as connections for the rest."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "systemd", "occid.service")
    with open(path, encoding="utf-8") as f:
        [limit] = re.findall(r"^LimitNOFILE=(\d+)$", f.read(), re.MULTILINE)
    assert 2 * ServerConfig().max_connections <= int(limit)
