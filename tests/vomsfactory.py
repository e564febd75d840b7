# -*- test-case-name: tests.test_gsi_voms -*-
"""
VOMS attribute certificates built in Python, for the tests.

L{build_ac} makes an RFC 5755 AC the way a VOMS server does (by default a
valid one for C{testvo}, signed with the test PKI's VOMS key), with a knob
for every hostile variant the C tools refuse to write: another holder, any
validity, targets, unknown critical extensions, a wrong or missing
authorityKeyIdentifier, no noRevAvail, version 1, FQANs outside the VO.
L{ac_extension} packs ACs (several, of several VOs) into the proxy
extension that L{tests.pki.PKI.issue_proxy} embeds.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from occid.gsi import vomsasn1 as voms

#: Leave an optional part out.
OMIT = object()


def _asn1_name(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _extension(oid: str, value: core.Asn1Value | bytes, critical: bool) -> dict:
    der = value if isinstance(value, bytes) else value.dump()
    return {"extn_id": oid, "critical": critical, "extn_value": core.ParsableOctetString(der)}


def targets_value(hosts: Sequence[str]) -> voms.TargetsList:
    """A targets extension value naming C{hosts} as URIs."""
    return voms.TargetsList([
        voms.Targets([
            voms.Target(
                name="target_name",
                value=asn1_x509.GeneralName(name="uniform_resource_identifier", value=host),
            )
            for host in hosts
        ])
    ])


def build_ac(
    *,
    signer,
    holder: x509.Certificate,
    now: datetime,
    vo: str = "testvo",
    voms_host: str = "voms.example.org",
    fqans: Sequence[str] = ("/testvo",),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    holder_name: x509.Name | None = None,
    holder_serial: int | None = None,
    issuer: x509.Name | None = None,
    version: str = "v2",
    targets: Sequence[str] | None = None,
    certseq: Sequence[x509.Certificate] | object | None = None,
    authority_key_id: bytes | object | None = None,
    no_rev_avail: bool = True,
    critical: frozenset[str] = frozenset({voms.TARGETS}),
    extra_extensions: Sequence[tuple[str, bytes, bool]] = (),
    generic_attributes: Sequence[tuple[str, str, str]] = (),
) -> cms.AttributeCertificateV2:
    """
    An AC for C{holder} signed by the credential C{signer}.

    Defaults follow voms-proxy-fake: valid from C{now} for 12 hours, holder
    issuer = the holder's subject ("old" format; pass C{holder.issuer} for
    the RFC format), policyAuthority C{vo://voms_host:15000}, the signer's
    certificate as certseq, AKI = the signer's key id, noRevAvail.
    C{OMIT} leaves C{certseq} or C{authority_key_id} out; C{critical} lists
    the extension OIDs marked critical; C{extra_extensions} adds
    C{(oid, DER value, critical)} extensions.
    """
    not_before = not_before or now
    not_after = not_after or now + timedelta(hours=12)
    authority = f"{vo}://{voms_host}:15000"
    fqan_attribute = cms.IetfAttrSyntax({
        "policy_authority": [asn1_x509.GeneralName(name="uniform_resource_identifier", value=authority)],
        "values": [cms.IetfAttrValue(name="octets", value=f.encode()) for f in fqans],
    })
    if certseq is None:
        certseq = [signer.certificate]
    if authority_key_id is None:
        authority_key_id = signer.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest

    extensions = []
    if generic_attributes:
        extensions.append((voms.GENERIC_ATTRIBUTES, voms.GAValue({
            "providers": [{
                "grantor": [asn1_x509.GeneralName(name="uniform_resource_identifier", value=authority)],
                "attributes": [
                    {"name": n.encode(), "value": v.encode(), "qualifier": q.encode()}
                    for n, v, q in generic_attributes
                ],
            }]
        })))
    if certseq is not OMIT:
        extensions.append((voms.CERTSEQ, voms.CertSeq([
            voms.SignerCertificates([_asn1_certificate(c) for c in certseq])
        ])))
    if no_rev_avail:
        extensions.append((voms.NO_REV_AVAIL, core.Null()))
    if authority_key_id is not OMIT:
        extensions.append((voms.AUTHORITY_KEY_IDENTIFIER,
                           asn1_x509.AuthorityKeyIdentifier({"key_identifier": authority_key_id})))
    if targets is not None:
        extensions.append((voms.TARGETS, targets_value(targets)))
    extension_list = [_extension(oid, value, oid in critical) for oid, value in extensions]
    extension_list += [_extension(oid, der, crit) for oid, der, crit in extra_extensions]

    issuer_name = _asn1_name(issuer or signer.certificate.subject)
    info = cms.AttributeCertificateInfoV2({
        "version": version,
        "holder": {
            "base_certificate_id": {
                "issuer": [asn1_x509.GeneralName(
                    name="directory_name", value=_asn1_name(holder_name or holder.subject)
                )],
                "serial": holder.serial_number if holder_serial is None else holder_serial,
            }
        },
        "issuer": cms.AttCertIssuer(name="v2_form", value={
            "issuer_name": [asn1_x509.GeneralName(name="directory_name", value=issuer_name)]
        }),
        "signature": {"algorithm": "sha256_rsa"},
        "serial_number": secrets.randbits(64),
        "att_cert_validity_period": {
            "not_before_time": core.GeneralizedTime(not_before.replace(microsecond=0)),
            "not_after_time": core.GeneralizedTime(not_after.replace(microsecond=0)),
        },
        "attributes": [{
            "type": voms.FQAN_ATTRIBUTE,
            "values": [core.Any.load(fqan_attribute.dump())],
        }],
        "extensions": extension_list,
    })
    signature = signer.private_key.sign(info.dump(), padding.PKCS1v15(), hashes.SHA256())
    return cms.AttributeCertificateV2({
        "ac_info": info,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": signature,
    })


def with_signature_of(ac: cms.AttributeCertificateV2, other: cms.AttributeCertificateV2) -> cms.AttributeCertificateV2:
    """C{ac}'s contents carrying C{other}'s signature: a tampered AC."""
    return cms.AttributeCertificateV2({
        "ac_info": ac["ac_info"].copy(),
        "signature_algorithm": other["signature_algorithm"].copy(),
        "signature": other["signature"].native,
    })


def ac_extension(*lists: Sequence[cms.AttributeCertificateV2]) -> tuple[x509.UnrecognizedExtension, bool]:
    """The non-critical proxy extension holding C{lists} (one per VOMS server)."""
    value = voms.ACLists([voms.ACList(list(acs)) for acs in lists]).dump()
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(voms.AC_EXTENSION), value), False


def voms_proxy(pki, parent, *acs: cms.AttributeCertificateV2, **proxy_options):
    """A proxy of C{parent} carrying C{acs} in one list, via C{pki.issue_proxy}."""
    return pki.issue_proxy(parent, extensions=[ac_extension(acs)], **proxy_options)
