# -*- test-case-name: tests.test_occi_text,tests.test_occi_rendering -*-
"""
Writing the OCCI text renderings: the (field name, value) pairs of an
entity or a category, as text/plain lines or as text/occi headers.

Category parameters are written in ABNF order with C{; } separators,
numbers and booleans bare, strings quoted (L{occid.occi.grammar.quote}).
A category's C{location} is a path (C{/compute/}), as OCCI 1.1 servers
wrote it and as clients that prefix it with their endpoint need; entity
locations are absolute URLs.  Every function takes the OCCI version of the
answer: a 1.1 rendering leaves out the attributes 1.2 added
(L{occid.occi.negotiation.ONLY_IN_1_2}), in entities and in the attribute
lists of categories alike.

An entity's Category values are kept per category object (L{_summary}), so
that the kind and the catalogue's mixins each GET shows are not quoted
again on every request.
"""

from __future__ import annotations

from collections.abc import Iterable

from occid.occi.grammar import absolute, quote, render_value
from occid.occi.model import (
    Action,
    AttributeValue,
    Category,
    Entity,
    Kind,
    Link,
    Mixin,
    Resource,
)
from occid.occi.negotiation import OCCIVersion, speaks, unknown_to

#: text/occi writes all the values of one field name comma-joined on one
#: header line, because rOCCI-core 4 reads only the first line of a repeated
#: header.  Only a value longer than this (1 MiB; the query interface of an
#: EC2 region offering every instance type is about 0.35 MB) is continued on
#: a repeated header line, so that no rendering grows without bound.
HEADER_VALUE_LIMIT = 1 << 20


def rel_of(category: Category) -> str | None:
    """The C{rel} of a category: a kind's parent, a mixin's first depends."""
    if isinstance(category, Kind) and category.parent is not None:
        return category.parent.identifier
    if isinstance(category, Mixin) and category.depends:
        return category.depends[0].identifier
    return None


def attribute_definitions(category: Category, version: OCCIVersion = OCCIVersion.V1_2
                          ) -> tuple[str, ...]:
    """
    The attribute list of a category, inherited kind attributes first, of
    the attributes OCCI C{version} knows.
    """
    definitions = []
    for attribute in category.all_attributes():
        if not speaks(version, attribute.name):
            continue
        properties = [name for name, on in (("immutable", not attribute.mutable),
                                            ("required", attribute.required)) if on]
        definitions.append(attribute.name + (
            "{" + " ".join(properties) + "}" if properties else ""))
    return tuple(definitions)


def category_value(category: Category, full: bool,
                   version: OCCIVersion = OCCIVersion.V1_2) -> str:
    """
    One Category value, its C{location} a path.  C{full} (the query
    interface) adds the C{attributes} and C{actions} parameters.
    """
    parts = [category.term, f"scheme={quote(category.scheme)}",
             f'class="{category.category_class}"']
    if category.title:
        parts.append(f"title={quote(category.title)}")
    rel = rel_of(category)
    if rel:
        parts.append(f"rel={quote(rel)}")
    if category.location:
        parts.append(f"location={quote(category.location)}")
    if full:
        definitions = attribute_definitions(category, version)
        if definitions:
            parts.append(f"attributes={quote(' '.join(definitions))}")
        actions = getattr(category, "actions", ())
        if actions:
            parts.append(f"actions={quote(' '.join(a.identifier for a in actions))}")
    return "; ".join(parts)


#: How many categories L{_summary} keeps the value of before it starts over.
SUMMARIES_KEPT = 1024

#: The Category values of L{_summary}, by category object: a rendered
#: category's C{id()} to the category (held, so that the id is not reused
#: while it stands here) and its value.
_summaries: dict[int, tuple[Category, str]] = {}


def _summary(category: Category) -> str:
    """
    C{category_value(category, False)}, computed once per category object:
    an entity's categories are mostly the same few (its kind, the
    catalogue's templates), and categories are immutable.  Keyed by object,
    not by identifier: two categories of one identifier may differ in title.
    """
    kept = _summaries.get(id(category))
    if kept is not None and kept[0] is category:
        return kept[1]
    value = category_value(category, False)
    if len(_summaries) >= SUMMARIES_KEPT:
        _summaries.clear()
    _summaries[id(category)] = (category, value)
    return value


