"""
Tests for L{occid.occi.bounds} and for every parser reading within them:
text/plain, text/occi, text/uri-list, JSON, the C{User-Agent} version and
C{Accept}.  Property-based: whatever text, bytes or JSON-like structure
comes in, a parser returns a result within the bounds or raises an
L{OCCIError} with a 4xx status, never anything else.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occid.occi import infrastructure as infra
from occid.occi import json as occi_json
from occid.occi import negotiation, rendering, textparse
from occid.occi.bounds import (
    DEPTH_LIMIT,
    INTEGER_LIMIT,
    STRING_LIMIT,
    first_unsafe,
    integer_problem,
    real_problem,
    string_problem,
)
from occid.occi.errors import BadRequest, OCCIError, Unimplemented
from occid.occi.grammar import SyntaxProblem, parse_value
from occid.occi.model import Document
from occid.occi.resolve import coerce

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_bounded(document: Document) -> None:
    """Every value C{document} holds is within the bounds."""
    values = list(document.attributes.values())
    for link in document.links:
        values += list(link.attributes.values())
        assert first_unsafe(link.target) is None
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            assert abs(value) <= INTEGER_LIMIT
        elif isinstance(value, float):
            assert math.isfinite(value)
        else:
            assert string_problem(value) is None, value
    for name in document.attributes:
        assert string_problem(name) is None
    for category in document.categories:
        for text in (category.term, category.scheme, category.title or "",
                     category.location or ""):
            assert string_problem(text) is None
    for location in document.locations:
        assert first_unsafe(location) is None


def parsed_or_4xx(parse, *args) -> Document | None:
    """What C{parse(*args)} returns (checked within bounds), or C{None} for a 4xx."""
    try:
        document = parse(*args)
    except OCCIError as error:
        assert 400 <= error.status < 500, error
        return None
    assert_bounded(document)
    return document


# -- the bounds ---------------------------------------------------------------------


def test_integer_digits_counted_first():
    """20 digits are read, 21 and 5,000 are refused without converting them."""
    assert integer_problem("9" * 18) is None
    assert integer_problem("-" + "0" * 19 + "1") is None
    assert integer_problem("1" * 21) == "has more than 20 digits"
    assert integer_problem("9" * 5000) == "has more than 20 digits"


def test_integer_magnitude():
    """±(2**63-1) is read; one more is refused."""
    assert integer_problem(str(INTEGER_LIMIT)) is None
    assert integer_problem(str(-INTEGER_LIMIT)) is None
    assert "signed 64-bit" in integer_problem(str(INTEGER_LIMIT + 1))
    assert "signed 64-bit" in integer_problem(str(-INTEGER_LIMIT - 1))


@pytest.mark.parametrize("text", ["1e999", "-1e400", "1" * 400 + ".0"])
def test_reals_refused(text):
    """Numbers that are not finite once read, or are written too long, are refused."""
    assert real_problem(text) is not None


@pytest.mark.parametrize("text", ["0.5", "-1e300", "1e-400", ".5"])
def test_reals_read(text):
    """Finite numbers are read (an underflow to 0 is finite)."""
    assert real_problem(text) is None


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x0b", "\x1f", "\ud800", "\udfff",
                                  "\ufffe", "\uffff"])
def test_unsafe_characters(char):
    """NUL, C0 controls but tab/LF/CR, lone surrogates, U+FFFE and U+FFFF are refused."""
    problem = string_problem("a" + char)
    assert problem is not None and f"U+{ord(char):04X}" in problem


@pytest.mark.parametrize("text", ["tab\there", "lines\nand\r\n", "\x7f\u2028\U0001f600\ufffd"])
def test_safe_characters(text):
    """Tab, LF, CR, DEL, line separators and astral characters are fine."""
    assert string_problem(text) is None


def test_string_length():
    """At most STRING_LIMIT characters."""
    assert string_problem("x" * STRING_LIMIT) is None
    assert f"at most {STRING_LIMIT}" in string_problem("x" * (STRING_LIMIT + 1))


# -- each parser, for the inputs of issue 17 point 3 --------------------------------


def test_text_value_of_5000_digits():
    """A 5,000-digit integer is a SyntaxProblem, not Python's 4,300-digit ValueError."""
    with pytest.raises(SyntaxProblem, match="more than 20 digits"):
        parse_value("9" * 5000)


