# -*- test-case-name: tests.test_pki -*-
"""
A throwaway grid PKI for the tests, built with C{cryptography} alone.

L{PKI} creates a trusted CA with its CRL and IGTF policy files, a host
certificate for C{localhost}, a user and a VOMS signer, and issues RFC 3820
proxies on demand, including every hostile shape the C grid tools refuse to
build (the knobs of L{PKI.issue_proxy}).  RSA key generation dominates test
time, so keys come from a small pool shared by the whole test process; a CA
never shares its key with another CA of the same PKI.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import crypto

from occid.gsi.proxycert import DRAFT_PCI, INHERIT_ALL, LIMITED, PCI, ProxyCertInfo

CA_DN = "/DC=org/DC=example/CN=Test Grid CA"
HOST_DN = "/DC=org/DC=example/OU=Hosts/CN=localhost"
USER_DN = "/DC=org/DC=example/OU=Users/CN=Test User"
VOMS_DN = "/DC=org/DC=example/OU=Services/CN=voms.example.org"
NAMESPACE = "/DC=org/DC=example/"

_SHORT_NAMES = {
    "DC": NameOID.DOMAIN_COMPONENT,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "UID": NameOID.USER_ID,
    "serialNumber": NameOID.SERIAL_NUMBER,
}

_KEY_POOL: dict[int, list[rsa.RSAPrivateKey]] = {}
_POOL_SIZE = 12


def pooled_key(size: int, index: int) -> rsa.RSAPrivateKey:
    """The C{index}-th key of C{size} bits of this process's pool (cycling)."""
    pool = _KEY_POOL.setdefault(size, [])
    slot = index % _POOL_SIZE
    while len(pool) <= slot:
        pool.append(rsa.generate_private_key(public_exponent=65537, key_size=size))
    return pool[slot]


def name(subject: str | x509.Name) -> x509.Name:
    """C{subject} as a Name; a string is in slash form, C{/DC=org/CN=x}."""
    if isinstance(subject, x509.Name):
        return subject
    attributes = []
    for part in subject.strip("/").split("/"):
        key, _, value = part.partition("=")
        attributes.append(x509.RelativeDistinguishedName([x509.NameAttribute(_SHORT_NAMES[key], value)]))
    return x509.Name(attributes)


def extend(parent: x509.Name, *rdns: x509.RelativeDistinguishedName) -> x509.Name:
    """C{parent} with C{rdns} appended."""
    return x509.Name(list(parent.rdns) + list(rdns))


def cn(value: str) -> x509.RelativeDistinguishedName:
    """A single-valued C{CN=value} RDN."""
    return x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def key_usage(**granted: bool) -> x509.KeyUsage:
    """A KeyUsage granting exactly C{granted}."""
    flags = dict.fromkeys(
        ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
         "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"],
        False,
    )
    flags.update(granted)
    return x509.KeyUsage(**flags)


def subject_hash(certificate: x509.Certificate) -> str:
    """OpenSSL's C{-subject_hash} of C{certificate}: the trust-dir file stem."""
    return "%08x" % crypto.X509.from_cryptography(certificate).subject_name_hash()


def proxy_cert_info(policy_oid: str, pathlen: int | None = None) -> bytes:
    """DER of an RFC 3820 ProxyCertInfo with policy C{policy_oid}."""
    value = {"proxy_policy": {"policy_language": policy_oid}}
    if pathlen is not None:
        value["path_len"] = pathlen
    return ProxyCertInfo(value).dump()


def resign(certificate: x509.Certificate, key: rsa.RSAPrivateKey, algorithm: hashes.HashAlgorithm) -> x509.Certificate:
    """
    C{certificate} re-signed by C{key} with C{algorithm} (MD5 or SHA-1, which
    C{cryptography}'s builder refuses), both AlgorithmIdentifiers rewritten.
    """
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    algorithm_name = {"md5": "md5_rsa", "sha1": "sha1_rsa"}[algorithm.name]
    identifier = asn1_x509.SignedDigestAlgorithm({"algorithm": algorithm_name})
    tbs = parsed["tbs_certificate"].copy()
    tbs["signature"] = identifier
    signed = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": identifier,
            "signature_value": key.sign(tbs.dump(force=True), padding.PKCS1v15(), algorithm),
        }
    )
    return x509.load_der_x509_certificate(signed.dump(force=True))


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
    signed = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": parsed["signature_algorithm"],
            "signature_value": key.sign(tbs.dump(force=True), padding.PKCS1v15(), hashes.SHA256()),
        }
    )
    return x509.load_der_x509_certificate(signed.dump(force=True))


