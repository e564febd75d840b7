"""
occid's text answers read the way rOCCI-core 4.3 reads them, for tests that
replay rOCCI-cli 4.3 (issue 10, "Done when").  Written from the facts of
occi-wire.md sections 5.4 and 5.5, not from rOCCI's code:

  - text/occi is read from the headers: of a header that is repeated only
    the B{first} line counts, and its value is split on B{every} comma, even
    inside a quoted string; text/plain is read from the body, one structure
    a line;
  - a Category must be in ABNF order (C{term; scheme; class; title; rel;
    location; attributes; actions}), C{;} or C{; } separators, a trailing
    C{;} tolerated, the term in the 1.1 grammar (no C{.});
  - a kind's location, reduced to its path, must end with C{/} ("Kind
    locations must end with a slash!"); absolute URLs and paths both do;
  - an entity without C{occi.core.id} is no entity at all;
  - attribute names are nested (C{occi.compute.state.message} makes
    C{occi.compute.state} a hash, losing its value);
  - locations come from the C{Location} header, then C{X-OCCI-Location}
    headers, then C{X-OCCI-Location} body lines (text/plain), or the body
    of a text/uri-list.

This parser is stricter than rOCCI-core where rOCCI-core loses data
silently (a C{rel} after C{location}): here that fails, which is what a
test should see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_TERM = r"[a-z][a-z0-9_-]*"
_CATEGORY = re.compile(
    rf'\s*(?P<term>{_TERM})\s*;\s*scheme="(?P<scheme>[^"\s]+#)"'
    r'\s*;\s*class="?(?P<cls>kind|mixin|action)"?'
    rf'(?:\s*;\s*title=(?P<title>{_QUOTED}))?'
    r'(?:\s*;\s*rel="(?P<rel>[^"]*)")?'
    r'(?:\s*;\s*location="(?P<location>[^"]*)")?'
    r'(?:\s*;\s*attributes="(?P<attributes>[^"]*)")?'
    r'(?:\s*;\s*actions="(?P<actions>[^"]*)")?'
    r'\s*;?\s*\Z'
)
_ATTRIBUTE_NAME = r"[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*"
_VALUE = rf'{_QUOTED}|-?\d+(?:\.\d+)?|true|false'
_ATTRIBUTE = re.compile(rf"\s*(?P<name>{_ATTRIBUTE_NAME})=(?P<value>{_VALUE})\s*\Z")
_LINK = re.compile(
    r'\s*<(?P<target>[^>]+)>\s*;\s*rel="(?P<rel>[^"]+)"'
    r'(?:\s*;\s*self="(?P<self>[^"]+)")?'
    r'(?:\s*;\s*category="(?P<category>[^"]+)")?'
    rf'(?P<attributes>(?:\s*;\s*{_ATTRIBUTE_NAME}=(?:{_VALUE}))*)'
    r'\s*;?\s*\Z'
)
_LINK_ATTRIBUTE = re.compile(rf"(?P<name>{_ATTRIBUTE_NAME})=(?P<value>{_VALUE})")
_KIND_LOCATION = re.compile(r"/\S+/")
_FIELDS = ("category", "link", "x-occi-attribute", "x-occi-location", "location")


class ParseError(Exception):
    """What rOCCI-core 4.3 would refuse (its ParserInputError and the like)."""


@dataclass
class Category:
    """A parsed Category."""

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
        return self.scheme + self.term


@dataclass
class Model:
    """The model of a query interface."""

    categories: list[Category]

    def of_class(self, cls: str) -> list[Category]:
        return [c for c in self.categories if c.cls == cls]

    def related(self, parent_term: str) -> list[Category]:
        """
        rOCCI-api 4's template lookup: the unique mixin with term
        C{parent_term}, then the mixins related to it.
        """
        parents = [c for c in self.of_class("mixin") if c.term == parent_term]
        if len(parents) != 1:
            raise ParseError(f"{parent_term} is ambiguous or missing in the model")
        return [c for c in self.of_class("mixin") if parents[0].identifier in c.rel]

    def mixin(self, parent_term: str, term: str) -> Category:
        """C{--mixin parent_term#term}: "The specified mixin is not declared in the model!"."""
        found = [c for c in self.related(parent_term) if c.term == term]
        if len(found) != 1:
            raise ParseError(f"The specified mixin is not declared in the model! "
                             f"{parent_term}#{term}")
        return found[0]

    def action(self, kind_term: str, term: str) -> Category:
        """C{--trigger-action term} on a kind: "Failed to identify action"."""
        [kind] = [c for c in self.of_class("kind") if c.term == kind_term]
        found = [c for c in self.of_class("action")
                 if c.term == term and c.identifier in kind.actions]
        if len(found) != 1:
            raise ParseError(f"Failed to identify action action#{term}")
        return found[0]


@dataclass
class Entity:
    """A parsed entity."""

    categories: list[Category]
    links: list[dict[str, object]]
    attributes: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> object:
        return attribute(self.attributes, "occi.core.id")


def header_lines(raw: str) -> list[tuple[str, str]]:
    """The header lines of the last response in curl's C{-D} output, in order."""
    blocks = [b for b in re.split(r"\r?\n\r?\n", raw.strip()) if b.strip()]
    lines = blocks[-1].splitlines()[1:]
    return [(name.strip(), value.strip())
            for name, _, value in (line.partition(":") for line in lines)]


def _first_lines_split(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each OCCI header's first line only, split on every comma."""
    seen: dict[str, str] = {}
    for name, value in headers:
        seen.setdefault(name.lower(), value)
    return [(name, piece) for name in _FIELDS if name in seen
            for piece in seen[name].split(",")]


def _body_lines(body: str) -> list[tuple[str, str]]:
    found = []
    for line in body.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in _FIELDS:
            found.append((name.strip().lower(), value.strip()))
    return found


def fields(content_type: str, headers: list[tuple[str, str]], body: str
           ) -> list[tuple[str, str]]:
    """The (lower-case field name, value) pairs rOCCI-core 4.3 would read."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "text/occi":
        return _first_lines_split(headers)
    if media_type == "text/plain":
        return _body_lines(body)
    raise ParseError(f"Content type {content_type} not supported")


def _unquote(value: str) -> object:
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    if value in ("true", "false"):
        return value == "true"
    return float(value) if "." in value else int(value)


def category(text: str) -> Category:
    """One Category value."""
    match = _CATEGORY.match(text)
    if match is None:
        raise ParseError(f"Category {text!r} could not be parsed")
    title = match.group("title")
    return Category(
        term=match.group("term"), scheme=match.group("scheme"), cls=match.group("cls"),
        title=_unquote(title) if title else None,  # type: ignore[arg-type]
        rel=tuple((match.group("rel") or "").split()),
        location=match.group("location"),
        attributes=tuple((match.group("attributes") or "").split()),
        actions=tuple((match.group("actions") or "").split()),
    )


def model(content_type: str, headers: list[tuple[str, str]], body: str) -> Model:
    """A query interface's model; kind locations must end with a slash."""
    categories = [category(v) for n, v in fields(content_type, headers, body) if n == "category"]
    for kind in categories:
        if kind.cls == "kind" and kind.location is not None and not _KIND_LOCATION.fullmatch(
                urlsplit(kind.location).path):
            raise ParseError("Kind locations must end with a slash!")
    return Model(categories)


def nest(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Attributes as rOCCI-core 4 keeps them: names nested on their dots."""
    root: dict[str, object] = {}
    for name, value in pairs:
        *parents, leaf = name.split(".")
        node = root
        for parent in parents:
            child = node.get(parent)
            if not isinstance(child, dict):
                child = node[parent] = {}
            node = child
        node[leaf] = value
    return root


def attribute(nested: dict[str, object], name: str) -> object:
    """The value of the dotted C{name} in nested attributes, or C{None}."""
    node: object = nested
    for part in name.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return None if isinstance(node, dict) else node


def _link(text: str) -> dict[str, object]:
    match = _LINK.match(text)
    if match is None:
        raise ParseError(f"Link {text!r} could not be parsed")
    pairs = [(m.group("name"), _unquote(m.group("value")))
             for m in _LINK_ATTRIBUTE.finditer(match.group("attributes"))]
    link: dict[str, object] = {"target": match.group("target"), "rel": match.group("rel"),
                               "attributes": nest(pairs)}
    if match.group("category") and attribute(link["attributes"], "occi.core.id") is None:
        raise ParseError(f"Link {text!r} has no occi.core.id")
    return link


def entities(content_type: str, headers: list[tuple[str, str]], body: str) -> list[Entity]:
    """The entity of a rendering (none when it carries no occi.core.id)."""
    found = fields(content_type, headers, body)
    categories = [category(v) for n, v in found if n == "category"]
    links = [_link(v) for n, v in found if n == "link"]
    pairs = []
    for name, value in found:
        if name == "x-occi-attribute":
            match = _ATTRIBUTE.match(value)
            if match is None:
                raise ParseError(f"Attribute {value!r} could not be parsed")
            pairs.append((match.group("name"), _unquote(match.group("value"))))
    entity = Entity(categories, links, nest(pairs))
    if not categories or entity.id is None:
        return []
    return [entity]


def locations(content_type: str, headers: list[tuple[str, str]], body: str) -> list[str]:
    """
    The locations of an answer: C{Location} header, else C{X-OCCI-Location}
    headers, else C{X-OCCI-Location} body lines; or a text/uri-list body.
    """
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "text/uri-list":
        return [line.strip() for line in body.splitlines()
                if line.strip() and not line.startswith("#")]
    split = _first_lines_split(headers)
    for name in ("location", "x-occi-location"):
        found = [v.strip() for n, v in split if n == name]
        if found:
            return found
    if media_type == "text/plain":
        return [v for n, v in _body_lines(body) if n == "x-occi-location"]
    return []
