# -*- test-case-name: tests.test_gsi_voms -*-
"""
Rule V4 of docs/security.md: who signed a VOMS attribute certificate.

The signer is found through the VO's LSC file (the signer chain the AC
embeds must be one the file lists, and must itself pass the chain rules
against the trust store) or among the PEM certificates of the VO's
directory; its key must verify the AC's signature and match the AC's
authorityKeyIdentifier.  A L{SignerCache} lets the chain a VOMS server
embeds in all its ACs be validated once rather than on every
authentication.

Pure: asn1crypto and cryptography; nothing here touches Twisted or the
network.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from occid.gsi.dermemo import DerMemo
from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected
from occid.gsi.proxy import ChainFacts, ChainOptions, validate_chain
from occid.gsi.readable import PARSE_ERRORS
from occid.gsi.trust import TrustStore
from occid.gsi.vomsasn1 import ACParts, CertSeq, PrintedName, SameName
from occid.gsi.vomsdir import LscChains, VoDirectory, normalise_dn

#: How many verified signer chains a L{SignerCache} remembers.
SIGNER_CACHE_SIZE = 64

_WEAK_HASHES = frozenset({"md2", "md5", "sha1"})
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SignerRefused(Exception):
    """An AC has no trusted signer (rule V4); the message says why."""


@dataclass(frozen=True)
class Signer:
    """
    A certificate that may have signed an AC, with what checking an AC
    against it takes, read once (see L{signer_of}).

    @ivar key: its public key.
    @ivar key_id: its subjectKeyIdentifier, or the one its key gives when it
        has none (RFC 5280, method 1).
    @ivar subject_der: the DER of its subject.
    """

    certificate: x509.Certificate
    key: CertificatePublicKeyTypes
    key_id: bytes
    subject_der: bytes


def _read_signer(certificate: x509.Certificate) -> Signer:
    key = certificate.public_key()
    try:
        key_id = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        key_id = x509.SubjectKeyIdentifier.from_public_key(key).digest
    return Signer(certificate=certificate, key=key, key_id=key_id,
                  subject_der=certificate.subject.public_bytes())


#: The signers read: the vomsdir certificates and the embedded signers of
#: verified chains.
_SIGNERS: DerMemo[Signer] = DerMemo()
#: The signature algorithms of ACs: (signature algorithm, hash name).
_ALGORITHMS: DerMemo[tuple[str, str]] = DerMemo()
#: The key identifiers named by ACs' authorityKeyIdentifier.
_KEY_IDS: DerMemo[bytes | None] = DerMemo()


def signer_of(certificate: x509.Certificate) -> Signer:
    """
    The L{Signer} of C{certificate}, read once per certificate (a
    certificate hashes and compares by its DER).
    """
    return _SIGNERS.read(certificate, lambda: _read_signer(certificate))


@dataclass(frozen=True)
class SignerLookup:
    """
    Where to look for the signer of one AC, and what to check it against.

    @ivar directory: the vomsdir entry of the AC's VO.
    @ivar trust: the trust store signer chains are validated against.
    @ivar options: the chain options for validating signer chains.
    @ivar now: an aware UTC datetime.
    @ivar signers: the L{SignerCache} for C{trust} and C{options}, if any.
    """

    directory: VoDirectory
    trust: TrustStore
    options: ChainOptions
    now: datetime
    signers: SignerCache | None


@dataclass(frozen=True)
class VerifiedChain:
    """An embedded signer chain, parsed, whose signer passed the chain rules (C2-C13)."""

    signer: Signer  # its first certificate
    presented: tuple[tuple[str, str], ...]  # normalised (subject, issuer) slash DNs, for the LSC
    facts: ChainFacts  # of the signer's validation


class SignerCache:
    """
    The VOMS signer chains already validated (V4), so that the chain a VOMS
    server embeds in every AC it signs is checked against the trust store
    once, not on every authentication.

    Keyed by the DER of the embedded chain.  An entry stands from the
    validation's C{valid_from} to its C{valid_until} (the validity of the
    signer and its CAs, and of their CRLs); outside that span the chain is
    validated again.  The least recently used entry goes first.  A cache
    belongs to one trust store and one set of chain options: make a new
    one whenever the trust material is reloaded.
    """

    def __init__(self, size: int = SIGNER_CACHE_SIZE):
        self._size = size
        self._entries: OrderedDict[bytes, VerifiedChain] = OrderedDict()

    def get(self, der: bytes, now: datetime) -> VerifiedChain | None:
        """The verified chain embedded as C{der}, if its validation holds at C{now}."""
        entry = self._entries.get(der)
        if entry is None or not entry.facts.valid_from <= now <= entry.facts.valid_until:
            return None
        self._entries.move_to_end(der)
        return entry

    def add(self, der: bytes, entry: VerifiedChain) -> None:
        """Remember C{entry}, a chain embedded as C{der} that passed the chain rules."""
        self._entries[der] = entry
        self._entries.move_to_end(der)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


def find_signer(
    ac: ACParts,
    issuer: SameName,
    issuer_dn: PrintedName,
    vo: str,
    voms_host: str,
    certseq: bytes | None,
    lookup: SignerLookup,
) -> Signer:
    """
    V4: the signer, through the LSC or a PEM of the VO directory.

    @param issuer: the AC's issuer name.
    @param certseq: the value of the AC's signer-chain extension, if any.
    @raise SignerRefused: no certificate found this way verifies the AC.
    """
    reasons: list[str] = []
    chains = lookup.directory.lsc.get(voms_host)
    if chains is not None:
        if certseq is None:
            reasons.append(f"{voms_host}.lsc exists but the AC embeds no signer chain")
        else:
            signer = _signer_from_lsc(ac, issuer, certseq, chains, voms_host, lookup, reasons)
            if signer is not None:
                return signer
    candidates = [c for c in lookup.directory.certificates if issuer(c.subject)]
    for certificate in candidates:
        if not certificate.not_valid_before_utc <= lookup.now <= certificate.not_valid_after_utc:
            reasons.append(f"vomsdir certificate of {issuer_dn} is outside its validity")
        else:
            signer = signer_of(certificate)
            if _signature_problem(ac, signer) is None:
                return signer
    if not candidates:
        reasons.append(f"no certificate of {issuer_dn} in vomsdir/{vo}")
    elif not reasons:
        reasons.append(f"no vomsdir certificate of {issuer_dn} verifies the signature")
    raise SignerRefused(f"AC for VO {vo!r} from {issuer_dn} has no trusted signer: " + "; ".join(reasons))


def _signer_from_lsc(
    ac: ACParts,
    issuer: SameName,
    value: bytes,
    chains: LscChains,
    voms_host: str,
    lookup: SignerLookup,
    reasons: list[str],
) -> Signer | None:
    signers = lookup.signers
    verified = signers.get(value, lookup.now) if signers is not None else None
    if verified is not None:
        if verified.presented not in chains:
            reasons.append(_unlisted(verified.presented, voms_host))
            return None
        signer = verified.signer
        if signer.subject_der != issuer.der and not issuer(signer.certificate.subject):
            reasons.append(_NOT_ISSUER)
            return None
    else:
        try:
            certificates = tuple(
                x509.load_der_x509_certificate(c.dump())
                for inner in CertSeq.load(value, strict=True)
                for c in inner
            )
            presented = tuple((normalise_dn(slash_dn(c.subject)), normalise_dn(slash_dn(c.issuer)))
                              for c in certificates)
        except PARSE_ERRORS as e:
            reasons.append(f"unreadable embedded signer chain: {e}")
            return None
        if presented not in chains:
            reasons.append(_unlisted(presented, voms_host))
            return None
        if not issuer(certificates[0].subject):
            reasons.append(_NOT_ISSUER)
            return None
        try:
            # The CA part comes from the trust store only, as for client chains.
            facts = validate_chain([certificates[0]], (), lookup.trust, lookup.options, lookup.now)
        except CertificateRejected as e:
            reasons.append(f"the signer chain is not trusted ({e.rule}: {e.reason})")
            return None
        signer = signer_of(certificates[0])
        if signers is not None:
            signers.add(value, VerifiedChain(signer=signer, presented=presented, facts=facts))
    problem = _signature_problem(ac, signer)
    if problem:
        reasons.append(problem)
        return None
    return signer


_NOT_ISSUER = "the embedded signer is not the AC issuer"


def _unlisted(presented: tuple[tuple[str, str], ...], voms_host: str) -> str:
    shown = " -> ".join(f"{s} (issuer {i})" for s, i in presented) or "nothing"
    return f"the embedded signer chain {shown} matches no chain of {voms_host}.lsc"


def _signature_problem(ac: ACParts, signer: Signer) -> str | None:
    """Why C{signer}'s key does not verify C{ac}, or C{None} if it does."""
    try:
        algo, hash_name = _ALGORITHMS.read(ac.signature_algorithm, lambda: _algorithm(ac.signature_algorithm))
    except ValueError:
        dotted = algos.SignedDigestAlgorithm.load(ac.signature_algorithm)["algorithm"].dotted
        return f"unsupported signature algorithm {dotted}"
    if hash_name in _WEAK_HASHES:
        return f"the AC is signed with {hash_name}, which is too weak"
    if hash_name not in _HASHES:
        return f"unsupported signature hash {hash_name}"
    digest = _HASHES[hash_name]()
    key = signer.key
    tbs = ac.ac_info
    signature = core.OctetBitString.load(ac.signature, strict=True).native
    try:
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, tbs, padding.PKCS1v15(), digest)
        elif algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, tbs, ec.ECDSA(digest))
        else:
            return f"signature algorithm {algo} does not fit the signer's key"
    except InvalidSignature:
        return f"the signature does not verify with the key of {slash_dn(signer.certificate.subject)}"
    return None


def _algorithm(der: bytes) -> tuple[str, str]:
    """The signature algorithm and hash of the SignedDigestAlgorithm C{der}."""
    algorithm = algos.SignedDigestAlgorithm.load(der, strict=True)
    return algorithm.signature_algo, algorithm.hash_algo


def check_authority_key(value: bytes, signer: Signer, issuer_dn: PrintedName) -> None:
    """
    V4: the AC's authorityKeyIdentifier (the DER C{value}) names the key of
    C{signer}.

    @raise SignerRefused: it is unreadable or names another key.
    """
    try:
        key_id = _KEY_IDS.read(value, lambda: asn1_x509.AuthorityKeyIdentifier.load(
            value, strict=True)["key_identifier"].native)
    except ValueError as e:
        raise SignerRefused(f"AC from {issuer_dn} has an unreadable authorityKeyIdentifier: {e}") from None
    if key_id != signer.key_id:
        raise SignerRefused(f"AC from {issuer_dn}: authorityKeyIdentifier does not name the signer's key")
