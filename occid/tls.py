# -*- test-case-name: tests.test_tls -*-
"""
The Twisted edge of grid security: the TLS context occid listens with, and the
HTTP channel that turns a client's proxy chain into a principal once per
connection.

The context requests a client certificate but never aborts the handshake on a
bad or missing one: OpenSSL's verdicts (each error with its depth) are
recorded per connection by the verify callback, and the pure validator in
L{occid.gsi} alone decides after the handshake.  That way every request on a
refused connection can be answered 401 with the reason and its fix.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime

from cryptography import x509
from OpenSSL import SSL
from OpenSSL.crypto import X509, X509StoreFlags
from twisted.internet.interfaces import IHandshakeListener, IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from twisted.web.http import HTTPChannel
from zope.interface import implementer

from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected, Principal
from occid.gsi.trust import TrustStore
from occid.occi.errors import Unauthorized

log = Logger()

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
_records: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def verify_record(connection: SSL.Connection) -> VerifyRecord:
    """The L{VerifyRecord} of a connection made by L{GridServerTLS}."""
    return _records[connection]


def _record_verification(connection, certificate, error_number, depth, ok):
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
    Makes the server side of each TLS connection, with its L{VerifyRecord}.  L{replace} swaps the context for a freshly built one after
    the trust dir changed; connections already made keep theirs.
    """

    def __init__(self, context: SSL.Context):
        self._context = context

    def replace(self, context: SSL.Context) -> None:
        """Use C{context} for new connections from now on."""
        self._context = context

    def serverConnectionForTLS(self, tlsProtocol):
        connection = SSL.Connection(self._context, None)
        _records[connection] = VerifyRecord()
        return connection


@implementer(IHandshakeListener)
class GridHTTPChannel(HTTPChannel):
    """
    An HTTP channel that authenticates its TLS peer once, right after the
    handshake, with its site's C{authenticator} (see L{authenticating});
    L{identify} reads the outcome.

    @ivar principal: the L{Principal}, when the chain was accepted.
    @ivar refusal: the L{CertificateRejected}, when it was not.
    """

    principal: Principal | None = None
    refusal: CertificateRejected | None = None

    def handshakeCompleted(self) -> None:
        connection = self.transport.getHandle()
        leaf = connection.get_peer_certificate(as_cryptography=True)
        chain = [leaf] if leaf is not None else []
        if leaf is not None:
            chain += connection.get_peer_cert_chain(as_cryptography=True) or []
        errors = list(verify_record(connection).errors)
        peer = self.transport.getPeer()
        authenticator = self.site.authenticator
        try:
            self.principal = authenticator.authenticate(chain, errors, _now())
        except CertificateRejected as refusal:
            self._refuse(refusal, chain, peer)
        except Exception:
            # A certificate the validator could not even read: its parser's
            # error must not escape into the TLS protocol (the client would
            # see a reset instead of a 401 saying what to do).
            log.failure("Unreadable client chain from {peer}", peer=f"{peer.host}:{peer.port}")
            self._refuse(_UNREADABLE, chain, peer)
        else:
            log.info(
                "Authenticated {dn} from {peer}",
                dn=self.principal.dn,
                vo=self.principal.vo,
                fqans=list(self.principal.fqans),
                peer=f"{peer.host}:{peer.port}",
            )


    def _refuse(self, refusal: CertificateRejected, chain, peer) -> None:
        """Remember C{refusal} for every request on this connection, and log it once."""
        self.refusal = refusal
        log.warn(
            "Refused client {peer}: {rule}: {reason}",
            peer=f"{peer.host}:{peer.port}",
            rule=refusal.rule,
            reason=refusal.reason,
            dn=_subject_hint(chain),
        )


#: The refusal of a chain whose certificates cannot be parsed.
_UNREADABLE = CertificateRejected(
    "X509",
    "your certificate chain could not be read (a malformed certificate or extension)",
    "create a new proxy (voms-proxy-init or grid-proxy-init) from a valid user certificate",
)


def authenticating(site, authenticator):
    """
    Make C{site} authenticate the TLS peer of each connection once, with
    C{authenticator} (an L{occid.interfaces.IAuthenticator}); returns C{site}.
    """
    site.protocol = GridHTTPChannel
    site.authenticator = authenticator
    return site


def log_dropped_ac(dn: str, dropped) -> None:
    """Log why an attribute certificate presented by C{dn} was not trusted."""
    log.warn("Dropped an attribute certificate of {dn}: {rule}: {reason}", dn=dn, rule=dropped.rule, reason=dropped.reason)


def identify(request) -> Principal:
    """
    The principal of the connection C{request} arrived on.  (Whether it
    has expired since the handshake is the web layer's check, on its clock.)

    @raise Unauthorized: the connection has no valid principal; the message
        says why and what to do.
    """
    channel = request.channel
    if channel.refusal is not None:
        refusal = channel.refusal
        raise Unauthorized(f"{refusal.reason}; {refusal.fix}", headers=_CHALLENGE)
    principal = channel.principal
    if principal is None:
        raise Unauthorized(
            "no client certificate was presented; connect with your proxy as "
            "client certificate (curl --cert $X509_USER_PROXY --key $X509_USER_PROXY, "
            "or occi --auth x509 --voms --user-cred $X509_USER_PROXY)",
            headers=_CHALLENGE,
        )
    return principal


#: Sent with every 401 so that clients such as rOCCI-cli report the body
#: instead of a confusing fallback failure.
_CHALLENGE = (("WWW-Authenticate", 'X509 realm="occid"'),)


def _subject_hint(chain: list[x509.Certificate]) -> str:
    """The leaf's subject (slash form) for the log, or a dash when there is none."""
    if not chain:
        return "-"
    try:
        return slash_dn(chain[0].subject)
    except ValueError:
        return "(unreadable subject)"


def _now() -> datetime:
    return datetime.now(UTC)
