"""
The query interface's ETag, 304 and gzip as curl sees them over real TLS:
the daemon (C{twistd -n occid}) on a moto EC2 server, curl presenting a
C{voms-proxy-fake} proxy.
"""

from __future__ import annotations

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint)
    yield from started(daemon)


def test_compressed(daemon, proxy):
    """curl --compressed gets gzip and decodes it to the bytes a plain GET gets."""
    plain = curl(daemon, proxy, "/-/")
    compressed = curl(daemon, proxy, "/-/", "--compressed")
    assert plain.status == compressed.status == 200
    assert plain.header("Content-Encoding") is None
    assert compressed.header("Content-Encoding") == "gzip"
    assert int(compressed.header("Content-Length")) < int(plain.header("Content-Length"))
    assert compressed.body == plain.body
    assert "Category: compute;" in plain.body
    assert compressed.header("ETag") != plain.header("ETag")
    assert compressed.header("Vary") == plain.header("Vary") == "Accept, Accept-Encoding"


@pytest.mark.parametrize("encoding", [(), ("--compressed",)])
def test_if_none_match(daemon, proxy, encoding):
    """The ETag curl got, sent back in If-None-Match, is a 304 without a body; another is a 200."""
    etag = curl(daemon, proxy, "/-/", *encoding).header("ETag")
    unchanged = curl(daemon, proxy, "/-/", *encoding, "-H", f"If-None-Match: {etag}")
    assert unchanged.exit_code == 0
    assert unchanged.status == 304
    assert unchanged.body == ""
    assert unchanged.header("ETag") == etag
    other = curl(daemon, proxy, "/-/", *encoding, "-H", 'If-None-Match: "not-this-one"')
    assert other.status == 200 and other.header("ETag") == etag


def test_head_compressed(daemon, proxy):
    """HEAD with --compressed answers the headers of the gzip GET, and no body."""
    got = curl(daemon, proxy, "/-/", "--compressed")
    head = curl(daemon, proxy, "/-/", "--compressed", "--head")
    assert head.status == 200 and head.exit_code == 0
    for name in ("ETag", "Content-Length", "Content-Encoding", "Content-Type", "Vary"):
        assert head.header(name) == got.header(name)
