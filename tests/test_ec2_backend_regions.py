# -*- test-case-name: tests.test_ec2_backend_regions -*-
"""
The EC2 backend serving one account in two regions of a moto server
(issue 12): one client per (account, region); one catalog with the region
mixins; a create placed by its mixins; a describe that is one EC2 call in
the id's region; listings asked of every region at once on the thread pool;
a region that fails left out of a listing; limits counted over both regions.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from occid.accountconfig import Limits
from occid.config import AccountConfig
from occid.ec2.accounts import serve
from occid.ec2.backend import EC2Backend
from occid.ec2.regional import RegionalCollection
from occid.ec2.service import make_backend_service
from occid.imagesconfig import ImagesConfig, RegionImages
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.model import EntityFilter, Resource
from tests.ec2hooks import count_calls, inject, no_backoff
from tests.motoserver import (
    ALMA,
    DEBIAN,
    JANE,
    PUBLIC_HOST,
    REGION,
    InlineReactor,
    SyncPool,
    binding,
    failureResultOf,
    make_config,
    successResultOf,
    wait,
)

pytestmark = pytest.mark.moto

OTHER = "eu-central-1"
MISSING = "ami-0000000000000dead"


def two_regions(moto, **limits):
    """A configuration serving account fedcloud in REGION (home) and OTHER, ALMA listed there."""
    config = make_config(moto.endpoint, regions=(REGION, OTHER), accounts=(
        AccountConfig(name="fedcloud", fqans=("/fedcloud.egi.eu",), limits=Limits(**limits)),))
    images = ImagesConfig(policy="listed", list=(DEBIAN,),
                          regions={OTHER: RegionImages(list=(ALMA,))})
    return replace(config, images=images)


def accounts_of(backend: EC2Backend):
    """The account fedcloud in each region, by region."""
    return {account.aws.region: account for account in backend._served["fedcloud"].accounts}


def synchronous_backend(moto, **limits) -> EC2Backend:
    """A backend running its EC2 calls inline."""
    return EC2Backend(InlineReactor(), SyncPool(), serve(two_regions(moto, **limits)))


class SerialReactor(InlineReactor):
    """An L{InlineReactor} running the calls from the pool's threads one at a time, as a reactor would."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def callFromThread(self, f, *args, **kwargs):
        with self._lock:
            f(*args, **kwargs)


def compute(*mixins) -> Resource:
    """A compute create request carrying C{mixins}."""
    return Resource(kind=infra.COMPUTE, id="", mixins=list(mixins))


def region(name: str):
    """The region mixin of C{name}."""
    return infra.region_mixin(name, PUBLIC_HOST)


def test_one_client_per_account_and_region(moto):
    """Each region of the account has its own client, in that region."""
    accounts = accounts_of(synchronous_backend(moto))
    assert sorted(accounts) == sorted([REGION, OTHER])
    for name, account in accounts.items():
        assert account.client.meta.region_name == name
        assert account.everywhere() == list(accounts.values())


def test_catalog_has_the_regions_and_where_each_image_lives(moto):
    """
    The catalog offers the region parent and one mixin per region; the zones
    depend on their region's mixin; each os_tpl names its region.
    """
    catalog = successResultOf(synchronous_backend(moto).catalog(binding()))
    assert catalog.lookup(infra.REGION.identifier)
    for name in (REGION, OTHER):
        assert catalog.lookup(region(name).identifier)
    zone = catalog.lookup(f"http://occi.{PUBLIC_HOST}/occi/infrastructure/availability_zone#"
                          f"{OTHER}a")
    assert region(OTHER) in zone.depends
    alma = catalog.lookup(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST).identifier)
    assert alma.attribute(infra.REGION_ATTRIBUTE).default == OTHER
    assert alma.title.endswith(f"({OTHER})")
    debian = catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
    assert debian.attribute(infra.REGION_ATTRIBUTE).default == REGION


def test_create_goes_where_its_mixins_say_and_describe_is_one_call(moto):
    """
    By region mixin or by an os_tpl of the other region, the compute is made
    there and its id carries the region; by nothing, it stays home with a
    bare id.  A describe is one EC2 call, in the id's region only.
    """
    backend = synchronous_backend(moto)
    catalog = successResultOf(backend.catalog(binding()))
    alma = catalog.lookup(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST).identifier)
    debian = catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    by_image = successResultOf(computes.create(compute(alma)))
    by_region = successResultOf(computes.create(compute(region(OTHER), alma)))
    at_home = successResultOf(computes.create(compute(debian)))
    assert by_image.id.endswith(f".{OTHER}") and by_region.id.endswith(f".{OTHER}")
    assert "." not in at_home.id
    assert by_image.attributes[infra.REGION_ATTRIBUTE] == OTHER
    assert region(OTHER) in by_image.mixins

    accounts = accounts_of(backend)
    calls = {name: count_calls(account.client) for name, account in accounts.items()}
    described = successResultOf(computes.get(by_image.id))
    assert described.id == by_image.id
    assert sum(calls[OTHER].values()) == 1 and sum(calls[REGION].values()) == 0
    successResultOf(computes.get(at_home.id))
    assert sum(calls[REGION].values()) == 1


