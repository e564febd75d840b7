# -*- test-case-name: tests.test_ec2_compute -*-
"""
EC2 descriptions as OCCI entities: an instance as a compute with its links,
an EBS volume as a storage, a VPC as a network, and the C{public}
pseudo-network of elastic IPs.

A description occid cannot map (a field missing or of the wrong type, a
tag holding a character EC2's answer could not carry, which
L{occid.ec2.readable.mend} replaced by U+FFFD) raises L{Unreadable} through
L{readable}: a read of that entity answers it, and a listing skips the
entity and logs why (L{occid.ec2.readable.each}).

Pure: the functions take the dicts boto3 returned and the account's catalog
and call nothing.  Entity ids are EC2 ids; link ids are C{<instance
id>_<volume id>} (storage), C{<instance id>_<network interface id>} (a VPC)
and C{<instance id>_public} (the public address).
"""

from __future__ import annotations

from collections.abc import Callable

from occid.ec2 import intents
from occid.ec2.tags import NAME_TAG, tag_dict
from occid.ec2.vocabulary import (
    EC2_INSTANCE,
    EC2_VOLUME,
    EC2_VPC,
    HIBERNATION,
    OCCI_ARCHITECTURES,
    RESOURCE_TPL_SCHEME,
    resource_tpl_term,
)
from occid.interfaces import ICatalog
from occid.occi import infrastructure as infra
from occid.occi.errors import BadGateway
from occid.occi.model import Action, AttributeValue, Kind, Link, Mixin, Resource

__all__ = [
    "HIBERNATED",
    "PUBLIC",
    "REPLACED",
    "Unreadable",
    "applicable_actions",
    "ec2_state",
    "entity_from_instance",
    "entity_from_volume",
    "entity_from_vpc",
    "hibernation_configured",
    "networkinterface_link",
    "occi_state",
    "public_network",
    "readable",
    "storage_link",
]

#: The state reason EC2 gives a hibernated instance.
HIBERNATED = "Client.UserInitiatedHibernate"

#: The id of the pseudo-network of public (elastic) addresses.
PUBLIC = "public"

#: What stands in an EC2 answer for a character XML cannot carry.
REPLACED = "\ufffd"

_STATE_MESSAGES = {
    "pending": "the instance is starting",
    "stopping": "the instance is stopping",
}

_APPLICABLE: dict[str, tuple[Action, ...]] = {
    "running": (infra.COMPUTE_STOP, infra.COMPUTE_RESTART, infra.COMPUTE_SUSPEND,
                infra.COMPUTE_SAVE),
    "stopped": (infra.COMPUTE_START, infra.COMPUTE_SAVE),
    "hibernated": (infra.COMPUTE_START,),
}

_VOLUME_STATES = {
    "available": ("online", None),
    "in-use": ("online", None),
    "creating": ("offline", "the volume is being created"),
    "deleting": ("offline", "the volume is being deleted"),
    "error": ("error", "EBS reports an error on this volume"),
}


# -- every entity ------------------------------------------------------------


class Unreadable(BadGateway):
    """
    An EC2 resource occid cannot show as an entity.

    @ivar id: its EC2 id.
    @ivar why: what is wrong with its description.
    """

    def __init__(self, kind: Kind, id: str, why: str) -> None:
        super().__init__(f"EC2 holds {kind.term} {id}, but occid cannot read it ({why}); "
                         "the site admin can correct it in EC2")
        self.id = id
        self.why = why


def _id_of(resource: dict, kind: Kind) -> str:
    for key in ("InstanceId", "VolumeId", "VpcId", "SnapshotId"):
        if isinstance(resource.get(key), str):
            return resource[key]
    return f"(a {kind.term} without an id)"


