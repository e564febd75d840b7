# -*- test-case-name: tests.test_discovery_cip -*-
"""
A stand-in for GOCDB on 127.0.0.1, so that cloud-info-provider's service
look-up (C{https://goc.egi.eu/gocdbpi/public/?method=get_service&...},
which 1.2.0 offers no option to change) never reaches the network.

L{GocdbStub} is an HTTPS proxy: C{requests} is pointed at it with
C{HTTPS_PROXY}, sends C{CONNECT goc.egi.eu:443}, and gets a TLS server with
a certificate for C{goc.egi.eu} from a throwaway CA, trusted through
C{REQUESTS_CA_BUNDLE}; that server answers every request with one GOCDB
service entry for the given URL.  A C{CONNECT} to any other host is refused
with 403, so nothing else can leave the machine through it either.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from occid.atomicfile import write_file
from occid.demo import pki

GOCDB_HOST = "goc.egi.eu"

#: The GOCDB primary key the stub gives the service.
GOCDB_ID = "4242G0"


def service_xml(url: str, site: str, service_type: str) -> str:
    """GOCDB's answer to C{get_service}: one service of C{service_type} at C{url} in C{site}."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<results>'
            f'<SERVICE_ENDPOINT PRIMARY_KEY="{GOCDB_ID}"><URL>{escape(url)}</URL>'
            f"<SITENAME>{escape(site)}</SITENAME><SERVICE_TYPE>{escape(service_type)}</SERVICE_TYPE>"
            f"<ENDPOINTS/></SERVICE_ENDPOINT></results>")


class GocdbStub:
    """
    The proxy and the GOCDB behind it, serving in daemon threads until
    L{stop}.

    @ivar requests: the request lines GOCDB was sent.
    @ivar refused: the C{CONNECT} targets refused.
    """

    def __init__(self, directory: str, url: str, site: str, service_type: str) -> None:
        now = datetime.now(UTC)
        ca = pki.issue_ca("/DC=test/CN=GOCDB stub CA", pki.new_key(), not_before=now - timedelta(hours=1),
                          not_after=now + timedelta(days=1))
        server = pki.issue_end_entity(
            f"/DC=test/CN={GOCDB_HOST}", pki.new_key(), ca, not_before=now - timedelta(hours=1),
            not_after=now + timedelta(days=1), usages=(ExtendedKeyUsageOID.SERVER_AUTH,),
            extensions=[(x509.SubjectAlternativeName([x509.DNSName(GOCDB_HOST)]), False)])
        #: The CA file to give C{REQUESTS_CA_BUNDLE}.
        self.ca_file = os.path.join(directory, "gocdb-ca.pem")
        write_file(self.ca_file, pki.pem(ca.certificate))
        certificate, key = os.path.join(directory, "gocdb.pem"), os.path.join(directory, "gocdb.key")
        server.write_pair(certificate, key)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(certificate, key)
        self._answer = service_xml(url, site, service_type).encode()
        self.requests: list[str] = []
        self.refused: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs to reach GOCDB through the stub, and nothing else but loopback."""
        proxy = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": proxy, "https_proxy": proxy, "REQUESTS_CA_BUNDLE": self.ca_file,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def stop(self) -> None:
        """Stop listening."""
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(connection,), daemon=True).start()

    def _tunnel(self, connection: socket.socket) -> None:
        with connection:
            head = _read_head(connection)
            target = head.split(b" ")[1].decode() if head.startswith(b"CONNECT ") else ""
            if target != f"{GOCDB_HOST}:443":
                self.refused.append(target or head.split(b"\r\n")[0].decode())
                connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with self._tls.wrap_socket(connection, server_side=True) as tls:
                self.requests.append(_read_head(tls).split(b"\r\n")[0].decode())
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(self._answer) + self._answer)


def _read_head(connection: socket.socket) -> bytes:
    """The bytes of an HTTP request head (a body, if any, is not read)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
