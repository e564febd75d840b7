"""
The C{Idempotency-Key} of a create in the memory fake, with the semantics
of the EC2 provider (L{occid.ec2.launch}): a compute create keyed by
(owner, key) answers the entity an earlier create with the same key and
request made while it exists, and conflicts with one made for another
request or deleted since (as EC2 refuses the client token of a terminated
instance); other kinds refuse the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from occid.ec2 import refusals
from occid.occi import idempotency
from occid.occi.errors import Conflict
from occid.occi.model import Entity, Kind

__all__ = ["keyed_request", "retried"]


def keyed_request(kind: Kind, owner: str, key: str | None,
                  entity: Entity) -> tuple[str, str] | None:
    """
    The (client token, request digest) of C{owner}'s create of C{entity}
    with C{key}, or C{None} without a key.

    @raise BadRequest: C{kind} does not honour the key.
    """
    if key is None:
        return None
    if kind not in refusals.IDEMPOTENT_KINDS:
        raise refusals.not_idempotent(kind)
    return idempotency.client_token(owner, key), idempotency.request_digest(key, entity)


def retried(entities: Mapping[tuple[str, str, str], Any],
            spent: Mapping[tuple[str, str, str], str], account: str, kind: Kind,
            request: tuple[str, str] | None) -> Any | None:
    """
    The stored entity (its C{request} is a L{keyed_request}) that a create
    of C{kind} in C{account} with the token of C{request} made, if any.

    @param spent: the tokens of keyed creates whose entity was deleted, by
        (account, kind term, token), with that entity's id.
    @raise Conflict: it was made for another request, or deleted since.
    """
    if request is None:
        return None
    deleted = spent.get((account, kind.term, request[0]))
    if deleted is not None:
        raise Conflict(f"the Idempotency-Key was used for {kind.term} {deleted}, deleted "
                       "since; use a new key for a new request")
    for (stored_account, term, id), stored in entities.items():
        earlier = stored.request
        if (stored_account, term) == (account, kind.term) and earlier and earlier[0] == request[0]:
            if earlier != request:
                raise Conflict(f"the Idempotency-Key was used for another create ({kind.term} "
                               f"{id}); use a new key for a new request")
            return stored
    return None
