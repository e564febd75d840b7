# -*- test-case-name: tests.test_gsi_proxy -*-
"""
RFC 3820 proxy-chain validation: rules C2 to C13 of
reference/grid-security.md, enforced in Python whatever OpenSSL said.

L{validate_chain} takes the certificates a client sent (leaf first), the
errors OpenSSL's verify callback recorded during the handshake, the trust
store and the time, and returns the L{ChainFacts} occid builds a principal
from, or raises L{CertificateRejected} naming the rule, the reason and the
fix.  The CA part of the path is built only from the trust store; CA
certificates the client sent are ignored.

C1, the TLS context, belongs to C{occid/tls.py}.  For this module's
verdicts to agree with OpenSSL's, that context needs: C{VERIFY_PEER}
without C{VERIFY_FAIL_IF_NO_PEER_CERT} and a callback that records every
C{(depth, error)} and returns true; CApath = the trust dir; store flags
C{ALLOW_PROXY_CERTS | CRL_CHECK | CRL_CHECK_ALL} (never C{X509_STRICT});
TLS >= 1.2; C{OP_NO_TICKET} and C{SESS_CACHE_OFF}; verify depth >= 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import core as asn1
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

from occid.config import CrlMode, GridConfig
from occid.gsi.names import ambiguous_value, rdn_sequence, slash_dn
from occid.gsi.principal import CertificateRejected
from occid.gsi.readable import unreadable
from occid.gsi.trust import Authority, TrustStore, Unusable, is_ca, signed_by

PCI = "1.3.6.1.5.5.7.1.14"
DRAFT_PCI = "1.3.6.1.4.1.3536.1.222"
INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
INDEPENDENT = "1.3.6.1.5.5.7.21.2"
LIMITED = "1.3.6.1.4.1.3536.1.1.1.9"

_LEGACY_CNS = ("proxy", "limited proxy")
PROXY_GRACE = timedelta(minutes=5)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224

# Extensions occid (or OpenSSL, for name and policy constraints) understands
# when critical; any other critical extension fails C10, as in OpenSSL.
CRITICAL_KNOWN = frozenset(
    {
        "2.5.29.15",  # keyUsage
        "2.5.29.19",  # basicConstraints
        "2.5.29.17",  # subjectAltName
        "2.5.29.37",  # extendedKeyUsage
        "2.5.29.31",  # cRLDistributionPoints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.30",  # nameConstraints
        "2.5.29.33",  # policyMappings
        "2.5.29.36",  # policyConstraints
        "2.5.29.54",  # inhibitAnyPolicy
        "2.16.840.1.113730.1.1",  # netscape-cert-type
        PCI,
    }
)

_RULE_FIXES = {
    "C2": "present your proxy together with the user certificate it was made from, issued by a CA this site trusts",
    "C3": "create the proxy again with grid-proxy-init or voms-proxy-init",
    "C4": "create the proxy again with grid-proxy-init or voms-proxy-init",
    "C5": "create an RFC 3820 full or limited proxy (grid-proxy-init -rfc)",
    "C6": "create the proxy with a larger path length (-path-length)",
    "C8": "create an RFC 3820 proxy (grid-proxy-init -rfc, voms-proxy-init -rfc)",
    "C10": "create the proxy again with standard grid tools",
    "C12": "use a certificate from a CA allowed to issue your name",
    "C13": "use an RSA key of at least 2048 bits and a SHA-256 signature (voms-proxy-init -bits 2048)",
    "X509": "create a new proxy (voms-proxy-init or grid-proxy-init) from a valid user certificate",
}


class ProxyPolicy(asn1.Sequence):
    """RFC 3820 ProxyPolicy: a policy language OID and an optional policy."""

    _fields = [
        ("policy_language", asn1.ObjectIdentifier),
        ("policy", asn1.OctetString, {"optional": True}),
    ]


class ProxyCertInfo(asn1.Sequence):
    """RFC 3820 ProxyCertInfo, the value of the C{PCI} extension."""

    _fields = [
        ("path_len", asn1.Integer, {"optional": True}),
        ("proxy_policy", ProxyPolicy),
    ]


@dataclass(frozen=True)
class ChainOptions:
    """
    The site's proxy rules.

    @ivar crl: C{"require"}: every CA-issued certificate needs its CA's CRL;
        C{"if-valid"}: a missing CRL is tolerated (and noted); C{"off"}: the
        same in this module, the TLS layer may stop asking OpenSSL for CRLs.
        In every mode a CRL that is present must be correctly signed and
        current, and a listed serial is refused.
    @ivar legacy_proxies: accept pre-RFC Globus proxies (never mixed, never
        draft GSI-3 ones).
    @ivar namespaces: C{"if-present"}: C{.namespaces} / C{.signing_policy}
        are enforced when the CA has them; C{"require"}: a CA without either
        signs nobody.
    """

    crl: str = "if-valid"
    legacy_proxies: bool = False
    namespaces: str = "if-present"

    @classmethod
    def from_config(cls, grid: GridConfig) -> ChainOptions:
        """The options of the C{[grid]} section."""
        return cls(crl=grid.crl, legacy_proxies=grid.legacy_proxies)


@dataclass(frozen=True)
class ChainFacts:
    """
    What a valid chain establishes.

    @ivar proxies: the proxy certificates, leaf first.
    @ivar ca_path: the trust-dir CAs above the EEC, issuer first.
    @ivar limited: some proxy is limited (a full proxy below a limited one
        counts as limited too).
    @ivar not_after: the earliest notAfter of the proxies, EEC and CAs.
    @ivar valid_from: the earliest moment the time-dependent checks (C9
        validity, C11 CRL currency) pass: the latest notBefore (less the
        grace, for proxies) and thisUpdate of the CRLs consulted.
    @ivar valid_until: the last moment they pass: C{not_after}, or the
        earliest nextUpdate of the CRLs consulted if that comes first.
        Validating the same chain at any moment from C{valid_from} to
        C{valid_until} gives the same facts.
    @ivar notes: what was tolerated (missing CRLs, inherited limitation,
        OpenSSL errors accepted for legacy proxies), for the log.
    """

    eec: x509.Certificate
    eec_dn: str
    issuer_dn: str
    proxies: tuple[x509.Certificate, ...]
    proxy_depth: int
    limited: bool
    legacy: bool
    not_after: datetime
    ca_path: tuple[x509.Certificate, ...]
    notes: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime

    @property
    def ac_carriers(self) -> tuple[x509.Certificate, ...]:
        """The certificates VOMS attribute certificates may be read from: the proxies, leaf first."""
        return self.proxies


@dataclass(frozen=True)
class _Proxy:
    certificate: x509.Certificate
    kind: str  # "rfc", "legacy" or "draft"
    limited: bool
    pathlen: int | None
    pci_critical: bool
    language: str | None


class _Names:
    """
    The slash-form subjects of one validation's certificates, each computed
    at most once, and only when a check or a message needs it; the trust
    store's CAs come with theirs.
    """

    def __init__(self) -> None:
        self._known: dict[int, str] = {}

    def learn(self, authority: Authority) -> None:
        self._known[id(authority.certificate)] = authority.dn

    def __call__(self, certificate: x509.Certificate) -> str:
        key = id(certificate)
        dn = self._known.get(key)
        if dn is None:
            dn = self._known[key] = slash_dn(certificate.subject)
        return dn


def reject(rule: str, reason: str, fix: str | None = None) -> CertificateRejected:
    """The refusal for C{rule}, with the rule's usual fix unless C{fix} is given."""
    return CertificateRejected(rule, reason, fix or _RULE_FIXES.get(rule, "check your certificate chain"))


