# -*- test-case-name: tests.test_gsi_names -*-
"""
Tests for L{occid.gsi.names}: the OpenSSL slash form and the structural form
of distinguished names.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from OpenSSL import crypto

from occid.gsi.names import ambiguous_value, rdn_sequence, slash_dn
from tests.pki import name, pooled_key


def _openssl_oneline(subject: x509.Name) -> str:
    """What OpenSSL's X509_NAME_oneline prints for C{subject} (via pyOpenSSL's repr)."""
    key = pooled_key(2048, 0)
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now).sign(key, hashes.SHA256())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = repr(crypto.X509.from_cryptography(certificate).get_subject())
    return text[len("<X509Name object '") : -len("'>")]


def _attribute(oid, value, type_=None):
    if type_ is None:
        return x509.NameAttribute(oid, value)
    return x509.NameAttribute(oid, value, _type=type_)


def test_grid_user_dn():
    """A typical grid DN prints in the slash form, most significant RDN first."""
    dn = "/DC=org/DC=example/OU=Users/CN=Jane Doe"
    assert slash_dn(name(dn)) == dn


def test_short_names_match_openssl():
    """Every attribute prints with OpenSSL's short name (emailAddress, UID, serialNumber, unknown OIDs)."""
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([_attribute(NameOID.COUNTRY_NAME, "DE")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.STATE_OR_PROVINCE_NAME, "Bavaria")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.LOCALITY_NAME, "Munich")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.ORGANIZATION_NAME, "Example")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.USER_ID, "jdoe")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.SERIAL_NUMBER, "42")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.SURNAME, "Doe")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.GIVEN_NAME, "Jane")]),
            x509.RelativeDistinguishedName([_attribute(x509.ObjectIdentifier("1.2.3.4.5"), "odd")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.EMAIL_ADDRESS, "jane@example.org")]),
        ]
    )
    assert slash_dn(subject) == _openssl_oneline(subject)
    assert "/emailAddress=jane@example.org" in slash_dn(subject)


def test_escaping_matches_openssl():
    """Non-ASCII UTF-8 and BMPString values are escaped byte by byte as \\xHH, as OpenSSL does."""
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, "Jürgen Müller")]),
            x509.RelativeDistinguishedName(
                [_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Zé", _ASN1Type.BMPString)]
            ),
        ]
    )
    assert slash_dn(subject) == _openssl_oneline(subject)
    assert slash_dn(subject).startswith("/CN=J\\xC3\\xBCrgen")


def test_multi_valued_rdn_joins_with_plus():
    """A multi-valued RDN prints its attributes joined by +, like OpenSSL."""
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([_attribute(NameOID.DOMAIN_COMPONENT, "org")]),
            x509.RelativeDistinguishedName(
                [_attribute(NameOID.COMMON_NAME, "a"), _attribute(NameOID.USER_ID, "b")]
            ),
        ]
    )
    assert slash_dn(subject) == _openssl_oneline(subject)


def test_slash_in_value_is_ambiguous_but_structure_is_not():
    """A value containing /CN= prints like two RDNs, while rdn_sequence keeps them apart."""
    one = x509.Name([x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, "a/CN=b")])])
    two = name("/CN=a/CN=b")
    assert slash_dn(one) == slash_dn(two)
    assert rdn_sequence(one) != rdn_sequence(two)


@pytest.mark.parametrize(
    "value",
    ["a/CN=b", "a/cn=b", "a+UID=b", "a/emailAddress=b", "a/Email=b", "a/2.5.4.3=b", "/DC=org"],
)
def test_ambiguous_value_found(value):
    """A value holding '/' or '+', an attribute name (any case, LSC
    spellings, or an OID) and '=' is found, whichever RDN holds it."""
    last = x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, value)])
    subject = x509.Name([*name("/DC=org/OU=x").rdns, last])
    assert ambiguous_value(subject) == value


def test_plus_in_value_prints_like_a_multi_valued_rdn():
    """The '+' case is a real ambiguity: a value containing +UID= prints
    like a multi-valued RDN."""
    single = x509.Name([x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, "a+UID=b")])])
    multi = x509.Name(
        [x509.RelativeDistinguishedName(
            [_attribute(NameOID.COMMON_NAME, "a"), _attribute(NameOID.USER_ID, "b")]
        )]
    )
    assert slash_dn(single) == slash_dn(multi)
    assert (ambiguous_value(single), ambiguous_value(multi)) == ("a+UID=b", None)


@pytest.mark.parametrize("value", ["Jane Doe", "a/b", "a=b", "a/Doe=b", "a+b", "R&D/Grid 2"])
def test_unambiguous_value(value):
    """Slashes and pluses not followed by an attribute name and '=' are fine."""
    last = x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, value)])
    subject = x509.Name([*name("/DC=org").rdns, last])
    assert ambiguous_value(subject) is None


def test_rdn_sequence_is_order_and_grouping_sensitive():
    """rdn_sequence distinguishes RDN order and single- from multi-valued RDNs, and ignores string types."""
    a = name("/DC=org/CN=x")
    assert rdn_sequence(a) == rdn_sequence(name("/DC=org/CN=x"))
    assert rdn_sequence(a) != rdn_sequence(name("/CN=x/DC=org"))
    grouped = x509.Name(
        [x509.RelativeDistinguishedName(
            [_attribute(NameOID.DOMAIN_COMPONENT, "org"), _attribute(NameOID.COMMON_NAME, "x")]
        )]
    )
    assert rdn_sequence(grouped) != rdn_sequence(a)
    printable = x509.Name(
        [
            x509.RelativeDistinguishedName([_attribute(NameOID.DOMAIN_COMPONENT, "org")]),
            x509.RelativeDistinguishedName([_attribute(NameOID.COMMON_NAME, "x", _ASN1Type.PrintableString)]),
        ]
    )
    assert rdn_sequence(printable) == rdn_sequence(a)
