# -*- test-case-name: tests.test_ec2_storage -*-
"""
OCCI storage resources as EBS volumes (entity id = volume id).

Sizes are whole GiB (a fractional request is rounded up); the zone comes
from an availability_zone mixin, else C{[aws] availability_zone}, else the
region's first zone in name order.  Resizing is an update of
C{occi.storage.size} (ModifyVolume, growing only); the C{snapshot} action
makes an EBS snapshot; a volume still attached cannot be deleted (409).
"""

from __future__ import annotations

import math

from zope.interface import implementer

from occid.ec2.account import Account
from occid.ec2.collection import AccountCollection
from occid.ec2.errors import translated
from occid.ec2.scope import NAME_TAG, Scope, retitle, tag_dict, tag_list, valid_id
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Changes, Entity, EntityFilter, Resource

#: EBS limits for gp3 volumes, in GiB.
MIN_SIZE, MAX_SIZE = 1, 16384

_STATES = {
    "available": ("online", None),
    "in-use": ("online", None),
    "creating": ("offline", "the volume is being created"),
    "deleting": ("offline", "the volume is being deleted"),
    "error": ("error", "EBS reports an error on this volume"),
}


def render(volume: dict, account: Account) -> Resource:
    """The OCCI storage resource of an EBS volume description."""
    tags = tag_dict(volume)
    state, message = _STATES.get(volume["State"], ("offline", volume["State"]))
    attributes: dict = {"occi.storage.size": float(volume["Size"]), "occi.storage.state": state}
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
    zone = infra.availability_zone_mixin(volume["AvailabilityZone"], account.catalog.public_host)
    mixins = [account.catalog.catalog.lookup(zone.identifier) or zone, infra.EC2_VOLUME]
    actions = [infra.STORAGE_SNAPSHOT] if volume["State"] in ("available", "in-use") else []
    return Resource(kind=infra.STORAGE, id=volume["VolumeId"], mixins=mixins,
                    attributes=attributes, actions=actions)


def describe(account: Account, scope: Scope, id: str) -> dict:
    """Volume C{id} as the principal may see it.  @raise NotFound: otherwise."""
    if not valid_id("vol", id):
        raise NotFound(f"no storage {id}")
    volumes = account.recent.describe(id, lambda: account.client.describe_volumes(
        VolumeIds=[id], Filters=scope.filters())["Volumes"])
    if not volumes:
        raise NotFound(f"no storage {id}")
    return volumes[0]


def size_of(value) -> int:
    """A requested size in GiB, rounded up.  @raise BadRequest: not a size EBS offers."""
    try:
        size = math.ceil(float(value))
    except (TypeError, ValueError):
        raise BadRequest(f"occi.storage.size must be a number of GiB, not {value!r}") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise BadRequest(f"occi.storage.size must be between {MIN_SIZE} and {MAX_SIZE} GiB")
    return size


