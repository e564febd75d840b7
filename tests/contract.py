"""
The behaviour every L{occid.interfaces.IBackend} must have, for its catalog
and for each kind of L{occid.interfaces.IEntityCollection} it hands out.

Each contract is a mixin of test methods, one per job: L{CatalogContract},
L{ComputeContract}, L{StorageContract}, L{NetworkContract},
L{NetworkInterfaceContract} and L{StorageLinkContract}.  A test module mixes
each of them with a provider mixin and trial's C{SynchronousTestCase}; the
provider mixin sets up, before every test:

  - C{self.backend}: the C{IBackend} under test, whose Deferreds have fired
    by the time its methods return (the EC2 backend runs on an inline
    thread pool), one account C{fedcloud} that lets users create and delete
    networks;
  - C{os_tpl} and C{zone}: an os_tpl and an availability_zone mixin its
    catalog offers.

The contracts hold only what the memory fake and the EC2 backend both do;
what one of them does beyond it is tested beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.gsi.principal import Principal
from occid.interfaces import IBackend, ICatalog, IEntityCollection
from occid.occi import corekinds
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound, OCCIError
from occid.occi.model import Changes, Entity, EntityFilter, Kind, Link, Mixin, Resource
from occid.policy import AccountBinding
from occid.testing import make_binding, make_principal

ALICE = make_principal(dn="/DC=org/DC=example/OU=Users/CN=Alice")
BOB = make_principal(dn="/DC=org/DC=example/OU=Users/CN=Bob")
MEMBER = make_binding(visibility=Visibility.OWNER)
MANAGER_BINDING = make_binding(visibility=Visibility.MANAGER)
READ_ONLY = make_binding(visibility=Visibility.OWNER, writable=False)

#: The kinds every backend has a collection for.
COLLECTION_KINDS = (
    infra.COMPUTE, infra.STORAGE, infra.NETWORK, infra.NETWORKINTERFACE, infra.STORAGELINK,
)

if TYPE_CHECKING:
    _Case = SynchronousTestCase
else:
    _Case = object


class ContractHelpers(_Case):
    """
    What the contracts share: the provider's backend and templates (set by
    the provider mixin) and ways to make entities through them.
    """

    backend: IBackend
    os_tpl: Mixin
    zone: Mixin

    def collection(
        self, kind: Kind, principal: Principal = ALICE, binding: AccountBinding = MEMBER
    ) -> IEntityCollection:
        """The backend's collection of C{kind} for C{principal} in C{binding}."""
        return self.backend.collection(kind, principal=principal, binding=binding)

    def refused(self, error: type[OCCIError], deferred) -> OCCIError:
        """The C{error} C{deferred} has failed with (the test fails otherwise)."""
        refusal = self.failureResultOf(deferred, error).value
        assert isinstance(refusal, OCCIError)
        return refusal

    def create(
        self, entity: Entity, principal: Principal = ALICE, binding: AccountBinding = MEMBER
    ) -> Entity:
        """C{entity} created in the collection of its kind."""
        return self.successResultOf(self.collection(entity.kind, principal, binding).create(entity))

    def new_compute(self, title: str = "vm1") -> Resource:
        """A compute create request from the provider's os_tpl, in its zone."""
        return Resource(kind=infra.COMPUTE, id="", mixins=[self.os_tpl, self.zone],
                        attributes={"occi.core.title": title})

    def create_compute(
        self, title: str = "vm1", principal: Principal = ALICE, binding: AccountBinding = MEMBER
    ) -> Entity:
        """A compute created from the provider's os_tpl, in its zone."""
        return self.create(self.new_compute(title), principal, binding)

    def new_storage(self, title: str = "disk", size: int = 1) -> Resource:
        """A storage create request of C{size} GiB in the provider's zone."""
        return Resource(kind=infra.STORAGE, id="", mixins=[self.zone],
                        attributes={"occi.core.title": title, "occi.storage.size": size})

    def new_network(self, title: str = "lab", address: str = "10.1.0.0/16") -> Resource:
        """A network create request for the IPv4 block C{address}."""
        return Resource(kind=infra.NETWORK, id="", mixins=[infra.IPNETWORK],
                        attributes={"occi.core.title": title, "occi.network.address": address})

    def new_link(self, kind: Kind, source: Entity, target: str) -> Link:
        """A C{kind} link create request from C{source} to the path C{target}."""
        return Link(kind=kind, id="", source=source.location, target=target)

    def assert_gone(self, kind: Kind, id: str) -> None:
        """Entity C{id} of C{kind} is NotFound and not listed."""
        self.refused(NotFound, self.collection(kind).get(id))
        assert id not in self.ids(kind)

    def ids(self, kind: Kind, principal: Principal = ALICE,
            filter: EntityFilter | None = None) -> list[str]:
        """The ids C{principal} lists in the collection of C{kind}, in order."""
        listed = self.successResultOf(self.collection(kind, principal).list(filter or EntityFilter()))
        return [entity.id for entity in listed]


