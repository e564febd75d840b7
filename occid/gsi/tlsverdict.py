# -*- test-case-name: tests.test_gsi_proxy -*-
"""
OpenSSL's verdict on a client chain: the errors the TLS layer's verify
callback recorded during the handshake, refused with a message and a fix
each, except the few occid's own rules decide instead (a missing CRL
outside C{require} mode, the errors legacy proxies cause when enabled).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from occid.config import CrlMode
from occid.gsi.chain import ChainOptions
from occid.gsi.proxycert import ProxyInfo
from occid.gsi.refusal import CHECK_CLOCK, NEW_CERTIFICATE, REFRESH_CRLS, RENEW_PROXY, RULE_FIXES, reject
from occid.gsi.trust import Authority

_INSTALL_CRLS = "the site must install its CRLs (fetch-crl)"
_UNKNOWN_ERROR = (
    "certificate verification failed (OpenSSL error {error} at depth {depth})",
    "check your certificate chain",
)

#: OpenSSL error number to the message (formatted with the depth) and fix.
TLS_MESSAGES = {
    2: ("the issuer of the certificate at depth {depth} is unknown", RULE_FIXES["C2"]),
    3: ("there is no CRL for a CA of the chain (depth {depth})", _INSTALL_CRLS),
    4: ("the signature of the certificate at depth {depth} cannot be read", RULE_FIXES["C3"]),
    7: ("the signature of the certificate at depth {depth} is invalid", RULE_FIXES["C3"]),
    8: ("the signature of a CRL is invalid (depth {depth})", REFRESH_CRLS),
    9: ("the certificate at depth {depth} is not yet valid", "check your computer's clock"),
    10: ("the certificate at depth {depth} has expired", RENEW_PROXY),
    11: ("a CRL is not yet valid (depth {depth})", CHECK_CLOCK),
    12: ("the CRL of a CA of the chain has expired (depth {depth})", REFRESH_CRLS),
    18: ("a self-signed certificate was presented", RULE_FIXES["C2"]),
    19: ("the chain ends in an untrusted self-signed certificate (depth {depth})", RULE_FIXES["C2"]),
    20: ("the certificate at depth {depth} was issued by a CA this site does not trust", RULE_FIXES["C2"]),
    21: ("the certificate at depth {depth} cannot be verified", RULE_FIXES["C2"]),
    23: ("the certificate at depth {depth} has been revoked", NEW_CERTIFICATE),
    24: ("the certificate at depth {depth} may not issue certificates", RULE_FIXES["C8"]),
    26: ("the certificate at depth {depth} is not meant for this purpose", RULE_FIXES["C8"]),
    32: ("the certificate at depth {depth} may not sign certificates", RULE_FIXES["C8"]),
    34: ("the certificate at depth {depth} has an unknown critical extension", RULE_FIXES["C10"]),
    38: ("the proxy path length is exceeded (depth {depth})", RULE_FIXES["C6"]),
    40: ("proxy certificates are not allowed by the TLS layer", "the site must allow proxy certificates"),
    66: ("the key of the certificate at depth {depth} is too small", RULE_FIXES["C13"]),
    67: ("the key of the CA at depth {depth} is too small", "the site must update its trust dir"),
    68: ("the certificate at depth {depth} is signed with a weak digest", RULE_FIXES["C13"]),
    72: ("the proxy at depth {depth} violates the proxy name rules", RULE_FIXES["C3"]),
    79: ("the certificate at depth {depth} is not a valid CA", RULE_FIXES["C8"]),
}


def check_tls_errors(
    tls_errors: Sequence[tuple[int, int]],
    proxies: Sequence[ProxyInfo],
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
        message, fix = TLS_MESSAGES.get(error, _UNKNOWN_ERROR)
        raise reject("TLS", message.format(depth=depth, error=error), fix)


def _tolerable_missing_crl(
    depth: int, proxies: Sequence[ProxyInfo], path: tuple[Authority, ...], legacy: bool, options: ChainOptions
) -> bool:
    """
    Error 3 at C{depth}: a legacy proxy (no CRL exists for proxies) or a
    certificate whose CA really has none.
    """
    if depth < len(proxies):
        return legacy
    if options.crl == CrlMode.REQUIRE:
        return False
    issuers = list(path) + [path[-1]]  # the EEC's issuer is path[0]; a root issues itself
    index = depth - len(proxies)
    return index < len(issuers) and issuers[index].crl is None
