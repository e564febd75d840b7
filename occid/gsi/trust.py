# -*- test-case-name: tests.test_gsi_trust -*-
"""
The IGTF trust directory (C{/etc/grid-security/certificates}), read once.

L{TrustStore.load} parses the hashed CA certificates (C{<hash>.N}), their
CRLs (C{<hash>.rN}) and the CAs' policy files (read by
L{occid.gsi.capolicy}), checks every CRL signature and every CA-to-CA
signature once, and answers lookups by name.  Nothing here
touches the disk after loading: the daemon polls L{fingerprint} and loads a
new store when fetch-crl or an IGTF update rewrote the directory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeGuard, TypeVar, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPublicKeyTypes,
    CertificatePublicKeyTypes,
)

from occid.gsi.capolicy import NamespacePolicy, SigningPolicy, parse_namespaces, parse_signing_policy
from occid.gsi.names import rdn_sequence, slash_dn
from occid.gsi.readable import unreadable

_CA_FILE = re.compile(r"^([0-9a-f]{8})\.\d+$")
_CRL_FILE = re.compile(r"^([0-9a-f]{8})\.r\d+$")
_POLICY_FILE = re.compile(r"^([0-9a-f]{8})\.(signing_policy|namespaces)$")
_MAX_CA_DEPTH = 10
_T = TypeVar("_T")
#: A name as compared: L{rdn_sequence}'s result.
_RdnKey = tuple[tuple[tuple[str, str], ...], ...]
_ISSUER_KEY_TYPES = get_args(CertificateIssuerPublicKeyTypes)


def fingerprint(ca_dir: str) -> str:
    """
    A cheap digest of the directory listing (names, sizes, mtimes): it
    changes whenever a file is added, removed or rewritten.
    """
    entries = []
    with os.scandir(ca_dir) as listing:
        for entry in listing:
            try:
                st = entry.stat()
            except OSError:
                continue
            entries.append(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


@dataclass(frozen=True)
class Unusable:
    """Why a CA has no usable path to a trust anchor, and the rule (C2, C13) that says so."""

    rule: str
    reason: str


@dataclass(frozen=True, eq=False)
class Authority:
    """
    One CA of the trust dir.

    @ivar crl: its CRL, if a C{.rN} file names it as issuer; when
        C{crl_signature_valid} is false no CRL in the directory was signed
        by this CA's key and C{crl} is one of the impostors.
    """

    certificate: x509.Certificate
    dn: str
    stem: str
    namespaces: NamespacePolicy | None
    signing_policy: SigningPolicy | None
    crl: x509.CertificateRevocationList | None = None
    crl_signature_valid: bool = False

    def policy_verdict(self, subject_dn: str, *, require: bool) -> str | None:
        """
        C{None} if this CA's policy files permit it to sign C{subject_dn}
        (C{.namespaces} first, else C{.signing_policy}, as canl-java's
        EUGRIDPMA_GLOBUS mode); with neither file, refused only if C{require}.
        """
        if self.namespaces is not None:
            return self.namespaces.verdict(self.dn, subject_dn)
        if self.signing_policy is not None:
            return self.signing_policy.verdict(self.dn, subject_dn)
        if require:
            return f"{self.dn} has neither a .namespaces nor a .signing_policy file"
        return None


@dataclass(frozen=True)
class TrustStore:
    """
    The parsed trust dir.

    @ivar problems: what was wrong with its files (for the log); the files
        concerned are skipped or, for policies, permit nothing.
    """

    authorities: tuple[Authority, ...]
    problems: tuple[str, ...]
    _by_subject: dict[_RdnKey, list[Authority]] = field(repr=False)
    _paths: dict[int, tuple[Authority, ...] | Unusable] = field(repr=False)

    @classmethod
    def load(cls, ca_dir: str, now: datetime) -> TrustStore:
        """Parse C{ca_dir}; problems (including expired CAs and CRLs at C{now}) are collected, not raised."""
        problems: list[str] = []
        certificates: dict[bytes, tuple[str, x509.Certificate]] = {}
        crls: list[x509.CertificateRevocationList] = []
        namespaces: dict[str, NamespacePolicy] = {}
        signing: dict[str, SigningPolicy] = {}
        for entry in sorted(os.listdir(ca_dir)):
            path = os.path.join(ca_dir, entry)
            if match := _CA_FILE.match(entry):
                for certificate in _read(path, x509.load_pem_x509_certificates, problems):
                    certificates.setdefault(certificate.fingerprint(hashes.SHA256()), (match[1], certificate))
            elif _CRL_FILE.match(entry):
                crls.extend(_read(path, lambda data: [x509.load_pem_x509_crl(data)], problems))
            elif match := _POLICY_FILE.match(entry):
                text = _read_text(path, problems)
                if text is None:
                    continue
                if match[2] == "namespaces":
                    namespaces[match[1]] = parse_namespaces(text)
                else:
                    signing[match[1]] = parse_signing_policy(text)

        authorities = []
        for stem, certificate in certificates.values():
            problem = unreadable(certificate)
            if problem is not None:
                problems.append(f"{stem}: unreadable CA certificate ({problem}); ignored")
                continue
            dn = slash_dn(certificate.subject)
            if not is_ca(certificate):
                problems.append(f"{stem}: {dn} is not a CA certificate; ignored")
                continue
            if certificate.not_valid_after_utc < now:
                problems.append(f"{stem}: CA {dn} expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
            crl, valid = _crl_of(certificate, crls)
            if crl is not None and not valid:
                problems.append(f"{stem}: the CRL naming {dn} is not signed by its key")
            elif crl is not None and crl.next_update_utc is not None and crl.next_update_utc < now:
                problems.append(f"{stem}: the CRL of {dn} expired on {crl.next_update_utc:%Y-%m-%d %H:%M}")
            for policy in (namespaces.get(stem), signing.get(stem)):
                if policy is not None and policy.error:
                    problems.append(f"{stem}: policy file for {dn}: {policy.error}")
            authorities.append(
                Authority(
                    certificate=certificate, dn=dn, stem=stem,
                    namespaces=namespaces[stem].for_ca(dn) if stem in namespaces else None,
                    signing_policy=signing.get(stem),
                    crl=crl, crl_signature_valid=valid,
                )
            )

        by_subject: dict[_RdnKey, list[Authority]] = {}
        for authority in authorities:
            by_subject.setdefault(rdn_sequence(authority.certificate.subject), []).append(authority)
        paths = {}
        for authority in authorities:
            built = _build_path(authority, by_subject)
            if isinstance(built, Unusable):
                problems.append(f"{authority.stem}: {built.reason}")
            paths[id(authority)] = built
        return cls(tuple(authorities), tuple(problems), by_subject, paths)

    def issuers_of(self, certificate: x509.Certificate) -> list[Authority]:
        """The CAs whose subject is C{certificate}'s issuer (a key rollover may give several)."""
        return self._by_subject.get(rdn_sequence(certificate.issuer), [])

    def path(self, authority: Authority) -> tuple[Authority, ...] | Unusable:
        """
        C{authority} and its parents up to a self-issued root, every link's
        signature checked at load; or why there is no such path.
        """
        return self._paths[id(authority)]



