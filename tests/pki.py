# -*- test-case-name: tests.test_pki -*-
"""
The tests' grid PKI, built on the credential factory L{occid.demo.pki}.

L{PKI} creates a trusted CA with its CRL and IGTF policy files, a host
certificate for C{localhost}, a user and a VOMS signer, and issues RFC 3820
proxies on demand, including every hostile shape the C grid tools refuse to
build (the knobs of L{PKI.issue_proxy}); those shapes are made here, from
the factory's pieces.  RSA key generation dominates test time, so keys come
from a small pool shared by the whole test process; a CA never shares its
key with another CA of the same PKI.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from occid.demo import pki as factory
from occid.demo.pki import (
    Credential,
    Extension,
    TrustDir,
    cn,
    extend,
    key_usage,
    name,
    namespaces_text,
    proxy_cert_info,
    signing_policy_text,
    subject_hash,
)
from occid.demo.voms import write_lsc
from occid.gsi.proxycert import DRAFT_PCI, PCI

__all__ = [
    "CA_DN", "HOST_DN", "NAMESPACE", "PKI", "USER_DN", "VOMS_DN", "Credential", "cn", "extend",
    "key_usage", "name", "namespaces_text", "pooled_key", "proxy_cert_info", "resign",
    "signing_policy_text", "subject_hash", "with_extension_twice",
]

CA_DN = "/DC=org/DC=example/CN=Test Grid CA"
HOST_DN = "/DC=org/DC=example/OU=Hosts/CN=localhost"
USER_DN = "/DC=org/DC=example/OU=Users/CN=Test User"
VOMS_DN = "/DC=org/DC=example/OU=Services/CN=voms.example.org"
NAMESPACE = "/DC=org/DC=example/"

_KEY_POOL: dict[int, list[rsa.RSAPrivateKey]] = {}
_POOL_SIZE = 12


def pooled_key(size: int, index: int) -> rsa.RSAPrivateKey:
    """The C{index}-th key of C{size} bits of this process's pool (cycling)."""
    pool = _KEY_POOL.setdefault(size, [])
    slot = index % _POOL_SIZE
    while len(pool) <= slot:
        pool.append(factory.new_key(size))
    return pool[slot]


def _signed(tbs: asn1_x509.TbsCertificate, key: rsa.RSAPrivateKey,
            algorithm: hashes.HashAlgorithm, identifier: asn1_x509.SignedDigestAlgorithm) -> x509.Certificate:
    """C{tbs} signed by C{key} with C{algorithm}, declared as C{identifier}."""
    signed = asn1_x509.Certificate({
        "tbs_certificate": tbs,
        "signature_algorithm": identifier,
        "signature_value": key.sign(tbs.dump(force=True), padding.PKCS1v15(), algorithm),
    })
    return x509.load_der_x509_certificate(signed.dump(force=True))


def resign(certificate: x509.Certificate, key: rsa.RSAPrivateKey,
           algorithm: hashes.HashAlgorithm) -> x509.Certificate:
    """
    C{certificate} re-signed by C{key} with C{algorithm} (MD5 or SHA-1, which
    C{cryptography}'s builder refuses), both AlgorithmIdentifiers rewritten.
    """
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    algorithm_name = {"md5": "md5_rsa", "sha1": "sha1_rsa"}[algorithm.name]
    identifier = asn1_x509.SignedDigestAlgorithm({"algorithm": algorithm_name})
    tbs = parsed["tbs_certificate"].copy()
    tbs["signature"] = identifier
    return _signed(tbs, key, algorithm, identifier)


def with_extension_twice(certificate: x509.Certificate, key: rsa.RSAPrivateKey, oid: str) -> x509.Certificate:
    """
    C{certificate} with its extension C{oid} appended a second time (which
    C{cryptography}'s builder refuses), re-signed by C{key} with SHA-256.
    """
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"].copy()
    extensions = list(tbs["extensions"])
    repeated = next(e for e in extensions if e["extn_id"].dotted == oid)
    tbs["extensions"] = asn1_x509.Extensions(extensions + [repeated.copy()])
    return _signed(tbs, key, hashes.SHA256(), parsed["signature_algorithm"])


def _weakened(credential: Credential, hash: hashes.HashAlgorithm | type) -> Credential:
    """C{credential} re-signed with C{hash} by its issuer (by itself if none) when MD5 or SHA-1."""
    algorithm = hash() if isinstance(hash, type) else hash
    if algorithm.name not in ("md5", "sha1"):
        return credential
    signer = credential.issuer.private_key if credential.issuer else credential.private_key
    certificate = resign(credential.certificate, signer, algorithm)
    return dataclasses.replace(credential, certificate=certificate,
                               chain=[certificate, *credential.chain[1:]])


