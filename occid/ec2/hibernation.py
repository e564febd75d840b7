# -*- test-case-name: tests.test_ec2_hibernation -*-
"""
Launches able to hibernate: whether a create gets one under C{[aws]
hibernation}, and the RunInstances options it then needs.

EC2 hibernates (the C{suspend} action) only an instance launched with
C{HibernationOptions={"Configured": True}}, of an instance type whose
C{HibernationSupported} is true, from an image with an EBS root device, on an
encrypted root volume large enough for the RAM besides what the image holds
(the hibernation prerequisites of the EC2 user guide).  EC2 has no per-image
flag: the image's operating system must support it too, which occid cannot
check.

Pure: the planner reads the account's cached templates; the options are
built from an image description the caller read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from occid.ec2.vocabulary import HIBERNATION, resource_tpl_term
from occid.modes import Hibernation
from occid.occi.errors import BadRequest, Conflict
from occid.occi.model import Mixin

__all__ = ["Hibernating", "not_hibernating", "plan_hibernation", "run_options"]


@dataclass(frozen=True)
class Hibernating:
    """
    A launch made able to hibernate.

    @ivar memory_gib: the instance type's RAM, rounded up, that the root
        volume must hold on top of the image's root size.
    @ivar asked: whether the create asked for it (the C{hibernation}
        mixin); when it did not (C{[aws] hibernation = "always"}), an image
        that cannot hibernate launches without it instead of being refused.
    """

    memory_gib: int
    asked: bool


def plan_hibernation(mode: Hibernation, mixins: Iterable[Mixin], instance_type: str,
                     resource_tpls: Iterable[Mixin],
                     hibernating_types: frozenset[str]) -> Hibernating | None:
    """
    Whether a create of C{instance_type} with C{mixins} launches able to
    hibernate.  Under C{always} a type that cannot is launched without it,
    unless the create asked for it.

    @param resource_tpls: the account's resource_tpl mixins (their memory).
    @param hibernating_types: the account's types whose C{HibernationSupported}
        is true.
    @raise BadRequest: asked for where the site never offers it, or with an
        instance type that cannot hibernate.
    """
    asked = HIBERNATION in mixins
    if mode == Hibernation.NEVER:
        if asked:
            raise BadRequest('this site launches no compute able to hibernate '
                             '([aws] hibernation = "never"); drop the hibernation mixin')
        return None
    if not asked and mode == Hibernation.ON_REQUEST:
        return None
    if instance_type not in hibernating_types:
        if asked:
            raise BadRequest(f"instance type {instance_type} cannot hibernate (EC2 says "
                             "HibernationSupported is false); choose another resource_tpl "
                             "or drop the hibernation mixin")
        return None
    term = resource_tpl_term(instance_type)
    template = next(m for m in resource_tpls if m.term == term)
    memory = template.attribute("occi.compute.memory")
    return Hibernating(math.ceil(float(memory.default or 0) if memory else 0), asked)


def not_hibernating(id: str) -> Conflict:
    """The refusal of a suspend on compute C{id}, launched unable to hibernate."""
    return Conflict(f"cannot suspend compute {id}: it was not launched with hibernation "
                    "enabled (the hibernation mixin); stop it instead")


def run_options(image: dict, hibernating: Hibernating) -> dict:
    """
    The RunInstances parameters that make a launch of C{image} able to
    hibernate: C{HibernationOptions} and an encrypted root volume of the
    image's root size plus the RAM.  Empty when the image's root device is
    not EBS and the create did not ask.

    @param image: the image's DescribeImages description.
    @raise BadRequest: the create asked, and the image's root device is not EBS.
    """
    root_type = image.get("RootDeviceType", "ebs")
    if root_type != "ebs":
        if hibernating.asked:
            raise BadRequest(f"image {image['ImageId']} has an {root_type} root device; "
                             "hibernation needs an EBS one: choose another os_tpl or drop "
                             "the hibernation mixin")
        return {}
    root = image.get("RootDeviceName", "/dev/xvda")
    root_size = next((mapping.get("Ebs", {}).get("VolumeSize", 0)
                      for mapping in image.get("BlockDeviceMappings", ())
                      if mapping.get("DeviceName") == root), 0)
    return {
        "HibernationOptions": {"Configured": True},
        "BlockDeviceMappings": [{"DeviceName": root, "Ebs": {
            "Encrypted": True, "DeleteOnTermination": True,
            "VolumeSize": root_size + hibernating.memory_gib}}],
    }
