"""
Tests for L{occid.ec2.regional}: L{RegionalCollection} over the EC2
collections of one account in two regions of a moto server (issue 12).
A create goes where its categories and links say; a describe, update,
delete or action goes to the one region its id names and no other; a
listing asks every region (or the one its filter names) and merges them.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from twisted.python.threadpool import ThreadPool
from zope.interface.verify import verifyObject

from occid.ec2.accounts import serve
from occid.ec2.backend import EC2Backend
from occid.ec2.regional import RegionalCollection, Served, region_named_by
from occid.ec2.vocabulary import SNAPSHOT
from occid.imagesconfig import RegionImages
from occid.interfaces import IEntityCollection
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.model import Changes, EntityFilter, Link, Resource
from tests.ec2hooks import count_calls, inject, no_backoff
from tests.motoserver import (
    ALMA,
    DEBIAN,
    JANE,
    PUBLIC_HOST,
    REGION,
    binding,
    failureResultOf,
    make_config,
    provider,
    successResultOf,
    wait,
)
from tests.test_ec2_backend_regions import OTHER, SerialReactor, compute, region, two_regions

pytestmark = pytest.mark.moto

THIRD = "us-east-1"

@pytest.fixture
def served(moto) -> Served:
    """
    Account fedcloud in REGION (home, DEBIAN listed) and OTHER (ALMA listed,
    the default there), each region's catalogue loaded.
    """
    config = two_regions(moto)
    images = replace(config.images, regions={OTHER: RegionImages(list=(ALMA,), default=ALMA)})
    served = serve(replace(config, images=images))["fedcloud"]
    assert isinstance(served, Served)
    for account in served.accounts:
        account.catalog.refresh()
    return served


def collection(served: Served, kind=infra.COMPUTE) -> RegionalCollection:
    """The regional collection of C{kind} for Jane, each region's calls run inline."""
    regional = served.collection(lambda account: provider(kind, account))
    assert isinstance(regional, RegionalCollection)
    return regional


def counters(served: Served) -> dict:
    """A counter of EC2 calls by operation, for each region."""
    return {account.aws.region: count_calls(account.client) for account in served.accounts}


def image(served: Served, ami: str):
    """The os_tpl mixin of C{ami}, from the catalogue of the region holding it."""
    for account in served.accounts:
        found = account.catalog.catalog.lookup(infra.os_tpl_mixin(ami, "", PUBLIC_HOST).identifier)
        if found is not None:
            return found
    raise AssertionError(ami)


def zone(name: str):
    """The availability zone mixin of C{name}, in the other region."""
    return infra.availability_zone_mixin(name, PUBLIC_HOST, region(OTHER))


def volume(*mixins) -> Resource:
    """A storage create request of 1 GiB carrying C{mixins}."""
    return Resource(kind=infra.STORAGE, id="", mixins=list(mixins),
                    attributes={"occi.storage.size": 1})


def test_provides_the_collection_interface(served):
    """The regional collection is an L{IEntityCollection} of the default region's kind."""
    regional = collection(served)
    assert verifyObject(IEntityCollection, regional)
    assert regional.kind == infra.COMPUTE


def test_region_named_by_region_zone_and_image_mixins():
    """A region mixin names itself, a zone its region, an image its attribute; others nothing."""
    assert region_named_by(region(OTHER)) == OTHER
    assert region_named_by(zone(f"{OTHER}a")) == OTHER
    assert region_named_by(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST, OTHER)) == OTHER
    assert region_named_by(infra.os_tpl_mixin(ALMA, "", PUBLIC_HOST)) is None
    assert region_named_by(infra.REGION) is None
    assert region_named_by(infra.RESOURCE_TPL) is None


def test_a_gateway_of_one_region_serves_the_plain_collection(served):
    """Without a region map, L{Served} hands the one region's collection through."""
    one = Served(served.accounts[:1])
    inner = provider(infra.COMPUTE, served.accounts[0])
    assert one.collection(lambda account: inner) is inner
    assert one.holding(image(served, ALMA)) is served.accounts[0]


def test_holding_finds_the_region_of_an_image(served):
    """An os_tpl names the account of its region; one naming none, the default region's."""
    assert served.holding(image(served, ALMA)).aws.region == OTHER
    assert served.holding(image(served, DEBIAN)).aws.region == REGION
    assert served.holding(infra.OS_TPL).aws.region == REGION


@pytest.mark.parametrize("named", [
    lambda served: [region(OTHER)],
    lambda served: [zone(f"{OTHER}b")],
    lambda served: [image(served, ALMA)],
    lambda served: [region(OTHER), zone(f"{OTHER}a"), image(served, ALMA)],
])
def test_create_goes_to_the_region_named(served, named):
    """By region, zone or image mixin (or all three agreeing), the compute is made abroad."""
    calls = counters(served)
    created = successResultOf(collection(served).create(compute(*named(served))))
    assert created.id.endswith(f".{OTHER}")
    assert created.attributes[infra.REGION_ATTRIBUTE] == OTHER
    assert calls[OTHER]["RunInstances"] == 1 and calls[REGION]["RunInstances"] == 0


