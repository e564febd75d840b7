# -*- test-case-name: tests.test_gsi_voms -*-
"""
VOMS attribute certificates: find them in a verified proxy chain, check them
against the vomsdir, and read the VO, FQANs and generic attributes.

Rules V1-V7 and M1 of reference/grid-security.md.  An AC that breaks a rule
is dropped, never fatal: the chain still authenticates, without a VO, and the
reason is returned so the caller can log it with the user's DN.

A L{SignerCache} lets the signer chain a VOMS server embeds in all its ACs be
validated against the trust store once rather than on every authentication.

Pure: asn1crypto parses the ACs (it keeps the signed bytes as they came) and
cryptography checks signatures; nothing here touches Twisted or the network.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from urllib.parse import urlsplit

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected, GenericAttribute
from occid.gsi.proxy import ChainFacts, validate_chain
from occid.gsi.readable import PARSE_ERRORS, unreadable

#: The proxy extension holding the ACs: SEQUENCE OF SEQUENCE OF AC.
AC_EXTENSION = "1.3.6.1.4.1.8005.100.100.5"
#: The AC attribute holding the FQANs (IetfAttrSyntax).
FQAN_ATTRIBUTE = "1.3.6.1.4.1.8005.100.100.4"
#: AC extension: the VOMS signer's certificate chain.
CERTSEQ = "1.3.6.1.4.1.8005.100.100.10"
#: AC extension: generic attributes.
GENERIC_ATTRIBUTES = "1.3.6.1.4.1.8005.100.100.11"
TARGETS = "2.5.29.55"
NO_REV_AVAIL = "2.5.29.56"
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"

#: The clock skew tolerated on AC validity (VOMS C and voms-api-java: 300 s).
SKEW = timedelta(minutes=5)

#: How many verified signer chains a L{SignerCache} remembers.
SIGNER_CACHE_SIZE = 64

#: Critical extensions V5 lets through: targets, and the two V6 rules on.
_MAY_BE_CRITICAL = frozenset({TARGETS, NO_REV_AVAIL, AUTHORITY_KEY_IDENTIFIER})
_WEAK_HASHES = frozenset({"md2", "md5", "sha1"})
_HASHES = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_LSC_SEPARATOR = re.compile(r"^-+\s*NEXT CHAIN\s*-+$")
_EMAIL_SPELLINGS = re.compile(r"/(?:emailAddress|Email|E)=", re.IGNORECASE)
_UID_SPELLINGS = re.compile(r"/(?:USERID|UID)=", re.IGNORECASE)


class ACList(core.SequenceOf):
    _child_spec = cms.AttributeCertificateV2


class ACLists(core.SequenceOf):
    """The value of L{AC_EXTENSION}: one inner list per VOMS server."""

    _child_spec = ACList


class SignerCertificates(core.SequenceOf):
    _child_spec = asn1_x509.Certificate


class CertSeq(core.SequenceOf):
    """The value of L{CERTSEQ}: SEQUENCE OF SEQUENCE OF Certificate."""

    _child_spec = SignerCertificates


class Target(core.Choice):
    _alternatives = [
        ("target_name", asn1_x509.GeneralName, {"explicit": 0}),
        ("target_group", asn1_x509.GeneralName, {"explicit": 1}),
        ("target_cert", core.Any, {"implicit": 2}),
    ]


class Targets(core.SequenceOf):
    _child_spec = Target


class TargetsList(core.SequenceOf):
    """The value of L{TARGETS}: SEQUENCE OF Targets."""

    _child_spec = Targets


class GAEntry(core.Sequence):
    _fields = [
        ("name", core.OctetString),
        ("value", core.OctetString),
        ("qualifier", core.OctetString),
    ]


class GAEntries(core.SequenceOf):
    _child_spec = GAEntry


class GAProvider(core.Sequence):
    _fields = [
        ("grantor", asn1_x509.GeneralNames),
        ("attributes", GAEntries),
    ]


class GAProviders(core.SequenceOf):
    _child_spec = GAProvider


class GAValue(core.Sequence):
    """The value of L{GENERIC_ATTRIBUTES}."""

    _fields = [("providers", GAProviders)]


@dataclass(frozen=True, kw_only=True)
class VomsAttributes:
    """
    What an accepted AC says about its holder.

    @ivar vo: the VO named by the AC's policyAuthority.
    @ivar fqans: the FQANs in the AC's order, normalised (M1), each once;
        the first is the primary FQAN.
    @ivar attributes: the generic attributes, a tuple of
        L{GenericAttribute}.
    @ivar not_after: the end of the AC's validity.
    """

    vo: str
    fqans: tuple[str, ...]
    attributes: tuple[GenericAttribute, ...]
    not_after: datetime


@dataclass(frozen=True, kw_only=True)
class DroppedAC:
    """
    Why one AC was not accepted.

    @ivar rule: the rule it broke (C{"V1"} … C{"V7"}).
    @ivar reason: what was wrong, for the log.
    @ivar valid_from: for an AC dropped because it starts in the future, the
        moment V3 accepts it (its notBefore less L{SKEW}); else C{None}.
    """

    rule: str
    reason: str
    valid_from: datetime | None = None

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class VomsVerdict:
    """
    The outcome of L{verify_acs}.

    @ivar attributes: the L{VomsAttributes} of the first AC that passed every
        rule, or C{None}.
    @ivar dropped: a L{DroppedAC} for every AC looked at and refused.
    """

    attributes: VomsAttributes | None
    dropped: tuple[DroppedAC, ...]


@dataclass(frozen=True, kw_only=True)
class VoDirectory:
    """
    The trust material for one VO: C{vomsdir/<vo>/}.

    @ivar lsc: VOMS host name to its accepted signer chains; each chain is a
        tuple of C{(subject, issuer)} slash-form DN pairs, signer first.
    @ivar certificates: the PEM certificates found in the directory.
    """

    lsc: Mapping[str, tuple[tuple[tuple[str, str], ...], ...]]
    certificates: tuple[x509.Certificate, ...]


@dataclass(frozen=True, kw_only=True)
class VomsDir:
    """
    A parsed vomsdir, read once at start and on reload.

    @ivar vos: VO name to its L{VoDirectory}.
    @ivar problems: what could not be used and why (unreadable files, odd
        LSC line counts), for the caller to log.
    """

    vos: Mapping[str, VoDirectory]
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str) -> VomsDir:
        """
        Read the vomsdir at C{path}: one sub-directory per VO holding
        C{<host>.lsc} files and PEM certificates.
        """
        vos = {}
        problems: list[str] = []
        for vo in sorted(os.listdir(path)):
            directory = os.path.join(path, vo)
            if os.path.isdir(directory):
                vos[vo] = _load_vo_directory(directory, problems)
        return cls(vos=MappingProxyType(vos), problems=tuple(problems))


@dataclass(frozen=True)
class _VerifiedChain:
    """An embedded signer chain, parsed, whose signer passed the chain rules (C2-C13)."""

    certificates: tuple[x509.Certificate, ...]
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
        self._entries: OrderedDict[bytes, _VerifiedChain] = OrderedDict()

    def get(self, der: bytes, now: datetime) -> _VerifiedChain | None:
        """The verified chain embedded as C{der}, if its validation holds at C{now}."""
        entry = self._entries.get(der)
        if entry is None or not entry.facts.valid_from <= now <= entry.facts.valid_until:
            return None
        self._entries.move_to_end(der)
        return entry

    def add(self, der: bytes, entry: _VerifiedChain) -> None:
        """Remember C{entry}, a chain embedded as C{der} that passed the chain rules."""
        self._entries[der] = entry
        self._entries.move_to_end(der)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


def _load_vo_directory(directory: str, problems: list[str]) -> VoDirectory:
    lsc = {}
    certificates: list[x509.Certificate] = []
    for name in sorted(os.listdir(directory)):
        filename = os.path.join(directory, name)
        if not os.path.isfile(filename):
            continue
        try:
            with open(filename, "rb") as f:
                data = f.read()
        except OSError as e:
            problems.append(f"{filename}: cannot read: {e.strerror}")
            continue
        if name.endswith(".lsc"):
            lsc[name[: -len(".lsc")]] = parse_lsc(data.decode("utf-8", "replace"), filename, problems)
        elif b"-----BEGIN CERTIFICATE-----" in data:
            try:
                loaded = x509.load_pem_x509_certificates(data)
            except PARSE_ERRORS:
                problems.append(f"{filename}: not a valid PEM certificate")
                continue
            for certificate in loaded:
                problem = unreadable(certificate)
                if problem is None:
                    certificates.append(certificate)
                else:
                    problems.append(f"{filename}: unreadable certificate ({problem}); ignored")
    return VoDirectory(lsc=MappingProxyType(lsc), certificates=tuple(certificates))


def parse_lsc(
    text: str, filename: str, problems: list[str]
) -> tuple[tuple[tuple[str, str], ...], ...]:
    """
    Parse an LSC file: DN lines in (subject, issuer) pairs, signer first;
    C{#} comments; alternative chains separated by C{------ NEXT CHAIN ------}
    (or C{------NEXT CHAIN------}).  A chain with an odd number of lines is
    skipped and reported in C{problems}.
    """
    chains: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if _LSC_SEPARATOR.match(line):
            chains.append([])
        else:
            chains[-1].append(normalise_dn(line))
    parsed = []
    for number, lines in enumerate(chains, 1):
        if not lines:
            continue
        if len(lines) % 2:
            problems.append(
                f"{filename}: chain {number} has an odd number of DN lines; "
                "each certificate needs a subject line and an issuer line"
            )
            continue
        parsed.append(tuple(zip(lines[0::2], lines[1::2])))
    return tuple(parsed)


def normalise_dn(dn: str) -> str:
    """A slash-form DN with the e-mail and user-id attribute spellings unified."""
    return _UID_SPELLINGS.sub("/UID=", _EMAIL_SPELLINGS.sub("/emailAddress=", dn))


def normalise_fqan(fqan: str) -> str:
    """M1: drop C{/Role=NULL} and C{/Capability=NULL} from a FQAN."""
    parts = [p for p in fqan.split("/") if p not in ("Role=NULL", "Capability=NULL")]
    return "/".join(parts)


class _Dropped(Exception):
    def __init__(self, rule: str, reason: str, valid_from: datetime | None = None):
        super().__init__(reason)
        self.dropped = DroppedAC(rule=rule, reason=reason, valid_from=valid_from)


def find_acs(proxies) -> tuple[tuple[cms.AttributeCertificateV2, ...], tuple[DroppedAC, ...]]:
    """
    V1: the ACs of the proxy nearest the leaf that carries any.

    @param proxies: the chain's proxy certificates, leaf first (never the
        EEC: an AC in the end-entity certificate is not looked at).
    @return: the ACs in order, and a L{DroppedAC} if the extension could not
        be parsed.
    """
    oid = x509.ObjectIdentifier(AC_EXTENSION)
    for proxy in proxies:
        try:
            extension = proxy.extensions.get_extension_for_oid(oid)
        except x509.ExtensionNotFound:
            continue
        try:
            lists = ACLists.load(extension.value.value, strict=True)
            acs = tuple(ac for inner in lists for ac in inner)
        except PARSE_ERRORS as e:
            return (), (DroppedAC(rule="V1", reason=f"unparseable VOMS extension: {e}"),)
        return acs, ()
    return (), ()


def verify_acs(
    facts, vomsdir: VomsDir, trust, options, host: str, now: datetime, signers: SignerCache | None = None
) -> VomsVerdict:
    """
    Check the ACs of a validated chain (V1-V7) and read the first good one.

    @param facts: the C{ChainFacts} of the validated client chain.
    @param vomsdir: the L{VomsDir}.
    @param trust: the trust store the signer chains are validated against.
    @param options: the C{ChainOptions} for validating signer chains.
    @param host: our host name (of C{public_url}), checked against AC targets.
    @param now: an aware UTC datetime.
    @param signers: the L{SignerCache} for C{trust} and C{options}, if any.
    """
    acs, dropped = find_acs(facts.ac_carriers)
    dropped = list(dropped)
    for ac in acs:
        try:
            return VomsVerdict(
                attributes=_verify(ac, facts.eec, vomsdir, trust, options, host, now, signers),
                dropped=tuple(dropped),
            )
        except _Dropped as e:
            dropped.append(e.dropped)
        except PARSE_ERRORS as e:
            dropped.append(DroppedAC(rule="V1", reason=f"malformed AC: {e}"))
    return VomsVerdict(attributes=None, dropped=tuple(dropped))


def _verify(ac, eec, vomsdir, trust, options, host, now, signers) -> VomsAttributes:
    info = ac["ac_info"]
    issuer_name = _issuer_name(info)
    issuer_dn = _PrintedName(issuer_name)

    # V2: version and holder
    if info["version"].native != "v2":
        raise _Dropped("V2", f"AC from {issuer_dn} is version {info['version'].native}, not v2")
    _check_holder(info["holder"], eec, issuer_dn)

    # V3: validity
    validity = info["att_cert_validity_period"]
    not_before = validity["not_before_time"].native
    not_after = validity["not_after_time"].native
    if now + SKEW < not_before:
        raise _Dropped("V3", f"AC from {issuer_dn} is not valid before {not_before:%Y-%m-%d %H:%M:%S}Z",
                       valid_from=not_before - SKEW)
    if now - SKEW > not_after:
        raise _Dropped("V3", f"AC from {issuer_dn} expired at {not_after:%Y-%m-%d %H:%M:%S}Z")

    vo, voms_host, raw_fqans = _fqan_attribute(info, issuer_dn)
    extensions = _extensions(info, issuer_dn)

    # V5: critical extensions and targets (V6 covers noRevAvail and AKI)
    for oid, (critical, _) in extensions.items():
        if critical and oid not in _MAY_BE_CRITICAL:
            raise _Dropped("V5", f"AC from {issuer_dn} has an unknown critical extension {oid}")
    if TARGETS in extensions:
        _check_targets(extensions[TARGETS][1], host, issuer_dn)

    # V6: noRevAvail and AKI present and non-critical
    for oid, name in ((NO_REV_AVAIL, "noRevAvail"), (AUTHORITY_KEY_IDENTIFIER, "authorityKeyIdentifier")):
        if oid not in extensions:
            raise _Dropped("V6", f"AC from {issuer_dn} has no {name} extension")
        if extensions[oid][0]:
            raise _Dropped("V6", f"AC from {issuer_dn} marks {name} critical")

    # V4: signer
    directory = vomsdir.vos.get(vo)
    if directory is None:
        raise _Dropped("V4", f"AC for VO {vo!r} from {issuer_dn}: no vomsdir entry for this VO")
    signer = _find_signer(ac, issuer_name, issuer_dn, directory, vo, voms_host,
                          extensions.get(CERTSEQ), trust, options, now, signers)
    _check_authority_key(extensions[AUTHORITY_KEY_IDENTIFIER][1], signer, issuer_dn)

    # V7: every FQAN inside the VO of the vomsdir entry used
    for fqan in raw_fqans:
        if fqan != f"/{vo}" and not fqan.startswith(f"/{vo}/"):
            raise _Dropped("V7", f"AC for VO {vo!r} from {issuer_dn} carries FQAN {fqan!r} outside /{vo}")

    attributes = ()
    if GENERIC_ATTRIBUTES in extensions:
        attributes = _generic_attributes(extensions[GENERIC_ATTRIBUTES][1], issuer_dn)
    return VomsAttributes(
        vo=vo,
        fqans=tuple(dict.fromkeys(normalise_fqan(f) for f in raw_fqans)),
        attributes=attributes,
        not_after=not_after,
    )


def _issuer_name(info) -> asn1_x509.Name:
    issuer = info["issuer"]
    names = issuer.chosen["issuer_name"] if issuer.name == "v2_form" else issuer.chosen
    for general_name in names:
        if general_name.name == "directory_name":
            return general_name.chosen
    raise _Dropped("V4", "AC issuer has no directory name")


def _check_holder(holder, eec: x509.Certificate, issuer_dn: _PrintedName) -> None:
    base = holder["base_certificate_id"]
    if not base:
        raise _Dropped("V2", f"AC from {issuer_dn} has no holder baseCertificateID")
    if base["serial"].native != eec.serial_number:
        raise _Dropped(
            "V2",
            f"AC from {issuer_dn} is for certificate serial {base['serial'].native}, "
            f"not this chain's end-entity certificate ({eec.serial_number})",
        )
    accepted = {_name_key(eec.issuer), _name_key(eec.subject)}
    for general_name in base["issuer"]:
        if general_name.name == "directory_name" and _asn1_name_key(general_name.chosen) in accepted:
            return
    raise _Dropped(
        "V2",
        f"AC from {issuer_dn} names a holder that is neither {slash_dn(eec.subject)} "
        f"nor its issuer {slash_dn(eec.issuer)}",
    )


def _fqan_attribute(info, issuer_dn: _PrintedName) -> tuple[str, str, tuple[str, ...]]:
    found = [a for a in info["attributes"] if a["type"].dotted == FQAN_ATTRIBUTE]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise _Dropped("V7", f"AC from {issuer_dn} does not hold exactly one FQAN attribute")
    try:
        syntax = found[0]["values"][0].parse(cms.IetfAttrSyntax)
        authorities = [
            n.native for n in syntax["policy_authority"] or ()
            if n.name == "uniform_resource_identifier"
        ]
        if any(v.name != "octets" for v in syntax["values"]):
            raise ValueError("FQANs must be OCTET STRINGs")
        fqans = tuple(v.chosen.native.decode("utf-8") for v in syntax["values"])
    except (ValueError, UnicodeDecodeError) as e:
        raise _Dropped("V7", f"AC from {issuer_dn} has an unreadable FQAN attribute: {e}") from None
    if len(authorities) != 1 or "://" not in authorities[0]:
        raise _Dropped("V7", f"AC from {issuer_dn} has no vo://host:port policyAuthority")
    vo, _, rest = authorities[0].partition("://")
    if not vo or not fqans:
        raise _Dropped("V7", f"AC from {issuer_dn} names no VO or no FQAN")
    return vo, rest.split(":")[0], fqans


def _extensions(info, issuer_dn: _PrintedName) -> dict[str, tuple[bool, bytes]]:
    """OID to (critical, DER value) for every extension of the AC."""
    found = {}
    for extension in info["extensions"] or ():
        oid = extension["extn_id"].dotted
        if oid in found:
            raise _Dropped("V5", f"AC from {issuer_dn} repeats extension {oid}")
        found[oid] = (bool(extension["critical"].native), extension["extn_value"].contents)
    return found


def _check_targets(value: bytes, host: str, issuer_dn: _PrintedName) -> None:
    names = set()
    try:
        for targets in TargetsList.load(value, strict=True):
            for target in targets:
                if target.name == "target_name" and target.chosen.name in (
                    "uniform_resource_identifier", "dns_name"
                ):
                    text = target.chosen.native
                    names.add((urlsplit(text).hostname if "://" in text else text).lower())
    except ValueError as e:
        raise _Dropped("V5", f"AC from {issuer_dn} has unreadable targets: {e}") from None
    if host.lower() not in names:
        listed = ", ".join(sorted(names)) or "none"
        raise _Dropped("V5", f"AC from {issuer_dn} is targeted at {listed}, not {host}")


def _find_signer(ac, issuer_name, issuer_dn, directory: VoDirectory, vo, voms_host,
                 certseq, trust, options, now, signers) -> x509.Certificate:
    """V4: the signer certificate, through the LSC or a PEM of the VO directory."""
    reasons = []
    chains = directory.lsc.get(voms_host)
    if chains is not None:
        if certseq is None:
            reasons.append(f"{voms_host}.lsc exists but the AC embeds no signer chain")
        else:
            signer = _signer_from_lsc(ac, issuer_name, certseq[1], chains, voms_host,
                                      trust, options, now, reasons, signers)
            if signer is not None:
                return signer
    expected = _asn1_name_key(issuer_name)
    candidates = [c for c in directory.certificates if _name_key(c.subject) == expected]
    for certificate in candidates:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            reasons.append(f"vomsdir certificate of {issuer_dn} is outside its validity")
        elif _signature_problem(ac, certificate) is None:
            return certificate
    if not candidates:
        reasons.append(f"no certificate of {issuer_dn} in vomsdir/{vo}")
    elif not reasons:
        reasons.append(f"no vomsdir certificate of {issuer_dn} verifies the signature")
    raise _Dropped("V4", f"AC for VO {vo!r} from {issuer_dn} has no trusted signer: " + "; ".join(reasons))


def _signer_from_lsc(ac, issuer_name, value, chains, voms_host, trust, options, now, reasons, signers):
    verified = signers.get(value, now) if signers is not None else None
    if verified is not None:
        certificates, presented = verified.certificates, verified.presented
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
        shown = " -> ".join(f"{s} (issuer {i})" for s, i in presented) or "nothing"
        reasons.append(f"the embedded signer chain {shown} matches no chain of {voms_host}.lsc")
        return None
    signer = certificates[0]
    if _name_key(signer.subject) != _asn1_name_key(issuer_name):
        reasons.append("the embedded signer is not the AC issuer")
        return None
    if verified is None:
        try:
            # The CA part comes from the trust store only, as for client chains.
            facts = validate_chain([signer], (), trust, options, now)
        except CertificateRejected as e:
            reasons.append(f"the signer chain is not trusted ({e.rule}: {e.reason})")
            return None
        if signers is not None:
            signers.add(value, _VerifiedChain(certificates=certificates, presented=presented, facts=facts))
    problem = _signature_problem(ac, signer)
    if problem:
        reasons.append(problem)
        return None
    return signer


def _signature_problem(ac, signer: x509.Certificate) -> str | None:
    """Why C{signer}'s key does not verify C{ac}, or C{None} if it does."""
    algorithm = ac["signature_algorithm"]
    try:
        algo, hash_name = algorithm.signature_algo, algorithm.hash_algo
    except ValueError:
        return f"unsupported signature algorithm {algorithm['algorithm'].dotted}"
    if hash_name in _WEAK_HASHES:
        return f"the AC is signed with {hash_name}, which is too weak"
    if hash_name not in _HASHES:
        return f"unsupported signature hash {hash_name}"
    digest = _HASHES[hash_name]()
    key = signer.public_key()
    tbs = ac["ac_info"].dump()
    signature = ac["signature"].native
    try:
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, tbs, padding.PKCS1v15(), digest)
        elif algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, tbs, ec.ECDSA(digest))
        else:
            return f"signature algorithm {algo} does not fit the signer's key"
    except InvalidSignature:
        return f"the signature does not verify with the key of {slash_dn(signer.subject)}"
    return None


