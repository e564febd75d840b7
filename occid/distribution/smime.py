# -*- test-case-name: tests.test_distribution_smime -*-
"""
S/MIME signed messages (a HEPiX image list as AppDB publishes it), verified
against the grid trust directory the daemon uses (L{occid.gsi.trust}).

L{verify} takes the message as fetched, clear-signed (C{multipart/signed},
what C{openssl smime -sign} writes by default) or opaque
(C{application/pkcs7-mime}), checks the one signature of its CMS
SignedData (the signed attributes' message digest, then the signer's key
over them), then the signer's certificate: valid now, issued by a CA of
the trust directory with a usable path to its root, permitted by the CA's
namespace policy and not on its CRL.  It answers the signed content and the
signer's DN; any failure is L{Refused} with the reason.  Pure: no boto3,
no Twisted.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from occid.distribution.appliance import Refused
from occid.gsi.names import slash_dn
from occid.gsi.trust import TrustStore, Unusable, signed_by

__all__ = ["Signed", "verify"]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
    "sha224": hashes.SHA224,
}


@dataclass(frozen=True)
class Signed:
    """What a verified message says, and who said it (slash DNs)."""

    content: bytes
    signer: str
    issuer: str


def _split(message: bytes) -> tuple[bytes, bytes]:
    """The headers and body of a MIME entity (headers end at the first empty line)."""
    match = re.search(rb"\r?\n\r?\n", message)
    if match is None:
        raise Refused("the list is not a MIME message")
    return message[:match.start()], message[match.end():]


def _header(headers: bytes, name: bytes) -> str:
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", headers)
    for line in re.split(rb"\r?\n", unfolded):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


def _parts(message: bytes) -> tuple[bytes | None, bytes]:
    """The signed content (C{None} when inside the signature) and the DER signature."""
    headers, body = _split(message.lstrip(b"\r\n"))
    content_type = _header(headers, b"content-type")
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return None, _der(body)
    if kind != "multipart/signed":
        raise Refused(f"the list is not signed (Content-Type {kind or 'missing'})")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise Refused("the multipart/signed list has no boundary")
    delimiter = b"--" + match[1].encode("latin-1")
    pieces = re.split(rb"(?:^|\r?\n)" + re.escape(delimiter), body)
    if len(pieces) < 4:
        raise Refused("the multipart/signed list does not have two parts")
    content = re.sub(rb"^\r?\n", b"", pieces[1], count=1)
    content = re.sub(rb"(?<!\r)\n", b"\r\n", content)
    _, signature = _split(re.sub(rb"^\r?\n", b"", pieces[2], count=1))
    return content, _der(signature)


def _der(body: bytes) -> bytes:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
    except ValueError:
        raise Refused("the signature is not base64") from None


def _signed_data(der: bytes) -> cms.SignedData:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise Refused("the signature is not a CMS SignedData")
        signed = info["content"]
        if signed.native is None:  # parses everything: a malformed structure fails here
            raise Refused("the signature is empty")
        return signed
    except (ValueError, TypeError, KeyError):
        raise Refused("the signature is not a valid CMS structure") from None


def _content_of(signed: cms.SignedData) -> bytes:
    inner = signed["encap_content_info"]["content"]
    if inner.native is None:
        raise Refused("the opaque signed message holds no content")
    return inner.native if isinstance(inner.native, bytes) else inner.contents


def _signer_certificate(signed: cms.SignedData, signer: cms.SignerInfo) -> x509.Certificate:
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise Refused("the signer is not named by issuer and serial number")
    wanted = sid.chosen
    for choice in signed["certificates"] or ():
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if (certificate.serial_number == wanted["serial_number"].native
                and certificate.issuer == wanted["issuer"]):
            return x509.load_der_x509_certificate(certificate.dump())
    raise Refused("the signature does not carry the signer's certificate")


def _check_signature(certificate: x509.Certificate, signer: cms.SignerInfo,
                     content: bytes) -> None:
    algorithm = signer["digest_algorithm"]["algorithm"].native
    if algorithm not in _HASHES:
        raise Refused(f"the signature uses digest {algorithm}, not SHA-2")
    attributes = signer["signed_attrs"]
    if attributes:
        digests = [attribute["values"][0].native for attribute in attributes
                   if attribute["type"].native == "message_digest"]
        if len(digests) != 1 or digests[0] != hashlib.new(algorithm, content).digest():
            raise Refused("the list's content does not match its signature (message digest)")
        data = attributes.untag().dump(force=True)
    else:
        data = content
    signature = signer["signature"].native
    key = certificate.public_key()
    digest = _HASHES[algorithm]()
    scheme = signer["signature_algorithm"].signature_algo
    try:
        if isinstance(key, rsa.RSAPublicKey) and scheme == "rsassa_pss":
            key.verify(signature, data, padding.PSS(padding.MGF1(digest), padding.PSS.AUTO),
                       digest)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest))
        else:
            raise Refused("the signer's key is neither RSA nor EC")
    except InvalidSignature:
        raise Refused("the signature does not verify: the list was changed after signing") from None
    except (UnsupportedAlgorithm, ValueError) as e:
        raise Refused(f"the signature cannot be checked ({e})") from None


def _check_chain(certificate: x509.Certificate, trust: TrustStore, now: datetime) -> str:
    """The issuing CA's DN, once the signer's certificate is found trusted at C{now}."""
    dn = slash_dn(certificate.subject)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Refused(f"the signer's certificate {dn} is not valid now")
    issuers = [authority for authority in trust.issuers_of(certificate)
               if signed_by(certificate, authority.certificate)]
    if not issuers:
        raise Refused(f"no CA of the trust directory issued the signer's certificate {dn}")
    authority = issuers[0]
    path = trust.path(authority)
    if isinstance(path, Unusable):
        raise Refused(f"the signer's CA is not usable: {path.reason}")
    for ca in path:
        if not ca.certificate.not_valid_before_utc <= now <= ca.certificate.not_valid_after_utc:
            raise Refused(f"the CA {ca.dn} is not valid now")
    verdict = authority.policy_verdict(dn, require=False)
    if verdict is not None:
        raise Refused(f"the CA's policy refuses the signer: {verdict}")
    crl = authority.crl
    if crl is not None and authority.crl_signature_valid and (
            crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None):
        raise Refused(f"the signer's certificate {dn} is revoked")
    return authority.dn


def verify(message: bytes, trust: TrustStore, now: datetime) -> Signed:
    """
    The content of S/MIME C{message} and its signer, checked against
    C{trust} at C{now}.

    @raise Refused: anything does not verify.
    """
    content, der = _parts(message)
    signed = _signed_data(der)
    signers = signed["signer_infos"]
    if len(signers) != 1:
        raise Refused(f"the list carries {len(signers)} signatures, not one")
    if content is None:
        content = _content_of(signed)
    certificate = _signer_certificate(signed, signers[0])
    _check_signature(certificate, signers[0], content)
    issuer = _check_chain(certificate, trust, now)
    return Signed(content=content, signer=slash_dn(certificate.subject), issuer=issuer)
