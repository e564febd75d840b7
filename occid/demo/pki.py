# -*- test-case-name: tests.test_pki -*-
"""
The credential factory: a grid PKI made with C{cryptography}, for the demo
and for the tests.

Keys are passed in (the demo makes fresh ones with L{new_key}; the tests
draw from a pool).  L{issue_ca}, L{issue_end_entity} and L{issue_proxy}
return a L{Credential}; L{crl} makes a CRL; L{TrustDir} writes a CA, its
CRL and its IGTF policy files under the OpenSSL hash of its subject.  Each
builds what a grid CA or C{grid-proxy-init} builds, with parameters for
what the tests vary; the hostile shapes the tests also need are built from
these pieces in the tests themselves.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto

from occid.atomicfile import write_file
from occid.gsi.names import SHORT_NAMES, slash_dn
from occid.gsi.proxycert import INHERIT_ALL, LIMITED, PCI, ProxyCertInfo

__all__ = [
    "Credential", "Extension", "TrustDir", "certificate", "cn", "crl", "extend", "free_port",
    "issue_ca", "issue_end_entity", "issue_proxy", "key_pem", "key_usage", "merge_extensions",
    "name", "namespaces_text", "new_key", "pem", "proxy_cert_info", "proxy_extensions",
    "proxy_serial", "proxy_subject", "signing_policy_text", "subject_hash",
]

#: An extension of a certificate to be and whether it is critical.
Extension = tuple[x509.ExtensionType, bool]

_OIDS = {short: x509.ObjectIdentifier(oid) for oid, short in SHORT_NAMES.items()}


# -- files and ports ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- names and keys ----------------------------------------------------------------


def name(subject: str | x509.Name) -> x509.Name:
    """C{subject} as a Name; a string is in slash form, C{/DC=org/CN=x} (no escapes)."""
    if isinstance(subject, x509.Name):
        return subject
    rdns = []
    for part in subject.strip("/").split("/"):
        key, _, value = part.partition("=")
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(_OIDS[key], value)]))
    return x509.Name(rdns)


def extend(parent: x509.Name, *rdns: x509.RelativeDistinguishedName) -> x509.Name:
    """C{parent} with C{rdns} appended."""
    return x509.Name(list(parent.rdns) + list(rdns))


def cn(value: str) -> x509.RelativeDistinguishedName:
    """A single-valued C{CN=value} RDN."""
    return x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def subject_hash(certificate: x509.Certificate) -> str:
    """OpenSSL's C{-subject_hash} of C{certificate}: its file stem in a trust dir."""
    return f"{crypto.X509.from_cryptography(certificate).subject_name_hash():08x}"


def new_key(size: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA key of C{size} bits."""
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """C{key} unencrypted in PEM (the traditional OpenSSL layout grid tools read)."""
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def pem(certificate: x509.Certificate) -> bytes:
    """C{certificate} in PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


# -- credentials -------------------------------------------------------------------


@dataclass
class Credential:
    """
    A certificate, its key and the chain above it.

    @ivar chain: leaf first: this certificate and its parents up to and
        including the end-entity certificate (never the CA).
    @ivar issuer: the credential that signed this one (C{None} for a root
        CA, or when read from files).
    """

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    chain: list[x509.Certificate]
    issuer: Credential | None = field(default=None, repr=False)

    @classmethod
    def load(cls, certificate_path: str, key_path: str) -> Credential:
        """
        The first certificate in C{certificate_path} and the RSA key in C{key_path}.

        @raise OSError: a file cannot be read.
        @raise ValueError: a file holds no certificate or no RSA key.
        """
        with open(certificate_path, "rb") as f:
            certificate = x509.load_pem_x509_certificates(f.read())[0]
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path}: not an RSA key")
        return cls(certificate, key, [certificate])

    def key_pem(self) -> bytes:
        """The unencrypted private key in PEM (traditional OpenSSL layout)."""
        return key_pem(self.private_key)

    def pem_chain(self) -> bytes:
        """The proxy-file layout: certificate, key, then the rest of the chain."""
        return pem(self.certificate) + self.key_pem() + b"".join(pem(c) for c in self.chain[1:])

    def write(self, path: str) -> str:
        """Write L{pem_chain} to C{path} with mode 0600; return C{path}."""
        write_file(path, self.pem_chain(), 0o600)
        return path

    def write_pair(self, certificate_path: str, key_path: str) -> None:
        """Write the certificate (PEM) and its unencrypted key (mode 0600) apart."""
        write_file(key_path, self.key_pem(), 0o600)
        write_file(certificate_path, pem(self.certificate))


