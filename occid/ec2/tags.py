# -*- test-case-name: tests.test_ec2_vocabulary -*-
"""
The EC2 tags occid reads and writes: their names, the values of
C{occid:managed}, the instance states occid shows, and the conversions
between EC2's Key/Value lists and dicts (docs/state.md: occid keeps its
state in EC2 tags).

A tag value built from what a client sent passes L{tag_value} first: what
EC2 stores must also come back through its XML answers, or every later
listing of the account fails.

Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from occid.gsi.principal import Principal
from occid.occi.bounds import first_unsafe
from occid.occi.errors import BadRequest
from occid.policy import AccountBinding, vo_of

__all__ = [
    "CREATED_TAG",
    "DN_TAG",
    "FQAN_TAG",
    "LINKS_TAG",
    "MANAGED_INTERFACE",
    "MANAGED_LAUNCH_KEY",
    "MANAGED_NETWORK",
    "MANAGED_PUBLIC",
    "MANAGED_SSH",
    "MANAGED_TAG",
    "NAME_TAG",
    "OWNER_TAG",
    "REQUEST_TAG",
    "SHOWN_STATES",
    "SUBJECT_TAG",
    "TAG_KEY_LIMIT",
    "TAG_VALUE_LIMIT",
    "TITLE",
    "TOKEN_TAG",
    "VO_TAG",
    "created_at",
    "created_tag",
    "owner_tags",
    "ownership",
    "shown",
    "tag_dict",
    "tag_list",
    "tag_problem",
    "tag_value",
]

#: The longest value an EC2 tag may hold, in characters.
TAG_VALUE_LIMIT = 256

#: The longest key an EC2 tag may have, in characters.
TAG_KEY_LIMIT = 128

#: The display name of a resource (EC2's own convention).
NAME_TAG = "Name"

#: What the client sent that becomes L{NAME_TAG}, as a refusal names it.
TITLE = "attribute occi.core.title"

#: The owner hash of the principal that created a resource.
OWNER_TAG = "occid:owner"

#: The VO of the principal that created a resource.
VO_TAG = "occid:vo"

#: The DN of the principal that created a resource, when it fits a tag value.
DN_TAG = "occid:dn"

#: The issuer and subject of the token user that created a resource,
#: C{<issuer> <sub>}, when it fits a tag value (the L{DN_TAG} of token users).
SUBJECT_TAG = "occid:oidc"

#: The FQAN the principal that created a resource acted under, its first of
#: the account's VO (what accounting reports it under); absent for robots
#: and for FQANs too long for a tag.
FQAN_TAG = "occid:fqan"
#: Links still to be made once an instance runs (L{occid.ec2.intents}).
LINKS_TAG = "occid:links"

#: The client token of a launch, to find an instance after a timeout.
TOKEN_TAG = "occid:token"

#: The digest of a create's idempotency key and request
#: (L{occid.occi.idempotency.request_digest}): a retry finds its compute.
REQUEST_TAG = "occid:request"

#: What occid made for its own use; the value says what (below).
MANAGED_TAG = "occid:managed"

#: When occid made an address or interface (ISO 8601, UTC), so that the
#: reconciler leaves alone what a request is still putting in place.
CREATED_TAG = "occid:created"

#: L{MANAGED_TAG} values: a VPC, an elastic IP, a network interface, the
#: C{occid-ssh} security group and a temporary launch key pair.
MANAGED_NETWORK = "network"
MANAGED_PUBLIC = "public"
MANAGED_INTERFACE = "interface"
MANAGED_SSH = "ssh"
MANAGED_LAUNCH_KEY = "launch-key"

#: Instance states occid shows; shutting-down and terminated ones are gone.
SHOWN_STATES = ("pending", "running", "stopping", "stopped")

_CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def shown(extra: list[dict] | tuple[dict, ...] = ()) -> list[dict]:
    """The DescribeInstances filters selecting the L{SHOWN_STATES}, then C{extra}."""
    return [{"Name": "instance-state-name", "Values": list(SHOWN_STATES)}, *extra]


def tag_dict(resource: dict) -> dict[str, str]:
    """
    The tags of an EC2 resource description, as a dict (network interfaces
    hold them in C{TagSet}, everything else in C{Tags}).
    """
    tags = resource.get("Tags") or resource.get("TagSet") or ()
    return {tag["Key"]: tag["Value"] for tag in tags}


def _length(text: str) -> int:
    """The length of C{text} as EC2 counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def tag_problem(text: str, limit: int = TAG_VALUE_LIMIT) -> str | None:
    """
    Why C{text} cannot be an EC2 tag value (or, with C{limit}
    L{TAG_KEY_LIMIT}, a key), or C{None}: over C{limit} characters (counted
    as EC2 counts them, in UTF-16 code units), or holding a character XML 1.0
    cannot carry (a C0 control other than tab, LF and CR; a lone surrogate;
    U+FFFE or U+FFFF), which EC2 would store and botocore could not read
    back.
    """
    if _length(text) > limit:
        return f"is {_length(text)} characters long; an EC2 tag holds at most {limit}"
    unsafe = first_unsafe(text)
    if unsafe is not None:
        return f"holds the character {unsafe}, which an EC2 tag cannot carry"
    return None


def tag_value(text: str, what: str) -> str:
    """
    C{text}, what the client sent as C{what} (C{"attribute occi.core.title"}),
    as a tag value.

    @raise BadRequest: it cannot be one (L{tag_problem}); the message names
        C{what} and the rule.
    """
    problem = tag_problem(text)
    if problem is not None:
        raise BadRequest(f"{what} {problem}")
    return text


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """C{tags} in the Key/Value shape of EC2 requests."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def owner_tags(principal: Principal, binding: AccountBinding) -> dict[str, str]:
    """
    The ownership tags set on every resource the principal creates
    (docs/state.md); C{Name} is the caller's.  The DN (for a token user,
    L{SUBJECT_TAG}) is left out when it cannot be a tag value
    (L{tag_problem}); L{FQAN_TAG},
    the principal's first FQAN of the binding's VO (for a proxy its primary
    FQAN; for a token user, of the entitlement that matched the account),
    when it has none (a robot) or it does not fit.
    """
    tags = {OWNER_TAG: principal.owner, VO_TAG: binding.vo}
    if tag_problem(principal.name) is None:
        tags[DN_TAG if principal.token is None else SUBJECT_TAG] = principal.name
    fqan = next((fqan for fqan in principal.fqans if vo_of(fqan) == binding.vo), "")
    if fqan and tag_problem(fqan) is None:
        tags[FQAN_TAG] = fqan
    return tags


def ownership(tags: dict[str, str]) -> dict[str, str]:
    """The owner, VO, DN (or subject) and FQAN tags among C{tags}, to give what a resource's owner made."""
    return {key: tags[key] for key in (OWNER_TAG, VO_TAG, DN_TAG, SUBJECT_TAG, FQAN_TAG) if key in tags}


def created_tag(now: datetime | None = None) -> dict[str, str]:
    """The L{CREATED_TAG} of a resource made at C{now} (default: now)."""
    now = now or datetime.now(UTC)
    return {CREATED_TAG: now.astimezone(UTC).strftime(_CREATED_FORMAT)}


def created_at(tags: dict[str, str]) -> datetime | None:
    """When the resource with C{tags} was made, if its L{CREATED_TAG} says so."""
    try:
        return datetime.strptime(tags[CREATED_TAG], _CREATED_FORMAT).replace(tzinfo=UTC)
    except (KeyError, ValueError):
        return None
