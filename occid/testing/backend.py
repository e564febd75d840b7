# -*- test-case-name: tests.test_testing -*-
"""
A cloud in a dict: L{MemoryBackend} hands out one catalog per account and
L{occid.testing.memory.MemoryCollection}s over one shared store.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet import defer
from zope.interface import implementer

from occid.ec2.members import MemberCollection
from occid.ec2.vocabulary import EC2_KINDS, HIBERNATION, MARKERS, SNAPSHOT, resource_tpl_mixin
from occid.gsi.principal import Principal
from occid.interfaces import IBackend, ICatalog, IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.catalog import Catalog
from occid.occi.errors import NotFound
from occid.occi.model import Kind, Mixin
from occid.policy import AccountBinding
from occid.testing.images import MemoryImageStore, saved_for
from occid.testing.memory import MemoryCollection, MemoryStore
from occid.testing.snapshots import MemorySnapshots, MemoryStorage
from occid.testing.usermixins import MemoryMixins, MemoryMixinStore, sees_for

#: The templates a L{MemoryBackend} offers unless told otherwise: images as
#: C{(AMI id, title)}, instance types as C{(name, cores, memory in GiB,
#: architecture)}, and availability zones.
DEFAULT_AMIS = (
    ("ami-0123456789abcdef0", "ubuntu-24.04-amd64-server"),
    ("ami-0fedcba9876543210", "debian-12-amd64"),
)
DEFAULT_INSTANCE_TYPES = (
    ("t3.micro", 2, 1.0, "x86_64"),
    ("t3.small", 2, 2.0, "x86_64"),
    ("t3.large", 2, 8.0, "x86_64"),
)
DEFAULT_ZONES = ("eu-west-1a", "eu-west-1b")

#: The kinds a L{MemoryBackend} has collections for.
COLLECTION_KINDS = (
    infra.COMPUTE, infra.STORAGE, infra.NETWORK, infra.NETWORKINTERFACE,
    infra.STORAGELINK, SNAPSHOT,
)

#: The collection class of the kinds that need more than L{MemoryCollection}.
COLLECTION_CLASSES: dict[Kind, type[MemoryCollection]] = {
    infra.STORAGE: MemoryStorage, SNAPSHOT: MemorySnapshots}


@implementer(IBackend)
class MemoryBackend:
    """
    A cloud in a dict: one L{Catalog} per account (built from C{amis},
    C{instance_types} and C{zones}; L{offer} adds an os_tpl to one account)
    and L{MemoryCollection}s over one L{MemoryStore}.  C{default_image} and
    C{network_pool} stand for C{[images] default} and C{[aws] network_pool};
    C{hibernating_types} are the types that can hibernate (default: all), as
    under C{[aws] hibernation = "on-request"}.
    """

    def __init__(
        self,
        public_host: str = "occi.example.org",
        amis: Sequence[tuple[str, str]] = DEFAULT_AMIS,
        instance_types: Sequence[tuple[str, int, float, str]] = DEFAULT_INSTANCE_TYPES,
        zones: Sequence[str] = DEFAULT_ZONES,
        default_image: str = "",
        network_pool: str = "10.0.0.0/8",
        hibernating_types: Sequence[str] | None = None,
    ) -> None:
        self.user_mixins = MemoryMixins()
        self._public_host = public_host
        self._templates = tuple(
            [infra.os_tpl_mixin(ami, title, public_host) for ami, title in amis]
            + [resource_tpl_mixin(*spec) for spec in instance_types]
            + [infra.availability_zone_mixin(zone, public_host) for zone in zones]
        )
        self.store = MemoryStore(public_host=public_host, templates=self._templates,
                                 default_image=default_image, network_pool=network_pool,
                                 hibernating_types=frozenset(
                                     [t[0] for t in instance_types] if hibernating_types is None
                                     else hibernating_types))
        self._extra: dict[str, tuple[Mixin, ...]] = {}
        self._catalogs: dict[str, Catalog] = {}
        self.catalog_calls = 0

    def offer(self, account: str, ami_id: str, title: str) -> None:
        """Add an os_tpl to C{account}'s catalog (a new catalog version)."""
        mixin = infra.os_tpl_mixin(ami_id, title, self._public_host)
        self._extra[account] = self._extra.get(account, ()) + (mixin,)
        self._catalogs.pop(account, None)

    def catalog(
        self, binding: AccountBinding, principal: Principal | None = None
    ) -> defer.Deferred[ICatalog]:
        """
        The account's catalog, plus for C{principal} the images saved by
        those it sees and the user mixins it sees.
        """
        self.catalog_calls += 1
        account = binding.account
        if account not in self._catalogs:
            extra = self._extra.get(account, ())
            self._catalogs[account] = Catalog(
                MARKERS + (HIBERNATION,) + self._templates + extra,
                version=f"{account}-{len(extra)}", kinds=EC2_KINDS,
            )
        catalog = self._catalogs[account]
        if principal is not None:
            saved = saved_for(self.store, principal, binding)
            if saved:
                catalog = catalog.extended(saved, "-".join((catalog.version,)
                                                           + tuple(m.term for m in saved)))
            seen = usermixins.visible(self.user_mixins.of(account), sees_for(principal, binding))
            catalog = usermixins.with_user_mixins(catalog, seen)
        return defer.succeed(catalog)

    def collection(
        self, kind: Kind, principal: Principal, binding: AccountBinding
    ) -> IEntityCollection:
        """
        The L{MemoryCollection} of C{kind} for C{principal} in C{binding}'s
        account.

        @raise NotFound: no collection for that kind (the core kinds).
        """
        if kind not in COLLECTION_KINDS:
            raise NotFound(f"no collection for {kind.identifier}")
        store = self.mixins(principal, binding)
        memory = COLLECTION_CLASSES.get(kind, MemoryCollection)(kind, principal, binding,
                                                                 self.store)
        return MemberCollection(memory, store,
                                lambda entities: defer.succeed(store.carried(entities)))

    def mixins(self, principal: Principal, binding: AccountBinding) -> MemoryMixinStore:
        """The user mixins of C{binding}'s account, for C{principal}."""
        return MemoryMixinStore(principal, binding, self.user_mixins, self.store)

    def images(self, principal: Principal, binding: AccountBinding) -> MemoryImageStore:
        """The images saved in C{binding}'s account, for C{principal}."""
        return MemoryImageStore(principal, binding, self.store,
                                self._templates + self._extra.get(binding.account, ()))

    def breaker_states(self) -> list[tuple[str, str, str]]:
        """No breakers: the cloud in a dict is always there."""
        return []
