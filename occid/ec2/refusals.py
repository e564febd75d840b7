# -*- test-case-name: tests.test_ec2_contract,tests.test_testing -*-
"""
What EC2 cannot do, as the errors occid answers: the one place these
refusals are worded, for the EC2 edge and for the memory fakes that must
refuse alike (tests/contract.py).

Pure: no boto3 and no Twisted.
"""

from __future__ import annotations

from occid.ec2.vocabulary import SNAPSHOT
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound, OCCIError
from occid.occi.model import Action, Kind

__all__ = [
    "IDEMPOTENT_KINDS", "READ_ONLY", "action_impossible", "create_refused", "not_an_action",
    "not_found", "not_idempotent", "update_refused",
]

#: What a read-only binding (a limited proxy) that writes is told.
READ_ONLY = "a limited proxy may only read; use a full proxy to change anything"

#: Why the actions of these kinds that EC2 has no call for are impossible.
_IMPOSSIBLE = {
    infra.STORAGE.term: "{action} is not possible on EBS volumes",
    infra.NETWORK.term: "{action} is not possible on a VPC; it is always up",
}

#: How the entities of these kinds are made, since not by a create.
_MADE_BY = {
    SNAPSHOT.term: "snapshots are made by the snapshot or backup action of a storage "
                   "(POST /storage/<id>?action=snapshot) and cannot be changed",
}


#: The kinds whose creates honour an C{Idempotency-Key} (docs/wire.md).
IDEMPOTENT_KINDS = (infra.COMPUTE,)


def not_found(kind: Kind, id: str) -> NotFound:
    """
    The one 404 of an entity of C{kind} the principal cannot see: the same
    words whether C{id} names nothing, another user's entity or something
    EC2 reports as gone, so that the answer does not tell them apart.
    """
    return NotFound(f"no {kind.term} {id} here")


def not_idempotent(kind: Kind) -> BadRequest:
    """The error of a create of C{kind}, not in L{IDEMPOTENT_KINDS}, with an idempotency key."""
    return BadRequest(f"the Idempotency-Key is not supported for {kind.term}; "
                      f"only a compute create honours it")


def not_an_action(kind: Kind, action: Action) -> BadRequest:
    """The error of an action that C{kind} does not declare."""
    return BadRequest(f"{action.identifier} is not an action of {kind.term}")


def action_impossible(kind: Kind, action: Action) -> OCCIError:
    """
    The error of C{action} on an entity of C{kind} that EC2 cannot run: a
    Conflict for a declared action (C{online} of a volume, C{up} of a VPC),
    else L{not_an_action}.
    """
    if action in kind.actions and kind.term in _IMPOSSIBLE:
        return Conflict(_IMPOSSIBLE[kind.term].format(action=action.term))
    return not_an_action(kind, action)


def update_refused(kind: Kind) -> Forbidden:
    """The error of an update of a kind that cannot be changed (networks, links)."""
    if kind == infra.NETWORK:
        return Forbidden("networks cannot be changed through occid")
    if kind.term in _MADE_BY:
        return Forbidden(_MADE_BY[kind.term])
    return Forbidden(f"a {kind.term} cannot be changed; delete it and link again")


def create_refused(kind: Kind) -> Forbidden:
    """The error of a create in the collection of C{kind}, whose entities actions make."""
    return Forbidden(_MADE_BY.get(kind.term, f"a {kind.term} cannot be created here"))
