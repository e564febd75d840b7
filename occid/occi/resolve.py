# -*- test-case-name: tests.test_occi_resolve -*-
"""
Interpret a parsed L{Document} against a catalog: build the entity a create
asks for, the changes of an update, the action of a trigger, or a filter.

Statuses follow the status table of docs/status.md: an unknown category, a
missing required attribute or a bad value is a L{BadRequest} (400); a mixin
not applicable to the kind, or a write to an immutable attribute, is
L{Forbidden} (403).  A required attribute, or an SSH key or user data
(L{infra.CONTEXTUALIZATION}), given empty or blank is a L{BadRequest}: left
out silently it would make a VM its user cannot log into.
Client-supplied C{occi.core.id}, an inline link's C{self}, id and source
are ignored: the provider names entities.  Locations may be written as
paths or as absolute URLs; only the path is kept.

Attribute values arrive typed as far as the parser could tell (quoted:
string; bare number: int or float; true/false: bool) and are coerced to the
attribute's definition: a number attribute takes an int, an integer one a
float with no fraction, and either a string holding a number (rOCCI-cli
sends C{--attribute occi.compute.memory=2.0} quoted).
"""

from __future__ import annotations

import re
from typing import TypeVar
from urllib.parse import urlsplit

from occid.interfaces import ICatalog
from occid.occi import corekinds
from occid.occi import infrastructure as infra
from occid.occi.bounds import INTEGER_LIMIT
from occid.occi.errors import BadRequest, Forbidden
from occid.occi.model import (
    Action,
    Attribute,
    AttributeValue,
    Category,
    CategoryRef,
    Changes,
    Document,
    EntityFilter,
    Kind,
    Link,
    LinkRef,
    Mixin,
    Resource,
)

_C = TypeVar("_C", bound=Category)

#: Misspellings some clients send (OOI 1.2.0), to the attribute meant.
ATTRIBUTE_ALIASES = {
    "occi.crendentials.ssh.publickey": "occi.credentials.ssh.publickey",
    "occi.credentials.ssh_key": "occi.credentials.ssh.publickey",
    "occi.compute.user_data": "occi.compute.userdata",
}

#: Attributes a client may send but the provider decides.
_IGNORED = ("occi.core.id", "occi.core.target.kind")

#: Link kinds inferred from the collection of an inline link's target.
_LINK_KIND_BY_TARGET = {
    "/network/": infra.NETWORKINTERFACE,
    "/storage/": infra.STORAGELINK,
}


def path_of(location: str) -> str:
    """The path of a location written as a path or an absolute URL."""
    parts = urlsplit(location)
    path = parts.path if parts.scheme or parts.netloc else location
    if not path.startswith("/"):
        raise BadRequest(f"{location!r} is not a location")
    return path


def location_id(location: str, collection: str) -> str | None:
    """
    The id in C{location} (a path or an absolute URL, parsed by
    L{occid.occi.resolve.path_of}) when it lies in C{/<collection>/}, else
    C{None}.
    """
    try:
        path = path_of(location)
    except BadRequest:
        return None
    prefix = f"/{collection}/"
    return path[len(prefix):].strip("/") if path.startswith(prefix) else None


def _collection_of(path: str) -> str:
    return path.rsplit("/", 1)[0] + "/"


def _resolve(ref: CategoryRef, catalog: ICatalog, cls: type[_C]) -> _C:
    """
    The catalog's category C{ref} names; C{cls} is the class C{ref.cls}
    (kind, mixin or action) stands for.
    """
    category = catalog.lookup(ref.identifier)
    if not isinstance(category, cls) or category.category_class != ref.cls:
        raise BadRequest(f"unknown {ref.cls} {ref.identifier}")
    return category


def _mixins(refs: list[CategoryRef], kind: Kind, catalog: ICatalog) -> list[Mixin]:
    mixins: list[Mixin] = []
    for ref in refs:
        mixin = _resolve(ref, catalog, Mixin)
        if not mixin.applies_to(kind):
            raise Forbidden(f"mixin {mixin.identifier} cannot be applied to a {kind.term}")
        if mixin not in mixins:
            mixins.append(mixin)
    return mixins


def _split(document: Document) -> tuple[list[CategoryRef], list[CategoryRef],
                                         list[CategoryRef]]:
    kinds = [c for c in document.categories if c.cls == "kind"]
    mixins = [c for c in document.categories if c.cls == "mixin"]
    actions = [c for c in document.categories if c.cls == "action"]
    return kinds, mixins, actions


def _number(value: AttributeValue) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except ValueError:
        return None


