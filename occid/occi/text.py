# -*- test-case-name: tests.test_occi_text -*-
"""
The OCCI text renderings (GFD.185 / GFD.229): text/plain (the structures in
the body, one per line), text/occi (the same structures in HTTP headers) and
text/uri-list.

Parsing produces a L{Document} and is tolerant where clients differ
(occi-wire.md §9.4-9.5): comma-joined and repeated fields are equivalent,
commas inside quoted strings do not separate, C{\\"} escapes, a trailing
C{;} and missing spaces are fine, C{class} may be quoted or bare,
C{X-OCCI-Category} / C{X-OCCI-Link} are aliases, field names are
case-insensitive, CRLF and LF both end lines, terms may follow the OCCI
1.1 or 1.2 grammar, and whitespace inside a scheme (left there by a folded
header line, as in captured rOCCI-server responses) is removed.  It is strict where meaning is at stake: schemes must be
absolute URIs ending with C{#}, classes must be kind, mixin or action,
attribute names and properties must follow the grammar, and the same category
may not appear twice.  Every problem is a L{BadRequest} naming the line (or
header) at fault.

Rendering writes category parameters in ABNF order with C{; } separators,
numbers and booleans bare, strings quoted with C{\\"} and C{\\\\} escaped;
control characters in strings are written as spaces, so no value can break a
line or inject a header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from occid.occi.errors import BadRequest
from occid.occi.model import (
    Action,
    AttributeValue,
    Category,
    CategoryRef,
    Document,
    Entity,
    Kind,
    Link,
    LinkRef,
    Mixin,
    Resource,
)

#: Field names, lowercased, to the structure they carry.
FIELDS = {
    "category": "category",
    "x-occi-category": "category",
    "link": "link",
    "x-occi-link": "link",
    "x-occi-attribute": "attribute",
    "x-occi-location": "location",
    "location": "location",
}

#: Header values are joined with commas up to about this many characters;
#: longer renderings (a big query interface) repeat the header instead, as
#: many HTTP clients limit the length of one header line.
HEADER_VALUE_LIMIT = 8000

_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\"<>]*#\Z")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\"<>]*#[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*\Z")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_TOKEN = re.compile(r"[^\s\";,=<>]+\Z")
_URI = re.compile(r"[^\s\"<>]+\Z")
_CLASSES = ("kind", "mixin", "action")
_PROPERTIES = ("immutable", "required")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Invalid(Exception):
    """A syntax problem in one value; the caller adds where it was."""


# -- tokenizing -------------------------------------------------------------


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """
    Split C{text} on C{separator} where it is not inside a quoted string
    (in which C{\\} escapes the next character).

    @raise _Invalid: a quoted string is not terminated.
    """
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise _Invalid("unterminated quoted string")
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    """The content of a complete quoted string, escapes resolved."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise _Invalid(f"expected a quoted string, not {text}")
    out, escaped = [], False
    for char in text[1:-1]:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise _Invalid(f"stray quote in {text}")
        else:
            out.append(char)
    return "".join(out)


def parse_value(text: str) -> AttributeValue:
    """
    An attribute value: a quoted string, a number (int or float), C{true} /
    C{false}, or a bare token (read as a string).
    """
    text = text.strip()
    if text.startswith('"'):
        return _unquote(text)
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        return float(text)
    if _TOKEN.match(text):
        return text
    raise _Invalid(f"invalid attribute value {text!r}")


