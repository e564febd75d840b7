# -*- test-case-name: tests.test_ec2_contract,tests.test_story_snapshots -*-
"""
EBS snapshots as the C{snapshot} kind at C{/snapshot/} (entity id =
snapshot id): the blocking operations, run in the EC2 thread pool by
L{occid.ec2.adapter}, and the snapshot a storage's C{snapshot} or C{backup}
action takes (L{take}).

A snapshot is tagged like a volume (C{occid:owner}, C{occid:vo}, C{Name}
from the volume's title) when it is made, so it is listed, read and
deleted under the same visibility rules; another user's is 404.  It
cannot be created through its collection nor changed; deleting one that
a saved image still uses is EC2's C{InvalidSnapshot.InUse}, a 409.  A
storage create restores one (L{occid.ec2.planning.plan_storage},
L{restore_parameters}).
"""

from __future__ import annotations

from occid.ec2 import visible
from occid.ec2.account import Account
from occid.ec2.errors import translated
from occid.ec2.mapping import readable
from occid.ec2.readable import each
from occid.ec2.scope import Scope
from occid.ec2.tags import NAME_TAG, tag_dict, tag_list
from occid.ec2.vocabulary import SNAPSHOT
from occid.occi.errors import BadRequest
from occid.occi.model import AttributeValue, Entity, EntityFilter, Resource


def entity_from_snapshot(snapshot: dict) -> Resource:
    """
    The OCCI snapshot of an EBS snapshot description.
    @raise Unreadable: occid cannot read it (L{readable}).
    """
    return readable(SNAPSHOT, snapshot, _snapshot)


def _snapshot(snapshot: dict) -> Resource:
    attributes: dict[str, AttributeValue] = {
        "com.amazon.aws.ec2.volume_id": snapshot.get("VolumeId", ""),
        "com.amazon.aws.ec2.volume_size": int(snapshot.get("VolumeSize", 0)),
        "com.amazon.aws.ec2.state": snapshot.get("State", ""),
        "com.amazon.aws.ec2.progress": snapshot.get("Progress", ""),
    }
    if "StartTime" in snapshot:
        attributes["com.amazon.aws.ec2.start_time"] = snapshot["StartTime"].isoformat()
    title = tag_dict(snapshot).get(NAME_TAG)
    if title:
        attributes["occi.core.title"] = title
    return Resource(kind=SNAPSHOT, id=snapshot["SnapshotId"],
                    attributes={k: v for k, v in attributes.items() if v != ""})


def describe(account: Account, scope: Scope, id: str) -> dict:
    """Snapshot C{id} as the principal may see it.  @raise NotFound: otherwise (L{visible.one})."""
    return visible.one(account, SNAPSHOT, "snap", id, lambda: account.client.describe_snapshots(
        SnapshotIds=[id], OwnerIds=["self"], Filters=scope.filters())["Snapshots"])


def restore_parameters(account: Account, scope: Scope, parameters: dict) -> dict:
    """
    The CreateVolume C{parameters} of a storage create, with the
    C{SnapshotId} of the snapshot it restores resolved: visible to the
    principal, and no larger than the volume asked for.  Called in the
    thread pool, before anything is made.

    @raise NotFound: the snapshot is not visible here.
    @raise BadRequest: the volume would be smaller than the snapshot.
    """
    if "SnapshotId" not in parameters:
        return parameters
    snapshot = describe(account, scope, parameters["SnapshotId"])
    if parameters["Size"] < snapshot["VolumeSize"]:
        raise BadRequest(f"occi.storage.size {parameters['Size']} GiB is smaller than "
                         f"snapshot {snapshot['SnapshotId']} ({snapshot['VolumeSize']} GiB)")
    return parameters


def take(account: Account, scope: Scope, volume: dict) -> Resource:
    """A snapshot of C{volume}, tagged for the principal, named after the volume."""
    id = volume["VolumeId"]
    snapshot = account.client.create_snapshot(
        VolumeId=id, Description=f"occid snapshot of {id}",
        TagSpecifications=[{"ResourceType": "snapshot",
                            "Tags": tag_list(scope.creation_tags(tag_dict(volume).get(NAME_TAG)))}])
    account.recent.add(snapshot["SnapshotId"])
    return entity_from_snapshot(snapshot)


@translated
def list_snapshots(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """
    The principal's visible snapshots passing C{filter}, ordered by id;
    those occid cannot read are left out (L{each}).
    """
    pages = account.client.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], Filters=scope.filters(owned_only=filter.owned_only),
        PaginationConfig={"PageSize": 500})
    entities = each(account.label, SNAPSHOT, (s for page in pages for s in page["Snapshots"]),
                    entity_from_snapshot)
    return sorted((e for e in entities if filter.matches(e)), key=lambda e: e.id)


@translated
def get_snapshot(account: Account, scope: Scope, id: str) -> Entity:
    """Snapshot C{id} as it is now."""
    return entity_from_snapshot(describe(account, scope, id))


@translated
def delete_snapshot(account: Account, scope: Scope, id: str) -> None:
    """
    Delete snapshot C{id}.  @raise Conflict: a saved image uses it (EC2's
    C{InvalidSnapshot.InUse}, whose message names the image).
    """
    describe(account, scope, id)
    account.client.delete_snapshot(SnapshotId=id)
    account.recent.forget(id)