# -- certificates ------------------------------------------------------------------


def key_usage(**granted: bool) -> x509.KeyUsage:
    """A KeyUsage granting exactly C{granted} (C{digital_signature=True}, ...)."""
    flags = dict.fromkeys(
        ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"],
        False,
    )
    flags.update(granted)
    return x509.KeyUsage(**flags)


def merge_extensions(*groups: Iterable[Extension]) -> list[Extension]:
    """The extensions of C{groups} in order, a later one replacing an earlier one of its OID."""
    merged: dict[x509.ObjectIdentifier, Extension] = {}
    for group in groups:
        for value, critical in group:
            merged[value.oid] = (value, critical)
    return list(merged.values())


def certificate(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: Credential | None, *,
                not_before: datetime, not_after: datetime, extensions: Iterable[Extension],
                serial: int | None = None) -> x509.Certificate:
    """
    A certificate of C{key}'s public key for C{subject}, signed (SHA-256)
    by C{issuer}, or by C{key} itself when C{issuer} is C{None}.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or secrets.randbits(63) | 1 << 62)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(issuer.private_key if issuer else key, hashes.SHA256())


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The authorityKeyIdentifier of what C{issuer} signs: its public key's id."""
    public_key = issuer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError(f"{issuer.subject.rfc4514_string()}: the factory signs with RSA keys only")
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)


def issue_ca(subject: str | x509.Name, key: rsa.RSAPrivateKey, *, not_before: datetime,
             not_after: datetime, parent: Credential | None = None,
             extensions: Iterable[Extension] = ()) -> Credential:
    """
    A root CA (no C{parent}) or a sub-CA of C{parent}: basic constraints
    cA, key usage keyCertSign and cRLSign, its key identifier.
    C{extensions} replace those of the same OID or come after them.
    """
    defaults = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (key_usage(key_cert_sign=True, crl_sign=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
    ]
    issued = certificate(name(subject), key, parent, not_before=not_before, not_after=not_after,
                         extensions=merge_extensions(defaults, extensions))
    return Credential(issued, key, [issued], issuer=parent)


def issue_end_entity(subject: str | x509.Name, key: rsa.RSAPrivateKey, ca: Credential, *,
                     not_before: datetime, not_after: datetime,
                     usages: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
                     extensions: Iterable[Extension] = ()) -> Credential:
    """
    A user, host or service certificate from C{ca}: not a CA, digital
    signature and key encipherment, extended key C{usages}, both key
    identifiers.  C{extensions} replace those of the same OID or come after
    them (a host's subjectAltName, say).
    """
    defaults: list[Extension] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (key_usage(digital_signature=True, key_encipherment=True), True),
        (x509.ExtendedKeyUsage(usages), False),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (_authority_key_identifier(ca.certificate), False),
    ]
    issued = certificate(name(subject), key, ca, not_before=not_before, not_after=not_after,
                         extensions=merge_extensions(defaults, extensions))
    return Credential(issued, key, [issued], issuer=ca)


def proxy_serial() -> int:
    """A random proxy serial number, 31 bits as C{grid-proxy-init} makes it."""
    return secrets.randbits(31) | 1 << 30


def proxy_subject(parent: x509.Certificate, serial: int) -> x509.Name:
    """The RFC 3820 subject of a proxy of C{parent}: its subject and C{CN=<serial>}."""
    return extend(parent.subject, cn(str(serial)))


def proxy_cert_info(policy: str, pathlen: int | None = None) -> bytes:
    """DER of an RFC 3820 ProxyCertInfo with policy language C{policy}."""
    value: dict = {"proxy_policy": {"policy_language": policy}}
    if pathlen is not None:
        value["path_len"] = pathlen
    dumped: bytes = ProxyCertInfo(value).dump()
    return dumped


def proxy_extensions(*, limited: bool = False, pathlen: int | None = None,
                     policy: str | None = None) -> list[Extension]:
    """
    A proxy's key usage and critical ProxyCertInfo: policy C{policy},
    by default the limited policy if C{limited}, else inherit-all.
    """
    info = proxy_cert_info(policy or (LIMITED if limited else INHERIT_ALL), pathlen)
    return [
        (key_usage(digital_signature=True, key_encipherment=True), True),
        (x509.UnrecognizedExtension(x509.ObjectIdentifier(PCI), info), True),
    ]


