# -*- test-case-name: tests.test_authenticator,tests.test_policy -*-
"""
Who is calling: the facts occid derives once per connection from a verified
proxy chain and its VOMS attribute certificate.
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


@dataclass(frozen=True, kw_only=True)
class Principal:
    """
    An authenticated grid user.

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
    """

    dn: str
    issuer_dn: str
    proxy_depth: int
    limited: bool
    legacy: bool
    not_after: datetime
    vo: str | None = None
    fqans: tuple[str, ...] = ()
    attributes: tuple[GenericAttribute, ...] = ()

    @property
    def owner(self) -> str:
        """The C{occid:owner} tag value: lowercase hex SHA-256 of the DN."""
        return owner_hash(self.dn)

    def expired(self, now: datetime) -> bool:
        """Whether this principal is no longer valid at C{now}."""
        return now >= self.not_after


def owner_hash(dn: str) -> str:
    """The owner identity stored in EC2 tags for the DN C{dn}."""
    return hashlib.sha256(dn.encode("utf-8")).hexdigest()