def validate_chain(
    chain: Sequence[x509.Certificate],
    tls_errors: Sequence[tuple[int, int]],
    trust: TrustStore,
    options: ChainOptions,
    now: datetime,
) -> ChainFacts:
    """
    Validate the client's chain (leaf first) and return its facts.

    @param tls_errors: C{(depth, OpenSSL error number)} pairs the verify
        callback recorded; only a missing CRL (outside C{require} mode) and
        the errors legacy proxies cause (when enabled) are tolerated.
    @raise CertificateRejected: any rule fails.
    """
    if not chain:
        raise reject("C2", "no client certificate was presented")
    for depth, certificate in enumerate(chain):
        problem = unreadable(certificate)
        if problem is not None:
            raise reject("X509", f"an unreadable certificate: the certificate at depth {depth}: {problem}")
    notes: list[str] = []
    names = _Names()

    proxies: list[_Proxy] = []
    for certificate in chain:
        proxy = _classify(certificate, names)
        if proxy is None:
            break
        proxies.append(proxy)
    if len(proxies) == len(chain):
        raise reject("C2", "the chain has proxies but no end-entity certificate")
    eec = chain[len(proxies)]
    eec_dn = names(eec)
    if is_ca(eec):
        raise reject("C2", f"{eec_dn} follows the proxies but is a CA certificate, not a user certificate")
    for extra in chain[len(proxies) + 1 :]:
        if not is_ca(extra):
            raise reject(
                "C2",
                f"more than one end-entity certificate: {eec_dn} and {names(extra)}",
            )

    _check_unambiguous(eec, eec_dn, "your certificate's subject", "ask your CA for a certificate whose name "
                       "values contain no '/' or '+' followed by an attribute name and '='")
    legacy = _check_types(proxies, options)
    presented = [p.certificate for p in proxies] + [eec]
    _check_keys_and_digests(presented, names, anchor=None)
    issuer_dn = slash_dn(eec.issuer)
    path = _trust_path(eec, eec_dn, issuer_dn, trust)
    for authority in path:
        names.learn(authority)
        _check_unambiguous(authority.certificate, authority.dn, f"the subject of the CA {authority.dn}",
                           "the site must remove this CA from its trust dir")
    ca_path = tuple(a.certificate for a in path)
    _check_keys_and_digests(ca_path, names, anchor=ca_path[-1])
    everything = presented + list(ca_path)

    limited = _check_proxies(proxies, chain, names, notes)
    for certificate in everything:
        _check_critical_extensions(certificate, names)
    _check_validity(proxies, eec, ca_path, names, now)
    _check_revocation(eec, path, options, names, now, notes)
    _check_namespaces(eec_dn, path, options)
    _check_tls_errors(tls_errors, proxies, eec, path, legacy, options, notes)

    not_after = min(c.not_valid_after_utc for c in everything)
    crls = [issuer.crl for issuer in path if issuer.crl is not None]
    return ChainFacts(
        eec=eec,
        eec_dn=eec_dn,
        issuer_dn=issuer_dn,
        proxies=tuple(p.certificate for p in proxies),
        proxy_depth=len(proxies),
        limited=limited,
        legacy=legacy,
        not_after=not_after,
        ca_path=ca_path,
        notes=tuple(notes),
        valid_from=max(
            *(p.certificate.not_valid_before_utc - PROXY_GRACE for p in proxies),
            *(c.not_valid_before_utc for c in [eec, *ca_path]),
            *(crl.last_update_utc for crl in crls),
        ),
        valid_until=min([not_after, *(crl.next_update_utc for crl in crls)]),
    )


