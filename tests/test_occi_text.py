"""Tests for the OCCI text renderings (L{occid.occi.grammar}, L{occid.occi.textparse},
L{occid.occi.textrender}): parsing and rendering text/plain, text/occi, uri-list."""

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from occid.occi.errors import BadRequest
from occid.occi.grammar import quote, render_value, split_outside_quotes, unquote
from occid.occi.textparse import parse_headers, parse_plain, parse_uri_list
from occid.occi.textrender import join_header_values
from tests.occivectors import header_lines, vector

POCCI_TEXT_OK = [
    "category-collection/text-ok-dummy.txt",
    "category-collection/text-ok-ec2.txt",
    "category-collection/text-ok-opennebula.txt",
    "category-collection/text-test-capitalization.txt",
    "entity-collection/text-ok-entities.txt",
    "resource/text-ok-ec2-compute.txt",
    "resource/text-ok-opennebula-compute.txt",
]

POCCI_HTTP_OK = [
    "category-collection/http-ok-dummy.txt",
    "category-collection/http-ok-ec2.txt",
    "category-collection/http-ok-opennebula.txt",
    "category-collection/http-test-capitalization1.txt",
    "category-collection/http-test-capitalization2.txt",
    "category-collection/http-test-capitalization3.txt",
    "category-collection/http-test-capitalization4.txt",
    "entity-collection/http-ok-entities.txt",
    "entity-collection/http-ok-entities2.txt",
    "entity-collection/http-test-capitalization1.txt",
    "entity-collection/http-test-capitalization2.txt",
    "resource/http-ok-ec2-compute.txt",
    "resource/http-ok-ignore-unknown.txt",
    "resource/http-ok-opennebula-compute.txt",
    "resource/http-test-capitalization1.txt",
    "resource/http-test-capitalization2.txt",
]

#: Bad text/plain fixtures and the line the error must name.
POCCI_TEXT_BAD = {
    "category-collection/text-duplicity.txt": 3,
    "category-collection/text-missing-class.txt": 1,
    "category-collection/text-missing-scheme.txt": 2,
    "category-collection/text-error-attrdef.txt": 1,
    "category-collection/text-error-attrdef2.txt": 1,
    "category-collection/text-error-category.txt": 1,
    "category-collection/text-error-category2.txt": 1,
    "entity-collection/invalid-format.txt": 1,
    "resource/text-bad-quote-attribute.txt": 2,
    "resource/text-bad-quote-category.txt": 1,
    "resource/text-bad-quote-link.txt": 3,
    "resource/text-invalid-format.txt": 1,
    "resource/text-bad-attr.txt": 1,
    "basic/text-category1.txt": 1,
    "basic/text-resource.txt": 1,
}


@pytest.mark.parametrize("name", POCCI_TEXT_OK)
def test_pocci_text_ok_parses(name):
    """Every pOCCI text/plain 'ok' fixture parses."""
    document = parse_plain(vector("pocci/" + name))
    assert document.categories or document.locations


@pytest.mark.parametrize("name", POCCI_HTTP_OK)
def test_pocci_http_ok_parses(name):
    """Every pOCCI text/occi 'ok' fixture parses, foreign headers ignored."""
    document = parse_headers(header_lines("pocci/" + name))
    assert document.categories or document.locations


@pytest.mark.parametrize("name,line", sorted(POCCI_TEXT_BAD.items()))
def test_pocci_bad_rejected_naming_the_line(name, line):
    """Every bad pOCCI fixture is a BadRequest naming its offending line."""
    with pytest.raises(BadRequest) as raised:
        parse_plain(vector("pocci/" + name))
    assert raised.value.message.startswith(f"line {line}")


def test_http_bad_attr_rejected_naming_the_header():
    """A bad header is a BadRequest naming the header."""
    with pytest.raises(BadRequest) as raised:
        parse_headers(header_lines("pocci/resource/http-bad-attr.txt"))
    assert raised.value.message.startswith("header ")


def test_attribute_without_value():
    """An attribute without '=value' is rejected with pOCCI's wording."""
    with pytest.raises(BadRequest, match=r"Attribute invalid syntax \(occi.core.title\)"):
        parse_plain(b"X-OCCI-Attribute: occi.core.title\n")


