# -*- test-case-name: tests.test_tls -*-
"""
The HTTP channel that turns a TLS client's proxy chain into a principal, once
per connection, right after the handshake; and L{connection_principal},
which reads the outcome for each request.  The channel is a
L{BoundedHTTPChannel}: its deadlines and limits hold before and after the
handshake alike.

The channel hands the whole chain and OpenSSL's recorded verdicts (see
L{occid.server.tls}) to its authenticator, on the reactor's clock, and keeps
them: when the authenticator's epoch moves (new trust material), the next
request validates them once again, so a revoked proxy is refused on a
connection opened before its CRL.  A refused chain is remembered with its
reason and logged once; every request on that connection is then answered
401 with the reason and its fix.  An accepted chain is not logged: the log
line of each request names its DN and account.
"""

from __future__ import annotations

from cryptography import x509
from OpenSSL import SSL
from twisted.internet.interfaces import IHandshakeListener, IReactorTime, ISystemHandle
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import Request
from zope.interface import implementer

from occid import metrics
from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected, Principal
from occid.gsi.voms import DroppedAC
from occid.interfaces import IAuthenticator
from occid.server.bounded import DEFAULT_DEADLINES, BoundedHTTPChannel, Deadlines
from occid.server.identity import now
from occid.server.tls import verify_record

log = Logger()

#: The refusal of a chain whose certificates cannot be parsed.
_UNREADABLE = CertificateRejected(
    "X509",
    "your certificate chain could not be read (a malformed certificate or extension)",
    "create a new proxy (voms-proxy-init or grid-proxy-init) from a valid user certificate",
)


@implementer(IHandshakeListener)
class GridHTTPChannel(BoundedHTTPChannel):
    """
    An HTTP channel that authenticates its TLS peer once, right after the
    handshake; L{connection_principal} reads the outcome.

    @ivar authenticator: validates the chain of each connection.
    @ivar clock: the reactor's clock, the time the chain is judged at.
    @ivar principal: the L{Principal}, when the chain was accepted.
    @ivar refusal: the L{CertificateRejected}, when it was not.
    @ivar presented: whether the client presented a certificate at all.
    """

    principal: Principal | None = None
    refusal: CertificateRejected | None = None
    presented = False
    #: The authenticator's epoch when the chain was last validated.
    _epoch: object = None

    def __init__(self, authenticator: IAuthenticator, clock: IReactorTime,
                 deadlines: Deadlines = DEFAULT_DEADLINES, max_body: int = 1 << 20):
        super().__init__(clock, deadlines, max_body)
        self.authenticator = authenticator
        # Kept to validate them again in a new epoch of the authenticator.
        self._chain: list[x509.Certificate] = []
        self._errors: list[tuple[int, int]] = []

    def connectionMade(self) -> None:
        metrics.OPEN_CONNECTIONS.inc()
        super().connectionMade()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        metrics.OPEN_CONNECTIONS.dec()
        super().connectionLost(reason)

    def handshakeCompleted(self) -> None:
        connection = ISystemHandle(self.transport).getHandle()
        if not isinstance(connection, SSL.Connection):
            raise TypeError(f"a GridHTTPChannel runs over TLS, not {connection!r}")
        leaf = connection.get_peer_certificate(as_cryptography=True)
        chain = [leaf] if leaf is not None else []
        self.presented = leaf is not None
        if leaf is not None:
            chain += connection.get_peer_cert_chain(as_cryptography=True) or []
        self._chain, self._errors = chain, list(verify_record(connection).errors)
        self._validate()

    def _validate(self) -> None:
        """
        Validate the chain in the authenticator's current epoch (at once:
        L{IAuthenticator.authenticate} answers synchronously).  Anything
        but a L{CertificateRejected} is a certificate the validator could
        not even read: its parser's error must not escape into the TLS
        protocol (the client would see a reset instead of a 401 saying what
        to do), so it is logged with its traceback and refused.
        """
        self._epoch = self.authenticator.epoch
        self.principal = self.refusal = None
        try:
            principal = self.authenticator.authenticate(self._chain, self._errors, now(self.clock))
        except CertificateRejected as refusal:
            self._refused(refusal)
        except Exception:  # noqa: BLE001 - logged with its traceback, and refused
            log.failure("Unreadable client chain from {peer}", peer=self._peer())
            self._refused(_UNREADABLE)
        else:
            self._accepted(principal)

    def revalidate(self) -> None:
        """
        Validate the chain again if the trust changed since it was
        validated (a new CRL reaches connections opened before it).
        """
        if self.presented and self._epoch != self.authenticator.epoch:
            self._validate()

    def _accepted(self, principal: Principal) -> None:
        """
        Keep the principal.  Not logged: each request's one log line names
        its DN and account (a connection per request is what rOCCI-cli
        makes, and a second line per connection cost as much as the cache
        saved).
        """
        self.principal = principal
        metrics.HANDSHAKES.labels("accepted", "").inc()

    def _refused(self, refusal: CertificateRejected) -> None:
        """Remember the refusal for every request on this connection, and log it once."""
        self.refusal = refusal
        chain = self._chain
        metrics.HANDSHAKES.labels("refused" if chain else "none", refusal.rule).inc()
        # No certificate at all is what every token user's connection looks
        # like: noted, not warned about (its requests may carry a token).
        emit = log.warn if chain else log.info
        emit(
            "Refused client {peer}: {rule}: {reason}",
            peer=self._peer(),
            rule=refusal.rule,
            reason=refusal.reason,
            dn=_subject_hint(chain),
        )


def connection_principal(request: Request) -> Principal | None:
    """
    The principal of the client certificate of the connection C{request}
    arrived on, or C{None} when it presented none (or has not finished its
    handshake); validated again first when the trust changed since.
    (Whether it has expired since the handshake is the pipeline's check, on
    the same clock.)

    @raise CertificateRejected: the connection's certificate was refused.
    """
    channel = request.channel
    if not isinstance(channel, GridHTTPChannel):
        return None
    channel.revalidate()
    if channel.refusal is not None and channel.presented:
        raise channel.refusal
    return channel.principal


def log_dropped_ac(dn: str, dropped: DroppedAC) -> None:
    """Log why an attribute certificate presented by C{dn} was not trusted."""
    log.warn(
        "Dropped an attribute certificate of {dn}: {rule}: {reason}",
        dn=dn, rule=dropped.rule, reason=dropped.reason,
    )


def _subject_hint(chain: list[x509.Certificate]) -> str:
    """The leaf's subject (slash form) for the log, or a dash when there is none."""
    if not chain:
        return "-"
    try:
        return slash_dn(chain[0].subject)
    except ValueError:
        return "(unreadable subject)"