# classification


def _classify(certificate: x509.Certificate, names: _Names) -> _Proxy | None:
    """What kind of proxy C{certificate} is, or C{None} for a non-proxy."""
    for extension in certificate.extensions:
        oid = extension.oid.dotted_string
        if oid == PCI:
            return _parse_pci(certificate, extension, names)
        if oid == DRAFT_PCI:
            return _Proxy(certificate, "draft", False, None, extension.critical, None)
    subject = certificate.subject.rdns
    if len(subject) != len(certificate.issuer.rdns) + 1 or is_ca(certificate):
        return None
    if rdn_sequence(x509.Name(subject[:-1])) != rdn_sequence(certificate.issuer):
        return None
    last = rdn_sequence(x509.Name(subject[-1:]))[0]
    if len(last) == 1 and last[0][0] == NameOID.COMMON_NAME.dotted_string and last[0][1] in _LEGACY_CNS:
        return _Proxy(certificate, "legacy", last[0][1] == "limited proxy", None, False, None)
    return None


def _parse_pci(certificate: x509.Certificate, extension: x509.Extension, names: _Names) -> _Proxy:
    try:
        info = ProxyCertInfo.load(extension.value.value, strict=True)
        language = info["proxy_policy"]["policy_language"].dotted
        pathlen = info["path_len"].native
    except (ValueError, TypeError, KeyError) as e:
        raise reject("C5", f"the ProxyCertInfo of {names(certificate)} is malformed ({e})") from None
    if pathlen is not None and pathlen < 0:
        raise reject("C5", f"the ProxyCertInfo of {names(certificate)} has a negative path length")
    return _Proxy(certificate, "rfc", language == LIMITED, pathlen, extension.critical, language)