def test_qi_counts_and_order():
    """The QIs have the expected number of categories and last term."""
    assert len(parse_plain(vector(
        "pocci/category-collection/text-ok-ec2.txt")).categories) == 56
    assert len(parse_plain(vector(
        "pocci/category-collection/text-ok-opennebula.txt")).categories) == 43
    dummy = parse_plain(vector("pocci/category-collection/text-ok-dummy.txt"))
    assert len(dummy.categories) == 35
    assert dummy.categories[-1].term == "offline"


def test_ec2_qi_template_details():
    """The EC2 QI's templates carry rel, location and attribute definitions."""
    document = parse_plain(vector("pocci/category-collection/text-ok-ec2.txt"))
    by_term = {c.term: c for c in document.categories}
    t1 = by_term["t1_micro"]
    assert t1.rel == ("http://schemas.ogf.org/occi/infrastructure#resource_tpl",)
    assert t1.location == "/mixin/resource_tpl/t1_micro/"
    assert t1.attributes[:2] == ("occi.compute.architecture",
                                 "occi.compute.cores{immutable}")
    assert by_term["resize"].attributes == ("size{required}",)
    compute = by_term["compute"]
    assert compute.cls == "kind" and len(compute.actions) == 4


def test_http_qi_equals_text_qi():
    """The comma-joined text/occi QI holds the same categories as the text/plain one."""
    plain = parse_plain(vector("pocci/category-collection/text-ok-opennebula.txt"))
    headers = parse_headers(header_lines(
        "pocci/category-collection/http-ok-opennebula.txt"))
    assert [c.identifier for c in plain.categories] == [
        c.identifier for c in headers.categories]


def test_folded_scheme_repaired():
    """A scheme broken by a folded header line ('http: //') is read whole."""
    document = parse_headers(header_lines("pocci/category-collection/http-ok-ec2.txt"))
    assert len(document.categories) == 56
    assert all(" " not in c.scheme for c in document.categories)


def test_rerendering_comma_joined_reproduces_header():
    """Joining the parsed values with commas gives back the captured header."""
    (value,) = [v for n, v in header_lines(
        "pocci/category-collection/http-ok-dummy.txt") if n == "Category"]
    pieces = split_outside_quotes(value, ",")
    assert join_header_values(pieces, limit=None) == [value]


def test_ec2_compute_attributes_in_order():
    """The EC2 compute's attributes come in capture order with their types."""
    document = parse_plain(vector("pocci/resource/text-ok-ec2-compute.txt"))
    assert document.categories[0].term == "compute"
    assert list(document.attributes.items())[:4] == [
        ("occi.core.id", "i-375ab99b"), ("occi.compute.architecture", "x64"),
        ("occi.compute.cores", 1), ("occi.compute.memory", 0.613)]


def test_http_ec2_compute_first_link():
    """The text/occi EC2 compute's first link is its first volume."""
    document = parse_headers(header_lines("pocci/resource/http-ok-ec2-compute.txt"))
    assert document.links[0].target == "/storage/vol-2cc1133a"


def test_opennebula_compute_and_unknown_headers():
    """Foreign headers between OCCI ones change nothing."""
    clean = parse_headers(header_lines(
        "pocci/resource/http-ok-opennebula-compute.txt"))
    noisy = parse_headers(header_lines("pocci/resource/http-ok-ignore-unknown.txt"))
    assert clean == noisy
    assert clean.attributes["occi.core.id"] == "103"
    assert clean.attributes["occi.core.title"] == "one-103"
    assert clean.attributes["occi.compute.cores"] == 1
    assert clean.links[0].target == "/storage/0"
    plain = parse_plain(vector("pocci/resource/text-ok-opennebula-compute.txt"))
    assert plain.attributes["occi.core.id"] == "103"


def test_locations():
    """Collections: text/plain, comma-joined, Location mixed, uri-list."""
    assert len(parse_plain(vector(
        "pocci/entity-collection/text-ok-entities.txt")).locations) == 20
    for name in ("http-ok-entities.txt", "http-ok-entities2.txt",
                 "http-test-capitalization1.txt", "http-test-capitalization2.txt"):
        document = parse_headers(header_lines("pocci/entity-collection/" + name))
        assert len(document.locations) == 5, name
    uris = parse_uri_list(vector("pocci/entity-collection/uri-ok-entities.txt"))
    assert uris.locations == [f"https://example.com:11443/compute/{n}"
                              for n in range(88, 93)]


