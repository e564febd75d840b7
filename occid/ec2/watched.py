# -*- test-case-name: tests.test_ec2_backend -*-
"""
The computes whose inline links (a public address, storage) wait for them
to run: a create handing such a compute to the backend's watch
(L{occid.ec2.backend.EC2Backend.watch}), so the links are made within
seconds, not at the next reconciler pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from occid.ec2.account import Account
from occid.ec2.adapter import EC2Collection
from occid.ec2.mapping import PUBLIC
from occid.occi import infrastructure as infra
from occid.occi.model import Entity, Resource


def awaits_links(entity: Entity) -> bool:
    """
    Whether a created compute has inline links (public address, storage)
    still waiting for it to run.
    """
    return isinstance(entity, Resource) and any(
        link.attributes.get(f"occi.{link.kind.term}.state") == "inactive"
        and (link.kind == infra.STORAGELINK or link.target == f"/network/{PUBLIC}")
        for link in entity.links)


class WatchedComputes(EC2Collection):
    """
    The computes of a principal, whose creates hand a compute with pending
    inline links to C{watch} (L{occid.ec2.backend.EC2Backend.watch}).
    """

    def __init__(self, *args: Any, watch: Callable[[Account, str], None]) -> None:
        super().__init__(*args)
        self._watch = watch

    def create(self, entity: Entity, idempotency_key: str | None = None) -> Deferred[Entity]:
        def watched(created: Entity) -> Entity:
            if awaits_links(created):
                self._watch(self._account, created.id)
            return created

        return super().create(entity, idempotency_key).addCallback(watched)
