# -*- test-case-name: tests.test_gsi_voms -*-
"""
The ASN.1 of VOMS attribute certificates: the object identifiers, the
asn1crypto classes for the structures asn1crypto does not know, and the
comparison and printing of the names an AC carries.

Pure: asn1crypto and cryptography only.  The rules that use these
structures are in L{occid.gsi.voms} and L{occid.gsi.vomssigner}; the
credential factories that build ACs use them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from occid.gsi.names import slash_dn

#: The proxy extension holding the ACs: SEQUENCE OF SEQUENCE OF AC.
AC_EXTENSION = "1.3.6.1.4.1.8005.100.100.5"
#: The AC attribute holding the FQANs (IetfAttrSyntax).
FQAN_ATTRIBUTE = "1.3.6.1.4.1.8005.100.100.4"
#: AC extension: the VOMS signer's certificate chain.
CERTSEQ = "1.3.6.1.4.1.8005.100.100.10"
#: AC extension: generic attributes.
GENERIC_ATTRIBUTES = "1.3.6.1.4.1.8005.100.100.11"
#: AC extension: the services the AC is meant for.
TARGETS = "2.5.29.55"
#: AC extension: no revocation information will be published.
NO_REV_AVAIL = "2.5.29.56"
#: AC extension: the key identifier of the signer.
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"

#: A structural key of a distinguished name: its RDNs in order, each a set
#: of C{(OID, value)} pairs.
NameKey = tuple[frozenset[tuple[str, Any]], ...]


class ACList(core.SequenceOf):
    """The ACs of one VOMS server."""

    _child_spec = cms.AttributeCertificateV2


class ACLists(core.SequenceOf):
    """The value of L{AC_EXTENSION}: one inner list per VOMS server."""

    _child_spec = ACList


class SignerCertificates(core.SequenceOf):
    """One signer chain, signer first."""

    _child_spec = asn1_x509.Certificate


class CertSeq(core.SequenceOf):
    """The value of L{CERTSEQ}: SEQUENCE OF SEQUENCE OF Certificate."""

    _child_spec = SignerCertificates


class Target(core.Choice):
    """One target: a service name, a group, or a certificate."""

    _alternatives: ClassVar[list[tuple[Any, ...]]] = [
        ("target_name", asn1_x509.GeneralName, {"explicit": 0}),
        ("target_group", asn1_x509.GeneralName, {"explicit": 1}),
        ("target_cert", core.Any, {"implicit": 2}),
    ]


class Targets(core.SequenceOf):
    """A list of L{Target}s."""

    _child_spec = Target


class TargetsList(core.SequenceOf):
    """The value of L{TARGETS}: SEQUENCE OF Targets."""

    _child_spec = Targets


class GAEntry(core.Sequence):
    """One generic attribute: name, value and qualifier."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("name", core.OctetString),
        ("value", core.OctetString),
        ("qualifier", core.OctetString),
    ]


class GAEntries(core.SequenceOf):
    """The generic attributes one grantor gives."""

    _child_spec = GAEntry


class GAProvider(core.Sequence):
    """A grantor and its generic attributes."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("grantor", asn1_x509.GeneralNames),
        ("attributes", GAEntries),
    ]


class GAProviders(core.SequenceOf):
    """The grantors of generic attributes."""

    _child_spec = GAProvider


class GAValue(core.Sequence):
    """The value of L{GENERIC_ATTRIBUTES}."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [("providers", GAProviders)]


def name_key(name: x509.Name) -> NameKey:
    """The L{NameKey} of a cryptography Name."""
    return tuple(frozenset((a.oid.dotted_string, a.value) for a in rdn) for rdn in name.rdns)


def asn1_name_key(name: asn1_x509.Name) -> NameKey:
    """The same key as L{name_key} for an asn1crypto Name."""
    return tuple(
        frozenset((a["type"].dotted, a["value"].native) for a in rdn) for rdn in name.chosen
    )


class SameName:
    """
    An asn1crypto Name, compared with cryptography Names: by DER first (what
    VOMS servers copy, and cheap: the asn1crypto Name keeps the bytes it was
    read from; its explicit tag in a GeneralName is no part of the name),
    else by L{name_key} (the same attributes and values in other string
    types), its own key computed once.
    """

    def __init__(self, name: asn1_x509.Name):
        self._name = name
        #: the DER of the name
        self.der = name.untag().dump()
        self._key: NameKey | None = None

    def __call__(self, *others: x509.Name) -> bool:
        """Whether one of C{others} is this name (all DER compared before any key)."""
        if any(other.public_bytes() == self.der for other in others):
            return True
        if self._key is None:
            self._key = asn1_name_key(self._name)
        return any(name_key(other) == self._key for other in others)


