"""
The behaviour every backend's snapshot collection and storage snapshots
must have (the C{snapshot} kind at C{/snapshot/}): mixed, like the
contracts of L{tests.contract}, with a provider mixin in
C{tests/test_testing.py} (the memory fake) and C{tests/test_ec2_contract.py}
(EC2 over moto).
"""

from __future__ import annotations

from occid.ec2.vocabulary import EC2_VOLUME, SNAPSHOT, SNAPSHOT_ID
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Forbidden, NotFound
from occid.occi.model import Changes, Entity, Resource
from tests.contract import ALICE, BOB, ContractHelpers


class SnapshotContract(ContractHelpers):
    """EBS snapshots: taken by storage actions, listed, restored, deleted."""

    def take(self, action=infra.STORAGE_SNAPSHOT, title: str = "data", size: int = 2) -> Entity:
        """A snapshot of a new storage of C{size} GiB, taken by C{action}."""
        volume = self.create(self.new_storage(title, size))
        return self.successResultOf(
            self.collection(infra.STORAGE).trigger(volume.id, action, {}))

    def restore(self, snapshot: str, size: int = 2) -> Resource:
        """A storage create request restoring C{snapshot} (an id or a location)."""
        request = self.new_storage("restored", size)
        request.mixins.append(EC2_VOLUME)
        request.attributes[SNAPSHOT_ID.name] = snapshot
        return request

    def test_snapshot_action_answers_the_new_snapshot(self) -> None:
        """snapshot answers a new snapshot of the volume, listed and read at /snapshot/."""
        snapshot = self.take(title="data", size=2)
        assert snapshot.kind == SNAPSHOT
        assert snapshot.id.startswith("snap-")
        assert snapshot.location == f"/snapshot/{snapshot.id}"
        fetched = self.successResultOf(self.collection(SNAPSHOT).get(snapshot.id))
        assert fetched.attributes["com.amazon.aws.ec2.volume_size"] == 2
        assert str(fetched.attributes["com.amazon.aws.ec2.volume_id"]).startswith("vol-")
        assert fetched.title == "data"
        assert self.ids(SNAPSHOT) == [snapshot.id]

    def test_backup_is_a_snapshot(self) -> None:
        """backup (OCCI 1.1) answers a new snapshot too."""
        assert self.take(infra.STORAGE_BACKUP).kind == SNAPSHOT

    def test_other_principal_sees_not_found(self) -> None:
        """With owner visibility another member's snapshot is NotFound, never listed."""
        snapshot = self.take()
        bob = self.collection(SNAPSHOT, BOB)
        self.refused(NotFound, bob.get(snapshot.id))
        self.refused(NotFound, bob.delete(snapshot.id))
        assert self.ids(SNAPSHOT, BOB) == []

    def test_delete(self) -> None:
        """A deleted snapshot is gone."""
        snapshot = self.take()
        assert self.successResultOf(self.collection(SNAPSHOT).delete(snapshot.id)) is None
        self.assert_gone(SNAPSHOT, snapshot.id)

    def test_not_created_nor_changed_through_its_collection(self) -> None:
        """Creating or updating a snapshot is Forbidden: the storage actions make them."""
        snapshots = self.collection(SNAPSHOT)
        refusal = self.refused(Forbidden, snapshots.create(Resource(kind=SNAPSHOT, id="")))
        assert "action=snapshot" in refusal.message
        snapshot = self.take()
        self.refused(Forbidden, snapshots.update(
            snapshot.id, Changes(attributes={"occi.core.title": "x"})))

    def test_restore(self) -> None:
        """
        A storage create naming a snapshot (id or location) makes the volume
        from it; which snapshot cannot be changed afterwards, by a partial
        or a full update (403 both; a full update restating it is fine).
        """
        snapshot, other = self.take(size=2), self.take(size=2)
        for named in (snapshot.id, f"https://occi.example.org{snapshot.location}"):
            volume = self.create(self.restore(named, size=3))
            assert volume.attributes[SNAPSHOT_ID.name] == snapshot.id
            assert float(volume.attributes["occi.storage.size"]) == 3.0
        storage = self.collection(infra.STORAGE)
        self.refused(Forbidden, storage.update(
            volume.id, Changes(attributes={SNAPSHOT_ID.name: other.id})))
        fetched = self.successResultOf(storage.get(volume.id))
        restated = Changes(mixins=list(fetched.mixins), attributes=dict(fetched.attributes),
                           replace=True)
        self.successResultOf(storage.update(volume.id, restated))
        restated.attributes[SNAPSHOT_ID.name] = other.id
        self.refused(Forbidden, storage.update(volume.id, restated))

    def test_restore_refusals_make_no_volume(self) -> None:
        """
        An invisible or unknown snapshot is NotFound, a malformed one or a
        size below the snapshot's is BadRequest; no volume is made.
        """
        snapshot = self.take(size=2)
        before = self.ids(infra.STORAGE)
        storage = self.collection(infra.STORAGE, BOB)
        self.refused(NotFound, storage.create(self.restore(snapshot.id)))
        mine = self.collection(infra.STORAGE, ALICE)
        self.refused(NotFound, mine.create(self.restore("snap-0123456789abcdef0")))
        self.refused(BadRequest, mine.create(self.restore("/storage/vol-0123456789abcdef0")))
        refusal = self.refused(BadRequest, mine.create(self.restore(snapshot.id, size=1)))
        assert snapshot.id in refusal.message
        assert self.ids(infra.STORAGE) == before
        assert self.ids(infra.STORAGE, BOB) == []
