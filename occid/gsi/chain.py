# -*- test-case-name: tests.test_gsi_proxy -*-
"""
What a proxy-chain validation takes and gives: the site's L{ChainOptions},
the L{ChainFacts} a valid chain establishes, and the L{EecFacts} of its
end-entity certificate that L{EecCache} keeps for the next proxy of the same
user.

Pure; the validation itself is L{occid.gsi.proxy.validate_chain}.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from occid.config import CrlMode
from occid.gridconfig import GridConfig
from occid.gsi.trust import Authority

#: How many validated end-entity certificates an L{EecCache} remembers.
EEC_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class ChainOptions:
    """
    The site's proxy rules.

    @ivar crl: C{REQUIRE}: every CA-issued certificate needs its CA's CRL;
        C{IF_VALID}: a missing CRL is tolerated (and noted); C{OFF}: the
        same in this module, the TLS layer may stop asking OpenSSL for CRLs.
        In every mode a CRL that is present must be correctly signed and
        current, and a listed serial is refused.
    @ivar legacy_proxies: accept pre-RFC Globus proxies (never mixed, never
        draft GSI-3 ones).
    @ivar namespaces: C{"if-present"}: C{.namespaces} / C{.signing_policy}
        are enforced when the CA has them; C{"require"}: a CA without either
        signs nobody.
    """

    crl: CrlMode = CrlMode.IF_VALID
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
class EecFacts:
    """
    What the rules on an end-entity certificate and its CA path (C2, C3 of
    its subject, C9-C13 on it and its CAs) established, whatever proxies
    were issued from it.

    @ivar certificate: the certificate (parsed: its parts were read).
    @ivar path: the trust-dir authorities above it, its issuer first.
    @ivar notes: what was tolerated (missing CRLs).
    @ivar valid_from: the latest notBefore of it and its CAs and
        thisUpdate of their CRLs.
    @ivar valid_until: the earliest notAfter of them and nextUpdate of the
        CRLs: the same checks at any moment in between give the same facts.
    """

    certificate: x509.Certificate
    eec_dn: str
    issuer_dn: str
    path: tuple[Authority, ...]
    notes: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime


class EecCache:
    """
    The end-entity certificates whose rules passed, keyed by the
    certificate (a certificate hashes and compares by its DER), so that a
    new proxy of a known user costs only the proxy's own checks, and the
    user's certificate, the same DER parsed anew on every connection, is
    replaced by the one already read.
    An entry stands from its C{valid_from} to its C{valid_until}; the least
    recently used goes first.  A cache belongs to one trust store and one
    L{ChainOptions}: make a new one whenever the trust material is reloaded
    (a new CRL is never answered from an old cache).
    """

    def __init__(self, size: int = EEC_CACHE_SIZE):
        self._size = size
        self._entries: OrderedDict[x509.Certificate, EecFacts] = OrderedDict()

    def get(self, certificate: x509.Certificate, now: datetime) -> EecFacts | None:
        """The facts of C{certificate}, if they hold at C{now}."""
        facts = self._entries.get(certificate)
        if facts is None or not facts.valid_from <= now <= facts.valid_until:
            return None
        self._entries.move_to_end(certificate)
        return facts

    def add(self, facts: EecFacts) -> None:
        """Remember the facts of a certificate."""
        self._entries[facts.certificate] = facts
        self._entries.move_to_end(facts.certificate)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