class PrintedName:
    """
    An AC's issuer name, printed in slash form the first time a message
    needs it (accepted ACs never do).
    """

    def __init__(self, name: asn1_x509.Name):
        self._name = name
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _slash(self._name)
        return self._text


def _slash(name: asn1_x509.Name) -> str:
    """An asn1crypto Name in slash form, for messages."""
    try:
        return slash_dn(x509.Name([
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.ObjectIdentifier(a["type"].dotted), str(a["value"].native))
                 for a in rdn]
            )
            for rdn in name.chosen
        ]))
    except ValueError:
        return str(name.human_friendly)


@dataclass(frozen=True, slots=True, kw_only=True)
class ACParts:
    """
    The DER of each field of an attribute certificate that the rules read,
    sliced out of the AC's bytes without building asn1crypto's objects
    (L{split_ac}) or, for an AC of another shape, taken from them
    (L{parts_of}); the same bytes either way.

    @ivar ac_info: the signed AttributeCertificateInfo.
    @ivar extensions: empty when the AC has none.
    @ivar signature: the signature BIT STRING (read by asn1crypto when the
        signature is checked, as before).
    """

    ac_info: bytes
    version: bytes
    holder: bytes
    issuer: bytes
    validity: bytes
    attributes: bytes
    extensions: bytes
    signature_algorithm: bytes
    signature: bytes


#: The DER tags of AttributeCertificateInfo's fields, in order: version,
#: holder, issuer (v1 or v2 form), signature, serialNumber, validity,
#: attributes; then issuerUniqueID and extensions, both optional.
_INFO_TAGS = ((0x02,), (0x30,), (0x30, 0xA0), (0x30,), (0x02,), (0x30,), (0x30,))
_SEQUENCE, _BIT_STRING = 0x30, 0x03


def split_ac(der: bytes) -> ACParts | None:
    """
    The L{ACParts} of the DER of an AC, or C{None} when it is not exactly
    the shape of RFC 5755's AttributeCertificate (single-byte tags,
    definite lengths, no trailing bytes).  What is inside the parts is not
    looked at: the rules read it, through asn1crypto, unless they read the
    same bytes before.
    """
    try:
        tag, start, end = _element(der, 0)
        if tag != _SEQUENCE or end != len(der):
            return None
        outer = _elements(der, start, end)
        if [e[0] for e in outer] != [_SEQUENCE, _SEQUENCE, _BIT_STRING]:
            return None
        info, algorithm, signature = outer
        fields = _elements(der, info[2], info[3])
    except (ValueError, IndexError):
        return None
    tags = [f[0] for f in fields]
    if len(fields) < 7 or not all(t in allowed for t, allowed in zip(tags, _INFO_TAGS, strict=False)):
        return None
    rest = tags[7:]
    if rest not in ([], [_BIT_STRING], [_SEQUENCE], [_BIT_STRING, _SEQUENCE]):
        return None

    def whole(element: tuple[int, int, int, int]) -> bytes:
        return der[element[1]:element[3]]

    return ACParts(
        ac_info=whole(info),
        version=whole(fields[0]),
        holder=whole(fields[1]),
        issuer=whole(fields[2]),
        validity=whole(fields[5]),
        attributes=whole(fields[6]),
        extensions=whole(fields[-1]) if rest[-1:] == [_SEQUENCE] else b"",
        signature_algorithm=whole(algorithm),
        signature=whole(signature),
    )


def parts_of(ac: cms.AttributeCertificateV2) -> ACParts:
    """The L{ACParts} of a parsed AC (asn1crypto keeps the bytes it read)."""
    info = ac["ac_info"]
    return ACParts(
        ac_info=info.dump(),
        version=info["version"].dump(),
        holder=info["holder"].dump(),
        issuer=info["issuer"].dump(),
        validity=info["att_cert_validity_period"].dump(),
        attributes=info["attributes"].dump(),
        extensions=info["extensions"].dump(),
        signature_algorithm=ac["signature_algorithm"].dump(),
        signature=ac["signature"].dump(),
    )


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """The tag, the start of the contents and the end of the element at C{at}."""
    tag = der[at]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tag")
    length = der[at + 1]
    start = at + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("indefinite or oversized length")
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError("truncated")
    return tag, start, end


def _elements(der: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements from C{start} to C{end}: (tag, offset, contents start, end) each."""
    found = []
    at = start
    while at < end:
        tag, contents, after = _element(der, at)
        if after > end:
            raise ValueError("element beyond its parent")
        found.append((tag, at, contents, after))
        at = after
    return found