def readable(kind: Kind, resource: dict, build: Callable[[dict], Resource]) -> Resource:
    """
    C{build(resource)}, the entity of EC2 description C{resource}.

    @raise Unreadable: a tag key or value holds L{REPLACED}, or C{build}
        found a field missing or not of the type EC2 gives it.
    """
    id = _id_of(resource, kind)
    for tag in resource.get("Tags") or ():
        if REPLACED in str(tag.get("Key", "")) + str(tag.get("Value", "")):
            raise Unreadable(kind, id, f"its tag {tag.get('Key', '')!r} holds a character "
                                       "EC2 cannot return in XML")
    try:
        return build(resource)
    except KeyError as error:
        raise Unreadable(kind, id, f"its description has no {error}") from error
    except (TypeError, ValueError, AttributeError) as error:
        raise Unreadable(kind, id, f"its description holds a value of an unexpected "
                                   f"type or form: {error}") from error


# -- computes ----------------------------------------------------------------


def ec2_state(instance: dict) -> str:
    """The instance state, with C{hibernated} told apart from C{stopped}."""
    state = instance["State"]["Name"]
    if state == "stopped" and instance.get("StateReason", {}).get("Code") == HIBERNATED:
        return "hibernated"
    return state


def occi_state(instance: dict) -> tuple[str, str | None]:
    """C{occi.compute.state} and C{.state.message} of an instance."""
    state = ec2_state(instance)
    if state == "running":
        return "active", None
    if state == "hibernated":
        return "suspended", "hibernated"
    return "inactive", _STATE_MESSAGES.get(state)


def hibernation_configured(instance: dict) -> bool:
    """Whether C{instance} was launched with hibernation enabled."""
    return bool(instance.get("HibernationOptions", {}).get("Configured"))


def applicable_actions(instance: dict) -> list[Action]:
    """
    The actions possible on C{instance} now: by its state, and suspend only
    when it was launched with hibernation enabled.
    """
    actions = _APPLICABLE.get(ec2_state(instance), ())
    if not hibernation_configured(instance):
        actions = tuple(a for a in actions if a != infra.COMPUTE_SUSPEND)
    return list(actions)


def _offered(catalog: ICatalog, template: Mixin) -> Mixin:
    """The catalog's own mixin for C{template}, else C{template} itself."""
    found = catalog.lookup(template.identifier)
    return found if isinstance(found, Mixin) else template


def networkinterface_link(link_id: str, source: str, target: str, address: str,
                          interface: str, active: bool, mac: str | None = None,
                          message: str | None = None) -> Link:
    """A networkinterface link with the ipnetworkinterface mixin."""
    attributes: dict[str, AttributeValue] = {
        "occi.networkinterface.interface": interface,
        "occi.networkinterface.state": "active" if active else "inactive",
        "occi.networkinterface.allocation": "dynamic",
    }
    if address:
        attributes["occi.networkinterface.address"] = address
    if mac:
        attributes["occi.networkinterface.mac"] = mac
    if message:
        attributes["occi.networkinterface.state.message"] = message
    return Link(kind=infra.NETWORKINTERFACE, id=link_id, source=source, target=target,
                source_kind=infra.COMPUTE, target_kind=infra.NETWORK,
                mixins=[infra.IPNETWORKINTERFACE], attributes=attributes)


def storage_link(instance_id: str, volume_id: str, device: str | None, active: bool,
                 message: str | None = None) -> Link:
    """The storagelink between an instance and a volume."""
    attributes: dict[str, AttributeValue] = {
        "occi.storagelink.state": "active" if active else "inactive"}
    if device:
        attributes["occi.storagelink.deviceid"] = device
    if message:
        attributes["occi.storagelink.state.message"] = message
    return Link(kind=infra.STORAGELINK, id=f"{instance_id}_{volume_id}",
                source=f"/compute/{instance_id}", target=f"/storage/{volume_id}",
                source_kind=infra.COMPUTE, target_kind=infra.STORAGE,
                attributes=attributes)