@pytest.mark.parametrize("line, reason", [
    ("X-OCCI-Attribute: occi.compute.cores=" + "9" * 5000, "more than 20 digits"),
    ("X-OCCI-Attribute: occi.compute.memory=1e999", "not a finite number"),
    ('X-OCCI-Attribute: occi.core.title="a\x00b"', "U+0000"),
    ("X-OCCI-Attribute: occi.core.title=a\x01b", "invalid attribute value"),
    ('X-OCCI-Attribute: occi.core.title="' + "x" * (STRING_LIMIT + 1) + '"', "at most"),
])
def test_plain_names_attribute_and_rule(line, reason):
    """text/plain: the BadRequest names the line, the attribute and the rule."""
    with pytest.raises(BadRequest) as raised:
        textparse.parse_plain(line.encode())
    message = raised.value.message
    assert message.startswith("line 1: attribute occi.co")
    assert reason in message
    assert len(message) < 400


def test_headers_name_attribute_and_rule():
    """text/occi: the BadRequest names the header, the attribute and the rule."""
    with pytest.raises(BadRequest, match=r"header X-OCCI-Attribute: attribute "
                                         r"occi.compute.memory: the value has more than 20"):
        textparse.parse_headers([("X-OCCI-Attribute", "occi.compute.memory=" + "1" * 5000)])


def test_category_title_with_nul():
    """A category's title parameter is a string value within the bounds."""
    with pytest.raises(BadRequest, match=r"the title parameter holds the character U\+0000"):
        textparse.parse_plain(b'Category: m; scheme="http://e.org/x#"; class="mixin"; '
                              b'title="a\x00"')


@pytest.mark.parametrize("location", ["/compute/\x00", "/compute/a\x1fb"])
def test_locations_without_controls(location):
    """A location holding a control character is refused."""
    with pytest.raises(BadRequest, match="invalid location"):
        textparse.parse_headers([("X-OCCI-Location", location)])


@pytest.mark.parametrize("body, reason", [
    ('{"kind": "http://e.org/k#c", "attributes": {"occi.compute.cores": 1' + "0" * 400 + "}}",
     "the value of attributes.occi.compute.cores has more than 20 digits"),
    ('{"kind": "http://e.org/k#c", "attributes": {"occi": {"compute": {"memory": 1e400}}}}',
     "the value of attributes.occi.compute.memory is not a finite number"),
    ('{"kind": "http://e.org/k#c", "attributes": {"occi.compute.memory": -Infinity}}', "-Infinity"),
    ('{"kind": "http://e.org/k#c", "title": "\\u0000\\ud83d"}',
     "the value of title holds the character U+0000"),
    ('{"kind": "http://e.org/k#c", "title": "\\ud83d"}', "U+D83D"),
    ('{"kind": "http://e.org/k#c", "mixins": ["\\udfff"]}', "the value of mixins[0] holds"),
    ('{"kind": "http://e.org/k#c", "\\u0001": 1}',
     "a member name in the JSON body holds the character U+0001"),
    ('{"a": ' * (DEPTH_LIMIT + 1) + "1" + "}" * (DEPTH_LIMIT + 1), "deeper than 32 levels"),
    ("[" * 100000 + "]" * 100000, "deeper than 32 levels"),
])
def test_json_names_place_and_rule(body, reason):
    """JSON: the BadRequest names where the value is and the rule."""
    with pytest.raises(BadRequest) as raised:
        occi_json.parse_json(body.encode())
    assert reason in raised.value.message


@pytest.mark.parametrize("body, reason", [
    ('{"mixins": [{"term": "a\\nX-Injected: 1", "scheme": "http://e.org/s#"}]}',
     "mixin term 'a\\nX-Injected: 1' is not a term"),
    ('{"mixins": [{"term": "t", "scheme": "no scheme#"}]}', "is not an absolute URI"),
    ('{"kind": "http://e.org/k#a b"}', "kind term 'a b' is not a term"),
])
def test_json_categories_follow_the_text_grammar(body, reason):
    """A JSON term or scheme is held to the grammar of the text renderings, which write terms bare."""
    with pytest.raises(BadRequest) as raised:
        occi_json.parse_json(body.encode())
    assert reason in raised.value.message


def test_json_within_bounds_read():
    """Numbers within the bounds are read as int and float; nesting to the limit is fine."""
    document = occi_json.parse_json(
        b'{"kind": "http://e.org/k#c", "attributes": {"a": 9223372036854775807, "b": 0.5, "c": "t\\tx"}}')
    assert document.attributes == {"a": INTEGER_LIMIT, "b": 0.5, "c": "t\tx"}
    nested = '{"a": ' * (DEPTH_LIMIT - 1) + "1" + "}" * (DEPTH_LIMIT - 1)
    occi_json.parse_json(('{"kind": "http://e.org/k#c", "attributes": ' + nested + "}").encode())


