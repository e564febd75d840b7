# -*- test-case-name: tests.test_ec2_usermixins,tests.test_ec2_contract -*-
"""
User-defined mixins of an AWS account (docs/state.md, "User mixins").

  - A definition is one SSM parameter, C{/occid/mixins/<name>}, in the
    account's region (C{[aws] region}): a JSON object with the scheme,
    term, title, location, owner hash, VO and creation time.  SSM refuses a
    second parameter of the same name (C{Overwrite=False}), so two occid
    processes cannot both take one location.
  - Membership is one tag per mixin on the EC2 resource,
    C{occid:mixin:<name>}, whose value is the mixin's C{scheme + term}: a
    tag whose value is not the current definition's identifier (a stale one
    from a removed definition) counts for nothing.

L{occid.ec2.definitions.Definitions} keeps the account's definitions read
from SSM, cached; L{EC2MixinStore} provides L{IMixinStore} and says which user mixins
entities carry (L{occid.ec2.members} renders them).  The
blocking calls run in the EC2 thread pool.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from twisted.internet.defer import Deferred, fail
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from zope.interface import implementer

from occid.config import Visibility
from occid.ec2.account import Account
from occid.ec2.adapter import OPERATIONS
from occid.ec2.definitions import Definition, Definitions
from occid.ec2.errors import translated
from occid.ec2.regions import RegionMap
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, tag_value
from occid.interfaces import IMixinStore
from occid.occi import usermixins
from occid.occi.errors import BadRequest, Forbidden, NotFound, OCCIError
from occid.occi.model import Entity, Kind, Mixin

log = Logger()

#: The membership tag of mixin C{<name>} is this prefix and the name.
MEMBER_TAG_PREFIX = "occid:mixin:"

#: EC2 resources per CreateTags/DeleteTags call.
TAG_CHUNK = 500


def member_tag(mixin: Mixin) -> str:
    """The tag key marking members of C{mixin}."""
    return MEMBER_TAG_PREFIX + usermixins.name_of(mixin)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i:i + TAG_CHUNK]) for i in range(0, len(ids), TAG_CHUNK)]


def tagged(client: Any, keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """Resource id to C{{key: value}} of the resources carrying one of C{keys} (blocking)."""
    found: dict[str, dict[str, str]] = {}
    if not keys:
        return found
    pages = client.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": list(keys)}])
    for page in pages:
        for tag in page["Tags"]:
            found.setdefault(tag["ResourceId"], {})[tag["Key"]] = tag.get("Value", "")
    return found


@implementer(IMixinStore)
class EC2MixinStore:
    """The user mixins of one account for one principal, over SSM and EC2 tags."""

    def __init__(self, reactor: Any, pool: Any, account: Account, definitions: Definitions,
                 scope: Scope, regions: RegionMap | None = None) -> None:
        """
        @param regions: in a gateway of several regions, the account's ids,
            by which a target of another region than C{account}'s is refused.
        """
        self._reactor = reactor
        self._pool = pool
        self._account = account
        self._definitions = definitions
        self._scope = scope
        self._regions = regions

    def _write(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        try:
            self._scope.check_writable()
        except OCCIError:
            return fail()
        return deferToThreadPool(self._reactor, self._pool, function, *args)

    def define(self, mixin: Mixin) -> Deferred[Mixin]:
        try:
            tag_value(mixin.identifier, "the scheme and term of a user mixin")
        except BadRequest:
            return fail()
        return self._write(self._define, mixin)

    def _define(self, mixin: Mixin) -> Mixin:
        usermixins.check_unique(mixin, self._definitions.load())
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        principal, binding = self._scope.principal, self._scope.binding
        self._definitions.put(Definition(mixin, principal.owner, binding.vo, created))
        return mixin

    def _known(self, mixin: Mixin) -> Definition:
        for definition in self._definitions.visible(self._scope):
            if definition.mixin == mixin and definition.mixin.location == mixin.location:
                return definition
        raise NotFound(f"no user mixin {mixin.identifier} here")

    def remove(self, mixin: Mixin) -> Deferred[None]:
        return self._write(self._remove, mixin)

    def _remove(self, mixin: Mixin) -> None:
        self._definitions.load()
        known = self._known(mixin)
        if (self._scope.binding.visibility != Visibility.MANAGER
                and not self._scope.owns({OWNER_TAG: known.owner})):
            raise Forbidden(f"only the creator of {mixin.identifier} or a manager may remove it")
        self._definitions.delete(known)
        key = member_tag(mixin)
        try:  # the tags left behind no longer count (their definition is gone)
            for chunk in _chunks(sorted(tagged(self._account.client, [key]))):
                self._account.client.delete_tags(Resources=chunk, Tags=[{"Key": key}])
        except (ClientError, BotoCoreError) as error:
            log.warn("user mixin {mixin} removed from account {account}, but not from every "
                     "resource: {error}", mixin=mixin.identifier, account=self._account.name,
                     error=error)

    def _checked(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]]) -> list[str]:
        """The EC2 ids of C{targets}, each visible to the principal (blocking)."""
        self._definitions.current()
        self._known(mixin)
        ids = []
        for kind, target in targets:
            id, region = (target, "") if self._regions is None else self._regions.split(target)
            if region and region != self._account.aws.region:
                raise BadRequest(
                    f"{kind.location}{target} is in region {region}: here a user mixin is "
                    f"associated with entities of {self._account.aws.region} only; POST the "
                    "mixin to the entity's own location instead")
            if kind not in usermixins.APPLIES or not id.startswith(("i-", "vol-", "vpc-")):
                raise BadRequest(f"{kind.location}{id} cannot carry a user mixin")
            OPERATIONS[kind].get(self._account, self._scope, id)
            ids.append(id)
        return ids

    def associate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]],
                  replace: bool) -> Deferred[None]:
        return self._write(translated(self._associate), mixin, targets, replace)

    def _associate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]],
                   replace: bool) -> None:
        ids = self._checked(mixin, targets)
        key, client = member_tag(mixin), self._account.client
        if replace:
            kinds = {"i-": usermixins.APPLIES[0], "vol-": usermixins.APPLIES[1],
                     "vpc-": usermixins.APPLIES[2]}
            leaving = []
            for id in sorted(set(tagged(client, [key])) - set(ids)):
                kind = next((k for p, k in kinds.items() if id.startswith(p)), None)
                if kind is None:
                    continue
                try:
                    OPERATIONS[kind].get(self._account, self._scope, id)
                except NotFound:
                    continue  # not the principal's to untag
                leaving.append(id)
            for chunk in _chunks(leaving):
                client.delete_tags(Resources=chunk, Tags=[{"Key": key}])
        for chunk in _chunks(ids):
            client.create_tags(Resources=chunk, Tags=[{"Key": key, "Value": mixin.identifier}])

    def dissociate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]]) -> Deferred[None]:
        return self._write(translated(self._dissociate), mixin, targets)

    def _dissociate(self, mixin: Mixin, targets: Sequence[tuple[Kind, str]]) -> None:
        ids = self._checked(mixin, targets)
        for chunk in _chunks(ids):
            self._account.client.delete_tags(Resources=chunk, Tags=[{"Key": member_tag(mixin)}])

    def asks(self, entities: builtins.list[Any]) -> bool:
        """
        Whether L{carried} asks EC2 about C{entities}: the principal sees a
        user mixin, and one of them is a resource user mixins apply to.
        Non-blocking, from memory: without a question there is no reason
        to go to a thread.
        """
        return bool(self._definitions.visible(self._scope)) and any(
            isinstance(e, Entity) and e.kind in usermixins.APPLIES for e in entities)

    def carried(self, entities: builtins.list[Any]) -> builtins.list[Any]:
        """
        C{entities} (and other results, left alone) with the user mixins
        they carry that the principal sees added (blocking: one
        DescribeTags, none when it sees no user mixin).
        """
        if not self.asks(entities):
            return entities
        seen = {member_tag(d.mixin): d.mixin for d in self._definitions.visible(self._scope)}
        tags = translated(tagged)(self._account.client, sorted(seen))
        result = []
        for entity in entities:
            carried = tags.get(entity.id, {}) if isinstance(entity, Entity) else {}
            extra = [m for key, m in seen.items() if carried.get(key) == m.identifier]
            if extra:
                entity = copy.copy(entity)
                entity.mixins = list(entity.mixins) + extra
            result.append(entity)
        return result


__all__ = ["Definitions", "EC2MixinStore", "member_tag"]