# C3: the identity's slash form is unambiguous


def _check_unambiguous(certificate: x509.Certificate, dn: str, whose: str, fix: str) -> None:
    """
    C3 for the names occid identifies by (DESIGN.md: the slash form): a
    value reading like another attribute (C{/CN=}, C{+UID=}) would let two
    different names print alike, so the certificate is refused.
    """
    value = ambiguous_value(certificate.subject)
    if value is not None:
        raise reject(
            "C3",
            f"{whose} cannot be written unambiguously in /-form: in {dn} the value {value!r} "
            "contains '/' or '+' followed by an attribute name and '='",
            fix,
        )


# C8


def _check_types(proxies: list[_Proxy], options: ChainOptions) -> bool:
    """C8: one proxy type, legacy only when enabled, draft never; whether the chain is legacy."""
    kinds = {p.kind for p in proxies}
    if "draft" in kinds:
        raise reject("C8", "draft (GSI-3) proxies are not accepted")
    if len(kinds) > 1:
        raise reject("C8", "the chain mixes legacy (CN=proxy) and RFC 3820 proxies")
    if kinds == {"legacy"} and not options.legacy_proxies:
        raise reject("C8", "legacy (pre-RFC 3820) proxies are not accepted by this site")
    return kinds == {"legacy"}


# C2: the CA part, from the trust dir only


def _trust_path(eec: x509.Certificate, eec_dn: str, issuer_dn: str, trust: TrustStore) -> tuple[Authority, ...]:
    candidates = trust.issuers_of(eec)
    if not candidates:
        raise reject("C2", f"the issuer of {eec_dn}, {issuer_dn}, is not a CA this site trusts")
    for authority in candidates:
        if signed_by(eec, authority.certificate):
            path = trust.path(authority)
            if isinstance(path, Unusable):
                raise reject(path.rule, f"the CA {issuer_dn} cannot be used: {path.reason}")
            return path
    raise reject(
        "C2",
        f"{eec_dn} is not signed by the key of the trusted CA {issuer_dn} (a different CA with the same name?)",
    )


# C13


def _check_keys_and_digests(
    certificates: Sequence[x509.Certificate], names: _Names, *, anchor: x509.Certificate | None
) -> None:
    """C13: key sizes and signature digests; the trust anchor's self-signature is exempt."""
    for certificate in certificates:
        key = certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise reject("C13", f"the key of {names(certificate)} has {key.key_size} bits, fewer than {MIN_RSA_BITS}")
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
            raise reject("C13", f"the key of {names(certificate)} is on a curve of {key.curve.key_size} bits")
        if isinstance(key, dsa.DSAPublicKey):
            raise reject("C13", f"the key of {names(certificate)} is a DSA key")
        if certificate is anchor:
            continue
        try:
            algorithm = certificate.signature_hash_algorithm
        except UnsupportedAlgorithm:
            raise reject("C13", f"{names(certificate)} is signed with an unsupported algorithm") from None
        if isinstance(algorithm, (hashes.MD5, hashes.SHA1)):
            raise reject("C13", f"{names(certificate)} is signed with {algorithm.name.upper()}, a broken digest")


