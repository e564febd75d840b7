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
