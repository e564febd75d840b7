# -*- test-case-name: tests.test_gsi_voms -*-
"""
VOMS attribute certificates: find them in a verified proxy chain, check them
against the vomsdir, and read the VO, FQANs and generic attributes.

Rules V1-V7 and M1 of docs/security.md.  An AC that breaks a rule is
dropped, never fatal: the chain still authenticates, without a VO, and the
reason is returned so the caller can log it with the user's DN.  The
signer (V4) is found by L{occid.gsi.vomssigner}; the trust material comes
from L{occid.gsi.vomsdir}; the ASN.1 from L{occid.gsi.vomsasn1}.

Pure: asn1crypto parses the ACs (it keeps the signed bytes as they came) and
cryptography checks signatures; nothing here touches Twisted or the network.
The parts a user's ACs share are read once: L{occid.gsi.vomsasn1.split_ac}
slices them out of an AC's bytes and L{occid.gsi.dermemo.DerMemo}s keep what
was read from them; every rule still runs on every AC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from asn1crypto import cms
from cryptography import x509

from occid.gsi.dermemo import DerMemo
from occid.gsi.names import slash_dn
from occid.gsi.principal import GenericAttribute
from occid.gsi.proxy import ChainFacts, ChainOptions
from occid.gsi.readable import PARSE_ERRORS
from occid.gsi.trust import TrustStore
from occid.gsi.vomsasn1 import (
    AC_EXTENSION,
    AUTHORITY_KEY_IDENTIFIER,
    CERTSEQ,
    FQAN_ATTRIBUTE,
    GENERIC_ATTRIBUTES,
    NO_REV_AVAIL,
    TARGETS,
    ACLists,
    GAValue,
    PrintedName,
    SameName,
    TargetsList,
    parts_of,
    split_ac,
)
from occid.gsi.vomsdir import VomsDir
from occid.gsi.vomssigner import SignerCache, SignerLookup, SignerRefused, check_authority_key, find_signer

__all__ = [
    "SKEW",
    "DroppedAC",
    "SignerCache",
    "VomsAttributes",
    "VomsDir",
    "VomsVerdict",
    "find_acs",
    "normalise_fqan",
    "verify_acs",
]

#: The clock skew tolerated on AC validity (VOMS C and voms-api-java: 300 s).
SKEW = timedelta(minutes=5)

#: The DER of the AC version v2 (INTEGER 1).
_V2 = b"\x02\x01\x01"

#: Critical extensions V5 lets through: targets, and the two V6 rules on.
_MAY_BE_CRITICAL = frozenset({TARGETS, NO_REV_AVAIL, AUTHORITY_KEY_IDENTIFIER})

# asn1crypto's parsed values (no type information).
_ASN1 = Any


class _Issuer(NamedTuple):
    """An AC's issuer name, for comparing and for printing."""

    same: SameName
    printed: PrintedName


# What was read from the parts of ACs that stay the same from one AC of a
# user to the next (see occid.gsi.dermemo), keyed by their DER.
_ISSUERS: DerMemo[_Issuer] = DerMemo()
_FQANS: DerMemo[tuple[str, str, tuple[str, ...]]] = DerMemo()
_EXTENSIONS: DerMemo[dict[str, tuple[bool, bytes]]] = DerMemo()
_TARGETS: DerMemo[frozenset[str]] = DerMemo()
_GENERIC: DerMemo[tuple[GenericAttribute, ...]] = DerMemo()
# holders that name an end-entity certificate: (holder DER, certificate)
_HOLDERS: DerMemo[None] = DerMemo()


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


def normalise_fqan(fqan: str) -> str:
    """M1: drop C{/Role=NULL} and C{/Capability=NULL} from a FQAN."""
    parts = [p for p in fqan.split("/") if p not in ("Role=NULL", "Capability=NULL")]
    return "/".join(parts)


class _Dropped(Exception):
    def __init__(self, rule: str, reason: str, valid_from: datetime | None = None):
        super().__init__(reason)
        self.dropped = DroppedAC(rule=rule, reason=reason, valid_from=valid_from)


def find_acs(
    proxies: Iterable[x509.Certificate],
) -> tuple[tuple[cms.AttributeCertificateV2, ...], tuple[DroppedAC, ...]]:
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
            lists = ACLists.load(extension.value.public_bytes(), strict=True)
            acs = tuple(ac for inner in lists for ac in inner)
        except PARSE_ERRORS as e:
            return (), (DroppedAC(rule="V1", reason=f"unparseable VOMS extension: {e}"),)
        return acs, ()
    return (), ()


