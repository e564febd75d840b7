"""
Tests for L{occid.ec2.reconciler} against moto: recorded links made once the
instance runs, and leftovers (old launch key pairs, free elastic IPs, free
interfaces) removed.
"""

from datetime import datetime, timedelta, timezone

import pytest

from occid.ec2.account import MANAGED_TAG
from occid.ec2.compute import ComputeCollection, LAUNCH_KEY_PREFIX
from occid.ec2.reconciler import reconcile
from occid.occi import infrastructure as infra
from occid.occi.model import Link, Resource
from tests.motoserver import DEBIAN, JANE, PUBLIC_HOST, provider, settled
from tests.test_ec2_compute import ssh_key

pytestmark = pytest.mark.moto

def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", ())}


def test_recorded_links_are_made_then_cleared(account):
    """A create's public and storage links are made by the reconciler and leave the tag."""
    client = account.client
    disk = client.create_volume(Size=1, AvailabilityZone="eu-west-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "occid:owner", "Value": JANE.owner}]}])
    computes = provider(ComputeCollection, account)
    vm = settled(computes.create(Resource(
        kind=infra.COMPUTE, id="", mixins=[infra.os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)],
        links=[Link(kind=infra.NETWORKINTERFACE, id="", source="", target="/network/public"),
               Link(kind=infra.STORAGELINK, id="", source="", target=f"/storage/{disk['VolumeId']}")])))
    report = reconcile(account, datetime.now(timezone.utc))
    assert report.errors == []
    assert sorted(report.links_made) == sorted([f"{vm.id}_public", f"{vm.id}_{disk['VolumeId']}"])
    instance = client.describe_instances(InstanceIds=[vm.id])["Reservations"][0]["Instances"][0]
    assert "occid:links" not in tags_of(instance)
    address = client.describe_addresses()["Addresses"][0]
    assert address["InstanceId"] == vm.id
    assert tags_of(address)["occid:owner"] == JANE.owner
    attached = client.describe_volumes(VolumeIds=[disk["VolumeId"]])["Volumes"][0]
    assert attached["Attachments"][0]["Device"] == "/dev/sdf"
    links = {l.id: l for l in settled(computes.get(vm.id)).links}
    assert links[f"{vm.id}_public"].attributes["occi.networkinterface.state"] == "active"
    assert links[f"{vm.id}_{disk['VolumeId']}"].attributes["occi.storagelink.state"] == "active"
    again = reconcile(account, datetime.now(timezone.utc))
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
    now = datetime.now(timezone.utc)
    young = reconcile(account, now)
    assert young.key_pairs_deleted == []
    report = reconcile(account, now + timedelta(hours=2))
    assert report.key_pairs_deleted == [LAUNCH_KEY_PREFIX + "old"]
    assert young.addresses_released == [free["AllocationId"]]
    assert young.interfaces_deleted == [eni["NetworkInterfaceId"]]
    assert [k["KeyName"] for k in client.describe_key_pairs()["KeyPairs"]] == ["someone-elses"]
    assert [a["AllocationId"] for a in client.describe_addresses()["Addresses"]] == [
        foreign["AllocationId"]]