def test_uri_list_rejects_relative():
    """A relative URI in a uri-list is rejected, naming the line."""
    with pytest.raises(BadRequest, match="^line 2"):
        parse_uri_list(vector("pocci/entity-collection/uri-invalid-uri.txt"))


def test_invalid_format_ignored_as_header():
    """Read as headers, a bare URI line is a foreign header."""
    document = parse_headers(header_lines("pocci/entity-collection/invalid-format.txt"))
    assert document.locations == []


def test_escaped_quotes_do_not_split():
    """The WG test: an escaped quote and a comma inside a title set nothing else."""
    document = parse_plain(
        b'X-OCCI-Attribute: occi.core.title="How\'s your quotes escaping? '
        b'\\", occi.compute.memory=1.0"\n')
    assert document.attributes == {
        "occi.core.title": 'How\'s your quotes escaping? ", occi.compute.memory=1.0'}


def test_tolerances():
    """Missing spaces, trailing ';', bare class, aliases, CRLF, mixed case."""
    body = (b'CATEGORY:compute;scheme="http://schemas.ogf.org/occi/infrastructure#";'
            b'class=kind;\r\n'
            b'x-occi-attribute: occi.compute.cores=2, occi.compute.memory=2.5,'
            b' occi.compute.hostname="a,b", com.example.flag=true\r\n')
    document = parse_plain(body)
    assert document.categories[0].cls == "kind"
    assert document.attributes == {
        "occi.compute.cores": 2, "occi.compute.memory": 2.5,
        "occi.compute.hostname": "a,b", "com.example.flag": True}
    headers = parse_headers([
        ("X-OCCI-Category", 'a1.b;scheme="http://e.org/s#";class="mixin"'),
        ("X-Occi-Link", '</network/x>;rel="http://e.org/s#k"'),
    ])
    assert headers.categories[0].term == "a1.b"
    assert headers.links[0].target == "/network/x"


@pytest.mark.parametrize("line", [
    'Category: x;scheme="notauri";class="kind"',
    'Category: x;scheme="http://e.org/s";class="kind"',
    'Category: x;scheme="http://e.org/s#";class="thing"',
    'Category: X!;scheme="http://e.org/s#";class="kind"',
    'Category: x;scheme="http://e.org/s#";class="kind";actions="nothash"',
    'Category: x;scheme="http://e.org/s#";class="kind";attributes="9bad"',
    'X-OCCI-Attribute: 9bad="x"',
    'X-OCCI-Attribute: a.b=some thing',
    'Link: /network/x;rel="http://e.org/s#k"',
    'Link: </network/x>',
    'X-OCCI-Attribute: a="1", a="2"',
])
def test_invalid_lines(line):
    """Grammar violations are rejected with the line number."""
    with pytest.raises(BadRequest, match="^line 1"):
        parse_plain(line.encode() + b"\n")


def test_not_utf8():
    """A body that is not UTF-8 is a BadRequest, not a crash."""
    with pytest.raises(BadRequest):
        parse_plain(b"Category: \xff\n")


def test_render_values():
    """Strings quoted and escaped, numbers and booleans bare, control chars blanked."""
    assert render_value('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert render_value(True) == "true"
    assert render_value(2) == "2"
    assert render_value(1.0) == "1.0"
    assert render_value("x\r\ny") == '"x  y"'


@given(st.text())
@example('say "hi"')
@example("C:\\Users")
@example("tab\there\x7f")
@example("line\u2028separator\x85")
@example("h\u00e9t\u00e9rog\u00e8ne \ufffd")
def test_quote_reads_back(text):
    """
    Any string, the plain ones (quoted as they are) and those with quotes,
    backslashes, control or other unprintable characters alike, is read
    back as written, control characters as spaces, and no control
    character is written.
    """
    quoted = quote(text)
    assert unquote(quoted) == re.sub(r"[\x00-\x1f\x7f]", " ", text)
    assert not re.search(r"[\x00-\x1f\x7f]", quoted)


def test_header_joining_limit():
    """Values are comma-joined up to the limit, then the header repeats."""
    assert join_header_values(["aaa", "bbb", "ccc"], limit=7) == ["aaa,bbb", "ccc"]
    assert join_header_values(["a" * 10], limit=5) == ["a" * 10]
