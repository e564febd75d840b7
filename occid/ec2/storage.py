# -*- test-case-name: tests.test_ec2_storage -*-
"""
OCCI storage as EBS volumes (entity id = volume id): the blocking
operations, run in the EC2 thread pool by L{occid.ec2.adapter}.

Sizes are whole GiB (a fractional request is rounded up); the zone comes
from an availability_zone mixin, else C{[aws] availability_zone}, else the
region's first zone in name order (L{occid.ec2.planning.plan_storage}).
Resizing is an update of C{occi.storage.size} or the C{resize} action with
its C{size} (ModifyVolume, growing only); the C{snapshot} action and OCCI
1.1's C{backup} make an EBS snapshot (L{occid.ec2.snapshots}), which a
create naming it restores; C{online} and C{offline} are 409; a
volume still attached cannot be deleted (409).
"""

from __future__ import annotations

import uuid

from occid.ec2 import outcome, quotas, refusals, snapshots, visible
from occid.ec2.account import Account
from occid.ec2.errors import translated
from occid.ec2.fullupdate import dropped_mixins, replaced_attributes
from occid.ec2.mapping import entity_from_volume, readable
from occid.ec2.readable import each
from occid.ec2.scope import Scope
from occid.ec2.tags import TOKEN_TAG
from occid.ec2.values import size_of
from occid.ec2.vocabulary import SNAPSHOT_ID
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden
from occid.occi.model import Action, AttributeValue, Changes, Entity, EntityFilter, Resource


def entity(account: Account, volume: dict) -> Resource:
    """
    The storage of C{volume} under C{account}'s current catalog.
    @raise Unreadable: occid cannot read C{volume} (L{readable}).
    """
    return readable(infra.STORAGE, volume, lambda volume: entity_from_volume(
        volume, account.catalog.catalog, account.catalog.public_host))


def describe(account: Account, scope: Scope, id: str) -> dict:
    """Volume C{id} as the principal may see it.  @raise NotFound: otherwise (L{visible.one})."""
    return visible.one(account, infra.STORAGE, "vol", id, lambda: account.client.describe_volumes(
        VolumeIds=[id], Filters=scope.filters())["Volumes"])


