"""
Tests for L{occid.testing}: the memory fakes keep the backend contracts
(tests/contract.py) for the catalog and every kind, and their extra
behaviour (visibility, templates, state machine, test controls) is what the
web tests rely on; and for the raw HTTP client of L{tests.rawhttp}.
"""

from typing import cast

import pytest
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IRequest
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.interfaces import IAccountPolicy, IBackend
from occid.occi import infrastructure as infra
from occid.occi.errors import Conflict, Forbidden, NotFound, Unauthorized
from occid.occi.model import Changes, EntityFilter, Link, Mixin, Resource
from occid.testing import (
    MemoryBackend,
    StaticPolicy,
    identify_as,
    make_binding,
    make_principal,
    refuse_identity,
)
from tests.contract import (
    ALICE,
    BOB,
    MEMBER,
    CatalogContract,
    ComputeContract,
    ContractHelpers,
    NetworkContract,
    NetworkInterfaceContract,
    StorageContract,
    StorageLinkContract,
)
from tests.contract_idempotency import IdempotencyContract
from tests.contract_images import ImageContract
from tests.contract_snapshots import SnapshotContract
from tests.contract_usermixins import UserMixinContract
from tests.rawhttp import read_response


class MemoryProvider:
    """A fresh L{MemoryBackend} with its default templates."""

    os_tpl = infra.os_tpl_mixin("ami-0123456789abcdef0", "ubuntu-24.04-amd64-server",
                                "occi.example.org")
    zone = infra.availability_zone_mixin("eu-west-1a", "occi.example.org")
    backend: IBackend
    memory: MemoryBackend

    def setUp(self):
        self.memory = MemoryBackend()
        self.backend = self.memory


class MemoryCatalogTests(MemoryProvider, CatalogContract, SynchronousTestCase):
    """The memory backend's catalog keeps the catalog contract."""


class MemoryComputeTests(MemoryProvider, ComputeContract, SynchronousTestCase):
    """Memory computes keep the compute contract."""


class MemoryIdempotencyTests(MemoryProvider, IdempotencyContract, SynchronousTestCase):
    """Memory computes keep the idempotency contract."""


class MemoryStorageTests(MemoryProvider, StorageContract, SynchronousTestCase):
    """Memory storages keep the storage contract."""


class MemoryNetworkTests(MemoryProvider, NetworkContract, SynchronousTestCase):
    """Memory networks keep the network contract."""


class MemoryNetworkInterfaceTests(MemoryProvider, NetworkInterfaceContract, SynchronousTestCase):
    """Memory networkinterface links keep the networkinterface contract."""


class MemoryStorageLinkTests(MemoryProvider, StorageLinkContract, SynchronousTestCase):
    """Memory storagelinks keep the storagelink contract."""


class MemorySnapshotTests(MemoryProvider, SnapshotContract, SynchronousTestCase):
    """Memory snapshots keep the snapshot contract."""


class MemoryUserMixinTests(MemoryProvider, UserMixinContract, SynchronousTestCase):
    """Memory user mixins keep the user-mixin contract."""


class MemoryImageTests(MemoryProvider, ImageContract, SynchronousTestCase):
    """Memory saved images keep the saved-image contract."""


