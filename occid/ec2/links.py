# -*- test-case-name: tests.test_ec2_links -*-
"""
OCCI links between computes and networks or storage, made of EC2 pieces:
the blocking operations, run in the EC2 thread pool by L{occid.ec2.adapter}.

Link ids derive from EC2 ids, so any occid process can find them again:

  - C{<instance id>_public}: the instance's public address; creating it
    allocates an elastic IP (tagged C{occid:managed=public} and
    C{occid:created}) and associates it; deleting it disassociates and
    releases that address.
  - C{<instance id>_<eni id>}: a network interface in a VPC; creating one on
    an existing instance is CreateNetworkInterface (tagged
    C{occid:managed=interface} and C{occid:created}) in the VPC's subnet of
    the instance's zone plus AttachNetworkInterface.
  - C{<instance id>_<volume id>}: an attached EBS volume (AttachVolume at
    C{occi.storagelink.deviceid} or the next free C{/dev/sdf}..C{/dev/sdp};
    DetachVolume always names volume, instance and device).

A link asked for while the instance is still pending is recorded in its
C{occid:links} tag and made by the reconciler, like the inline links of a
create (L{occid.ec2.intents}).
"""

from __future__ import annotations

from occid.ec2 import intents, refusals
from occid.ec2.account import Account, all_instances
from occid.ec2.addresses import occid_addresses
from occid.ec2.clients import EC2Client
from occid.ec2.compute import describe, entity
from occid.ec2.errors import translated
from occid.ec2.planning import LinkPlan, split_link_id
from occid.ec2.readable import each
from occid.ec2.scope import Scope
from occid.ec2.tags import (
    LINKS_TAG,
    MANAGED_INTERFACE,
    MANAGED_PUBLIC,
    MANAGED_TAG,
    created_tag,
    shown,
    tag_list,
)
from occid.ec2.vocabulary import valid_id
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, NotFound
from occid.occi.model import Entity, EntityFilter, Kind, Link

#: The usual root device names (moto reports the root volume at /dev/sda1
#: while naming /dev/xvda as RootDeviceName).
ROOT_DEVICES = ("/dev/sda1", "/dev/xvda")


def next_device(instance: dict) -> str:
    """The first of L{DEVICES} the instance does not use.  @raise Conflict: all used."""
    used = {m["DeviceName"].replace("/dev/xvd", "/dev/sd")
            for m in instance.get("BlockDeviceMappings", ())}
    used |= {i.device for i in intents.pending(instance) if i.device}
    for device in intents.DEVICES:
        if device not in used:
            return device
    raise Conflict(f"compute {instance['InstanceId']} has no free device left")


def write_intents(client: EC2Client, instance_id: str, kept: tuple[intents.Intent, ...]) -> None:
    """Set the instance's C{occid:links} tag to C{kept}, or remove it when empty."""
    if kept:
        client.create_tags(Resources=[instance_id],
                           Tags=[{"Key": LINKS_TAG, "Value": intents.encode(kept)}])
    else:
        client.delete_tags(Resources=[instance_id], Tags=[{"Key": LINKS_TAG}])


def record_intent(client: EC2Client, instance: dict, intent: intents.Intent) -> None:
    """Add C{intent} to the instance's C{occid:links} tag."""
    write_intents(client, instance["InstanceId"], intents.pending(instance) + (intent,))


def drop_intent(client: EC2Client, instance: dict, target: str) -> bool:
    """Remove the intents for C{target} from the instance's tag; whether there were any."""
    pending = intents.pending(instance)
    kept = tuple(i for i in pending if i.target != target)
    if len(kept) == len(pending):
        return False
    write_intents(client, instance["InstanceId"], kept)
    return True


def make_public(client: EC2Client, instance: dict, owner_tags: dict[str, str]) -> None:
    """Allocate a tagged elastic IP and associate it; released again if that fails."""
    tags = dict(owner_tags, **{MANAGED_TAG: MANAGED_PUBLIC}, **created_tag())
    allocation = client.allocate_address(
        Domain="vpc",
        TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tag_list(tags)}],
    )["AllocationId"]
    try:
        client.associate_address(AllocationId=allocation, InstanceId=instance["InstanceId"])
    except BaseException:
        client.release_address(AllocationId=allocation)
        raise


