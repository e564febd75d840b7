# -*- test-case-name: tests.test_occi_legacyjson -*-
"""
The pre-1.2 JSON of rOCCI-core 4 (what rOCCI-server 1.1 answered and what
rOCCI-cli 4.3 reads), for clients that announce C{OCCI/1.1}.

rOCCI-core 4 builds its own object model from the JSON, so the shapes below
are what it needs, not what GFD.225 says:

  - everything is a collection: C{{"kinds": […], "mixins": […],
    "actions": […]}} for the query interface, C{{"resources": […]}} and/or
    C{{"links": […]}} for entities; one entity is a collection of one;
  - attribute names are nested objects (C{{"occi": {"core": {"id": …}}}}),
    and an entity's C{occi.core.id} is inside them (rOCCI reads the id from
    there and drops an entity without one);
  - categories of an entity are C{scheme + term} strings (C{"kind"},
    C{"mixins"}, C{"actions"});
  - a category in the model has C{scheme}, C{term}, C{title}, C{location}
    (a path ending in C{/}: rOCCI keeps only the path and checks the slash),
    C{related} (a kind's parent; a mixin's C{depends}) and attribute
    definitions nested like values, each leaf
    C{{"type", "required", "mutable", "pattern", "default", "description"}}
    with C{type} one of string, number, boolean and C{pattern} a regular
    expression I{string} (an object there makes rOCCI fail with "Hash must
    be a hash-like structure!");
  - a link carries C{rel} (its target's kind) and C{source} / C{target} as
    plain location strings, besides C{occi.core.source} / C{.target} in its
    attributes.

A nested object cannot hold both C{occi.compute.state} and
C{occi.compute.state.message}: rOCCI would replace the state by an object.
So the OCCI 1.2 attributes that extend another attribute's name
(C{*.state.message}, C{occi.core.source.kind}, C{occi.core.target.kind}),
and generally any attribute whose name extends another present one, are
left out, in definitions and values alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from occid.interfaces import ICatalog
from occid.occi import jsonrender
from occid.occi.errors import OCCIError
from occid.occi.grammar import absolute
from occid.occi.model import (
    Attribute,
    AttributeValue,
    Category,
    Entity,
    Kind,
    Link,
    Mixin,
    Resource,
)
from occid.occi.negotiation import OCCIVersion, speaks
from occid.occi.rendering import Rendered, Renderer

#: A JSON object as json.dumps writes it.
JsonObject = dict[str, Any]

#: The media types this rendering is offered under.
MEDIA_TYPES = ("application/occi+json", "application/json")

#: The kind a link's C{rel} names when its target's kind is unknown.
RESOURCE_KIND = "http://schemas.ogf.org/occi/core#resource"

#: rOCCI-core 4's attribute types, from occid's.
_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}


# -- attributes -------------------------------------------------------------


def legacy_names(names: Iterable[str]) -> list[str]:
    """
    The attribute names of C{names} a nested rendering can hold, in their
    order: without what OCCI 1.2 added (L{speaks}) and without any name that extends
    another name present (C{a.b.c} when C{a.b} is there).
    """
    kept = [n for n in names if speaks(OCCIVersion.V1_1, n)]
    present = set(kept)
    return [
        name for name in kept
        if not any(name[:i] in present for i, c in enumerate(name) if c == ".")
    ]


def nest(flat: Mapping[str, Any]) -> JsonObject:
    """
    Flat dotted names to nested objects (C{legacy_names} first, so no leaf
    is ever replaced by an object or the reverse).
    """
    nested: JsonObject = {}
    for name in legacy_names(flat):
        node = nested
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat[name]
    return nested


def _pattern(attribute: Attribute) -> str:
    """An attribute's C{pattern} as the regular expression string rOCCI wants."""
    if attribute.enum:
        return "(?:" + "|".join(re.escape(v) for v in attribute.enum) + ")"
    if attribute.pattern:
        return attribute.pattern
    if attribute.type == "integer":
        return "-?[0-9]+"
    return ".*"


def attribute_definition(attribute: Attribute) -> JsonObject:
    """One attribute's properties, the rOCCI-core 4 way."""
    definition: JsonObject = {
        "type": _TYPES[attribute.type],
        "required": attribute.required,
        "mutable": attribute.mutable,
        "pattern": _pattern(attribute),
    }
    if attribute.default is not None:
        definition["default"] = attribute.default
    if attribute.description:
        definition["description"] = attribute.description
    return definition


def attribute_definitions(attributes: Sequence[Attribute]) -> JsonObject:
    """A category's attribute definitions, nested by name."""
    return nest({a.name: attribute_definition(a) for a in attributes})


# -- categories -------------------------------------------------------------


def _common(category: Category) -> JsonObject:
    rendered: JsonObject = {"scheme": category.scheme, "term": category.term}
    if category.title:
        rendered["title"] = category.title
    rendered["attributes"] = attribute_definitions(category.all_attributes())
    return rendered


def _identifiers(categories: Iterable[Category]) -> list[str]:
    return [c.identifier for c in categories]


def kind_object(kind: Kind) -> JsonObject:
    """A kind: C{related} / C{parent} name its parent; C{location} is a path."""
    rendered = _common(kind)
    if kind.parent is not None:
        rendered["related"] = [kind.parent.identifier]
        rendered["parent"] = kind.parent.identifier
    if kind.actions:
        rendered["actions"] = _identifiers(kind.actions)
    if kind.location:
        rendered["location"] = kind.location
    return rendered