@pytest.mark.parametrize("user_agent", [
    "OCCI/9999999999999999999999999", "OCCI/2", "x OCCI/1." + "9" * 5000,
    "OCCI/" + "9" * 5000 + ".1",
])
def test_version_above_bounded(user_agent):
    """Absurd versions are above 1.2: 501, the message quoting them cut short."""
    with pytest.raises(Unimplemented) as raised:
        negotiation.check_occi_version(user_agent)
    assert len(raised.value.message) < 200
    assert negotiation.client_version(user_agent) == negotiation.OCCIVersion.V1_2


def test_version_without_minor():
    """C{OCCI/1} reads as 1.0: served, rendered as 1.1."""
    negotiation.check_occi_version("OCCI/1")
    assert negotiation.client_version("OCCI/1") == negotiation.OCCIVersion.V1_1


# -- properties: every parser, arbitrary input ---------------------------------------

#: Pieces of the text renderings, to build nearly valid input from.
_FRAGMENTS = st.sampled_from([
    "Category: ", "X-OCCI-Attribute: ", "Link: ", "X-OCCI-Location: ", "Location: ",
    "compute", "; ", ";", "=", ",", '"', "\\", "\\\"", 'scheme="http://schemas.ogf.org/occi/'
    'infrastructure#"', 'class="kind"', 'class="mixin"', "occi.core.title", "occi.compute.cores",
    "9" * 25, "9" * 5000, "1e999", "-0.5", "true", "<", ">", "</compute/i-1>", 'rel="x"',
    "\x00", "\x01", "\t", "\r", "\n", "{", "}", "immutable", "attributes=", "/compute/",
    "\u00ff", "\u2028", "\ufffe",
])
_OCCI_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)
#: An attribute value: odd numbers, quoted strings with any character.
_TEXT_VALUE = st.one_of(
    st.sampled_from(["9" * 21, "9" * 5000, "-9223372036854775808", "1e999", "-1e400", "1e-999",
                     "0." + "1" * 100, "true", "\u0000", '"\\"', '"\\\""']),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.text(max_size=20),
)
#: Nearly valid lines: an OCCI field, an attribute or category, an odd value.
_OCCI_LINES = st.lists(st.one_of(
    _TEXT_VALUE.map(lambda value: f"X-OCCI-Attribute: occi.core.title={value}"),
    _TEXT_VALUE.map(lambda value: f"X-OCCI-Attribute: occi.compute.cores={value}"),
    _TEXT_VALUE.map(lambda value: f'Category: m; scheme="http://e.org/x#"; class="mixin"; '
                                  f"title={value}"),
    _TEXT_VALUE.map(lambda value: f"Link: </network/public>; rel={value}; a.b={value}"),
    st.text(max_size=20).map(lambda location: f"X-OCCI-Location: {location}"),
), max_size=4).map("\n".join)


@PROPERTY
@given(body=st.one_of(st.binary(max_size=300),
                      st.one_of(_OCCI_TEXT, _OCCI_LINES).map(lambda t: t.encode("utf-8"))))
def test_plain_property(body):
    """text/plain: a bounded document or a 4xx."""
    parsed_or_4xx(textparse.parse_plain, body)


@PROPERTY
@given(headers=st.lists(st.tuples(
    st.sampled_from(["Category", "X-OCCI-Attribute", "Link", "X-OCCI-Location", "Location",
                     "X-OCCI-Category", "X-OCCI-Link", "Other"]),
    st.one_of(_OCCI_TEXT, st.text(max_size=60))), max_size=6) | _OCCI_LINES.map(
        lambda lines: [tuple(line.split(": ", 1)) for line in lines.splitlines() if ": " in line]))
def test_headers_property(headers):
    """text/occi: a bounded document or a 4xx."""
    parsed_or_4xx(textparse.parse_headers, headers)


@PROPERTY
@given(body=st.one_of(st.binary(max_size=300), _OCCI_TEXT.map(lambda t: t.encode("utf-8"))))
def test_uri_list_property(body):
    """text/uri-list: a bounded document or a 4xx."""
    parsed_or_4xx(textparse.parse_uri_list, body)


@PROPERTY
@given(text=st.one_of(_TEXT_VALUE, _OCCI_TEXT, st.text(max_size=40)))
def test_value_property(text):
    """One attribute value: a bounded value, or a SyntaxProblem (a 400 once placed)."""
    try:
        value = parse_value(text)
    except SyntaxProblem:
        return
    assert_bounded(Document(attributes={"a": value}))


