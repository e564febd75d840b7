# -*- test-case-name: tests.test_gsi_proxy -*-
"""
Proxy certificates: the RFC 3820 ProxyCertInfo extension and its policy
languages, and telling an RFC 3820, legacy (pre-RFC Globus) or draft
(GSI-3) proxy from any other certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.x509.oid import NameOID

from occid.gsi.dermemo import DerMemo
from occid.gsi.names import rdn_sequence
from occid.gsi.refusal import SubjectNames, reject
from occid.gsi.trust import is_ca

#: The RFC 3820 ProxyCertInfo extension.
PCI = "1.3.6.1.5.5.7.1.14"
#: The ProxyCertInfo extension of draft (GSI-3) proxies.
DRAFT_PCI = "1.3.6.1.4.1.3536.1.222"
#: Policy language: the proxy inherits all its issuer's rights.
INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
#: Policy language: the proxy inherits no rights (grants no identity).
INDEPENDENT = "1.3.6.1.5.5.7.21.2"
#: Policy language: a limited proxy.
LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"

_LEGACY_CNS = ("proxy", "limited proxy")


class ProxyPolicy(asn1.Sequence):
    """RFC 3820 ProxyPolicy: a policy language OID and an optional policy."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("policy_language", asn1.ObjectIdentifier),
        ("policy", asn1.OctetString, {"optional": True}),
    ]


class ProxyCertInfo(asn1.Sequence):
    """RFC 3820 ProxyCertInfo, the value of the C{PCI} extension."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("path_len", asn1.Integer, {"optional": True}),
        ("proxy_policy", ProxyPolicy),
    ]


@dataclass(frozen=True)
class ProxyInfo:
    """
    A proxy certificate and what its proxy extension (or legacy name) says.

    @ivar kind: C{"rfc"}, C{"legacy"} or C{"draft"}.
    @ivar limited: a limited proxy.
    @ivar pathlen: how many proxies may follow it, if limited.
    @ivar pci_critical: its proxy extension is marked critical.
    @ivar language: the policy language OID of an RFC 3820 proxy.
    """

    certificate: x509.Certificate
    kind: str
    limited: bool
    pathlen: int | None
    pci_critical: bool
    language: str | None


def classify(certificate: x509.Certificate, names: SubjectNames) -> ProxyInfo | None:
    """
    What kind of proxy C{certificate} is, or C{None} for a non-proxy.

    @raise CertificateRejected: (C5) its ProxyCertInfo is malformed.
    """
    for extension in certificate.extensions:
        oid = extension.oid.dotted_string
        if oid == PCI:
            return _parse_pci(certificate, extension, names)
        if oid == DRAFT_PCI:
            return ProxyInfo(certificate, "draft", False, None, extension.critical, None)
    subject = certificate.subject.rdns
    if len(subject) != len(certificate.issuer.rdns) + 1 or is_ca(certificate):
        return None
    if rdn_sequence(x509.Name(subject[:-1])) != rdn_sequence(certificate.issuer):
        return None
    last = rdn_sequence(x509.Name(subject[-1:]))[0]
    if len(last) == 1 and last[0][0] == NameOID.COMMON_NAME.dotted_string and last[0][1] in _LEGACY_CNS:
        return ProxyInfo(certificate, "legacy", last[0][1] == "limited proxy", None, False, None)
    return None


def _read_pci(extension: x509.Extension[x509.ExtensionType]) -> tuple[str, int | None]:
    """The policy language and path length of a ProxyCertInfo."""
    info = ProxyCertInfo.load(extension.value.public_bytes(), strict=True)
    return info["proxy_policy"]["policy_language"].dotted, info["path_len"].native


#: What ProxyCertInfo extensions say, by their DER (the same in every proxy of a kind).
_POLICIES: DerMemo[tuple[str, int | None]] = DerMemo()


def _parse_pci(
    certificate: x509.Certificate, extension: x509.Extension[x509.ExtensionType], names: SubjectNames
) -> ProxyInfo:
    try:
        language, pathlen = _POLICIES.read(extension.value.public_bytes(), lambda: _read_pci(extension))
    except (ValueError, TypeError, KeyError) as e:
        raise reject("C5", f"the ProxyCertInfo of {names(certificate)} is malformed ({e})") from None
    if pathlen is not None and pathlen < 0:
        raise reject("C5", f"the ProxyCertInfo of {names(certificate)} has a negative path length")
    return ProxyInfo(certificate, "rfc", language == LIMITED, pathlen, extension.critical, language)
