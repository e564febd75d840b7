# -*- test-case-name: tests.test_ec2_compute -*-
"""
OCCI compute resources as EC2 instances.

The blocking functions take an L{Account} and a L{Scope} and return plain
entities; L{ComputeCollection} runs them in the EC2 thread pool.  Entity ids
are instance ids; link ids are C{<instance id>_<volume id>} (storage),
C{<instance id>_<network interface id>} (a VPC) and C{<instance id>_public}
(the public address).

A create is one RunInstances (plus ImportKeyPair and DeleteKeyPair when the
request carries an SSH key, and a DescribeSubnets for a VPC link): tags,
security group, key, user data and placement go in that one call, and links
that need a running instance are recorded in a tag for the reconciler.  Once
the instance is launched the create succeeds: a temporary key pair that
cannot be deleted then is left to the reconciler and logged by
L{ComputeCollection} in the reactor thread.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from twisted.logger import Logger
from zope.interface import implementer

from occid.ec2 import intents
from occid.ec2.account import MANAGED_TAG, Account
from occid.ec2.catalog import SavedImage
from occid.ec2.collection import AccountCollection
from occid.ec2.errors import translate, translated
from occid.ec2.scope import (
    NAME_TAG,
    OWNER_TAG,
    VO_TAG,
    Scope,
    retitle,
    tag_dict,
    tag_list,
    valid_id,
)
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Changes, Entity, EntityFilter, Link, Mixin, Resource

#: Instance states occid shows; shutting-down and terminated ones are gone.
SHOWN_STATES = ("pending", "running", "stopping", "stopped")

#: EC2's limit on user data, in raw bytes before base64.
USER_DATA_LIMIT = 16384

#: Prefix of the temporary key pairs occid imports for one launch.
LAUNCH_KEY_PREFIX = "occid-launch-"

#: Tag holding the launch's client token, to find an instance after a timeout.
TOKEN_TAG = "occid:token"

#: The state reason EC2 gives a hibernated instance.
HIBERNATED = "Client.UserInitiatedHibernate"

_STATE_MESSAGES = {
    "pending": "the instance is starting",
    "stopping": "the instance is stopping",
}

_APPLICABLE = {
    "running": (infra.COMPUTE_STOP, infra.COMPUTE_RESTART, infra.COMPUTE_SUSPEND,
                infra.COMPUTE_SAVE),
    "stopped": (infra.COMPUTE_START, infra.COMPUTE_SAVE),
    "hibernated": (infra.COMPUTE_START,),
}

_SSH_KEY_ATTRIBUTES = ("occi.credentials.ssh.publickey", "org.openstack.credentials.publickey.data")
_USER_DATA_ATTRIBUTES = ("org.openstack.compute.user_data", "occi.compute.userdata")


# -- rendering ---------------------------------------------------------------


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


def _template(catalog, template: Mixin) -> Mixin:
    return catalog.lookup(template.identifier) or template


def _links(instance: dict, source: str) -> list[Link]:
    """The network interface and storage links of an instance, made and pending."""
    links: list[Link] = []
    id = instance["InstanceId"]
    pending = intents.decode(tag_dict(instance).get(intents.LINKS_TAG, ""))
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
        links.append(networkinterface_link(
            f"{id}_public", source, "/network/public", public_ip or "", "public", False,
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


def networkinterface_link(link_id: str, source: str, target: str, address: str,
                          interface: str, active: bool, mac: str | None = None,
                          message: str | None = None) -> Link:
    """A networkinterface link with the ipnetworkinterface mixin."""
    attributes = {
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
    attributes = {"occi.storagelink.state": "active" if active else "inactive"}
    if device:
        attributes["occi.storagelink.deviceid"] = device
    if message:
        attributes["occi.storagelink.state.message"] = message
    return Link(kind=infra.STORAGELINK, id=f"{instance_id}_{volume_id}",
                source=f"/compute/{instance_id}", target=f"/storage/{volume_id}",
                source_kind=infra.COMPUTE, target_kind=infra.STORAGE,
                attributes=attributes)


def render(instance: dict, account: Account, reservation: str | None = None) -> Resource:
    """The OCCI compute resource of an EC2 instance description."""
    catalog = account.catalog.catalog
    public_host = account.catalog.public_host
    tags = tag_dict(instance)
    instance_type = instance["InstanceType"]
    zone = instance.get("Placement", {}).get("AvailabilityZone", "")
    os_tpl = _template(catalog, infra.os_tpl_mixin(instance["ImageId"], instance["ImageId"],
                                                   public_host))
    resource_tpl = catalog.lookup(
        infra.RESOURCE_TPL_SCHEME + infra.resource_tpl_term(instance_type))
    mixins = [os_tpl]
    attributes: dict = {}
    if NAME_TAG in tags:
        attributes["occi.core.title"] = tags[NAME_TAG]
    state, message = occi_state(instance)
    attributes["occi.compute.state"] = state
    if message:
        attributes["occi.compute.state.message"] = message
    architecture = infra.OCCI_ARCHITECTURES.get(instance.get("Architecture", ""))
    if architecture:
        attributes["occi.compute.architecture"] = architecture
    if resource_tpl is not None:
        mixins.append(resource_tpl)
        for name in ("occi.compute.cores", "occi.compute.memory"):
            attributes[name] = resource_tpl.attribute(name).default
    elif "CpuOptions" in instance:
        cpu = instance["CpuOptions"]
        attributes["occi.compute.cores"] = cpu.get("CoreCount", 1) * cpu.get("ThreadsPerCore", 1)
    hostname = instance.get("PublicDnsName") or instance.get("PrivateDnsName")
    if hostname:
        attributes["occi.compute.hostname"] = hostname
    if zone:
        mixins.append(_template(catalog, infra.availability_zone_mixin(zone, public_host)))
    mixins.append(infra.EC2_INSTANCE)
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
        actions=applicable_actions(instance),
        links=_links(instance, f"/compute/{id}"),
    )


def applicable_actions(instance: dict) -> list:
    """
    The actions possible on C{instance} now: by its state, and suspend only
    when it was launched with hibernation enabled.
    """
    actions = _APPLICABLE.get(ec2_state(instance), ())
    if not _hibernation_configured(instance):
        actions = tuple(a for a in actions if a != infra.COMPUTE_SUSPEND)
    return list(actions)


def _hibernation_configured(instance: dict) -> bool:
    return bool(instance.get("HibernationOptions", {}).get("Configured"))


# -- reading -----------------------------------------------------------------


def _shown(extra=()) -> list[dict]:
    return [{"Name": "instance-state-name", "Values": list(SHOWN_STATES)}, *extra]


def describe(account: Account, scope: Scope, id: str) -> tuple[dict, str]:
    """
    The description and reservation id of instance C{id}, as the principal
    may see it (one DescribeInstances).

    @raise NotFound: no such instance, terminated, or another user's.
    """
    if not valid_id("i", id):
        raise NotFound(f"no compute {id}")
    answer = account.recent.describe(id, lambda: account.client.describe_instances(
        InstanceIds=[id], Filters=_shown(scope.filters())))
    for reservation in answer["Reservations"]:
        for instance in reservation["Instances"]:
            return instance, reservation["ReservationId"]
    raise NotFound(f"no compute {id}")


def all_instances(account: Account, filters: list[dict]):
    """(instance, reservation id) for every instance matching C{filters}, paginated by 1,000."""
    pages = account.client.get_paginator("describe_instances").paginate(
        Filters=filters, PaginationConfig={"PageSize": 1000})
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                yield instance, reservation["ReservationId"]


@translated
def list_computes(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """The principal's visible instances passing C{filter}, ordered by id."""
    entities = (
        render(instance, account, reservation)
        for instance, reservation in all_instances(
            account, _shown(scope.filters(owned_only=filter.owned_only)))
    )
    return sorted((e for e in entities if filter.matches(e)), key=lambda e: e.id)


