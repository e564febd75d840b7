# -*- test-case-name: tests.test_ec2_visible -*-
"""
Reading one entity by id, with one answer for all that the principal cannot
see: an id of no EC2 shape, one EC2 reports as unknown or malformed, and
another user's (filtered out by the scope) are the same 404
(L{occid.ec2.refusals.not_found}), so that an answer never tells another
member's resource from a missing one.

Blocking: the calls run in the EC2 thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

from occid.ec2.account import Account
from occid.ec2.refusals import not_found
from occid.ec2.vocabulary import valid_id
from occid.occi.model import Kind

_T = TypeVar("_T")


def absent(error: ClientError) -> bool:
    """Whether EC2 refused a call because an id it names does not exist."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code.endswith(("NotFound", ".Malformed"))


def one(account: Account, kind: Kind, prefix: str, id: str,
        call: Callable[[], list[_T]]) -> _T:
    """
    The first of what C{call()} finds for C{id}, an EC2 id starting with
    C{prefix}; a NotFound for an id just created is retried
    (L{Account.recent}).

    @raise NotFound: C{id} is not an EC2 id of C{prefix}, EC2 does not know
        it, or C{call()} found nothing (the scope's filters hid it).
    """
    if not valid_id(prefix, id):
        raise not_found(kind, id)
    try:
        found = account.recent.describe(id, call)
    except ClientError as error:
        if absent(error):
            raise not_found(kind, id) from None
        raise
    if not found:
        raise not_found(kind, id)
    return found[0]
