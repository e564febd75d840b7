# -*- test-case-name: tests.test_occi_json -*-
"""
Writing application/occi+json: the OCCI 1.2 JSON rendering (GFD.225) of
categories, the query interface and entities; reading it is
L{occid.occi.json}.

Output follows GFD.225: attribute names flat, C{id}, C{title} and
C{summary} as members of their own, link C{source} / C{target} as
C{{"location", "kind"}} objects with absolute locations; a category's
C{location} is a path (C{/compute/}), as in the text renderings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from occid.occi.grammar import absolute
from occid.occi.model import Attribute, Category, Entity, Kind, Link, Mixin, Resource

#: A JSON object as json.dumps writes it.
JsonObject = dict[str, Any]


def _attribute_description(attribute: Attribute) -> JsonObject:
    description: JsonObject = {
        "mutable": attribute.mutable,
        "required": attribute.required,
        "type": "number" if attribute.type == "integer" else attribute.type,
    }
    if attribute.enum:
        description["pattern"] = {"enum": list(attribute.enum)}
    elif attribute.type == "integer":
        description["pattern"] = {"type": "integer"}
    elif attribute.pattern:
        description["pattern"] = {"type": "string", "pattern": attribute.pattern}
    if attribute.default is not None:
        description["default"] = attribute.default
    if attribute.description:
        description["description"] = attribute.description
    return description


def category_object(category: Category, base_url: str) -> JsonObject:
    """
    A kind, mixin or action as GFD.225 renders it, its location a path
    (C{base_url} is kept for callers, and unused).
    """
    rendered: JsonObject = {"term": category.term, "scheme": category.scheme}
    if category.title:
        rendered["title"] = category.title
    attributes = category.all_attributes()
    if attributes:
        rendered["attributes"] = {a.name: _attribute_description(a)
                                  for a in attributes}
    actions = getattr(category, "actions", ())
    if actions:
        rendered["actions"] = [a.identifier for a in actions]
    if isinstance(category, Kind) and category.parent is not None:
        rendered["parent"] = category.parent.identifier
    if isinstance(category, Mixin):
        if category.depends:
            rendered["depends"] = [m.identifier for m in category.depends]
        if category.applies:
            rendered["applies"] = [k.identifier for k in category.applies]
    if category.location:
        rendered["location"] = category.location
    return rendered


def model_object(categories: Iterable[Category], base_url: str) -> JsonObject:
    """The query interface: C{{"kinds": [...], "mixins": [...], "actions": [...]}}."""
    model: JsonObject = {"kinds": [], "mixins": [], "actions": []}
    for category in categories:
        model[category.category_class + "s"].append(category_object(category, base_url))
    return model


def _common(entity: Entity) -> JsonObject:
    rendered: JsonObject = {"kind": entity.kind.identifier, "id": entity.id}
    if entity.mixins:
        rendered["mixins"] = [m.identifier for m in entity.mixins]
    attributes = {}
    for name, value in entity.attributes.items():
        if value is None:
            continue
        if name == "occi.core.title":
            rendered["title"] = str(value)
        elif name == "occi.core.summary" and isinstance(entity, Resource):
            rendered["summary"] = str(value)
        else:
            attributes[name] = value
    if attributes:
        rendered["attributes"] = attributes
    if entity.actions:
        rendered["actions"] = [a.identifier for a in entity.actions]
    return rendered


def _end(location: str, kind: Kind | None, base_url: str) -> JsonObject:
    end = {"location": absolute(base_url, location)}
    if kind is not None:
        end["kind"] = kind.identifier
    return end


def link_object(link: Link, base_url: str) -> JsonObject:
    """A link as GFD.225 renders it."""
    rendered = _common(link)
    rendered["source"] = _end(link.source, link.source_kind, base_url)
    rendered["target"] = _end(link.target, link.target_kind, base_url)
    return rendered


def entity_object(entity: Entity, base_url: str) -> JsonObject:
    """A resource (with its links) or a link as GFD.225 renders it."""
    if isinstance(entity, Link):
        return link_object(entity, base_url)
    rendered = _common(entity)
    if isinstance(entity, Resource) and entity.links:
        rendered["links"] = [link_object(link, base_url) for link in entity.links]
    return rendered


def dumps(data: object) -> bytes:
    """Compact, deterministic JSON bytes."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
