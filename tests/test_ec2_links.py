"""
Tests for L{occid.ec2.links} and L{occid.ec2.intents} against moto: public
addresses, VPC interfaces and volume attachments on existing instances,
link ids, and refusals (cross-zone attach, root volume, primary interface).
"""

import pytest
from zope.interface.verify import verifyObject

from occid.ec2 import intents
from occid.ec2.planning import split_link_id
from occid.interfaces import IEntityCollection
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.model import Changes, EntityFilter, Link, Resource
from tests.ec2hooks import count_calls, inject, no_backoff
from tests.motoserver import DEBIAN, JANE, JOHN, PUBLIC_HOST, failureResultOf, provider, successResultOf

pytestmark = pytest.mark.moto

def vm(account, zone="eu-west-1a", who=JANE):
    return successResultOf(provider(infra.COMPUTE, account, who).create(Resource(
        kind=infra.COMPUTE, id="", attributes={},
        mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST),
                infra.availability_zone_mixin(zone, PUBLIC_HOST)])))


def volume(account, zone="eu-west-1a", who=JANE):
    return account.client.create_volume(
        Size=1, AvailabilityZone=zone, TagSpecifications=[{"ResourceType": "volume", "Tags": [
            {"Key": "occid:owner", "Value": who.owner}]}])["VolumeId"]


def link(kind, source, target, **attributes):
    return Link(kind=kind, id="", source=f"/compute/{source}", target=target,
                attributes=attributes)


def test_providers_provide_the_interface(account):
    """Both link providers provide IEntityCollection."""
    verifyObject(IEntityCollection, provider(infra.NETWORKINTERFACE, account))
    verifyObject(IEntityCollection, provider(infra.STORAGELINK, account))


def test_intents_round_trip():
    """Recorded intents decode to what was encoded; too many for a tag is 400."""
    recorded = (intents.Intent("public"), intents.Intent("vol-0123456789abcdef0", "/dev/sdg"))
    assert intents.decode(intents.encode(recorded)) == recorded
    with pytest.raises(errors.BadRequest):
        intents.encode([intents.Intent(f"vol-{n:017x}") for n in range(20)])


def test_link_ids():
    """Link ids split into instance id and target part; others are 404."""
    assert split_link_id("i-0123456789abcdef0_vol-0123456789abcdef0") == (
        "i-0123456789abcdef0", "vol-0123456789abcdef0")
    with pytest.raises(errors.NotFound):
        split_link_id("nonsense")


def test_public_address_link_and_unlink(account):
    """Linking /network/public allocates and associates a tagged EIP; deleting releases it."""
    compute = vm(account)
    nics = provider(infra.NETWORKINTERFACE, account)
    made = successResultOf(nics.create(link(infra.NETWORKINTERFACE, compute.id, "/network/public")))
    assert made.id == f"{compute.id}_public"
    assert made.attributes["occi.networkinterface.state"] == "active"
    address = account.client.describe_addresses()["Addresses"][0]
    assert address["InstanceId"] == compute.id
    tags = {t["Key"]: t["Value"] for t in address["Tags"]}
    assert tags["occid:managed"] == "public" and tags["occid:owner"] == JANE.owner
    assert successResultOf(nics.get(made.id)).target == "/network/public"
    failureResultOf(nics.create(link(infra.NETWORKINTERFACE, compute.id, "/network/public")), errors.Conflict)
    successResultOf(nics.delete(made.id))
    assert account.client.describe_addresses()["Addresses"] == []


def test_vpc_interface_link(account):
    """Linking a VPC makes an ENI in its subnet of the instance's zone and attaches it."""
    client = account.client
    vpc = client.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    client.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24", AvailabilityZone="eu-west-1a")
    compute = vm(account)
    nics = provider(infra.NETWORKINTERFACE, account)
    made = successResultOf(nics.create(link(infra.NETWORKINTERFACE, compute.id, f"/network/{vpc}")))
    eni = split_link_id(made.id)[1]
    assert eni.startswith("eni-")
    assert made.target == f"/network/{vpc}"
    listed = [link.id for link in successResultOf(nics.list(EntityFilter()))]
    assert made.id in listed
    successResultOf(nics.delete(made.id))
    interface = client.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert interface[0]["Status"] == "available"


def test_primary_interface_cannot_be_unlinked(account):
    """The primary interface of an instance is 409 to delete."""
    compute = vm(account)
    primary = next(link for link in compute.links if link.kind == infra.NETWORKINTERFACE)
    failure = failureResultOf(
        provider(infra.NETWORKINTERFACE, account).delete(primary.id), errors.Conflict)
    assert "primary" in str(failure.value)


