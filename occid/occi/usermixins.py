# -*- test-case-name: tests.test_occi_usermixins -*-
"""
User-defined mixins (GFD.185, GFD.223: C{POST /-/} with a mixin category
of the user's own defines one; its location is then a collection of
entities tagged with it).  The naming rules, what a request body asks for,
and the catalogue a principal sees with them.  Pure: no Twisted, no boto3.

Rules (docs/state.md says why):
  - the location is C{/mixin/user/<name>/}, C{<name>} a term of at most
    L{NAME_LIMIT} characters; a definition without a location gets
    C{/mixin/user/<term>/}.  No kind, template or static mixin of occid
    lives under C{/mixin/user/}, now or later;
  - the scheme is the user's own: never one of the catalogue's (a kind's,
    an action's, a static or EC2 mixin's, a template's), never under
    C{http://schemas.ogf.org/}, never a template scheme (one ending in
    C{/os_tpl#}, C{/resource_tpl#} or C{/availability_zone#}, which EC2
    may offer tomorrow);
  - C{scheme + term} fits in an EC2 tag value (L{IDENTIFIER_LIMIT}), and
    no two definitions of one account share it or a location, whatever
    their VO (the stores check that, since other VOs' definitions are not
    in the principal's catalogue);
  - a user mixin carries no attributes, actions or C{rel}, and applies to
    computes, storages and networks (L{APPLIES}).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from occid.interfaces import ICatalog
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Category, CategoryRef, Document, Kind, Mixin
from occid.occi.resolve import path_of

#: Where every user mixin lives: C{/mixin/user/<name>/}.
LOCATION_PREFIX = "/mixin/user/"

#: The longest C{<name>} of a location.
NAME_LIMIT = 64

#: The longest C{scheme + term} (an EC2 tag value holds 256 characters).
IDENTIFIER_LIMIT = 256

#: The longest title kept.
TITLE_LIMIT = 256

#: The kinds a user mixin may be associated with.
APPLIES = (infra.COMPUTE, infra.STORAGE, infra.NETWORK)

#: Schemes no user may take: OGF's and the templates'.
RESERVED_PREFIXES = ("http://schemas.ogf.org/", "https://schemas.ogf.org/")
TEMPLATE_SUFFIXES = ("/os_tpl#", "/resource_tpl#", "/availability_zone#")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@dataclass(frozen=True)
class Definition:
    """
    One user mixin as its account keeps it.

    @ivar owner: the owner hash of the principal that defined it.
    @ivar vo: its VO (the binding's C{vo}), for VO visibility.
    @ivar created: when it was defined, an ISO 8601 UTC string; the older
        of two clashing definitions (a race between processes) wins.
    """

    mixin: Mixin
    owner: str
    vo: str
    created: str = ""

    @property
    def name(self) -> str:
        """The C{<name>} of its location."""
        return name_of(self.mixin)


def name_of(mixin: Mixin) -> str:
    """The C{<name>} of a user mixin's location C{/mixin/user/<name>/}."""
    assert mixin.location is not None
    return mixin.location[len(LOCATION_PREFIX):-1]


def is_user_location(location: str | None) -> bool:
    """Whether C{location} is in the user mixins' space."""
    return bool(location) and str(location).startswith(LOCATION_PREFIX)


def user_mixin(term: str, scheme: str, title: str, location: str) -> Mixin:
    """The L{Mixin} of a user definition."""
    return Mixin(term=term, scheme=scheme, title=title, location=location, applies=APPLIES)


def _the_mixin(document: Document) -> CategoryRef:
    """The single mixin category a C{/-/} request names."""
    if len(document.categories) != 1:
        raise BadRequest(
            f"name exactly one mixin category, not {len(document.categories)}")
    ref = document.categories[0]
    if ref.cls != "mixin":
        raise BadRequest(f"only mixins can be defined or removed, not a {ref.cls}")
    return ref


def definition_request(document: Document) -> Mixin:
    """
    The mixin a C{POST /-/} defines.

    @raise BadRequest: not one mixin; attributes, actions or C{rel}; a
        location outside C{/mixin/user/<name>/}; an identifier too long.
    """
    ref = _the_mixin(document)
    if ref.attributes or ref.actions or ref.rel or document.attributes or document.links:
        raise BadRequest("a user mixin has no attributes, actions or rel; "
                         "give only term, scheme, class, title and location")
    if len(ref.identifier) > IDENTIFIER_LIMIT:
        raise BadRequest(f"scheme and term of a user mixin are at most {IDENTIFIER_LIMIT} "
                         f"characters together, not {len(ref.identifier)}")
    location = path_of(ref.location) if ref.location else f"{LOCATION_PREFIX}{ref.term}/"
    name = location[len(LOCATION_PREFIX):-1] if location.startswith(LOCATION_PREFIX) else ""
    if not location.endswith("/") or not _NAME.match(name) or len(name) > NAME_LIMIT:
        raise BadRequest(
            f"a user mixin lives at {LOCATION_PREFIX}<name>/ with a name of letters, digits, "
            f"'.', '_' and '-' (at most {NAME_LIMIT}), not at {location}; "
            "leave location out to get one from the term")
    title = (ref.title or "")[:TITLE_LIMIT]
    return user_mixin(ref.term, ref.scheme, title, location)


def check_clash(mixin: Mixin, catalog: ICatalog) -> None:
    """
    @raise Conflict: C{mixin} would shadow what C{catalog} offers (a kind,
        an action, a static, EC2 or template mixin, or a mixin defined
        already), or takes a scheme or location of occid's.
    """
    scheme = mixin.scheme
    if scheme.startswith(RESERVED_PREFIXES) or scheme.endswith(TEMPLATE_SUFFIXES):
        raise Conflict(f"the scheme {scheme} is reserved for OGF's and occid's categories; "
                       "use a scheme of your own, such as https://your.vo.example/occi#")
    existing = catalog.lookup(mixin.identifier)
    if existing is not None:
        what = "user mixin" if is_user_location(existing.location) else existing.category_class
        raise Conflict(f"{mixin.identifier} is already a {what} of this account")
    for category in catalog.kinds + catalog.mixins + catalog.actions:
        if is_user_location(category.location):
            continue
        if category.scheme == scheme:
            raise Conflict(f"the scheme {scheme} is occid's ({category.category_class} "
                           f"{category.identifier}); use a scheme of your own")
    location = mixin.location or ""
    if catalog.kind_at(location) or catalog.mixin_at(location):
        raise Conflict(f"{location} is taken by another category of this account")


def check_unique(mixin: Mixin, definitions: Iterable[Definition]) -> None:
    """
    @raise Conflict: an existing definition of the account (any VO's) has
        C{mixin}'s identifier or location.
    """
    for known in definitions:
        if known.mixin.identifier == mixin.identifier:
            raise Conflict(f"the mixin {mixin.identifier} is defined already in this account")
        if known.mixin.location == mixin.location:
            raise Conflict(f"{mixin.location} is taken by another user mixin in this account")


def removal_request(document: Document, catalog: ICatalog) -> Mixin:
    """
    The user mixin a C{DELETE /-/} removes.

    @raise BadRequest: not one mixin category.
    @raise Forbidden: a mixin occid offers (not a user's).
    @raise NotFound: no such mixin visible here.
    """
    ref = _the_mixin(document)
    found = catalog.lookup(ref.identifier)
    if not isinstance(found, Mixin):
        raise NotFound(f"no mixin {ref.identifier} here")
    if not is_user_location(found.location):
        raise Forbidden(f"{ref.identifier} is a mixin of occid's, not a user mixin; "
                        "it cannot be removed")
    return found


def targets(document: Document, catalog: ICatalog, mixin: Mixin,
            allow_empty: bool = False) -> list[tuple[Kind, str]]:
    """
    The entities a request to a mixin's location names (C{X-OCCI-Location}
    lines, a uri-list, JSON C{locations}), as C{(kind, id)} in order,
    without repeats.

    @raise BadRequest: none named (unless C{allow_empty}), or one that is
        no entity location, or of a kind C{mixin} does not apply to.
    """
    found: list[tuple[Kind, str]] = []
    for location in document.locations:
        path = path_of(location)
        parent, _, id = path.rpartition("/")
        kind = catalog.kind_at(parent + "/") if id else None
        if kind is None:
            raise BadRequest(f"{location} is not the location of an entity")
        if not mixin.applies_to(kind):
            raise BadRequest(f"{mixin.identifier} cannot be applied to a {kind.term} ({location})")
        if (kind, id) not in found:
            found.append((kind, id))
    if not found and not allow_empty:
        raise BadRequest("name the entities: X-OCCI-Location lines, a text/uri-list body "
                         "or JSON {\"locations\": [...]}")
    return found


def with_user_mixins(base: Catalog, mixins: Sequence[Mixin]) -> Catalog:
    """
    C{base} plus C{mixins} (ordered by identifier), with a version of its
    own; a user mixin that clashes with C{base} is left out rather than
    breaking the catalogue.
    """
    if not mixins:
        return base
    kept: list[Mixin] = []
    for mixin in sorted(mixins, key=lambda m: m.identifier):
        location = mixin.location or ""
        if (base.lookup(mixin.identifier) is None and not base.mixin_at(location)
                and all(k.identifier != mixin.identifier and k.location != location
                        for k in kept)):
            kept.append(mixin)
    digest = hashlib.sha256(base.version.encode())
    for mixin in kept:
        digest.update(f"\0{mixin.identifier}\0{mixin.title}\0{mixin.location}".encode())
    return base.extended(kept, version=f"{base.version}+u{digest.hexdigest()[:12]}")


def visible(definitions: Iterable[Definition], sees) -> list[Mixin]:
    """The mixins of the C{definitions} for which C{sees(owner, vo)} holds."""
    return [d.mixin for d in definitions if sees(d.owner, d.vo)]


def user_mixins_of(categories: Iterable[Category]) -> list[Mixin]:
    """The user mixins among C{categories}."""
    return [c for c in categories if isinstance(c, Mixin) and is_user_location(c.location)]
