# -*- test-case-name: tests.test_story_reconciler -*-
"""
The story of a compute created with inline links, told at the backend
level: the real L{EC2Backend} on a real thread pool against moto, and the
real reconciler pass the daemon's timer runs (its 60-second interval is too
slow for a test, so the test runs the pass itself).
"""

import pytest
from twisted.python.threadpool import ThreadPool

from occid.ec2.backend import EC2Backend
from occid.occi import infrastructure as infra
from occid.occi.model import Link, Resource
from tests.motoserver import (
    DEBIAN,
    JANE,
    PUBLIC_HOST,
    InlineReactor,
    binding,
    make_account,
    make_config,
    wait,
)

pytestmark = pytest.mark.moto


@pytest.fixture
def backend(moto):
    """The EC2 backend over account fedcloud on moto, with a running occid-aws pool."""
    pool = ThreadPool(0, 4, "occid-aws")
    pool.start()
    yield EC2Backend(InlineReactor(), pool, {"fedcloud": make_account(make_config(moto.endpoint))})
    pool.stop()


def test_inline_links_are_completed_by_the_reconciler(backend):
    """
    A create with an inline public link and an inline storage link answers
    at once with both links inactive; one reconciler pass associates an
    elastic IP and attaches the volume, and the links then render active.
    """
    client = backend._served["fedcloud"].accounts[0].client
    volume = client.create_volume(Size=1, AvailabilityZone="eu-west-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "occid:owner", "Value": JANE.owner}]}]
    )["VolumeId"]
    computes = backend.collection(infra.COMPUTE, JANE, binding())
    vm = wait(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)],
        links=[Link(kind=infra.NETWORKINTERFACE, id="", source="", target="/network/public"),
               Link(kind=infra.STORAGELINK, id="", source="", target=f"/storage/{volume}")])))
    public, storage = f"{vm.id}_public", f"{vm.id}_{volume}"
    before = {link.id: link for link in wait(computes.get(vm.id)).links}
    assert before[public].attributes["occi.networkinterface.state"] == "inactive"
    assert before[storage].attributes["occi.storagelink.state"] == "inactive"
    assert client.describe_addresses()["Addresses"] == []

    [(ok, report)] = wait(backend.reconcile())
    assert ok and report.errors == []
    assert sorted(report.links_made) == sorted([public, storage])

    interface = wait(backend.collection(infra.NETWORKINTERFACE, JANE, binding()).get(public))
    assert interface.attributes["occi.networkinterface.state"] == "active"
    attached = wait(backend.collection(infra.STORAGELINK, JANE, binding()).get(storage))
    assert attached.attributes["occi.storagelink.state"] == "active"
    [address] = client.describe_addresses()["Addresses"]
    assert address["InstanceId"] == vm.id
    assert interface.attributes["occi.networkinterface.address"] == address["PublicIp"]
    [attachment] = client.describe_volumes(VolumeIds=[volume])["Volumes"][0]["Attachments"]
    assert (attachment["InstanceId"], attachment["Device"]) == (vm.id, "/dev/sdf")