def _links(instance: dict, source: str) -> list[Link]:
    """The network interface and storage links of an instance, made and pending."""
    links: list[Link] = []
    id = instance["InstanceId"]
    pending = intents.pending(instance)
    pending_volumes = {i.target: i.device for i in pending if i.target != intents.PUBLIC}
    for nic in sorted(instance.get("NetworkInterfaces", ()),
                      key=lambda n: n.get("Attachment", {}).get("DeviceIndex", 0)):
        index = nic.get("Attachment", {}).get("DeviceIndex", 0)
        status = nic.get("Attachment", {}).get("Status", "attached")
        links.append(networkinterface_link(
            f"{id}_{nic['NetworkInterfaceId']}", source, f"/network/{nic['VpcId']}",
            nic.get("PrivateIpAddress", ""), f"eth{index}", status == "attached",
            mac=nic.get("MacAddress"),
        ))
    public_ip = instance.get("PublicIpAddress")
    if any(i.target == intents.PUBLIC for i in pending):
        # No address yet: one EC2 assigned at launch is replaced by the elastic IP.
        links.append(networkinterface_link(
            f"{id}_public", source, "/network/public", "", "public", False,
            message="waiting for the instance to run"))
    elif public_ip:
        links.append(networkinterface_link(
            f"{id}_public", source, "/network/public", public_ip, "public", True))
    for mapping in instance.get("BlockDeviceMappings", ()):
        volume = mapping.get("Ebs", {}).get("VolumeId")
        if not volume:
            continue
        status = mapping["Ebs"].get("Status", "attached")
        pending_volumes.pop(volume, None)
        links.append(storage_link(id, volume, mapping["DeviceName"], status == "attached",
                                  None if status == "attached" else status))
    for volume, device in sorted(pending_volumes.items()):
        links.append(storage_link(id, volume, device, False,
                                  "waiting for the instance to run"))
    return links


def entity_from_instance(instance: dict, catalog: ICatalog, public_host: str,
                         reservation: str | None = None) -> Resource:
    """
    The OCCI compute resource of an EC2 instance description; one launched
    able to hibernate carries the C{hibernation} mixin.
    """
    tags = tag_dict(instance)
    instance_type = instance["InstanceType"]
    zone = instance.get("Placement", {}).get("AvailabilityZone", "")
    os_tpl = _offered(catalog, infra.os_tpl_mixin(instance["ImageId"], instance["ImageId"],
                                                  public_host))
    resource_tpl = catalog.lookup(RESOURCE_TPL_SCHEME + resource_tpl_term(instance_type))
    mixins = [os_tpl]
    attributes: dict[str, AttributeValue] = {}
    if NAME_TAG in tags:
        attributes["occi.core.title"] = tags[NAME_TAG]
    state, message = occi_state(instance)
    attributes["occi.compute.state"] = state
    if message:
        attributes["occi.compute.state.message"] = message
    architecture = OCCI_ARCHITECTURES.get(instance.get("Architecture", ""))
    if architecture:
        attributes["occi.compute.architecture"] = architecture
    if isinstance(resource_tpl, Mixin):
        mixins.append(resource_tpl)
        for name in ("occi.compute.cores", "occi.compute.memory"):
            template = resource_tpl.attribute(name)
            if template is not None and template.default is not None:
                attributes[name] = template.default
    elif "CpuOptions" in instance:
        cpu = instance["CpuOptions"]
        attributes["occi.compute.cores"] = cpu.get("CoreCount", 1) * cpu.get("ThreadsPerCore", 1)
    hostname = instance.get("PublicDnsName") or instance.get("PrivateDnsName")
    if hostname:
        attributes["occi.compute.hostname"] = hostname
    if zone:
        mixins.append(_offered(catalog, infra.availability_zone_mixin(zone, public_host)))
    mixins.append(EC2_INSTANCE)
    # Launched able to hibernate, but the site may offer hibernation no more.
    hibernating = (hibernation_configured(instance)
                   and catalog.lookup(HIBERNATION.identifier) is not None)
    if hibernating:
        mixins.append(HIBERNATION)
    ec2 = {
        "instance_type": instance_type,
        "availability_zone": zone,
        "state": instance["State"]["Name"],
        "private_ip": instance.get("PrivateIpAddress"),
        "public_ip": instance.get("PublicIpAddress"),
        "private_dns": instance.get("PrivateDnsName"),
        "public_dns": instance.get("PublicDnsName"),
        "key_name": instance.get("KeyName"),
        "launch_time": instance["LaunchTime"].isoformat() if "LaunchTime" in instance else None,
        "vpc_id": instance.get("VpcId"),
        "subnet_id": instance.get("SubnetId"),
        "reservation_id": reservation,
        "hypervisor": instance.get("Hypervisor"),
        "virtualization_type": instance.get("VirtualizationType"),
    }
    attributes.update(
        {f"com.amazon.aws.ec2.{key}": value for key, value in ec2.items() if value})
    id = instance["InstanceId"]
    return Resource(
        kind=infra.COMPUTE, id=id, mixins=mixins, attributes=attributes,
        actions=[action for action in applicable_actions(instance)
                 if hibernating or action != infra.COMPUTE_SUSPEND],
        links=_links(instance, f"/compute/{id}"),
    )


