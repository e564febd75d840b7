# -*- test-case-name: tests.test_oidcconfig -*-
"""
C{[oidc]}: the OpenID Connect issuers whose access tokens occid accepts
beside proxies (EGI Check-in), and the checks of their forms.

Pure core, below L{occid.config}: the checks report through the
C{fail(key, problem)} callable their caller gives
(L{occid.accountconfig.Fail}).  Without C{[[oidc.issuers]]} tokens are off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from occid.accountconfig import Fail

__all__ = ["IssuerConfig", "OidcConfig", "build_oidc", "check_oidc", "subject_issuer"]

#: C{build(name, cls, table)}: the dataclass C{cls} of C{table}, type-checked.
Build = Callable[[str, type, dict[str, Any]], Any]

#: The hosts an issuer may be reached at over plain HTTP (tests, the demo).
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class IssuerConfig:
    """
    One C{[[oidc.issuers]]} entry.

    @ivar url: the issuer identifier, exactly as tokens carry it in C{iss};
        its discovery document is C{<url>/.well-known/openid-configuration}.
    @ivar audience: when set, a JWT's C{aud} must hold it.
    @ivar client_id: with C{client_secret}, occid's client at the issuer,
        to introspect tokens that are not JWTs.
    @ivar entitlements_claim: the claim holding the user's entitlements,
        in the token, its userinfo or its introspection.
    """

    url: str = ""
    audience: str = ""
    client_id: str = ""
    client_secret: str = ""
    entitlements_claim: str = "eduperson_entitlement"

    @property
    def introspects(self) -> bool:
        """Whether occid may introspect this issuer's tokens."""
        return bool(self.client_id)


@dataclass(frozen=True)
class OidcConfig:
    """
    C{[oidc]}: the issuers, in file order, and how long a call to one may
    take (discovery, keys, userinfo, introspection); C{refresh} is how
    often their keys are fetched again.
    """

    issuers: tuple[IssuerConfig, ...] = ()
    timeout: float = 10.0
    refresh: float = 3600.0

    @property
    def enabled(self) -> bool:
        """Whether any token is accepted."""
        return bool(self.issuers)

    def issuer(self, url: str) -> IssuerConfig | None:
        """The issuer whose identifier is exactly C{url}, if configured."""
        return next((issuer for issuer in self.issuers if issuer.url == url), None)


def build_oidc(table: dict[str, Any], build: Build, fail: Fail) -> OidcConfig:
    """The L{OidcConfig} of C{[oidc]} C{table}, its C{[[oidc.issuers]]} included."""
    flat = dict(table)
    issuers = flat.pop("issuers", [])
    if not isinstance(issuers, list) or not all(isinstance(i, dict) for i in issuers):
        fail("[oidc] issuers", "must be an array of tables, [[oidc.issuers]]")
    oidc = build("oidc", OidcConfig, flat)
    return replace(oidc, issuers=tuple(
        build(f"oidc.issuers[{index}]", IssuerConfig, issuer)
        for index, issuer in enumerate(issuers)))


def check_oidc(oidc: OidcConfig, fail: Fail) -> None:
    """The forms of C{[oidc]}: issuer URLs, each once; secrets in pairs; positive times."""
    if not 0 < oidc.timeout <= 60:
        fail("[oidc] timeout", "must be between 0 and 60 seconds")
    if oidc.refresh < 60:
        fail("[oidc] refresh", "must be at least 60 seconds")
    seen = set()
    for index, issuer in enumerate(oidc.issuers):
        where = f"oidc.issuers[{index}]"
        url = urlsplit(issuer.url)
        if not url.hostname or url.query or url.fragment or (
            url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK)
        ):
            fail(f"{where}.url", f"{issuer.url!r} must be an https URL without query or fragment "
                 "(http only on 127.0.0.1 or localhost)")
        if issuer.url in seen:
            fail(f"{where}.url", f"{issuer.url!r} is listed twice")
        seen.add(issuer.url)
        if bool(issuer.client_id) != bool(issuer.client_secret):
            fail(f"{where}.client_secret" if issuer.client_id else f"{where}.client_id",
                 "client_id and client_secret go together")
        if not issuer.entitlements_claim:
            fail(f"{where}.entitlements_claim", "must name a claim")


def subject_issuer(subject: str, oidc: OidcConfig) -> str | None:
    """
    The issuer of an account's C{subs} entry C{"<issuer> <sub>"}, if it is
    one of C{oidc}'s and a subject follows; else C{None}.
    """
    issuer, space, sub = subject.partition(" ")
    return issuer if space and sub and oidc.issuer(issuer) is not None else None