def _check_authority_key(value: bytes, signer: x509.Certificate, issuer_dn: _PrintedName) -> None:
    try:
        key_id = asn1_x509.AuthorityKeyIdentifier.load(value, strict=True)["key_identifier"].native
    except ValueError as e:
        raise _Dropped("V4", f"AC from {issuer_dn} has an unreadable authorityKeyIdentifier: {e}") from None
    try:
        ski = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest
    if key_id != ski:
        raise _Dropped("V4", f"AC from {issuer_dn}: authorityKeyIdentifier does not name the signer's key")


def _generic_attributes(value: bytes, issuer_dn: _PrintedName) -> tuple[GenericAttribute, ...]:
    try:
        parsed = GAValue.load(value, strict=True)
        return tuple(
            GenericAttribute(
                name=a["name"].native.decode("utf-8"),
                value=a["value"].native.decode("utf-8"),
                qualifier=a["qualifier"].native.decode("utf-8"),
            )
            for provider in parsed["providers"]
            for a in provider["attributes"]
        )
    except (ValueError, UnicodeDecodeError) as e:
        raise _Dropped("V5", f"AC from {issuer_dn} has unreadable generic attributes: {e}") from None


def _name_key(name: x509.Name) -> tuple:
    """A structural key of a cryptography Name: RDNs in order, each a set."""
    return tuple(frozenset((a.oid.dotted_string, a.value) for a in rdn) for rdn in name.rdns)


def _asn1_name_key(name: asn1_x509.Name) -> tuple:
    """The same key as L{_name_key} for an asn1crypto Name."""
    return tuple(
        frozenset((a["type"].dotted, a["value"].native) for a in rdn) for rdn in name.chosen
    )


class _PrintedName:
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
        return name.human_friendly
