# -*- test-case-name: tests.test_testing -*-
"""
Entity collections kept in memory, with the semantics of the EC2 providers:
EC2-like ids, the state machine of L{occid.testing.states}, the visibility
rules of an account binding, C{NotFound} for another user's entity, and
the same refusals (no storage online/offline/resize, no network up/down,
networks and links unchangeable, no writes from a read-only binding).  The
contract tests (C{tests/contract.py}) run against these collections and
against the EC2 providers, which keeps the fake honest.
"""

from __future__ import annotations

import builtins
import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer
from zope.interface import implementer

from occid.config import Visibility
from occid.ec2 import refusals
from occid.ec2.fullupdate import TEMPLATE_PARENTS, definition_of
from occid.gsi.principal import Principal
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden
from occid.occi.model import (
    Action,
    AttributeValue,
    Category,
    Changes,
    Entity,
    EntityFilter,
    Kind,
    Link,
    Mixin,
    Resource,
)
from occid.policy import AccountBinding
from occid.testing import hibernation, idempotent, plans, states

#: Id prefixes of resources, by kind term, as EC2 makes them.
ID_PREFIXES = {"compute": "i-", "storage": "vol-", "network": "vpc-"}

#: The kinds EC2 refuses every update of (L{refusals.update_refused}).
UNCHANGEABLE = ("network", "networkinterface", "storagelink")

#: Kinds every user of an account sees, whatever the visibility (VPCs).
SHARED_KINDS = ("network",)

@dataclass
class _Stored:
    """One entity and the tags the EC2 provider would keep on it."""

    entity: Entity
    owner: str
    vo: str
    request: tuple[str, str] | None = None  # idempotent.keyed_request


@dataclass
class MemoryStore:
    """
    Everything a L{occid.testing.backend.MemoryBackend} holds, shared by the
    collections it hands out: entities per (account, kind term, id), and the
    test controls.

    @ivar failure: when set, every collection call fails with it.
    @ivar stall: when true, every collection call returns a Deferred that
        never fires; they are kept in C{stalled}.
    @ivar operations: what the collections did, as C{(operation, kind term,
        id, detail)}; C{detail} is the created entity, the C{Changes}, the
        C{(action, attributes)} pair, or C{None}.
    @ivar templates: the templates offered, for the choices of a create.
    @ivar default_image: C{[images] default}; C{network_pool}: C{[aws]
        network_pool}; C{hibernating_types}: the instance types that can
        hibernate.
    """

    public_host: str
    templates: tuple[Mixin, ...] = ()
    default_image: str = ""
    network_pool: str = "10.0.0.0/8"
    hibernating_types: frozenset[str] = frozenset()
    entities: dict[tuple[str, str, str], _Stored] = field(default_factory=dict)
    failure: Exception | None = None
    stall: bool = False
    stalled: list[defer.Deferred[Any]] = field(default_factory=list)
    operations: list[tuple[str, str, str, Any]] = field(default_factory=list)
    #: The client tokens of keyed creates whose entity was deleted since:
    #: (account, kind term, token) -> the deleted entity's id.
    spent: dict[tuple[str, str, str], str] = field(default_factory=dict)
    #: The images users saved: (account, AMI id) -> (os_tpl, owner, VO).
    saved: dict[tuple[str, str], tuple[Mixin, str, str]] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        """A fresh EC2-like id: C{prefix} and 17 hex digits, increasing."""
        return f"{prefix}{next(self.serial):017x}"


