# -*- test-case-name: tests.test_gsi_readable -*-
"""
Tests for L{occid.gsi.readable}: certificates whose lazily parsed parts
cannot be read are named with what is wrong; readable ones pass.
"""

from __future__ import annotations

import pytest
from cryptography import x509

from occid.gsi.readable import unreadable
from tests.pki import PKI, with_extension_twice


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test PKI."""
    return PKI(tmp_path_factory.mktemp("pki"))


def test_readable(pki):
    """A well-formed certificate has nothing unreadable."""
    assert unreadable(pki.user.certificate) is None
    assert unreadable(pki.issue_proxy(pki.user).certificate) is None


def test_extension_twice(pki):
    """A certificate carrying an extension twice is unreadable, and the
    repeated OID is named."""
    twice = with_extension_twice(pki.user.certificate, pki.ca.private_key, "2.5.29.15")
    assert unreadable(twice) == "the extension 2.5.29.15 appears twice"


def test_garbage_in_a_known_extension(pki):
    """A keyUsage extension whose value is not a BIT STRING makes the
    extensions unreadable."""
    garbage = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.15"), b"\x01\x02garbage")
    proxy = pki.issue_proxy(pki.user, extensions=[(garbage, True)])
    assert unreadable(proxy.certificate).startswith("its extensions cannot be parsed")
