# -*- test-case-name: tests.test_ec2_compute -*-
"""
Creating an OCCI compute: launching one EC2 instance (blocking).

A create is one RunInstances (plus ImportKeyPair and DeleteKeyPair when the
request carries an SSH key, and a DescribeSubnets for a VPC link): tags,
security group, key, user data and placement go in that one call, and links
that need a running instance are recorded in a tag for the reconciler.  Once
the instance is launched the create succeeds: a temporary key pair that
cannot be deleted then is left to the reconciler and reported in the
L{Launched} result, which L{occid.ec2.adapter} logs in the reactor thread.

A create with an idempotency key first looks for the instance an earlier
create with the same key launched (by its client token, derived from the
key): EC2 de-duplicates the token too, but not every emulator does.  Its
launch key pair has a name derived from the token too, so that EC2 sees the
same parameters; a retry in flight at the same time fails to import it and
leaves it to the create that did.  When the answer of its RunInstances is
lost, keyed or not, the instance found by the token is its answer, and the
create ends as one whose answer arrived (L{occid.ec2.outcome}: nothing
found is the error, a lookup that fails too a 503 or 504 saying the
compute may still launch).  EC2 keeps a token per region, so an account
served in several regions looks for it in each: a key names one create, in
one region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from occid.ec2 import intents, outcome, quotas
from occid.ec2.account import Account, all_instances
from occid.ec2.compute import entity
from occid.ec2.errors import translate, translated
from occid.ec2.hibernation import run_options
from occid.ec2.planning import Launch
from occid.ec2.scope import Scope
from occid.ec2.tags import (
    MANAGED_LAUNCH_KEY,
    MANAGED_TAG,
    OWNER_TAG,
    REQUEST_TAG,
    SHOWN_STATES,
    TOKEN_TAG,
    tag_dict,
    tag_list,
)
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict
from occid.occi.model import Entity

#: Prefix of the temporary key pairs occid imports for one launch.
LAUNCH_KEY_PREFIX = "occid-launch-"

_T = TypeVar("_T")


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
    group, checks that inline storage links can be made in the zone, and for
    a launch able to hibernate reads the image's root device.

    @raise BadRequest: the image of a launch able to hibernate is gone
        (deregistered since the catalogue offering it was read).
    """
    zone = launch.zone
    volumes = [i.target for i in launch.pending if i.target != intents.PUBLIC]
    if volumes:
        zone = _volume_zone(account, scope, volumes, zone)
    parameters: dict = {
        "ImageId": launch.image_id,
        "InstanceType": launch.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": launch.client_token,
        "TagSpecifications": launch.tag_specifications(),
    }
    vpc_id: str | None
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
    if launch.hibernation is not None:
        images = account.client.describe_images(ImageIds=[launch.image_id])["Images"]
        if not images:
            raise BadRequest(f"image {launch.image_id} no longer exists in EC2; choose another "
                             "os_tpl")
        parameters.update(run_options(images[0], launch.hibernation))
    return parameters


def _attempt(what: str, call: Callable[[], _T], notes: list[str]) -> _T | None:
    """C{call()}; when EC2 refuses it, C{None} and a note saying C{what} failed."""
    try:
        return call()
    except (ClientError, BotoCoreError) as error:
        notes.append(f"{what} failed: {translate(error)}")
        return None


def _undo(account: Account, instance_id: str | None, key_name: str | None) -> list[str]:
    """
    Best effort: terminate what was launched and delete the temporary key
    pair.  What could not be undone is returned, for the log: the reconciler
    removes a launch key older than an hour, but not an instance.
    """
    client = account.client
    notes: list[str] = []
    if instance_id:
        _attempt(f"terminating {instance_id} after the failed create",
                 lambda: client.terminate_instances(InstanceIds=[instance_id]), notes)
    if key_name:
        _attempt(f"deleting key pair {key_name} after the failed create",
                 lambda: client.delete_key_pair(KeyName=key_name), notes)
    return notes


