# -*- test-case-name: tests.test_distribution_pure -*-
"""
The name and tags of an imported AMI and its snapshot
(L{occid.ec2.distributed} says what each tag is for).

Pure: no boto3, no Twisted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from occid.distribution.appliance import Appliance
from occid.ec2.distributed import APPLIANCE_TAG, IMPORT_TAG, REFERENCE_TAG, SOURCE_TAG
from occid.ec2.tags import NAME_TAG, TAG_VALUE_LIMIT

__all__ = ["ami_name", "retired_at", "retired_value", "tags_of"]

_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9()\[\] ./\-'@_]+")


def ami_name(appliance: Appliance) -> str:
    """
    The AMI's C{Name} (unique in its account and region, at most 128 of the
    characters EC2 allows): the title, cut, and the import id.
    """
    title = _NAME_CHARACTERS.sub("-", appliance.title).strip(" -") or "appliance"
    return f"{title[:94]} {appliance.import_id}"


def tags_of(appliance: Appliance, sha512: str) -> dict[str, str]:
    """
    The tags of C{appliance}'s AMI and snapshot, C{sha512} being its
    download's digest; values cut to EC2's limit, empty ones left out.
    """
    tags = {
        NAME_TAG: appliance.title,
        SOURCE_TAG: appliance.source,
        APPLIANCE_TAG: appliance.key,
        IMPORT_TAG: appliance.import_id,
        "eu.egi.cloud.image_ref": appliance.image_ref,
        "eu.egi.cloud.tag": appliance.egi_tag,
        REFERENCE_TAG: appliance.reference,
        "sha512": sha512,
        "appdb_id": appliance.appdb_id,
        "os_distro": appliance.os_distro,
        "os_version": appliance.os_version,
        "architecture": appliance.ec2_architecture,
    }
    return {key: value[:TAG_VALUE_LIMIT] for key, value in tags.items() if value}


def retired_value(now: datetime) -> str:
    """The C{occid:retired} value of an AMI retired at C{now}."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def retired_at(value: str) -> datetime | None:
    """When an AMI tagged C{occid:retired = value} was retired; C{None} if unreadable."""
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