class CatalogContract(ContractHelpers):
    """The backend itself and C{IBackend.catalog}."""

    def test_provides_interfaces(self) -> None:
        """The backend, its catalog and its collection of every kind provide their interfaces."""
        assert verifyObject(IBackend, self.backend)
        assert verifyObject(ICatalog, self.successResultOf(self.backend.catalog(MEMBER)))
        for kind in COLLECTION_KINDS:
            collection = self.collection(kind)
            assert verifyObject(IEntityCollection, collection)
            assert collection.kind == kind

    def test_core_kind_has_no_collection(self) -> None:
        """The abstract core kinds have no collection: NotFound."""
        for kind in (corekinds.ENTITY, corekinds.RESOURCE, corekinds.LINK):
            with self.assertRaises(NotFound):
                self.collection(kind)

    def test_kinds_at_their_locations(self) -> None:
        """The catalog binds every kind with a collection to its location."""
        catalog = self.successResultOf(self.backend.catalog(MEMBER))
        for kind in COLLECTION_KINDS:
            assert catalog.kind_at(kind.location) == kind
            assert catalog.lookup(kind.identifier) == kind
        assert infra.COMPUTE_STOP in catalog.actions

    def test_templates_offered(self) -> None:
        """The provider's os_tpl and zone are offered, with resource_tpls."""
        catalog = self.successResultOf(self.backend.catalog(MEMBER))
        for template in (self.os_tpl, self.zone):
            assert catalog.lookup(template.identifier) == template
            assert catalog.mixin_at(template.location) == template
        assert [m for m in catalog.mixins if m.depends_on(infra.RESOURCE_TPL)]

    def test_version_is_stable(self) -> None:
        """Asked again, or for a principal without private templates, the version is the same."""
        first = self.successResultOf(self.backend.catalog(MEMBER))
        again = self.successResultOf(self.backend.catalog(MEMBER))
        alices = self.successResultOf(self.backend.catalog(MEMBER, ALICE))
        assert isinstance(first.version, str)
        assert again.version == alices.version == first.version