# C3 to C7


def _check_proxies(
    proxies: list[_Proxy], chain: Sequence[x509.Certificate], names: _Names, notes: list[str]
) -> bool:
    """C3-C7 for each proxy and its parent; whether the chain is limited."""
    limited_above = False
    for index in range(len(proxies) - 1, -1, -1):
        proxy = proxies[index]
        parent = chain[index + 1]
        certificate = proxy.certificate
        _check_name(certificate, parent, names)
        if not signed_by(certificate, parent):
            raise reject("C3", f"the proxy {names(certificate)} is not signed by the key of {names(parent)}")
        _check_proxy_extensions(certificate, parent, names)
        if proxy.kind == "rfc":
            _check_policy(proxy, names)
        if proxy.pathlen is not None and index > proxy.pathlen:
            raise reject(
                "C6",
                f"the proxy {names(certificate)} allows {proxy.pathlen} proxies below it, the chain has {index}",
            )
        if limited_above and not proxy.limited:
            notes.append(f"the full proxy {names(certificate)} was delegated from a limited proxy: treated as limited")
        limited_above = limited_above or proxy.limited
    return limited_above


def _check_name(certificate: x509.Certificate, parent: x509.Certificate, names: _Names) -> None:
    """C3: issuer is the parent, subject is the parent's plus one single-valued CN."""
    if rdn_sequence(certificate.issuer) != rdn_sequence(parent.subject):
        raise reject("C3", f"the issuer of the proxy {names(certificate)} is not {names(parent)}")
    subject = rdn_sequence(certificate.subject)
    expected = rdn_sequence(parent.subject)
    if len(subject) != len(expected) + 1 or subject[:-1] != expected:
        raise reject("C3", f"the proxy subject {names(certificate)} does not extend {names(parent)} by one name")
    last = subject[-1]
    if len(last) != 1 or last[0][0] != NameOID.COMMON_NAME.dotted_string:
        raise reject("C3", f"the proxy subject {names(certificate)} must end in exactly one single-valued CN")


def _check_proxy_extensions(certificate: x509.Certificate, parent: x509.Certificate, names: _Names) -> None:
    """C4: no alternative names, not a CA, no keyCertSign; the parent may sign."""
    extensions = certificate.extensions
    for kind, label in ((x509.SubjectAlternativeName, "subjectAltName"), (x509.IssuerAlternativeName, "issuerAltName")):
        try:
            extensions.get_extension_for_class(kind)
        except x509.ExtensionNotFound:
            continue
        raise reject("C4", f"the proxy {names(certificate)} carries a {label}")
    if is_ca(certificate):
        raise reject("C4", f"the proxy {names(certificate)} claims to be a CA")
    try:
        if extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise reject("C4", f"the proxy {names(certificate)} may sign certificates (keyCertSign)")
    except x509.ExtensionNotFound:
        pass
    try:
        parent_usage = parent.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not parent_usage.digital_signature:
        raise reject(
            "C4",
            f"{names(parent)} may not sign proxies (its keyUsage lacks digitalSignature)",
        )


def _check_policy(proxy: _Proxy, names: _Names) -> None:
    """C5: a critical PCI with the inheritAll or the limited policy."""
    certificate = proxy.certificate
    if not proxy.pci_critical:
        raise reject("C5", f"the ProxyCertInfo extension of {names(certificate)} is not critical")
    if proxy.language == INDEPENDENT:
        raise reject("C5", f"the proxy {names(certificate)} is an independent proxy, which grants no identity")
    if proxy.language not in (INHERIT_ALL, LIMITED):
        raise reject("C5", f"the proxy {names(certificate)} has the unknown policy language {proxy.language}")