def mixin_object(mixin: Mixin) -> JsonObject:
    """
    A mixin: C{depends} and C{related} name the mixins it builds on (rOCCI
    finds templates through them), C{applies} the kinds it applies to.
    """
    rendered = _common(mixin)
    if mixin.depends:
        rendered["depends"] = _identifiers(mixin.depends)
        rendered["related"] = _identifiers(mixin.depends)
    if mixin.applies:
        rendered["applies"] = _identifiers(mixin.applies)
    if mixin.actions:
        rendered["actions"] = _identifiers(mixin.actions)
    if mixin.location:
        rendered["location"] = mixin.location
    return rendered


def action_object(action: Category) -> JsonObject:
    """An action: its parameters are its attributes."""
    return _common(action)


def category_object(category: Category) -> JsonObject:
    """A kind, mixin or action."""
    if isinstance(category, Kind):
        return kind_object(category)
    if isinstance(category, Mixin):
        return mixin_object(category)
    return action_object(category)


def model_object(categories: Iterable[Category]) -> JsonObject:
    """The query interface: C{{"kinds": […], "mixins": […], "actions": […]}}."""
    model: JsonObject = {"kinds": [], "mixins": [], "actions": []}
    for category in categories:
        model[category.category_class + "s"].append(category_object(category))
    return model


# -- entities ---------------------------------------------------------------


def _values(entity: Entity, base_url: str) -> dict[str, AttributeValue]:
    values: dict[str, AttributeValue] = {"occi.core.id": entity.id}
    values.update((k, v) for k, v in entity.attributes.items()
                  if v is not None and k != "occi.core.id")
    if isinstance(entity, Link):
        values["occi.core.source"] = absolute(base_url, entity.source)
        values["occi.core.target"] = absolute(base_url, entity.target)
    return values


def _entity(entity: Entity, base_url: str) -> JsonObject:
    rendered: JsonObject = {"kind": entity.kind.identifier}
    if entity.mixins:
        rendered["mixins"] = _identifiers(entity.mixins)
    if entity.actions:
        rendered["actions"] = _identifiers(entity.actions)
    rendered["attributes"] = nest(_values(entity, base_url))
    rendered["id"] = entity.id
    rendered["location"] = absolute(base_url, entity.location)
    return rendered


def link_object(link: Link, base_url: str) -> JsonObject:
    """A link: C{rel} is its target's kind; C{source} / C{target} are strings."""
    rendered = _entity(link, base_url)
    rendered["rel"] = link.target_kind.identifier if link.target_kind else RESOURCE_KIND
    rendered["source"] = absolute(base_url, link.source)
    rendered["target"] = absolute(base_url, link.target)
    return rendered


def resource_object(resource: Resource, base_url: str) -> JsonObject:
    """A resource, its links in full inside it (as rOCCI-core 4.3 writes them)."""
    rendered = _entity(resource, base_url)
    if resource.links:
        rendered["links"] = [link_object(link, base_url) for link in resource.links]
    return rendered


def entity_object(entity: Entity, base_url: str) -> JsonObject:
    """A resource or a link, not yet in its collection."""
    if isinstance(entity, Link):
        return link_object(entity, base_url)
    assert isinstance(entity, Resource), entity
    return resource_object(entity, base_url)


def collection_object(entities: Iterable[Entity], base_url: str) -> JsonObject:
    """
    Entities as a rOCCI collection: resources under C{"resources"}, links
    under C{"links"}; nothing at all is C{{"resources": []}}.
    """
    resources: list[JsonObject] = []
    links: list[JsonObject] = []
    for entity in entities:
        (links if isinstance(entity, Link) else resources).append(
            entity_object(entity, base_url))
    collection: JsonObject = {}
    if resources or not links:
        collection["resources"] = resources
    if links:
        collection["links"] = links
    return collection


# -- the renderer -----------------------------------------------------------


class LegacyJsonRenderer(Renderer):
    """
    rOCCI-core 4's JSON, under the JSON media type the client asked for
    (C{application/occi+json} or C{application/json}).

    Answers: the query interface as a model collection; an entity as a
    collection of one; a listing as a collection; a create as C{Location}
    and C{X-OCCI-Location} headers (rOCCI-api 4 reads a JSON create answer
    from its headers only) with C{{"location": "<url>"}} as the body; a
    success without content as C{{}} (rOCCI's empty collection, what
    rOCCI-server 1.1 sent); an error as C{{"error": {"status", "message"}}}.
    """

    def __init__(self, media_type: str = "application/occi+json") -> None:
        if media_type not in MEDIA_TYPES:
            raise ValueError(f"{media_type} is not a JSON media type")
        super().__init__(OCCIVersion.V1_1)
        self.media_type = media_type

    def _json(self, data: object, headers: tuple[tuple[str, str], ...] = ()) -> Rendered:
        return self._rendered(jsonrender.dumps(data), headers)

    def entity(self, entity: Entity, base_url: str) -> Rendered:
        return self._json(collection_object([entity], base_url))

    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        return self._json(collection_object(entities, base_url))

    def categories(self, catalog_or_categories: ICatalog | Iterable[Category],
                   base_url: str) -> Rendered:
        if isinstance(catalog_or_categories, Iterable):
            categories: Sequence[Category] = tuple(catalog_or_categories)
        else:
            catalog = catalog_or_categories
            categories = catalog.kinds + catalog.mixins + catalog.actions
        return self._json(model_object(categories))

    def category(self, category: Category, base_url: str) -> Rendered:
        return self._json({category.category_class + "s": [category_object(category)]})

    def created(self, location_url: str) -> Rendered:
        return self._json({"location": location_url}, self._locations(location_url))

    def ok(self) -> Rendered:
        return self._json({})

    def locations(self, urls: Iterable[str]) -> Rendered:
        return self._json({"locations": list(urls)})

    def error(self, error: OCCIError) -> Rendered:
        return Rendered(headers=error.headers, body=jsonrender.dumps(
            {"error": {"status": error.status, "message": error.message}}),
            content_type=self.media_type)