def _parameters(parts: Iterable[str]) -> list[tuple[str, str]]:
    """C{name=value} pairs of a Category or Link value, raw values kept."""
    pairs = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise _Invalid(f"parameter without a value: {part}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _string_parameter(value: str) -> str:
    return _unquote(value) if value.startswith('"') else value


# -- structures -------------------------------------------------------------


def _attribute_definitions(text: str) -> tuple[str, ...]:
    """
    The attribute list of a Category, each definition normalised to
    C{name} or C{name{immutable required}}.
    """
    definitions = []
    position = 0
    pattern = re.compile(r"\s*([^\s{}]+)(?:\{([^}]*)\})?\s*")
    while position < len(text):
        match = pattern.match(text, position)
        if not match or match.end() == position:
            raise _Invalid(f"invalid attribute list {text!r}")
        name, properties = match.group(1), match.group(2)
        if not _ATTRIBUTE_NAME.match(name):
            raise _Invalid(f"invalid attribute name {name!r}")
        if properties is not None:
            given = properties.split()
            unknown = [p for p in given if p not in _PROPERTIES]
            if unknown or not given:
                raise _Invalid(f"unknown attribute property {properties!r} of {name}")
            name += "{" + " ".join(p for p in _PROPERTIES if p in given) + "}"
        definitions.append(name)
        position = match.end()
    return tuple(definitions)


def parse_category(text: str) -> CategoryRef:
    """One Category value: C{term; scheme="…"; class="…"; …}."""
    parts = split_outside_quotes(text, ";")
    term = parts[0].strip()
    if not _TERM.match(term):
        raise _Invalid(f"invalid term {term!r}")
    params: dict[str, str] = {}
    for name, value in _parameters(parts[1:]):
        name = name.lower()
        if name in params:
            raise _Invalid(f"{name} given twice")
        params[name] = _string_parameter(value)
    if "scheme" not in params:
        raise _Invalid(f"category {term} has no scheme")
    scheme = "".join(params["scheme"].split())
    if not _SCHEME.match(scheme):
        raise _Invalid(f"scheme {scheme!r} is not an absolute URI ending with '#'")
    cls = params.get("class")
    if cls not in _CLASSES:
        raise _Invalid(f"category {term} has class {cls!r}, not kind, mixin or action")
    actions = tuple(params.get("actions", "").split())
    for action in actions:
        if not _IDENTIFIER.match(action):
            raise _Invalid(f"invalid action identifier {action!r}")
    location = params.get("location")
    if location is not None and not _URI.match(location):
        raise _Invalid(f"invalid location {location!r}")
    return CategoryRef(
        term=term,
        scheme=scheme,
        cls=cls,
        title=params.get("title"),
        rel=tuple(params.get("rel", "").split()),
        location=location,
        attributes=_attribute_definitions(params.get("attributes", "")),
        actions=actions,
    )


def parse_attribute(text: str) -> tuple[str, AttributeValue]:
    """One X-OCCI-Attribute value: C{name=value}."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals:
        raise _Invalid(f"Attribute invalid syntax ({name})")
    if not _ATTRIBUTE_NAME.match(name):
        raise _Invalid(f"invalid attribute name {name!r}")
    return name, parse_value(value)


def parse_link(text: str) -> LinkRef:
    """One Link value: C{<target>; rel="…"; self="…"; category="…"; attributes}."""
    parts = split_outside_quotes(text, ";")
    target = parts[0].strip()
    if not (target.startswith("<") and target.endswith(">")):
        raise _Invalid(f"link target {target!r} is not in <>")
    target = target[1:-1].strip()
    if not _URI.match(target):
        raise _Invalid(f"invalid link target {target!r}")
    link = LinkRef(target=target)
    seen = set()
    for name, value in _parameters(parts[1:]):
        lowered = name.lower()
        if lowered in seen:
            raise _Invalid(f"{name} given twice")
        seen.add(lowered)
        if lowered == "rel":
            link.rel = tuple(_string_parameter(value).split())
        elif lowered == "self":
            link.self_location = _string_parameter(value)
        elif lowered == "category":
            link.categories = tuple(_string_parameter(value).split())
        else:
            name, parsed = parse_attribute(f"{name}={value}")
            link.attributes[name] = parsed
    if not link.rel:
        raise _Invalid("link without rel")
    return link


def _add(document: Document, field: str, text: str) -> None:
    """Parse the comma-joined values of one field into C{document}."""
    for value in split_outside_quotes(text, ","):
        value = value.strip()
        if not value:
            continue
        if field == "category":
            category = parse_category(value)
            if any(c.identifier == category.identifier and c.cls == category.cls
                   for c in document.categories):
                raise _Invalid(f"category {category.identifier} given twice")
            document.categories.append(category)
        elif field == "link":
            document.links.append(parse_link(value))
        elif field == "attribute":
            name, parsed = parse_attribute(value)
            if name in document.attributes:
                raise _Invalid(f"attribute {name} given twice")
            document.attributes[name] = parsed
        else:
            if not _URI.match(value):
                raise _Invalid(f"invalid location {value!r}")
            document.locations.append(value)


def _numbered_lines(body: bytes) -> list[tuple[int, str]]:
    """
    The lines of a UTF-8 body, numbered from 1, ended by LF or CRLF only
    (not by Unicode line separators).

    @raise BadRequest: the body is not UTF-8.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"the body is not UTF-8 (byte {e.start})") from None
    return list(enumerate((line.removesuffix("\r") for line in text.split("\n")), 1))


def _excerpt(text: str) -> str:
    return text if len(text) <= 160 else text[:157] + "..."


def parse_plain(body: bytes) -> Document:
    """
    A text/plain body.

    @raise BadRequest: a line is not an OCCI field, or its value is invalid;
        the message names the line.
    """
    document = Document()
    for number, line in _numbered_lines(body):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        field = FIELDS.get(name.strip().lower()) if colon else None
        if field is None:
            raise BadRequest(f"line {number} is not an OCCI field: {_excerpt(line)}")
        try:
            _add(document, field, value)
        except _Invalid as e:
            raise BadRequest(f"line {number}: {e}: {_excerpt(line)}") from None
    return document


def parse_headers(headers: Iterable[tuple[str, str]]) -> Document:
    """
    The OCCI fields among HTTP headers (text/occi); other headers are
    ignored.

    @raise BadRequest: an OCCI header's value is invalid; the message names
        the header.
    """
    document = Document()
    for name, value in headers:
        field = FIELDS.get(name.strip().lower())
        if field is None:
            continue
        try:
            _add(document, field, value)
        except _Invalid as e:
            raise BadRequest(
                f"header {name.strip()}: {e}: {_excerpt(value)}") from None
    return document


