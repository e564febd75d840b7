# -*- test-case-name: tests.test_pki,tests.test_gsi_voms -*-
"""
The VOMS half of the credential factory: attribute certificates as a VOMS
server issues them, the proxy extension that carries them and the LSC file
that names their signer in a vomsdir.

L{attribute_certificate} composes the pieces above it (the FQAN attribute,
the signer's extensions, the AC body, the signature); the tests compose the
same pieces into the hostile ACs that VOMS servers never issue.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from occid.atomicfile import write_file
from occid.demo.pki import Credential
from occid.gsi import vomsasn1 as voms
from occid.gsi.names import slash_dn

__all__ = [
    "ac_body", "ac_extension", "attribute_certificate", "certseq_value", "directory_name", "extension",
    "fqan_attribute", "key_id_value", "policy_authority", "sign_ac", "signer_extensions", "write_lsc",
]


def directory_name(name: x509.Name) -> asn1_x509.GeneralName:
    """C{name} as an asn1crypto directoryName GeneralName."""
    return asn1_x509.GeneralName(name="directory_name", value=asn1_x509.Name.load(name.public_bytes()))


def policy_authority(vo: str, host: str) -> asn1_x509.GeneralName:
    """The URI C{<vo>://<host>:15000} that names a VOMS server in its ACs."""
    return asn1_x509.GeneralName(name="uniform_resource_identifier", value=f"{vo}://{host}:15000")


def fqan_attribute(vo: str, host: str, fqans: Sequence[str]) -> dict:
    """The AC attribute holding C{fqans}, issued by the VOMS server of C{vo} on C{host}."""
    syntax = cms.IetfAttrSyntax({
        "policy_authority": [policy_authority(vo, host)],
        "values": [cms.IetfAttrValue(name="octets", value=fqan.encode()) for fqan in fqans],
    })
    return {"type": voms.FQAN_ATTRIBUTE, "values": [core.Any.load(syntax.dump())]}


def extension(oid: str, value: core.Asn1Value | bytes, critical: bool = False) -> dict:
    """An AC extension C{oid} holding C{value} (an asn1crypto value, or DER)."""
    der = value if isinstance(value, bytes) else value.dump()
    return {"extn_id": oid, "critical": critical, "extn_value": core.ParsableOctetString(der)}


def certseq_value(certificates: Sequence[x509.Certificate]) -> voms.CertSeq:
    """The value of the VOMS certseq extension: the signer's C{certificates}."""
    return voms.CertSeq([voms.SignerCertificates([
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certificates])])


def key_id_value(key_id: bytes) -> asn1_x509.AuthorityKeyIdentifier:
    """The value of an authorityKeyIdentifier extension naming C{key_id}."""
    return asn1_x509.AuthorityKeyIdentifier({"key_identifier": key_id})


def signer_extensions(signer: x509.Certificate) -> list[dict]:
    """
    What a VOMS server adds to each AC, none critical: C{signer} embedded
    (certseq), noRevAvail, and C{signer}'s key id.
    """
    key_id = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return [
        extension(voms.CERTSEQ, certseq_value([signer])),
        extension(voms.NO_REV_AVAIL, core.Null()),
        extension(voms.AUTHORITY_KEY_IDENTIFIER, key_id_value(key_id)),
    ]


def ac_body(*, holder_name: x509.Name, holder_serial: int, issuer: x509.Name, not_before: datetime,
            not_after: datetime, attributes: Sequence[dict], extensions: Sequence[dict],
            version: str = "v2") -> cms.AttributeCertificateInfoV2:
    """
    The signed part of an RFC 5755 AC: the holder named by the issuer name
    and serial of its certificate (C{holder_name}, C{holder_serial}),
    C{issuer} in the v2 form, validity to the second, a random serial.
    """
    return cms.AttributeCertificateInfoV2({
        "version": version,
        "holder": {"base_certificate_id": {"issuer": [directory_name(holder_name)],
                                           "serial": holder_serial}},
        "issuer": cms.AttCertIssuer(name="v2_form", value={"issuer_name": [directory_name(issuer)]}),
        "signature": {"algorithm": "sha256_rsa"},
        "serial_number": secrets.randbits(63),
        "att_cert_validity_period": {
            "not_before_time": core.GeneralizedTime(not_before.replace(microsecond=0)),
            "not_after_time": core.GeneralizedTime(not_after.replace(microsecond=0)),
        },
        "attributes": list(attributes),
        "extensions": list(extensions),
    })


def sign_ac(body: cms.AttributeCertificateInfoV2, key: rsa.RSAPrivateKey) -> cms.AttributeCertificateV2:
    """C{body} signed by C{key} with SHA-256 and RSA."""
    return cms.AttributeCertificateV2({
        "ac_info": body,
        "signature_algorithm": {"algorithm": "sha256_rsa"},
        "signature": key.sign(body.dump(), padding.PKCS1v15(), hashes.SHA256()),
    })


def attribute_certificate(signer: Credential, holder: x509.Certificate, *, vo: str, host: str,
                          fqans: Sequence[str], not_before: datetime, not_after: datetime,
                          holder_name: x509.Name | None = None) -> cms.AttributeCertificateV2:
    """
    An AC as the VOMS server of C{vo} on C{host} issues it, signed by
    C{signer}: for C{holder} (named by its issuer, as RFC 5755 says, unless
    C{holder_name} is given: old VOMS servers name its subject), the FQANs
    C{fqans}, the extensions of L{signer_extensions}.
    """
    body = ac_body(
        holder_name=holder.issuer if holder_name is None else holder_name,
        holder_serial=holder.serial_number, issuer=signer.certificate.subject,
        not_before=not_before, not_after=not_after, attributes=[fqan_attribute(vo, host, fqans)],
        extensions=signer_extensions(signer.certificate))
    return sign_ac(body, signer.private_key)


def ac_extension(*lists: Sequence[cms.AttributeCertificateV2]) -> tuple[x509.UnrecognizedExtension, bool]:
    """The non-critical proxy extension holding C{lists} of ACs (one list per VOMS server)."""
    value = voms.ACLists([voms.ACList(list(acs)) for acs in lists]).dump()
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(voms.AC_EXTENSION), value), False


def write_lsc(vomsdir: str, vo: str, host: str, signer: x509.Certificate, ca: x509.Certificate) -> str:
    """Write C{<vomsdir>/<vo>/<host>.lsc} naming C{signer} and its CA C{ca}; its path."""
    path = os.path.join(vomsdir, vo, f"{host}.lsc")
    write_file(path, f"{slash_dn(signer.subject)}\n{slash_dn(ca.subject)}\n".encode())
    return path