def verify_acs(
    facts: ChainFacts,
    vomsdir: VomsDir,
    trust: TrustStore,
    options: ChainOptions,
    host: str,
    now: datetime,
    signers: SignerCache | None = None,
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
    acs, found_dropped = find_acs(facts.ac_carriers)
    dropped = list(found_dropped)
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


def _verify(
    ac: cms.AttributeCertificateV2,
    eec: x509.Certificate,
    vomsdir: VomsDir,
    trust: TrustStore,
    options: ChainOptions,
    host: str,
    now: datetime,
    signers: SignerCache | None,
) -> VomsAttributes:
    parts = split_ac(ac.dump()) or parts_of(ac)
    # asn1crypto reads a field only when a part is not remembered
    issuer = _ISSUERS.read(parts.issuer, lambda: _read_issuer(ac["ac_info"]))
    issuer_dn = issuer.printed

    # V2: version and holder
    if parts.version != _V2 and ac["ac_info"]["version"].native != "v2":
        raise _Dropped("V2", f"AC from {issuer_dn} is version {ac['ac_info']['version'].native}, not v2")
    _HOLDERS.read((parts.holder, eec), lambda: _check_holder(ac["ac_info"]["holder"], eec, issuer_dn))

    # V3: validity
    validity = cms.AttCertValidityPeriod.load(parts.validity, strict=True)
    not_before = validity["not_before_time"].native
    not_after = validity["not_after_time"].native
    if now + SKEW < not_before:
        raise _Dropped("V3", f"AC from {issuer_dn} is not valid before {not_before:%Y-%m-%d %H:%M:%S}Z",
                       valid_from=not_before - SKEW)
    if now - SKEW > not_after:
        raise _Dropped("V3", f"AC from {issuer_dn} expired at {not_after:%Y-%m-%d %H:%M:%S}Z")

    vo, voms_host, raw_fqans = _FQANS.read(parts.attributes,
                                           lambda: _fqan_attribute(ac["ac_info"], issuer_dn))
    extensions = _EXTENSIONS.read(parts.extensions, lambda: _extensions(ac["ac_info"], issuer_dn))

    # V5: critical extensions and targets (V6 covers noRevAvail and AKI)
    for oid, (critical, _) in extensions.items():
        if critical and oid not in _MAY_BE_CRITICAL:
            raise _Dropped("V5", f"AC from {issuer_dn} has an unknown critical extension {oid}")
    if TARGETS in extensions:
        targets = extensions[TARGETS][1]
        names = _TARGETS.read(targets, lambda: _target_names(targets, issuer_dn))
        if host.lower() not in names:
            listed = ", ".join(sorted(names)) or "none"
            raise _Dropped("V5", f"AC from {issuer_dn} is targeted at {listed}, not {host}")

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
    certseq = extensions[CERTSEQ][1] if CERTSEQ in extensions else None
    lookup = SignerLookup(directory=directory, trust=trust, options=options, now=now, signers=signers)
    try:
        signer = find_signer(parts, issuer.same, issuer_dn, vo, voms_host, certseq, lookup)
        check_authority_key(extensions[AUTHORITY_KEY_IDENTIFIER][1], signer, issuer_dn)
    except SignerRefused as e:
        raise _Dropped("V4", str(e)) from None

    # V7: every FQAN inside the VO of the vomsdir entry used
    for fqan in raw_fqans:
        if fqan != f"/{vo}" and not fqan.startswith(f"/{vo}/"):
            raise _Dropped("V7", f"AC for VO {vo!r} from {issuer_dn} carries FQAN {fqan!r} outside /{vo}")

    attributes: tuple[GenericAttribute, ...] = ()
    if GENERIC_ATTRIBUTES in extensions:
        generic = extensions[GENERIC_ATTRIBUTES][1]
        attributes = _GENERIC.read(generic, lambda: _generic_attributes(generic, issuer_dn))
    return VomsAttributes(
        vo=vo,
        fqans=tuple(dict.fromkeys(normalise_fqan(f) for f in raw_fqans)),
        attributes=attributes,
        not_after=not_after,
    )


def _read_issuer(info: _ASN1) -> _Issuer:
    """The directory name among the AC's issuer names."""
    issuer = info["issuer"]
    names = issuer.chosen["issuer_name"] if issuer.name == "v2_form" else issuer.chosen
    for general_name in names:
        if general_name.name == "directory_name":
            name = general_name.chosen
            return _Issuer(same=SameName(name), printed=PrintedName(name))
    raise _Dropped("V4", "AC issuer has no directory name")


def _check_holder(holder: _ASN1, eec: x509.Certificate, issuer_dn: PrintedName) -> None:
    base = holder["base_certificate_id"]
    if not base:
        raise _Dropped("V2", f"AC from {issuer_dn} has no holder baseCertificateID")
    if base["serial"].native != eec.serial_number:
        raise _Dropped(
            "V2",
            f"AC from {issuer_dn} is for certificate serial {base['serial'].native}, "
            f"not this chain's end-entity certificate ({eec.serial_number})",
        )
    for general_name in base["issuer"]:
        if general_name.name == "directory_name" and SameName(general_name.chosen)(eec.issuer, eec.subject):
            return
    raise _Dropped(
        "V2",
        f"AC from {issuer_dn} names a holder that is neither {slash_dn(eec.subject)} "
        f"nor its issuer {slash_dn(eec.issuer)}",
    )


def _fqan_attribute(info: _ASN1, issuer_dn: PrintedName) -> tuple[str, str, tuple[str, ...]]:
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


def _extensions(info: _ASN1, issuer_dn: PrintedName) -> dict[str, tuple[bool, bytes]]:
    """OID to (critical, DER value) for every extension of the AC."""
    found: dict[str, tuple[bool, bytes]] = {}
    for extension in info["extensions"] or ():
        oid = extension["extn_id"].dotted
        if oid in found:
            raise _Dropped("V5", f"AC from {issuer_dn} repeats extension {oid}")
        found[oid] = (bool(extension["critical"].native), extension["extn_value"].contents)
    return found


def _target_names(value: bytes, issuer_dn: PrintedName) -> frozenset[str]:
    """The host names of the targets extension C{value}, in lower case."""
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
    return frozenset(names)


def _generic_attributes(value: bytes, issuer_dn: PrintedName) -> tuple[GenericAttribute, ...]:
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
