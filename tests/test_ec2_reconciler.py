"""
Tests for L{occid.ec2.reconciler} against moto: recorded links made once the
instance runs, hopeless ones dropped, and leftovers (old launch key pairs,
free elastic IPs and interfaces past the grace period) removed.
"""

from datetime import UTC, datetime, timedelta

import pytest

from occid.ec2.launch import LAUNCH_KEY_PREFIX
from occid.ec2.reconciler import reconcile
from occid.ec2.tags import CREATED_TAG, MANAGED_TAG, created_tag
from occid.occi import infrastructure as infra
from occid.occi.model import Link, Resource
from tests.motoserver import DEBIAN, JANE, PUBLIC_HOST, provider, successResultOf
from tests.test_ec2_compute import ssh_key

pytestmark = pytest.mark.moto

def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", ())}


def test_recorded_links_are_made_then_cleared(account):
    """A create's public and storage links are made by the reconciler and leave the tag."""
    client = account.client
    disk = client.create_volume(Size=1, AvailabilityZone="eu-west-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "occid:owner", "Value": JANE.owner}]}])
    computes = provider(infra.COMPUTE, account)
    vm = successResultOf(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)],
        links=[Link(kind=infra.NETWORKINTERFACE, id="", source="", target="/network/public"),
               Link(kind=infra.STORAGELINK, id="", source="", target=f"/storage/{disk['VolumeId']}")])))
    report = reconcile(account, datetime.now(UTC))
    assert report.errors == []
    assert sorted(report.links_made) == sorted([f"{vm.id}_public", f"{vm.id}_{disk['VolumeId']}"])
    instance = client.describe_instances(InstanceIds=[vm.id])["Reservations"][0]["Instances"][0]
    assert "occid:links" not in tags_of(instance)
    address = client.describe_addresses()["Addresses"][0]
    assert address["InstanceId"] == vm.id
    assert tags_of(address)["occid:owner"] == JANE.owner
    assert CREATED_TAG in tags_of(address)
    attached = client.describe_volumes(VolumeIds=[disk["VolumeId"]])["Volumes"][0]
    assert attached["Attachments"][0]["Device"] == "/dev/sdf"
    links = {link.id: link for link in successResultOf(computes.get(vm.id)).links}
    assert links[f"{vm.id}_public"].attributes["occi.networkinterface.state"] == "active"
    assert links[f"{vm.id}_{disk['VolumeId']}"].attributes["occi.storagelink.state"] == "active"
    again = reconcile(account, datetime.now(UTC))
    assert again.links_made == [] and again.addresses_released == []


def test_leftovers_are_collected(account):
    """Launch keys older than an hour, free occid EIPs and free occid ENIs are removed."""
    client = account.client
    client.import_key_pair(KeyName=LAUNCH_KEY_PREFIX + "old", PublicKeyMaterial=ssh_key())
    client.import_key_pair(KeyName="someone-elses", PublicKeyMaterial=ssh_key())
    free = client.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": MANAGED_TAG, "Value": "public"}]}])
    foreign = client.allocate_address(Domain="vpc")
    subnet = client.describe_subnets()["Subnets"][0]["SubnetId"]
    eni = client.create_network_interface(SubnetId=subnet, TagSpecifications=[
        {"ResourceType": "network-interface",
         "Tags": [{"Key": MANAGED_TAG, "Value": "interface"}]}])["NetworkInterface"]
    now = datetime.now(UTC)
    young = reconcile(account, now)
    assert young.key_pairs_deleted == []
    report = reconcile(account, now + timedelta(hours=2))
    assert report.key_pairs_deleted == [LAUNCH_KEY_PREFIX + "old"]
    assert young.addresses_released == [free["AllocationId"]]
    assert young.interfaces_deleted == [eni["NetworkInterfaceId"]]
    assert [k["KeyName"] for k in client.describe_key_pairs()["KeyPairs"]] == ["someone-elses"]
    assert [a["AllocationId"] for a in client.describe_addresses()["Addresses"]] == [
        foreign["AllocationId"]]