# C10


def _check_critical_extensions(certificate: x509.Certificate, names: _Names) -> None:
    for extension in certificate.extensions:
        if extension.critical and extension.oid.dotted_string not in CRITICAL_KNOWN:
            raise reject(
                "C10",
                f"{names(certificate)} has the unknown critical extension {extension.oid.dotted_string}",
            )


# C9


def _check_validity(
    proxies: list[_Proxy], eec: x509.Certificate, ca_path: tuple[x509.Certificate, ...], names: _Names, now: datetime
) -> None:
    for proxy in proxies:
        certificate = proxy.certificate
        if certificate.not_valid_after_utc < now:
            raise reject(
                "C9",
                f"the proxy {names(certificate)} expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
                "renew your proxy (voms-proxy-init or grid-proxy-init)",
            )
        if certificate.not_valid_before_utc - PROXY_GRACE > now:
            raise reject(
                "C9",
                f"the proxy {names(certificate)} is not valid before {certificate.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC",
                "check your computer's clock and create the proxy again",
            )
    for certificate, what, fix in (
        (eec, "user certificate", "renew your certificate with your CA"),
        *((ca, "CA certificate", "the site must update its trust dir") for ca in ca_path),
    ):
        if certificate.not_valid_after_utc < now:
            raise reject("C9", f"the {what} {names(certificate)} expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC", fix)
        if certificate.not_valid_before_utc > now:
            raise reject("C9", f"the {what} {names(certificate)} is not yet valid", fix)


# C11


def _check_revocation(
    eec: x509.Certificate,
    path: tuple[Authority, ...],
    options: ChainOptions,
    names: _Names,
    now: datetime,
    notes: list[str],
) -> None:
    """C11: every CA-issued certificate against its issuer's CRL."""
    issued = [(eec, path[0])] + [(path[i].certificate, path[i + 1]) for i in range(len(path) - 1)]
    for certificate, issuer in issued:
        crl = issuer.crl
        if crl is None:
            if options.crl == CrlMode.REQUIRE:
                raise reject("C11", f"there is no CRL for the CA {issuer.dn}", "the site must install its CRL (fetch-crl)")
            notes.append(f"no CRL for the CA {issuer.dn}: revocation of {names(certificate)} not checked")
            continue
        if not issuer.crl_signature_valid:
            raise reject(
                "C11", f"the CRL for the CA {issuer.dn} is not signed by its key", "the site must refresh its CRLs (fetch-crl)"
            )
        if crl.next_update_utc is None or crl.next_update_utc < now:
            raise reject("C11", f"the CRL of the CA {issuer.dn} has expired", "the site must refresh its CRLs (fetch-crl)")
        if crl.last_update_utc > now:
            raise reject("C11", f"the CRL of the CA {issuer.dn} is not yet valid", "the site must check its clock")
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            raise reject(
                "C11", f"the certificate {names(certificate)} has been revoked by {issuer.dn}", "ask your CA for a new certificate"
            )


# C12


def _check_namespaces(eec_dn: str, path: tuple[Authority, ...], options: ChainOptions) -> None:
    require = options.namespaces == "require"
    issued = [(eec_dn, path[0])] + [(path[i].dn, path[i + 1]) for i in range(len(path) - 1)]
    for subject_dn, issuer in issued:
        verdict = issuer.policy_verdict(subject_dn, require=require)
        if verdict is not None:
            raise reject("C12", verdict)


# the TLS layer's verdict

