"""
The saved-image contract (issue 11, point 2) every L{occid.interfaces.IBackend}
keeps, beside those of tests/contract.py: an image a user saves is offered
(in the principal's catalog) to those who see the maker's resources, and
L{IBackend.images} hands out an L{IImageStore} deleting it for its maker or
a manager, after which no catalog offers it.  Mixed, like the others, with a
provider mixin and C{SynchronousTestCase} in tests/test_testing.py and
tests/test_ec2_contract.py.
"""

from __future__ import annotations

from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.interfaces import IImageStore
from occid.occi import infrastructure as infra
from occid.occi.errors import Forbidden, NotFound
from occid.occi.model import Mixin
from occid.policy import AccountBinding
from occid.testing import make_binding
from tests.contract import ALICE, BOB, MANAGER_BINDING, MEMBER, READ_ONLY, ContractHelpers

VO_MEMBER = make_binding(visibility=Visibility.VO)


class ImageContract(ContractHelpers):
    """What the catalog and L{IBackend.images} do with the images users save."""

    def save(self, binding: AccountBinding = MEMBER) -> Mixin:
        """The os_tpl of an image Alice saves from a new compute of hers."""
        compute = self.create_compute(binding=binding)
        saved = self.successResultOf(self.collection(infra.COMPUTE, ALICE, binding).trigger(
            compute.id, infra.COMPUTE_SAVE, {"name": "golden"}))
        assert isinstance(saved, Mixin)
        return saved

    def offered(self, mixin: Mixin, principal=ALICE, binding: AccountBinding = MEMBER) -> bool:
        """Whether C{principal}'s catalog offers C{mixin} at its location."""
        catalog = self.successResultOf(self.backend.catalog(binding, principal))
        return catalog.mixin_at(f"/mixin/os_tpl/{mixin.term}/") == mixin

    def remove(self, mixin: Mixin, principal=ALICE, binding: AccountBinding = MEMBER):
        """The Deferred of C{principal}'s removal of C{mixin}."""
        return self.backend.images(principal, binding).remove(mixin)

    def test_provides_interface(self) -> None:
        """The backend hands out an IImageStore."""
        assert verifyObject(IImageStore, self.backend.images(ALICE, MEMBER))

    def test_offered_to_those_who_see_the_maker(self) -> None:
        """The maker's, a VO member's (vo visibility) and a manager's catalogs offer it; no other."""
        saved = self.save(VO_MEMBER)
        assert self.offered(saved, ALICE, VO_MEMBER)
        assert self.offered(saved, BOB, VO_MEMBER)
        assert self.offered(saved, BOB, MANAGER_BINDING)
        assert not self.offered(saved, BOB, MEMBER)
        shared = self.successResultOf(self.backend.catalog(MEMBER))
        assert shared.lookup(saved.identifier) is None

    def test_maker_deletes_it_and_it_is_offered_no_more(self) -> None:
        """The maker's removal succeeds; no catalog offers it after; a second removal is 404."""
        saved = self.save()
        assert self.successResultOf(self.remove(saved)) is None
        assert not self.offered(saved)
        assert not self.offered(saved, BOB, MANAGER_BINDING)
        self.refused(NotFound, self.remove(saved))

    def test_a_manager_deletes_it(self) -> None:
        """A manager may delete a member's saved image."""
        saved = self.save()
        self.successResultOf(self.remove(saved, BOB, MANAGER_BINDING))
        assert not self.offered(saved)

    def test_vo_member_who_did_not_make_it_is_refused(self) -> None:
        """Seen (vo visibility) but neither made nor managed: Forbidden, and it stays."""
        saved = self.save(VO_MEMBER)
        error = self.refused(Forbidden, self.remove(saved, BOB, VO_MEMBER))
        assert saved.term in error.message
        assert self.offered(saved, ALICE, VO_MEMBER)

    def test_one_who_does_not_see_it_gets_not_found(self) -> None:
        """Another member under owner visibility: NotFound, and it stays."""
        saved = self.save()
        self.refused(NotFound, self.remove(saved, BOB, MEMBER))
        assert self.offered(saved)

    def test_site_images_are_not_users_to_delete(self) -> None:
        """An os_tpl the site offers is Forbidden, even to a manager."""
        error = self.refused(Forbidden, self.remove(self.os_tpl, BOB, MANAGER_BINDING))
        assert "site" in error.message
        assert self.offered(self.os_tpl)

    def test_read_only_binding_is_refused(self) -> None:
        """A limited proxy may not delete its own saved image."""
        saved = self.save()
        self.refused(Forbidden, self.remove(saved, ALICE, READ_ONLY))
        assert self.offered(saved)
