# -*- test-case-name: tests.test_ec2_links -*-
"""
Links still to be made once an instance runs, kept on the instance as the
tag C{occid:links} (DESIGN.md, "Links that need a running instance").

The value is a space-separated list of intents: C{public} (an elastic IP),
C{vol-…} (attach that volume at the next free device) or C{vol-…=/dev/sdX}
(at that device).  The reconciler makes each one and removes it from the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from occid.occi.errors import BadRequest

LINKS_TAG = "occid:links"
PUBLIC = "public"

_TAG_VALUE_LIMIT = 256
_DEVICE = re.compile(r"/dev/(sd[f-p]|xvd[f-p])")


@dataclass(frozen=True)
class Intent:
    """One link to make: C{target} is C{public} or a volume id."""

    target: str
    device: str | None = None

    def encode(self) -> str:
        return f"{self.target}={self.device}" if self.device else self.target


def valid_device(device: str) -> bool:
    """Whether C{device} is a name occid attaches volumes as (/dev/sdf to /dev/sdp)."""
    return _DEVICE.fullmatch(device) is not None


def encode(intents) -> str:
    """The tag value recording C{intents}.  @raise BadRequest: it does not fit a tag."""
    value = " ".join(intent.encode() for intent in intents)
    if len(value) > _TAG_VALUE_LIMIT:
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