def test_links_that_can_never_be_made_are_dropped(account):
    """
    A recorded link to a volume deleted meanwhile, or attached to another
    instance, is dropped from the tag with the reason in the report, and
    not tried again.
    """
    client = account.client
    volumes = [client.create_volume(Size=1, AvailabilityZone="eu-west-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "occid:owner", "Value": JANE.owner}]}]
    )["VolumeId"] for _ in range(2)]
    gone, taken = volumes
    vm = successResultOf(provider(infra.COMPUTE, account).create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)],
        links=[Link(kind=infra.STORAGELINK, id="", source="", target=f"/storage/{v}")
               for v in volumes])))
    client.delete_volume(VolumeId=gone)
    other = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 Placement={"AvailabilityZone": "eu-west-1a"})
    other = other["Instances"][0]["InstanceId"]
    client.attach_volume(VolumeId=taken, InstanceId=other, Device="/dev/sdf")
    report = reconcile(account, datetime.now(UTC))
    assert report.errors == [] and report.links_made == []
    assert sorted(report.links_abandoned) == sorted([
        f"{vm.id}_{gone}: storage {gone} no longer exists",
        f"{vm.id}_{taken}: storage {taken} is attached to {other}"])
    instance = client.describe_instances(InstanceIds=[vm.id])["Reservations"][0]["Instances"][0]
    assert "occid:links" not in tags_of(instance)
    assert reconcile(account, datetime.now(UTC)).links_abandoned == []


def test_young_free_addresses_and_interfaces_are_kept(account):
    """
    A free occid address or interface made less than the grace period ago
    (a request may be about to associate or attach it) is left alone, and
    collected once older.
    """
    client = account.client
    now = datetime.now(UTC)
    young = {MANAGED_TAG: "public", **created_tag(now)}
    address = client.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": k, "Value": v} for k, v in young.items()]}])
    subnet = client.describe_subnets()["Subnets"][0]["SubnetId"]
    eni = client.create_network_interface(SubnetId=subnet, TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": [
            {"Key": MANAGED_TAG, "Value": "interface"},
            {"Key": CREATED_TAG, "Value": created_tag(now)[CREATED_TAG]}]}])["NetworkInterface"]
    soon = reconcile(account, now + timedelta(minutes=5))
    assert soon.addresses_released == [] and soon.interfaces_deleted == []
    later = reconcile(account, now + timedelta(minutes=11))
    assert later.addresses_released == [address["AllocationId"]]
    assert later.interfaces_deleted == [eni["NetworkInterfaceId"]]


def test_addresses_of_terminated_instances_are_released(account):
    """
    An occid address still associated with an instance terminated behind
    occid's back is disassociated and released at once (no grace); one on a
    running instance, and a foreign one on a terminated instance, are kept.
    """
    client = account.client
    computes = provider(infra.COMPUTE, account)
    gone, alive = (successResultOf(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)])))
        for _ in range(2))
    managed = [{"ResourceType": "elastic-ip", "Tags": [
        {"Key": MANAGED_TAG, "Value": "public"}, *created_tag_list()]}]
    orphan = client.allocate_address(Domain="vpc", TagSpecifications=managed)["AllocationId"]
    kept = client.allocate_address(Domain="vpc", TagSpecifications=managed)["AllocationId"]
    client.associate_address(AllocationId=orphan, InstanceId=gone.id)
    client.associate_address(AllocationId=kept, InstanceId=alive.id)
    client.terminate_instances(InstanceIds=[gone.id])
    report = reconcile(account, datetime.now(UTC))
    assert report.errors == []
    assert report.addresses_released == [orphan]
    assert [a["AllocationId"] for a in client.describe_addresses()["Addresses"]] == [kept]


def created_tag_list():
    """The C{occid:created} tag of now, as boto3 tags."""
    return [{"Key": k, "Value": v} for k, v in created_tag().items()]