def coerce(attribute: Attribute, value: AttributeValue) -> AttributeValue:
    """
    C{value} as the type C{attribute} defines, checked against its enum and
    pattern.

    @raise BadRequest: the value does not fit.
    """
    bad = BadRequest(
        f"attribute {attribute.name} must be {_describe(attribute)}, not {value!r}")
    if attribute.type == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise bad
    if attribute.type in ("number", "integer"):
        number = _number(value)
        if number is None or number != number or number in (float("inf"), float("-inf")):
            raise bad
        if attribute.type == "number":
            return float(number)
        if number != int(number) or abs(number) > INTEGER_LIMIT:
            raise bad
        return int(number)
    if isinstance(value, bool):
        value = "true" if value else "false"
    value = str(value)
    if attribute.enum and value not in attribute.enum:
        raise bad
    if attribute.pattern and not re.fullmatch(attribute.pattern, value):
        raise bad
    return value


def _describe(attribute: Attribute) -> str:
    if attribute.enum:
        return "one of " + ", ".join(attribute.enum)
    if attribute.pattern:
        return f"a string matching {attribute.pattern}"
    return {"integer": f"an integer of at most ±{INTEGER_LIMIT}", "number": "a number",
            "boolean": "true or false"}.get(attribute.type, "a string")


def _definitions(kind: Kind, mixins: list[Mixin]) -> dict[str, Attribute]:
    """The attributes an entity of C{kind} with C{mixins} has; the kind's win."""
    definitions: dict[str, Attribute] = {}
    for mixin in mixins:
        for attribute in mixin.attributes:
            definitions.setdefault(attribute.name, attribute)
    for attribute in kind.all_attributes():
        definitions[attribute.name] = attribute
    return definitions


def _attributes(given: dict[str, AttributeValue], kind: Kind, mixins: list[Mixin],
                skip: tuple[str, ...] = (), restating: bool = False
                ) -> dict[str, AttributeValue]:
    """
    The client's attribute values, typed; unknown names are 400, immutable
    ones 403 unless C{restating} (a full update restates them: the provider
    compares them with the entity's).
    """
    definitions = _definitions(kind, mixins)
    values: dict[str, AttributeValue] = {}
    for name, value in given.items():
        name = ATTRIBUTE_ALIASES.get(name, name)
        if name in _IGNORED or name in skip:
            continue
        attribute = definitions.get(name)
        if attribute is None:
            raise BadRequest(f"attribute {name} is not defined for a {kind.term} "
                             "with these mixins")
        if not attribute.mutable and not restating:
            raise Forbidden(f"attribute {name} cannot be set by a client")
        values[name] = coerce(attribute, value)
        if _blank(values[name]) and (attribute.required or name in infra.CONTEXTUALIZATION):
            raise BadRequest(f"attribute {name} is empty; give it a value or leave it out")
    return values


def _blank(value: AttributeValue) -> bool:
    return isinstance(value, str) and not value.strip()


def _check_required(values: dict, kind: Kind, mixins: list[Mixin],
                    skip: tuple[str, ...] = ()) -> None:
    for name, attribute in _definitions(kind, mixins).items():
        if (attribute.required and attribute.mutable and name not in values
                and name not in skip and attribute.default is None):
            raise BadRequest(f"attribute {name} is required to create a {kind.term}")


def _the_kind(kinds: list[CategoryRef], kind: Kind, catalog: ICatalog) -> None:
    if len(kinds) != 1 or _resolve(kinds[0], catalog, Kind) != kind:
        raise BadRequest(f"a {kind.term} is created with exactly one kind, "
                         f"{kind.identifier}")


def _inline_link(ref: LinkRef, source_kind: Kind, catalog: ICatalog) -> Link:
    if "?action=" in ref.target:
        raise BadRequest(f"an action link ({ref.target}) cannot be created")
    target = path_of(ref.target)
    kind: Kind | None = None
    mixins: list[Mixin] = []
    for identifier in ref.categories:
        category = catalog.lookup(identifier)
        if isinstance(category, Kind) and kind is None:
            kind = category
        elif isinstance(category, Mixin):
            mixins.append(category)
        else:
            raise BadRequest(f"unknown link category {identifier}")
    if kind is None:
        kind = _LINK_KIND_BY_TARGET.get(_collection_of(target))
    if kind is None or not kind.is_a(corekinds.LINK):
        raise BadRequest(f"cannot tell which kind of link leads to {ref.target}")
    for mixin in mixins:
        if not mixin.applies_to(kind):
            raise Forbidden(f"mixin {mixin.identifier} cannot be applied to a "
                            f"{kind.term}")
    skip = ("occi.core.source", "occi.core.target")
    attributes = _attributes(ref.attributes, kind, mixins, skip)
    target_kind = catalog.kind_at(_collection_of(target))
    for identifier in ref.rel:
        category = catalog.lookup(identifier)
        if isinstance(category, Kind):
            target_kind = category
            break
    return Link(kind=kind, id="", source="", target=target, mixins=mixins,
                attributes=attributes, source_kind=source_kind,
                target_kind=target_kind)