@translated
def get_compute(account: Account, scope: Scope, id: str) -> Entity:
    """Instance C{id} as it is now."""
    instance, reservation = describe(account, scope, id)
    return render(instance, account, reservation)


# -- creating ----------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """Everything a create asks for, checked before any EC2 call."""

    image_id: str
    instance_type: str
    zone: str | None
    vpc_id: str | None
    ssh_key: bytes | None
    user_data: bytes | None
    tags: dict
    pending: tuple
    client_token: str


def check_ssh_key(text: str) -> bytes:
    """
    The OpenSSH public key C{text}, if EC2 can import it (RSA of 2048 bits
    or more, or ed25519).  @raise BadRequest: otherwise.
    """
    data = text.strip().encode("utf-8", "replace")
    try:
        key = load_ssh_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise BadRequest(f"the SSH public key cannot be read ({error})") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise BadRequest(f"the SSH key is RSA of {key.key_size} bits; EC2 needs 2048 or more")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise BadRequest("the SSH key must be RSA (2048 bits or more) or ed25519")
    return data


def decode_user_data(text: str) -> bytes:
    """User data as sent (base64), decoded.  @raise BadRequest: not base64, or over 16 KiB."""
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("user data must be base64-encoded") from None
    if len(raw) > USER_DATA_LIMIT:
        raise BadRequest(f"user data is {len(raw)} bytes; EC2 accepts {USER_DATA_LIMIT} at most")
    return raw