class PKI:
    """
    A CA with CRL and policy files, host, user and VOMS credentials, written
    under C{directory}: C{certificates/} (the trust dir), C{vomsdir/},
    C{host{cert,key}.pem}, C{user{cert,key}.pem}, C{voms{cert,key}.pem}.
    """

    def __init__(self, directory: str | os.PathLike[str], *, now: datetime | None = None):
        self.directory = str(directory)
        self.now = now or datetime.now(UTC)
        self.certificates_dir = os.path.join(self.directory, "certificates")
        self.vomsdir = os.path.join(self.directory, "vomsdir")
        self.trust = TrustDir(self.certificates_dir)
        os.makedirs(self.certificates_dir, exist_ok=True)
        os.makedirs(self.vomsdir, exist_ok=True)
        self._next_key = 0
        self._ca_keys: list[rsa.RSAPrivateKey] = []
        self._revoked: dict[bytes, list[x509.Certificate]] = {}
        self.ca = self.issue_ca(CA_DN)
        localhost = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        self.host = self.issue_user(HOST_DN, usages=[ExtendedKeyUsageOID.SERVER_AUTH],
                                    extensions=[(localhost, False)])
        self.user = self.issue_user(USER_DN)
        self.voms = self.issue_user(
            VOMS_DN, usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
        for label, credential in (("host", self.host), ("user", self.user), ("voms", self.voms)):
            credential.write_pair(
                os.path.join(self.directory, f"{label}cert.pem"),
                os.path.join(self.directory, f"{label}key.pem"),
            )

    def _key(self, size: int, *, for_ca: bool = False) -> rsa.RSAPrivateKey:
        """The next pooled key; a CA's key is never another CA's key."""
        for _ in range(_POOL_SIZE):
            key = pooled_key(size, self._next_key)
            self._next_key += 1
            if not (for_ca and any(key is k for k in self._ca_keys)):
                break
        else:
            raise RuntimeError("more CAs in one PKI than pooled keys")
        if for_ca:
            self._ca_keys.append(key)
        return key

    # issuing

    def issue_ca(
        self,
        subject: str | x509.Name,
        *,
        parent: Credential | None = None,
        trusted: bool = True,
        key_size: int = 2048,
        hash: hashes.HashAlgorithm | type = hashes.SHA256,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        extensions: Sequence[Extension] = (),
    ) -> Credential:
        """
        A root CA (C{parent=None}) or a sub-CA of C{parent}.  When C{trusted},
        it goes into the trust dir with an empty CRL and policy files
        permitting C{/DC=org/DC=example/*}; otherwise (a rogue CA) it is
        written nowhere.
        """
        credential = _weakened(factory.issue_ca(
            subject, self._key(key_size, for_ca=True), parent=parent,
            not_before=not_before or self.now - timedelta(days=1),
            not_after=not_after or self.now + timedelta(days=3650), extensions=extensions), hash)
        if trusted:
            self.trust.add(credential.certificate, NAMESPACE)
            self.write_crl(ca=credential)
        return credential

    def issue_user(
        self,
        subject: str | x509.Name,
        *,
        ca: Credential | None = None,
        usages: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
        key_size: int = 2048,
        hash: hashes.HashAlgorithm | type = hashes.SHA256,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        extensions: Sequence[Extension] = (),
    ) -> Credential:
        """
        An end-entity certificate from C{ca} (default: the test CA), a
        user's unless C{usages} says otherwise.  C{extensions} override the
        defaults of the same OID (basic constraints, key usage, key
        identifiers) or add to them.
        """
        return _weakened(factory.issue_end_entity(
            subject, self._key(key_size), ca or self.ca, usages=usages,
            not_before=not_before or self.now - timedelta(days=1),
            not_after=not_after or self.now + timedelta(days=365), extensions=extensions), hash)

    def issue_proxy(
        self,
        parent: Credential,
        *,
        limited: bool = False,
        pathlen: int | None = None,
        lifetime: timedelta = timedelta(hours=12),
        not_before: datetime | None = None,
        key_size: int = 2048,
        hash: hashes.HashAlgorithm | type = hashes.SHA256,
        extensions: Sequence[Extension] = (),
        policy_oid: str | None = None,
        pci_critical: bool = True,
        omit_pci: bool = False,
        subject: str | x509.Name | None = None,
        extra_cn: bool = False,
        ca: bool = False,
        legacy: bool = False,
        draft: bool = False,
    ) -> Credential:
        """
        An RFC 3820 proxy signed by C{parent} (an EEC or a proxy), valid from
        C{not_before} (default five minutes ago, as grid-proxy-init does) for
        C{lifetime}.

        Hostile knobs: C{policy_oid} overrides the policy language;
        C{pci_critical=False} and C{omit_pci} spoil the ProxyCertInfo;
        C{subject} replaces the subject; C{extra_cn} appends two CN RDNs;
        C{ca} sets cA=TRUE; C{legacy} makes a pre-RFC Globus proxy
        (C{CN=proxy} or C{CN=limited proxy}, no PCI); C{draft} uses the
        GSI-3 PCI OID.  C{extensions} override or add to the defaults.
        """
        start = not_before or self.now - timedelta(minutes=5)
        serial = factory.proxy_serial()
        if subject is not None:
            proxy_subject = name(subject)
        elif legacy:
            proxy_subject = extend(parent.certificate.subject, cn("limited proxy" if limited else "proxy"))
        elif extra_cn:
            proxy_subject = extend(factory.proxy_subject(parent.certificate, serial), cn("extra"))
        else:
            proxy_subject = factory.proxy_subject(parent.certificate, serial)
        defaults: list[Extension] = []
        for value, critical in factory.proxy_extensions(limited=limited, pathlen=pathlen, policy=policy_oid):
            if value.oid.dotted_string == PCI:
                if legacy or omit_pci:
                    continue
                if draft and isinstance(value, x509.UnrecognizedExtension):
                    value = x509.UnrecognizedExtension(x509.ObjectIdentifier(DRAFT_PCI), value.value)
                critical = pci_critical
            defaults.append((value, critical))
        if ca:
            defaults.append((x509.BasicConstraints(ca=True, path_length=None), True))
        key = self._key(key_size)
        certificate = factory.certificate(
            proxy_subject, key, parent, not_before=start, not_after=start + lifetime, serial=serial,
            extensions=factory.merge_extensions(defaults, extensions))
        return _weakened(Credential(certificate, key, [certificate, *parent.chain], issuer=parent), hash)

    # revocation and policy files

    def revoke(self, credential: Credential) -> None:
        """Put C{credential} on its CA's CRL and rewrite that CRL."""
        ca = credential.issuer
        assert ca is not None, "a root CA cannot be revoked"
        revoked = self._revoked.setdefault(ca.certificate.fingerprint(hashes.SHA256()), [])
        revoked.append(credential.certificate)
        self.write_crl(ca=ca)

    def write_crl(
        self,
        *,
        ca: Credential | None = None,
        expired: bool = False,
        missing: bool = False,
        bad_signature: bool = False,
    ) -> str:
        """
        (Re)write C{ca}'s CRL (default: the test CA) as C{<hash>.r0}:
        C{expired} puts nextUpdate in the past, C{missing} deletes the file,
        C{bad_signature} signs it with a key that is not the CA's.
        Returns the path.
        """
        ca = ca or self.ca
        if missing:
            return self.trust.write(ca.certificate, ".r0", None)
        if expired:
            last, next_ = self.now - timedelta(days=31), self.now - timedelta(days=1)
        else:
            last, next_ = self.now - timedelta(hours=1), self.now + timedelta(days=30)
        signer = ca
        if bad_signature:
            forger = next(k for i in range(2) if (k := pooled_key(2048, i)) is not ca.private_key)
            signer = dataclasses.replace(ca, private_key=forger)
        revoked = [(certificate.serial_number, self.now - timedelta(hours=2))
                   for certificate in self._revoked.get(ca.certificate.fingerprint(hashes.SHA256()), [])]
        return self.trust.write_crl(ca.certificate, factory.crl(
            signer, last_update=last, next_update=next_, number=secrets.randbits(32), revoked=revoked))

    def write_namespaces(self, ca: Credential, text: str | None) -> None:
        """Write C{ca}'s C{.namespaces} file, or delete it when C{text} is None."""
        self.trust.write(ca.certificate, ".namespaces", None if text is None else text.encode())

    def write_signing_policy(self, ca: Credential, text: str | None) -> None:
        """Write C{ca}'s C{.signing_policy} file, or delete it when C{text} is None."""
        self.trust.write(ca.certificate, ".signing_policy", None if text is None else text.encode())

    def lsc(self, vo: str, host: str) -> str:
        """Write C{vomsdir/<vo>/<host>.lsc} naming the VOMS signer and its CA; return the path."""
        return write_lsc(self.vomsdir, vo, host, self.voms.certificate, self.ca.certificate)
