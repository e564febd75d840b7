# -*- test-case-name: tests.test_oidc -*-
"""
The principal of a verified token: the same L{Principal} a proxy gives,
with the token's issuer and subject as identity and the group paths of its
entitlements as FQANs, so that the policy, visibility and limits treat
both kinds of users alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from occid.gsi.principal import Principal, TokenSubject
from occid.oidc.entitlements import group_paths
from occid.oidc.rules import VerifiedToken

__all__ = ["token_principal"]


def token_principal(token: VerifiedToken, entitlements: Iterable[str]) -> Principal:
    """
    The principal of C{token} holding C{entitlements}: valid until the
    token is, never limited; its VO is the first group path's (a token may
    carry entitlements of several VOs: the policy takes each path's own).
    """
    fqans = group_paths(entitlements)
    return Principal(
        not_after=token.not_after,
        vo=fqans[0].split("/")[1] if fqans else None,
        fqans=fqans,
        token=TokenSubject(token.issuer.url, token.sub),
    )
