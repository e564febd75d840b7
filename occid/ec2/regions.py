# -*- test-case-name: tests.test_ec2_regions -*-
"""
Where an entity lives when one gateway serves several AWS regions.

An entity of the home region (the first of C{[aws] regions}) keeps its bare
EC2 id, so that a gateway which gains regions keeps every location it gave
out.  An entity of another region carries its region after a dot:
C{/compute/i-0abc.eu-central-1}; EC2 ids and region names hold no dot, so
the form is unambiguous, and a describe needs no search across regions.
The public network of a region is C{/network/public.<region>} likewise, and
a link id joins its two qualified ends: C{i-0abc.eu-central-1_vol-0def.eu-central-1}.

L{RegionMap} turns ids and paths both ways, and a listing's filter into the
regions it asks; L{qualified} rewrites an entity
a region's collection answered into the form clients see, with the
region's mixin and L{REGION_ATTRIBUTE}; L{merged_catalog} makes one query
interface of the regions' catalogs.  Pure: no Twisted, no boto3.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, NotFound
from occid.occi.infrastructure import REGION, REGION_ATTRIBUTE, region_mixin
from occid.occi.model import Entity, EntityFilter, Link, Mixin, Resource

__all__ = ["REGION_ATTRIBUTE", "RegionMap", "merged_catalog", "qualified"]

#: Between an EC2 id and the region it lives in.
SEPARATOR = "."

#: Between the two ends of a link id.
LINK_JOINER = "_"


@dataclass(frozen=True)
class RegionMap:
    """
    The regions one account is served in.

    @ivar home: the gateway's home region, whose ids stay bare.
    @ivar served: the account's regions, its default for creates first.
    """

    home: str
    served: tuple[str, ...]

    @property
    def default(self) -> str:
        """The region of a create that names none."""
        return self.served[0]

    def qualify(self, id: str, region: str) -> str:
        """C{id} of an entity in C{region}, as clients see it."""
        if LINK_JOINER in id:
            return LINK_JOINER.join(self.qualify(end, region) for end in id.split(LINK_JOINER))
        return id if region == self.home else f"{id}{SEPARATOR}{region}"

    def split(self, id: str) -> tuple[str, str]:
        """
        The EC2 id and the region of an id as clients see it.

        @raise NotFound: it names a region this account is not served in,
            or a link whose ends are in two regions, or it is malformed
            (an empty id or region, more than one region): no EC2 call
            could find it.
        """
        if LINK_JOINER in id:
            try:
                ends = [self.split(end) for end in id.split(LINK_JOINER)]
            except NotFound as error:
                raise NotFound(f"link {id!r}: {error}") from None
            regions = {region for _, region in ends}
            if len(regions) != 1:
                raise NotFound(f"{id} joins two regions; no link does")
            return LINK_JOINER.join(bare for bare, _ in ends), regions.pop()
        bare, separator, region = id.rpartition(SEPARATOR)
        if not separator:
            bare, region = id, self.home
        if not bare or not region or SEPARATOR in bare:
            raise NotFound(f"{id!r} is not an id of this gateway: an EC2 id, then at most "
                           "one region after a dot")
        if separator and region == self.home:
            raise NotFound(f"{id}: ids of the home region {self.home} carry no region")
        if region not in self.served:
            raise NotFound(f"{id}: region {region} is not served here")
        return bare, region

    def qualify_path(self, path: str, region: str) -> str:
        """An entity path (C{/kind/<id>}) of C{region}, as clients see it."""
        collection, _, id = path.rpartition("/")
        return f"{collection}/{self.qualify(id, region)}"

    def split_path(self, path: str) -> tuple[str, str]:
        """
        The path a region's collection knows, and its region.

        @raise NotFound: as L{split}.
        """
        collection, _, id = path.rpartition("/")
        bare, region = self.split(id)
        return f"{collection}/{bare}", region

    def narrowed(self, filter: EntityFilter,
                 mixins: Mapping[str, Mixin]) -> tuple[tuple[str, ...], EntityFilter]:
        """
        The regions a listing with C{filter} asks, and C{filter} as their
        collections know it: without the region's mixin (C{mixins}: each
        served region's) and L{REGION_ATTRIBUTE}, with a bare C{occi.core.id}.
        No region when the filter names two, or one not served here, or a
        malformed id: nothing can match it.
        """
        ours = {mixin.identifier: region for region, mixin in mixins.items()}
        named = {ours[c] for c in filter.categories if c in ours}
        attributes = dict(filter.attributes)
        asked = attributes.pop(REGION_ATTRIBUTE, None)
        if asked is not None:
            named.add(str(asked))
        if "occi.core.id" in attributes:
            try:
                attributes["occi.core.id"], region = self.split(str(attributes["occi.core.id"]))
            except NotFound:
                return (), filter
            named.add(region)
        plain = dataclasses.replace(
            filter, attributes=attributes,
            categories=tuple(c for c in filter.categories if c not in ours))
        if len(named) > 1 or not named <= set(self.served):
            return (), plain
        return tuple(named) or self.served, plain

    def only_region(self, named: dict[str, str]) -> str | None:
        """
        The one region that the C{named} (what names it: its region) agree on,
        or C{None} when nothing names one.

        @raise BadRequest: two of them name different regions.
        """
        regions = set(named.values())
        if len(regions) > 1:
            parts = ", ".join(f"{what} is in {region}" for what, region in named.items())
            raise BadRequest(f"one request cannot span regions: {parts}")
        return regions.pop() if regions else None


def qualified(entity: Entity, regions: RegionMap, region: str, mixin: Mixin) -> Entity:
    """
    C{entity} as a collection of C{region} answered it, with its id, links
    and ends in the form clients see, and C{mixin} (the region's) and
    L{REGION_ATTRIBUTE}: every entity of a region carries them, resources
    (snapshots too) and links alike.  C{entity} itself is left as it was.
    """
    changes: dict = {"id": regions.qualify(entity.id, region),
                     "mixins": [*entity.mixins, mixin],
                     "attributes": {**entity.attributes, REGION_ATTRIBUTE: region}}
    if isinstance(entity, Link):
        changes["source"] = regions.qualify_path(entity.source, region)
        changes["target"] = regions.qualify_path(entity.target, region)
    if isinstance(entity, Resource):
        changes["links"] = [qualified(link, regions, region, mixin) for link in entity.links]
    return dataclasses.replace(entity, **changes)


def merged_catalog(catalogs: Sequence[tuple[str, Catalog]], regions: Sequence[str],
                   public_host: str) -> Catalog:
    """
    One catalog of the C{catalogs} of several regions (region, catalog; the
    default region first): the first one, then the templates the others
    add (one mixin per identifier: an instance type offered in two regions
    is one resource_tpl), the L{REGION} parent and one mixin per region of
    C{regions}, every one served, its catalogue loaded or not (a create
    naming a region whose catalogue failed to load is then told the region
    is unavailable, not that its mixin is unknown).
    """
    first = catalogs[0][1]
    seen = {mixin.identifier for mixin in first.mixins}
    added: list[Mixin] = [REGION, *(region_mixin(region, public_host) for region in regions)]
    for _, catalog in catalogs[1:]:
        for mixin in catalog.mixins:
            if mixin.identifier not in seen:
                seen.add(mixin.identifier)
                added.append(mixin)
    digest = hashlib.sha256("\0".join(f"{region}={catalog.version}"
                                      for region, catalog in catalogs).encode())
    return first.extended(added, version=digest.hexdigest()[:16])