#: JSON text as written, odd numbers and escapes included (lone surrogates
#: among them), nested in lists and objects under the keys the parser reads.
_JSON_SCALARS = st.one_of(
    st.sampled_from(["null", "true", "false", "NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                     "1" + "0" * 400, "9" * 21, "9223372036854775808", "0.5", '""', "1e-400"]),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.lists(st.one_of(st.integers(0, 0xFFFF).map(lambda c: f"\\u{c:04x}"),
                       st.text(st.characters(blacklist_characters='"\\'), max_size=5)),
             max_size=6).map(lambda parts: '"' + "".join(parts) + '"'),
)
_KEYS = st.sampled_from(["kind", "mixins", "attributes", "actions", "action", "links",
                         "resources", "locations", "kinds", "source", "target", "location",
                         "term", "scheme", "title", "summary", "id", "rel", "occi",
                         "occi.core.title", "core", "\\u0000", ""])
_JSON_TEXT = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_KEYS, inner), max_size=4).map(
            lambda members: "{" + ",".join(f'"{k}":{v}' for k, v in members) + "}"),
    ),
    max_leaves=30,
)


#: Nearly valid entities: a kind, and attributes (flat or nested) with odd values.
_JSON_ENTITIES = st.tuples(
    st.sampled_from(['"http://schemas.ogf.org/occi/infrastructure#compute"', '"http://e.org/k#c"']),
    st.lists(st.tuples(st.sampled_from(["occi.core.title", "occi.compute.cores", "a", "title"]),
                       st.one_of(_JSON_SCALARS, _JSON_TEXT)), max_size=4),
    st.sampled_from(["attributes", "title", "links", "mixins"]),
).map(lambda entity: f'{{"kind": {entity[0]}, "{entity[2]}": {{'
                     + ",".join(f'"{k}": {v}' for k, v in entity[1]) + "}}")


@PROPERTY
@given(text=st.one_of(_JSON_TEXT, _JSON_ENTITIES))
def test_json_property(text):
    """JSON: a bounded document or a 4xx, for odd structures and odd values alike."""
    parsed_or_4xx(occi_json.parse_json, text.encode("utf-8", "surrogatepass"))


@PROPERTY
@given(body=st.binary(max_size=300))
def test_json_bytes_property(body):
    """JSON: arbitrary bytes give a 4xx or a bounded document."""
    parsed_or_4xx(occi_json.parse_json, body)


@PROPERTY
@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_KEYS.map(lambda k: json.loads(f'"{k}"')), inner, max_size=3)),
    max_leaves=25))
def test_json_structures_property(value):
    """JSON: any structure json.dumps can write (NaN and infinities too)."""
    parsed_or_4xx(occi_json.parse_json, json.dumps(value).encode())


@PROPERTY
@given(content_type=st.one_of(st.sampled_from(list(rendering.INPUT_TYPES)), st.text(max_size=30)),
       headers=st.lists(st.tuples(st.sampled_from(["Category", "X-OCCI-Attribute"]), _OCCI_TEXT),
                        max_size=3),
       body=st.one_of(st.binary(max_size=200), _JSON_TEXT.map(
           lambda t: t.encode("utf-8", "surrogatepass"))))
def test_rendering_parse_property(content_type, headers, body):
    """The dispatcher over every media type: a bounded document or a 4xx."""
    parsed_or_4xx(rendering.parse, content_type, headers, body)


_USER_AGENT = st.lists(st.one_of(
    st.sampled_from(["OCCI/", "1", ".", "2", "0", "9" * 30, "9" * 5000, " ", "x", "/",
                     "OCCI/" + "9" * 5000 + ".1", "OCCI/1." + "9" * 5000]),
    st.text(max_size=5)), max_size=12).map("".join)


@PROPERTY
@given(user_agent=st.one_of(st.none(), _USER_AGENT))
def test_user_agent_property(user_agent):
    """The version parse: a version to render in, and served or 501; nothing else."""
    assert negotiation.client_version(user_agent) in tuple(negotiation.OCCIVersion)
    try:
        negotiation.check_occi_version(user_agent)
    except Unimplemented as error:
        assert error.status == 501


@PROPERTY
@given(accept=st.one_of(st.none(), st.text(max_size=60), st.lists(st.sampled_from(
    ["text/plain", "*/*", ";q=", "1e999", "nan", "0.5", ",", "text/*", "application/occi+json",
     "-1", "9" * 5000]), max_size=8).map("".join)))
def test_accept_property(accept):
    """C{Accept}: an offered type, or a 406."""
    offered = ("text/plain", "text/occi", "application/occi+json")
    try:
        assert negotiation.negotiate(accept, offered) in offered
    except OCCIError as error:
        assert error.status == 406


def test_integer_attribute_from_a_string_bounded():
    """A string holding a number beyond ±(2**63-1) is no integer attribute value."""
    cores = infra.COMPUTE.attribute("occi.compute.cores")
    assert cores is not None
    assert coerce(cores, "4") == 4
    with pytest.raises(BadRequest, match=f"must be an integer of at most ±{INTEGER_LIMIT}"):
        coerce(cores, "1e300")