def _target_id(target: str, collection: str) -> str | None:
    prefix = f"/{collection}/"
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target[len(prefix):].strip("/") if target.startswith(prefix) else None


def plan_launch(entity: Entity, account: Account, scope: Scope) -> Launch:
    """
    Check a create request against the account's catalog and occid's rules.

    @raise BadRequest: no os_tpl, a template not offered here (to this
        principal: saved images are private), a bad SSH key or user data, a
        link occid cannot make.
    """
    catalog = account.catalog.catalog_for(scope)
    os_tpl = infra.template_of(entity.mixins, infra.OS_TPL)
    if os_tpl is None:
        raise BadRequest("an os_tpl mixin is required")
    if catalog.lookup(os_tpl.identifier) is None:
        raise BadRequest(f"os_tpl {os_tpl.identifier} is not offered here")
    resource_tpl = infra.template_of(entity.mixins, infra.RESOURCE_TPL)
    if resource_tpl is not None and catalog.lookup(resource_tpl.identifier) is None:
        raise BadRequest(f"resource_tpl {resource_tpl.identifier} is not offered here")
    zone_tpl = infra.template_of(entity.mixins, infra.AVAILABILITY_ZONE)
    if zone_tpl is not None and catalog.lookup(zone_tpl.identifier) is None:
        raise BadRequest(f"availability zone {zone_tpl.identifier} is not offered here")

    ssh_key = next((entity.attributes[a] for a in _SSH_KEY_ATTRIBUTES if entity.attributes.get(a)),
                   None)
    user_data = next((entity.attributes[a] for a in _USER_DATA_ATTRIBUTES
                      if entity.attributes.get(a)), None)

    vpc_id = None
    pending = []
    for link in getattr(entity, "links", ()):
        network = _target_id(link.target, "network")
        volume = _target_id(link.target, "storage")
        if network == "public":
            pending.append(intents.Intent(intents.PUBLIC))
        elif network is not None and valid_id("vpc", network):
            if vpc_id not in (None, network):
                raise BadRequest("a compute can be created in one VPC only")
            vpc_id = network
        elif volume is not None and valid_id("vol", volume):
            device = link.attributes.get("occi.storagelink.deviceid")
            if device is not None and not intents.valid_device(str(device)):
                raise BadRequest(f"device {device} is not one of /dev/sdf to /dev/sdp")
            pending.append(intents.Intent(volume, str(device) if device else None))
        else:
            raise BadRequest(f"cannot link a new compute to {link.target}")

    token = str(uuid.uuid4())
    tags = scope.creation_tags(entity.title)
    tags[TOKEN_TAG] = token
    if pending:
        tags[intents.LINKS_TAG] = intents.encode(pending)
    return Launch(
        image_id=os_tpl.term,
        instance_type=(infra.instance_type_of(resource_tpl) if resource_tpl
                       else account.aws.default_instance_type),
        zone=zone_tpl.term if zone_tpl else (account.aws.availability_zone or None),
        vpc_id=vpc_id,
        ssh_key=check_ssh_key(str(ssh_key)) if ssh_key else None,
        user_data=decode_user_data(str(user_data)) if user_data else None,
        tags=tags,
        pending=tuple(pending),
        client_token=token,
    )


