# -*- test-case-name: tests.test_web_root,tests.test_web_status -*-
"""
The URL space of one account, and pagination of listings.

The URL space depends on the account (its templates live under
C{/mixin/}), so a path is routed against the account's catalog (L{route})
rather than through a static C{putChild} tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from occid.interfaces import ICatalog
from occid.occi.errors import BadRequest, NotFound, PayloadTooLarge
from occid.occi.model import Kind, Mixin

#: The root of the name-space: its hierarchy, the kind collections.
ROOT_PATH = "/"

#: The two paths of the query interface (GFD.185: byte-identical).
QUERY_PATHS = ("/-/", "/.well-known/org/ogf/occi/-/")

#: The largest page a client may ask for (GFD.223 pagination: 413 above).
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """
    Where a path leads in one account's URL space.

    @ivar target: C{"root"} (the name-space hierarchy), C{"query"},
        C{"kind"} (a kind collection), C{"entity"} or C{"mixin"} (a mixin
        collection).
    @ivar category: the kind or mixin of the collection or entity.
    @ivar id: the entity id, for C{"entity"}.
    """

    target: str
    category: Kind | Mixin | None = None
    id: str = ""


def route(catalog: ICatalog, path: str) -> Route:
    """
    Find what C{path} names in the URL space of C{catalog}'s account.

    @raise NotFound: nothing lives there.
    """
    if path == ROOT_PATH:
        return Route("root")
    if path in QUERY_PATHS:
        return Route("query")
    kind = catalog.kind_at(path)
    if kind is not None:
        return Route("kind", kind)
    mixin = catalog.mixin_at(path)
    if mixin is not None:
        return Route("mixin", mixin)
    parent, _, id = path.rpartition("/")
    kind = catalog.kind_at(parent + "/") if id else None
    if kind is not None:
        return Route("entity", kind, id)
    raise NotFound(f"nothing lives at {path}; the query interface /-/ lists the collections")


@dataclass(frozen=True)
class Page:
    """
    The part of a listing a client asked for with C{?page=N&number=M}.

    @ivar number: the 1-based page.
    @ivar size: the page size, or C{None} for the whole listing.
    """

    number: int = 1
    size: int | None = None

    def of(self, items: Sequence[T]) -> Sequence[T]:
        """The items of this page."""
        if self.size is None:
            return items
        return items[(self.number - 1) * self.size: self.number * self.size]


def page(args: dict[bytes, list[bytes]]) -> Page:
    """
    The page a listing's query arguments ask for.

    @raise BadRequest: not positive integers.
    @raise PayloadTooLarge: a page size over L{MAX_PAGE_SIZE}.
    """
    values = {}
    for name in (b"page", b"number"):
        if name in args:
            try:
                values[name] = int(args[name][-1])
            except ValueError:
                values[name] = 0
            if values[name] < 1:
                raise BadRequest(f"{name.decode()} must be a positive integer")
    number = values.get(b"number")
    if number is not None and number > MAX_PAGE_SIZE:
        raise PayloadTooLarge(
            f"page size {number} is over {MAX_PAGE_SIZE}; ask for smaller pages"
        )
    if b"page" in values and number is None:
        number = MAX_PAGE_SIZE
    return Page(values.get(b"page", 1), number)
