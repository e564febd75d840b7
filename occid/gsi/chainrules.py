# -*- test-case-name: tests.test_gsi_proxy -*-
"""
The rules of docs/security.md that L{occid.gsi.proxy.validate_chain}
applies to the certificates of a chain, one function a rule (or a group of
rules on the same certificates): unambiguous names (C3), proxy types (C8),
the trusted CA path (C2), keys and digests (C13), each proxy against its
parent (C3-C7), critical extensions (C10), validity (C9), revocation (C11)
and CA namespaces (C12).  Each raises L{CertificateRejected} naming the
rule, the reason and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

from occid.config import CrlMode
from occid.gsi.chain import ChainOptions
from occid.gsi.names import ambiguous_value, rdn_sequence
from occid.gsi.proxycert import INDEPENDENT, INHERIT_ALL, LIMITED, PCI, ProxyInfo
from occid.gsi.refusal import CHECK_CLOCK, NEW_CERTIFICATE, REFRESH_CRLS, RENEW_PROXY, SubjectNames, reject
from occid.gsi.trust import Authority, TrustStore, Unusable, is_ca, signed_by

#: How far in the future a proxy's notBefore may lie (clock skew).
PROXY_GRACE = timedelta(minutes=5)
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224

#: Extensions occid (or OpenSSL, for name and policy constraints) understands
#: when critical; any other critical extension fails C10, as in OpenSSL.
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


# C3: the identity's slash form is unambiguous


def check_unambiguous(certificate: x509.Certificate, dn: str, whose: str, fix: str) -> None:
    """
    C3 for the names occid identifies by (docs/security.md: the slash
    form): a value reading like another attribute (C{/CN=}, C{+UID=}) would
    let two different names print alike, so the certificate is refused.
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


def check_types(proxies: Sequence[ProxyInfo], options: ChainOptions) -> bool:
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


def trust_path(
    eec: x509.Certificate, eec_dn: str, issuer_dn: str, trust: TrustStore
) -> tuple[Authority, ...]:
    """C2: the trust-dir CAs above C{eec}, its issuer first."""
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
        f"{eec_dn} is not signed by the key of the trusted CA {issuer_dn} "
        "(a different CA with the same name?)",
    )


# C13


def check_keys_and_digests(
    certificates: Sequence[x509.Certificate], names: SubjectNames, *, anchor: x509.Certificate | None
) -> None:
    """C13: key sizes and signature digests; the trust anchor's self-signature is exempt."""
    for certificate in certificates:
        key = certificate.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise reject(
                "C13", f"the key of {names(certificate)} has {key.key_size} bits, fewer than {MIN_RSA_BITS}"
            )
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
            raise reject(
                "C13", f"{names(certificate)} is signed with {algorithm.name.upper()}, a broken digest"
            )


# C3 to C7


def check_proxies(
    proxies: Sequence[ProxyInfo], chain: Sequence[x509.Certificate], names: SubjectNames, notes: list[str]
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
                f"the proxy {names(certificate)} allows {proxy.pathlen} proxies below it, "
                f"the chain has {index}",
            )
        if limited_above and not proxy.limited:
            notes.append(
                f"the full proxy {names(certificate)} was delegated from a limited proxy: treated as limited"
            )
        limited_above = limited_above or proxy.limited
    return limited_above


def _check_name(certificate: x509.Certificate, parent: x509.Certificate, names: SubjectNames) -> None:
    """
    C3: issuer is the parent, subject is the parent's plus one single-valued
    CN.  Names are the same when their L{rdn_sequence}s are; equal
    cryptography RDNs (the same attributes and values) are the same without
    computing them.
    """
    expected = parent.subject.rdns
    issuer = certificate.issuer.rdns
    if issuer != expected and _rdns(issuer) != _rdns(expected):
        raise reject("C3", f"the issuer of the proxy {names(certificate)} is not {names(parent)}")
    subject = certificate.subject.rdns
    above = subject[:-1]
    if len(subject) != len(expected) + 1 or (above != expected and _rdns(above) != _rdns(expected)):
        raise reject(
            "C3", f"the proxy subject {names(certificate)} does not extend {names(parent)} by one name"
        )
    last = list(subject[-1])
    if len(last) != 1 or last[0].oid != NameOID.COMMON_NAME:
        raise reject("C3", f"the proxy subject {names(certificate)} must end in exactly one single-valued CN")


def _rdns(rdns: list[x509.RelativeDistinguishedName]) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The L{rdn_sequence} of a name's RDNs."""
    return rdn_sequence(x509.Name(rdns))