def resource_for_create(document: Document, kind: Kind, catalog: ICatalog) -> Resource:
    """
    The resource a create on C{kind}'s collection asks for, with its inline
    links (their source is left empty: the resource has no id yet).
    """
    kinds, mixin_refs, actions = _split(document)
    _the_kind(kinds, kind, catalog)
    if actions:
        raise BadRequest("a create cannot name an action")
    mixins = _mixins(mixin_refs, kind, catalog)
    attributes = _attributes(document.attributes, kind, mixins)
    _check_required(attributes, kind, mixins)
    links = [_inline_link(ref, kind, catalog) for ref in document.links]
    return Resource(kind=kind, id="", mixins=mixins, attributes=attributes,
                    links=links)


def link_for_create(document: Document, kind: Kind, catalog: ICatalog) -> Link:
    """The link a create on C{kind}'s collection (a link kind) asks for."""
    kinds, mixin_refs, actions = _split(document)
    _the_kind(kinds, kind, catalog)
    if actions or document.links:
        raise BadRequest("a link create holds only categories and attributes")
    mixins = _mixins(mixin_refs, kind, catalog)
    ends = {}
    for name in ("occi.core.source", "occi.core.target"):
        value = document.attributes.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequest(f"attribute {name} is required to create a link")
        ends[name] = path_of(value)
    skip = tuple(ends)
    attributes = _attributes(document.attributes, kind, mixins, skip)
    _check_required(attributes, kind, mixins, skip)
    source, target = ends["occi.core.source"], ends["occi.core.target"]
    return Link(kind=kind, id="", source=source, target=target, mixins=mixins,
                attributes=attributes,
                source_kind=catalog.kind_at(_collection_of(source)),
                target_kind=catalog.kind_at(_collection_of(target)))


def changes_for_update(document: Document, entity_kind: Kind, catalog: ICatalog,
                       replace: bool) -> Changes:
    """
    The changes a partial update (POST, C{replace} false) or a full update
    (PUT) asks for.  The kind may be restated but not changed; links are
    changed through the link collections, never by an update.  A full
    update states the whole entity, immutable attributes included: those
    are kept in the changes for the provider to compare with the entity
    (403 only when they differ; L{occid.ec2.fullupdate}).
    """
    kinds, mixin_refs, actions = _split(document)
    if document.links:
        raise BadRequest("an update cannot carry links; create or delete them "
                         "under /link/")
    if actions:
        raise BadRequest("an update cannot name an action; use ?action=")
    for ref in kinds:
        if _resolve(ref, catalog, Kind) != entity_kind:
            raise BadRequest("the kind of an entity cannot be changed")
    mixins = _mixins(mixin_refs, entity_kind, catalog)
    skip = ("occi.core.source", "occi.core.target") if entity_kind.is_a(corekinds.LINK) \
        else ()
    attributes = _attributes(document.attributes, entity_kind, mixins, skip,
                             restating=replace)
    return Changes(mixins=mixins, attributes=attributes, replace=replace)


def action_for_trigger(document: Document, query_term: str, kind: Kind, catalog: ICatalog
                       ) -> tuple[Action, dict[str, AttributeValue]]:
    """
    The action C{POST …?action=<query_term>} asks for, with its parameters.
    The body may name the action (its term must be C{query_term}) or be
    empty.
    """
    kinds, mixins, actions = _split(document)
    if kinds or mixins or document.links or len(actions) > 1:
        raise BadRequest("an action request holds one action category and "
                         "its attributes")
    if actions:
        if actions[0].term != query_term:
            raise BadRequest(f"?action={query_term} does not match the body's "
                             f"action {actions[0].identifier}")
        action: Action | None = _resolve(actions[0], catalog, Action)
    else:
        action = next((a for a in kind.actions if a.term == query_term), None)
    if action is None or action not in kind.actions:
        raise BadRequest(f"a {kind.term} has no action {query_term}")
    definitions = {a.name: a for a in action.attributes}
    parameters: dict[str, AttributeValue] = {}
    for name, value in document.attributes.items():
        if name not in definitions:
            raise BadRequest(f"action {action.term} has no parameter {name}")
        parameters[name] = coerce(definitions[name], value)
    for name, attribute in definitions.items():
        if attribute.required and name not in parameters:
            raise BadRequest(f"action {action.term} needs the parameter {name}")
    return action, parameters


def filter_from(document: Document) -> EntityFilter:
    """A collection filter: the categories and attribute values named."""
    return EntityFilter(categories=tuple(c.identifier for c in document.categories),
                        attributes=dict(document.attributes))


def categories_filter(document: Document, catalog: ICatalog) -> tuple[Category, ...]:
    """
    The query interface restricted to the categories C{document} names, or
    all of them when it names none.  Unknown categories match nothing.
    """
    everything = catalog.kinds + catalog.mixins + catalog.actions
    if not document.categories:
        return everything
    wanted = {(c.cls, c.identifier) for c in document.categories}
    return tuple(c for c in everything
                 if (c.category_class, c.identifier) in wanted)
