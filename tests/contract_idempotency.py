"""
The idempotency contract (issue 11, point 9) every L{occid.interfaces.IBackend}
keeps: a compute create with an C{idempotency_key} makes one compute for
any number of retries of one request while that compute exists, refuses
the key for another request and once that compute is deleted (409), keys per user, and other kinds refuse
the key (400) without making anything.  Mixed with a provider mixin and
C{SynchronousTestCase} in tests/test_testing.py and tests/test_ec2_contract.py.
"""

from __future__ import annotations

from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict
from tests.contract import BOB, ContractHelpers


class IdempotencyContract(ContractHelpers):
    """What C{IEntityCollection.create(entity, idempotency_key)} does."""

    def keyed(self, title: str = "vm1", key: str = "retry-1", principal=None):
        """The compute a create of C{title} with C{key} answers."""
        collection = self.collection(infra.COMPUTE, *([principal] if principal else []))
        return self.successResultOf(collection.create(self.new_compute(title), key))

    def test_retry_answers_the_same_compute(self) -> None:
        """The same key and request again: the same compute, and only one exists."""
        first = self.keyed()
        again = self.keyed()
        assert again.id == first.id
        assert again.location == first.location
        assert self.ids(infra.COMPUTE) == [first.id]

    def test_same_key_other_request_conflicts(self) -> None:
        """The same key with another request: 409, nothing more made."""
        first = self.keyed("vm1")
        refusal = self.refused(Conflict, self.collection(infra.COMPUTE).create(
            self.new_compute("vm2"), "retry-1"))
        assert "Idempotency-Key" in refusal.message
        assert self.ids(infra.COMPUTE) == [first.id]

    def test_keys_are_per_user(self) -> None:
        """Another user's create with the same key and request makes another compute."""
        mine = self.keyed()
        theirs = self.keyed(principal=BOB)
        assert theirs.id != mine.id

    def test_other_keys_and_no_key_make_new_computes(self) -> None:
        """Another key, or none, is another create."""
        first = self.keyed(key="a")
        second = self.keyed(key="b")
        third = self.create_compute()
        assert len({first.id, second.id, third.id}) == 3

    def test_key_spent_once_the_compute_is_deleted(self) -> None:
        """
        Once the compute is deleted, a create with its key is 409 naming
        it (EC2 refuses the token of a terminated instance), and nothing
        is made.
        """
        first = self.keyed()
        self.successResultOf(self.collection(infra.COMPUTE).delete(first.id))
        refusal = self.refused(Conflict, self.collection(infra.COMPUTE).create(
            self.new_compute("vm1"), "retry-1"))
        assert first.id in refusal.message
        assert self.ids(infra.COMPUTE) == []

    def test_storage_refuses_the_key(self) -> None:
        """A storage create with a key: 400 naming the kind, no volume made."""
        refusal = self.refused(BadRequest, self.collection(infra.STORAGE).create(
            self.new_storage(), "retry-1"))
        assert "not supported for storage" in refusal.message
        assert self.ids(infra.STORAGE) == []