def _check_proxy_extensions(
    certificate: x509.Certificate, parent: x509.Certificate, names: SubjectNames
) -> None:
    """C4: no alternative names, not a CA, no keyCertSign; the parent may sign."""
    extensions = certificate.extensions
    alternative_names: tuple[tuple[type[x509.ExtensionType], str], ...] = (
        (x509.SubjectAlternativeName, "subjectAltName"),
        (x509.IssuerAlternativeName, "issuerAltName"),
    )
    for kind, label in alternative_names:
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


def _check_policy(proxy: ProxyInfo, names: SubjectNames) -> None:
    """C5: a critical PCI with the inheritAll or the limited policy."""
    certificate = proxy.certificate
    if not proxy.pci_critical:
        raise reject("C5", f"the ProxyCertInfo extension of {names(certificate)} is not critical")
    if proxy.language == INDEPENDENT:
        raise reject(
            "C5", f"the proxy {names(certificate)} is an independent proxy, which grants no identity"
        )
    if proxy.language not in (INHERIT_ALL, LIMITED):
        raise reject("C5", f"the proxy {names(certificate)} has the unknown policy language {proxy.language}")


# C10


def check_critical_extensions(certificate: x509.Certificate, names: SubjectNames) -> None:
    """C10: every critical extension is one occid or OpenSSL understands."""
    for extension in certificate.extensions:
        if extension.critical and extension.oid.dotted_string not in CRITICAL_KNOWN:
            raise reject(
                "C10",
                f"{names(certificate)} has the unknown critical extension {extension.oid.dotted_string}",
            )


# C9


def check_validity(
    proxies: Sequence[ProxyInfo],
    eec: x509.Certificate,
    ca_path: tuple[x509.Certificate, ...],
    names: SubjectNames,
    now: datetime,
) -> None:
    """C9: every certificate is within its validity at C{now} (proxies with L{PROXY_GRACE})."""
    for proxy in proxies:
        certificate = proxy.certificate
        if certificate.not_valid_after_utc < now:
            raise reject(
                "C9",
                f"the proxy {names(certificate)} expired at "
                f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
                RENEW_PROXY,
            )
        if certificate.not_valid_before_utc - PROXY_GRACE > now:
            raise reject(
                "C9",
                f"the proxy {names(certificate)} is not valid before "
                f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC",
                "check your computer's clock and create the proxy again",
            )
    for certificate, what, fix in (
        (eec, "user certificate", "renew your certificate with your CA"),
        *((ca, "CA certificate", "the site must update its trust dir") for ca in ca_path),
    ):
        if certificate.not_valid_after_utc < now:
            raise reject(
                "C9",
                f"the {what} {names(certificate)} expired at "
                f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
                fix,
            )
        if certificate.not_valid_before_utc > now:
            raise reject("C9", f"the {what} {names(certificate)} is not yet valid", fix)


# C11


def check_revocation(
    eec: x509.Certificate,
    path: tuple[Authority, ...],
    options: ChainOptions,
    names: SubjectNames,
    now: datetime,
    notes: list[str],
) -> None:
    """C11: every CA-issued certificate against its issuer's CRL."""
    issued = [(eec, path[0])] + [(path[i].certificate, path[i + 1]) for i in range(len(path) - 1)]
    for certificate, issuer in issued:
        crl = issuer.crl
        if crl is None:
            if options.crl == CrlMode.REQUIRE:
                raise reject(
                    "C11", f"there is no CRL for the CA {issuer.dn}",
                    "the site must install its CRL (fetch-crl)",
                )
            notes.append(f"no CRL for the CA {issuer.dn}: revocation of {names(certificate)} not checked")
            continue
        if not issuer.crl_signature_valid:
            raise reject(
                "C11", f"the CRL for the CA {issuer.dn} is not signed by its key", REFRESH_CRLS
            )
        if crl.next_update_utc is None or crl.next_update_utc < now:
            raise reject("C11", f"the CRL of the CA {issuer.dn} has expired", REFRESH_CRLS)
        if crl.last_update_utc > now:
            raise reject("C11", f"the CRL of the CA {issuer.dn} is not yet valid", CHECK_CLOCK)
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            raise reject(
                "C11",
                f"the certificate {names(certificate)} has been revoked by {issuer.dn}",
                NEW_CERTIFICATE,
            )


# C12


def check_namespaces(eec_dn: str, path: tuple[Authority, ...], options: ChainOptions) -> None:
    """C12: every CA of the path may issue the name below it."""
    require = options.namespaces == "require"
    issued = [(eec_dn, path[0])] + [(path[i].dn, path[i + 1]) for i in range(len(path) - 1)]
    for subject_dn, issuer in issued:
        verdict = issuer.policy_verdict(subject_dn, require=require)
        if verdict is not None:
            raise reject("C12", verdict)