def _by_token(account: Account, token: str) -> tuple[dict, str] | None:
    """
    The instance launched with client token C{token} and its reservation
    id (one DescribeInstances by L{TOKEN_TAG}, any state; a shown one
    first), or C{None}.
    """
    found = all_instances(account, [{"Name": f"tag:{TOKEN_TAG}", "Values": [token]}])
    return min(found, key=lambda pair: pair[0]["State"]["Name"] not in SHOWN_STATES,
               default=None)


def _check_elsewhere(account: Account, token: str) -> None:
    """
    @raise Conflict: client token C{token} launched an instance in another
        region the account is served in (one DescribeInstances in each).
    """
    for other in account.everywhere():
        found = None if other is account else _by_token(other, token)
        if found is not None:
            raise Conflict(
                f"the Idempotency-Key was used for compute {found[0]['InstanceId']} in region "
                f"{other.aws.region}; a key names one create, in one region: use a new key "
                "for a new request")


def _retried(account: Account, launch: Launch) -> Entity | None:
    """
    The compute a create with the idempotency key of C{launch} made
    earlier, if it asked for the same (its L{REQUEST_TAG}); C{None} when
    there is none.

    @raise Conflict: it asked for something else, or it was deleted since
        (EC2 would refuse the token: C{IdempotentInstanceTerminated}), or
        it was made in another region of the account (EC2 keeps a token per
        region: the key would otherwise launch once in each).
    """
    found = _by_token(account, launch.client_token)
    if found is None:
        _check_elsewhere(account, launch.client_token)
        return None
    instance, reservation = found
    if instance["State"]["Name"] not in SHOWN_STATES:
        raise Conflict(f"the Idempotency-Key was used for compute {instance['InstanceId']}, "
                       "deleted since; use a new key for a new request")
    if tag_dict(instance).get(REQUEST_TAG) != launch.tags[REQUEST_TAG]:
        raise Conflict(f"the Idempotency-Key was used for another create (compute "
                       f"{instance['InstanceId']}); use a new key for a new request")
    return entity(account, instance, reservation)


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
    what this call made is undone (terminated, the key pair it imported
    deleted: a key pair of the same name another create with the same key
    imported is left to it) and the error is raised, with a note for each
    part that could not be undone; a failure to delete the temporary key
    pair after the launch is only reported in the result.  When the answer
    of RunInstances is lost, the instance it may have launched is looked up
    by its client token (L{outcome.settle}) and, found, is the answer; the
    temporary key pair is deleted whatever the outcome.
    """
    if REQUEST_TAG in launch.tags:
        earlier = _retried(account, launch)
        if earlier is not None:
            return Launched(earlier)
    client = account.client
    quotas.check_launch(account, scope, launch.instance_type)
    parameters = run_parameters(account, scope, launch)
    key_name = None  # set once this call has imported the key pair
    instance_id = None
    try:
        if launch.ssh_key is not None:
            name = LAUNCH_KEY_PREFIX + launch.client_token
            client.import_key_pair(
                KeyName=name, PublicKeyMaterial=launch.ssh_key,
                TagSpecifications=[{"ResourceType": "key-pair", "Tags": tag_list(
                    {MANAGED_TAG: MANAGED_LAUNCH_KEY, OWNER_TAG: scope.principal.owner})}])
            key_name = parameters["KeyName"] = name
        try:
            answer = client.run_instances(**parameters)
            instance, reservation = answer["Instances"][0], answer.get("ReservationId")
        except Exception as error:
            if not outcome.lost(error):
                raise
            # It may have launched before the answer was lost.
            found = outcome.settle(infra.COMPUTE, error, REQUEST_TAG in launch.tags,
                                   lambda: _by_token(account, launch.client_token))
            if found is None or found[0]["State"]["Name"] not in SHOWN_STATES:
                error.add_note(f"no compute launched with client token {launch.client_token}")
                raise
            instance, reservation = found
        instance_id = instance["InstanceId"]
        account.recent.add(instance_id)
        made = entity(account, instance, reservation)
    except BaseException as error:
        for note in _undo(account, instance_id, key_name):
            error.add_note(note)
        raise
    if key_name:
        try:
            client.delete_key_pair(KeyName=key_name)
        except (ClientError, BotoCoreError) as error:
            mapped = translate(error)
            return Launched(made, key_name, getattr(mapped, "message", type(error).__name__))
    return Launched(made)