@dataclass
class Credential:
    """
    A certificate, its key and the chain above it.

    @ivar chain: leaf first: this certificate and its parents up to and
        including the EEC (never the CA).
    @ivar issuer: the credential that signed this one (C{None} for a root CA).
    """

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    chain: list[x509.Certificate]
    issuer: Credential | None = field(default=None, repr=False)

    def key_pem(self) -> bytes:
        """The unencrypted private key in PEM (traditional OpenSSL layout)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def pem_chain(self) -> bytes:
        """The proxy-file layout: certificate, key, then the rest of the chain."""
        rest = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain[1:])
        return self.certificate.public_bytes(serialization.Encoding.PEM) + self.key_pem() + rest

    def write(self, path: str) -> str:
        """Write L{pem_chain} to C{path} with mode 0600; return C{path}."""
        _write(path, self.pem_chain(), 0o600)
        return path

    def write_pair(self, cert_path: str, key_path: str) -> None:
        """Write the certificate (PEM) and its unencrypted key (0600) apart."""
        _write(cert_path, self.certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(key_path, self.key_pem(), 0o600)


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _end_entity_extensions(key: rsa.RSAPrivateKey, issuer: Credential) -> dict[str, tuple]:
    return {
        "bc": (x509.BasicConstraints(ca=False, path_length=None), True),
        "ku": (key_usage(digital_signature=True, key_encipherment=True), True),
        "ski": (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        "aki": (
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            False,
        ),
    }


class PKI:
    """
    A CA with CRL and policy files, host, user and VOMS credentials, written
    under C{directory}: C{certificates/} (the trust dir), C{vomsdir/},
    C{host{cert,key}.pem}, C{user{cert,key}.pem}, C{voms{cert,key}.pem}.
    """

    def __init__(self, directory: str, *, now: datetime | None = None):
        self.directory = str(directory)
        self.now = now or datetime.now(UTC)
        self.certificates_dir = os.path.join(self.directory, "certificates")
        self.vomsdir = os.path.join(self.directory, "vomsdir")
        os.makedirs(self.certificates_dir, exist_ok=True)
        os.makedirs(self.vomsdir, exist_ok=True)
        self._next_key = 0
        self._ca_keys: list[rsa.RSAPrivateKey] = []
        self._revoked: dict[bytes, list[x509.Certificate]] = {}
        self.ca = self.issue_ca(CA_DN)
        self.host = self._issue_end_entity(
            HOST_DN,
            self.ca,
            extra=[
                (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False),
                (
                    x509.SubjectAlternativeName(
                        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    ),
                    False,
                ),
            ],
        )
        self.user = self.issue_user(USER_DN)
        self.voms = self._issue_end_entity(
            VOMS_DN,
            self.ca,
            extra=[
                (
                    x509.ExtendedKeyUsage(
                        [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                    ),
                    False,
                ),
            ],
        )
        for label, credential in (("host", self.host), ("user", self.user), ("voms", self.voms)):
            credential.write_pair(
                os.path.join(self.directory, f"{label}cert.pem"),
                os.path.join(self.directory, f"{label}key.pem"),
            )

    # keys

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

    def _sign(
        self,
        *,
        subject: x509.Name,
        issuer: Credential | None,
        key: rsa.RSAPrivateKey,
        not_before: datetime,
        not_after: datetime,
        extensions: dict[str, tuple],
        hash: hashes.HashAlgorithm | type,
    ) -> x509.Certificate:
        algorithm = hash() if isinstance(hash, type) else hash
        signer = issuer.private_key if issuer else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.certificate.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(secrets.randbits(63) | 1 << 62)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        for value, critical in extensions.values():
            builder = builder.add_extension(value, critical=critical)
        if algorithm.name in ("md5", "sha1"):
            return resign(builder.sign(signer, hashes.SHA256()), signer, algorithm)
        return builder.sign(signer, algorithm)

    @staticmethod
    def _merge(defaults: dict[str, tuple], extra: Iterable[tuple]) -> dict[str, tuple]:
        """C{defaults} keyed by label, overridden (by OID) or extended by C{extra}."""
        merged = {value.oid.dotted_string: (value, critical) for value, critical in defaults.values()}
        for value, critical in extra:
            merged[value.oid.dotted_string] = (value, critical)
        return merged

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
        extensions: Sequence[tuple] = (),
    ) -> Credential:
        """
        A root CA (C{parent=None}) or a sub-CA of C{parent}.  When C{trusted},
        it goes into the trust dir with an empty CRL and policy files
        permitting C{/DC=org/DC=example/*}; otherwise (a rogue CA) it is
        written nowhere.
        """
        key = self._key(key_size, for_ca=True)
        defaults = {
            "bc": (x509.BasicConstraints(ca=True, path_length=None), True),
            "ku": (key_usage(key_cert_sign=True, crl_sign=True), True),
            "ski": (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        }
        certificate = self._sign(
            subject=name(subject),
            issuer=parent,
            key=key,
            not_before=not_before or self.now - timedelta(days=1),
            not_after=not_after or self.now + timedelta(days=3650),
            extensions=self._merge(defaults, extensions),
            hash=hash,
        )
        credential = Credential(certificate, key, [certificate], issuer=parent)
        if trusted:
            stem = os.path.join(self.certificates_dir, subject_hash(certificate))
            _write(stem + ".0", certificate.public_bytes(serialization.Encoding.PEM), 0o644)
            self.write_crl(ca=credential)
            self.write_namespaces(credential, namespaces_text(credential.certificate, NAMESPACE + ".*"))
            self.write_signing_policy(credential, signing_policy_text(credential.certificate, NAMESPACE + "*"))
        return credential

    def _issue_end_entity(
        self,
        subject: str | x509.Name,
        ca: Credential,
        *,
        key_size: int = 2048,
        hash: hashes.HashAlgorithm | type = hashes.SHA256,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        extra: Iterable[tuple] = (),
    ) -> Credential:
        key = self._key(key_size)
        certificate = self._sign(
            subject=name(subject),
            issuer=ca,
            key=key,
            not_before=not_before or self.now - timedelta(days=1),
            not_after=not_after or self.now + timedelta(days=365),
            extensions=self._merge(_end_entity_extensions(key, ca), extra),
            hash=hash,
        )
        return Credential(certificate, key, [certificate], issuer=ca)

    def issue_user(
        self,
        subject: str | x509.Name,
        *,
        ca: Credential | None = None,
        key_size: int = 2048,
        hash: hashes.HashAlgorithm | type = hashes.SHA256,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        extensions: Sequence[tuple] = (),
    ) -> Credential:
        """
        A user certificate (EEC) from C{ca} (default: the test CA).
        C{extensions} override the defaults of the same OID (basic
        constraints, key usage, key identifiers) or add to them.
        """
        extra = [(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False), *extensions]
        return self._issue_end_entity(
            subject, ca or self.ca, key_size=key_size, hash=hash,
            not_before=not_before, not_after=not_after, extra=extra,
        )

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
        extensions: Sequence[tuple] = (),
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
        key = self._key(key_size)
        start = not_before or self.now - timedelta(minutes=5)
        serial_cn = str(secrets.randbits(31))
        parent_subject = parent.certificate.subject
        if subject is not None:
            proxy_subject = name(subject)
        elif legacy:
            proxy_subject = extend(parent_subject, cn("limited proxy" if limited else "proxy"))
        elif extra_cn:
            proxy_subject = extend(parent_subject, cn(serial_cn), cn("extra"))
        else:
            proxy_subject = extend(parent_subject, cn(serial_cn))
        defaults: dict[str, tuple] = {
            "ku": (
                key_usage(digital_signature=True, key_encipherment=True, data_encipherment=True),
                True,
            ),
        }
        if ca:
            defaults["bc"] = (x509.BasicConstraints(ca=True, path_length=None), True)
        if not (legacy or omit_pci):
            language = policy_oid or (LIMITED if limited else INHERIT_ALL)
            defaults["pci"] = (
                x509.UnrecognizedExtension(
                    x509.ObjectIdentifier(DRAFT_PCI if draft else PCI),
                    proxy_cert_info(language, pathlen),
                ),
                pci_critical,
            )
        certificate = self._sign(
            subject=proxy_subject,
            issuer=parent,
            key=key,
            not_before=start,
            not_after=start + lifetime,
            extensions=self._merge(defaults, extensions),
            hash=hash,
        )
        return Credential(certificate, key, [certificate, *parent.chain], issuer=parent)

    # revocation and policy files

    def revoke(self, credential: Credential) -> None:
        """Put C{credential} on its CA's CRL and rewrite that CRL."""
        ca = credential.issuer
        self._revoked.setdefault(ca.certificate.fingerprint(hashes.SHA256()), []).append(credential.certificate)
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
        path = os.path.join(self.certificates_dir, subject_hash(ca.certificate) + ".r0")
        if missing:
            if os.path.exists(path):
                os.unlink(path)
            return path
        if expired:
            last, next_ = self.now - timedelta(days=31), self.now - timedelta(days=1)
        else:
            last, next_ = self.now - timedelta(hours=1), self.now + timedelta(days=30)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(last)
            .next_update(next_)
            .add_extension(x509.CRLNumber(secrets.randbits(32)), critical=False)
        )
        for revoked in self._revoked.get(ca.certificate.fingerprint(hashes.SHA256()), []):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(revoked.serial_number)
                .revocation_date(self.now - timedelta(hours=2))
                .build()
            )
        signer = ca.private_key
        if bad_signature:
            signer = next(k for i in range(2) if (k := pooled_key(2048, i)) is not ca.private_key)
        crl = builder.sign(signer, hashes.SHA256())
        _write(path, crl.public_bytes(serialization.Encoding.PEM), 0o644)
        return path

    def _policy_path(self, ca: Credential, suffix: str) -> str:
        return os.path.join(self.certificates_dir, f"{subject_hash(ca.certificate)}.{suffix}")

    def write_namespaces(self, ca: Credential, text: str | None) -> None:
        """Write C{ca}'s C{.namespaces} file, or delete it when C{text} is None."""
        _write_or_delete(self._policy_path(ca, "namespaces"), text)

    def write_signing_policy(self, ca: Credential, text: str | None) -> None:
        """Write C{ca}'s C{.signing_policy} file, or delete it when C{text} is None."""
        _write_or_delete(self._policy_path(ca, "signing_policy"), text)

    def lsc(self, vo: str, host: str) -> str:
        """Write C{vomsdir/<vo>/<host>.lsc} naming the VOMS signer and its CA; return the path."""
        directory = os.path.join(self.vomsdir, vo)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{host}.lsc")
        _write(path, f"{VOMS_DN}\n{CA_DN}\n".encode(), 0o644)
        return path


def _write_or_delete(path: str, text: str | None) -> None:
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        _write(path, text.encode(), 0o644)


def _slash(certificate: x509.Certificate) -> str:
    """The subject of C{certificate} in slash form (test names need no escaping)."""
    short = {oid: key for key, oid in _SHORT_NAMES.items()}
    return "".join(
        "/" + "+".join(f"{short[a.oid]}={a.value}" for a in rdn) for rdn in certificate.subject.rdns
    )


def namespaces_text(ca: x509.Certificate, *permitted: str, denied: Sequence[str] = ()) -> str:
    """An EUGridPMA C{.namespaces} file: C{ca} may sign subjects matching C{permitted} (regexes)."""
    issuer = _slash(ca)
    lines = [f'TO Issuer "{issuer}" \\\n  PERMIT Subject "{p}"' for p in permitted]
    lines += [f'TO Issuer "{issuer}" \\\n  DENY Subject "{d}"' for d in denied]
    return "# EUGridPMA namespaces\n" + "\n".join(lines) + "\n"


def signing_policy_text(ca: x509.Certificate, *globs: str) -> str:
    """A Globus C{.signing_policy} file: C{ca} may sign subjects matching C{globs}."""
    subjects = " ".join(f'"{g}"' for g in globs)
    return (
        f"access_id_CA   X509    '{_slash(ca)}'\n"
        "pos_rights     globus  CA:sign\n"
        f"cond_subjects  globus  '{subjects}'\n"
    )
