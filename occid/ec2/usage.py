# -*- test-case-name: tests.test_quotas -*-
"""
What an account and a user use, and the comparison of a request with the
account's limits (L{occid.accountconfig.Limits}); L{occid.ec2.quotas}
counts the use in EC2.

Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from occid.accountconfig import Limits
from occid.occi.errors import Forbidden


@dataclass(frozen=True)
class Usage:
    """Instances, their vCPUs and volume GiB: used, or asked for by a request."""

    instances: int = 0
    vcpus: int = 0
    volume_gib: int = 0


def check(limits: Limits, account: str, account_use: Usage, user_use: Usage,
          asked: Usage, request: str = "create") -> None:
    """
    Refuse a C{request} (C{"create"} or C{"resize"}) asking for C{asked}
    when it would take the account past a C{max_*} limit or its user past a
    C{user_max_*} one.  What a request does not ask for is not checked:
    an account over its instance limit may still create volumes.

    @raise Forbidden: naming the limit, the use and the request.
    """
    for measure in (f.name for f in fields(Usage)):
        wanted = getattr(asked, measure)
        if wanted <= 0:
            continue
        for key, use, whose in ((f"max_{measure}", account_use, "in use"),
                                (f"user_max_{measure}", user_use, "in use by you")):
            limit = getattr(limits, key)
            used = getattr(use, measure)
            if limit is not None and used + wanted > limit:
                raise Forbidden(f"{key} of account {account} is {limit}: {used} {whose}, "
                                f"this {request} asks for {wanted}")
