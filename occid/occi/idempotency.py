"""
The C{Idempotency-Key} of a create (the IETF httpapi draft header): which
keys are accepted, and the two digests a provider derives from one.

A provider keys an earlier create by L{client_token} (the owner and the
key, so two users' keys never meet) and tells a retry from a reuse of the
key for another request by L{request_digest} (the key and the resolved
entity): the same digest is a retry, answered with the earlier entity;
another one is a conflict.
"""

from __future__ import annotations

import hashlib
import json

from occid.occi.errors import BadRequest
from occid.occi.model import Entity, Link, Resource

__all__ = ["HEADER", "KEY_LIMIT", "check_key", "client_token", "request_digest"]

#: The request header naming a create's idempotency key.
HEADER = "Idempotency-Key"

#: The longest key accepted, in characters.
KEY_LIMIT = 255


def check_key(value: str) -> str:
    """
    C{value}, the C{Idempotency-Key} header of a create.

    @raise BadRequest: it is empty, longer than L{KEY_LIMIT} or holds
        anything but printable ASCII (space to tilde).
    """
    if not 1 <= len(value) <= KEY_LIMIT or not all(" " <= c <= "~" for c in value):
        raise BadRequest(f"the {HEADER} must be 1 to {KEY_LIMIT} printable ASCII characters")
    return value


def _digest(*parts: str) -> str:
    """The SHA-256 of C{parts}, each ended by a NUL, in 64 hex digits."""
    return hashlib.sha256("".join(part + "\0" for part in parts).encode()).hexdigest()


def client_token(owner: str, key: str) -> str:
    """The token of C{owner}'s create with C{key}: 64 hex digits (EC2's ClientToken limit)."""
    return _digest("token", owner, key)


def _canonical(entity: Entity) -> dict:
    """What a create of C{entity} asks for, in a form that does not depend on order."""
    form: dict = {
        "kind": entity.kind.identifier,
        "mixins": sorted(mixin.identifier for mixin in entity.mixins),
        "attributes": {name: value for name, value in entity.attributes.items()
                       if name != "occi.core.id"},
    }
    if isinstance(entity, Link):
        form["source"], form["target"] = entity.source, entity.target
    if isinstance(entity, Resource):
        form["links"] = sorted((_canonical(link) for link in entity.links),
                               key=lambda link: json.dumps(link, sort_keys=True, default=str))
    return form


def request_digest(key: str, entity: Entity) -> str:
    """
    The digest of a create of C{entity} (resolved against the catalogue)
    with C{key}: equal for two renderings of one request, different when
    a kind, mixin, attribute or link differs.
    """
    return _digest("request", key, json.dumps(_canonical(entity), sort_keys=True, default=str))