@translated
def list_storage(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """The principal's visible volumes passing C{filter}, ordered by id."""
    pages = account.client.get_paginator("describe_volumes").paginate(
        Filters=scope.filters(owned_only=filter.owned_only),
        PaginationConfig={"PageSize": 500})
    entities = (render(v, account) for page in pages for v in page["Volumes"])
    return sorted((e for e in entities if filter.matches(e)), key=lambda e: e.id)


@translated
def get_storage(account: Account, scope: Scope, id: str) -> Entity:
    """Volume C{id} as it is now."""
    return render(describe(account, scope, id), account)


def _zone(account: Account, entity: Entity) -> str:
    chosen = infra.template_of(entity.mixins, infra.AVAILABILITY_ZONE)
    zones = account.catalog.templates.zones
    if chosen is not None:
        if chosen.term not in zones:
            raise BadRequest(f"availability zone {chosen.term} is not offered here")
        return chosen.term
    if account.aws.availability_zone:
        return account.aws.availability_zone
    if not zones:
        raise BadRequest("the region offers no availability zone")
    return zones[0]


def plan_volume(account: Account, scope: Scope, entity: Entity) -> dict:
    """The CreateVolume parameters of a create request.  @raise BadRequest: bad request."""
    if "occi.storage.size" not in entity.attributes:
        raise BadRequest("occi.storage.size is required")
    return {
        "Size": size_of(entity.attributes["occi.storage.size"]),
        "AvailabilityZone": _zone(account, entity),
        "VolumeType": "gp3",
        "TagSpecifications": [{"ResourceType": "volume",
                               "Tags": tag_list(scope.creation_tags(entity.title))}],
    }


@translated
def create_storage(account: Account, scope: Scope, parameters: dict) -> Entity:
    """Create one volume (one CreateVolume)."""
    volume = account.client.create_volume(**parameters)
    account.recent.add(volume["VolumeId"])
    return render(volume, account)


@translated
def update_storage(account: Account, scope: Scope, id: str, changes: Changes) -> Entity:
    """Rename (Name tag) or grow (ModifyVolume) volume C{id}."""
    client = account.client
    volume = describe(account, scope, id)
    current = render(volume, account)
    for mixin in changes.mixins:
        if mixin not in current.mixins:
            raise Forbidden(f"mixin {mixin.identifier} cannot be added to an existing storage")
    for name, value in changes.attributes.items():
        if name in ("occi.core.title", "occi.storage.size"):
            continue
        if str(current.attributes.get(name)) != str(value):
            raise Forbidden(f"{name} of a storage cannot be changed")
    if "occi.storage.size" in changes.attributes:
        size = size_of(changes.attributes["occi.storage.size"])
        if size < volume["Size"]:
            raise BadRequest(f"EBS volumes can only grow; {id} has {volume['Size']} GiB")
        if size > volume["Size"]:
            client.modify_volume(VolumeId=id, Size=size)
            volume = dict(volume, Size=size)
    title = changes.attributes.get("occi.core.title")
    if title is not None:
        volume = retitle(client, volume, id, title)
    return render(volume, account)


@translated
def trigger_storage(account: Account, scope: Scope, id: str, action, attributes: dict) -> Entity:
    """C{snapshot}: an EBS snapshot of volume C{id}, tagged like the volume's owner."""
    if action != infra.STORAGE_SNAPSHOT:
        if action in infra.STORAGE.actions:
            raise Conflict(f"{action.term} is not possible on EBS volumes; "
                           "resize by updating occi.storage.size")
        raise BadRequest(f"{action.identifier} is not an action of storage")
    volume = describe(account, scope, id)
    account.client.create_snapshot(
        VolumeId=id, Description=f"occid snapshot of {id}",
        TagSpecifications=[{"ResourceType": "snapshot",
                            "Tags": tag_list(scope.creation_tags(tag_dict(volume).get(NAME_TAG)))}])
    return render(volume, account)


@translated
def delete_storage(account: Account, scope: Scope, id: str) -> None:
    """Delete volume C{id}.  @raise Conflict: it is attached."""
    volume = describe(account, scope, id)
    if volume.get("Attachments"):
        instances = ", ".join(a["InstanceId"] for a in volume["Attachments"])
        raise Conflict(f"storage {id} is attached to {instances} (state in-use); unlink it first")
    account.client.delete_volume(VolumeId=id)
    account.recent.forget(id)


@implementer(IEntityCollection)
class StorageCollection(AccountCollection):
    """The EBS volumes one principal sees in one account."""

    kind = infra.STORAGE

    def list(self, filter):
        return self._run(list_storage, filter)

    def get(self, id):
        return self._run(get_storage, id)

    def create(self, entity):
        return self._planned_write(
            create_storage, lambda: (plan_volume(self._account, self._scope, entity),))

    def update(self, id, changes):
        return self._write(update_storage, id, changes)

    def delete(self, id):
        return self._write(delete_storage, id)

    def trigger(self, id, action, attributes):
        return self._write(trigger_storage, id, action, dict(attributes))
