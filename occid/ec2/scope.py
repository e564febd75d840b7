# -*- test-case-name: tests.test_ec2_compute -*-
"""
What one principal may see in its account, as EC2 tag filters and checks
(DESIGN.md, "Visibility inside an account"), and the tags it writes on what
it creates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from occid.config import Visibility
from occid.gsi.principal import Principal
from occid.occi.errors import Forbidden
from occid.policy import AccountBinding, owner_tags

OWNER_TAG = "occid:owner"
VO_TAG = "occid:vo"
NAME_TAG = "Name"


def tag_dict(resource: dict) -> dict[str, str]:
    """
    The tags of an EC2 resource description, as a dict (network interfaces
    hold them in C{TagSet}, everything else in C{Tags}).
    """
    tags = resource.get("Tags") or resource.get("TagSet") or ()
    return {tag["Key"]: tag["Value"] for tag in tags}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """C{tags} in the Key/Value shape of EC2 requests."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def retitle(client, resource: dict, id: str, title) -> dict:
    """
    Set (or, for an empty title, remove) the C{Name} tag of EC2 resource
    C{id} if C{title} differs from it; returns C{resource} (its description)
    with the tags as they now are.  Blocking: call it in the thread pool.
    """
    title = str(title)
    if title == tag_dict(resource).get(NAME_TAG, ""):
        return resource
    if title:
        client.create_tags(Resources=[id], Tags=[{"Key": NAME_TAG, "Value": title}])
    else:
        client.delete_tags(Resources=[id], Tags=[{"Key": NAME_TAG}])
    others = [t for t in resource.get("Tags", ()) if t["Key"] != NAME_TAG]
    return dict(resource, Tags=others + ([{"Key": NAME_TAG, "Value": title}] if title else []))


def valid_id(prefix: str, id: str) -> bool:
    """Whether C{id} looks like an EC2 id with C{prefix} (C{i}, C{vol}, C{vpc}...)."""
    return re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", id) is not None


@dataclass(frozen=True)
class Scope:
    """One principal in one account."""

    principal: Principal
    binding: AccountBinding

    def filters(self, owned_only: bool = False) -> list[dict]:
        """The EC2 filters selecting the instances and volumes this principal sees."""
        if owned_only or self.binding.visibility not in (Visibility.VO, Visibility.MANAGER):
            return [{"Name": f"tag:{OWNER_TAG}", "Values": [self.principal.owner]}]
        if self.binding.visibility == Visibility.VO:
            return [{"Name": f"tag:{VO_TAG}", "Values": [self.binding.vo]}]
        return []

    def sees(self, tags: dict[str, str]) -> bool:
        """Whether a resource with C{tags} is visible to this principal."""
        if self.binding.visibility == Visibility.MANAGER:
            return True
        if self.binding.visibility == Visibility.VO:
            return tags.get(VO_TAG) == self.binding.vo
        return self.owns(tags)

    def owns(self, tags: dict[str, str]) -> bool:
        """Whether this principal created the resource with C{tags}."""
        return tags.get(OWNER_TAG) == self.principal.owner

    def creation_tags(self, title: str | None = None) -> dict[str, str]:
        """The tags of a resource this principal creates now."""
        tags = {NAME_TAG: title} if title else {}
        tags.update(owner_tags(self.principal, self.binding))
        return tags

    def check_writable(self) -> None:
        """@raise Forbidden: this principal may only read (a limited proxy)."""
        if not self.binding.writable:
            raise Forbidden("a limited proxy may only read; use a full proxy to change anything")