class MemoryBackendTests(MemoryProvider, ContractHelpers, SynchronousTestCase):
    """Behaviour of the fakes beyond the contracts."""

    def test_catalog_templates(self):
        """The catalog offers the configured os_tpl, resource_tpl and zones."""
        catalog = self.successResultOf(self.backend.catalog(MEMBER))
        assert catalog.mixin_at("/mixin/os_tpl/ami-0123456789abcdef0/") is not None
        assert catalog.mixin_at("/mixin/resource_tpl/t3_micro/") is not None
        assert catalog.mixin_at("/mixin/availability_zone/eu-west-1a/") is not None
        assert catalog.kind_at("/compute/") == infra.COMPUTE

    def test_offer_is_per_account(self):
        """offer() adds an os_tpl to one account only, under a new version."""
        other = make_binding(account="other")
        before = self.successResultOf(self.backend.catalog(MEMBER))
        self.memory.offer("fedcloud", "ami-00000000000000001", "extra")
        after = self.successResultOf(self.backend.catalog(MEMBER))
        assert after.version != before.version
        assert after.mixin_at("/mixin/os_tpl/ami-00000000000000001/") is not None
        elsewhere = self.successResultOf(self.backend.catalog(other))
        assert elsewhere.mixin_at("/mixin/os_tpl/ami-00000000000000001/") is None

    def test_accounts_are_separate(self):
        """An entity of one account is NotFound from another account."""
        created = self.create_compute()
        other = self.collection(infra.COMPUTE, ALICE, make_binding(account="other"))
        self.refused(NotFound, other.get(created.id))

    def test_vo_visibility(self):
        """With vo visibility members of the VO see each other's computes, others do not."""
        vo_binding = make_binding(visibility=Visibility.VO)
        created = self.create_compute(principal=ALICE, binding=vo_binding)
        bob = self.collection(infra.COMPUTE, BOB, vo_binding)
        assert self.successResultOf(bob.get(created.id)).id == created.id
        other_vo = make_binding(visibility=Visibility.VO, vo="other.vo")
        self.refused(NotFound, self.collection(infra.COMPUTE, BOB, other_vo).get(created.id))

    def test_restart_needs_active(self):
        """restart on an inactive compute is a Conflict naming the state."""
        created = self.create_compute()
        compute = self.collection(infra.COMPUTE)
        self.successResultOf(compute.trigger(created.id, infra.COMPUTE_STOP, {}))
        error = self.refused(Conflict, compute.trigger(created.id, infra.COMPUTE_RESTART, {}))
        assert "inactive" in error.message

    def test_save_returns_os_tpl(self):
        """save fires with a new os_tpl mixin named after the name parameter."""
        created = self.create_compute()
        saved = self.successResultOf(
            self.collection(infra.COMPUTE).trigger(created.id, infra.COMPUTE_SAVE, {"name": "golden"})
        )
        assert isinstance(saved, Mixin)
        assert saved.depends_on(infra.OS_TPL)
        assert saved.title == "golden"

    def test_immutable_attribute_forbidden(self):
        """Changing an immutable attribute (the state) is Forbidden."""
        created = self.create_compute()
        self.refused(
            Forbidden,
            self.collection(infra.COMPUTE).update(
                created.id, Changes(attributes={"occi.compute.state": "inactive"})
            ),
        )

    def test_resize_needs_inactive(self):
        """A resource_tpl change on an active compute conflicts; once stopped it replaces the old one."""
        small = resource_tpl_mixin("t3.small", 2, 2.0, "x86_64")
        large = resource_tpl_mixin("t3.large", 2, 8.0, "x86_64")
        entity = self.new_compute()
        entity.mixins.append(small)
        created = self.create(entity)
        compute = self.collection(infra.COMPUTE)
        self.refused(Conflict, compute.update(created.id, Changes(mixins=[large])))
        self.successResultOf(compute.trigger(created.id, infra.COMPUTE_STOP, {}))
        updated = self.successResultOf(compute.update(created.id, Changes(mixins=[large])))
        assert large in updated.mixins and small not in updated.mixins
        assert self.os_tpl in updated.mixins

    def test_links(self):
        """Links get ids derived from source and target; inline links get the new source."""
        entity = self.new_compute()
        entity.links.append(
            Link(kind=infra.NETWORKINTERFACE, id="", source="/compute/x", target="/network/public")
        )
        created = self.create(entity)
        assert isinstance(created, Resource)
        assert created.links[0].source == created.location
        assert created.links[0].id == f"{created.id}_public"
        link = self.create(
            Link(kind=infra.NETWORKINTERFACE, id="", source=created.location,
                 target="/network/public")
        )
        assert link.id == f"{created.id}_public"
        self.refused(
            Conflict,
            self.collection(infra.NETWORKINTERFACE).create(
                Link(kind=infra.NETWORKINTERFACE, id="", source=created.location,
                     target="/network/public")
            ),
        )

    def test_operations_recorded(self):
        """Every change is recorded for tests to inspect."""
        created = self.create_compute()
        compute = self.collection(infra.COMPUTE)
        self.successResultOf(compute.trigger(created.id, infra.COMPUTE_STOP, {"method": "poweroff"}))
        self.successResultOf(compute.delete(created.id))
        operations = [(op, term, id) for op, term, id, _ in self.memory.store.operations]
        assert operations == [
            ("create", "compute", created.id),
            ("trigger", "compute", created.id),
            ("delete", "compute", created.id),
        ]
        assert self.memory.store.operations[1][3] == (infra.COMPUTE_STOP, {"method": "poweroff"})

    def test_failure_injection(self):
        """A store failure makes every call fail with it."""
        self.memory.store.failure = RuntimeError("boom")
        self.failureResultOf(self.collection(infra.COMPUTE).list(EntityFilter()), RuntimeError)

    def test_stall(self):
        """A stalled store hands out Deferreds that never fire, and keeps them."""
        self.memory.store.stall = True
        pending = self.collection(infra.COMPUTE).get("i-1")
        self.assertNoResult(pending)
        assert self.memory.store.stalled == [pending]


def test_static_policy():
    """StaticPolicy provides IAccountPolicy, binds known DNs and refuses others naming the VO."""
    binding = make_binding()
    policy = StaticPolicy({ALICE.dn: binding})
    assert verifyObject(IAccountPolicy, policy)
    assert policy.bind(ALICE) is binding
    with pytest.raises(Forbidden) as raised:
        policy.bind(BOB)
    assert "fedcloud.egi.eu" in raised.value.message
    with pytest.raises(Forbidden) as raised:
        policy.bind(make_principal(dn="/CN=robot", vo=None))
    assert "VOMS" in raised.value.message


def test_identify_fakes():
    """identify_as answers its principal; refuse_identity raises Unauthorized with the reason."""
    request = cast(IRequest, object())  # the fakes never look at the request
    assert identify_as(ALICE)(request) is ALICE
    with pytest.raises(Unauthorized) as raised:
        refuse_identity("no client certificate")(request)
    assert raised.value.message == "no client certificate"


@pytest.mark.parametrize(
    "raw, body",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: x\r\n\r\nabcdef", b"abc"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n", b"abc"),
        (b"HTTP/1.0 404 Not Found\r\nX: y\r\n\r\nrest", b"rest"),
    ],
)
def test_read_response(raw, body):
    """read_response understands Content-Length, chunked and unframed bodies."""
    response = read_response(raw)
    assert response.body == body
    assert response.status in (200, 404)
