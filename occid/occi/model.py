# -*- test-case-name: tests.test_occi_model -*-
"""
The OCCI core model (GFD.221): categories, and entity instances.

Categories (L{Kind}, L{Mixin}, L{Action}) are immutable and compared by their
identifier, C{scheme + term}.  Entities (L{Resource}, L{Link}) are plain
mutable records that providers build and renderers read; they hold values
only, never behaviour.

A request body is first parsed, independently of any catalogue, into a
L{Document} (what the client wrote: category references, attributes, links,
locations); L{occid.occi.resolve} then checks it against the principal's
catalogue and builds entities or changes from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Attribute value types, as GFD.225 names them, plus "integer" for values
#: OCCI 1.1 renders without a decimal point (cores, vlan).
ATTRIBUTE_TYPES = ("string", "number", "integer", "boolean")

#: Python types an attribute value may have, by attribute type.
AttributeValue = str | int | float | bool


@dataclass(frozen=True, kw_only=True)
class Attribute:
    """
    The definition of one attribute (GFD.221, "Attribute" table).

    @ivar enum: the allowed values of a string attribute, or empty for any.
    """

    name: str
    type: str = "string"
    mutable: bool = True
    required: bool = False
    pattern: str | None = None
    default: AttributeValue | None = None
    description: str = ""
    enum: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ATTRIBUTE_TYPES:
            raise ValueError(f"unknown attribute type {self.type!r}")


@dataclass(frozen=True, kw_only=True, eq=False)
class Category:
    """
    A type identifier: C{scheme} ends with C{#}; C{location} is a path ending
    with C{/}, or C{None} for categories not bound to the URL space.
    """

    term: str
    scheme: str
    title: str = ""
    attributes: tuple[Attribute, ...] = ()
    location: str | None = None

    #: "kind", "mixin" or "action", as rendered in C{class=}.
    category_class = "category"

    @property
    def identifier(self) -> str:
        """The category's identity: scheme followed by term."""
        return self.scheme + self.term

    def all_attributes(self) -> tuple[Attribute, ...]:
        """The attributes this category defines; a kind adds its ancestors' first."""
        return self.attributes

    def attribute(self, name: str) -> Attribute | None:
        """The definition of attribute C{name} on this category, if any."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Category):
            return NotImplemented
        return (
            self.category_class == other.category_class
            and self.identifier == other.identifier
        )

    def __hash__(self) -> int:
        return hash((self.category_class, self.identifier))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identifier}>"


@dataclass(frozen=True, kw_only=True, eq=False)
class Action(Category):
    """An operation on entities; its attributes are its parameters."""

    category_class = "action"


@dataclass(frozen=True, kw_only=True, eq=False)
class Kind(Category):
    """The type of an entity; C{parent} is the kind it specialises."""

    parent: Kind | None = None
    actions: tuple[Action, ...] = ()

    category_class = "kind"

    def all_attributes(self) -> tuple[Attribute, ...]:
        """This kind's attributes after those of its ancestors."""
        inherited = self.parent.all_attributes() if self.parent else ()
        return inherited + self.attributes

    def is_a(self, other: Kind) -> bool:
        """Whether this kind is C{other} or one of its descendants."""
        kind: Kind | None = self
        while kind is not None:
            if kind == other:
                return True
            kind = kind.parent
        return False


@dataclass(frozen=True, kw_only=True, eq=False)
class Mixin(Category):
    """
    Extra capabilities for entities.  C{depends} are the mixins it builds on
    (the first one is rendered as C{rel}); C{applies} are the kinds it may be
    associated with (empty: any).
    """

    depends: tuple[Mixin, ...] = ()
    applies: tuple[Kind, ...] = ()
    actions: tuple[Action, ...] = ()

    category_class = "mixin"

    def depends_on(self, other: Mixin) -> bool:
        """Whether C{other} is among this mixin's transitive dependencies."""
        return any(m == other or m.depends_on(other) for m in self.depends)

    def applies_to(self, kind: Kind) -> bool:
        """Whether this mixin may be associated with entities of C{kind}."""
        return not self.applies or any(kind.is_a(k) for k in self.applies)


@dataclass(kw_only=True)
class Entity:
    """
    An entity instance.

    @ivar id: the provider's id, unique within the kind (an EC2 id for
        resources); the entity lives at C{kind.location + id}.
    @ivar attributes: attribute name to value, C{occi.core.id} excluded
        (it is C{id}); C{occi.core.title} and the kind's and mixins'
        attributes are here.  A value of C{None} is never stored: absent means
        not set.
    @ivar actions: the actions applicable in the entity's current state, in
        the order they are rendered.
    """

    kind: Kind
    id: str
    mixins: list[Mixin] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)

    @property
    def location(self) -> str:
        """The absolute path of this entity."""
        assert self.kind.location is not None, self.kind
        return self.kind.location + self.id

    @property
    def title(self) -> str | None:
        """C{occi.core.title}, if set."""
        title = self.attributes.get("occi.core.title")
        return None if title is None else str(title)


