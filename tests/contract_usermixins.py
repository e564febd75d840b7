"""
The user-mixin contract (issue 10, point 7) every L{occid.interfaces.IBackend}
keeps, beside those of tests/contract.py: L{IBackend.mixins} hands out an
L{IMixinStore}; definitions are seen under the binding's visibility and
listed by the principal's catalog; memberships render on entities; the
refusals are the same.  Mixed, like the others, with a provider mixin and
C{SynchronousTestCase} in tests/test_testing.py and tests/test_ec2_contract.py.
"""

from __future__ import annotations

from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.interfaces import IMixinStore
from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Changes, EntityFilter, Mixin, Resource
from occid.policy import AccountBinding
from occid.testing import make_binding, make_principal
from tests.contract import ALICE, BOB, MEMBER, READ_ONLY, ContractHelpers

SCHEME = "https://tags.example.org/occi#"
VO_MEMBER = make_binding(visibility=Visibility.VO)
OTHER_VO = make_binding(visibility=Visibility.VO, vo="other.vo")
CAROL = make_principal(dn="/DC=org/DC=example/OU=Users/CN=Carol", vo="other.vo")


def user_mixin(term: str = "analysis") -> Mixin:
    """A user mixin of C{SCHEME} at C{/mixin/user/<term>/}."""
    return usermixins.user_mixin(term, SCHEME, f"{term} VMs", f"/mixin/user/{term}/")