@implementer(IEntityCollection)
class MemoryCollection:
    """
    The entities of one kind in one account that one principal may see,
    kept in a L{MemoryStore}.  Every method returns an already-fired
    Deferred (unless the store is told to stall or fail).
    """

    def __init__(
        self, kind: Kind, principal: Principal, binding: AccountBinding, store: MemoryStore
    ) -> None:
        self.kind = kind
        self._principal = principal
        self._binding = binding
        self._store = store

    # -- helpers ------------------------------------------------------------

    def _call(self, function: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        if self._store.failure is not None:
            return defer.fail(self._store.failure)
        if self._store.stall:
            pending: defer.Deferred[Any] = defer.Deferred()
            self._store.stalled.append(pending)
            return pending
        return defer.maybeDeferred(function, *args)

    def _check_writable(self) -> None:
        if not self._binding.writable:
            raise Forbidden(refusals.READ_ONLY)

    def _key(self, id: str) -> tuple[str, str, str]:
        return (self._binding.account, self.kind.term, id)

    def _visible(self, stored: _Stored) -> bool:
        if self.kind.term in SHARED_KINDS or self._binding.visibility == Visibility.MANAGER:
            return True
        if self._binding.visibility == Visibility.VO:
            return stored.vo == self._binding.vo
        return stored.owner == self._principal.owner

    def _stored(self, id: str) -> _Stored:
        stored = self._store.entities.get(self._key(id))
        if stored is None or not self._visible(stored):
            raise refusals.not_found(self.kind, id)
        return stored

    def _render(self, stored: _Stored) -> Entity:
        entity = copy.deepcopy(stored.entity)
        entity.actions = states.applicable_actions(entity)
        return entity

    def _record(self, operation: str, id: str, detail: Any) -> None:
        self._store.operations.append((operation, self.kind.term, id, detail))

    # -- IEntityCollection --------------------------------------------------

    def list(self, filter: EntityFilter) -> defer.Deferred[builtins.list[Entity]]:
        """The visible entities of this kind passing C{filter}, ordered by id."""
        return self._call(self._list, filter)

    def _list(self, filter: EntityFilter) -> builtins.list[Entity]:
        found = []
        for (account, term, _id), stored in sorted(self._store.entities.items()):
            if account != self._binding.account or term != self.kind.term:
                continue
            if not self._visible(stored):
                continue
            if filter.owned_only and stored.owner != self._principal.owner:
                continue
            entity = self._render(stored)
            if filter.matches(entity):
                found.append(entity)
        return found

    def get(self, id: str) -> defer.Deferred[Entity]:
        """Entity C{id}, or C{NotFound} when it is not visible here."""
        return self._call(lambda: self._render(self._stored(id)))

    def create(self, entity: Entity, idempotency_key: str | None = None) -> defer.Deferred[Entity]:
        """
        Store a copy of C{entity} under a new EC2-like id (a link's id joins
        its source's and target's), in its kind's initial state; a retry
        with an C{idempotency_key} answers the earlier entity (L{idempotent}).
        """
        return self._call(self._create, entity, idempotency_key)

    def _create(self, entity: Entity, idempotency_key: str | None) -> Entity:
        self._check_writable()
        request = idempotent.keyed_request(self.kind, self._principal.owner, idempotency_key, entity)
        earlier = idempotent.retried(self._store.entities, self._store.spent,
                                     self._binding.account, self.kind, request)
        if earlier is not None:
            return self._render(earlier)
        new = copy.deepcopy(entity)
        if self.kind == infra.COMPUTE:
            new.mixins = plans.compute_mixins(entity, self._store.templates,
                                              self._store.default_image)
            new.attributes.update(plans.template_attributes(new.mixins))
            hibernation.check_create(new.mixins, self._store.hibernating_types)
        if self.kind == infra.NETWORK:
            address = plans.network_address(entity, self._list(EntityFilter()),
                                            self._store.network_pool)
            if address is not None:
                new.attributes["occi.network.address"] = address
        new.attributes.pop("occi.core.id", None)
        if isinstance(new, Link):
            new.id = f"{new.source.rsplit('/', 1)[-1]}_{new.target.rsplit('/', 1)[-1]}"
        else:
            new.id = self._store.new_id(ID_PREFIXES.get(self.kind.term, "x-"))
        if self._store.entities.get(self._key(new.id)) is not None:
            raise Conflict(f"{self.kind.term} {new.id} exists already")
        state = states.INITIAL_STATES.get(self.kind.term)
        if state is not None:
            new.attributes[state[0]] = state[1]
        if isinstance(new, Resource):
            for link in new.links:
                link.source = new.location
                link.id = f"{new.id}_{link.target.rsplit('/', 1)[-1]}"
        self._store.entities[self._key(new.id)] = _Stored(
            entity=new, owner=self._principal.owner, vo=self._binding.vo, request=request
        )
        self._record("create", new.id, copy.deepcopy(new))
        return self._render(self._store.entities[self._key(new.id)])

    def update(self, id: str, changes: Changes) -> defer.Deferred[Entity]:
        """
        Apply C{changes} (a template replaces its sibling); networks and
        links cannot be changed, immutable attributes neither, and a
        resource_tpl only while the compute is not active.
        """
        return self._call(self._update, id, changes)

    def _update(self, id: str, changes: Changes) -> Entity:
        if self.kind.term in UNCHANGEABLE:
            raise refusals.update_refused(self.kind)
        self._check_writable()
        stored = self._stored(id)
        entity = stored.entity
        if changes.replace:
            attributes = plans.replaced(entity, changes)
        else:
            for name in changes.attributes:
                definition = definition_of(entity, name)
                if definition is not None and not definition.mutable:
                    raise Forbidden(f"{name} cannot be changed")
            attributes = dict(entity.attributes, **changes.attributes)
        if "occi.storage.size" in changes.attributes:
            attributes["occi.storage.size"] = plans.grown(
                entity, changes.attributes["occi.storage.size"])
        resize = infra.template_of(changes.mixins, infra.RESOURCE_TPL)
        state = states.state_of(entity)
        if (resize is not None and resize not in entity.mixins
                and state is not None and state[1] == "active"):
            raise Conflict(
                f"{self.kind.term} {id} is active; stop it before changing its "
                "resource_tpl"
            )
        mixins = list(entity.mixins)
        for mixin in changes.mixins:
            parents = [p for p in TEMPLATE_PARENTS if mixin.depends_on(p)]
            mixins = [
                m for m in mixins
                if m != mixin and not any(m.depends_on(p) for p in parents)
            ]
            mixins.append(mixin)
        if resize is not None:
            attributes.update(plans.template_attributes(mixins))
        entity.mixins = mixins
        entity.attributes = attributes
        self._record("update", id, changes)
        return self._render(stored)

    def delete(self, id: str) -> defer.Deferred[None]:
        """Forget entity C{id}."""
        return self._call(self._delete, id)

    def _delete(self, id: str) -> None:
        self._check_writable()
        request = self._stored(id).request
        if request is not None:
            self._store.spent[(self._binding.account, self.kind.term, request[0])] = id
        del self._store.entities[self._key(id)]
        self._record("delete", id, None)

    def trigger(
        self, id: str, action: Action, attributes: dict[str, AttributeValue]
    ) -> defer.Deferred[Entity | Category]:
        """
        Run C{action} on entity C{id} through the state machine; C{save}
        answers a new os_tpl mixin, the others the entity after the action.
        """
        return self._call(self._trigger, id, action, attributes)

    def _trigger(
        self, id: str, action: Action, attributes: dict[str, AttributeValue]
    ) -> Entity | Category:
        refusal = states.refusal(self.kind, action)
        if isinstance(refusal, Conflict):
            self._stored(id)  # EC2 looks the VPC up first: an unknown one is 404
        if refusal is not None:
            raise refusal
        if action == infra.COMPUTE_SAVE:
            plans.check_image_name(attributes.get("name"))
        if action == infra.STORAGE_RESIZE and "size" not in attributes:
            raise BadRequest("action resize needs the parameter size (GiB)")
        self._check_writable()
        stored = self._stored(id)
        entity = stored.entity
        hibernation.check_trigger(entity, action)
        needs, after = states.TRANSITIONS[(self.kind.term, action.term)]
        name, state = states.state_of(entity) or ("", "")
        if state not in needs:
            raise Conflict(
                f"cannot {action.term} {self.kind.term} {id}: it is {state}; "
                f"{action.term} needs it {' or '.join(sorted(needs))}"
            )
        self._record("trigger", id, (action, dict(attributes)))
        if after is not None:
            entity.attributes[name] = after
        if action == infra.STORAGE_RESIZE:
            entity.attributes["occi.storage.size"] = plans.grown(entity, attributes["size"])
        if action == infra.COMPUTE_SAVE:
            image = self._store.new_id("ami-")
            title = str(attributes.get("name") or f"saved from {id}")
            mixin = infra.os_tpl_mixin(image, title, self._store.public_host)
            self._store.saved[(self._binding.account, image)] = (
                mixin, self._principal.owner, self._binding.vo)
            return mixin
        return self._render(stored)
