# -*- test-case-name: tests.test_oidc -*-
"""
The token rules a JWT access token must pass, in order (docs/security.md,
T1-T9): its form, its algorithm, its issuer, its key, its signature, then
its claims.  L{read} and L{verify} split them around the one step that may
need the network, fetching the issuer's keys; whatever refuses a token
raises L{TokenRejected} naming the rule and the reason.

Signatures are checked by joserfc, with the one algorithm the token names,
and only if that algorithm is in L{ALGORITHMS}: asymmetric ones only, so
neither C{none} nor an HMAC keyed with an issuer's public key can pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key

from occid.gsi.voms import SKEW
from occid.oidc.refusal import TokenRejected
from occid.oidcconfig import IssuerConfig, OidcConfig

__all__ = ["ALGORITHMS", "SKEW", "Unverified", "VerifiedToken", "check_claims", "read", "verify"]

#: The signature algorithms accepted: asymmetric only (RFC 7518, RFC 8037).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
              "ES256", "ES384", "ES512", "EdDSA")

#: A compact JWS: three base64url parts.
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Unverified:
    """
    A JWT read but not yet trusted (rules T1-T3 passed).

    @ivar issuer: the configured issuer its C{iss} names.
    @ivar algorithm: its C{alg}, one of L{ALGORITHMS}.
    @ivar kid: its C{kid}, if it names one.
    @ivar claims: its payload, not yet trusted.
    """

    token: str
    issuer: IssuerConfig
    algorithm: str
    kid: str | None
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class VerifiedToken:
    """
    A token that passed its rules.

    @ivar issuer: its issuer.
    @ivar sub: its subject at that issuer.
    @ivar not_after: when it stops being accepted (its C{exp} plus L{SKEW}).
    @ivar claims: its claims (a JWT's payload, or an introspection answer).
    """

    issuer: IssuerConfig
    sub: str
    not_after: datetime
    claims: Mapping[str, Any]


def is_jwt(token: str) -> bool:
    """Whether C{token} has the form of a compact JWS (else it is opaque)."""
    return _COMPACT.fullmatch(token) is not None


def read(token: str, oidc: OidcConfig) -> Unverified:
    """
    Rules T1-T3: C{token} is a compact JWS with a JSON header and payload
    (T1), signed with an algorithm of L{ALGORITHMS} (T2), by an issuer of
    C{oidc} (T3).

    @raise TokenRejected: a rule refuses it.
    """
    try:
        parts = jws.extract_compact(token.encode("ascii"))
        header, claims = parts.protected, json.loads(parts.payload)
    except (JoseError, ValueError, UnicodeError):
        raise TokenRejected("T1", "malformed token: not a signed JWT") from None
    if not isinstance(claims, dict):
        raise TokenRejected("T1", "malformed token: its payload is not a JSON object")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise TokenRejected("T2", f"unsupported algorithm {str(algorithm)[:20]!r}: "
                            f"tokens must be signed with one of {', '.join(ALGORITHMS)}")
    iss = claims.get("iss")
    issuer = oidc.issuer(iss) if isinstance(iss, str) else None
    if issuer is None:
        raise TokenRejected("T3", f"wrong issuer: {str(iss)[:200]!r} is not an issuer this "
                            "service accepts")
    kid = header.get("kid")
    return Unverified(token, issuer, algorithm, kid if isinstance(kid, str) else None, claims)


def verify(token: Unverified, key: Key, now: datetime) -> VerifiedToken:
    """
    Rules T5-T9: the signature of C{token} verifies with C{key}, the
    issuer's key its C{kid} names (T4 is finding it), and its claims hold
    at C{now} (L{check_claims}).

    @raise TokenRejected: a rule refuses it.
    """
    try:
        jws.deserialize_compact(token.token, key, algorithms=[token.algorithm])
    except (JoseError, ValueError):
        raise TokenRejected("T5", "bad signature", token.issuer.url) from None
    return check_claims(token.claims, token.issuer, now)


def check_claims(claims: Mapping[str, Any], issuer: IssuerConfig, now: datetime,
                 require_iss: bool = True) -> VerifiedToken:
    """
    Rules T3 and T6-T9 on trusted C{claims} (a verified JWT's, or an
    introspection answer's, where C{iss} may be left out): C{iss} is the
    issuer's, C{exp} has not passed and C{nbf}/C{iat} have come, within
    L{SKEW} (the tolerance of VOMS ACs); C{aud} holds the issuer's audience
    when one is configured; C{sub} names the user.

    @raise TokenRejected: a rule refuses them.
    """
    iss = claims.get("iss")
    if (require_iss or iss is not None) and iss != issuer.url:
        raise TokenRejected("T3", f"wrong issuer: {str(iss)[:200]!r} is not {issuer.url}")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise TokenRejected("T9", "the token names no subject (sub)", issuer.url)
    expires = _moment(claims, "exp", issuer.url, sub)
    if expires is None:
        raise TokenRejected("T6", "the token has no expiry (exp)", issuer.url, sub)
    if now - SKEW >= expires:
        raise TokenRejected("T6", f"expired at {expires.isoformat()}", issuer.url, sub)
    for name in ("nbf", "iat"):
        start = _moment(claims, name, issuer.url, sub)
        if start is not None and now + SKEW < start:
            raise TokenRejected("T7", f"not yet valid: its {name} is {start.isoformat()}",
                                issuer.url, sub)
    if issuer.audience:
        audience = claims.get("aud")
        held = [audience] if isinstance(audience, str) else audience
        if not isinstance(held, list) or issuer.audience not in held:
            raise TokenRejected("T8", f"wrong audience: the token is not meant for "
                                f"{issuer.audience}", issuer.url, sub)
    return VerifiedToken(issuer, sub, expires + SKEW, claims)


def _moment(claims: Mapping[str, Any], name: str, issuer: str, sub: str) -> datetime | None:
    """The NumericDate claim C{name}, or C{None} if absent; T1 if it is no number."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected("T1", f"malformed token: {name} is not a number", issuer, sub)
    try:
        return datetime.fromtimestamp(0, UTC) + timedelta(seconds=value)
    except (OverflowError, ValueError):  # too large, or NaN (which JSON parsers accept)
        raise TokenRejected("T1", f"malformed token: {name} is out of range", issuer, sub) from None
