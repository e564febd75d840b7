"""
Tests for L{occid.testing}: the memory fakes pass the IEntityCollection
contract, and their extra behaviour (visibility, templates, state machine,
test controls, raw HTTP helpers) is what the web tests rely on.
"""

import pytest
from twisted.internet import defer
from zope.interface.verify import verifyObject

from occid.interfaces import IAccountPolicy, IBackend, ICatalog
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from occid.occi.model import Changes, EntityFilter, Link, Mixin, Resource
from occid.policy import VO
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
    BackendCollections,
    EntityCollectionContract,
    resolve_synchronously,
)
from tests.rawhttp import read_response


class TestMemoryCollectionContract(BackendCollections, EntityCollectionContract):
    """The memory fake passes the contract every IEntityCollection must pass."""

    def setup_method(self):
        self.backend = MemoryBackend()


class TestMemoryBackend(BackendCollections):
    """Behaviour of the fakes beyond the contract."""

    def setup_method(self):
        self.backend = MemoryBackend()

    def test_provides_interfaces(self):
        """The backend, its catalogs and the policy provide their interfaces."""
        assert verifyObject(IBackend, self.backend)
        assert verifyObject(ICatalog, self.resolve(self.backend.catalog(MEMBER)))
        assert verifyObject(IAccountPolicy, StaticPolicy({}))

    def test_catalog_templates(self):
        """The catalog offers the configured os_tpl, resource_tpl and zones."""
        catalog = self.resolve(self.backend.catalog(MEMBER))
        assert catalog.mixin_at("/mixin/os_tpl/ami-0123456789abcdef0/") is not None
        assert catalog.mixin_at("/mixin/resource_tpl/t3_micro/") is not None
        assert catalog.mixin_at("/mixin/availability_zone/eu-west-1a/") is not None
        assert catalog.kind_at("/compute/") == infra.COMPUTE

    def test_offer_is_per_account(self):
        """offer() adds an os_tpl to one account only, under a new version."""
        other = make_binding(account="other")
        before = self.resolve(self.backend.catalog(MEMBER))
        self.backend.offer("fedcloud", "ami-00000000000000001", "extra")
        after = self.resolve(self.backend.catalog(MEMBER))
        assert after.version != before.version
        assert after.mixin_at("/mixin/os_tpl/ami-00000000000000001/") is not None
        elsewhere = self.resolve(self.backend.catalog(other))
        assert elsewhere.mixin_at("/mixin/os_tpl/ami-00000000000000001/") is None

    def test_collection_for_core_kind_is_not_found(self):
        """There is no collection for the abstract core kinds."""
        with pytest.raises(NotFound):
            self.backend.collection(infra.RESOURCE, ALICE, MEMBER)

    def test_accounts_are_separate(self):
        """An entity of one account is NotFound from another account."""
        created = self.create_compute()
        other = self.compute(ALICE, make_binding(account="other"))
        self.raises(NotFound, other.get(created.id))

    def test_vo_visibility(self):
        """With vo visibility members of the VO see each other's computes, others do not."""
        vo_binding = make_binding(visibility=VO)
        created = self.create_compute(principal=ALICE, binding=vo_binding)
        assert self.resolve(self.compute(BOB, vo_binding).get(created.id)).id == created.id
        other_vo = make_binding(visibility=VO, vo="other.vo")
        self.raises(NotFound, self.compute(BOB, other_vo).get(created.id))

    def test_networks_shared(self):
        """Networks (VPCs) are visible to every user of the account."""
        network = self.make_collection(infra.NETWORK, ALICE, MEMBER)
        created = self.resolve(network.create(Resource(kind=infra.NETWORK, id="")))
        assert created.id.startswith("vpc-")
        bob = self.make_collection(infra.NETWORK, BOB, MEMBER)
        assert self.resolve(bob.get(created.id)).id == created.id

    def test_restart_needs_active(self):
        """restart on an inactive compute is a Conflict naming the state."""
        created = self.create_compute()
        self.resolve(self.compute().trigger(created.id, infra.COMPUTE_STOP, {}))
        error = self.raises(
            Conflict, self.compute().trigger(created.id, infra.COMPUTE_RESTART, {})
        )
        assert "inactive" in error.message

    def test_action_of_other_kind(self):
        """An action of another kind is a BadRequest."""
        created = self.create_compute()
        self.raises(BadRequest, self.compute().trigger(created.id, infra.NETWORK_UP, {}))

    def test_save_returns_os_tpl(self):
        """save fires with a new os_tpl mixin named after the name parameter."""
        created = self.create_compute()
        saved = self.resolve(
            self.compute().trigger(created.id, infra.COMPUTE_SAVE, {"name": "golden"})
        )
        assert isinstance(saved, Mixin)
        assert saved.depends_on(infra.OS_TPL)
        assert saved.title == "golden"

    def test_immutable_attribute_forbidden(self):
        """Changing an immutable attribute (the state) is Forbidden."""
        created = self.create_compute()
        self.raises(
            Forbidden,
            self.compute().update(
                created.id, Changes(attributes={"occi.compute.state": "inactive"})
            ),
        )

    def test_resize_needs_inactive(self):
        """A resource_tpl change on an active compute conflicts; once stopped it replaces the old one."""
        small = infra.resource_tpl_mixin("t3.small", 2, 2.0, "x86_64")
        large = infra.resource_tpl_mixin("t3.large", 2, 8.0, "x86_64")
        entity = self.new_compute()
        entity.mixins.append(small)
        created = self.resolve(self.compute().create(entity))
        self.raises(Conflict, self.compute().update(created.id, Changes(mixins=[large])))
        self.resolve(self.compute().trigger(created.id, infra.COMPUTE_STOP, {}))
        updated = self.resolve(self.compute().update(created.id, Changes(mixins=[large])))
        assert large in updated.mixins and small not in updated.mixins
        assert self.os_tpl in updated.mixins

    def test_links(self):
        """Links get ids derived from source and target; inline links get the new source."""
        entity = self.new_compute()
        entity.links.append(
            Link(kind=infra.NETWORKINTERFACE, id="", source="/compute/x", target="/network/public")
        )
        created = self.resolve(self.compute().create(entity))
        assert created.links[0].source == created.location
        assert created.links[0].id == f"{created.id}_public"
        links = self.make_collection(infra.NETWORKINTERFACE, ALICE, MEMBER)
        link = self.resolve(
            links.create(
                Link(kind=infra.NETWORKINTERFACE, id="", source=created.location,
                     target="/network/public")
            )
        )
        assert link.id == f"{created.id}_public"
        self.raises(
            Conflict,
            links.create(
                Link(kind=infra.NETWORKINTERFACE, id="", source=created.location,
                     target="/network/public")
            ),
        )

    def test_operations_recorded(self):
        """Every change is recorded for tests to inspect."""
        created = self.create_compute()
        self.resolve(self.compute().trigger(created.id, infra.COMPUTE_STOP, {"method": "poweroff"}))
        self.resolve(self.compute().delete(created.id))
        operations = [(op, term, id) for op, term, id, _ in self.backend.store.operations]
        assert operations == [
            ("create", "compute", created.id),
            ("trigger", "compute", created.id),
            ("delete", "compute", created.id),
        ]
        assert self.backend.store.operations[1][3] == (infra.COMPUTE_STOP, {"method": "poweroff"})

    def test_failure_injection(self):
        """A store failure makes every call fail with it."""
        self.backend.store.failure = RuntimeError("boom")
        with pytest.raises(RuntimeError):
            self.resolve(self.compute().list(EntityFilter()))

    def test_stall(self):
        """A stalled store hands out Deferreds that never fire, and keeps them."""
        self.backend.store.stall = True
        pending = self.compute().get("i-1")
        assert not pending.called
        assert self.backend.store.stalled == [pending]


def test_static_policy():
    """StaticPolicy binds known DNs and refuses others naming the VO."""
    binding = make_binding()
    policy = StaticPolicy({ALICE.dn: binding})
    assert policy.bind(ALICE) is binding
    with pytest.raises(Forbidden) as raised:
        policy.bind(BOB)
    assert "fedcloud.egi.eu" in raised.value.message
    with pytest.raises(Forbidden) as raised:
        policy.bind(make_principal(dn="/CN=robot", vo=None))
    assert "VOMS" in raised.value.message


def test_identify_fakes():
    """identify_as answers its principal; refuse_identity raises Unauthorized with the reason."""
    assert identify_as(ALICE)(object()) is ALICE
    with pytest.raises(Unauthorized) as raised:
        refuse_identity("no client certificate")(object())
    assert raised.value.message == "no client certificate"


def test_resolve_synchronously():
    """resolve_synchronously returns results, raises failures, and refuses pending Deferreds."""
    assert resolve_synchronously(defer.succeed(3)) == 3
    with pytest.raises(KeyError):
        resolve_synchronously(defer.fail(KeyError("x")))
    with pytest.raises(AssertionError):
        resolve_synchronously(defer.Deferred())


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
