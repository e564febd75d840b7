# -*- test-case-name: tests.test_ec2_links -*-
"""
Links still to be made once an instance runs, kept on the instance as the
tag C{occid:links} (docs/state.md, links that need a running instance).

The value is a space-separated list of intents: C{public} (an elastic IP),
C{vol-…} (attach that volume at the next free device) or C{vol-…=/dev/sdX}
(at that device).  The reconciler makes each one and removes it from the tag.

Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from occid.ec2.tags import LINKS_TAG, TAG_VALUE_LIMIT, tag_dict
from occid.occi.errors import BadRequest
from occid.occi.model import AttributeValue

#: The intent of a public address.
PUBLIC = "public"

#: Devices occid attaches volumes as, in order.
DEVICES = tuple(f"/dev/sd{letter}" for letter in "fghijklmnop")

_DEVICE = re.compile(r"/dev/(sd[f-p]|xvd[f-p])")


@dataclass(frozen=True)
class Intent:
    """One link to make: C{target} is C{public} or a volume id."""

    target: str
    device: str | None = None

    def encode(self) -> str:
        """This intent as one item of the tag value."""
        return f"{self.target}={self.device}" if self.device else self.target


def valid_device(device: str) -> bool:
    """Whether C{device} is a name occid attaches volumes as (/dev/sdf to /dev/sdp)."""
    return _DEVICE.fullmatch(device) is not None


def checked_device(device: AttributeValue | None) -> str | None:
    """
    The C{occi.storagelink.deviceid} a link asks for, or C{None} when it
    names none.  @raise BadRequest: not a device occid attaches volumes as.
    """
    if device is not None and not valid_device(str(device)):
        raise BadRequest(f"device {device} is not one of /dev/sdf to /dev/sdp")
    return str(device) if device else None


def encode(intents: Iterable[Intent]) -> str:
    """The tag value recording C{intents}.  @raise BadRequest: it does not fit a tag."""
    value = " ".join(intent.encode() for intent in intents)
    if len(value) > TAG_VALUE_LIMIT:
        raise BadRequest("too many inline links in one create; link the rest afterwards")
    return value


def decode(value: str) -> tuple[Intent, ...]:
    """The intents recorded in the tag value C{value}; unreadable items are skipped."""
    intents = []
    for item in value.split():
        target, _, device = item.partition("=")
        if target == PUBLIC or target.startswith("vol-"):
            intents.append(Intent(target, device or None))
    return tuple(intents)


def pending(resource: dict) -> tuple[Intent, ...]:
    """The intents recorded on the instance description C{resource}."""
    return decode(tag_dict(resource).get(LINKS_TAG, ""))
