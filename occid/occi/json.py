# -*- test-case-name: tests.test_occi_json -*-
"""
Reading application/occi+json: the OCCI 1.2 JSON rendering (GFD.225), and
also the legacy JSON of rOCCI-core 4 (what rOCCI-cli 4.3 sends); writing it
is L{occid.occi.jsonrender}.

Accepted input, all read into a L{Document}:
  - a resource or a link object, or a collection of exactly one of them
    (C{{"resources": [...]}} / C{{"links": [...]}});
  - an action invocation, C{{"action": "...", "attributes": {...}}};
  - C{{"mixins": [...]}}, C{{"kinds": [...]}}, C{{"actions": [...]}}
    category collections (mixin definitions, or query-interface filters);
  - C{{"locations": [...]}}, a list of entity locations.
The legacy form differs in nesting attribute names (C{{"occi": {"core":
{"id": ...}}}}) and in giving link C{source} / C{target} as plain strings;
both are accepted wherever they occur.  Null attribute values are dropped;
arrays and other non-scalar values are refused.  Every number, string and
member name is read within L{occid.occi.bounds} (numbers are converted only
once their digits are counted; C{NaN} and C{Infinity} are refused), and
nesting stops at L{DEPTH_LIMIT}; a value out of bounds is a L{BadRequest}
naming where it is (C{attributes.occi.core.title}) and the rule.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from occid.occi.bounds import DEPTH_LIMIT, integer_problem, real_problem, string_problem
from occid.occi.errors import BadRequest
from occid.occi.grammar import SCHEME, TERM
from occid.occi.model import AttributeValue, CategoryRef, Document, LinkRef

#: A JSON object as json.loads reads it.
JsonObject = dict[str, Any]

_ENTITY_MEMBERS = {"id": "occi.core.id", "title": "occi.core.title",
                   "summary": "occi.core.summary"}


class _Integer(str):
    """An integer as the body writes it, converted once its digits are counted."""


class _Real(str):
    """A real number as the body writes it, converted once its length is checked."""


class _Constant(str):
    """C{NaN}, C{Infinity} or C{-Infinity}, which JSON does not allow."""


def _place(where: str) -> str:
    """Where a value is in the body, for a message."""
    if not where:
        return "the JSON body"
    return "the value of " + (where if len(where) <= 120 else where[:117] + "...")


def _bounded(value: object, where: str = "", depth: int = 0) -> object:
    """
    C{value} as C{json.loads} read it (numbers still as written), checked
    against L{occid.occi.bounds} and with its numbers converted.

    @raise BadRequest: a value is out of bounds, or the nesting too deep.
    """
    if depth > DEPTH_LIMIT:
        raise BadRequest(f"the JSON body nests deeper than {DEPTH_LIMIT} levels "
                         f"(at {where})")
    problem = None
    if isinstance(value, dict):
        bounded = {}
        for key, item in value.items():
            problem = string_problem(key)
            if problem is not None:
                raise BadRequest(f"a member name in {_place(where)} {problem}")
            bounded[key] = _bounded(item, f"{where}.{key}" if where else key, depth + 1)
        return bounded
    if isinstance(value, list):
        return [_bounded(item, f"{where}[{index}]", depth + 1)
                for index, item in enumerate(value)]
    if isinstance(value, _Integer):
        problem = integer_problem(value)
        converted: object = int(value) if problem is None else None
    elif isinstance(value, _Real):
        problem = real_problem(value)
        converted = float(value) if problem is None else None
    elif isinstance(value, _Constant):
        problem = f"is {value}, which is not a finite number"
    elif isinstance(value, str):
        problem = string_problem(value)
        converted = value
    else:
        converted = value
    if problem is not None:
        raise BadRequest(f"{_place(where)} {problem}")
    return converted


def _loads(body: bytes) -> object:
    """
    The JSON value of C{body}, within L{occid.occi.bounds}.

    @raise BadRequest: not UTF-8 JSON, or out of bounds.
    """
    try:
        data = json.loads(body.decode("utf-8"), parse_int=_Integer, parse_float=_Real,
                          parse_constant=_Constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(f"the body is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest(f"the JSON body nests deeper than {DEPTH_LIMIT} levels") from None
    return _bounded(data)


def _split_identifier(identifier: object, what: str) -> tuple[str, str]:
    if not isinstance(identifier, str) or "#" not in identifier:
        raise BadRequest(f"{what} {identifier!r} is not a category identifier")
    scheme, _, term = identifier.rpartition("#")
    if not term:
        raise BadRequest(f"{what} {identifier!r} has no term")
    return scheme + "#", term


def _category(term: str, scheme: str, cls: str) -> CategoryRef:
    """
    A category named by C{term} and C{scheme}, which follow the grammar of
    the text renderings (a term is rendered bare there).

    @raise BadRequest: they do not.
    """
    if not TERM.match(term):
        raise BadRequest(f"{cls} term {term!r} is not a term (letters, digits, '.', '_', '-')")
    if not SCHEME.match(scheme):
        raise BadRequest(f"{cls} scheme {scheme!r} is not an absolute URI ending with '#'")
    return CategoryRef(term=term, scheme=scheme, cls=cls)


def _reference(identifier: object, cls: str) -> CategoryRef:
    scheme, term = _split_identifier(identifier, cls)
    return _category(term, scheme, cls)


def _flatten(attributes: object, prefix: str = "") -> dict[str, AttributeValue]:
    """Attribute names flat, nested (legacy) objects joined with dots."""
    if not isinstance(attributes, dict):
        raise BadRequest(f"attributes {prefix or ''} must be an object")
    flat: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        elif value is None:
            continue
        elif isinstance(value, (str, int, float, bool)):
            flat[name] = value
        else:
            raise BadRequest(f"attribute {name} has an unsupported value")
    return flat


def _strings(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{what} must be a list of strings")
    return value


def _location(end: object, what: str) -> str:
    """A link end: a string (legacy) or a C{{"location", "kind"}} object."""
    if isinstance(end, dict):
        end = end.get("location")
    if not isinstance(end, str) or not end:
        raise BadRequest(f"link {what} has no location")
    return end


def _entity_attributes(entity: JsonObject) -> dict[str, AttributeValue]:
    attributes = _flatten(entity.get("attributes") or {})
    for member, name in _ENTITY_MEMBERS.items():
        if member in entity and entity[member] is not None:
            if not isinstance(entity[member], str):
                raise BadRequest(f"{member} must be a string")
            attributes.setdefault(name, entity[member])
    return attributes


def _entity_categories(entity: JsonObject) -> list[CategoryRef]:
    if "kind" not in entity:
        raise BadRequest("an entity needs a kind")
    return [_reference(entity["kind"], "kind")] + [
        _reference(m, "mixin") for m in _strings(entity.get("mixins"), "mixins")]


def _link_ref(link: object) -> LinkRef:
    """A link inside a resource."""
    if not isinstance(link, dict):
        raise BadRequest("a link must be an object")
    categories = _entity_categories(link)
    target = link.get("target")
    attributes = _entity_attributes(link)
    if "source" in link:
        attributes["occi.core.source"] = _location(link["source"], "source")
    rel = link.get("rel")
    if isinstance(target, dict) and isinstance(target.get("kind"), str):
        rel = target["kind"]
    return LinkRef(
        target=_location(target, "target"),
        rel=(rel,) if isinstance(rel, str) else (),
        categories=tuple(c.identifier for c in categories),
        attributes=attributes,
    )


def _resource(document: Document, resource: JsonObject) -> None:
    document.categories += _entity_categories(resource)
    document.attributes.update(_entity_attributes(resource))
    links = resource.get("links") or []
    if not isinstance(links, list):
        raise BadRequest("links must be a list")
    document.links += [_link_ref(link) for link in links]


def _link(document: Document, link: JsonObject) -> None:
    document.categories += _entity_categories(link)
    document.attributes.update(_entity_attributes(link))
    document.attributes["occi.core.source"] = _location(link.get("source"), "source")
    document.attributes["occi.core.target"] = _location(link.get("target"), "target")


def _single(value: object, what: str) -> JsonObject:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise BadRequest(f"{what} must hold exactly one object")
    return value[0]


def _categories(document: Document, items: object, cls: str) -> None:
    if not isinstance(items, list):
        raise BadRequest(f"{cls}s must be a list")
    for item in items:
        if isinstance(item, str):
            document.categories.append(_reference(item, cls))
        elif isinstance(item, dict) and isinstance(item.get("term"), str) \
                and isinstance(item.get("scheme"), str):
            document.categories.append(replace(
                _category(item["term"], item["scheme"], cls),
                title=item.get("title") if isinstance(item.get("title"), str) else None,
                location=item.get("location") if isinstance(item.get("location"), str)
                else None,
            ))
        else:
            raise BadRequest(f"a {cls} needs a term and a scheme")


def parse_json(body: bytes) -> Document:
    """
    An application/occi+json (or application/json) body.

    @raise BadRequest: not JSON, out of bounds, or not one of the accepted
        shapes.
    """
    data = _loads(body)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object")
    return _document(data)


def _document(data: JsonObject) -> Document:
    document = Document()
    if "action" in data:
        document.categories.append(_reference(data["action"], "action"))
        document.attributes.update(_flatten(data.get("attributes") or {}))
    elif "kind" in data:
        if "source" in data or "target" in data:
            _link(document, data)
        else:
            _resource(document, data)
    elif "resources" in data:
        _resource(document, _single(data["resources"], "resources"))
    elif "links" in data:
        _link(document, _single(data["links"], "links"))
    elif "locations" in data:
        document.locations += _strings(data["locations"], "locations")
    elif data.keys() & {"kinds", "mixins", "actions"}:
        for cls in ("kind", "mixin", "action"):
            if cls + "s" in data:
                _categories(document, data[cls + "s"], cls)
    else:
        raise BadRequest("the JSON body is not an OCCI rendering")
    return document