_TLS_MESSAGES = {
    2: ("the issuer of the certificate at depth {depth} is unknown", _RULE_FIXES["C2"]),
    3: ("there is no CRL for a CA of the chain (depth {depth})", "the site must install its CRLs (fetch-crl)"),
    4: ("the signature of the certificate at depth {depth} cannot be read", _RULE_FIXES["C3"]),
    7: ("the signature of the certificate at depth {depth} is invalid", _RULE_FIXES["C3"]),
    8: ("the signature of a CRL is invalid (depth {depth})", "the site must refresh its CRLs (fetch-crl)"),
    9: ("the certificate at depth {depth} is not yet valid", "check your computer's clock"),
    10: ("the certificate at depth {depth} has expired", "renew your proxy (voms-proxy-init or grid-proxy-init)"),
    11: ("a CRL is not yet valid (depth {depth})", "the site must check its clock"),
    12: ("the CRL of a CA of the chain has expired (depth {depth})", "the site must refresh its CRLs (fetch-crl)"),
    18: ("a self-signed certificate was presented", _RULE_FIXES["C2"]),
    19: ("the chain ends in an untrusted self-signed certificate (depth {depth})", _RULE_FIXES["C2"]),
    20: ("the certificate at depth {depth} was issued by a CA this site does not trust", _RULE_FIXES["C2"]),
    21: ("the certificate at depth {depth} cannot be verified", _RULE_FIXES["C2"]),
    23: ("the certificate at depth {depth} has been revoked", "ask your CA for a new certificate"),
    24: ("the certificate at depth {depth} may not issue certificates", _RULE_FIXES["C8"]),
    26: ("the certificate at depth {depth} is not meant for this purpose", _RULE_FIXES["C8"]),
    32: ("the certificate at depth {depth} may not sign certificates", _RULE_FIXES["C8"]),
    34: ("the certificate at depth {depth} has an unknown critical extension", _RULE_FIXES["C10"]),
    38: ("the proxy path length is exceeded (depth {depth})", _RULE_FIXES["C6"]),
    40: ("proxy certificates are not allowed by the TLS layer", "the site must allow proxy certificates"),
    66: ("the key of the certificate at depth {depth} is too small", _RULE_FIXES["C13"]),
    67: ("the key of the CA at depth {depth} is too small", "the site must update its trust dir"),
    68: ("the certificate at depth {depth} is signed with a weak digest", _RULE_FIXES["C13"]),
    72: ("the proxy at depth {depth} violates the proxy name rules", _RULE_FIXES["C3"]),
    79: ("the certificate at depth {depth} is not a valid CA", _RULE_FIXES["C8"]),
}


def _check_tls_errors(
    tls_errors: Sequence[tuple[int, int]],
    proxies: list[_Proxy],
    eec: x509.Certificate,
    path: tuple[Authority, ...],
    legacy: bool,
    options: ChainOptions,
    notes: list[str],
) -> None:
    """Refuse every OpenSSL error except a missing CRL (outside require mode) and the legacy set."""
    eec_depth = len(proxies)
    for depth, error in tls_errors:
        if error == 3 and _tolerable_missing_crl(depth, proxies, path, legacy, options):
            notes.append(f"OpenSSL found no CRL at depth {depth}: tolerated")
            continue
        if error in (79, 26, 32) and legacy and 1 <= depth <= eec_depth:
            notes.append(f"OpenSSL error {error} at depth {depth} caused by the legacy proxy: tolerated")
            continue
        message, fix = _TLS_MESSAGES.get(
            error, ("certificate verification failed (OpenSSL error {error} at depth {depth})", "check your certificate chain")
        )
        raise reject("TLS", message.format(depth=depth, error=error), fix)


def _tolerable_missing_crl(
    depth: int, proxies: list[_Proxy], path: tuple[Authority, ...], legacy: bool, options: ChainOptions
) -> bool:
    """Error 3 at C{depth}: a legacy proxy (no CRL exists for proxies) or a certificate whose CA really has none."""
    if depth < len(proxies):
        return legacy
    if options.crl == CrlMode.REQUIRE:
        return False
    issuers = list(path) + [path[-1]]  # the EEC's issuer is path[0]; a root issues itself
    index = depth - len(proxies)
    return index < len(issuers) and issuers[index].crl is None
