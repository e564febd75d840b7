# -*- test-case-name: tests.test_oidc -*-
"""
What an issuer answers, read: its discovery document (where its keys,
userinfo and introspection are), its key set (rule T4), and the userinfo
or introspection answers that carry a user's entitlements (rule T10).
Each reader takes the parsed JSON and raises L{ValueError} (documents of
the issuer) or L{TokenRejected} (answers about one token) when it cannot
be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from occid.oidc.refusal import TokenRejected
from occid.oidc.rules import VerifiedToken, check_claims
from occid.oidcconfig import IssuerConfig

__all__ = ["Endpoints", "IssuerKeys", "endpoints", "entitlements", "introspected", "key_set",
           "userinfo_entitlements"]

#: The key types of the algorithms of L{occid.oidc.rules.ALGORITHMS}.
_KEY_TYPES = ("RSA", "EC", "OKP")


@dataclass(frozen=True)
class Endpoints:
    """Where an issuer keeps its keys, its userinfo and its introspection (if any)."""

    jwks_uri: str
    userinfo: str | None
    introspection: str | None


def endpoints(document: Any, issuer: IssuerConfig) -> Endpoints:
    """
    The endpoints of C{issuer}'s discovery C{document}, whose C{issuer} must
    be the configured identifier exactly (OpenID Connect Discovery §4.3);
    each URL of the scheme of the issuer's (an endpoint of another is left
    out, so that no answer makes occid open a local file).

    @raise ValueError: the document cannot be used.
    """
    if not isinstance(document, dict):
        raise ValueError("the discovery document is not a JSON object")
    if document.get("issuer") != issuer.url:
        raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise ValueError("the discovery document names no jwks_uri")

    scheme = urlsplit(issuer.url).scheme
    if urlsplit(jwks_uri).scheme != scheme:
        raise ValueError(f"the discovery document's jwks_uri is not an {scheme} URL")

    def optional(name: str) -> str | None:
        value = document.get(name)
        usable = isinstance(value, str) and urlsplit(value).scheme == scheme
        return value if usable else None

    return Endpoints(jwks_uri, optional("userinfo_endpoint"), optional("introspection_endpoint"))


@dataclass(frozen=True)
class IssuerKeys:
    """
    An issuer's signing keys by C{kid}: only public keys of the asymmetric
    types, meant for signatures.  A token naming no C{kid} is checked with
    the only key, when there is exactly one.
    """

    keys: Mapping[str | None, Key]

    def find(self, kid: str | None) -> Key | None:
        """The key C{kid} names (rule T4), or C{None}."""
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return self.keys.get(kid) if kid is not None else None


def key_set(document: Any) -> IssuerKeys:
    """
    The keys of a JWKS C{document}; keys of other types or uses, private
    ones, and keys joserfc cannot import are left out.

    @raise ValueError: the document is not a key set.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the key set is not a JSON object with a list of keys")
    keys: dict[str | None, Key] = {}
    for entry in document["keys"]:
        if (not isinstance(entry, dict) or entry.get("kty") not in _KEY_TYPES
                or entry.get("use", "sig") != "sig" or "d" in entry):
            continue
        try:
            [key] = KeySet.import_key_set({"keys": [entry]}).keys
        except (JoseError, ValueError, TypeError):
            continue
        kid = entry.get("kid")
        keys.setdefault(kid if isinstance(kid, str) else None, key)
    return IssuerKeys(keys)


def entitlements(claims: Mapping[str, Any], issuer: IssuerConfig) -> tuple[str, ...] | None:
    """
    The entitlements in C{claims} (the issuer's claim, a list of strings or
    one string), or C{None} when the claim is absent.
    """
    value = claims.get(issuer.entitlements_claim)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def userinfo_entitlements(answer: Any, token: VerifiedToken) -> tuple[str, ...]:
    """
    Rule T10: the entitlements of the userinfo C{answer} for C{token},
    whose C{sub} must be the token's (OpenID Connect Core §5.3.2).

    @raise TokenRejected: the answer is not about the token's subject.
    """
    if not isinstance(answer, dict) or answer.get("sub") != token.sub:
        raise TokenRejected("T10", "the issuer's userinfo does not name the token's subject",
                            token.issuer.url, token.sub)
    return entitlements(answer, token.issuer) or ()


def introspected(answer: Any, issuer: IssuerConfig, now: datetime) -> VerifiedToken:
    """
    Rule T10: the token an introspection C{answer} (RFC 7662) describes,
    which must be active, then pass the claims rules (L{check_claims}).

    @raise TokenRejected: the issuer does not vouch for the token.
    """
    if not isinstance(answer, dict) or answer.get("active") is not True:
        raise TokenRejected("T10", f"inactive token: {issuer.url} does not vouch for it",
                            issuer.url)
    return check_claims(answer, issuer, now, require_iss=False)
