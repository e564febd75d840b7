# -*- test-case-name: tests.test_gsi_proxy -*-
"""
How a client chain is refused: L{reject} builds the L{CertificateRejected}
for a rule of docs/security.md with the fix users are told, and
L{SubjectNames} prints the certificates the messages name.
"""

from __future__ import annotations

from cryptography import x509

from occid.gsi.names import slash_dn
from occid.gsi.principal import CertificateRejected
from occid.gsi.trust import Authority

#: Fixes that several rules tell.
REFRESH_CRLS = "the site must refresh its CRLs (fetch-crl)"
CHECK_CLOCK = "the site must check its clock"
RENEW_PROXY = "renew your proxy (voms-proxy-init or grid-proxy-init)"
NEW_CERTIFICATE = "ask your CA for a new certificate"

#: The usual fix for a failed rule, told to the user.
RULE_FIXES = {
    "C2": "present your proxy together with the user certificate it was made from, "
          "issued by a CA this site trusts",
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


def reject(rule: str, reason: str, fix: str | None = None) -> CertificateRejected:
    """The refusal for C{rule}, with the rule's usual fix unless C{fix} is given."""
    return CertificateRejected(rule, reason, fix or RULE_FIXES.get(rule, "check your certificate chain"))


class SubjectNames:
    """
    The slash-form subjects of one validation's certificates, each computed
    at most once, and only when a check or a message needs it; the trust
    store's CAs come with theirs.
    """

    def __init__(self) -> None:
        self._known: dict[int, str] = {}

    def learn(self, authority: Authority) -> None:
        """Take the subject of C{authority}'s certificate from the trust store."""
        self._known[id(authority.certificate)] = authority.dn

    def __call__(self, certificate: x509.Certificate) -> str:
        key = id(certificate)
        dn = self._known.get(key)
        if dn is None:
            dn = self._known[key] = slash_dn(certificate.subject)
        return dn
