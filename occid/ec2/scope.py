# -*- test-case-name: tests.test_ec2_compute -*-
"""
What one principal may see in its account, as EC2 tag filters and checks
(docs/state.md, visibility inside an account), and the tags it writes on
what it creates.

Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

from dataclasses import dataclass

from occid.config import Visibility
from occid.ec2 import refusals
from occid.ec2.tags import NAME_TAG, OWNER_TAG, TITLE, VO_TAG, owner_tags, tag_value
from occid.gsi.principal import Principal
from occid.occi.errors import Forbidden
from occid.policy import AccountBinding


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
        """
        The tags of a resource this principal creates now, titled C{title}.

        @raise BadRequest: the title cannot be a tag value (L{tag_value}).
        """
        tags = {NAME_TAG: tag_value(title, TITLE)} if title else {}
        tags.update(owner_tags(self.principal, self.binding))
        return tags

    def check_writable(self) -> None:
        """@raise Forbidden: this principal may only read (a limited proxy)."""
        if not self.binding.writable:
            raise Forbidden(refusals.READ_ONLY)
