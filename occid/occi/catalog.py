# -*- test-case-name: tests.test_occi_catalog -*-
"""
The categories one account offers, indexed for the web layer and the
resolver: the static OCCI categories of L{occid.occi.infrastructure} plus
that account's template mixins (os_tpl, resource_tpl, availability_zone),
and for one principal the user-defined mixins it sees (L{Catalog.extended},
L{occid.occi.usermixins.with_user_mixins}).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from zope.interface import implementer

from occid.interfaces import ICatalog
from occid.occi import infrastructure
from occid.occi.model import Action, Category, Kind, Mixin


@implementer(ICatalog)
class Catalog:
    """
    An immutable set of categories.  Building it is linear in the number of
    templates (a few dictionary inserts each).

    @ivar version: changes whenever the categories change; renderings of the
        query interface are cached by it.
    """

    __slots__ = (
        "_by_identifier",
        "_kinds_at",
        "_mixins_at",
        "_withheld",
        "actions",
        "kinds",
        "mixins",
        "version",
    )

    version: str
    kinds: tuple[Kind, ...]
    mixins: tuple[Mixin, ...]
    actions: tuple[Action, ...]
    _by_identifier: dict[str, Category]
    _kinds_at: dict[str, Kind]
    _mixins_at: dict[str, Mixin]
    _withheld: tuple[Action, ...]

    def __init__(self, templates: Iterable[Mixin] = (), version: str = "static",
                 kinds: Iterable[Kind] = (), withheld: tuple[Action, ...] = ()):
        """
        @param templates: extra mixins, after the static ones, in the order
            the query interface lists them.
        @param kinds: extra kinds (a backend's own), after the core's.
        @param withheld: static actions this catalog does not offer: they are
            left out of its actions and of its kinds' actions.
        @raise ValueError: two categories share an identifier or a location.
        """
        set_ = object.__setattr__
        set_(self, "version", version)
        set_(self, "_withheld", withheld)
        set_(self, "kinds", tuple(
            replace(kind, actions=tuple(a for a in kind.actions if a not in withheld))
            if set(kind.actions) & set(withheld) else kind
            for kind in infrastructure.KINDS + tuple(kinds)))
        set_(self, "mixins", infrastructure.MIXINS + tuple(templates))
        set_(self, "actions", tuple(a for a in infrastructure.ACTIONS if a not in withheld))
        by_identifier: dict[str, Category] = {}
        kinds_at: dict[str, Kind] = {}
        mixins_at: dict[str, Mixin] = {}
        for category in self.kinds + self.mixins + self.actions:
            if by_identifier.setdefault(category.identifier, category) is not category:
                raise ValueError(f"two categories are {category.identifier}")
            if category.location is None:
                continue
            if category.location in kinds_at or category.location in mixins_at:
                raise ValueError(f"two categories live at {category.location}")
            if isinstance(category, Kind):
                kinds_at[category.location] = category
            elif isinstance(category, Mixin):
                mixins_at[category.location] = category
            else:
                raise ValueError(f"the action {category.identifier} has a location")
        set_(self, "_by_identifier", by_identifier)
        set_(self, "_kinds_at", kinds_at)
        set_(self, "_mixins_at", mixins_at)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Catalog is immutable; cannot set {name}")

    def __repr__(self) -> str:
        return f"<Catalog {self.version} with {len(self.mixins)} mixins>"

    def extended(self, mixins: Iterable[Mixin], version: str) -> Catalog:
        """
        This catalog plus C{mixins} after its own (user-defined mixins),
        as a new catalog with C{version}.

        @raise ValueError: one of C{mixins} shares an identifier or a
            location with a category here.
        """
        own = self.mixins[len(infrastructure.MIXINS):]
        return Catalog(own + tuple(mixins), version=version,
                       kinds=self.kinds[len(infrastructure.KINDS):], withheld=self._withheld)

    def lookup(self, identifier: str) -> Category | None:
        """The category whose C{scheme + term} is C{identifier}, if any."""
        return self._by_identifier.get(identifier)

    def kind_at(self, location: str) -> Kind | None:
        """The kind bound to collection path C{location}, if any."""
        return self._kinds_at.get(location)

    def mixin_at(self, location: str) -> Mixin | None:
        """The mixin bound to collection path C{location}, if any."""
        return self._mixins_at.get(location)
