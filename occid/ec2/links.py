# -*- test-case-name: tests.test_ec2_links -*-
"""
OCCI links between computes and networks or storage, made of EC2 pieces.

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

from twisted.internet.defer import fail
from zope.interface import implementer

from occid.ec2 import intents
from occid.ec2.account import MANAGED_TAG, Account, created_tag
from occid.ec2.collection import AccountCollection
from occid.ec2.compute import SHOWN_STATES, all_instances, describe, render
from occid.ec2.errors import translated
from occid.ec2.scope import Scope, tag_list, valid_id
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Entity, EntityFilter, Link

#: The usual root device names (moto reports the root volume at /dev/sda1
#: while naming /dev/xvda as RootDeviceName).
ROOT_DEVICES = ("/dev/sda1", "/dev/xvda")

#: Devices occid attaches volumes as, in order.
DEVICES = tuple(f"/dev/sd{letter}" for letter in "fghijklmnop")


def split_link_id(id: str) -> tuple[str, str]:
    """C{(instance id, target part)} of a link id.  @raise NotFound: not a link id."""
    instance_id, _, target = id.partition("_")
    if not valid_id("i", instance_id) or not target:
        raise NotFound(f"no link {id}")
    return instance_id, target


def _path_id(path: str, collection: str) -> str:
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    prefix = f"/{collection}/"
    if not path.startswith(prefix):
        raise BadRequest(f"{path} is not a /{collection}/ location")
    return path[len(prefix):].strip("/")


def next_device(instance: dict) -> str:
    """The first of L{DEVICES} the instance does not use.  @raise Conflict: all used."""
    used = {m["DeviceName"].replace("/dev/xvd", "/dev/sd")
            for m in instance.get("BlockDeviceMappings", ())}
    used |= {i.device for i in intents.decode(_tags(instance).get(intents.LINKS_TAG, ""))
             if i.device}
    for device in DEVICES:
        if device not in used:
            return device
    raise Conflict(f"compute {instance['InstanceId']} has no free device left")


def _tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", ())}


def record_intent(client, instance: dict, intent: intents.Intent) -> None:
    """Add C{intent} to the instance's C{occid:links} tag."""
    pending = intents.decode(_tags(instance).get(intents.LINKS_TAG, ""))
    value = intents.encode(pending + (intent,))
    client.create_tags(Resources=[instance["InstanceId"]],
                       Tags=[{"Key": intents.LINKS_TAG, "Value": value}])


def drop_intent(client, instance: dict, target: str) -> bool:
    """Remove the intents for C{target} from the instance's tag; whether there were any."""
    pending = intents.decode(_tags(instance).get(intents.LINKS_TAG, ""))
    kept = tuple(i for i in pending if i.target != target)
    if len(kept) == len(pending):
        return False
    if kept:
        client.create_tags(Resources=[instance["InstanceId"]],
                           Tags=[{"Key": intents.LINKS_TAG, "Value": intents.encode(kept)}])
    else:
        client.delete_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": intents.LINKS_TAG}])
    return True


def occid_addresses(client, instance_id: str) -> list[dict]:
    """The elastic IPs occid made that are associated with the instance."""
    return [
        address for address in client.describe_addresses(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
        if _tags(address).get(MANAGED_TAG) == "public"
    ]


def make_public(client, instance: dict, owner_tags: dict) -> None:
    """Allocate a tagged elastic IP and associate it; released again if that fails."""
    tags = dict(owner_tags, **{MANAGED_TAG: "public"}, **created_tag())
    allocation = client.allocate_address(
        Domain="vpc",
        TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tag_list(tags)}],
    )["AllocationId"]
    try:
        client.associate_address(AllocationId=allocation, InstanceId=instance["InstanceId"])
    except BaseException:
        client.release_address(AllocationId=allocation)
        raise


def check_attachable(instance: dict, volume: dict) -> None:
    """@raise Conflict: C{volume} is not available, or in another zone than C{instance}."""
    if volume.get("Attachments") or volume.get("State", "available") != "available":
        raise Conflict(f"storage {volume['VolumeId']} is {volume.get('State', 'in-use')}; "
                       "only an available volume can be linked")
    zone = instance.get("Placement", {}).get("AvailabilityZone")
    if zone and volume["AvailabilityZone"] != zone:
        raise Conflict(f"storage {volume['VolumeId']} is in {volume['AvailabilityZone']}, "
                       f"compute {instance['InstanceId']} in {zone}")


def attach_volume(client, instance: dict, volume: dict, device: str | None) -> str:
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


def _find(entity: Entity, kind, id: str) -> Link:
    for link in getattr(entity, "links", ()):
        if link.id == id and link.kind == kind:
            return link
    raise NotFound(f"no {kind.term} {id}")


@translated
def list_links(account: Account, scope: Scope, kind, filter: EntityFilter) -> list[Entity]:
    """Every link of C{kind} on the principal's visible instances."""
    filters = [{"Name": "instance-state-name", "Values": list(SHOWN_STATES)},
               *scope.filters(owned_only=filter.owned_only)]
    links = [
        link
        for instance, reservation in all_instances(account, filters)
        for link in render(instance, account, reservation).links
        if link.kind == kind and filter.matches(link)
    ]
    return sorted(links, key=lambda link: link.id)