class UserMixinContract(ContractHelpers):
    """What L{IBackend.mixins} and the catalog do with user mixins."""

    def store(self, principal=ALICE, binding: AccountBinding = MEMBER) -> IMixinStore:
        """The backend's mixin store for C{principal}."""
        return self.backend.mixins(principal, binding)

    def define(self, mixin: Mixin | None = None, principal=ALICE,
               binding: AccountBinding = MEMBER) -> Mixin:
        """C{mixin} (L{user_mixin} by default) defined by C{principal}."""
        mixin = mixin or user_mixin()
        return self.successResultOf(self.store(principal, binding).define(mixin))

    def catalog_of(self, principal=ALICE, binding: AccountBinding = MEMBER):
        """The catalog C{principal} gets."""
        return self.successResultOf(self.backend.catalog(binding, principal))

    def carried(self, kind, id, principal=ALICE, binding: AccountBinding = MEMBER):
        """The user mixins entity C{id} renders for C{principal}."""
        entity = self.successResultOf(self.collection(kind, principal, binding).get(id))
        return usermixins.user_mixins_of(entity.mixins)

    def test_provides_interface(self) -> None:
        """The backend hands out an IMixinStore."""
        assert verifyObject(IMixinStore, self.store())

    def test_defined_mixin_is_in_the_definers_catalog_only(self) -> None:
        """The owner's catalog lists a new definition; another owner's and the shared one do not."""
        mixin = self.define()
        catalog = self.catalog_of()
        assert catalog.lookup(mixin.identifier) == mixin
        assert catalog.mixin_at("/mixin/user/analysis/") == mixin
        assert self.catalog_of(BOB).lookup(mixin.identifier) is None
        shared = self.successResultOf(self.backend.catalog(MEMBER))
        assert shared.lookup(mixin.identifier) is None
        assert catalog.version != shared.version

    def test_vo_members_see_it_other_vos_do_not(self) -> None:
        """Under VO visibility the VO shares a definition; another VO never sees it."""
        mixin = self.define(binding=VO_MEMBER)
        assert self.catalog_of(BOB, VO_MEMBER).lookup(mixin.identifier) == mixin
        assert self.catalog_of(CAROL, OTHER_VO).lookup(mixin.identifier) is None

    def test_names_are_the_accounts(self) -> None:
        """An identifier or a location defined once in the account cannot be defined again."""
        self.define()
        self.refused(Conflict, self.store().define(user_mixin()))
        same_location = usermixins.user_mixin("other", SCHEME, "", "/mixin/user/analysis/")
        self.refused(Conflict, self.store(CAROL, OTHER_VO).define(same_location))
        same_identifier = usermixins.user_mixin("analysis", SCHEME, "", "/mixin/user/elsewhere/")
        self.refused(Conflict, self.store(CAROL, OTHER_VO).define(same_identifier))
        assert self.catalog_of(CAROL, OTHER_VO).mixin_at("/mixin/user/elsewhere/") is None

    def test_read_only_binding_cannot_write(self) -> None:
        """A limited proxy cannot define, tag, untag or remove."""
        mixin = self.define()
        compute = self.create_compute()
        limited = self.store(ALICE, READ_ONLY)
        self.refused(Forbidden, limited.define(user_mixin("other")))
        self.refused(Forbidden, limited.associate(mixin, [(infra.COMPUTE, compute.id)], False))
        self.refused(Forbidden, limited.dissociate(mixin, [(infra.COMPUTE, compute.id)]))
        self.refused(Forbidden, limited.remove(mixin))

    def test_associate_renders_lists_and_dissociates(self) -> None:
        """Tagged entities render the mixin and pass a filter on it, until untagged."""
        mixin = self.define()
        one, two = self.create_compute("one"), self.create_compute("two")
        disk = self.create(self.new_storage())
        targets = [(infra.COMPUTE, one.id), (infra.STORAGE, disk.id)]
        self.successResultOf(self.store().associate(mixin, targets, False))
        assert self.carried(infra.COMPUTE, one.id) == [mixin]
        assert self.carried(infra.STORAGE, disk.id) == [mixin]
        assert self.carried(infra.COMPUTE, two.id) == []
        wanted = EntityFilter(categories=(mixin.identifier,))
        assert self.ids(infra.COMPUTE, filter=wanted) == [one.id]
        self.successResultOf(self.store().dissociate(mixin, [(infra.COMPUTE, one.id)]))
        assert self.ids(infra.COMPUTE, filter=wanted) == []
        assert self.carried(infra.STORAGE, disk.id) == [mixin]

    def test_replace_makes_the_members(self) -> None:
        """PUT's association leaves exactly the named entities tagged."""
        mixin = self.define()
        one, two = self.create_compute("one"), self.create_compute("two")
        self.successResultOf(self.store().associate(mixin, [(infra.COMPUTE, one.id)], False))
        self.successResultOf(self.store().associate(mixin, [(infra.COMPUTE, two.id)], True))
        assert self.carried(infra.COMPUTE, one.id) == []
        assert self.carried(infra.COMPUTE, two.id) == [mixin]

    def test_unseen_targets_tag_nothing(self) -> None:
        """Another user's entity is NotFound, the public network BadRequest; nothing is tagged."""
        mixin = self.define()
        mine = self.create_compute("mine")
        theirs = self.create_compute("theirs", principal=BOB)
        self.refused(NotFound, self.store().associate(
            mixin, [(infra.COMPUTE, mine.id), (infra.COMPUTE, theirs.id)], False))
        self.refused(BadRequest, self.store().associate(
            mixin, [(infra.COMPUTE, mine.id), (infra.NETWORK, "public")], False))
        assert self.carried(infra.COMPUTE, mine.id) == []

    def test_unseen_mixin_is_not_found(self) -> None:
        """A definition the principal does not see cannot be used or removed."""
        mixin = self.define()
        carols = self.create_compute("c", principal=CAROL, binding=OTHER_VO)
        self.refused(NotFound, self.store(CAROL, OTHER_VO).associate(
            mixin, [(infra.COMPUTE, carols.id)], False))
        self.refused(NotFound, self.store(CAROL, OTHER_VO).remove(mixin))

    def test_remove_by_creator_or_manager_only(self) -> None:
        """A VO member who did not define it may not remove it; the creator may."""
        mixin = self.define(binding=VO_MEMBER)
        self.refused(Forbidden, self.store(BOB, VO_MEMBER).remove(mixin))
        compute = self.create_compute()
        self.successResultOf(self.store().associate(mixin, [(infra.COMPUTE, compute.id)], False))
        self.successResultOf(self.store(ALICE, VO_MEMBER).remove(mixin))
        assert self.catalog_of(ALICE, VO_MEMBER).lookup(mixin.identifier) is None
        assert self.carried(infra.COMPUTE, compute.id) == []
        self.refused(NotFound, self.store(ALICE, VO_MEMBER).remove(mixin))
        # The name is free again, and the old membership does not come back.
        again = self.define()
        assert self.carried(infra.COMPUTE, compute.id) == []
        manager = make_binding(visibility=Visibility.MANAGER)
        self.successResultOf(self.store(CAROL, manager).remove(again))

    def test_update_associates(self) -> None:
        """An entity update naming a user mixin associates it; a create naming one is refused."""
        mixin = self.define()
        compute = self.create_compute()
        updated = self.successResultOf(self.collection(infra.COMPUTE).update(
            compute.id, Changes(mixins=[mixin])))
        assert mixin in updated.mixins
        assert self.carried(infra.COMPUTE, compute.id) == [mixin]
        request = Resource(kind=infra.COMPUTE, id="", mixins=[self.os_tpl, self.zone, mixin])
        self.refused(BadRequest, self.collection(infra.COMPUTE).create(request))

    def test_full_update_keeps_or_drops_user_mixins(self) -> None:
        """
        A full update (PUT) restating an entity keeps the user mixins it
        names and dissociates one it leaves out.
        """
        mixin = self.define()
        compute = self.create_compute()
        computes = self.collection(infra.COMPUTE)
        self.successResultOf(computes.update(compute.id, Changes(mixins=[mixin])))
        current = self.successResultOf(computes.get(compute.id))
        restated = Changes(mixins=list(current.mixins), attributes=dict(current.attributes),
                           replace=True)
        self.successResultOf(computes.update(compute.id, restated))
        assert self.carried(infra.COMPUTE, compute.id) == [mixin]
        without = Changes(mixins=[m for m in current.mixins if m != mixin],
                          attributes=dict(current.attributes), replace=True)
        updated = self.successResultOf(computes.update(compute.id, without))
        assert mixin not in updated.mixins
        assert self.carried(infra.COMPUTE, compute.id) == []
