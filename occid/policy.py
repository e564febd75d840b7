# -*- test-case-name: tests.test_policy -*-
"""
Which AWS account serves a principal, and what it may see and change there.

Pure: no Twisted, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    role.  Only a principal whose FQANs match no account, or who has none,
    is then looked up in the accounts' C{dns} (robots), in file order; its VO
    tag is L{robot_vo} of the account.
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
        if principal.vo is not None:  # FQANs come with their AC's VO
            bound = self._by_fqans(principal, principal.vo, writable)
            if bound is not None:
                return bound
        for account in self._accounts:
            if principal.dn in account.dns:
                return AccountBinding(
                    account=account.name,
                    visibility=account.visibility,
                    writable=writable,
                    vo=robot_vo(account.name),
                )
        if principal.vo is None:
            raise Forbidden(
                "this service needs VOMS attributes: create your proxy with "
                "voms-proxy-init --voms <your VO>"
            )
        raise Forbidden(f"VO {principal.vo} has no account on this service")

    def _by_fqans(self, principal: Principal, vo: str, writable: bool) -> AccountBinding | None:
        """The binding of the first account matching one of the FQANs, in order."""
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
                        vo=vo,
                    )
        return None


def robot_vo(account: str) -> str:
    """The C{occid:vo} value of the robots served by C{account}: C{@<account>}."""
    return ROBOT_VO_PREFIX + account


def fqan_vo(pattern: str) -> str:
    """The VO of a FQAN or FQAN pattern: its first group (C{/vo/g/Role=r} -> C{vo})."""
    return _split_fqan(pattern)[0][0]


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
    return all(qualifiers.get(key) == value for key, value in pattern_qualifiers.items())


def _split_fqan(fqan: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """C{/vo/g/Role=r} -> C{(("vo", "g"), {"Role": "r"})}."""
    groups = []
    qualifiers = {}
    for part in fqan.strip("/").split("/"):
        key, equals, value = part.partition("=")
        if equals and key in ("Role", "Capability"):
            qualifiers[key] = value
        else:
            groups.append(part)
    return tuple(groups), qualifiers