def test_contradicting_mixins_are_400_naming_both(moto):
    """A region mixin and an os_tpl of another region: 400 naming both; nothing launched."""
    backend = synchronous_backend(moto)
    catalog = successResultOf(backend.catalog(binding()))
    alma = catalog.lookup(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST).identifier)
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    error = failureResultOf(computes.create(compute(region(REGION), alma)), errors.BadRequest)
    assert REGION in str(error.value) and OTHER in str(error.value)
    assert successResultOf(computes.list(EntityFilter())) == []


def test_a_missing_default_image_is_400_naming_its_region_key(moto):
    """A create relying on a region's default image EC2 does not know names that region's key."""
    config = two_regions(moto)
    images = replace(config.images, regions={OTHER: RegionImages(list=(ALMA,), default=MISSING)})
    backend = EC2Backend(InlineReactor(), SyncPool(), serve(replace(config, images=images)))
    successResultOf(backend.catalog(binding()))
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    error = failureResultOf(computes.create(compute(region(OTHER))), errors.BadRequest)
    assert f"{MISSING} ([images.regions.{OTHER}] default)" in str(error.value)


def test_limits_count_every_region(moto):
    """With max_instances = 1, one compute at home leaves no room in the other region."""
    backend = synchronous_backend(moto, max_instances=1)
    catalog = successResultOf(backend.catalog(binding()))
    alma = catalog.lookup(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST).identifier)
    debian = catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    successResultOf(computes.create(compute(debian)))
    failureResultOf(computes.create(compute(alma)), errors.Forbidden)


def test_a_failing_region_is_left_out_of_a_listing_unless_asked_for(moto, monkeypatch):
    """
    EC2 failing in the other region: the listing carries the home region's
    computes (and the log names the region); filtered on the failing
    region's mixin, the listing is that region's error.
    """
    no_backoff(monkeypatch)
    backend = synchronous_backend(moto)
    catalog = successResultOf(backend.catalog(binding()))
    debian = catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    home = successResultOf(computes.create(compute(debian)))
    inject(accounts_of(backend)[OTHER].client, "DescribeInstances", 503, "Unavailable")
    logged: list = []
    monkeypatch.setattr(RegionalCollection, "log", Logger(observer=logged.append))
    assert [e.id for e in successResultOf(computes.list(EntityFilter()))] == [home.id]
    assert any(event.get("region") == OTHER for event in logged)
    failureResultOf(computes.list(EntityFilter(categories=(region(OTHER).identifier,))),
                    errors.OCCIError)


def test_listing_asks_every_region_at_once(moto):
    """
    On the real thread pool, each region's DescribeInstances waits until
    the other region's has started too: a listing that asked one region
    after the other would never see both and fail.
    """
    pool = ThreadPool(2, 4, "occid-aws-test")
    pool.start()
    try:
        backend = EC2Backend(SerialReactor(), pool, serve(two_regions(moto)))
        both = threading.Barrier(2, timeout=10)
        waited = []

        def meet(**kwargs):
            waited.append(both.wait())

        for account in accounts_of(backend).values():
            account.client.meta.events.register("before-send.ec2.DescribeInstances", meet)
        computes = backend.collection(infra.COMPUTE, JANE, binding())
        assert wait(computes.list(EntityFilter())) == []
        assert sorted(waited) == [0, 1]
    finally:
        pool.stop()


def test_make_backend_service_serves_every_region(moto):
    """The daemon's backend is built by L{serve}: both regions, one account."""
    backend, _ = make_backend_service(two_regions(moto), InlineReactor())
    assert sorted(accounts_of(backend)) == sorted([REGION, OTHER])


def test_a_region_whose_catalogue_failed_keeps_its_mixin_and_is_unavailable(moto, monkeypatch):
    """
    The other region's images cannot be read: the catalog still offers its
    region mixin, and a create naming it is 503 saying the region is
    unavailable (not 400 for an unknown mixin); the home region serves on.
    """
    no_backoff(monkeypatch)
    backend = synchronous_backend(moto)
    inject(accounts_of(backend)[OTHER].client, "DescribeImages", 503, "Unavailable")
    catalog = successResultOf(backend.catalog(binding()))
    assert catalog.lookup(region(OTHER).identifier) == region(OTHER)
    assert catalog.lookup(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST).identifier) is None
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    error = failureResultOf(computes.create(compute(region(OTHER))),
                            errors.ServiceUnavailable).value
    assert f"region {OTHER} is unavailable" in str(error)
    debian = catalog.lookup(infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST).identifier)
    assert "." not in successResultOf(computes.create(compute(debian))).id