class ComputeContract(ContractHelpers):
    """Compute collections."""

    def test_create_then_get(self) -> None:
        """A created compute gets an EC2-like id and reads back with its title."""
        created = self.create_compute("vm-get")
        assert created.id.startswith("i-")
        assert created.kind == infra.COMPUTE
        fetched = self.successResultOf(self.collection(infra.COMPUTE).get(created.id))
        assert fetched.id == created.id
        assert fetched.title == "vm-get"
        assert self.os_tpl in fetched.mixins

    def test_create_ignores_client_id(self) -> None:
        """The id a client invented is not used."""
        entity = self.new_compute("vm-id")
        entity.id = "ebad28af-0c59-43d4-897f-5156dca442bb"
        created = self.create(entity)
        assert created.id != entity.id
        assert created.id.startswith("i-")

    def test_create_without_os_tpl(self) -> None:
        """A compute create without an os_tpl mixin is a BadRequest and makes nothing."""
        entity = self.new_compute("no-image")
        entity.mixins = []
        self.refused(BadRequest, self.collection(infra.COMPUTE).create(entity))
        listed = self.successResultOf(self.collection(infra.COMPUTE).list(EntityFilter()))
        assert "no-image" not in [e.title for e in listed]

    def test_read_only_binding_cannot_create(self) -> None:
        """A read-only binding (a limited proxy) creating a compute is Forbidden."""
        compute = self.collection(infra.COMPUTE, ALICE, READ_ONLY)
        self.refused(Forbidden, compute.create(self.new_compute("read-only")))
        assert self.ids(infra.COMPUTE) == []

    def test_read_only_binding_cannot_change_or_delete(self) -> None:
        """A read-only binding's update, action and delete of a compute are Forbidden."""
        created = self.create_compute()
        compute = self.collection(infra.COMPUTE, ALICE, READ_ONLY)
        self.refused(Forbidden, compute.update(
            created.id, Changes(attributes={"occi.core.title": "renamed"})))
        self.refused(Forbidden, compute.trigger(created.id, infra.COMPUTE_STOP, {}))
        self.refused(Forbidden, compute.delete(created.id))
        fetched = self.successResultOf(self.collection(infra.COMPUTE).get(created.id))
        assert fetched.title == created.title
        assert fetched.attributes["occi.compute.state"] == "active"

    def test_created_compute_is_active(self) -> None:
        """A new compute is active and offers stop but not start."""
        created = self.create_compute()
        fetched = self.successResultOf(self.collection(infra.COMPUTE).get(created.id))
        assert fetched.attributes["occi.compute.state"] == "active"
        assert infra.COMPUTE_STOP in fetched.actions
        assert infra.COMPUTE_START not in fetched.actions

    def test_list_ordered_by_id(self) -> None:
        """The listing holds every created compute, ordered by id."""
        ids = {self.create_compute(f"vm{n}").id for n in range(3)}
        listed = self.ids(infra.COMPUTE)
        assert ids <= set(listed)
        assert listed == sorted(listed)

    def test_list_filter_by_attribute(self) -> None:
        """An attribute filter keeps only the matching entities."""
        wanted = self.create_compute("filter-me")
        self.create_compute("not-me")
        found = self.ids(infra.COMPUTE, filter=EntityFilter(attributes={"occi.core.title": "filter-me"}))
        assert found == [wanted.id]

    def test_update_title(self) -> None:
        """Updating occi.core.title changes what get returns."""
        created = self.create_compute("before")
        compute = self.collection(infra.COMPUTE)
        updated = self.successResultOf(
            compute.update(created.id, Changes(attributes={"occi.core.title": "after"})))
        assert updated.title == "after"
        assert self.successResultOf(compute.get(created.id)).title == "after"

    def test_delete(self) -> None:
        """A deleted compute is gone from get and from the listing."""
        created = self.create_compute()
        compute = self.collection(infra.COMPUTE)
        assert self.successResultOf(compute.delete(created.id)) is None
        self.assert_gone(infra.COMPUTE, created.id)

    def test_unknown_id(self) -> None:
        """get, update, delete and trigger of an unknown id are NotFound."""
        unknown = "i-0000000000000dead"
        compute = self.collection(infra.COMPUTE)
        self.refused(NotFound, compute.get(unknown))
        self.refused(NotFound, compute.update(unknown, Changes(attributes={"occi.core.title": "x"})))
        self.refused(NotFound, compute.delete(unknown))
        self.refused(NotFound, compute.trigger(unknown, infra.COMPUTE_STOP, {}))

    def test_other_principal_sees_not_found(self) -> None:
        """With owner visibility another member's compute is NotFound, never listed."""
        created = self.create_compute(principal=ALICE)
        bob = self.collection(infra.COMPUTE, BOB, MEMBER)
        self.refused(NotFound, bob.get(created.id))
        self.refused(NotFound, bob.delete(created.id))
        self.refused(NotFound, bob.trigger(created.id, infra.COMPUTE_STOP, {}))
        self.refused(NotFound, bob.update(created.id, Changes(attributes={"occi.core.title": "x"})))
        assert created.id not in self.ids(infra.COMPUTE, BOB)
        assert self.successResultOf(self.collection(infra.COMPUTE).get(created.id)).id == created.id

    def test_manager_sees_all_and_owned_only(self) -> None:
        """A manager sees every member's compute; owned_only keeps only its own."""
        alices = self.create_compute(principal=ALICE)
        bobs = self.create_compute(principal=BOB, binding=MANAGER_BINDING)
        manager = self.collection(infra.COMPUTE, BOB, MANAGER_BINDING)
        assert self.successResultOf(manager.get(alices.id)).id == alices.id
        everything = [e.id for e in self.successResultOf(manager.list(EntityFilter()))]
        assert {alices.id, bobs.id} <= set(everything)
        owned = [e.id for e in self.successResultOf(manager.list(EntityFilter(owned_only=True)))]
        assert bobs.id in owned and alices.id not in owned

    def test_start_on_active_conflicts(self) -> None:
        """Starting an active compute is a Conflict naming the state."""
        created = self.create_compute()
        error = self.refused(
            Conflict, self.collection(infra.COMPUTE).trigger(created.id, infra.COMPUTE_START, {}))
        assert "active" in error.message

    def test_action_of_another_kind(self) -> None:
        """An action of another kind is a BadRequest."""
        created = self.create_compute()
        self.refused(
            BadRequest, self.collection(infra.COMPUTE).trigger(created.id, infra.NETWORK_UP, {}))

    def template(self, term: str) -> Mixin:
        """The resource_tpl of the catalog called C{term}."""
        catalog = self.successResultOf(self.backend.catalog(MEMBER))
        [found] = [m for m in catalog.mixins
                   if m.term == term and m.depends_on(infra.RESOURCE_TPL)]
        return found

    def test_cores_and_memory_choose_the_type(self) -> None:
        """Without resource_tpl, cores and memory choose the smallest type holding them."""
        entity = self.new_compute("sized")
        entity.attributes.update({"occi.compute.cores": 2, "occi.compute.memory": 1.5})
        created = self.create(entity)
        fetched = self.successResultOf(self.collection(infra.COMPUTE).get(created.id))
        assert infra.template_of(fetched.mixins, infra.RESOURCE_TPL) == self.template("t3_small")
        assert float(fetched.attributes["occi.compute.memory"]) == 2.0

    def test_sizes_no_type_has(self) -> None:
        """Cores or memory no offered type has are a BadRequest naming them; nothing is made."""
        entity = self.new_compute("huge")
        entity.attributes["occi.compute.memory"] = 4096.0
        error = self.refused(BadRequest, self.collection(infra.COMPUTE).create(entity))
        assert "occi.compute.memory=4096" in error.message
        assert self.ids(infra.COMPUTE) == []

    def test_sizes_contradicting_the_template(self) -> None:
        """Cores or memory that differ from the named resource_tpl are a BadRequest."""
        entity = self.new_compute("contradiction")
        entity.mixins.append(self.template("t3_micro"))
        entity.attributes["occi.compute.memory"] = 2.0
        error = self.refused(BadRequest, self.collection(infra.COMPUTE).create(entity))
        assert "t3_micro" in error.message
        assert self.ids(infra.COMPUTE) == []

    def test_full_update_of_what_get_answered(self) -> None:
        """
        A full update restating the entity as read (immutable attributes
        included) minus its title succeeds and removes the title.
        """
        created = self.create_compute("titled")
        compute = self.collection(infra.COMPUTE)
        fetched = self.successResultOf(compute.get(created.id))
        attributes = {k: v for k, v in fetched.attributes.items() if k != "occi.core.title"}
        self.successResultOf(compute.update(created.id, Changes(
            mixins=list(fetched.mixins), attributes=attributes, replace=True)))
        assert self.successResultOf(compute.get(created.id)).title in (None, "")

    def test_full_update_changing_what_cannot_change(self) -> None:
        """
        A full update changing an immutable attribute is Forbidden; one
        dropping the os_tpl, or changing what EC2 derives (cores), a Conflict
        naming it.
        """
        created = self.create_compute("fixed")
        compute = self.collection(infra.COMPUTE)
        fetched = self.successResultOf(compute.get(created.id))

        def full(mixins, **changed) -> Changes:
            return Changes(mixins=list(mixins), replace=True,
                           attributes=dict(fetched.attributes, **changed))

        self.refused(Forbidden, compute.update(
            created.id, full(fetched.mixins, **{"occi.compute.state": "inactive"})))
        others = [m for m in fetched.mixins if not m.depends_on(infra.OS_TPL)]
        error = self.refused(Conflict, compute.update(created.id, full(others)))
        assert self.os_tpl.term in error.message
        error = self.refused(Conflict, compute.update(
            created.id, full(fetched.mixins, **{"occi.compute.cores": 64})))
        assert "occi.compute.cores" in error.message
        assert self.successResultOf(compute.get(created.id)).title == "fixed"

    def test_save_name_too_short(self) -> None:
        """save with a name EC2 refuses (under 3 characters) is a BadRequest."""
        created = self.create_compute()
        error = self.refused(BadRequest, self.collection(infra.COMPUTE).trigger(
            created.id, infra.COMPUTE_SAVE, {"name": "ab"}))
        assert "'ab'" in error.message

    def test_stop_then_start(self) -> None:
        """stop makes a compute inactive, start makes it active again."""
        created = self.create_compute()
        compute = self.collection(infra.COMPUTE)
        stopped = self.successResultOf(compute.trigger(created.id, infra.COMPUTE_STOP, {}))
        assert stopped.attributes["occi.compute.state"] == "inactive"
        assert infra.COMPUTE_START in stopped.actions
        started = self.successResultOf(compute.trigger(created.id, infra.COMPUTE_START, {}))
        assert started.attributes["occi.compute.state"] == "active"


