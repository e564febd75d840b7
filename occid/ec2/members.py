# -*- test-case-name: tests.test_web_usermixins,tests.test_ec2_contract,tests.test_testing -*-
"""
Entity collections that know the user mixins their entities carry, over
any L{IEntityCollection} and any L{IMixinStore}: the EC2 backend wraps its
collections in L{MemberCollection}, and so do the memory fakes, so both
behave alike (tests/contract_usermixins.py).

  - reads add the user mixins each entity carries (the store says which);
  - a create naming a user mixin is refused: an entity is tagged once it
    exists;
  - a partial update (POST) naming user mixins associates them; a full
    update (PUT) also dissociates the user mixins it leaves out, as it
    removes every other removable mixin it omits.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable
from functools import partial
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from occid.interfaces import IEntityCollection, IMixinStore
from occid.occi import usermixins
from occid.occi.errors import BadRequest
from occid.occi.model import Action, AttributeValue, Changes, Entity, EntityFilter, Mixin

#: Given entities (and other results, left alone), a Deferred of the same
#: list with the user mixins each carries added.
Carried = Callable[[builtins.list[Any]], "Deferred[builtins.list[Any]]"]


def _then(_: object, step: Callable[[], Deferred[None]]) -> Deferred[None]:
    return step()


@implementer(IEntityCollection)
class MemberCollection:
    """C{inner}'s entities with the user mixins they carry, kept by C{store}."""

    def __init__(self, inner: IEntityCollection, store: IMixinStore, carried: Carried) -> None:
        self.kind = inner.kind
        self._inner = inner
        self._store = store
        self._carried = carried

    def _one(self, result: Any) -> Deferred[Any]:
        return self._carried([result]).addCallback(lambda found: found[0])

    def list(self, filter: EntityFilter) -> Deferred[builtins.list[Entity]]:
        # Categories filter after the user mixins are added: the inner
        # collection does not know them.
        plain = EntityFilter(attributes=filter.attributes, owned_only=filter.owned_only)
        listed = self._inner.list(plain if filter.categories else filter)
        return listed.addCallback(self._carried).addCallback(
            lambda found: [e for e in found if filter.matches(e)])

    def get(self, id: str) -> Deferred[Entity]:
        return self._inner.get(id).addCallback(self._one)

    def create(self, entity: Entity, idempotency_key: str | None = None) -> Deferred[Entity]:
        named = usermixins.user_mixins_of(entity.mixins)
        if named:
            return fail(BadRequest(
                f"associate {named[0].identifier} once the entity exists: POST its location "
                f"to {named[0].location}"))
        return self._inner.create(entity, idempotency_key)

    def update(self, id: str, changes: Changes) -> Deferred[Entity]:
        named = usermixins.user_mixins_of(changes.mixins)
        if not named and not changes.replace:
            return self._inner.update(id, changes).addCallback(self._one)
        rest = Changes(attributes=changes.attributes, replace=changes.replace,
                       mixins=[m for m in changes.mixins if m not in named])
        if rest.attributes or rest.mixins or rest.replace:
            updated = self._inner.update(id, rest)
        else:
            updated = self._inner.get(id)
        return updated.addCallback(self._one).addCallback(
            self._membership, id, named, changes.replace)

    def _membership(self, entity: Entity, id: str, named: builtins.list[Mixin],
                    replace: bool) -> Deferred[Entity]:
        """Associate C{named}; with C{replace}, dissociate the user mixins not named."""
        carried = usermixins.user_mixins_of(entity.mixins)
        target = [(self.kind, id)]
        dropped = [m for m in carried if m not in named] if replace else []
        steps = [partial(self._store.associate, m, target, False) for m in named
                 if m not in carried]
        steps += [partial(self._store.dissociate, m, target) for m in dropped]
        done: Deferred[None] = succeed(None)
        for step in steps:
            done.addCallback(_then, step)
        final = copy.copy(entity)
        final.mixins = [m for m in entity.mixins if m not in dropped] + [
            m for m in named if m not in carried]
        return done.addCallback(lambda _: final)

    def delete(self, id: str) -> Deferred[None]:
        return self._inner.delete(id)

    def trigger(self, id: str, action: Action,
                attributes: dict[str, AttributeValue]) -> Deferred[Any]:
        return self._inner.trigger(id, action, attributes).addCallback(self._one)
