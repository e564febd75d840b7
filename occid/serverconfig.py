# -*- test-case-name: tests.test_config -*-
"""
C{[server]}: where and how occid listens (the address, the public URL, the
host certificate, the limits on bodies, time and connections, and the
processes sharing the listener).

Pure core, below L{occid.config}, which reports through the
C{fail(key, problem)} it hands in (L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from occid.accountconfig import Fail
from occid.listenconfig import check_processes

__all__ = ["ServerConfig", "check_server"]


@dataclass(frozen=True)
class ServerConfig:
    """C{[server]}: where and how occid listens."""

    listen: str = "tcp:11443"
    public_url: str = "https://occi.example.org:11443"
    host_cert: str = ""
    host_key: str = ""
    max_body: int = 1048576
    request_timeout: float = 60.0
    #: Seconds for the TLS handshake and a request's head (README: Connection limits).
    header_timeout: float = 10.0
    #: Seconds a kept-alive connection may stay silent between requests.
    idle_timeout: float = 30.0
    #: Connections open at once, in all and from one address; over a cap, closed at accept.
    max_connections: int = 4000
    max_connections_per_peer: int = 200
    #: Bind C{listen} with C{SO_REUSEPORT}, so that several processes share it
    #: (README: Processes and hosts).
    reuse_port: bool = False
    #: The directory where the processes of one host elect the one running the
    #: reconciler; C{""}: this process runs it.
    coordination_dir: str = ""

    @property
    def public_host(self) -> str:
        """The host name of C{public_url}: AC targets and template schemes use it."""
        return urlsplit(self.public_url).hostname or ""


def check_server(server: ServerConfig, fail: Fail) -> None:
    """Each key's form and range, and the listener shared by several processes."""
    url = urlsplit(server.public_url)
    if url.scheme != "https" or not url.hostname or url.path not in ("", "/"):
        fail("[server] public_url", "must be https://host[:port] with no path")
    if server.max_body < 1024:
        fail("[server] max_body", "must be at least 1024 bytes")
    if server.request_timeout <= 0:
        fail("[server] request_timeout", "must be positive")
    for key in ("header_timeout", "idle_timeout"):
        if not 0 < getattr(server, key) <= 3600:
            fail(f"[server] {key}", "must be between 0 and 3600 seconds")
    if server.max_connections < 1:
        fail("[server] max_connections", "must be at least 1")
    if not 1 <= server.max_connections_per_peer <= server.max_connections:
        fail("[server] max_connections_per_peer",
             f"must be between 1 and max_connections ({server.max_connections})")
    if not server.listen:
        fail("[server] listen", "must name an endpoint such as tcp:11443")
    check_processes(server.listen, server.reuse_port, server.coordination_dir, fail)
    for key in ("host_cert", "host_key"):
        if not getattr(server, key):
            fail(f"[server] {key}", "is required")
