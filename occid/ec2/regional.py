# -*- test-case-name: tests.test_ec2_regional -*-
"""
One collection over the collections of every region an account is served
in (a gateway with several C{[aws] regions}).

  - A listing asks every region at once (each region's collection runs in
    the EC2 thread pool, so the regions' calls overlap) and merges the
    answers by id.  A region that fails is left out and logged, so that one
    region's outage does not hide the others; a listing filtered on one
    region (its mixin, L{REGION_ATTRIBUTE}, or an id of it) asks that region
    alone, and its failure is the answer, as is the first failure when no
    region answers.
  - A describe, update, delete or action goes to the one region its id
    names (L{occid.ec2.regions}): exactly one region's calls.  An update
    naming another region (by mixin: 409) or another L{REGION_ATTRIBUTE}
    (immutable: 403) is refused before any call: no entity moves.
  - A create goes to the region its categories and links name: the region
    mixin, else the zone mixin's region, else the os_tpl's, else a link's
    end, else the account's default region; two that disagree are 400.

Entities go down as each region's collection knows them (bare ids, no region
mixin) and come up as clients see them (L{occid.ec2.regions.qualified}).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from occid.ec2.account import Account
from occid.ec2.regions import RegionMap, merged_catalog, qualified
from occid.ec2.vocabulary import SNAPSHOT_ID
from occid.interfaces import IEntityCollection
from occid.occi.catalog import Catalog
from occid.occi.errors import Conflict, Forbidden, NotFound, OCCIError
from occid.occi.infrastructure import REGION, REGION_ATTRIBUTE, region_mixin
from occid.occi.model import (
    Action,
    AttributeValue,
    Category,
    Changes,
    Entity,
    EntityFilter,
    Link,
    Mixin,
    Resource,
)

__all__ = ["RegionalCollection", "Served", "region_named_by"]

log = Logger()


def region_named_by(mixin: Mixin) -> str | None:
    """The region a region, zone or os_tpl mixin names, if it names one."""
    if _is_region(mixin):
        return mixin.term
    for parent in mixin.depends:
        if _is_region(parent):
            return parent.term
    attribute = mixin.attribute(REGION_ATTRIBUTE)
    return None if attribute is None else str(attribute.default)


def _is_region(mixin: Mixin) -> bool:
    """Whether C{mixin} is a region's (a zone's depends on one, further down)."""
    return REGION in mixin.depends


def _staying(id: str, region: str, changes: Changes) -> Changes:
    """
    C{changes} of entity C{id} of C{region} as that region's collection
    knows them: without its region mixin and L{REGION_ATTRIBUTE}, which it
    may restate (a full update leaving them out is no move either).

    @raise Conflict: a mixin names another region: no entity moves.
    @raise Forbidden: L{REGION_ATTRIBUTE} is given another value: it is
        immutable, as every attribute refused so (L{occid.ec2.fullupdate}).
    """
    named: dict[str, str] = {}
    local = _unregioned(changes, named)
    for what, other in named.items():
        if other != region:
            raise Conflict(f"{id} is in region {region}; it cannot move to region {other} "
                           f"({what}): create a new one there")
    asked = changes.attributes.get(REGION_ATTRIBUTE)
    if asked is not None and str(asked) != region:
        raise Forbidden(f"attribute {REGION_ATTRIBUTE} cannot be changed (it is {region!r}, "
                        f"the update says {asked!r})")
    return dataclasses.replace(changes, **local)


def _unregioned(entity: Entity | Changes, named: dict[str, str]) -> dict[str, Any]:
    """
    The mixins and attributes of C{entity} (a create, one of its inline
    links, or an update) without its region mixins and L{REGION_ATTRIBUTE};
    the regions its mixins name are added to C{named}.
    """
    for mixin in entity.mixins:
        region = region_named_by(mixin)
        if region is not None:
            named[f"mixin {mixin.identifier}"] = region
    return {"mixins": [m for m in entity.mixins if not _is_region(m)],
            "attributes": {k: v for k, v in entity.attributes.items() if k != REGION_ATTRIBUTE}}


@implementer(IEntityCollection)
class RegionalCollection:
    """
    The entities of one kind a principal sees in every region of its
    account: C{collections} maps each served region to its collection,
    C{mixins} to its region mixin.
    """

    log = log

    def __init__(self, regions: RegionMap, collections: Mapping[str, IEntityCollection],
                 mixins: Mapping[str, Mixin]) -> None:
        self.kind = collections[regions.default].kind
        self._regions = regions
        self._collections = dict(collections)
        self._mixins = dict(mixins)

    def _up(self, result: Any, region: str) -> Any:
        """A result of C{region}'s collection as clients see it."""
        if isinstance(result, Entity):
            return qualified(result, self._regions, region, self._mixins[region])
        return result

    def _routed(self, id: str) -> tuple[IEntityCollection, str, str]:
        bare, region = self._regions.split(id)
        return self._collections[region], bare, region

    # -- listing --------------------------------------------------------------

    def list(self, filter: EntityFilter) -> Deferred[builtins.list[Entity]]:
        regions, plain = self._regions.narrowed(filter, self._mixins)
        explicit = len(regions) < len(self._regions.served)
        listings = [self._collections[r].list(plain).addCallback(
            lambda found, r=r: [self._up(e, r) for e in found]) for r in regions]
        return DeferredList(listings, consumeErrors=True).addCallback(
            self._merged, regions, explicit)

    def _merged(self, results: builtins.list[tuple[bool, Any]], regions: Sequence[str],
                explicit: bool) -> builtins.list[Entity] | Failure:
        """
        The entities the regions found, sorted by id; a region that failed
        is left out (and logged) unless the filter named it (C{explicit}) or
        no region answered: its failure is then the answer.
        """
        found: builtins.list[Entity] = []
        failures = [result for ok, result in results if not ok]
        if failures and (explicit or len(failures) == len(results)):
            return failures[0]
        for region, (ok, result) in zip(regions, results, strict=True):
            if ok:
                found.extend(result)
            elif not isinstance(result.value, OCCIError):
                return result
            else:
                self.log.warn("listing {kind} in region {region} failed; the listing "
                              "leaves it out: {error}", kind=self.kind.term, region=region,
                              error=result.value)
        return sorted(found, key=lambda entity: entity.id)

    # -- one entity ------------------------------------------------------------

    def get(self, id: str) -> Deferred[Entity]:
        try:
            collection, bare, region = self._routed(id)
        except OCCIError:
            return fail()
        return collection.get(bare).addCallback(self._up, region)

    def update(self, id: str, changes: Changes) -> Deferred[Entity]:
        try:
            collection, bare, region = self._routed(id)
            local = _staying(id, region, changes)
        except OCCIError:
            return fail()
        return collection.update(bare, local).addCallback(self._up, region)

    def delete(self, id: str) -> Deferred[None]:
        try:
            collection, bare, _ = self._routed(id)
        except OCCIError:
            return fail()
        return collection.delete(bare)

    def trigger(self, id: str, action: Action,
                attributes: dict[str, AttributeValue]) -> Deferred[Entity | Category]:
        try:
            collection, bare, region = self._routed(id)
        except OCCIError:
            return fail()
        return collection.trigger(bare, action, attributes).addCallback(self._up, region)

    # -- create ----------------------------------------------------------------

    def create(self, entity: Entity, idempotency_key: str | None = None) -> Deferred[Entity]:
        try:
            region, local = self._placed(entity)
        except OCCIError:
            return fail()
        return self._collections[region].create(local, idempotency_key).addCallback(
            self._up, region)

    def _placed(self, entity: Entity) -> tuple[str, Entity]:
        """
        The region C{entity} is created in, and C{entity} as that region's
        collection knows it.

        @raise BadRequest: what it names is in two regions.
        @raise NotFound: it names an entity of a region not served here.
        """
        named: dict[str, str] = {}
        changes = _unregioned(entity, named)
        restored = entity.attributes.get(SNAPSHOT_ID.name)
        if restored:
            path = "/snapshot/" + str(restored).rstrip("/").rpartition("/")[2]
            bare, named[f"snapshot {restored}"] = self._regions.split_path(path)
            changes["attributes"][SNAPSHOT_ID.name] = bare.rpartition("/")[2]
        if isinstance(entity, Link):
            for end in ("source", "target"):
                changes[end], named[getattr(entity, end)] = self._regions.split_path(
                    getattr(entity, end))
        if isinstance(entity, Resource):
            links = []
            for link in entity.links:
                target, named[link.target] = self._regions.split_path(link.target)
                links.append(dataclasses.replace(link, target=target,
                                                 **_unregioned(link, named)))
            changes["links"] = links
        region = self._regions.only_region(named) or self._regions.default
        if region not in self._collections:
            raise NotFound(f"region {region} is not served to this account")
        return region, dataclasses.replace(entity, **changes)


