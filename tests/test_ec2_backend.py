"""
Tests for L{occid.ec2.backend}: the IBackend, the service (pool started with
it and stopped after shutdown, catalog loaded at start and then served from
memory, reconciler timer), and two accounts reached through roles.
"""

import pytest
from twisted.application.internet import TimerService
from twisted.logger import LogLevel, capturedLogs, formatEvent
from zope.interface.verify import verifyObject

from occid.config import AccountConfig
from occid.ec2 import backend as backend_module
from occid.ec2.accounts import make_accounts
from occid.ec2.backend import RECONCILE_EVERY, WATCH_FIRST, EC2Backend
from occid.ec2.clients import build_clients
from occid.ec2.service import DISTRIBUTED_REFRESH, make_backend_service
from occid.interfaces import IBackend
from occid.occi import corekinds, errors
from occid.occi import infrastructure as infra
from occid.occi.model import EntityFilter, Link, Resource
from tests.ec2hooks import count_calls
from tests.motoserver import (
    DEBIAN,
    JANE,
    PUBLIC_HOST,
    InlineReactor,
    SyncPool,
    binding,
    failureResultOf,
    make_account,
    make_config,
    successResultOf,
    wait,
)

pytestmark = pytest.mark.moto

def test_service_runs_the_pool_and_loads_catalogs(moto):
    """
    Starting the service starts the occid-aws pool and loads every catalog;
    the catalog is then answered without an EC2 call; the pool stops after
    reactor shutdown.
    """
    reactor = InlineReactor()
    backend, service = make_backend_service(make_config(moto.endpoint), reactor)
    verifyObject(IBackend, backend)
    service.startService()
    try:
        catalog = wait(backend.catalog(binding()))
        assert catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
        calls = count_calls(backend._served["fedcloud"].accounts[0].client)
        assert wait(backend.catalog(binding())) is catalog
        assert sum(calls.values()) == 0
        compute = backend.collection(infra.COMPUTE, JANE, binding())
        assert wait(compute.list(EntityFilter())) == []
    finally:
        service.stopService()
        pool = service.services[0].pool
        for trigger, args, kwargs in reactor.triggers["after"]["shutdown"]:
            trigger(*args, **kwargs)
    assert pool.started is False
    assert pool.name == "occid-aws"


def test_unknown_kind_and_account(moto):
    """A kind without a collection, or an account the backend lacks, is NotFound."""
    backend = EC2Backend(InlineReactor(), SyncPool(), {})
    with pytest.raises(errors.NotFound):
        backend.collection(corekinds.RESOURCE, JANE, binding())
    failureResultOf(backend.catalog(binding()), errors.NotFound)


def test_catalog_first_load_is_shared(moto):
    """Before the first load, a catalog request loads it once; later ones come from memory."""
    config = make_config(moto.endpoint)
    accounts = make_accounts(config, build_clients(config))
    account = accounts["fedcloud"]
    assert not account.catalog.loaded
    backend = EC2Backend(InlineReactor(), SyncPool(), accounts)
    calls = count_calls(account.client)
    first = successResultOf(backend.catalog(binding()))
    loaded = sum(calls.values())
    assert successResultOf(backend.catalog(binding())) is first
    assert sum(calls.values()) == loaded


def two_role_accounts(moto):
    """A backend over accounts a and b, each reached through its own role."""
    config = make_config(moto.endpoint, accounts=(
        AccountConfig(name="a", fqans=("/a",), role_arn="arn:aws:iam::111111111111:role/occid"),
        AccountConfig(name="b", fqans=("/b",), role_arn="arn:aws:iam::222222222222:role/occid"),
    ))
    accounts = {name: make_account(config, name) for name in ("a", "b")}
    return EC2Backend(InlineReactor(), SyncPool(), accounts)


def test_reconcile_and_refresh_cover_every_account(moto):
    """The timers' callables run over every account and never fail."""
    backend = two_role_accounts(moto)
    results = successResultOf(backend.reconcile())
    assert [ok for ok, _ in results] == [True, True]
    assert all(report.errors == [] for _, report in results)
    assert [ok for ok, _ in successResultOf(backend.refresh_catalogs())] == [True, True]


def test_two_role_accounts_see_only_their_own(moto):
    """Computes created through account a are invisible through account b, even to a manager."""
    backend = two_role_accounts(moto)
    in_a = backend.collection(infra.COMPUTE, JANE, binding(account="a"))
    made = successResultOf(in_a.create(Resource(kind=infra.COMPUTE, id="", mixins=[
        infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)])))
    manager_b = backend.collection(infra.COMPUTE, JANE, binding("manager", account="b"))
    assert successResultOf(manager_b.list(EntityFilter())) == []
    failureResultOf(manager_b.get(made.id), errors.NotFound)
    assert [e.id for e in successResultOf(in_a.list(EntityFilter()))] == [made.id]


def watched_backend(account):
    """A backend over C{account} on a memory clock, its EC2 calls run inline; (backend, clock)."""
    reactor = InlineReactor()
    return EC2Backend(reactor, SyncPool(), {"fedcloud": account}), reactor


