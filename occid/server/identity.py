# -*- test-case-name: tests.test_web_status,tests.test_tls -*-
"""
Who is asking, as the server answers it: the one builder of 401s, and the
check that a principal is still valid on the reactor's clock.

A 401 always says what is wrong and what to do, and carries the same
C{WWW-Authenticate} challenge, whether the chain was refused at the
handshake, no certificate came, or the proxy expired since.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.internet.interfaces import IReactorTime

from occid.gsi.principal import CertificateRejected, Principal
from occid.occi.errors import Unauthorized

#: Sent with every 401 so that clients such as rOCCI-cli report the body
#: instead of a confusing fallback failure.
CHALLENGE = (("WWW-Authenticate", 'X509 realm="occid"'),)


def unauthorized(reason: str, fix: str) -> Unauthorized:
    """The 401 saying C{reason} and C{fix}, with the challenge."""
    return Unauthorized(f"{reason}; {fix}", headers=CHALLENGE)


def rejected(refusal: CertificateRejected) -> Unauthorized:
    """The 401 answering a chain the validator refused."""
    return unauthorized(refusal.reason, refusal.fix)


def now(clock: IReactorTime) -> datetime:
    """The time on C{clock}, as an aware C{datetime} in UTC."""
    return datetime.fromtimestamp(clock.seconds(), UTC)


def check_current(principal: Principal, clock: IReactorTime) -> None:
    """
    Refuse a principal whose proxy expired since its connection's handshake.

    @raise Unauthorized: C{principal} has expired on C{clock}.
    """
    if principal.expired(now(clock)):
        raise unauthorized(
            f"your proxy expired at {principal.not_after.isoformat()}",
            "create a new one (voms-proxy-init) and reconnect",
        )