def test_create_naming_no_region_goes_to_the_default(served):
    """A compute naming no region is made in the default (home) region with a bare id."""
    created = successResultOf(collection(served).create(compute(image(served, DEBIAN))))
    assert "." not in created.id
    assert region(REGION) in created.mixins


def test_create_with_a_link_goes_to_the_link_s_region(served):
    """A compute with an inline link to a volume abroad is made abroad, the link named so."""
    vol = successResultOf(collection(served, infra.STORAGE).create(volume(region(OTHER))))
    link = Link(kind=infra.STORAGELINK, id="", source="", target=f"/storage/{vol.id}")
    request = compute(image(served, ALMA))
    request.links = [link]
    created = successResultOf(collection(served).create(request))
    assert created.id.endswith(f".{OTHER}")
    assert f"/storage/{vol.id}" in [link.target for link in created.links]


def test_contradicting_placement_is_400_naming_both(served):
    """A zone of one region and a link into the other: 400 naming both; nothing made."""
    calls = counters(served)
    request = compute(zone(f"{OTHER}a"))
    request.links = [Link(kind=infra.STORAGELINK, id="", source="", target="/storage/vol-0abc")]
    error = failureResultOf(collection(served).create(request), errors.BadRequest).value
    assert REGION in str(error) and OTHER in str(error)
    assert sum(calls[OTHER].values()) == sum(calls[REGION].values()) == 0


def test_a_link_create_goes_to_its_ends_region(served):
    """A storage link between two entities abroad is made abroad; its id carries the region."""
    vm = successResultOf(collection(served).create(compute(zone(f"{OTHER}a"))))
    vol = successResultOf(collection(served, infra.STORAGE).create(volume(zone(f"{OTHER}a"))))
    link = Link(kind=infra.STORAGELINK, id="", source=f"/compute/{vm.id}",
                target=f"/storage/{vol.id}")
    made = successResultOf(collection(served, infra.STORAGELINK).create(link))
    assert made.source == f"/compute/{vm.id}" and made.target == f"/storage/{vol.id}"
    assert all(end.endswith(f".{OTHER}") for end in made.id.split("_"))


def test_one_entity_is_one_region_s_calls(served):
    """A describe, update, action and delete of a compute abroad call that region only."""
    regional = collection(served)
    vm = successResultOf(regional.create(compute(image(served, ALMA))))
    calls = counters(served)
    assert successResultOf(regional.get(vm.id)).id == vm.id
    updated = successResultOf(regional.update(vm.id, Changes(attributes={
        "occi.core.title": "renamed"})))
    assert updated.title == "renamed" and updated.id == vm.id
    assert region(OTHER) in updated.mixins
    stopped = successResultOf(regional.trigger(vm.id, infra.COMPUTE_STOP, {}))
    assert stopped.id == vm.id
    successResultOf(regional.delete(vm.id))
    assert sum(calls[REGION].values()) == 0 and sum(calls[OTHER].values()) > 0


def test_a_snapshot_abroad_is_named_there(served):
    """The snapshot action of a volume abroad answers a snapshot whose id carries the region."""
    vol = successResultOf(collection(served, infra.STORAGE).create(volume(region(OTHER))))
    snapshot = successResultOf(collection(served, infra.STORAGE).trigger(
        vol.id, infra.STORAGE_SNAPSHOT, {}))
    assert snapshot.kind == SNAPSHOT and snapshot.id.endswith(f".{OTHER}")
    assert successResultOf(collection(served, SNAPSHOT).get(snapshot.id)).id == snapshot.id


def test_listing_merges_every_region_sorted(served):
    """Computes of both regions in one listing, sorted by id as clients see it."""
    regional = collection(served)
    made = [successResultOf(regional.create(compute(image(served, ami))))
            for ami in (ALMA, DEBIAN, ALMA)]
    listed = successResultOf(regional.list(EntityFilter()))
    assert [e.id for e in listed] == sorted(e.id for e in made)


@pytest.mark.parametrize("narrowing", [
    EntityFilter(categories=(region(OTHER).identifier,)),
    EntityFilter(attributes={infra.REGION_ATTRIBUTE: OTHER}),
])
def test_a_listing_filtered_on_a_region_asks_it_alone(served, narrowing):
    """Filtered on a region's mixin or attribute, the listing is that region's, one call."""
    regional = collection(served)
    abroad = successResultOf(regional.create(compute(image(served, ALMA))))
    successResultOf(regional.create(compute(image(served, DEBIAN))))
    calls = counters(served)
    assert [e.id for e in successResultOf(regional.list(narrowing))] == [abroad.id]
    assert sum(calls[REGION].values()) == 0
    assert calls[OTHER]["DescribeInstances"] == 1