def test_new_compute_with_inline_links_is_watched(moto):
    """
    A create with an inline public link schedules a look 2 s later, which
    finds the instance running and makes the link, with no reconciler pass;
    nothing is left scheduled.  A create without links schedules nothing.
    """
    account = make_account(make_config(moto.endpoint))
    backend, clock = watched_backend(account)
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    plain = successResultOf(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)])))
    assert clock.getDelayedCalls() == []
    vm = successResultOf(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)],
        links=[Link(kind=infra.NETWORKINTERFACE, id="", source="", target="/network/public")])))
    assert [call.getTime() for call in clock.getDelayedCalls()] == [WATCH_FIRST]
    assert account.client.describe_addresses()["Addresses"] == []
    clock.advance(WATCH_FIRST)
    [address] = account.client.describe_addresses()["Addresses"]
    assert address["InstanceId"] == vm.id != plain.id
    assert clock.getDelayedCalls() == []


def test_watch_backs_off_then_leaves_it_to_the_reconciler(moto, monkeypatch):
    """
    While the instance stays pending the watcher looks after 2, 4, 8, 16
    and 32 s, then stops: the next wait would exceed the reconciler's
    period (L{RECONCILE_EVERY}).
    """
    looks = []

    def pending(account, id):
        looks.append(clock.seconds())

    monkeypatch.setattr(backend_module, "complete_instance", pending)
    backend, clock = watched_backend(make_account(make_config(moto.endpoint)))
    backend.watch(backend._served["fedcloud"].accounts[0], "i-0123456789abcdef0")
    clock.pump([1.0] * 200)
    assert looks == [2.0, 6.0, 14.0, 30.0, 62.0]
    assert RECONCILE_EVERY < 64.0
    assert clock.getDelayedCalls() == []


def test_each_refresh_warns_once_per_dropped_value(moto):
    """
    A type EC2 does not know is warned about at each load, once, naming the
    configuration file, the key and the value; the account keeps working.
    """
    config = make_config(moto.endpoint, instance_types=("t3.micro", "t9.nano"))
    backend = EC2Backend(InlineReactor(), SyncPool(), make_accounts(config, build_clients(config)))
    for _ in range(2):
        with capturedLogs() as events:
            assert [ok for ok, _ in successResultOf(backend.refresh_catalogs())] == [True]
        [warning] = [formatEvent(event) for event in events
                     if event["log_level"] == LogLevel.warn]
        assert warning.startswith("<test>: [aws] instance_types: 't9.nano' left out of the "
                                  "catalogue of account fedcloud (eu-west-1): ")
    catalog = successResultOf(backend.catalog(binding()))
    assert [m.term for m in catalog.mixins if m.depends_on(infra.RESOURCE_TPL)] == ["t3_micro"]


class QueuedPool(SyncPool):
    """A thread pool stand-in that holds every call until L{run_all}."""

    def __init__(self):
        self.calls = []

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
        self.calls.append((onResult, f, args, kwargs))

    def run_all(self):
        """Run the calls held, in order, inline."""
        calls, self.calls = self.calls, []
        for onResult, f, args, kwargs in calls:
            super().callInThreadWithCallback(onResult, f, *args, **kwargs)


def test_first_load_at_start_is_shared_with_requests(moto):
    """A request arriving while the start's load runs waits for it: one load, one warning."""
    config = make_config(moto.endpoint, instance_types=("t3.micro", "t9.nano"))
    pool = QueuedPool()
    backend = EC2Backend(InlineReactor(), pool, make_accounts(config, build_clients(config)))
    with capturedLogs() as events:
        refreshed = backend.refresh_catalogs()
        requested = backend.catalog(binding())
        assert len(pool.calls) == 1
        pool.run_all()
    assert successResultOf(requested) is not None
    assert [ok for ok, _ in successResultOf(refreshed)] == [True]
    assert len([e for e in events if e["log_level"] == LogLevel.warn]) == 1


def test_imported_images_looked_at_every_minute(moto):
    """
    The backend's one-minute look re-reads the imported images of every
    loaded account and logs a change; make_backend_service runs it on a
    timer of L{DISTRIBUTED_REFRESH} (a minute), beside the 15-minute refresh.
    """
    account = make_account(make_config(moto.endpoint))
    backend, _ = watched_backend(account)
    client = account.client
    instance = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro",
                                    MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = client.create_image(InstanceId=instance, Name="imported")["ImageId"]
    client.create_tags(Resources=[image], Tags=[{"Key": "occid:source", "Value": "egi"}])
    with capturedLogs() as events:
        backend.refresh_distributed()
    assert [m.term for m in account.catalog.templates.distributed] == [image]
    assert any("imported images of account" in formatEvent(e) for e in events)
    assert DISTRIBUTED_REFRESH <= 60.0
    wired, service = make_backend_service(make_config(moto.endpoint), InlineReactor())
    timers = [(timer.step, timer.call[0]) for timer in service if isinstance(timer, TimerService)]
    assert (DISTRIBUTED_REFRESH, wired.refresh_distributed) in timers
