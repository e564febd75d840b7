# -*- test-case-name: tests.test_gsi_names -*-
"""
Distinguished names in the two forms occid needs.

L{slash_dn} is the OpenSSL C{X509_NAME_oneline} text,
C{/DC=org/DC=example/OU=Users/CN=Jane Doe}: the form grid tools, LSC files
and policy files use, and the one occid logs, matches and hashes.  It is
ambiguous (a value may contain C{/CN=}), so proxy rules never compare it:
they compare L{rdn_sequence}, the structural form.  L{ambiguous_value}
finds the values that make two different names print alike; occid refuses
certificates whose identity has one.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.name import _ASN1Type

# OpenSSL's short names (OBJ_nid2sn); any other attribute prints as its OID.
SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.13": "description",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.41": "name",
    "2.5.4.42": "GN",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.2.840.113549.1.9.2": "unstructuredName",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

# A separator, an attribute name as printed (or as LSC files spell it), "=":
# a value holding this reads like the start of another attribute.
_ATTRIBUTE_START = re.compile(
    r"[/+](?:"
    + "|".join(
        re.escape(n) for n in sorted({*SHORT_NAMES.values(), "Email", "E", "USERID"}, key=len, reverse=True)
    )
    + r"|\d+(?:\.\d+)+)=",
    re.IGNORECASE,
)

# How the value's bytes sit in the certificate, by ASN.1 string type.
_ENCODINGS = {
    _ASN1Type.BMPString: "utf-16-be",
    _ASN1Type.UniversalString: "utf-32-be",
}


def slash_dn(name: x509.Name) -> str:
    """
    C{name} as OpenSSL's C{X509_NAME_oneline} prints it: each RDN as
    C{/short=value}, the attributes of a multi-valued RDN joined by C{+},
    and every value byte outside printable ASCII as C{\\xHH}.
    """
    parts = []
    for rdn in name.rdns:
        separator = "/"
        for attribute in rdn:
            oid = attribute.oid.dotted_string
            parts.append(separator)
            parts.append(SHORT_NAMES.get(oid, oid))
            parts.append("=")
            parts.append(_escape(attribute))
            separator = "+"
    return "".join(parts)


def ambiguous_value(name: x509.Name) -> str | None:
    """
    The first value of C{name} (as L{slash_dn} prints it) holding C{/} or
    C{+} followed by an attribute name and C{=}, such as C{Jane/CN=Doe}:
    with it, L{slash_dn} prints the same text for structurally different
    names.  C{None} when there is none.
    """
    for rdn in name.rdns:
        for attribute in rdn:
            value = _escape(attribute)
            if _ATTRIBUTE_START.search(value):
                return value
    return None


def _escape(attribute: x509.NameAttribute) -> str:
    value = attribute.value
    if isinstance(value, bytes):
        raw = value
    else:
        # cryptography keeps the ASN.1 string type only in this attribute.
        raw = value.encode(_ENCODINGS.get(attribute._type, "utf-8"))
    if all(32 <= b <= 126 for b in raw):
        return raw.decode("ascii")
    return "".join(chr(b) if 32 <= b <= 126 else f"\\x{b:02X}" for b in raw)


def rdn_sequence(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
    """
    C{name} as a tuple of RDNs, each a sorted tuple of (OID, value) pairs:
    the structural form that proxy-name rules compare.
    """
    return tuple(
        tuple(sorted((a.oid.dotted_string, _text(a.value)) for a in rdn)) for rdn in name.rdns
    )


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.hex()
