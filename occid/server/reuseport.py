# -*- test-case-name: tests.test_processes -*-
"""
A listener that shares its port with the other occid processes of the
host (C{[server] reuse_port}): occid makes and binds the socket itself with
C{SO_REUSEPORT} (Twisted's C{tcp:} endpoint cannot set it) and hands it to
the reactor.  The kernel then spreads new connections between every
process listening on the port, by a hash of the client's address and port.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IListeningPort, IReactorSocket
from twisted.internet.protocol import ServerFactory

from occid.listenconfig import TcpAddress


def bind_shared(address: TcpAddress) -> socket.socket:
    """A listening socket on C{address}, which other sockets may bind too."""
    family = socket.AF_INET6 if address.ipv6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address.interface, address.port))
        sock.listen(address.backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class SharedPortService(Service):
    """
    Listens on C{address} with C{SO_REUSEPORT} while running, serving
    C{factory}.  Binds in C{privilegedStartService}, as Twisted's own
    listening services do, so a port below 1024 works with twistd's C{--uid}.
    """

    def __init__(self, address: TcpAddress, factory: ServerFactory, reactor: Any):
        self._address = address
        self._factory = factory
        self._reactor = reactor
        self.port: IListeningPort | None = None

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._listen()

    def startService(self) -> None:
        super().startService()
        if self.port is None:
            self._listen()

    def _listen(self) -> None:
        sock = bind_shared(self._address)
        try:
            self.port = IReactorSocket(self._reactor).adoptStreamPort(
                sock.fileno(), sock.family, self._factory)
        finally:
            # The reactor listens on its own duplicate of the descriptor.
            sock.close()

    def stopService(self) -> Any:
        super().stopService()
        port, self.port = self.port, None
        if port is not None:
            return port.stopListening()
        return None