def test_storage_link_attach_and_detach(account):
    """A storagelink attaches at the next free device; deleting detaches with all three ids."""
    compute = vm(account)
    disk = volume(account)
    links = provider(infra.STORAGELINK, account)
    made = successResultOf(links.create(link(infra.STORAGELINK, compute.id, f"/storage/{disk}")))
    assert made.id == f"{compute.id}_{disk}"
    assert made.attributes["occi.storagelink.deviceid"] == "/dev/sdf"
    attachment = account.client.describe_volumes(VolumeIds=[disk])["Volumes"][0]["Attachments"]
    assert attachment[0]["InstanceId"] == compute.id
    sent = []
    account.client.meta.events.register(
        "provide-client-params.ec2.DetachVolume", lambda params, **kw: sent.append(params))
    successResultOf(links.delete(made.id))
    assert sent == [{"VolumeId": disk, "InstanceId": compute.id, "Device": "/dev/sdf"}]
    assert account.client.describe_volumes(VolumeIds=[disk])["Volumes"][0]["State"] == "available"


def test_storage_link_with_device(account):
    """occi.storagelink.deviceid chooses the device; a bad one is 400."""
    compute = vm(account)
    links = provider(infra.STORAGELINK, account)
    made = successResultOf(links.create(link(infra.STORAGELINK, compute.id, f"/storage/{volume(account)}",
                                     **{"occi.storagelink.deviceid": "/dev/sdk"})))
    assert made.attributes["occi.storagelink.deviceid"] == "/dev/sdk"
    failureResultOf(links.create(link(infra.STORAGELINK, compute.id, f"/storage/{volume(account)}",
                              **{"occi.storagelink.deviceid": "/dev/sda1"})), errors.BadRequest)


def test_cross_zone_attach_is_refused(account):
    """A volume in another zone is 409 locally (moto accepts it)."""
    compute = vm(account, "eu-west-1a")
    failure = failureResultOf(provider(infra.STORAGELINK, account).create(
        link(infra.STORAGELINK, compute.id, f"/storage/{volume(account, 'eu-west-1b')}")), errors.Conflict)
    assert "eu-west-1b" in str(failure.value)


def test_cross_zone_refusal_from_ec2_is_409(account, monkeypatch):
    """EC2's own InvalidVolume.ZoneMismatch (injected) answers 409."""
    no_backoff(monkeypatch)
    compute = vm(account)
    inject(account.client, "AttachVolume", 400, "InvalidVolume.ZoneMismatch")
    failureResultOf(provider(infra.STORAGELINK, account).create(
        link(infra.STORAGELINK, compute.id, f"/storage/{volume(account)}")), errors.Conflict)


def test_root_volume_cannot_be_unlinked(account):
    """Detaching the root volume is 409."""
    compute = vm(account)
    root = next(link for link in compute.links if link.kind == infra.STORAGELINK)
    failure = failureResultOf(provider(infra.STORAGELINK, account).delete(root.id), errors.Conflict)
    assert "root" in str(failure.value)


def test_other_users_links_are_invisible(account):
    """A link on another user's compute is 404, and linking to its volume is refused."""
    johns = vm(account, who=JOHN)
    root = next(link for link in johns.links if link.kind == infra.STORAGELINK)
    failureResultOf(provider(infra.STORAGELINK, account).get(root.id), errors.NotFound)
    mine = vm(account)
    failureResultOf(provider(infra.STORAGELINK, account).create(
        link(infra.STORAGELINK, mine.id, f"/storage/{volume(account, who=JOHN)}")), errors.BadRequest)


def test_links_cannot_be_updated_or_triggered(account):
    """Links have no mutable attributes and no actions."""
    links = provider(infra.STORAGELINK, account)
    failureResultOf(links.update("i-0123456789abcdef0_vol-0123456789abcdef0", Changes()), errors.Forbidden)
    failureResultOf(links.trigger("i-0123456789abcdef0_vol-0123456789abcdef0",
                          infra.COMPUTE_START, {}), errors.BadRequest)


@pytest.mark.parametrize(("kind", "target", "attributes", "message"), [
    (infra.NETWORKINTERFACE, "/storage/vol-0123456789abcdef0", {}, "not a /network/ location"),
    (infra.NETWORKINTERFACE, "/network/not-a-vpc", {}, "no network not-a-vpc"),
    (infra.STORAGELINK, "/network/public", {}, "not a /storage/ location"),
    (infra.STORAGELINK, "/storage/vol-0123456789abcdef0",
     {"occi.storagelink.deviceid": "/dev/sdz9"}, "/dev/sdz9"),
])
def test_bad_link_creates_make_no_ec2_call(account, kind, target, attributes, message):
    """
    A link create with a target of the wrong collection, a malformed VPC id
    or a device out of range is 400 from the planner, before any EC2 call.
    """
    counts = count_calls(account.client)
    failure = failureResultOf(
        provider(kind, account).create(link(kind, "i-0123456789abcdef0", target, **attributes)),
        errors.BadRequest)
    assert message in str(failure.value)
    assert sum(counts.values()) == 0