@pytest.mark.parametrize("id", [
    f"i-0abc.{OTHER}.{OTHER}", "i-0abc.ap-south-9", f"i-0abc.{REGION}", "i-0abc.", "_",
])
def test_a_malformed_or_foreign_id_is_404_without_an_ec2_call(served, id):
    """Two region suffixes, a region not served, the home region named: 404, EC2 untouched."""
    calls = counters(served)
    regional = collection(served)
    for asked in (regional.get(id), regional.delete(id),
                  regional.update(id, Changes(attributes={"occi.core.title": "x"})),
                  regional.trigger(id, infra.COMPUTE_STOP, {})):
        assert id in str(failureResultOf(asked, errors.NotFound).value)
    assert sum(calls[OTHER].values()) == sum(calls[REGION].values()) == 0


def test_a_listing_filtered_on_an_id_abroad_finds_it(served):
    """Filtered on C{occi.core.id} of a compute abroad: that compute, one region's call."""
    regional = collection(served)
    abroad = successResultOf(regional.create(compute(image(served, ALMA))))
    at_home = successResultOf(regional.create(compute(image(served, DEBIAN))))
    calls = counters(served)
    found = successResultOf(regional.list(EntityFilter(attributes={"occi.core.id": abroad.id})))
    assert [e.id for e in found] == [abroad.id]
    assert sum(calls[REGION].values()) == 0
    found = successResultOf(regional.list(EntityFilter(attributes={"occi.core.id": at_home.id})))
    assert [e.id for e in found] == [at_home.id]
    malformed = EntityFilter(attributes={"occi.core.id": f"{abroad.id}.{OTHER}"})
    assert successResultOf(regional.list(malformed)) == []


def test_a_listing_no_region_answers_is_the_failure(served, monkeypatch):
    """Every region failing is the listing's error, not an empty listing."""
    no_backoff(monkeypatch)
    for account in served.accounts:
        inject(account.client, "DescribeInstances", 503, "Unavailable")
    failureResultOf(collection(served).list(EntityFilter()), errors.OCCIError)


def test_an_update_naming_another_region_is_409_naming_both(served):
    """Another region's mixin, or a zone of it, in an update: 409 naming both; EC2 untouched."""
    regional = collection(served)
    abroad = successResultOf(regional.create(compute(image(served, ALMA))))
    at_home = successResultOf(regional.create(compute(image(served, DEBIAN))))
    calls = counters(served)
    for id, mixin in ((abroad.id, region(REGION)), (at_home.id, zone(f"{OTHER}a"))):
        for replace_ in (False, True):
            error = failureResultOf(regional.update(id, Changes(mixins=[mixin],
                                                                replace=replace_)),
                                    errors.Conflict).value
            assert REGION in str(error) and OTHER in str(error)
    assert sum(calls[OTHER].values()) == sum(calls[REGION].values()) == 0


def test_the_region_attribute_is_immutable(served):
    """Another value of the region attribute is 403 naming both values; its own is accepted."""
    regional = collection(served)
    abroad = successResultOf(regional.create(compute(image(served, ALMA))))
    moved = Changes(attributes={infra.REGION_ATTRIBUTE: REGION}, replace=True)
    error = failureResultOf(regional.update(abroad.id, moved), errors.Forbidden).value
    assert infra.REGION_ATTRIBUTE in str(error) and REGION in str(error) and OTHER in str(error)
    kept = successResultOf(regional.update(abroad.id, Changes(
        mixins=[region(OTHER)], attributes={infra.REGION_ATTRIBUTE: OTHER,
                                            "occi.core.title": "kept"})))
    assert kept.title == "kept" and kept.attributes[infra.REGION_ATTRIBUTE] == OTHER


@pytest.mark.parametrize("own", [False, True])
def test_a_full_update_without_its_region_mixin_is_no_move(served, own):
    """
    A PUT restating the entity abroad, with or without its region mixin and
    attribute, changes its title and leaves it where it is.
    """
    regional = collection(served)
    made = successResultOf(regional.create(compute(image(served, ALMA))))
    abroad = successResultOf(regional.get(made.id))
    mixins = [m for m in abroad.mixins if own or m != region(OTHER)]
    attributes = {k: v for k, v in abroad.attributes.items()
                  if own or k != infra.REGION_ATTRIBUTE}
    attributes["occi.core.title"] = "restated"
    updated = successResultOf(regional.update(abroad.id, Changes(
        mixins=mixins, attributes=attributes, replace=True)))
    assert updated.id == abroad.id and updated.title == "restated"
    assert region(OTHER) in updated.mixins
    assert updated.attributes[infra.REGION_ATTRIBUTE] == OTHER


