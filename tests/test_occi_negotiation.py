"""
Tests for L{occid.occi.negotiation} (Accept, Accept-Encoding and OCCI version) and the
Content-Type of request bodies, read by L{occid.occi.rendering.media_type_of}.
"""

import pytest

from occid.occi.errors import NotAcceptable, Unimplemented
from occid.occi.negotiation import check_occi_version, content_coding, negotiate
from occid.occi.rendering import media_type_of

OFFERED = ("text/plain", "text/occi", "text/uri-list", "application/occi+json")


@pytest.mark.parametrize(
    "accept, expected",
    [
        (None, "text/plain"),
        ("", "text/plain"),
        ("*/*", "text/plain"),
        ("text/*", "text/plain"),
        ("text/occi", "text/occi"),
        ("TEXT/OCCI", "text/occi"),
        ("text/plain,text/occi", "text/plain"),
        ("text/plain,text/occi;q=0.2", "text/plain"),
        ("text/plain;q=0.1, text/occi", "text/occi"),
        ("application/occi+json, */*;q=0.1", "application/occi+json"),
        ("text/uri-list", "text/uri-list"),
        ("text/*;q=0.5, application/occi+json;q=0.6", "application/occi+json"),
        ("text/plain;q=0, */*", "text/occi"),
        ("text/html, text/plain;q=bogus, text/occi", "text/occi"),
    ],
)
def test_negotiate(accept, expected):
    """Negotiation honours q-values and specificity and defaults to text/plain."""
    assert negotiate(accept, OFFERED) == expected


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, image/*", "text/plain;q=0", "*/*;q=0"]
)
def test_negotiate_nothing_acceptable(accept):
    """An Accept naming nothing occid renders is a 406 naming what it offers."""
    with pytest.raises(NotAcceptable) as raised:
        negotiate(accept, OFFERED)
    assert raised.value.status == 406
    assert "text/plain" in raised.value.message


@pytest.mark.parametrize(
    "content_type, expected",
    [
        ("", "text/plain"),
        ("text/plain,text/occi", "text/plain"),
        ("text/occi", "text/occi"),
        ("Application/OCCI+JSON; charset=utf-8", "application/occi+json"),
        (" text/plain ; charset=utf-8 , text/occi", "text/plain"),
    ],
)
def test_request_media_type(content_type, expected):
    """
    The first item of a Content-Type list, without parameters, is the type;
    none means text/plain.  (The server hands the header to
    L{occid.occi.rendering.parse} as it came, or C{""} when absent.)
    """
    assert media_type_of(content_type) == expected


@pytest.mark.parametrize(
    "user_agent",
    [
        None,
        "",
        "curl/8.5.0",
        "rOCCI-core/4.3.6 rOCCI-api/4.3.15 OCCI/1.1 ruby-3.1",
        "client OCCI/1.2",
        "client OCCI/1.1 OCCI/2.0",
    ],
)
def test_occi_version_served(user_agent):
    """Clients naming no version, or one up to 1.2, are served."""
    check_occi_version(user_agent)


@pytest.mark.parametrize("user_agent", ["client OCCI/2.0", "x OCCI/1.3", "OCCI/10.0"])
def test_occi_version_too_high(user_agent):
    """A client speaking only OCCI above 1.2 gets 501 (GFD.185 Versioning)."""
    with pytest.raises(Unimplemented) as raised:
        check_occi_version(user_agent)
    assert raised.value.status == 501


@pytest.mark.parametrize(
    "accept_encoding, expected",
    [
        (None, "identity"),
        ("", "identity"),
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate, gzip, br, zstd", "gzip"),
        ("gzip;q=1.0,deflate;q=0.6,identity;q=0.3", "gzip"),
        ("gzip;q=0.5, identity", "identity"),
        ("gzip;q=0.5, identity;q=0.5", "gzip"),
        ("gzip;q=0", "identity"),
        ("br, deflate", "identity"),
        ("*", "gzip"),
        ("*;q=0.4, identity", "identity"),
        ("identity;q=0, *", "gzip"),
        ("*;q=0, gzip", "gzip"),
        ("*;q=0, identity", "identity"),
        ("identity;q=0, gzip;q=bogus, *;q=0.1", "gzip"),
        ("gzip;q=0.001", "identity"),
    ],
)
def test_content_coding(accept_encoding, expected):
    """RFC 9110 Accept-Encoding: qualities, C{*}, identity acceptable unless refused."""
    assert content_coding(accept_encoding, ("gzip",)) == expected


@pytest.mark.parametrize(
    "accept_encoding, available",
    [
        ("identity;q=0", ("gzip",)),
        ("*;q=0", ("gzip",)),
        ("gzip;q=0, identity;q=0", ("gzip",)),
        ("br, identity;q=0", ("gzip",)),
        ("gzip, identity;q=0", ()),
    ],
)
def test_content_coding_refused(accept_encoding, available):
    """A client refusing identity and every available coding gets 406 naming what there is."""
    with pytest.raises(NotAcceptable) as raised:
        content_coding(accept_encoding, available)
    assert "accept one of: " + ", ".join((*available, "identity")) in raised.value.message