@translated
def list_storage(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """
    The principal's visible volumes passing C{filter}, ordered by id;
    those occid cannot read are left out (L{each}).
    """
    pages = account.client.get_paginator("describe_volumes").paginate(
        Filters=scope.filters(owned_only=filter.owned_only),
        PaginationConfig={"PageSize": 500})
    entities = each(account.label, infra.STORAGE, (v for page in pages for v in page["Volumes"]),
                    lambda volume: entity(account, volume))
    return sorted((e for e in entities if filter.matches(e)), key=lambda e: e.id)


@translated
def get_storage(account: Account, scope: Scope, id: str) -> Entity:
    """Volume C{id} as it is now."""
    return entity(account, describe(account, scope, id))


@translated
def create_storage(account: Account, scope: Scope, parameters: dict) -> Entity:
    """
    Create one volume (one CreateVolume with the planned C{parameters}),
    from the snapshot they name once it is checked
    (L{snapshots.restore_parameters}), within the account's limits.  Its
    client token is also its L{TOKEN_TAG}: when the answer is lost, the
    volume it may have made is looked up by it (L{outcome.settle}).
    """
    quotas.check_volume(account, scope, parameters["Size"])
    token = str(uuid.uuid4())
    parameters = dict(snapshots.restore_parameters(account, scope, parameters),
                      ClientToken=token, TagSpecifications=[
                          dict(spec, Tags=[*spec["Tags"], {"Key": TOKEN_TAG, "Value": token}])
                          for spec in parameters["TagSpecifications"]])
    try:
        volume = account.client.create_volume(**parameters)
    except Exception as error:
        if not outcome.lost(error):
            raise
        # It may have been made before the answer was lost.
        found = outcome.settle(infra.STORAGE, error, False, lambda: next(iter(
            account.client.describe_volumes(Filters=[
                {"Name": f"tag:{TOKEN_TAG}", "Values": [token]}])["Volumes"]), None))
        if found is None:
            error.add_note(f"no volume made with client token {token}")
            raise
        volume = found
    account.recent.add(volume["VolumeId"])
    return entity(account, volume)


@translated
def update_storage(account: Account, scope: Scope, id: str, changes: Changes) -> Entity:
    """
    Rename (Name tag) or grow (ModifyVolume) volume C{id}.  A full update
    (C{changes.replace}) follows L{occid.ec2.fullupdate}: the title it
    omits is removed, an omitted size or snapshot is kept, restated values
    are compared, and no mixin can be removed.

    @raise Forbidden: the update changes an attribute other than the
        title and size, such as the snapshot restored (L{SNAPSHOT_ID},
        mutable in the query interface only because a create sets it).
    """
    volume = describe(account, scope, id)
    current = entity(account, volume)
    if changes.replace:
        settable = replaced_attributes(current, changes, ("occi.core.title", "occi.storage.size",
                                                          SNAPSHOT_ID.name))
        dropped_mixins(current, changes)
        changes = Changes(mixins=changes.mixins,
                          attributes={k: v for k, v in settable.items()
                                      if v != "" or k == "occi.core.title"})
    for mixin in changes.mixins:
        if mixin not in current.mixins:
            raise Forbidden(f"mixin {mixin.identifier} cannot be added to an existing storage")
    for name, value in changes.attributes.items():
        if name in ("occi.core.title", "occi.storage.size"):
            continue
        if str(current.attributes.get(name)) != str(value):
            raise Forbidden(f"{name} of a storage cannot be changed")
    if "occi.storage.size" in changes.attributes:
        volume = _grow(account, scope, volume, changes.attributes["occi.storage.size"])
    title = changes.attributes.get("occi.core.title")
    if title is not None:
        volume = account.retitle(volume, id, title)
    return entity(account, volume)


def _grow(account: Account, scope: Scope, volume: dict, requested: AttributeValue) -> dict:
    """
    C{volume} grown to C{requested} GiB (ModifyVolume when it is larger),
    as it is then.  @raise BadRequest: not a size, or smaller than now.
    @raise Forbidden: the growth would exceed a limit on volume GiB.
    """
    size = size_of(requested)
    if size < volume["Size"]:
        raise BadRequest(f"EBS volumes can only grow; {volume['VolumeId']} has "
                         f"{volume['Size']} GiB")
    if size > volume["Size"]:
        quotas.check_volume(account, scope, size - volume["Size"], "resize")
        account.client.modify_volume(VolumeId=volume["VolumeId"], Size=size)
        volume = dict(volume, Size=size)
    return volume


#: The actions EBS does: a snapshot (OCCI 1.1 calls it backup) and resize.
_DONE = (infra.STORAGE_SNAPSHOT, infra.STORAGE_BACKUP, infra.STORAGE_RESIZE)


@translated
def trigger_storage(account: Account, scope: Scope, id: str, action: Action,
                    attributes: dict[str, AttributeValue]) -> Entity:
    """
    C{snapshot} or C{backup}: an EBS snapshot of volume C{id}, tagged for
    the principal (the new snapshot is the result); C{resize}: what an
    update of C{occi.storage.size} does (the volume is the result).
    """
    if action not in infra.STORAGE.actions:
        raise refusals.not_an_action(infra.STORAGE, action)
    if action == infra.STORAGE_RESIZE and "size" not in attributes:
        raise BadRequest("action resize needs the parameter size (GiB)")
    volume = describe(account, scope, id)
    if action not in _DONE:
        raise refusals.action_impossible(infra.STORAGE, action)
    if action == infra.STORAGE_RESIZE:
        return entity(account, _grow(account, scope, volume, attributes["size"]))
    return snapshots.take(account, scope, volume)


@translated
def delete_storage(account: Account, scope: Scope, id: str) -> None:
    """Delete volume C{id}.  @raise Conflict: it is attached."""
    volume = describe(account, scope, id)
    if volume.get("Attachments"):
        instances = ", ".join(a["InstanceId"] for a in volume["Attachments"])
        raise Conflict(f"storage {id} is attached to {instances} (state in-use); unlink it first")
    account.client.delete_volume(VolumeId=id)
    account.recent.forget(id)
