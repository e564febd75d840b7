# -*- test-case-name: tests.test_testing,tests.test_ec2_contract -*-
"""
EBS snapshots kept in memory, as L{occid.ec2.snapshots} makes them: the
storage C{snapshot} and C{backup} actions answer a new snapshot owned by
the principal, a storage create naming a snapshot restores it (visible,
and no larger than the volume), and the snapshot collection lists, reads
and deletes them under the visibility rules but creates and changes none.
"""

from __future__ import annotations

import copy

from twisted.internet import defer

from occid.ec2 import refusals
from occid.ec2.planning import snapshot_id
from occid.ec2.vocabulary import SNAPSHOT, SNAPSHOT_ID
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Forbidden
from occid.occi.model import Action, AttributeValue, Category, Changes, Entity, Resource
from occid.testing.memory import MemoryCollection, _Stored

#: The storage actions that take a snapshot.
TAKING = (infra.STORAGE_SNAPSHOT, infra.STORAGE_BACKUP)


class MemorySnapshots(MemoryCollection):
    """The snapshots one principal sees: listed, read, deleted; never created nor changed."""

    def create(self, entity: Entity,
               idempotency_key: str | None = None) -> defer.Deferred[Entity]:
        return defer.fail(refusals.create_refused(self.kind))

    def update(self, id: str, changes: Changes) -> defer.Deferred[Entity]:
        return defer.fail(refusals.update_refused(self.kind))


class MemoryStorage(MemoryCollection):
    """Volumes whose snapshot actions make snapshots, and whose creates restore them."""

    def _snapshots(self) -> MemorySnapshots:
        return MemorySnapshots(SNAPSHOT, self._principal, self._binding, self._store)

    def _create(self, entity: Entity, idempotency_key: str | None) -> Entity:
        restored = entity.attributes.get(SNAPSHOT_ID.name)
        if restored:
            self._check_writable()
            entity = copy.deepcopy(entity)
            id = snapshot_id(restored)
            snapshot = self._snapshots()._stored(id).entity
            size = int(snapshot.attributes["com.amazon.aws.ec2.volume_size"])
            if float(entity.attributes.get("occi.storage.size", 0)) < size:
                raise BadRequest(f"occi.storage.size is smaller than snapshot {id} ({size} GiB)")
            entity.attributes[SNAPSHOT_ID.name] = id
        return super()._create(entity, idempotency_key)

    def _update(self, id: str, changes: Changes) -> Entity:
        """As L{MemoryCollection}'s, but the snapshot restored is set at create only."""
        named = changes.attributes.get(SNAPSHOT_ID.name)
        if named is not None and named != self._stored(id).entity.attributes.get(SNAPSHOT_ID.name):
            raise Forbidden(f"{SNAPSHOT_ID.name} of a storage cannot be changed")
        return super()._update(id, changes)

    def _trigger(self, id: str, action: Action,
                 attributes: dict[str, AttributeValue]) -> Entity | Category:
        result = super()._trigger(id, action, attributes)
        if action not in TAKING or not isinstance(result, Entity):
            return result
        snapshot = Resource(kind=SNAPSHOT, id=self._store.new_id("snap-"), attributes={
            "com.amazon.aws.ec2.volume_id": id,
            "com.amazon.aws.ec2.volume_size": int(float(result.attributes["occi.storage.size"])),
            "com.amazon.aws.ec2.state": "completed",
            "com.amazon.aws.ec2.progress": "100%",
        })
        if result.title:
            snapshot.attributes["occi.core.title"] = result.title
        self._store.entities[(self._binding.account, SNAPSHOT.term, snapshot.id)] = _Stored(
            entity=snapshot, owner=self._principal.owner, vo=self._binding.vo)
        return self._snapshots()._render(self._store.entities[
            (self._binding.account, SNAPSHOT.term, snapshot.id)])