class StorageContract(ContractHelpers):
    """Storage collections (EBS volumes)."""

    def test_create_get_delete(self) -> None:
        """A storage is created with its size and title, then deleted."""
        created = self.create(self.new_storage("disk", 1))
        assert created.id.startswith("vol-")
        storage = self.collection(infra.STORAGE)
        fetched = self.successResultOf(storage.get(created.id))
        assert float(fetched.attributes["occi.storage.size"]) == 1.0
        assert fetched.title == "disk"
        assert created.id in self.ids(infra.STORAGE)
        assert self.successResultOf(storage.delete(created.id)) is None
        self.assert_gone(infra.STORAGE, created.id)

    def test_other_principal_sees_not_found(self) -> None:
        """With owner visibility another member's storage is NotFound, never listed."""
        created = self.create(self.new_storage())
        bob = self.collection(infra.STORAGE, BOB)
        self.refused(NotFound, bob.get(created.id))
        self.refused(NotFound, bob.delete(created.id))
        assert created.id not in self.ids(infra.STORAGE, BOB)

    def test_read_only_binding_cannot_create(self) -> None:
        """A read-only binding creating a storage is Forbidden."""
        storage = self.collection(infra.STORAGE, ALICE, READ_ONLY)
        self.refused(Forbidden, storage.create(self.new_storage()))
        assert self.ids(infra.STORAGE) == []

    def test_read_only_binding_cannot_change_or_delete(self) -> None:
        """A read-only binding's update, action and delete of a storage are Forbidden."""
        created = self.create(self.new_storage("kept", 1))
        storage = self.collection(infra.STORAGE, ALICE, READ_ONLY)
        self.refused(Forbidden, storage.update(
            created.id, Changes(attributes={"occi.core.title": "renamed"})))
        self.refused(Forbidden, storage.trigger(created.id, infra.STORAGE_SNAPSHOT, {}))
        self.refused(Forbidden, storage.delete(created.id))
        assert self.successResultOf(self.collection(infra.STORAGE).get(created.id)).title == "kept"

    def test_rename_and_grow(self) -> None:
        """An update sets the title and grows the size."""
        created = self.create(self.new_storage("small", 1))
        storage = self.collection(infra.STORAGE)
        self.successResultOf(storage.update(created.id, Changes(
            attributes={"occi.core.title": "bigger", "occi.storage.size": 2})))
        fetched = self.successResultOf(storage.get(created.id))
        assert fetched.title == "bigger"
        assert float(fetched.attributes["occi.storage.size"]) == 2.0

    def test_resize_action(self) -> None:
        """resize with a size grows the volume as the size update does; shrinking is refused."""
        created = self.create(self.new_storage("grow", 1))
        storage = self.collection(infra.STORAGE)
        resized = self.successResultOf(
            storage.trigger(created.id, infra.STORAGE_RESIZE, {"size": 3}))
        assert float(resized.attributes["occi.storage.size"]) == 3.0
        fetched = self.successResultOf(storage.get(created.id))
        assert float(fetched.attributes["occi.storage.size"]) == 3.0
        self.refused(BadRequest, storage.trigger(created.id, infra.STORAGE_RESIZE, {"size": 2}))
        self.refused(BadRequest, storage.trigger(created.id, infra.STORAGE_RESIZE, {}))

    def test_online_offline_conflict(self) -> None:
        """EBS has no online or offline action: each is a Conflict naming it."""
        created = self.create(self.new_storage())
        storage = self.collection(infra.STORAGE)
        for action in (infra.STORAGE_ONLINE, infra.STORAGE_OFFLINE):
            error = self.refused(Conflict, storage.trigger(created.id, action, {}))
            assert action.term in error.message

    def test_full_update(self) -> None:
        """
        A full update restating the storage as read with a larger size and
        no title grows it and removes the title; changing its state is
        Forbidden.
        """
        created = self.create(self.new_storage("full", 1))
        storage = self.collection(infra.STORAGE)
        fetched = self.successResultOf(storage.get(created.id))
        attributes = {k: v for k, v in fetched.attributes.items() if k != "occi.core.title"}
        attributes["occi.storage.size"] = 2
        self.successResultOf(storage.update(created.id, Changes(
            mixins=list(fetched.mixins), attributes=attributes, replace=True)))
        after = self.successResultOf(storage.get(created.id))
        assert after.title in (None, "")
        assert float(after.attributes["occi.storage.size"]) == 2.0
        attributes["occi.storage.state"] = "offline"
        self.refused(Forbidden, storage.update(created.id, Changes(
            mixins=list(fetched.mixins), attributes=attributes, replace=True)))

    def test_unknown_id(self) -> None:
        """get and delete of an unknown volume are NotFound."""
        storage = self.collection(infra.STORAGE)
        self.refused(NotFound, storage.get("vol-0000000000000dead"))
        self.refused(NotFound, storage.delete("vol-0000000000000dead"))