def test_a_region_mixin_on_an_inline_link_places_the_create(served):
    """An inline link naming the other region's mixin places the compute there; it is stripped."""
    link = Link(kind=infra.NETWORKINTERFACE, id="", source="", target="/network/public",
                mixins=[region(OTHER)], attributes={infra.REGION_ATTRIBUTE: OTHER})
    request = compute()
    request.links = [link]
    error = failureResultOf(collection(served).create(request), errors.BadRequest).value
    assert f"mixin {region(OTHER).identifier} is in {OTHER}" in str(error)
    assert f"/network/public is in {REGION}" in str(error)
    link.target = f"/network/public.{OTHER}"
    created = successResultOf(collection(served).create(request))
    assert created.id.endswith(f".{OTHER}")


def test_snapshots_and_links_abroad_render_their_region(served):
    """Listed snapshots and links of the other region carry its mixin and attribute."""
    vol = successResultOf(collection(served, infra.STORAGE).create(volume(region(OTHER))))
    successResultOf(collection(served, infra.STORAGE).trigger(vol.id, infra.STORAGE_SNAPSHOT, {}))
    successResultOf(collection(served).create(compute(zone(f"{OTHER}a"))))
    for kind in (SNAPSHOT, infra.NETWORKINTERFACE):
        listed = successResultOf(collection(served, kind).list(EntityFilter()))
        assert listed
        for entity in listed:
            assert region(OTHER) in entity.mixins
            assert entity.attributes[infra.REGION_ATTRIBUTE] == OTHER


def test_an_idempotency_key_names_one_create_in_one_region(served):
    """
    A retry with the key answers the compute made; the same key for a
    create in the other region is 409 naming that compute and its region,
    and launches nothing there, whichever region came first.
    """
    regional = collection(served)
    at_home = successResultOf(regional.create(compute(image(served, DEBIAN)), "key-1"))
    assert successResultOf(regional.create(compute(image(served, DEBIAN)), "key-1")).id == \
        at_home.id
    calls = counters(served)
    error = failureResultOf(regional.create(compute(image(served, ALMA)), "key-1"),
                            errors.Conflict).value
    assert at_home.id in str(error) and REGION in str(error)
    abroad = successResultOf(regional.create(compute(image(served, ALMA)), "key-2"))
    error = failureResultOf(regional.create(compute(image(served, DEBIAN)), "key-2"),
                            errors.Conflict).value
    assert abroad.id.split(".")[0] in str(error) and OTHER in str(error)
    assert calls[REGION]["RunInstances"] == 0 and calls[OTHER]["RunInstances"] == 1


def test_a_listing_is_one_page_per_region(served):
    """
    Listing N_r computes in each of R regions is R x ceil(N_r / 1000)
    DescribeInstances pages (the page size is fixed at 1000): one per
    region here, each region asked once.
    """
    regional = collection(served)
    for ami in (DEBIAN, DEBIAN, DEBIAN, ALMA, ALMA):
        successResultOf(regional.create(compute(image(served, ami))))
    calls = counters(served)
    assert len(successResultOf(regional.list(EntityFilter()))) == 5
    assert {name: counter["DescribeInstances"] for name, counter in calls.items()} == {
        REGION: 1, OTHER: 1}


#: Seconds each region's DescribeInstances is held back by the test.
DELAY = 0.3


def test_a_listing_takes_one_region_s_time_not_the_sum(moto):
    """
    With each region's DescribeInstances held back L{DELAY} seconds, a
    listing of three regions on the real thread pool takes about as long as
    a listing of one: asked one after the other, it would take three times
    as long (the margin is wide, for a loaded machine).
    """
    served = serve(make_config(moto.endpoint, regions=(REGION, OTHER, THIRD)))
    pool = ThreadPool(3, 6, "occid-aws-test")
    pool.start()
    try:
        computes = EC2Backend(SerialReactor(), pool, served).collection(
            infra.COMPUTE, JANE, binding())

        def timed(filter: EntityFilter) -> float:
            started = time.monotonic()
            wait(computes.list(filter))
            return time.monotonic() - started

        timed(EntityFilter())  # connections and credentials, once per region
        for account in served["fedcloud"].accounts:
            account.client.meta.events.register("before-send.ec2.DescribeInstances",
                                                lambda **kwargs: time.sleep(DELAY))
        one = timed(EntityFilter(categories=(region(OTHER).identifier,)))
        every = timed(EntityFilter())
    finally:
        pool.stop()
    assert one >= DELAY and every >= DELAY
    assert every < 2 * one, (every, one)
