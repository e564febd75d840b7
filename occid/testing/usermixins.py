# -*- test-case-name: tests.test_testing -*-
"""
User-defined mixins in memory, with the EC2 store's rules: definitions per
account, seen under the binding's visibility; memberships per entity, which
entities render (through L{occid.ec2.members.MemberCollection}); writes refused to a read-only
binding; removal by the creator or a manager only.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer
from zope.interface import implementer

from occid.config import Visibility
from occid.ec2.refusals import READ_ONLY
from occid.gsi.principal import Principal
from occid.interfaces import IMixinStore
from occid.occi import usermixins
from occid.occi.errors import BadRequest, Forbidden, NotFound
from occid.occi.model import Entity, EntityFilter, Kind, Mixin
from occid.policy import AccountBinding
from occid.testing.memory import MemoryCollection, MemoryStore

#: The pseudo-network no tag can be put on (as in EC2).
UNTAGGABLE = ("public",)


@dataclass
class MemoryMixins:
    """
    The user mixins of every account: C{definitions[account][name]} and
    C{members[(account, kind term, id)]}, the names an entity carries.
    """

    definitions: dict[str, dict[str, usermixins.Definition]] = field(default_factory=dict)
    members: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)

    def of(self, account: str) -> list[usermixins.Definition]:
        """The definitions of C{account}, by name."""
        return [d for _, d in sorted(self.definitions.get(account, {}).items())]


def sees_for(principal: Principal, binding: AccountBinding) -> Callable[[str, str], bool]:
    """Whether C{principal} sees a definition by C{(owner, vo)} under C{binding}."""
    def sees(owner: str, vo: str) -> bool:
        if binding.visibility == Visibility.MANAGER:
            return True
        if binding.visibility == Visibility.VO:
            return vo == binding.vo
        return owner == principal.owner
    return sees


@implementer(IMixinStore)
class MemoryMixinStore:
    """The user mixins of one account, bound to one principal."""

    def __init__(self, principal: Principal, binding: AccountBinding, state: MemoryMixins,
                 store: MemoryStore) -> None:
        self._principal = principal
        self._binding = binding
        self._state = state
        self._store = store

    def _write(self, function: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        if not self._binding.writable:
            return defer.fail(Forbidden(READ_ONLY))
        return defer.maybeDeferred(function, *args)

    def _definition(self, mixin: Mixin) -> usermixins.Definition:
        known = self._state.definitions.get(self._binding.account, {}).get(
            usermixins.name_of(mixin))
        if known is None or known.mixin != mixin or not sees_for(
                self._principal, self._binding)(known.owner, known.vo):
            raise NotFound(f"no user mixin {mixin.identifier} here")
        return known

    def define(self, mixin: Mixin) -> defer.Deferred[Mixin]:
        return self._write(self._define, mixin)

    def _define(self, mixin: Mixin) -> Mixin:
        account = self._binding.account
        usermixins.check_unique(mixin, self._state.of(account))
        self._state.definitions.setdefault(account, {})[usermixins.name_of(mixin)] = (
            usermixins.Definition(mixin, self._principal.owner, self._binding.vo))
        return mixin

    def remove(self, mixin: Mixin) -> defer.Deferred[None]:
        return self._write(self._remove, mixin)

    def _remove(self, mixin: Mixin) -> None:
        known = self._definition(mixin)
        if (self._binding.visibility != Visibility.MANAGER
                and known.owner != self._principal.owner):
            raise Forbidden(f"only the creator of {mixin.identifier} or a manager may remove it")
        del self._state.definitions[self._binding.account][known.name]
        for names in self._state.members.values():
            names.discard(known.name)

    def _checked(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]]
                 ) -> list[tuple[str, str, str]]:
        self._definition(mixin)
        keys = []
        for kind, id in targets:
            if id in UNTAGGABLE:
                raise BadRequest(f"{kind.location}{id} cannot carry a user mixin")
            collection = MemoryCollection(kind, self._principal, self._binding, self._store)
            collection._stored(id)  # NotFound when not visible
            keys.append((self._binding.account, kind.term, id))
        return keys

    def associate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]],
                  replace: bool) -> defer.Deferred[None]:
        return self._write(self._associate, mixin, targets, replace)

    def _associate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]],
                   replace: bool) -> None:
        keys = self._checked(mixin, targets)
        name = usermixins.name_of(mixin)
        if replace:
            for kind in usermixins.APPLIES:
                collection = MemoryCollection(kind, self._principal, self._binding, self._store)
                for entity in collection._list(EntityFilter()):
                    self._state.members.get(
                        (self._binding.account, kind.term, entity.id), set()).discard(name)
        for key in keys:
            self._state.members.setdefault(key, set()).add(name)

    def dissociate(self, mixin: Mixin,
                   targets: Sequence[tuple[Kind, str]]) -> defer.Deferred[None]:
        return self._write(self._dissociate, mixin, targets)

    def _dissociate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]]) -> None:
        name = usermixins.name_of(mixin)
        for key in self._checked(mixin, targets):
            self._state.members.get(key, set()).discard(name)

    def carried(self, entities: builtins.list[Any]) -> builtins.list[Any]:
        """
        C{entities} (and other results, left alone) with the user mixins
        they carry that this principal sees added.
        """
        sees = sees_for(self._principal, self._binding)
        result = []
        for entity in entities:
            if isinstance(entity, Entity):
                names = self._state.members.get(
                    (self._binding.account, entity.kind.term, entity.id), set())
                extra = [d.mixin for d in self._state.of(self._binding.account)
                         if d.name in names and sees(d.owner, d.vo)]
                if extra:
                    entity = copy.copy(entity)
                    entity.mixins = list(entity.mixins) + extra
            result.append(entity)
        return result