class NetworkContract(ContractHelpers):
    """Network collections (VPCs), which every user of the account shares."""

    def test_create_get_delete(self) -> None:
        """A network is created active with its title and address, then deleted."""
        created = self.create(self.new_network("lab", "10.1.0.0/16"))
        assert created.id.startswith("vpc-")
        network = self.collection(infra.NETWORK)
        fetched = self.successResultOf(network.get(created.id))
        assert fetched.title == "lab"
        assert fetched.attributes["occi.network.address"] == "10.1.0.0/16"
        assert fetched.attributes["occi.network.state"] == "active"
        assert self.successResultOf(network.delete(created.id)) is None
        self.assert_gone(infra.NETWORK, created.id)

    def test_shared_by_the_account(self) -> None:
        """Another member of the account sees the network and lists it, in id order."""
        created = self.create(self.new_network())
        bob = self.collection(infra.NETWORK, BOB)
        assert self.successResultOf(bob.get(created.id)).id == created.id
        listed = self.ids(infra.NETWORK, BOB)
        assert created.id in listed
        assert listed == sorted(listed)

    def test_read_only_binding_cannot_create(self) -> None:
        """A read-only binding creating a network is Forbidden."""
        before = self.ids(infra.NETWORK)
        network = self.collection(infra.NETWORK, ALICE, READ_ONLY)
        self.refused(Forbidden, network.create(self.new_network()))
        assert self.ids(infra.NETWORK) == before

    def test_cannot_be_changed(self) -> None:
        """A network cannot be updated (Forbidden) nor brought up or down (Conflict)."""
        created = self.create(self.new_network())
        network = self.collection(infra.NETWORK)
        self.refused(Forbidden, network.update(
            created.id, Changes(attributes={"occi.core.title": "renamed"})))
        for action in (infra.NETWORK_UP, infra.NETWORK_DOWN):
            error = self.refused(Conflict, network.trigger(created.id, action, {}))
            assert action.term in error.message
        assert self.successResultOf(network.get(created.id)).title == "lab"

    def test_unknown_id(self) -> None:
        """get, delete and an action of an unknown network are NotFound."""
        network = self.collection(infra.NETWORK)
        self.refused(NotFound, network.get("vpc-0000000000000dead"))
        self.refused(NotFound, network.delete("vpc-0000000000000dead"))
        self.refused(NotFound, network.trigger("vpc-0000000000000dead", infra.NETWORK_UP, {}))

    def test_action_on_deleted_network(self) -> None:
        """An action on a network deleted a moment ago is NotFound, not Conflict."""
        created = self.create(self.new_network())
        network = self.collection(infra.NETWORK)
        self.successResultOf(network.delete(created.id))
        self.refused(NotFound, network.trigger(created.id, infra.NETWORK_DOWN, {}))

    def test_create_without_address(self) -> None:
        """
        A network create without occi.network.address takes the first /16 of
        the pool (10.0.0.0/8) that no network of the account uses.
        """
        taken = self.create(self.new_network("taken", "10.0.0.0/16"))
        entity = self.new_network("pooled")
        del entity.attributes["occi.network.address"]
        first = self.create(entity)
        second = self.create(entity)
        addresses = [self.successResultOf(self.collection(infra.NETWORK).get(made.id))
                     .attributes["occi.network.address"] for made in (taken, first, second)]
        assert addresses == ["10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16"]


