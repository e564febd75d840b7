# -*- test-case-name: tests.test_web_status,tests.test_tls -*-
"""
Who is asking, as the server answers it: the one builder of 401s, and the
check that a principal is still valid on the reactor's clock.

A 401 always says what is wrong and what to do, and carries the same
C{WWW-Authenticate} challenges, whether the chain was refused at the
handshake, no certificate came, or the proxy expired since: C{X509}, and
C{Bearer} where tokens are accepted.  A refused token's 401 carries the
RFC 6750 C{error="invalid_token"} with the rule's reason as
C{error_description}.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.internet.interfaces import IReactorTime

from occid.gsi.principal import CertificateRejected, Principal
from occid.occi.errors import Unauthorized
from occid.oidc.refusal import TokenRejected

#: Sent with every 401 so that clients such as rOCCI-cli report the body
#: instead of a confusing fallback failure.
X509_CHALLENGE = ("WWW-Authenticate", 'X509 realm="occid"')
CHALLENGE = (X509_CHALLENGE,)

#: The RFC 6750 challenge beside it, where tokens are accepted.
BEARER_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="occid"')
BOTH_CHALLENGES = (X509_CHALLENGE, BEARER_CHALLENGE)

#: What a token user does about a refused token.
TOKEN_FIX = ("get a new access token from your issuer (EGI Check-in: "
             "oidc-token egi) and send it as Authorization: Bearer or X-Auth-Token")


def unauthorized(reason: str, fix: str,
                 challenges: tuple[tuple[str, str], ...] = CHALLENGE) -> Unauthorized:
    """The 401 saying C{reason} and C{fix}, with the C{challenges}."""
    return Unauthorized(f"{reason}; {fix}", headers=challenges)


def rejected(refusal: CertificateRejected,
             challenges: tuple[tuple[str, str], ...] = CHALLENGE) -> Unauthorized:
    """The 401 answering a chain the validator refused."""
    return unauthorized(refusal.reason, refusal.fix, challenges)


def token_refused(refusal: TokenRejected) -> Unauthorized:
    """
    The 401 answering a refused token: C{error="invalid_token"} and the
    reason (quotes and backslashes, which RFC 6750 forbids there, dropped).
    """
    description = "".join(c for c in refusal.reason if c not in '"\\' and " " <= c <= "~")
    bearer = ("WWW-Authenticate",
              f'Bearer realm="occid", error="invalid_token", error_description="{description}"')
    return unauthorized(f"your token was refused: {refusal.reason}", TOKEN_FIX,
                        (X509_CHALLENGE, bearer))


def now(clock: IReactorTime) -> datetime:
    """The time on C{clock}, as an aware C{datetime} in UTC."""
    return datetime.fromtimestamp(clock.seconds(), UTC)


def check_current(principal: Principal, clock: IReactorTime) -> None:
    """
    Refuse a principal whose proxy expired since its connection's handshake.

    @raise Unauthorized: C{principal} has expired on C{clock}.
    """
    if principal.expired(now(clock)):
        if principal.token is not None:
            raise token_refused(TokenRejected(
                "T6", f"expired at {principal.not_after.isoformat()}",
                principal.token.issuer, principal.token.sub))
        raise unauthorized(
            f"your proxy expired at {principal.not_after.isoformat()}",
            "create a new one (voms-proxy-init) and reconnect",
        )