# -- storage -----------------------------------------------------------------


def entity_from_volume(volume: dict, catalog: ICatalog, public_host: str) -> Resource:
    """The OCCI storage resource of an EBS volume description."""
    tags = tag_dict(volume)
    state, message = _VOLUME_STATES.get(volume["State"], ("offline", volume["State"]))
    attributes: dict[str, AttributeValue] = {
        "occi.storage.size": float(volume["Size"]), "occi.storage.state": state}
    if NAME_TAG in tags:
        attributes["occi.core.title"] = tags[NAME_TAG]
    if message:
        attributes["occi.storage.state.message"] = message
    ec2 = {
        "availability_zone": volume["AvailabilityZone"],
        "state": volume["State"],
        "volume_type": volume.get("VolumeType"),
        "iops": volume.get("Iops"),
        "encrypted": volume.get("Encrypted"),
        "snapshot_id": volume.get("SnapshotId"),
    }
    attributes.update({f"com.amazon.aws.ec2.{k}": v for k, v in ec2.items()
                       if v is not None and v != ""})
    zone = infra.availability_zone_mixin(volume["AvailabilityZone"], public_host)
    mixins = [_offered(catalog, zone), EC2_VOLUME]
    actions = ([infra.STORAGE_BACKUP, infra.STORAGE_SNAPSHOT, infra.STORAGE_RESIZE]
               if volume["State"] in ("available", "in-use") else [])
    return Resource(kind=infra.STORAGE, id=volume["VolumeId"], mixins=mixins,
                    attributes=attributes, actions=actions)


# -- networks ----------------------------------------------------------------


def public_network() -> Resource:
    """The pseudo-network of public (elastic) addresses."""
    return Resource(kind=infra.NETWORK, id=PUBLIC, mixins=[infra.IPNETWORK], attributes={
        "occi.core.title": "public addresses (elastic IPs)",
        "occi.network.state": "active",
        "occi.network.allocation": "dynamic",
    })


def entity_from_vpc(vpc: dict) -> Resource:
    """The OCCI network of a VPC description."""
    tags = tag_dict(vpc)
    attributes: dict[str, AttributeValue] = {
        "occi.network.address": vpc["CidrBlock"],
        "occi.network.state": "active" if vpc["State"] == "available" else "inactive",
        "occi.network.allocation": "dynamic",
        "com.amazon.aws.ec2.state": vpc["State"],
        "com.amazon.aws.ec2.is_default": bool(vpc.get("IsDefault")),
    }
    if vpc["State"] != "available":
        attributes["occi.network.state.message"] = f"the VPC is {vpc['State']}"
    if vpc.get("InstanceTenancy"):
        attributes["com.amazon.aws.ec2.instance_tenancy"] = vpc["InstanceTenancy"]
    if NAME_TAG in tags:
        attributes["occi.core.title"] = tags[NAME_TAG]
    return Resource(kind=infra.NETWORK, id=vpc["VpcId"], mixins=[infra.IPNETWORK, EC2_VPC],
                    attributes=attributes)
