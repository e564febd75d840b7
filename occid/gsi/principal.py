# -*- test-case-name: tests.test_authenticator,tests.test_policy -*-
"""
Who is calling: the facts occid derives once per connection from a verified
proxy chain and its VOMS attribute certificate, or per token from a
verified OIDC access token (L{occid.oidc}).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


class CertificateRejected(Exception):
    """
    A client chain failed a rule of docs/security.md.

    @ivar rule: the rule identifier (C{"C3"}, C{"C11"}, …) of
        docs/security.md, or C{"TLS"} for an OpenSSL verdict.
    @ivar reason: what is wrong, for the client and the log.
    @ivar fix: what the user should do about it.
    """

    def __init__(self, rule: str, reason: str, fix: str):
        super().__init__(f"{reason}; {fix}")
        self.rule = rule
        self.reason = reason
        self.fix = fix


@dataclass(frozen=True, kw_only=True)
class GenericAttribute:
    """A VOMS generic attribute: C{name = value (qualifier)}."""

    name: str
    value: str
    qualifier: str


#: What the owner identity of a token user starts with; a DN starts with C{/}.
TOKEN_IDENTITY_PREFIX = "oidc:"


@dataclass(frozen=True)
class TokenSubject:
    """A token user: its C{sub} at the OIDC C{issuer} (the issuer's identifier URL)."""

    issuer: str
    sub: str


@dataclass(frozen=True, kw_only=True)
class Principal:
    """
    An authenticated user: a grid user with a proxy, or a token user
    (C{token} set, no certificate: C{dn} and C{issuer_dn} are empty).
    Policy, visibility, limits and logs see both alike, through
    L{identity}, L{owner} and L{name}.

    @ivar dn: the end-entity certificate's subject in OpenSSL slash form,
        C{/DC=org/DC=example/OU=Users/CN=Jane Doe}.
    @ivar issuer_dn: the end-entity certificate's issuer, same form.
    @ivar proxy_depth: how many proxy certificates precede the EEC.
    @ivar limited: whether any proxy in the chain is limited.
    @ivar legacy: whether the chain is made of legacy (pre-RFC) proxies.
    @ivar not_after: when this principal stops being valid: the earliest
        notAfter of the chain and of the accepted attribute certificate.
    @ivar vo: the VO of the accepted attribute certificate, if any.
    @ivar fqans: the FQANs of that certificate, in its order, normalised
        (C{/Role=NULL} and C{/Capability=NULL} dropped); the first is primary.
    @ivar attributes: the VOMS generic attributes.
    @ivar token: the token user's issuer and subject; C{None} for a proxy.
        Its FQANs are the group paths of its entitlements
        (L{occid.oidc.entitlements}), its VO that of the first.
    """

    dn: str = ""
    issuer_dn: str = ""
    proxy_depth: int = 0
    limited: bool = False
    legacy: bool = False
    not_after: datetime
    vo: str | None = None
    fqans: tuple[str, ...] = ()
    attributes: tuple[GenericAttribute, ...] = ()
    token: TokenSubject | None = None

    @property
    def identity(self) -> str:
        """
        The string whose hash is the owner: the DN, or for a token user
        C{oidc:<issuer>\\n<sub>}, which can never be a DN (those start
        with C{/}), so no token user ever owns what a proxy user made.
        """
        if self.token is None:
            return self.dn
        return f"{TOKEN_IDENTITY_PREFIX}{self.token.issuer}\n{self.token.sub}"

    @property
    def name(self) -> str:
        """
        The user as logs, C{subs} and the identity tags print it: the DN,
        or C{<issuer> <sub>} (issuer URLs hold no space).
        """
        return self.dn if self.token is None else f"{self.token.issuer} {self.token.sub}"

    @property
    def owner(self) -> str:
        """The C{occid:owner} tag value: lowercase hex SHA-256 of L{identity}."""
        return owner_hash(self.identity)

    def expired(self, now: datetime) -> bool:
        """Whether this principal is no longer valid at C{now}."""
        return now >= self.not_after


def owner_hash(identity: str) -> str:
    """The owner identity stored in EC2 tags for a DN or L{Principal.identity}."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()