def zone_mismatch(instance: dict, volume: dict) -> str | None:
    """Why C{volume} cannot be attached to C{instance}, if they are in two zones."""
    zone = instance.get("Placement", {}).get("AvailabilityZone")
    if zone and volume["AvailabilityZone"] != zone:
        return (f"storage {volume['VolumeId']} is in {volume['AvailabilityZone']}, "
                f"compute {instance['InstanceId']} in {zone}")
    return None


def check_attachable(instance: dict, volume: dict) -> None:
    """@raise Conflict: C{volume} is not available, or in another zone than C{instance}."""
    if volume.get("Attachments") or volume.get("State", "available") != "available":
        raise Conflict(f"storage {volume['VolumeId']} is {volume.get('State', 'in-use')}; "
                       "only an available volume can be linked")
    mismatch = zone_mismatch(instance, volume)
    if mismatch:
        raise Conflict(mismatch)


def attach_volume(client: EC2Client, instance: dict, volume: dict, device: str | None) -> str:
    """
    Attach C{volume} to C{instance} at C{device} or the next free one; the
    device used.  @raise Conflict: other zone, or the volume is in use.
    """
    check_attachable(instance, volume)
    device = device or next_device(instance)
    client.attach_volume(Device=device, InstanceId=instance["InstanceId"],
                         VolumeId=volume["VolumeId"])
    return device


def _visible_volume(account: Account, scope: Scope, volume_id: str) -> dict:
    if not valid_id("vol", volume_id):
        raise BadRequest(f"no storage {volume_id}")
    volumes = account.client.describe_volumes(
        Filters=[{"Name": "volume-id", "Values": [volume_id]}, *scope.filters()])["Volumes"]
    if not volumes:
        raise BadRequest(f"no storage {volume_id} to link")
    return volumes[0]


@translated
def list_links(account: Account, scope: Scope, filter: EntityFilter, kind: Kind) -> list[Entity]:
    """
    Every link of C{kind} on the principal's visible instances (but those
    occid cannot read: L{each}).
    """
    filters = shown(scope.filters(owned_only=filter.owned_only))
    links: list[Entity] = [
        link
        for compute in each(account.label, infra.COMPUTE, all_instances(account, filters),
                            lambda found: entity(account, *found))
        for link in compute.links
        if link.kind == kind and filter.matches(link)
    ]
    return sorted(links, key=lambda link: link.id)


def _source(account: Account, scope: Scope, id: str, kind: Kind) -> tuple[str, dict, str]:
    """
    The target part of link C{id}, and the description and reservation id
    of its instance (one DescribeInstances).

    @raise NotFound: not a link id, or its instance is not visible: the
        same answer (L{refusals.not_found}) naming the link.
    """
    try:
        instance_id, target = split_link_id(id)
        instance, reservation = describe(account, scope, instance_id)
    except NotFound:
        raise refusals.not_found(kind, id) from None
    return target, instance, reservation


def _current(account: Account, scope: Scope, id: str, kind: Kind) -> Link:
    """The link C{id} of C{kind} as it is now (one DescribeInstances)."""
    _, instance, reservation = _source(account, scope, id, kind)
    for link in entity(account, instance, reservation).links:
        if link.id == id and link.kind == kind:
            return link
    raise refusals.not_found(kind, id)


@translated
def get_link(account: Account, scope: Scope, id: str, kind: Kind) -> Entity:
    """The link C{id} as it is now (one DescribeInstances)."""
    return _current(account, scope, id, kind)


def _linked(account: Account, scope: Scope, id: str, kind: Kind) -> tuple[str, str, dict]:
    """The instance id, target part and instance description of link C{id} of C{kind}."""
    target, instance, _ = _source(account, scope, id, kind)
    return instance["InstanceId"], target, instance


@translated
def create_networkinterface(account: Account, scope: Scope, plan: LinkPlan) -> Entity:
    """Link a compute to C{/network/public} or to a VPC (L{plan_link} checked both)."""
    client = account.client
    instance = describe(account, scope, plan.source)[0]
    id = instance["InstanceId"]
    target = plan.target
    if target == "public":
        if occid_addresses(client, id) or any(
                i.target == intents.PUBLIC for i in intents.pending(instance)):
            raise Conflict(f"compute {id} already has a public address from occid")
        if instance["State"]["Name"] == "pending":
            record_intent(client, instance, intents.Intent(intents.PUBLIC))
        else:
            make_public(client, instance, scope.creation_tags())
        return _current(account, scope, f"{id}_public", infra.NETWORKINTERFACE)
    return _attach_interface(account, scope, instance, target)


