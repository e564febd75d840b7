# -*- test-case-name: tests.test_policy -*-
"""
Which AWS account serves a principal, and what it may see and change there.

Pure: no Twisted, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from zope.interface import implementer

from occid.config import AccountConfig, LimitedProxies, Visibility
from occid.gsi.principal import Principal
from occid.interfaces import IAccountPolicy
from occid.occi.errors import Forbidden


@dataclass(frozen=True, kw_only=True)
class AccountBinding:
    """
    The outcome of the policy for one principal.

    @ivar account: the C{name} of the C{[[accounts]]} entry that serves it.
    @ivar visibility: what it sees and changes in the account (see
        docs/state.md for the tags each visibility filters on).
    @ivar writable: whether it may create, change or delete (false for a
        limited proxy in C{read-only} mode).
    @ivar vo: the VO written into C{occid:vo} tags and used for
        L{Visibility.VO}.  A robot served through an account's C{dns} gets
        L{robot_vo} of the account name, C{@<account>}: VO names are
        DNS-like and never contain C{@}, so robots share resources only with
        the other robots of their account, never with a real VO that happens
        to bear the account's name.
    """

    account: str
    visibility: Visibility
    writable: bool
    vo: str


#: What precedes the account name in a robot's VO tag (never part of a VO name).
ROBOT_VO_PREFIX = "@"



@implementer(IAccountPolicy)
class AccountPolicy:
    """
    The C{[[accounts]]} table applied to principals.

    The principal's FQANs are taken in order, primary first, and for each
    the accounts in file order: the first account with a matching pattern
    wins.  A pattern C{/vo/group} matches itself and every subgroup, with any
    role; a pattern with C{/Role=r} (or C{/Capability=c}) also needs that
    role.  A token user's FQANs are the group paths of its entitlements,
    matched the same way.  Only a principal whose FQANs match no account, or
    who has none, is then looked up in the accounts' C{dns} (robots; for a
    token user, C{subs}), in file order; its VO tag is L{robot_vo} of the
    account.
    """

    def __init__(self, accounts: tuple[AccountConfig, ...], limited_proxies: LimitedProxies | str):
        """
        @param accounts: the C{[[accounts]]} entries, in file order.
        @param limited_proxies: a L{LimitedProxies} mode (or its value).
        @raise ValueError: C{limited_proxies} is no such mode.
        """
        self._accounts = tuple(accounts)
        self._limited_proxies = LimitedProxies(limited_proxies)

    def bind(self, principal: Principal) -> AccountBinding:
        if principal.limited and self._limited_proxies is LimitedProxies.REFUSE:
            raise Forbidden(
                "limited proxies are refused on this service; "
                "create a full proxy (without -limited)"
            )
        writable = not principal.limited
        bound = self._by_fqans(principal, writable)
        if bound is not None:
            return bound
        for account in self._accounts:
            if (principal.dn in account.dns if principal.token is None
                    else principal.name in account.subs):
                return AccountBinding(
                    account=account.name,
                    visibility=account.visibility,
                    writable=writable,
                    vo=robot_vo(account.name),
                )
        if not principal.fqans:
            raise Forbidden(
                "this service needs VOMS attributes: create your proxy with "
                "voms-proxy-init --voms <your VO>" if principal.token is None else
                "your token carries no VO entitlements: ask for the eduperson_entitlement "
                "scope and join a VO served here"
            )
        vos = list(dict.fromkeys(vo_of(fqan) for fqan in principal.fqans))
        raise Forbidden(
            f"VO {vos[0]} has no account on this service" if len(vos) == 1
            else f"VOs {', '.join(vos)} have no account on this service"
        )

    def _by_fqans(self, principal: Principal, writable: bool) -> AccountBinding | None:
        """
        The binding of the first account matching one of the FQANs, in
        order; its VO is the matching FQAN's (for a proxy, always its AC's).
        """
        for fqan in principal.fqans:
            for account in self._accounts:
                if any(fqan_matches(pattern, fqan) for pattern in account.fqans):
                    manager = any(
                        fqan_matches(pattern, held)
                        for pattern in account.manager_fqans
                        for held in principal.fqans
                    )
                    return AccountBinding(
                        account=account.name,
                        visibility=Visibility.MANAGER if manager else account.visibility,
                        writable=writable,
                        vo=vo_of(fqan),
                    )
        return None


def robot_vo(account: str) -> str:
    """The C{occid:vo} value of the robots served by C{account}: C{@<account>}."""
    return ROBOT_VO_PREFIX + account


def vo_of(fqan: str) -> str:
    """The VO of an FQAN (or token group path): its first group."""
    return fqan.strip("/").split("/")[0]


def fqan_matches(pattern: str, fqan: str) -> bool:
    """
    Whether the normalised C{fqan} falls under C{pattern}: the pattern's
    groups are a prefix of the FQAN's groups, and the pattern's role and
    capability, when it names them, are the FQAN's.
    """
    pattern_groups, pattern_qualifiers = _split_fqan(pattern)
    groups, qualifiers = _split_fqan(fqan)
    if groups[: len(pattern_groups)] != pattern_groups:
        return False
    return pattern_qualifiers <= qualifiers


@lru_cache(maxsize=1024)
def _split_fqan(fqan: str) -> tuple[tuple[str, ...], frozenset[tuple[str, str]]]:
    """
    C{/vo/g/Role=r} -> C{(("vo", "g"), {("Role", "r")})}, the last role or
    capability kept when one is named twice.  Kept for the patterns and the
    FQANs of recent principals: each request binds its principal again.
    """
    groups = []
    qualifiers = {}
    for part in fqan.strip("/").split("/"):
        key, equals, value = part.partition("=")
        if equals and key in ("Role", "Capability"):
            qualifiers[key] = value
        else:
            groups.append(part)
    return tuple(groups), frozenset(qualifiers.items())