@dataclass(kw_only=True)
class Resource(Entity):
    """A resource: an entity with links to other resources."""

    links: list[Link] = field(default_factory=list)


@dataclass(kw_only=True)
class Link(Entity):
    """
    A link between two resources.  C{source} and C{target} are absolute paths
    (C{/compute/i-…}, C{/network/public}); C{target_kind} is the kind of the
    target, rendered as the link's C{rel}.
    """

    source: str
    target: str
    source_kind: Kind | None = None
    target_kind: Kind | None = None


@dataclass(frozen=True, kw_only=True)
class CategoryRef:
    """
    A category as written in a request or a rendering, not yet resolved
    against a catalogue.  C{cls} is the C{class=} value.  The optional fields
    are only present in query-interface renderings.
    """

    term: str
    scheme: str
    cls: str
    title: str | None = None
    rel: tuple[str, ...] = ()
    location: str | None = None
    attributes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()

    @property
    def identifier(self) -> str:
        """The identifier the reference names: scheme followed by term."""
        return self.scheme + self.term


@dataclass(kw_only=True)
class LinkRef:
    """
    A link as written in a request or a rendering.  C{rel} holds the target
    kind identifiers, C{categories} the link's kind and mixin identifiers
    (the C{category=} parameter), C{self_location} the link's own location.
    An action link has C{rel} = the action identifier and no categories.
    """

    target: str
    rel: tuple[str, ...] = ()
    self_location: str | None = None
    categories: tuple[str, ...] = ()
    attributes: dict[str, AttributeValue] = field(default_factory=dict)


@dataclass(kw_only=True)
class Document:
    """
    Everything a request body (or a rendering read back) said, in order:
    category references, attributes, links and locations.  Parsers fill it;
    L{occid.occi.resolve} interprets it.
    """

    categories: list[CategoryRef] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    links: list[LinkRef] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class EntityFilter:
    """
    What a collection listing is restricted to: entities having every
    category in C{categories} (kind or mixin identifiers) and every
    attribute value in C{attributes}.  Empty: everything.  C{owned_only}
    further restricts it to entities the principal owns (a collection
    delete removes only those, whatever the visibility); providers apply it.
    """

    categories: tuple[str, ...] = ()
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    owned_only: bool = False

    def matches(self, entity: Entity) -> bool:
        """Whether C{entity} passes this filter."""
        held = {entity.kind.identifier} | {m.identifier for m in entity.mixins}
        if not set(self.categories) <= held:
            return False
        values = dict(entity.attributes, **{"occi.core.id": entity.id})
        return all(
            str(values.get(name)) == str(value)
            for name, value in self.attributes.items()
        )


@dataclass(kw_only=True)
class Changes:
    """
    An update of one entity: mixins to associate (a template replaces the
    one of the same parent), and attribute values to set.  C{replace} is true
    for a full update (PUT), which also removes unnamed non-template mixins.
    """

    mixins: list[Mixin] = field(default_factory=list)
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    replace: bool = False