def _subnet(account: Account, vpc_id: str, zone: str | None, required: bool = False) -> dict:
    """
    The subnet of C{vpc_id} in C{zone}, else (unless C{required}) the first
    by id.  @raise BadRequest: no subnet, or none in a required zone.
    """
    subnets = sorted(
        account.client.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"],
        key=lambda s: s["SubnetId"])
    if not subnets:
        raise BadRequest(f"network {vpc_id} has no subnet to launch in")
    found = next((s for s in subnets if s["AvailabilityZone"] == zone), None)
    if found is None and required:
        zones = ", ".join(sorted({s["AvailabilityZone"] for s in subnets}))
        raise BadRequest(f"the linked storage is in {zone}, but network {vpc_id} has subnets "
                         f"in {zones} only")
    return found or subnets[0]


def _volume_zone(account: Account, scope: Scope, volumes: list[str], zone: str | None) -> str:
    """
    The zone of the inline storage links of a create, checked so that the
    reconciler can attach them once the instance runs.

    @raise BadRequest: a volume is not visible, the volumes are in several
        zones, or not in C{zone}, the zone the create asks for.
    @raise Conflict: a volume is not available (attached, or being made).
    """
    found = account.client.describe_volumes(
        Filters=[{"Name": "volume-id", "Values": volumes}, *scope.filters()])["Volumes"]
    missing = set(volumes) - {v["VolumeId"] for v in found}
    if missing:
        raise BadRequest(f"no storage {', '.join(sorted(missing))} to link")
    for volume in found:
        if volume["State"] != "available":
            raise Conflict(f"storage {volume['VolumeId']} is {volume['State']}; only an "
                           "available volume can be linked to a new compute")
    zones = {v["AvailabilityZone"] for v in found}
    if len(zones) > 1:
        where = ", ".join(f"{v['VolumeId']} in {v['AvailabilityZone']}"
                          for v in sorted(found, key=lambda v: v["VolumeId"]))
        raise BadRequest(f"the linked storages are in different zones ({where}); "
                         "a compute and its volumes share one zone")
    volume_zone = zones.pop()
    if zone is not None and zone != volume_zone:
        raise BadRequest(f"storage {found[0]['VolumeId']} is in {volume_zone}, but the compute "
                         f"would launch in {zone}; ask for availability zone {volume_zone}")
    return volume_zone


def run_parameters(account: Account, scope: Scope, launch: Launch) -> dict:
    """
    The RunInstances parameters of C{launch}; looks up subnet and security
    group, and checks that inline storage links can be made in the zone.
    """
    zone = launch.zone
    volumes = [i.target for i in launch.pending if i.target != intents.PUBLIC]
    if volumes:
        zone = _volume_zone(account, scope, volumes, zone)
    parameters = {
        "ImageId": launch.image_id,
        "InstanceType": launch.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": launch.client_token,
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": tag_list(launch.tags)},
            {"ResourceType": "volume", "Tags": tag_list(
                {k: v for k, v in launch.tags.items() if k != intents.LINKS_TAG})},
        ],
    }
    if launch.vpc_id:
        parameters["SubnetId"] = _subnet(account, launch.vpc_id, zone,
                                         required=bool(volumes))["SubnetId"]
        vpc_id = launch.vpc_id
    else:
        if zone:
            parameters["Placement"] = {"AvailabilityZone": zone}
        vpc_id = account.groups.default_vpc()
    group = account.groups.group_for(vpc_id) if vpc_id else None
    if group:
        parameters["SecurityGroupIds"] = [group]
    if launch.user_data is not None:
        parameters["UserData"] = launch.user_data
    return parameters