def _attach_interface(account: Account, scope: Scope, instance: dict, vpc_id: str) -> Entity:
    client = account.client
    id = instance["InstanceId"]
    zone = instance["Placement"]["AvailabilityZone"]
    subnets = sorted(client.describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "availability-zone", "Values": [zone]}])["Subnets"],
        key=lambda s: s["SubnetId"])
    if not subnets:
        raise Conflict(f"network {vpc_id} has no subnet in {zone}, the zone of compute {id}")
    used = {n.get("Attachment", {}).get("DeviceIndex", 0)
            for n in instance.get("NetworkInterfaces", ())}
    index = next(i for i in range(1, 64) if i not in used)
    parameters: dict = {"SubnetId": subnets[0]["SubnetId"], "TagSpecifications": [{
        "ResourceType": "network-interface",
        "Tags": tag_list(dict(scope.creation_tags(), **{MANAGED_TAG: MANAGED_INTERFACE},
                              **created_tag()))}]}
    group = account.groups.group_for(vpc_id)
    if group:
        parameters["Groups"] = [group]
    interface = client.create_network_interface(**parameters)["NetworkInterface"]
    eni = interface["NetworkInterfaceId"]
    try:
        client.attach_network_interface(NetworkInterfaceId=eni, InstanceId=id, DeviceIndex=index)
    except BaseException:
        client.delete_network_interface(NetworkInterfaceId=eni)
        raise
    return _current(account, scope, f"{id}_{eni}", infra.NETWORKINTERFACE)


@translated
def delete_networkinterface(account: Account, scope: Scope, id: str) -> None:
    """Remove a public address or a secondary network interface."""
    client = account.client
    instance_id, target, instance = _linked(account, scope, id, infra.NETWORKINTERFACE)
    if target == "public":
        if drop_intent(client, instance, intents.PUBLIC):
            return
        addresses = occid_addresses(client, instance_id)
        if not addresses:
            if instance.get("PublicIpAddress"):
                raise Conflict(f"the public address of compute {instance_id} was assigned by "
                               "EC2 at launch and cannot be removed")
            raise refusals.not_found(infra.NETWORKINTERFACE, id)
        for address in addresses:
            client.disassociate_address(AssociationId=address["AssociationId"])
            client.release_address(AllocationId=address["AllocationId"])
        return
    for interface in instance.get("NetworkInterfaces", ()):
        if interface["NetworkInterfaceId"] != target:
            continue
        attachment = interface.get("Attachment", {})
        if attachment.get("DeviceIndex", 0) == 0:
            raise Conflict(f"{target} is the primary interface of compute {instance_id}; "
                           "delete the compute instead")
        client.detach_network_interface(AttachmentId=attachment["AttachmentId"])
        return
    raise refusals.not_found(infra.NETWORKINTERFACE, id)


@translated
def create_storagelink(account: Account, scope: Scope, plan: LinkPlan) -> Entity:
    """Attach a volume to a compute (now, or once the compute runs)."""
    client = account.client
    instance = describe(account, scope, plan.source)[0]
    id = instance["InstanceId"]
    volume = _visible_volume(account, scope, plan.target)
    device = plan.device
    if instance["State"]["Name"] == "pending":
        check_attachable(instance, volume)
        record_intent(client, instance, intents.Intent(volume["VolumeId"], device))
    else:
        attach_volume(client, instance, volume, device)
    return _current(account, scope, f"{id}_{volume['VolumeId']}", infra.STORAGELINK)


@translated
def delete_storagelink(account: Account, scope: Scope, id: str) -> None:
    """Detach a volume (DetachVolume with volume, instance and device)."""
    client = account.client
    instance_id, volume_id, instance = _linked(account, scope, id, infra.STORAGELINK)
    if drop_intent(client, instance, volume_id):
        return
    for mapping in instance.get("BlockDeviceMappings", ()):
        if mapping.get("Ebs", {}).get("VolumeId") != volume_id:
            continue
        if mapping["DeviceName"] in (instance.get("RootDeviceName"), *ROOT_DEVICES):
            raise Conflict(f"{volume_id} is the root volume of compute {instance_id}")
        client.detach_volume(VolumeId=volume_id, InstanceId=instance_id,
                             Device=mapping["DeviceName"])
        return
    raise refusals.not_found(infra.STORAGELINK, id)
