# -*- test-case-name: tests.test_tls -*-
"""
The TLS context occid listens with (rule C1, docs/security.md), and the
connection creator that records OpenSSL's verdicts for each connection.

The context requests a client certificate but never aborts the handshake on a
bad or missing one: OpenSSL's verdicts (each error with its depth) are
recorded per connection by the verify callback, and the pure validator in
L{occid.gsi} alone decides after the handshake (see
L{occid.server.channel}).  That way every request on a refused connection can
be answered 401 with the reason and its fix.
"""

from __future__ import annotations

import weakref

from OpenSSL import SSL
from OpenSSL.crypto import X509, X509StoreFlags
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import implementer

from occid.gsi.trust import TrustStore

#: The verify flags of the certificate store (rule C1): proxies allowed, CRLs
#: checked on the whole chain.  Without CRL checking ("off") only the first.
STORE_FLAGS = (
    X509StoreFlags.ALLOW_PROXY_CERTS | X509StoreFlags.CRL_CHECK | X509StoreFlags.CRL_CHECK_ALL
)


class VerifyRecord:
    """
    What OpenSSL's verification said about one connection's client chain:
    C{errors} holds C{(depth, error_number)} pairs in the order reported.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[int, int]] = []


#: Each live server connection's L{VerifyRecord}.  (Twisted's TLS protocol
#: owns the connections' app data, so the records are kept here.)
_records: weakref.WeakKeyDictionary[SSL.Connection, VerifyRecord] = weakref.WeakKeyDictionary()


def verify_record(connection: SSL.Connection) -> VerifyRecord:
    """The L{VerifyRecord} of a connection made by L{GridServerTLS}."""
    return _records[connection]


def _record_verification(
    connection: SSL.Connection, certificate: X509, error_number: int, depth: int, ok: int
) -> bool:
    """
    The OpenSSL verify callback: note every error and let the handshake go
    on, so that the validator can explain the refusal over HTTP.
    """
    if not ok:
        _records[connection].errors.append((depth, error_number))
    return True


def build_context(host_cert: str, host_key: str, trust: TrustStore, check_crls: bool) -> SSL.Context:
    """
    A server context: TLS 1.2 or newer, the host certificate chain and key,
    the trust dir's CAs and CRLs as the store (loaded in memory from the
    parsed C{trust}, so no handshake opens a file), proxies allowed, a client
    certificate requested with every trusted CA advertised, and no session
    resumption (a resumed session has no peer chain).

    Reads the host credentials: call it at start and on reload, never per
    request.
    """
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(
        SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_TICKET
    )
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    context.use_certificate_chain_file(host_cert)
    context.use_privatekey_file(host_key)
    context.check_privatekey()
    store = context.get_cert_store()
    if store is None:
        raise SSL.Error("the new TLS context has no certificate store")
    for authority in trust.authorities:
        store.add_cert(X509.from_cryptography(authority.certificate))
        if authority.crl is not None:
            store.add_crl(authority.crl)
        context.add_client_ca(authority.certificate)
    flags = STORE_FLAGS if check_crls else X509StoreFlags.ALLOW_PROXY_CERTS
    store.set_flags(flags)
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_CLIENT_ONCE, _record_verification)
    context.set_verify_depth(16)
    return context


@implementer(IOpenSSLServerConnectionCreator)
class GridServerTLS:
    """
    Makes the server side of each TLS connection, with its L{VerifyRecord}.
    L{replace} swaps the context for a freshly built one after the trust dir
    changed; connections already made keep theirs.
    """

    def __init__(self, context: SSL.Context):
        self._context = context

    def replace(self, context: SSL.Context) -> None:
        """Use C{context} for new connections from now on."""
        self._context = context

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        _records[connection] = VerifyRecord()
        return connection