@translated
def get_link(account: Account, scope: Scope, kind, id: str) -> Entity:
    """The link C{id} as it is now (one DescribeInstances)."""
    instance_id, _ = split_link_id(id)
    instance, reservation = describe(account, scope, instance_id)
    return _find(render(instance, account, reservation), kind, id)


def _source(account: Account, scope: Scope, link: Entity) -> dict:
    return describe(account, scope, _path_id(link.source, "compute"))[0]


def _rendered(account: Account, scope: Scope, kind, id: str) -> Entity:
    instance, reservation = describe(account, scope, split_link_id(id)[0])
    return _find(render(instance, account, reservation), kind, id)


@translated
def create_networkinterface(account: Account, scope: Scope, link: Entity) -> Entity:
    """Link a compute to C{/network/public} or to a VPC."""
    client = account.client
    instance = _source(account, scope, link)
    id = instance["InstanceId"]
    target = _path_id(link.target, "network")
    if target == "public":
        if occid_addresses(client, id) or any(
                i.target == intents.PUBLIC
                for i in intents.decode(_tags(instance).get(intents.LINKS_TAG, ""))):
            raise Conflict(f"compute {id} already has a public address from occid")
        if instance["State"]["Name"] == "pending":
            record_intent(client, instance, intents.Intent(intents.PUBLIC))
        else:
            make_public(client, instance, scope.creation_tags())
        return _rendered(account, scope, infra.NETWORKINTERFACE, f"{id}_public")
    if not valid_id("vpc", target):
        raise BadRequest(f"no network {target}")
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
    parameters = {"SubnetId": subnets[0]["SubnetId"], "TagSpecifications": [{
        "ResourceType": "network-interface",
        "Tags": tag_list(dict(scope.creation_tags(), **{MANAGED_TAG: "interface"},
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
    return _rendered(account, scope, infra.NETWORKINTERFACE, f"{id}_{eni}")


@translated
def delete_networkinterface(account: Account, scope: Scope, id: str) -> None:
    """Remove a public address or a secondary network interface."""
    client = account.client
    instance_id, target = split_link_id(id)
    instance, _ = describe(account, scope, instance_id)
    if target == "public":
        if drop_intent(client, instance, intents.PUBLIC):
            return
        addresses = occid_addresses(client, instance_id)
        if not addresses:
            if instance.get("PublicIpAddress"):
                raise Conflict(f"the public address of compute {instance_id} was assigned by "
                               "EC2 at launch and cannot be removed")
            raise NotFound(f"no networkinterface {id}")
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
    raise NotFound(f"no networkinterface {id}")


@translated
def create_storagelink(account: Account, scope: Scope, link: Entity) -> Entity:
    """Attach a volume to a compute (now, or once the compute runs)."""
    client = account.client
    instance = _source(account, scope, link)
    id = instance["InstanceId"]
    volume = _visible_volume(account, scope, _path_id(link.target, "storage"))
    device = link.attributes.get("occi.storagelink.deviceid")
    if device is not None and not intents.valid_device(str(device)):
        raise BadRequest(f"device {device} is not one of /dev/sdf to /dev/sdp")
    device = str(device) if device else None
    if instance["State"]["Name"] == "pending":
        check_attachable(instance, volume)
        record_intent(client, instance, intents.Intent(volume["VolumeId"], device))
    else:
        attach_volume(client, instance, volume, device)
    return _rendered(account, scope, infra.STORAGELINK, f"{id}_{volume['VolumeId']}")


@translated
def delete_storagelink(account: Account, scope: Scope, id: str) -> None:
    """Detach a volume (DetachVolume with volume, instance and device)."""
    client = account.client
    instance_id, volume_id = split_link_id(id)
    instance, _ = describe(account, scope, instance_id)
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
    raise NotFound(f"no storagelink {id}")


class _LinkCollection(AccountCollection):
    """What both link providers share."""

    kind = None
    _create = None
    _delete = None

    def list(self, filter):
        return self._run(list_links, self.kind, filter)

    def get(self, id):
        return self._run(get_link, self.kind, id)

    def create(self, entity):
        return self._write(self._create, entity)

    def update(self, id, changes):
        return fail(Forbidden(f"a {self.kind.term} cannot be changed; delete it and link again"))

    def delete(self, id):
        return self._write(self._delete, id)

    def trigger(self, id, action, attributes):
        return fail(BadRequest(f"{action.identifier} is not an action of {self.kind.term}"))


@implementer(IEntityCollection)
class NetworkInterfaceCollection(_LinkCollection):
    """Links from the principal's computes to networks."""

    kind = infra.NETWORKINTERFACE
    _create = staticmethod(create_networkinterface)
    _delete = staticmethod(delete_networkinterface)


@implementer(IEntityCollection)
class StorageLinkCollection(_LinkCollection):
    """Links from the principal's computes to volumes."""

    kind = infra.STORAGELINK
    _create = staticmethod(create_storagelink)
    _delete = staticmethod(delete_storagelink)