@dataclass(frozen=True)
class Served:
    """
    One configured account as the gateway serves it: its L{Account} in each
    region, the default region first, and, in a gateway of several regions,
    the L{RegionMap} of its ids (C{None} in a gateway of one: bare ids, no
    region mixins, as before regions existed).
    """

    accounts: tuple[Account, ...]
    regions: RegionMap | None = None

    @property
    def name(self) -> str:
        """The account's name."""
        return self.accounts[0].name

    def _mixins(self) -> dict[str, Mixin]:
        return {account.aws.region: region_mixin(account.aws.region,
                                                 account.catalog.public_host)
                for account in self.accounts}

    def catalog(self, catalogs: Sequence[tuple[Account, Catalog]]) -> Catalog:
        """
        The one catalog of the C{catalogs} the accounts' regions give (those
        loaded: one region whose catalogue cannot be read does not hide the
        others', and keeps its region mixin).
        """
        if self.regions is None:
            return catalogs[0][1]
        host = self.accounts[0].catalog.public_host
        return merged_catalog([(account.aws.region, catalog) for account, catalog in catalogs],
                              self.regions.served, host)

    def collection(self, one: Callable[[Account], IEntityCollection]) -> IEntityCollection:
        """The collection over the regions' collections C{one} makes."""
        if self.regions is None:
            return one(self.accounts[0])
        return RegionalCollection(self.regions,
                                  {account.aws.region: one(account) for account in self.accounts},
                                  self._mixins())

    def holding(self, mixin: Mixin) -> Account:
        """
        The account (region) whose catalogue offers the image of os_tpl
        C{mixin}, else the default region's.
        """
        region = region_named_by(mixin)
        for account in self.accounts:
            if account.aws.region == region:
                return account
        return self.accounts[0]
