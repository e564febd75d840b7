# -*- test-case-name: tests.test_ec2_distributed -*-
"""
The AMIs C{occid-images} imports (L{occid.distribution}), as the daemon and
the command both read them: their tag names, and the os_tpl mixin of one.

An imported AMI carries, besides C{Name} (the appliance's title), the
provenance tags EGI's consumers read (egi.md section 5: atrope's Glance
properties, which cASO and the cloud-info-provider take up) and occid's own:
C{occid:source} (the source's name: the key every look-up filters on),
C{occid:appliance} (the appliance within its source, the same for all its
versions), C{occid:import} (one version of it: the key its snapshot carries
too, so that a crash's leftovers are found) and, once replaced or dropped,
C{occid:retired} (when; it is no longer offered, and goes after the grace
period).  Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from occid.ec2.tags import NAME_TAG
from occid.occi.infrastructure import os_tpl_mixin
from occid.occi.model import Attribute, Mixin

__all__ = [
    "APPLIANCE_TAG",
    "ATTRIBUTES",
    "IMPORT_TAG",
    "PROVENANCE_TAGS",
    "REFERENCE_TAG",
    "RETIRED_TAG",
    "SOURCE_TAG",
    "distributed_mixin",
    "distributed_query",
    "image_reference",
    "offered",
]

#: The source an AMI was imported from (its C{[[images.sources]]} name).
SOURCE_TAG = "occid:source"

#: The appliance within its source: every version of it has the same value.
APPLIANCE_TAG = "occid:appliance"

#: One version of an appliance, on its AMI and on its snapshot.
IMPORT_TAG = "occid:import"

#: When the AMI was replaced or dropped (UTC, C{YYYY-MM-DDTHH:MM:SSZ}).
RETIRED_TAG = "occid:retired"

#: The appliance's marketplace identifier: the HEPiX C{ad:mpuri}, or for an
#: OCI artefact C{<registry host>/<repository>:<tag>-<digest>} (atrope's).
#: Accounting's ImageId and discovery's image ids are this value.
REFERENCE_TAG = "vmcatcher_event_ad_mpuri"

#: The provenance tags, in the order they are written.
PROVENANCE_TAGS = (
    "eu.egi.cloud.image_ref",
    "eu.egi.cloud.tag",
    REFERENCE_TAG,
    "sha512",
    "appdb_id",
    "os_distro",
    "os_version",
    "architecture",
)

#: The OCCI attributes of an imported image's os_tpl mixin, by the tag
#: holding their value (rOCCI-server's names for the AppDB ones).
ATTRIBUTES = {
    "eu.egi.cloud.image_ref": "eu.egi.cloud.image_ref",
    "eu.egi.cloud.tag": "eu.egi.cloud.tag",
    REFERENCE_TAG: "eu.egi.fedcloud.appliance.appdb.mpuri",
    "appdb_id": "eu.egi.fedcloud.appliance.appdb.id",
    "os_distro": "eu.egi.fedcloud.appliance.appdb.operating_system",
    "os_version": "eu.egi.fedcloud.appliance.appdb.version",
    "architecture": "occi.compute.architecture",
}


def distributed_query(states: tuple[str, ...] = ("available",)) -> dict:
    """The DescribeImages parameters finding the account's imported AMIs in C{states}."""
    return {"Owners": ["self"],
            "Filters": [{"Name": "tag-key", "Values": [SOURCE_TAG]},
                        {"Name": "state", "Values": list(states)}]}


def offered(tags: Mapping[str, str]) -> bool:
    """Whether an imported AMI with C{tags} is offered: not retired."""
    return RETIRED_TAG not in tags


def image_reference(tags: Mapping[str, str]) -> str:
    """The marketplace identifier of an imported AMI with C{tags}, or C{""}."""
    return tags.get(REFERENCE_TAG, "")


def distributed_mixin(image_id: str, tags: Mapping[str, str], public_host: str,
                      region: str = "") -> Mixin:
    """
    The os_tpl mixin of imported AMI C{image_id}: titled with the
    appliance's title, its references as immutable attributes.
    """
    mixin = os_tpl_mixin(image_id, tags.get(NAME_TAG) or image_id, public_host, region)
    references = tuple(
        Attribute(name=attribute, mutable=False, default=tags[tag],
                  description=f"the appliance's {tag}")
        for tag, attribute in ATTRIBUTES.items() if tags.get(tag))
    return replace(mixin, attributes=mixin.attributes + references)
