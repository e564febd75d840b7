"""
Tests for L{occid.server.representations}: the query interface's cached
forms (identity and gzip), their C{ETag}s and C{304}s, through the real
HTTP stack (L{tests.gateway}), and the C{If-None-Match} reading alone.
"""

import gzip

import pytest

from occid.occi.errors import BadRequest
from occid.server import representations
from occid.server.representations import none_match
from occid.testing import MemoryBackend, make_binding, make_principal
from tests.gateway import make_gateway

TAG = '"0123abcd"'
GZIP = [("Accept-Encoding", "gzip")]


@pytest.mark.parametrize(
    "if_none_match, matched",
    [
        ("*", True),
        (" * ", True),
        (TAG, True),
        (f"W/{TAG}", True),
        (f'"other", {TAG}', True),
        (f'W/"other",W/{TAG}', True),
        (f', ,{TAG} ,', True),
        ('"other"', False),
        ('"0123ABCD"', False),
        ('"a,b", "c"', False),
        ('"0123abcd-gzip"', False),
        ("", False),
    ],
)
def test_none_match(if_none_match, matched):
    """If-None-Match: C{*}, or a list naming the tag, weakly compared (RFC 9110, 13.1.2)."""
    assert none_match(if_none_match, TAG) is matched


@pytest.mark.parametrize(
    "if_none_match", ["0123abcd", '"0123abcd', 'w/"0123abcd"', '"a" "b"', "*, \"a\"", '"a";q=1'],
)
def test_none_match_unreadable(if_none_match):
    """An If-None-Match that is neither C{*} nor a list of tags is a 400 saying how to write one."""
    with pytest.raises(BadRequest) as raised:
        none_match(if_none_match, TAG)
    assert "quoted entity tags" in raised.value.message
    assert repr(if_none_match) in raised.value.message


@pytest.fixture
def gateway():
    """A gateway over the memory backend's default catalogue (11 kB of text/plain)."""
    return make_gateway()


def test_etag_and_caching_headers(gateway):
    """The query interface answers a strong ETag, Vary: Accept, Accept-Encoding and no-cache."""
    response = gateway.request("GET", "/-/")
    assert response.status == 200
    etag = response.header("ETag")
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert response.header("Vary") == "Accept, Accept-Encoding"
    assert response.header("Cache-Control") == "private, no-cache"
    assert response.header("Content-Encoding") is None
    assert int(response.header("Content-Length")) == len(response.body)
    assert gateway.request("GET", "/.well-known/org/ogf/occi/-/").header("ETag") == etag


def test_gzip(gateway):
    """A client accepting gzip gets the same bytes compressed, with their own ETag and length."""
    plain = gateway.request("GET", "/-/")
    compressed = gateway.request("GET", "/-/", GZIP)
    assert compressed.status == 200
    assert compressed.header("Content-Encoding") == "gzip"
    assert compressed.header("Content-Type") == plain.header("Content-Type")
    assert int(compressed.header("Content-Length")) == len(compressed.body) < len(plain.body)
    assert gzip.decompress(compressed.body) == plain.body
    assert compressed.header("ETag") != plain.header("ETag")
    assert compressed.header("Vary") == "Accept, Accept-Encoding"


def test_accept_encoding_lines_joined(gateway):
    """Accept-Encoding sent on two lines is one list: the second line's gzip counts."""
    response = gateway.request(
        "GET", "/-/", [("Accept-Encoding", "br"), ("Accept-Encoding", "gzip")])
    assert response.header("Content-Encoding") == "gzip"


def test_identity_refused(gateway):
    """identity;q=0 gets gzip; refusing gzip too is a 406 naming the codings there are."""
    assert gateway.request(
        "GET", "/-/", [("Accept-Encoding", "identity;q=0")]).status == 406
    assert gateway.request(
        "GET", "/-/", [("Accept-Encoding", "gzip, identity;q=0")]
    ).header("Content-Encoding") == "gzip"
    refused = gateway.request("GET", "/-/", [("Accept-Encoding", "br, *;q=0")])
    assert refused.status == 406
    assert b"accept one of: gzip, identity" in refused.body


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("encoding", [[], GZIP])
def test_not_modified(gateway, method, encoding):
    """
    If-None-Match naming the current tag (or C{*}) is a 304 with no body and
    no Content-Length, carrying the ETag and Vary the 200 carries.
    """
    etag = gateway.request("GET", "/-/", encoding).header("ETag")
    for condition in (etag, f'W/{etag}, "stale"', "*"):
        response = gateway.request(method, "/-/", [*encoding, ("If-None-Match", condition)])
        assert response.status == 304
        assert response.body == b""
        assert response.header("Content-Length") is None
        assert response.header("Content-Encoding") is None
        assert response.header("ETag") == etag
        assert response.header("Vary") == "Accept, Accept-Encoding"


