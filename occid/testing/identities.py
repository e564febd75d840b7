# -*- test-case-name: tests.test_testing -*-
"""
Stand-ins for who is asking: principals and account bindings made to
measure, an C{identify(request)} that always names one principal (or always
refuses), and an account policy from a fixed table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from twisted.web.iweb import IRequest
from zope.interface import implementer

from occid.config import Visibility
from occid.gsi.principal import Principal
from occid.interfaces import IAccountPolicy
from occid.occi.errors import Forbidden, Unauthorized
from occid.policy import AccountBinding

#: What the web layer calls to learn who sent a request.
Identify = Callable[[IRequest], Principal]


def make_principal(
    dn: str = "/DC=org/DC=example/OU=Users/CN=Jane Doe",
    vo: str | None = "fedcloud.egi.eu",
    limited: bool = False,
) -> Principal:
    """
    A valid principal for tests, good for a year from now.

    @param vo: its VO (its one FQAN is C{/<vo>}), or C{None} for a proxy
        without VOMS attributes.
    @param limited: whether it presented a limited proxy.
    """
    return Principal(
        dn=dn,
        issuer_dn="/DC=org/DC=example/CN=Example CA",
        proxy_depth=1,
        limited=limited,
        legacy=False,
        not_after=datetime.now(UTC) + timedelta(days=365),
        vo=vo,
        fqans=(f"/{vo}",) if vo else (),
    )


def make_binding(
    account: str = "fedcloud",
    visibility: Visibility = Visibility.OWNER,
    writable: bool = True,
    vo: str = "fedcloud.egi.eu",
) -> AccountBinding:
    """An account binding for tests: C{fedcloud}, owner visibility, writable."""
    return AccountBinding(account=account, visibility=visibility, writable=writable, vo=vo)


def identify_as(principal: Principal) -> Identify:
    """An C{identify(request)} that says every request comes from C{principal}."""

    def identify(request: IRequest) -> Principal:
        return principal

    return identify


def refuse_identity(reason: str) -> Identify:
    """An C{identify(request)} that refuses every request with C{reason}."""

    def identify(request: IRequest) -> Principal:
        raise Unauthorized(reason)

    return identify


@implementer(IAccountPolicy)
class StaticPolicy:
    """
    An account policy from a fixed table: DN -> binding.  Unknown DNs get
    C{Forbidden} naming their VO, as the real policy does.
    """

    def __init__(self, bindings: dict[str, AccountBinding]) -> None:
        self._bindings = dict(bindings)

    def bind(self, principal: Principal) -> AccountBinding:
        """
        The binding of C{principal}'s DN.

        @raise Forbidden: the table has no binding for it.
        """
        try:
            return self._bindings[principal.dn]
        except KeyError:
            who = f"VO {principal.vo}" if principal.vo else "a proxy without VOMS attributes"
            raise Forbidden(f"no account serves {who}; ask the site admin") from None
