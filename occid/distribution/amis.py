# -*- test-case-name: tests.test_distribution_command -*-
"""
A source's AMIs and snapshots in one account and region, found by their
tags (L{occid.ec2.distributed}), and the changes a pass makes to them:
register, retire, bring back, remove with their snapshots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from occid.distribution.appliance import Appliance
from occid.distribution.plan import Found
from occid.distribution.provenance import ami_name, retired_at, retired_value
from occid.ec2.distributed import APPLIANCE_TAG, IMPORT_TAG, RETIRED_TAG, SOURCE_TAG
from occid.ec2.tags import tag_dict, tag_list

__all__ = ["find", "register", "remove", "restore", "retire"]

#: The root device of an imported AMI.
ROOT_DEVICE = "/dev/xvda"

#: When an AMI whose C{occid:retired} value cannot be read was retired.
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


def find(ec2: Any, source: str) -> tuple[list[Found], dict[str, str]]:
    """The AMIs of C{source} here, and its snapshots (id to import id)."""
    mine = [{"Name": f"tag:{SOURCE_TAG}", "Values": [source]}]
    images = [image for page in ec2.get_paginator("describe_images").paginate(
        Owners=["self"], Filters=mine) for image in page["Images"]]
    found = []
    for image in images:
        tags = tag_dict(image)
        retired = tags.get(RETIRED_TAG)
        when = None if retired is None else (retired_at(retired) or _LONG_AGO)
        found.append(Found(image["ImageId"], tags.get(APPLIANCE_TAG, ""), tags.get(IMPORT_TAG, ""),
                           when))
    snapshots = {snapshot["SnapshotId"]: tag_dict(snapshot).get(IMPORT_TAG, "")
                 for page in ec2.get_paginator("describe_snapshots").paginate(
                     OwnerIds=["self"], Filters=mine) for snapshot in page["Snapshots"]}
    return found, snapshots


def register(ec2: Any, appliance: Appliance, snapshot: str, tags: dict[str, str]) -> str:
    """The new AMI of C{appliance} over C{snapshot}, tagged C{tags} at creation."""
    image = ec2.register_image(
        Name=ami_name(appliance), Description=appliance.reference[:255],
        Architecture=appliance.ec2_architecture, RootDeviceName=ROOT_DEVICE,
        BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": {
            "SnapshotId": snapshot, "DeleteOnTermination": True, "VolumeType": "gp3"}}],
        VirtualizationType="hvm", EnaSupport=True, BootMode=appliance.ec2_boot_mode,
        TagSpecifications=[{"ResourceType": "image", "Tags": tag_list(tags)}])["ImageId"]
    # Local emulators ignore TagSpecifications on RegisterImage: tag it then.
    described = ec2.describe_images(ImageIds=[image])["Images"]
    if described and IMPORT_TAG not in tag_dict(described[0]):
        ec2.create_tags(Resources=[image], Tags=tag_list(tags))
    return image


def retire(ec2: Any, images: list[str], now: datetime) -> None:
    """Stop offering C{images}: they go after the grace period."""
    if images:
        ec2.create_tags(Resources=images, Tags=[{"Key": RETIRED_TAG, "Value": retired_value(now)}])


def restore(ec2: Any, images: list[str]) -> None:
    """Offer retired C{images} again."""
    if images:
        ec2.delete_tags(Resources=images, Tags=[{"Key": RETIRED_TAG}])


def remove(ec2: Any, found: Found, snapshots: dict[str, str]) -> list[str]:
    """Deregister C{found} and delete its snapshots; the snapshot ids deleted."""
    ec2.deregister_image(ImageId=found.image_id)
    gone = [snapshot for snapshot, import_id in snapshots.items()
            if import_id == found.import_id]
    for snapshot in gone:
        ec2.delete_snapshot(SnapshotId=snapshot)
    return gone