def _undo(account: Account, instance_id: str | None, key_name: str | None) -> None:
    """Best effort: terminate what was launched and delete the temporary key pair."""
    client = account.client
    try:
        if instance_id:
            client.terminate_instances(InstanceIds=[instance_id])
    except Exception:
        pass  # the reconciler cannot see it either; the original error is what matters
    try:
        if key_name:
            client.delete_key_pair(KeyName=key_name)
    except Exception:
        pass  # left for the reconciler, which removes launch keys older than an hour


def _launched_by_token(account: Account, token: str) -> str | None:
    for instance, _ in all_instances(account, [{"Name": f"tag:{TOKEN_TAG}", "Values": [token]}]):
        return instance["InstanceId"]
    return None


@dataclass(frozen=True)
class Launched:
    """
    What a create made.

    @ivar key_left: why the temporary key pair could not be deleted after
        the launch (the reconciler removes it later), or C{None}.
    """

    entity: Entity
    key_name: str | None = None
    key_left: str | None = None


@translated
def create_compute(account: Account, scope: Scope, launch: Launch) -> Launched:
    """
    Launch one instance.  If anything fails before the instance is launched,
    what was made is undone (terminated, key pair deleted) and the error is
    raised; a failure to delete the temporary key pair after the launch is
    only reported in the result.
    """
    client = account.client
    parameters = run_parameters(account, scope, launch)
    key_name = None
    instance_id = None
    try:
        if launch.ssh_key is not None:
            key_name = LAUNCH_KEY_PREFIX + launch.client_token
            client.import_key_pair(
                KeyName=key_name, PublicKeyMaterial=launch.ssh_key,
                TagSpecifications=[{"ResourceType": "key-pair", "Tags": tag_list(
                    {MANAGED_TAG: "launch-key", OWNER_TAG: scope.principal.owner})}])
            parameters["KeyName"] = key_name
        try:
            answer = client.run_instances(**parameters)
        except Exception as error:
            if not _is_client_refusal(error):
                # It may have launched before the answer was lost.
                instance_id = _safely(lambda: _launched_by_token(account, launch.client_token))
            raise
        instance = answer["Instances"][0]
        instance_id = instance["InstanceId"]
        account.recent.add(instance_id)
        entity = render(instance, account, answer.get("ReservationId"))
    except BaseException:
        _undo(account, instance_id, key_name)
        raise
    if key_name:
        try:
            client.delete_key_pair(KeyName=key_name)
        except (ClientError, BotoCoreError) as error:
            mapped = translate(error)
            return Launched(entity, key_name, getattr(mapped, "message", type(error).__name__))
    return Launched(entity)


def _is_client_refusal(error: Exception) -> bool:
    """Whether EC2 answered a 4xx: nothing was launched."""
    response = getattr(error, "response", None)
    status = (response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return 400 <= status < 500


def _safely(call):
    try:
        return call()
    except Exception:
        return None


# -- changing ----------------------------------------------------------------


def _conflict(action: str, instance: dict) -> Conflict:
    state, _ = occi_state(instance)
    return Conflict(
        f"cannot {action} compute {instance['InstanceId']} while it is {state} "
        f"(EC2 state {ec2_state(instance)})")


@translated
def trigger_compute(account: Account, scope: Scope, id: str, action, attributes: dict):
    """
    Run C{action} on instance C{id}; the entity as EC2 describes it after
    the action (two DescribeInstances in all), or the new os_tpl for save.
    """
    client = account.client
    if action not in infra.COMPUTE.actions:
        raise BadRequest(f"{action.identifier} is not an action of compute")
    instance, reservation = describe(account, scope, id)
    if action == infra.COMPUTE_SUSPEND and not _hibernation_configured(instance):
        raise Conflict(f"cannot suspend compute {id}: it was not launched with hibernation "
                       "enabled; stop it instead")
    if action not in applicable_actions(instance):
        raise _conflict(action.term, instance)
    method = attributes.get("method")
    if action == infra.COMPUTE_SAVE:
        return _save(account, scope, instance, attributes)
    if action == infra.COMPUTE_START:
        client.start_instances(InstanceIds=[id])
    elif action == infra.COMPUTE_STOP:
        client.stop_instances(InstanceIds=[id], Force=method == "poweroff")
    elif action == infra.COMPUTE_RESTART:
        client.reboot_instances(InstanceIds=[id])
    else:
        client.stop_instances(InstanceIds=[id], Hibernate=True)
    instance, reservation = describe(account, scope, id)
    return render(instance, account, reservation)


def _save(account: Account, scope: Scope, instance: dict, attributes: dict) -> Mixin:
    """
    CreateImage of C{instance}, tagged with the principal's owner tags so
    that the image is offered to those who see the principal's resources.
    """
    title = tag_dict(instance).get(NAME_TAG) or instance["InstanceId"]
    name = str(attributes.get("name") or f"{title}-{uuid.uuid4().hex[:8]}")
    tags = scope.creation_tags(name)
    image_id = account.client.create_image(
        InstanceId=instance["InstanceId"], Name=name,
        NoReboot=attributes.get("method") != "deferred",
        TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(tags)}],
    )["ImageId"]
    mixin = infra.os_tpl_mixin(image_id, name, account.catalog.public_host)
    account.catalog.add_saved(SavedImage(mixin, tags[OWNER_TAG], tags[VO_TAG]))
    return mixin


