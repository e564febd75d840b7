# -*- test-case-name: tests.test_credentials -*-
"""
Which credential serves a request: the client certificate of its
connection, else a bearer token it carries (C{Authorization: Bearer}, as
curl and scripts send it, RFC 6750; or C{X-Auth-Token}, as rOCCI-cli's
C{--auth token} sends it).

The certificate wins whenever one was presented, accepted or refused: it
was verified at the handshake and binds the whole connection, while a
header binds one request; a token is read only on a connection without a
client certificate.  A request with neither gets 401 naming both ways.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from occid import metrics
from occid.gsi.principal import CertificateRejected, Principal
from occid.interfaces import ITokenAuthenticator
from occid.occi.errors import BadRequest
from occid.oidc.refusal import TokenRejected
from occid.server.channel import connection_principal
from occid.server.context import header
from occid.server.identity import BOTH_CHALLENGES, CHALLENGE, now, rejected, token_refused, unauthorized
from occid.server.pipeline import Identify

log = Logger()

#: The fix of a request without credentials, where only proxies are accepted.
PROXY_FIX = ("present your proxy as client certificate (curl --cert $X509_USER_PROXY "
             "--key $X509_USER_PROXY, or occi --auth x509 --voms --user-cred $X509_USER_PROXY)")

#: The same, where tokens are accepted too.
BOTH_FIX = (PROXY_FIX[:-1] + "), or send an EGI Check-in access token "
            "(curl -H 'Authorization: Bearer $TOKEN', or occi --auth token --token $TOKEN)")


def bearer_token(request: Request) -> str | None:
    """
    The token C{request} carries: C{Authorization: Bearer <token>} or
    C{X-Auth-Token: <token>}, or C{None}.

    @raise BadRequest: both headers carry different tokens.
    """
    tokens = set()
    authorization = header(request, b"authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            tokens.add(value.strip())
    x_auth = header(request, b"x-auth-token")
    if x_auth is not None and x_auth.strip():
        tokens.add(x_auth.strip())
    if len(tokens) > 1:
        raise BadRequest("Authorization: Bearer and X-Auth-Token carry different tokens; send one")
    return tokens.pop() if tokens else None


def make_identify(tokens: ITokenAuthenticator | None, clock: IReactorTime) -> Identify:
    """
    The C{identify(request)} of the pipeline: the connection's certificate
    principal, else the principal of the request's token when C{tokens}
    is given.

    @param tokens: validates tokens, or C{None} where none are accepted.
    @param clock: the reactor's clock, the time tokens are judged at.
    """
    challenges = CHALLENGE if tokens is None else BOTH_CHALLENGES
    fix = PROXY_FIX if tokens is None else BOTH_FIX

    def identify(request: Request) -> Principal | defer.Deferred[Principal]:
        try:
            principal = connection_principal(request)
        except CertificateRejected as refusal:
            raise rejected(refusal, challenges) from None
        if principal is not None:
            return principal
        token = bearer_token(request) if tokens is not None else None
        if tokens is None or token is None:
            raise unauthorized("no client certificate was presented", fix, challenges)
        return tokens.authenticate(token, now(clock)).addCallbacks(_accepted, _refused)

    return identify


def _accepted(principal: Principal) -> Principal:
    """Count an accepted token."""
    metrics.AUTHENTICATIONS.labels("accepted", "").inc()
    return principal


def _refused(failure: Failure) -> Failure:
    """Count and log a refused token by issuer and subject (never the token); answer 401."""
    refusal = failure.value
    if not isinstance(refusal, TokenRejected):
        return failure
    metrics.AUTHENTICATIONS.labels("refused", refusal.rule).inc()
    log.warn("Refused a token of {sub} from {issuer}: {rule}: {reason}", rule=refusal.rule,
             reason=refusal.reason, issuer=refusal.issuer or "-", sub=refusal.sub or "-")
    raise token_refused(refusal)
