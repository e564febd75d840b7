"""
The IEntityCollection contract (tests/contract.py) run against the EC2
compute and storage providers, through L{EC2Backend.collection}, on moto.
"""

import pytest

from occid.ec2.backend import EC2Backend
from occid.occi import infrastructure as infra
from tests.contract import BackendCollections, EntityCollectionContract
from tests.motoserver import DEBIAN, PUBLIC_HOST, InlineReactor, SyncPool

pytestmark = pytest.mark.moto


class TestEC2Contract(BackendCollections, EntityCollectionContract):
    """The EC2 providers keep the contract every collection keeps."""

    os_tpl = infra.os_tpl_mixin(DEBIAN, "debian-12-amd64-test", PUBLIC_HOST)

    @pytest.fixture(autouse=True)
    def _backend(self, account):
        self.backend = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})