def _build_path(
    authority: Authority, by_subject: dict[_RdnKey, list[Authority]]
) -> tuple[Authority, ...] | Unusable:
    """C{authority} up to a self-issued trust anchor (whose self-signature, like OpenSSL, is not checked)."""
    path = [authority]
    while True:
        current = path[-1].certificate
        if current.issuer == current.subject:
            return tuple(path)
        if len(path) > _MAX_CA_DEPTH:
            return Unusable("C2", f"the CA path of {authority.dn} is longer than {_MAX_CA_DEPTH}")
        try:
            algorithm = current.signature_hash_algorithm
        except UnsupportedAlgorithm:
            return Unusable("C13", f"the CA {path[-1].dn} is signed with an unsupported algorithm")
        if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
            return Unusable(
                "C13", f"the CA {path[-1].dn} is signed with {algorithm.name.upper()}, a broken digest"
            )
        parents = [
            a
            for a in by_subject.get(rdn_sequence(current.issuer), [])
            if a not in path and signed_by(current, a.certificate)
        ]
        if not parents:
            return Unusable("C2", f"no CA in the trust dir signed {path[-1].dn}")
        path.append(parents[0])


def is_ca(certificate: x509.Certificate) -> bool:
    """Whether C{certificate}'s basicConstraints say it is a CA."""
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether C{issuer}'s key signed C{certificate} and C{issuer} names it."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _crl_of(
    ca: x509.Certificate, crls: list[x509.CertificateRevocationList]
) -> tuple[x509.CertificateRevocationList | None, bool]:
    """The newest CRL naming C{ca} as issuer and signed by its key, else any naming it (invalid)."""
    naming = [c for c in crls if c.issuer == ca.subject]
    key = ca.public_key()
    valid = [c for c in naming if _can_sign(key) and c.is_signature_valid(key)]
    if valid:
        return max(valid, key=lambda c: c.last_update_utc), True
    return (naming[0] if naming else None), False


def _can_sign(key: CertificatePublicKeyTypes) -> TypeGuard[CertificateIssuerPublicKeyTypes]:
    """Whether C{key} is of a kind that signs (a key agreement key verifies no CRL)."""
    return isinstance(key, _ISSUER_KEY_TYPES)


def out_of_descriptors(error: OSError) -> bool:
    """
    Whether C{error} is the process (or system) running out of file
    descriptors: a passing state of the process, not a problem of the file,
    so a load meeting it fails as a whole rather than leave the file out (a
    CRL left out would let its revoked users in).
    """
    return error.errno in (errno.EMFILE, errno.ENFILE)


def _read(path: str, parse: Callable[[bytes], list[_T]], problems: list[str]) -> list[_T]:
    try:
        with open(path, "rb") as f:
            return parse(f.read())
    except OSError as e:
        if out_of_descriptors(e):
            raise
        problems.append(f"{os.path.basename(path)}: unreadable ({e})")
        return []
    except ValueError as e:
        problems.append(f"{os.path.basename(path)}: unreadable ({e})")
        return []


def _read_text(path: str, problems: list[str]) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        if out_of_descriptors(e):
            raise
        problems.append(f"{os.path.basename(path)}: unreadable ({e.strerror})")
        return None