def _attribute_values(pairs: Iterable[tuple[str, AttributeValue | None]],
                      unknown: frozenset[str]) -> list[str]:
    """
    C{name=value} of each pair whose value is set and whose name is not
    C{unknown} (L{occid.occi.negotiation.unknown_to}).
    """
    return [f"{name}={render_value(value)}"
            for name, value in pairs if value is not None and name not in unknown]


def _link_attribute_values(link: Link, base_url: str, unknown: frozenset[str]) -> list[str]:
    """The attribute values of a link: its id, source and target first."""
    return _attribute_values((
        ("occi.core.id", link.id),
        ("occi.core.source", absolute(base_url, link.source)),
        ("occi.core.target", absolute(base_url, link.target)),
        *link.attributes.items()), unknown)


def inline_link_value(link: Link, base_url: str,
                      version: OCCIVersion = OCCIVersion.V1_2) -> str:
    """A resource's link to another resource, as a Link value."""
    target_kind = link.target_kind.identifier if link.target_kind else (
        "http://schemas.ogf.org/occi/core#resource")
    categories = " ".join([link.kind.identifier] + [m.identifier for m in link.mixins])
    parts = [f"<{absolute(base_url, link.target)}>", f"rel={quote(target_kind)}",
             f"self={quote(absolute(base_url, link.location))}",
             f"category={quote(categories)}"]
    parts += _link_attribute_values(link, base_url, unknown_to(version))
    return "; ".join(parts)


def action_link_value(entity_url: str, action: Action) -> str:
    """An applicable action of the entity at C{entity_url}, as a Link value."""
    return f"<{entity_url}?action={action.term}>; rel={quote(action.identifier)}"


def entity_fields(entity: Entity, base_url: str, version: OCCIVersion = OCCIVersion.V1_2
                  ) -> list[tuple[str, str]]:
    """
    The (field name, value) pairs of an entity rendering in order:
    categories, action links, resource links, attributes (C{occi.core.id}
    first).
    """
    fields = [("Category", _summary(entity.kind))]
    fields += [("Category", _summary(m)) for m in entity.mixins]
    if entity.actions:
        url = absolute(base_url, entity.location)
        fields += [("Link", action_link_value(url, a)) for a in entity.actions]
    if isinstance(entity, Resource):
        fields += [("Link", inline_link_value(link, base_url, version))
                   for link in entity.links]
    unknown = unknown_to(version)
    if isinstance(entity, Link):
        values = _link_attribute_values(entity, base_url, unknown)
    else:
        values = _attribute_values((("occi.core.id", entity.id), *entity.attributes.items()),
                                   unknown)
    fields += [("X-OCCI-Attribute", value) for value in values]
    return fields


def plain_lines(fields: Iterable[tuple[str, str]]) -> bytes:
    """Fields as a text/plain body, one per line."""
    return "".join(f"{name}: {value}\n" for name, value in fields).encode("utf-8")


def join_header_values(values: list[str], limit: int | None = HEADER_VALUE_LIMIT
                       ) -> list[str]:
    """
    Comma-join C{values} into as few header values as fit C{limit}
    characters each (one value longer than the limit stands alone);
    C{limit=None} joins everything.
    """
    joined: list[str] = []
    for value in values:
        if joined and (limit is None or len(joined[-1]) + 1 + len(value) <= limit):
            joined[-1] += "," + value
        else:
            joined.append(value)
    return joined


def header_fields(fields: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """
    Fields as text/occi headers: the values of each name comma-joined on
    one header line (up to L{HEADER_VALUE_LIMIT}).
    """
    by_name: dict[str, list[str]] = {}
    for name, value in fields:
        by_name.setdefault(name, []).append(value)
    return tuple((name, joined) for name, values in by_name.items()
                 for joined in join_header_values(values))