class _LinkContract(ContractHelpers):
    """What both link kinds share; subclasses say which kind and make a target."""

    kind: Kind

    def target(self, principal: Principal) -> str:
        """The path of something C{principal} may link a compute to."""
        raise NotImplementedError

    def link(self, principal: Principal = ALICE) -> tuple[Entity, Entity, str]:
        """C{(compute, link, target)}: a new compute of C{principal} linked to L{target}."""
        compute = self.create_compute(principal=principal)
        target = self.target(principal)
        made = self.create(self.new_link(self.kind, compute, target), principal)
        return compute, made, target

    def test_create_get_list(self) -> None:
        """A link's id joins its compute's id and its target's; it reads back and is listed."""
        compute, made, target = self.link()
        assert made.id == f"{compute.id}_{target.rsplit('/', 1)[-1]}"
        assert made.kind == self.kind
        fetched = self.successResultOf(self.collection(self.kind).get(made.id))
        assert isinstance(fetched, Link)
        assert (fetched.source, fetched.target) == (compute.location, target)
        assert made.id in self.ids(self.kind)

    def test_delete(self) -> None:
        """Deleting a link fires with None."""
        _, made, _ = self.link()
        assert self.successResultOf(self.collection(self.kind).delete(made.id)) is None

    def test_read_only_binding_cannot_link_or_unlink(self) -> None:
        """A read-only binding's link create and delete are Forbidden."""
        compute, made, target = self.link()
        links = self.collection(self.kind, ALICE, READ_ONLY)
        self.refused(Forbidden, links.create(self.new_link(self.kind, compute, target)))
        self.refused(Forbidden, links.delete(made.id))
        assert made.id in self.ids(self.kind)

    def test_other_principal_sees_not_found(self) -> None:
        """Another member's link is NotFound, never listed."""
        _, made, _ = self.link(ALICE)
        bob = self.collection(self.kind, BOB)
        self.refused(NotFound, bob.get(made.id))
        self.refused(NotFound, bob.delete(made.id))
        assert made.id not in self.ids(self.kind, BOB)

    def test_cannot_be_changed(self) -> None:
        """A link cannot be updated (Forbidden) and has no action (BadRequest)."""
        _, made, _ = self.link()
        links = self.collection(self.kind)
        self.refused(Forbidden, links.update(made.id, Changes(attributes={"occi.core.title": "x"})))
        self.refused(BadRequest, links.trigger(made.id, infra.COMPUTE_START, {}))

    def test_unknown_id(self) -> None:
        """get of a link of an unknown compute is NotFound."""
        self.refused(NotFound, self.collection(self.kind).get("i-0000000000000dead_public"))


class NetworkInterfaceContract(_LinkContract):
    """
    Networkinterface links, here to the public network.  Once such a link is
    deleted, EC2 may still show the compute's public address it assigned at
    launch, so the link can be there again: no contract on what follows.
    """

    kind = infra.NETWORKINTERFACE

    def target(self, principal: Principal) -> str:
        """The public network."""
        return "/network/public"

    def test_link_twice_conflicts(self) -> None:
        """A second link of a compute to the public network is a Conflict."""
        compute, _, target = self.link()
        links = self.collection(self.kind)
        self.refused(Conflict, links.create(self.new_link(self.kind, compute, target)))


class StorageLinkContract(_LinkContract):
    """Storagelink links to a new storage in the compute's zone."""

    kind = infra.STORAGELINK

    def target(self, principal: Principal) -> str:
        """A new storage of C{principal}, in the provider's zone."""
        return self.create(self.new_storage(), principal).location

    def test_gone_after_delete(self) -> None:
        """A deleted storagelink is gone from get and from the listing."""
        _, made, _ = self.link()
        self.successResultOf(self.collection(self.kind).delete(made.id))
        self.assert_gone(self.kind, made.id)
