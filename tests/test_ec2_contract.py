"""
The backend contracts (tests/contract.py) run against the EC2 backend on a
moto server: its catalog and its collections of every kind, through
C{EC2Backend.catalog} and C{EC2Backend.collection}, with the EC2 calls run
inline (L{SyncPool}, L{InlineReactor}).
"""

import pytest
from twisted.trial.unittest import SynchronousTestCase

from occid.ec2.backend import EC2Backend
from occid.interfaces import IBackend
from occid.occi import infrastructure as infra
from tests.contract import (
    CatalogContract,
    ComputeContract,
    NetworkContract,
    NetworkInterfaceContract,
    StorageContract,
    StorageLinkContract,
)
from tests.contract_idempotency import IdempotencyContract
from tests.contract_images import ImageContract
from tests.contract_snapshots import SnapshotContract
from tests.contract_usermixins import UserMixinContract
from tests.motoserver import DEBIAN, PUBLIC_HOST, InlineReactor, SyncPool, make_account, make_config

pytestmark = pytest.mark.moto


class EC2Provider:
    """
    The EC2 backend over account C{fedcloud} on the freshly reset moto
    server, letting users create and delete networks.
    """

    os_tpl = infra.os_tpl_mixin(DEBIAN, "debian-12-amd64-test", PUBLIC_HOST)
    zone = infra.availability_zone_mixin("eu-west-1a", PUBLIC_HOST)
    backend: IBackend

    @pytest.fixture(autouse=True)
    def _ec2_backend(self, moto):
        account = make_account(make_config(moto.endpoint, network_create=True, network_delete=True))
        self.backend = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})


class EC2CatalogTests(EC2Provider, CatalogContract, SynchronousTestCase):
    """The EC2 backend's catalog keeps the catalog contract."""


class EC2ComputeTests(EC2Provider, ComputeContract, SynchronousTestCase):
    """EC2 instances keep the compute contract."""


class EC2IdempotencyTests(EC2Provider, IdempotencyContract, SynchronousTestCase):
    """EC2 instances keep the idempotency contract."""


class EC2StorageTests(EC2Provider, StorageContract, SynchronousTestCase):
    """EBS volumes keep the storage contract."""


class EC2NetworkTests(EC2Provider, NetworkContract, SynchronousTestCase):
    """VPCs keep the network contract."""


class EC2NetworkInterfaceTests(EC2Provider, NetworkInterfaceContract, SynchronousTestCase):
    """Elastic IPs on instances keep the networkinterface contract."""


class EC2StorageLinkTests(EC2Provider, StorageLinkContract, SynchronousTestCase):
    """Volume attachments keep the storagelink contract."""


class EC2SnapshotTests(EC2Provider, SnapshotContract, SynchronousTestCase):
    """EBS snapshots keep the snapshot contract."""


class EC2UserMixinTests(EC2Provider, UserMixinContract, SynchronousTestCase):
    """SSM definitions and EC2 membership tags keep the user-mixin contract."""


class EC2ImageTests(EC2Provider, ImageContract, SynchronousTestCase):
    """AMIs saved through occid and their snapshots keep the saved-image contract."""
