# -*- test-case-name: tests.test_occi_text -*-
"""
Reading the OCCI text renderings: text/plain (the structures in the body,
one per line), text/occi (the same structures in HTTP headers) and
text/uri-list, each into a L{Document}.

Parsing is tolerant where clients differ (docs/wire.md): comma-joined and
repeated fields are equivalent, commas inside quoted strings do not
separate, C{\\"} escapes, a trailing C{;} and missing spaces are fine,
C{class} may be quoted or bare, C{X-OCCI-Category} / C{X-OCCI-Link} are
aliases, field names are case-insensitive, CRLF and LF both end lines,
terms may follow the OCCI 1.1 or 1.2 grammar, and whitespace inside a
scheme (left there by a folded header line, as in captured rOCCI-server
responses) is removed.  It is strict where meaning is at stake: schemes
must be absolute URIs ending with C{#}, classes must be kind, mixin or
action, attribute names and properties must follow the grammar, and the
same category may not appear twice.  Every problem is a L{BadRequest}
naming the line (or header) at fault.  Every value is read within the
bounds of L{occid.occi.bounds} (through L{occid.occi.grammar}), and a bad
one is a L{BadRequest} naming the attribute and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from occid.occi.errors import BadRequest
from occid.occi.grammar import (
    ABSOLUTE_URI,
    ATTRIBUTE_NAME,
    CLASSES,
    FIELDS,
    IDENTIFIER,
    PROPERTIES,
    SCHEME,
    TERM,
    URI,
    SyntaxProblem,
    excerpt,
    parameters,
    parse_value,
    split_outside_quotes,
    string_parameter,
)
from occid.occi.model import AttributeValue, CategoryRef, Document, LinkRef

_DEFINITION = re.compile(r"\s*([^\s{}]+)(?:\{([^}]*)\})?\s*")


def _attribute_definitions(text: str) -> tuple[str, ...]:
    """
    The attribute list of a Category, each definition normalised to
    C{name} or C{name{immutable required}}.
    """
    definitions = []
    position = 0
    while position < len(text):
        match = _DEFINITION.match(text, position)
        if not match or match.end() == position:
            raise SyntaxProblem(f"invalid attribute list {text!r}")
        name, properties = match.group(1), match.group(2)
        if not ATTRIBUTE_NAME.match(name):
            raise SyntaxProblem(f"invalid attribute name {name!r}")
        if properties is not None:
            given = properties.split()
            unknown = [p for p in given if p not in PROPERTIES]
            if unknown or not given:
                raise SyntaxProblem(f"unknown attribute property {properties!r} of {name}")
            name += "{" + " ".join(p for p in PROPERTIES if p in given) + "}"
        definitions.append(name)
        position = match.end()
    return tuple(definitions)


def parse_category(text: str) -> CategoryRef:
    """One Category value: C{term; scheme="…"; class="…"; …}."""
    parts = split_outside_quotes(text, ";")
    term = parts[0].strip()
    if not TERM.match(term):
        raise SyntaxProblem(f"invalid term {term!r}")
    params: dict[str, str] = {}
    for name, value in parameters(parts[1:]):
        name = name.lower()
        if name in params:
            raise SyntaxProblem(f"{name} given twice")
        params[name] = string_parameter(value, name)
    if "scheme" not in params:
        raise SyntaxProblem(f"category {term} has no scheme")
    scheme = "".join(params["scheme"].split())
    if not SCHEME.match(scheme):
        raise SyntaxProblem(f"scheme {scheme!r} is not an absolute URI ending with '#'")
    cls = params.get("class")
    if cls is None:
        raise SyntaxProblem(f'category {term} has no class; add class="kind", '
                            'class="mixin" or class="action"')
    if cls not in CLASSES:
        raise SyntaxProblem(f"category {term} has class {cls!r}, not kind, mixin or action")
    actions = tuple(params.get("actions", "").split())
    for action in actions:
        if not IDENTIFIER.match(action):
            raise SyntaxProblem(f"invalid action identifier {action!r}")
    location = params.get("location")
    if location is not None and not URI.match(location):
        raise SyntaxProblem(f"invalid location {location!r}")
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
        raise SyntaxProblem(f"Attribute invalid syntax ({name})")
    if not ATTRIBUTE_NAME.match(name):
        raise SyntaxProblem(f"invalid attribute name '{_excerpt(name)}'")
    try:
        return name, parse_value(value)
    except SyntaxProblem as e:
        raise SyntaxProblem(f"attribute {name}: {e}") from None


def parse_link(text: str) -> LinkRef:
    """One Link value: C{<target>; rel="…"; self="…"; category="…"; attributes}."""
    parts = split_outside_quotes(text, ";")
    target = parts[0].strip()
    if not (target.startswith("<") and target.endswith(">")):
        raise SyntaxProblem(f"link target {target!r} is not in <>")
    target = target[1:-1].strip()
    if not URI.match(target):
        raise SyntaxProblem(f"invalid link target {target!r}")
    link = LinkRef(target=target)
    seen = set()
    for name, value in parameters(parts[1:]):
        lowered = name.lower()
        if lowered in seen:
            raise SyntaxProblem(f"{name} given twice")
        seen.add(lowered)
        if lowered == "rel":
            link.rel = tuple(string_parameter(value, lowered).split())
        elif lowered == "self":
            link.self_location = string_parameter(value, lowered)
        elif lowered == "category":
            link.categories = tuple(string_parameter(value, lowered).split())
        else:
            name, parsed = parse_attribute(f"{name}={value}")
            link.attributes[name] = parsed
    if not link.rel:
        raise SyntaxProblem("link without rel")
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
                raise SyntaxProblem(f"category {category.identifier} given twice")
            document.categories.append(category)
        elif field == "link":
            document.links.append(parse_link(value))
        elif field == "attribute":
            name, parsed = parse_attribute(value)
            if name in document.attributes:
                raise SyntaxProblem(f"attribute {name} given twice")
            document.attributes[name] = parsed
        else:
            if not URI.match(value):
                raise SyntaxProblem(f"invalid location {value!r}")
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
    """C{text} fit for a message naming the line or header it is."""
    return excerpt(text, 160)


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
        except SyntaxProblem as e:
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
        except SyntaxProblem as e:
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
        if not (URI.match(line) and ABSOLUTE_URI.match(line)):
            raise BadRequest(f"line {number} is not an absolute URI: {_excerpt(line)}")
        document.locations.append(line)
    return document
