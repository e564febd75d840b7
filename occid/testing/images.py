# -*- test-case-name: tests.test_testing -*-
"""
Saved images in memory, with the EC2 store's rules
(L{occid.ec2.images.check_removable}): those a C{save} recorded in the
L{MemoryStore} are offered to the principals who see their maker, and
deleted by their maker or a manager; the site's templates never.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import defer
from zope.interface import implementer

from occid.ec2.images import check_removable
from occid.ec2.refusals import READ_ONLY
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, VO_TAG
from occid.gsi.principal import Principal
from occid.interfaces import IImageStore
from occid.occi.errors import Forbidden
from occid.occi.model import Mixin
from occid.policy import AccountBinding
from occid.testing.memory import MemoryStore


def saved_for(store: MemoryStore, principal: Principal,
              binding: AccountBinding) -> tuple[Mixin, ...]:
    """The os_tpls of the images saved in C{binding}'s account that C{principal} sees."""
    scope = Scope(principal, binding)
    return tuple(mixin for (account, _), (mixin, owner, vo) in sorted(store.saved.items())
                 if account == binding.account
                 and scope.sees({OWNER_TAG: owner, VO_TAG: vo}))


@implementer(IImageStore)
class MemoryImageStore:
    """The saved images of one account, as one principal may delete them."""

    def __init__(self, principal: Principal, binding: AccountBinding, store: MemoryStore,
                 site: Sequence[Mixin]) -> None:
        self._scope = Scope(principal, binding)
        self._store = store
        self._site = site

    def remove(self, mixin: Mixin) -> defer.Deferred[None]:
        return defer.maybeDeferred(self._remove, mixin)

    def _remove(self, mixin: Mixin) -> None:
        if not self._scope.binding.writable:
            raise Forbidden(READ_ONLY)
        key = (self._scope.binding.account, mixin.term)
        known = self._store.saved.get(key)
        tags = None if known is None else {OWNER_TAG: known[1], VO_TAG: known[2]}
        check_removable(self._scope, mixin, mixin in self._site, tags)
        del self._store.saved[key]
