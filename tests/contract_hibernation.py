"""
The hibernation behaviour every L{occid.interfaces.IBackend} must have
under C{[aws] hibernation = "on-request"}: the C{hibernation} mixin is
offered, refused with an instance type that cannot hibernate, and only a
compute created with it offers (and may be sent) suspend.

A provider mixin sets, besides what L{tests.contract.ContractHelpers}
needs, C{warm} and C{cold}: resource_tpl mixins its catalog offers, of a
type that can hibernate and of one that cannot.
"""

from __future__ import annotations

from occid.ec2.vocabulary import HIBERNATION
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict
from occid.occi.model import Mixin
from tests.contract import MEMBER, ContractHelpers


class HibernationContract(ContractHelpers):
    """Asking for hibernation at create, and suspend."""

    warm: Mixin
    cold: Mixin

    def test_mixin_and_suspend_offered(self) -> None:
        """The catalog offers the hibernation mixin and the suspend action."""
        catalog = self.successResultOf(self.backend.catalog(MEMBER))
        assert catalog.lookup(HIBERNATION.identifier) == HIBERNATION
        assert infra.COMPUTE_SUSPEND in catalog.actions

    def test_hibernating_compute_offers_suspend(self) -> None:
        """Created with the mixin and a type that can: it carries the mixin, and suspend."""
        request = self.new_compute()
        request.mixins += [self.warm, HIBERNATION]
        made = self.create(request)
        got = self.successResultOf(self.collection(infra.COMPUTE).get(made.id))
        assert infra.COMPUTE_SUSPEND in got.actions
        assert HIBERNATION in got.mixins

    def test_type_that_cannot_hibernate_is_refused(self) -> None:
        """The mixin with a type that cannot hibernate: BadRequest naming the type, nothing made."""
        request = self.new_compute()
        request.mixins += [self.cold, HIBERNATION]
        refusal = self.refused(BadRequest, self.collection(infra.COMPUTE).create(request))
        assert f"{self.cold.term.replace('_', '.')} cannot hibernate" in refusal.message
        assert self.ids(infra.COMPUTE) == []

    def test_suspend_without_hibernation_conflicts(self) -> None:
        """A compute created without the mixin: no suspend action, and suspend is Conflict."""
        made = self.create_compute()
        got = self.successResultOf(self.collection(infra.COMPUTE).get(made.id))
        assert infra.COMPUTE_SUSPEND not in got.actions
        assert HIBERNATION not in got.mixins
        assert infra.COMPUTE_STOP in got.actions
        refusal = self.refused(Conflict, self.collection(infra.COMPUTE).trigger(
            made.id, infra.COMPUTE_SUSPEND, {}))
        assert "not launched with hibernation" in refusal.message
