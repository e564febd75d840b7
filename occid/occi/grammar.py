# -*- test-case-name: tests.test_occi_text -*-
"""
The value grammar of the OCCI text renderings (GFD.185 / GFD.229), for
reading and writing alike: which header or line names carry OCCI fields,
the shapes of terms, schemes, attribute names, numbers and URIs, quoted
strings (C{\\"} and C{\\\\} escaped), attribute values, and absolute URLs.

On input every syntax problem in one value is a L{SyntaxProblem}; the
parser adds where it was.  Values are read within L{occid.occi.bounds}:
no number is converted before its digits are counted, and no name or URI
holds a control character.  On output control characters in strings are
written as spaces, so no value can break a line or inject a header; the
excerpts of input that messages quote write them as C{\\xNN}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from occid.occi.bounds import integer_problem, real_problem, string_problem
from occid.occi.model import AttributeValue

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

#: A character of a scheme, location or URI: no space, quote, angle bracket
#: or control character.
_URI_CHAR = r"[^\s\"<>\x00-\x1f\x7f]"
TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
SCHEME = re.compile(rf"[A-Za-z][A-Za-z0-9+.-]*:{_URI_CHAR}*#\Z")
IDENTIFIER = re.compile(rf"[A-Za-z][A-Za-z0-9+.-]*:{_URI_CHAR}*#[A-Za-z0-9][A-Za-z0-9._-]*\Z")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*\Z")
URI = re.compile(rf"{_URI_CHAR}+\Z")
#: The start of an absolute URI: a scheme and C{://}.
ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: The category classes, and the attribute properties in ABNF order.
CLASSES = ("kind", "mixin", "action")
PROPERTIES = ("immutable", "required")

_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"-?\d+")
_TOKEN = re.compile(r"[^\s\";,=<>\x00-\x1f\x7f]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SyntaxProblem(Exception):
    """A syntax problem in one value; the caller adds where it was."""


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """
    Split C{text} on C{separator} where it is not inside a quoted string
    (in which C{\\} escapes the next character).

    @raise SyntaxProblem: a quoted string is not terminated.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted, escaped = False, False
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
        raise SyntaxProblem("unterminated quoted string")
    parts.append("".join(current))
    return parts


def unquote(text: str) -> str:
    """
    The content of a complete quoted string, escapes resolved.

    @raise SyntaxProblem: C{text} is not one quoted string.
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise SyntaxProblem(f"expected a quoted string, not {excerpt(text)}")
    out, escaped = [], False
    for char in text[1:-1]:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise SyntaxProblem(f"stray quote in {excerpt(text)}")
        else:
            out.append(char)
    return "".join(out)


def _bounded(problem: str | None, what: str = "the value") -> None:
    if problem is not None:
        raise SyntaxProblem(f"{what} {problem}")


def parse_value(text: str) -> AttributeValue:
    """
    An attribute value: a quoted string, a number (int or float), C{true} /
    C{false}, or a bare token (read as a string), within
    L{occid.occi.bounds}.

    @raise SyntaxProblem: none of these, or out of bounds.
    """
    text = text.strip()
    if text.startswith('"'):
        return string_value(text)
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        if _INTEGER.fullmatch(text):
            _bounded(integer_problem(text))
            return int(text)
        _bounded(real_problem(text))
        return float(text)
    if _TOKEN.match(text):
        _bounded(string_problem(text))
        return text
    raise SyntaxProblem(f"invalid attribute value '{excerpt(text)}'")


def parameters(parts: Iterable[str]) -> list[tuple[str, str]]:
    """
    C{name=value} pairs of a Category or Link value, raw values kept.

    @raise SyntaxProblem: a parameter has no value.
    """
    pairs = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise SyntaxProblem(f"parameter without a value: {part}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def string_value(text: str, what: str = "the value") -> str:
    """
    A quoted string's content, within L{occid.occi.bounds}.

    @param what: what the string is, for the message.
    @raise SyntaxProblem: not one quoted string, or out of bounds.
    """
    value = unquote(text)
    _bounded(string_problem(value), what)
    return value


def string_parameter(value: str, name: str) -> str:
    """
    The value of parameter C{name} as a string: quoted or bare, within
    L{occid.occi.bounds}.

    @raise SyntaxProblem: out of bounds; the message names the parameter.
    """
    what = f"the {name} parameter"
    if value.startswith('"'):
        return string_value(value, what)
    _bounded(string_problem(value), what)
    return value


def excerpt(text: str, limit: int = 80) -> str:
    """
    C{text} fit for a message: at most C{limit} characters, control
    characters written as C{\\xNN} (a message may end up in a response
    header).
    """
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def quote(text: str) -> str:
    """A quoted string; control characters become spaces."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        # Most values (ids, URLs, addresses, names) need nothing escaped.
        return f'"{text}"'
    text = _CONTROL.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_value(value: AttributeValue) -> str:
    """An attribute value: strings quoted, numbers and booleans bare."""
    if type(value) is str:
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return quote(str(value))


def absolute(base_url: str, location: str) -> str:
    """C{location} (a path) made absolute against C{base_url}."""
    if ABSOLUTE_URI.match(location):
        return location
    return base_url + location
