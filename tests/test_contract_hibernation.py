"""
The hibernation contract (tests/contract_hibernation.py) run against the
memory fake and the EC2 backend on a moto server.
"""

import pytest
from twisted.trial.unittest import SynchronousTestCase

from occid.ec2.backend import EC2Backend
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.interfaces import IBackend
from occid.testing import MemoryBackend
from tests.contract_hibernation import HibernationContract
from tests.motoserver import InlineReactor, SyncPool, make_account, make_config
from tests.test_ec2_contract import EC2Provider
from tests.test_testing import MemoryProvider


class MemoryHibernationTests(MemoryProvider, HibernationContract, SynchronousTestCase):
    """The fake, where t3.large cannot hibernate."""

    warm = resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")
    cold = resource_tpl_mixin("t3.large", 2, 8.0, "x86_64")

    def setUp(self):
        self.memory = MemoryBackend(hibernating_types=("t3.micro", "t3.small"))
        self.backend = self.memory


@pytest.mark.moto
class EC2HibernationTests(EC2Provider, HibernationContract, SynchronousTestCase):
    """EC2 on moto, whose a1.medium cannot hibernate."""

    warm = resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")
    cold = resource_tpl_mixin("a1.medium", 1, 2.0, "arm64")
    backend: IBackend

    @pytest.fixture(autouse=True)
    def _ec2_backend(self, moto):
        account = make_account(make_config(moto.endpoint, instance_types=("t3.micro", "a1.medium")))
        self.backend = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})