@translated
def update_compute(account: Account, scope: Scope, id: str, changes: Changes) -> Entity:
    """Rename (Name tag) or resize (instance type, while stopped) instance C{id}."""
    client = account.client
    instance, reservation = describe(account, scope, id)
    current = render(instance, account, reservation)
    for name, value in changes.attributes.items():
        if name == "occi.core.title" or str(current.attributes.get(name)) == str(value):
            continue
        raise Forbidden(f"{name} of a compute cannot be changed")
    catalog = account.catalog.catalog
    new_type = None
    for mixin in changes.mixins:
        if mixin in current.mixins:
            continue
        if not mixin.depends_on(infra.RESOURCE_TPL):
            raise Forbidden(f"mixin {mixin.identifier} cannot be added to an existing compute")
        if catalog.lookup(mixin.identifier) is None:
            raise BadRequest(f"resource_tpl {mixin.identifier} is not offered here")
        new_type = infra.instance_type_of(mixin)
    if new_type and new_type != instance["InstanceType"]:
        if ec2_state(instance) != "stopped":
            raise _conflict("resize", instance)
        client.modify_instance_attribute(InstanceId=id, InstanceType={"Value": new_type})
        instance = dict(instance, InstanceType=new_type)
    title = changes.attributes.get("occi.core.title")
    if title is not None:
        instance = retitle(client, instance, id, title)
    return render(instance, account, reservation)


@translated
def delete_compute(account: Account, scope: Scope, id: str) -> None:
    """Terminate instance C{id}."""
    describe(account, scope, id)
    account.client.terminate_instances(InstanceIds=[id])
    account.recent.forget(id)


# -- the provider ------------------------------------------------------------


@implementer(IEntityCollection)
class ComputeCollection(AccountCollection):
    """The instances one principal sees in one account."""

    kind = infra.COMPUTE
    log = Logger()

    def list(self, filter):
        return self._run(list_computes, filter)

    def get(self, id):
        return self._run(get_compute, id)

    def create(self, entity):
        return self._planned_write(
            create_compute, lambda: (plan_launch(entity, self._account, self._scope),)
        ).addCallback(self._launched)

    def _launched(self, launched: Launched) -> Entity:
        if launched.key_left:
            self.log.warn(
                "compute {vm_id} launched, but its temporary key pair {key_name} was not "
                "deleted ({reason}); the reconciler removes it within the hour",
                vm_id=launched.entity.id, key_name=launched.key_name,
                reason=launched.key_left, account=self._account.name)
        return launched.entity

    def update(self, id, changes):
        return self._write(update_compute, id, changes)

    def delete(self, id):
        return self._write(delete_compute, id)

    def trigger(self, id, action, attributes):
        return self._write(trigger_compute, id, action, dict(attributes))
