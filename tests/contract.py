"""
The behaviour every L{occid.interfaces.IEntityCollection} must have.

L{EntityCollectionContract} is a mixin of test methods.  A test class mixes
it in and provides:

  - C{make_collection(kind, principal, binding)}: a provider of
    C{IEntityCollection} for C{kind}, bound to that principal and account;
    every collection made by one test shares one backing store (one account);
  - C{resolve(deferred)}: the Deferred's result, or raise its exception.
    Synchronous fakes use L{resolve_synchronously}; providers running in
    real threads wait for the result (blocking) instead;
  - optionally C{os_tpl}, the os_tpl mixin a compute is created from (an
    image the provider's catalogue offers).

L{BackendCollections} provides the first two for a test class that sets up
C{self.backend}, an C{IBackend} whose collections fire synchronously.

The tests use plain C{assert} and C{pytest.raises}, so the mixin works with
plain classes and with trial's C{SynchronousTestCase} / C{TestCase}.
"""

from __future__ import annotations

import pytest
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, NotFound, OCCIError
from occid.occi.model import Changes, EntityFilter, Resource
from occid.testing import make_binding, make_principal

ALICE = make_principal(dn="/DC=org/DC=example/OU=Users/CN=Alice")
BOB = make_principal(dn="/DC=org/DC=example/OU=Users/CN=Bob")
MEMBER = make_binding(visibility=Visibility.OWNER)
MANAGER_BINDING = make_binding(visibility=Visibility.MANAGER)


def resolve_synchronously(deferred):
    """
    The result of an already-fired Deferred, or raise its failure's
    exception; fails the test if the Deferred has not fired.
    """
    results = []
    deferred.addBoth(results.append)
    assert results, f"{deferred!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


class CollectionHelpers:
    """
    What the contract tests need from a test class, and helpers built on it;
    test classes with their own collection tests may use it alone.
    """

    os_tpl = infra.os_tpl_mixin(
        "ami-0123456789abcdef0", "ubuntu-24.04-amd64-server", "occi.example.org"
    )

    def make_collection(self, kind, principal, binding):
        raise NotImplementedError("the test class provides make_collection")

    def resolve(self, deferred):
        raise NotImplementedError("the test class provides resolve")

    # -- helpers ------------------------------------------------------------

    def compute(self, principal=ALICE, binding=MEMBER):
        return self.make_collection(infra.COMPUTE, principal, binding)

    def new_compute(self, title: str = "vm1") -> Resource:
        return Resource(
            kind=infra.COMPUTE,
            id="",
            mixins=[self.os_tpl],
            attributes={"occi.core.title": title},
        )

    def create_compute(self, title: str = "vm1", principal=ALICE, binding=MEMBER):
        return self.resolve(self.compute(principal, binding).create(self.new_compute(title)))

    def raises(self, error_type, deferred) -> OCCIError:
        with pytest.raises(error_type) as raised:
            self.resolve(deferred)
        assert isinstance(raised.value, OCCIError)
        return raised.value



class BackendCollections(CollectionHelpers):
    """
    L{CollectionHelpers} over C{self.backend}, an L{occid.interfaces.IBackend}
    set up by the test class, whose collections fire synchronously.
    """

    def make_collection(self, kind, principal, binding):
        return self.backend.collection(kind, principal, binding)

    def resolve(self, deferred):
        return resolve_synchronously(deferred)


