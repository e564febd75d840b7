# -*- test-case-name: tests.test_policy -*-
"""
Which AWS account serves a principal, and what it may see and change there.

Pure: no Twisted, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Visibility of resources inside an account (DESIGN.md, "Decisions").
OWNER = "owner"  # the principal's own resources (tag occid:owner)
VO = "vo"  # everything its VO created (tag occid:vo)
MANAGER = "manager"  # every instance and volume in the account


@dataclass(frozen=True, kw_only=True)
class AccountBinding:
    """
    The outcome of the policy for one principal.

    @ivar account: the C{name} of the C{[[accounts]]} entry that serves it.
    @ivar visibility: L{OWNER}, L{VO} or L{MANAGER}.
    @ivar writable: whether it may create, change or delete (false for a
        limited proxy in C{read-only} mode).
    @ivar vo: the VO written into C{occid:vo} tags and used for L{VO}
        visibility; for a robot DN without VOMS attributes, the account name.
    """

    account: str
    visibility: str
    writable: bool
    vo: str
