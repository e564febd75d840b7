"""
A reader of JSON answers that behaves like rOCCI-core 4.3's (C{Occi::Parser::Json}
building an C{Occi::Collection}), written from its observable rules, for
tests that must show rOCCI-cli 4.3 can read what occid sends it.

The rules it applies, each a failure rOCCI-core 4.3 would raise:

  - the body is a JSON object, read as a collection: C{kinds}, C{mixins},
    C{actions}, C{resources}, C{links}; any other key is ignored (so a 1.2
    entity object, which has none of them, reads as nothing);
  - a category is an object (a string in C{kinds}/C{mixins}/C{actions},
    as in a 1.2 entity's C{mixins}, is "undefined method 'scheme'") and
    needs a scheme and a term; its attribute definitions are
    nested objects whose leaves hold only simple property values (an
    object under C{pattern} is "Hash must be a hash-like structure!");
    property types are string, number or boolean; a kind's or mixin's
    location, once reduced to its path, ends with C{/};
  - entity attributes are nested objects whose leaves are strings,
    numbers, booleans or null; flat dotted keys are looked up part by part,
    so C{occi.core.id} in a flat object is "Attribute with key occi not
    found"; an entity without C{occi.core.id} is dropped;
  - a kind, mixin, action or link rel is a C{scheme#term} string;
  - inside a resource a link is a location string or a link object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PROPERTY_KEYS = ("type", "required", "mutable", "default", "description", "pattern")
TYPES = ("string", "number", "boolean")


class ParseError(Exception):
    """What rOCCI-core 4.3 would raise, with its message where it has one."""


@dataclass
class Category:
    """A parsed kind, mixin or action."""

    cls: str
    scheme: str
    term: str
    title: str | None
    location: str | None
    related: list[str]
    actions: list[str]
    attributes: dict[str, dict[str, Any]]

    @property
    def identifier(self) -> str:
        return self.scheme + self.term


@dataclass
class Entity:
    """A parsed resource or link; C{attributes} by their dotted names."""

    kind: str
    mixins: list[str]
    actions: list[str]
    attributes: dict[str, Any]
    links: list[Entity] = field(default_factory=list)
    rel: str | None = None
    source: str | None = None
    target: str | None = None

    @property
    def id(self) -> Any:
        return self.attributes["occi.core.id"]


@dataclass
class Collection:
    """What the body held."""

    kinds: list[Category] = field(default_factory=list)
    mixins: list[Category] = field(default_factory=list)
    actions: list[Category] = field(default_factory=list)
    resources: list[Entity] = field(default_factory=list)
    links: list[Entity] = field(default_factory=list)

    def category(self, identifier: str) -> Category:
        """The category of C{identifier} (rOCCI's C{get_by_id})."""
        for category in self.kinds + self.mixins + self.actions:
            if category.identifier == identifier:
                return category
        raise ParseError(f"Category {identifier} not found in the model")


def _contains_properties(value: object) -> bool:
    """rOCCI's C{Properties.contains_props?}."""
    if not isinstance(value, dict):
        return False
    found = {k.lower(): v for k, v in value.items() if k.lower() in PROPERTY_KEYS}
    return bool(found) and not any(isinstance(v, dict) for v in found.values())


def _definitions(value: object, prefix: str = "") -> dict[str, dict[str, Any]]:
    """rOCCI's C{Attributes.parse_properties}, flattened to dotted names."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError("Hash must be a hash-like structure!")
    found: dict[str, dict[str, Any]] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else key
        if _contains_properties(item):
            properties = {k.lower(): v for k, v in item.items() if k.lower() in PROPERTY_KEYS}
            if properties.get("type", "string") not in TYPES:
                raise ParseError(f"Type {properties['type']!r} unsupported in properties")
            if not isinstance(properties.get("pattern", ".*"), str):
                raise ParseError(f"pattern of {name} is not a string")
            found[name] = properties
        else:
            found.update(_definitions(item, name))
    return found


def _string(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ParseError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _identifier(value: object, what: str) -> str:
    value = _string(value, what)
    scheme, _, term = value.partition("#")
    if not scheme or not term:
        raise ParseError(f"{what} {value!r} is not scheme#term")
    return value


def _identifiers(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{what} must be a list")
    return [_identifier(v, what) for v in value]


def _category(cls: str, data: object) -> Category:
    if not isinstance(data, dict):
        raise ParseError(f"undefined method `scheme' for {type(data).__name__} (a {cls})")
    scheme = _string(data.get("scheme"), "scheme")
    term = _string(data.get("term"), "term")
    if not scheme.endswith("#"):
        scheme += "#"
    location = data.get("location")
    if location is not None:
        path = urlsplit(_string(location, "location")).path
        if cls != "action" and not (path.startswith("/") and path.endswith("/")
                                    and len(path) > 2 and " " not in path):
            raise ParseError(f"{cls.capitalize()} locations must end with a slash!")
        location = path
    related = data.get("related") if cls == "kind" else data.get("depends", data.get("related"))
    return Category(
        cls=cls, scheme=scheme, term=term, title=data.get("title"), location=location,
        related=_identifiers(related, "related"),
        actions=_identifiers(data.get("actions"), "actions"),
        attributes=_definitions(data.get("attributes")),
    )


def _values(value: object, prefix: str = "") -> dict[str, Any]:
    """rOCCI's C{Attributes.new} of nested values, read back as C{names}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError("Source_hash must be a hash-like structure!")
    found: dict[str, Any] = {}
    for key, item in value.items():
        if key.startswith("_"):
            raise ParseError(f'Attribute names (as in "{key}") must not begin with underscores')
        if "." in key:
            raise ParseError(f"Attribute with key {key.split('.')[0]} not found")
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(item, dict):
            found.update(_values(item, name))
        elif item is None or isinstance(item, (str, int, float, bool)):
            if item is not None:
                found[name] = item
        else:
            raise ParseError(f"Value {item!r} of type {type(item).__name__} not supported")
    return found


def _entity(data: object, link: bool) -> Entity | None:
    if not isinstance(data, dict):
        raise ParseError("an entity must be an object")
    entity = Entity(
        kind=_identifier(data.get("kind"), "kind"),
        mixins=_identifiers(data.get("mixins"), "mixins"),
        actions=_identifiers(data.get("actions"), "actions"),
        attributes=_values(data.get("attributes")),
    )
    if link:
        rel = data.get("rel")
        entity.rel = None if rel is None else _identifier(rel, "rel")
        entity.target = data.get("target") or entity.attributes.get("occi.core.target")
        entity.source = data.get("source") or entity.attributes.get("occi.core.source")
        _string(entity.target, "target")
    else:
        for item in data.get("links") or []:
            if isinstance(item, str):
                entity.links.append(Entity(kind="http://schemas.ogf.org/occi/core#link",
                                           mixins=[], actions=[],
                                           attributes={"occi.core.id": item.rsplit("/", 1)[-1]}))
            else:
                inner = _entity(item, link=True)
                if inner is not None:
                    entity.links.append(inner)
    if not entity.attributes.get("occi.core.id"):
        return None  # rOCCI-core 4 drops an entity without an id
    return entity


def parse(body: bytes | str) -> Collection:
    """
    A JSON answer as rOCCI-core 4.3 reads it.

    @raise ParseError: rOCCI-core 4.3 would fail on it.
    """
    try:
        data = json.loads(body)
    except ValueError as e:
        raise ParseError(f"Failed to parse JSON input: {e}") from None
    if not isinstance(data, dict):
        raise ParseError("the body is not a collection")
    collection = Collection()
    for cls in ("kind", "mixin", "action"):
        items = data.get(cls + "s") or []
        if not isinstance(items, list):
            raise ParseError(f"{cls}s must be a list")
        getattr(collection, cls + "s").extend(_category(cls, item) for item in items)
    for key, link in (("resources", False), ("links", True)):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ParseError(f"{key} must be a list")
        parsed = [_entity(item, link) for item in items]
        getattr(collection, key).extend(e for e in parsed if e is not None)
    return collection