class EntityCollectionContract(CollectionHelpers):
    """Contract tests for C{IEntityCollection} providers (see module docstring)."""

    def test_provides_interface(self):
        """Compute and storage collections provide IEntityCollection fully."""
        for kind in (infra.COMPUTE, infra.STORAGE):
            collection = self.make_collection(kind, ALICE, MEMBER)
            assert verifyObject(IEntityCollection, collection)
            assert collection.kind == kind

    def test_create_then_get(self):
        """A created compute gets an EC2-like id and reads back with its title."""
        created = self.create_compute("vm-get")
        assert created.id.startswith("i-")
        assert created.kind == infra.COMPUTE
        fetched = self.resolve(self.compute().get(created.id))
        assert fetched.id == created.id
        assert fetched.title == "vm-get"
        assert self.os_tpl in fetched.mixins

    def test_create_ignores_client_id(self):
        """The id a client invented is not used."""
        entity = self.new_compute("vm-id")
        entity.id = "ebad28af-0c59-43d4-897f-5156dca442bb"
        created = self.resolve(self.compute().create(entity))
        assert created.id != entity.id
        assert created.id.startswith("i-")

    def test_create_without_os_tpl(self):
        """A compute create without an os_tpl mixin is a BadRequest and makes nothing."""
        entity = self.new_compute("no-image")
        entity.mixins = []
        self.raises(BadRequest, self.compute().create(entity))
        listed = self.resolve(self.compute().list(EntityFilter()))
        assert "no-image" not in [e.title for e in listed]

    def test_created_compute_is_active(self):
        """A new compute is active and offers stop but not start."""
        created = self.create_compute()
        fetched = self.resolve(self.compute().get(created.id))
        assert fetched.attributes["occi.compute.state"] == "active"
        assert infra.COMPUTE_STOP in fetched.actions
        assert infra.COMPUTE_START not in fetched.actions

    def test_list_ordered_by_id(self):
        """The listing holds every created compute, ordered by id."""
        ids = {self.create_compute(f"vm{n}").id for n in range(3)}
        listed = [e.id for e in self.resolve(self.compute().list(EntityFilter()))]
        assert ids <= set(listed)
        assert listed == sorted(listed)

    def test_list_filter_by_attribute(self):
        """An attribute filter keeps only the matching entities."""
        wanted = self.create_compute("filter-me")
        self.create_compute("not-me")
        found = self.resolve(
            self.compute().list(EntityFilter(attributes={"occi.core.title": "filter-me"}))
        )
        assert [e.id for e in found] == [wanted.id]

    def test_update_title(self):
        """Updating occi.core.title changes what get returns."""
        created = self.create_compute("before")
        updated = self.resolve(
            self.compute().update(
                created.id, Changes(attributes={"occi.core.title": "after"})
            )
        )
        assert updated.title == "after"
        assert self.resolve(self.compute().get(created.id)).title == "after"

    def test_delete(self):
        """A deleted compute is gone from get and from the listing."""
        created = self.create_compute()
        assert self.resolve(self.compute().delete(created.id)) is None
        self.raises(NotFound, self.compute().get(created.id))
        listed = self.resolve(self.compute().list(EntityFilter()))
        assert created.id not in [e.id for e in listed]

    def test_unknown_id(self):
        """get, update, delete and trigger of an unknown id are NotFound."""
        unknown = "i-0000000000000dead"
        compute = self.compute()
        self.raises(NotFound, compute.get(unknown))
        self.raises(NotFound, compute.update(unknown, Changes(attributes={"occi.core.title": "x"})))
        self.raises(NotFound, compute.delete(unknown))
        self.raises(NotFound, compute.trigger(unknown, infra.COMPUTE_STOP, {}))

    def test_other_principal_sees_not_found(self):
        """With owner visibility another member's compute is NotFound, never listed."""
        created = self.create_compute(principal=ALICE)
        bob = self.compute(BOB, MEMBER)
        self.raises(NotFound, bob.get(created.id))
        self.raises(NotFound, bob.delete(created.id))
        self.raises(NotFound, bob.trigger(created.id, infra.COMPUTE_STOP, {}))
        self.raises(
            NotFound, bob.update(created.id, Changes(attributes={"occi.core.title": "x"}))
        )
        assert created.id not in [e.id for e in self.resolve(bob.list(EntityFilter()))]
        assert self.resolve(self.compute().get(created.id)).id == created.id

    def test_manager_sees_all_and_owned_only(self):
        """A manager sees every member's compute; owned_only keeps only its own."""
        alices = self.create_compute(principal=ALICE)
        bobs = self.create_compute(principal=BOB, binding=MANAGER_BINDING)
        manager = self.compute(BOB, MANAGER_BINDING)
        assert self.resolve(manager.get(alices.id)).id == alices.id
        everything = [e.id for e in self.resolve(manager.list(EntityFilter()))]
        assert {alices.id, bobs.id} <= set(everything)
        owned = [e.id for e in self.resolve(manager.list(EntityFilter(owned_only=True)))]
        assert bobs.id in owned and alices.id not in owned

    def test_start_on_active_conflicts(self):
        """Starting an active compute is a Conflict naming the state."""
        created = self.create_compute()
        error = self.raises(Conflict, self.compute().trigger(created.id, infra.COMPUTE_START, {}))
        assert "active" in error.message

    def test_stop_then_start(self):
        """stop makes a compute inactive, start makes it active again."""
        created = self.create_compute()
        stopped = self.resolve(self.compute().trigger(created.id, infra.COMPUTE_STOP, {}))
        assert stopped.attributes["occi.compute.state"] == "inactive"
        assert infra.COMPUTE_START in stopped.actions
        started = self.resolve(self.compute().trigger(created.id, infra.COMPUTE_START, {}))
        assert started.attributes["occi.compute.state"] == "active"

    def test_storage_create_get_delete(self):
        """A storage is created online with its size, then deleted."""
        storage = self.make_collection(infra.STORAGE, ALICE, MEMBER)
        created = self.resolve(
            storage.create(
                Resource(
                    kind=infra.STORAGE,
                    id="",
                    attributes={"occi.core.title": "disk", "occi.storage.size": 1},
                )
            )
        )
        assert created.id.startswith("vol-")
        fetched = self.resolve(storage.get(created.id))
        assert float(fetched.attributes["occi.storage.size"]) == 1.0
        assert fetched.title == "disk"
        self.resolve(storage.delete(created.id))
        self.raises(NotFound, storage.get(created.id))