def issue_proxy(parent: Credential, key: rsa.RSAPrivateKey, *, not_before: datetime,
                not_after: datetime, limited: bool = False, pathlen: int | None = None,
                policy: str | None = None, extensions: Iterable[Extension] = ()) -> Credential:
    """
    An RFC 3820 proxy signed by C{parent} (an end-entity certificate or a
    proxy), its serial number also its last CN.  C{extensions} (a VOMS AC,
    say) replace those of L{proxy_extensions} of the same OID or come after.
    """
    serial = proxy_serial()
    issued = certificate(
        proxy_subject(parent.certificate, serial), key, parent, not_before=not_before,
        not_after=not_after, serial=serial,
        extensions=merge_extensions(
            proxy_extensions(limited=limited, pathlen=pathlen, policy=policy), extensions))
    return Credential(issued, key, [issued, *parent.chain], issuer=parent)


# -- revocation and the trust dir ------------------------------------------------


def crl(ca: Credential, *, last_update: datetime, next_update: datetime, number: int | None = None,
        revoked: Iterable[tuple[int, datetime]] = ()) -> x509.CertificateRevocationList:
    """
    A CRL of C{ca} signed by its key, listing the C{(serial, date)} pairs of
    C{revoked}; C{number} is random unless given.
    """
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(last_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(secrets.randbits(32) if number is None else number),
                       critical=False)
        .add_extension(_authority_key_identifier(ca.certificate),
                       critical=False)
    )
    for serial, date in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(date).build())
    return builder.sign(ca.private_key, hashes.SHA256())


def namespaces_text(ca: x509.Certificate, *permitted: str, denied: Sequence[str] = ()) -> str:
    """An EUGridPMA C{.namespaces} file: C{ca} may sign subjects matching C{permitted} (regexes)."""
    issuer = slash_dn(ca.subject)
    lines = [f'TO Issuer "{issuer}" \\\n  PERMIT Subject "{p}"\n' for p in permitted]
    lines += [f'TO Issuer "{issuer}" \\\n  DENY Subject "{d}"\n' for d in denied]
    return "".join(lines)


def signing_policy_text(ca: x509.Certificate, *globs: str) -> str:
    """A Globus C{.signing_policy} file: C{ca} may sign subjects matching C{globs}."""
    subjects = " ".join(f'"{g}"' for g in globs)
    return (f"access_id_CA   X509    '{slash_dn(ca.subject)}'\n"
            "pos_rights     globus  CA:sign\n"
            f"cond_subjects  globus  '{subjects}'\n")


class TrustDir:
    """
    An IGTF trust directory (C{X509_CERT_DIR}): each CA as C{<hash>.0}
    beside its CRL C{<hash>.r0} and its C{.namespaces} and
    C{.signing_policy} files.
    """

    SUFFIXES = (".0", ".r0", ".signing_policy", ".namespaces")

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, ca: x509.Certificate, suffix: str) -> str:
        """The file of C{ca} with C{suffix} (C{".0"}, C{".r0"}, ...)."""
        return os.path.join(self.directory, subject_hash(ca) + suffix)

    def add(self, ca: x509.Certificate, namespace: str) -> None:
        """
        Trust C{ca} to sign the subjects under C{namespace} (a slash-form
        prefix ending in C{/}): its certificate and both policy files.
        """
        write_file(self.path(ca, ".0"), pem(ca))
        self.write(ca, ".namespaces", namespaces_text(ca, namespace + ".*").encode())
        self.write(ca, ".signing_policy", signing_policy_text(ca, namespace + "*").encode())

    def write(self, ca: x509.Certificate, suffix: str, data: bytes | None) -> str:
        """Write C{ca}'s file with C{suffix}, or delete it when C{data} is C{None}; its path."""
        path = self.path(ca, suffix)
        if data is not None:
            write_file(path, data)
        elif os.path.exists(path):
            os.unlink(path)
        return path

    def write_crl(self, ca: x509.Certificate, revocations: x509.CertificateRevocationList) -> str:
        """Write C{revocations} as C{ca}'s CRL; its path."""
        return self.write(ca, ".r0", revocations.public_bytes(serialization.Encoding.PEM))

    def remove(self, ca: x509.Certificate) -> None:
        """Delete every file of C{ca}."""
        for suffix in self.SUFFIXES:
            self.write(ca, suffix, None)