def parse_uri_list(body: bytes) -> Document:
    """
    A text/uri-list body (RFC 2483): absolute URIs, comments start with C{#}.
    """
    document = Document()
    for number, line in _numbered_lines(body):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not (_URI.match(line) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", line)):
            raise BadRequest(f"line {number} is not an absolute URI: {_excerpt(line)}")
        document.locations.append(line)
    return document


# -- rendering --------------------------------------------------------------


def quote(text: str) -> str:
    """A quoted string; control characters become spaces."""
    text = _CONTROL.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_value(value: AttributeValue) -> str:
    """An attribute value: strings quoted, numbers and booleans bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return quote(str(value))


def absolute(base_url: str, location: str) -> str:
    """C{location} (a path) made absolute against C{base_url}."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", location):
        return location
    return base_url + location


def rel_of(category: Category) -> str | None:
    """The C{rel} of a category: a kind's parent, a mixin's first depends."""
    if isinstance(category, Kind) and category.parent is not None:
        return category.parent.identifier
    if isinstance(category, Mixin) and category.depends:
        return category.depends[0].identifier
    return None


def attribute_definitions(category: Category) -> tuple[str, ...]:
    """The attribute list of a category, inherited kind attributes first."""
    attributes = (category.all_attributes() if isinstance(category, Kind)
                  else category.attributes)
    definitions = []
    for attribute in attributes:
        properties = [name for name, on in (("immutable", not attribute.mutable),
                                            ("required", attribute.required)) if on]
        definitions.append(attribute.name + (
            "{" + " ".join(properties) + "}" if properties else ""))
    return tuple(definitions)


def category_value(category: Category, base_url: str, full: bool) -> str:
    """
    One Category value.  C{full} (the query interface) adds the
    C{attributes} and C{actions} parameters.
    """
    parts = [category.term, f"scheme={quote(category.scheme)}",
             f'class="{category.category_class}"']
    if category.title:
        parts.append(f"title={quote(category.title)}")
    rel = rel_of(category)
    if rel:
        parts.append(f"rel={quote(rel)}")
    if category.location:
        parts.append(f"location={quote(absolute(base_url, category.location))}")
    if full:
        definitions = attribute_definitions(category)
        if definitions:
            parts.append(f"attributes={quote(' '.join(definitions))}")
        actions = getattr(category, "actions", ())
        if actions:
            parts.append(f"actions={quote(' '.join(a.identifier for a in actions))}")
    return "; ".join(parts)


def _attribute_value(name: str, value: AttributeValue) -> str:
    return f"{name}={render_value(value)}"


def _link_attributes(link: Link, base_url: str) -> list[tuple[str, AttributeValue]]:
    pairs: list[tuple[str, AttributeValue]] = [
        ("occi.core.id", link.id),
        ("occi.core.source", absolute(base_url, link.source)),
        ("occi.core.target", absolute(base_url, link.target)),
    ]
    return pairs + [(k, v) for k, v in link.attributes.items() if v is not None]


def inline_link_value(link: Link, base_url: str) -> str:
    """A resource's link to another resource, as a Link value."""
    target_kind = link.target_kind.identifier if link.target_kind else (
        "http://schemas.ogf.org/occi/core#resource")
    categories = " ".join([link.kind.identifier] + [m.identifier for m in link.mixins])
    parts = [f"<{absolute(base_url, link.target)}>", f"rel={quote(target_kind)}",
             f"self={quote(absolute(base_url, link.location))}",
             f"category={quote(categories)}"]
    parts += [_attribute_value(k, v) for k, v in _link_attributes(link, base_url)]
    return "; ".join(parts)


def action_link_value(entity: Entity, action: Action, base_url: str) -> str:
    """An applicable action of an entity, as a Link value."""
    url = absolute(base_url, entity.location)
    return f"<{url}?action={action.term}>; rel={quote(action.identifier)}"


def entity_fields(entity: Entity, base_url: str) -> list[tuple[str, str]]:
    """
    The (field name, value) pairs of an entity rendering in order:
    categories, action links, resource links, attributes (C{occi.core.id}
    first).
    """
    fields = [("Category", category_value(entity.kind, base_url, False))]
    fields += [("Category", category_value(m, base_url, False)) for m in entity.mixins]
    fields += [("Link", action_link_value(entity, a, base_url)) for a in entity.actions]
    if isinstance(entity, Resource):
        fields += [("Link", inline_link_value(link, base_url)) for link in entity.links]
    if isinstance(entity, Link):
        pairs = _link_attributes(entity, base_url)
    else:
        pairs = [("occi.core.id", entity.id)] + [
            (k, v) for k, v in entity.attributes.items() if v is not None]
    fields += [("X-OCCI-Attribute", _attribute_value(k, v)) for k, v in pairs]
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
    """Fields as text/occi headers: the values of each name comma-joined."""
    by_name: dict[str, list[str]] = {}
    for name, value in fields:
        by_name.setdefault(name, []).append(value)
    return tuple((name, joined) for name, values in by_name.items()
                 for joined in join_header_values(values))