def test_etag_of_one_coding_does_not_match_the_other(gateway):
    """The identity tag does not make a gzip request a 304, nor the other way round."""
    plain = gateway.request("GET", "/-/").header("ETag")
    compressed = gateway.request("GET", "/-/", GZIP).header("ETag")
    assert gateway.request("GET", "/-/", [*GZIP, ("If-None-Match", plain)]).status == 200
    assert gateway.request("GET", "/-/", [("If-None-Match", compressed)]).status == 200


def test_head_answers_the_headers_of_get(gateway):
    """HEAD answers exactly the headers GET does (Date aside), for both codings."""
    for encoding in ([], GZIP):
        got = gateway.request("GET", "/-/", encoding)
        head = gateway.request("HEAD", "/-/", encoding)
        assert head.status == 200 and head.body == b""
        assert [h for h in head.headers if h[0] != "Date"] == [
            h for h in got.headers if h[0] != "Date"]


def test_bad_if_none_match_is_400(gateway):
    """An unquoted tag is a 400 saying how to quote it, not a 200 or a 500."""
    response = gateway.request("GET", "/-/", [("If-None-Match", "abc")])
    assert response.status == 400
    assert b"quoted entity tags" in response.body


def test_etag_changes_with_what_is_sent(gateway):
    """The tag follows the bytes: the catalogue, the media type, the OCCI version."""
    etag = gateway.request("GET", "/-/").header("ETag")
    others = {
        gateway.request("GET", "/-/", [("Accept", "text/occi")]).header("ETag"),
        gateway.request("GET", "/-/", [("Accept", "application/occi+json")]).header("ETag"),
        gateway.request("GET", "/-/", [("User-Agent", "rOCCI-cli OCCI/1.1")]).header("ETag"),
    }
    assert len(others) == 3 and etag not in others
    gateway.backend.offer("fedcloud", "ami-00000000000000042", "extra")
    changed = gateway.request("GET", "/-/", [("If-None-Match", etag)])
    assert changed.status == 200
    assert changed.header("ETag") != etag
    assert "ami-00000000000000042" in changed.body.decode()


def test_same_bytes_same_etag():
    """Two accounts (or processes) sending the same bytes send the same tag."""
    backend = MemoryBackend()
    alice = make_gateway(backend=backend)
    other = make_gateway(principal=make_principal(dn="/CN=Other"),
                         binding=make_binding(account="other"), backend=backend)
    assert alice.request("GET", "/-/").header("ETag") == other.request("GET", "/-/").header("ETag")


def test_compressed_once(gateway, monkeypatch):
    """The gzip form is made once per rendering, not per request."""
    calls = []
    original = representations.gzip.compress

    def counting(data, *args, **kwargs):
        calls.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(representations.gzip, "compress", counting)
    for _ in range(3):
        assert gateway.request("GET", "/-/", GZIP).status == 200
        assert gateway.request("GET", "/-/").status == 200
    assert len(calls) == 1
    gateway.backend.offer("fedcloud", "ami-00000000000000042", "extra")
    assert gateway.request("GET", "/-/", GZIP).status == 200
    assert len(calls) == 2


def test_small_body_not_compressed(gateway):
    """text/occi's body (C{OK}) is not made larger by gzip: it is sent as it is, with its ETag."""
    response = gateway.request("GET", "/-/", [("Accept", "text/occi"), *GZIP])
    assert response.status == 200
    assert response.header("Content-Encoding") is None
    assert response.body == b"OK"
    assert response.header("ETag") is not None


def test_filtered_query_uncached(gateway):
    """A query filtered by Category is rendered as before: no ETag, no gzip."""
    response = gateway.request("GET", "/-/", [
        *GZIP,
        ("Category", 'compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; '
                     'class="kind"')])
    assert response.status == 200
    assert response.header("ETag") is None
    assert response.header("Content-Encoding") is None
    assert response.body.decode().startswith("Category: compute;")
