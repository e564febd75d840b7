# -*- test-case-name: tests.test_gsi_proxy -*-
"""
RFC 3820 proxy-chain validation: rules C2 to C13 of docs/security.md,
enforced in Python whatever OpenSSL said.

L{validate_chain} takes the certificates a client sent (leaf first), the
errors OpenSSL's verify callback recorded during the handshake, the trust
store and the time, and returns the L{ChainFacts} occid builds a principal
from, or raises L{CertificateRejected} naming the rule, the reason and the
fix.  The CA part of the path is built only from the trust store; CA
certificates the client sent are ignored.  The rules themselves are in
L{occid.gsi.chainrules}, OpenSSL's errors are judged by
L{occid.gsi.tlsverdict}.

C1, the TLS context, belongs to the Twisted edge.  For this module's
verdicts to agree with OpenSSL's, that context needs: C{VERIFY_PEER}
without C{VERIFY_FAIL_IF_NO_PEER_CERT} and a callback that records every
C{(depth, error)} and returns true; CApath = the trust dir; store flags
C{ALLOW_PROXY_CERTS | CRL_CHECK | CRL_CHECK_ALL} (never C{X509_STRICT});
TLS >= 1.2; C{OP_NO_TICKET} and C{SESS_CACHE_OFF}; verify depth >= 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from occid.gsi.chain import ChainFacts, ChainOptions, EecCache, EecFacts
from occid.gsi.chainrules import (
    PROXY_GRACE,
    check_critical_extensions,
    check_keys_and_digests,
    check_namespaces,
    check_proxies,
    check_revocation,
    check_types,
    check_unambiguous,
    check_validity,
    trust_path,
)
from occid.gsi.names import slash_dn
from occid.gsi.proxycert import ProxyInfo, classify
from occid.gsi.readable import unreadable
from occid.gsi.refusal import SubjectNames, reject
from occid.gsi.tlsverdict import check_tls_errors
from occid.gsi.trust import TrustStore, is_ca

__all__ = ["ChainFacts", "ChainOptions", "validate_chain"]


def validate_chain(
    chain: Sequence[x509.Certificate],
    tls_errors: Sequence[tuple[int, int]],
    trust: TrustStore,
    options: ChainOptions,
    now: datetime,
    eecs: EecCache | None = None,
) -> ChainFacts:
    """
    Validate the client's chain (leaf first) and return its facts.

    @param tls_errors: C{(depth, OpenSSL error number)} pairs the verify
        callback recorded; only a missing CRL (outside C{require} mode) and
        the errors legacy proxies cause (when enabled) are tolerated.
    @param eecs: the L{EecCache} of C{trust} and C{options}, if any: an
        end-entity certificate it holds is not checked again (nor its CA
        path) nor parsed again (the cached one takes its place), only the
        proxies and OpenSSL's verdict are; one that passes goes into it.
    @raise CertificateRejected: any rule fails.
    """
    if not chain:
        raise reject("C2", "no client certificate was presented")
    known_at, known = _known_eec(chain, eecs, now)
    if known is not None:
        # the cached certificate is the same, already parsed
        chain = [*chain[:known_at], known.certificate, *chain[known_at + 1 :]]
    for depth, certificate in enumerate(chain):
        problem = unreadable(certificate) if depth != known_at else None
        if problem is not None:
            raise reject("X509", f"an unreadable certificate: the certificate at depth {depth}: {problem}")
    notes: list[str] = []
    names = SubjectNames()

    proxies: list[ProxyInfo] = []
    for certificate in chain[:known_at]:
        proxy = classify(certificate, names)
        if proxy is None:
            break
        proxies.append(proxy)
    if len(proxies) == len(chain):
        raise reject("C2", "the chain has proxies but no end-entity certificate")
    if len(proxies) != known_at:
        known = None
    eec = chain[len(proxies)]
    eec_dn = known.eec_dn if known is not None else names(eec)
    if is_ca(eec):
        raise reject("C2", f"{eec_dn} follows the proxies but is a CA certificate, not a user certificate")
    for extra in chain[len(proxies) + 1 :]:
        if not is_ca(extra):
            raise reject(
                "C2",
                f"more than one end-entity certificate: {eec_dn} and {names(extra)}",
            )

    if known is None:
        known, legacy, limited = _every_rule(eec, eec_dn, proxies, chain, trust, options, names, now, notes)
        if eecs is not None:
            eecs.add(known)
    else:
        legacy = check_types(proxies, options)
        check_keys_and_digests([p.certificate for p in proxies], names, anchor=None)
        limited = check_proxies(proxies, chain, names, notes)
        for proxy in proxies:
            check_critical_extensions(proxy.certificate, names)
        check_validity(proxies, eec, tuple(a.certificate for a in known.path), names, now)
        notes.extend(known.notes)
    path = known.path
    check_tls_errors(tls_errors, proxies, eec, path, legacy, options, notes)

    ca_path = tuple(a.certificate for a in path)
    everything = [p.certificate for p in proxies] + [eec, *ca_path]
    not_after = min(c.not_valid_after_utc for c in everything)
    return ChainFacts(
        eec=eec,
        eec_dn=eec_dn,
        issuer_dn=known.issuer_dn,
        proxies=tuple(p.certificate for p in proxies),
        proxy_depth=len(proxies),
        limited=limited,
        legacy=legacy,
        not_after=not_after,
        ca_path=ca_path,
        notes=tuple(notes),
        valid_from=max([known.valid_from,
                        *(p.certificate.not_valid_before_utc - PROXY_GRACE for p in proxies)]),
        valid_until=min(known.valid_until, not_after),
    )


def _known_eec(
    chain: Sequence[x509.Certificate], eecs: EecCache | None, now: datetime
) -> tuple[int, EecFacts | None]:
    """
    The depth and facts of the first certificate of C{chain} that C{eecs}
    holds (it passed as an end-entity certificate: it is readable and no
    proxy), or the chain's length and C{None}.
    """
    if eecs is not None:
        for depth, certificate in enumerate(chain):
            facts = eecs.get(certificate, now)
            if facts is not None:
                return depth, facts
    return len(chain), None


def _every_rule(
    eec: x509.Certificate,
    eec_dn: str,
    proxies: list[ProxyInfo],
    chain: Sequence[x509.Certificate],
    trust: TrustStore,
    options: ChainOptions,
    names: SubjectNames,
    now: datetime,
    notes: list[str],
) -> tuple[EecFacts, bool, bool]:
    """
    The rules on the proxies, the end-entity certificate and its CA path,
    in the order their refusals take precedence; the facts of the
    end-entity certificate, whether a proxy is legacy, and whether one is
    limited.
    """
    check_unambiguous(eec, eec_dn, "your certificate's subject", "ask your CA for a certificate whose name "
                      "values contain no '/' or '+' followed by an attribute name and '='")
    legacy = check_types(proxies, options)
    presented = [p.certificate for p in proxies] + [eec]
    check_keys_and_digests(presented, names, anchor=None)
    issuer_dn = slash_dn(eec.issuer)
    path = trust_path(eec, eec_dn, issuer_dn, trust)
    for authority in path:
        names.learn(authority)
        check_unambiguous(authority.certificate, authority.dn, f"the subject of the CA {authority.dn}",
                          "the site must remove this CA from its trust dir")
    ca_path = tuple(a.certificate for a in path)
    check_keys_and_digests(ca_path, names, anchor=ca_path[-1])

    limited = check_proxies(proxies, chain, names, notes)
    for certificate in presented + list(ca_path):
        check_critical_extensions(certificate, names)
    check_validity(proxies, eec, ca_path, names, now)
    eec_notes: list[str] = []
    check_revocation(eec, path, options, names, now, eec_notes)
    notes.extend(eec_notes)
    check_namespaces(eec_dn, path, options)

    crls = [issuer.crl for issuer in path if issuer.crl is not None]
    # check_revocation refused every CRL without a nextUpdate
    next_updates = [crl.next_update_utc for crl in crls if crl.next_update_utc is not None]
    certificates = [eec, *ca_path]
    facts = EecFacts(
        certificate=eec,
        eec_dn=eec_dn,
        issuer_dn=issuer_dn,
        path=path,
        notes=tuple(eec_notes),
        valid_from=max([*(c.not_valid_before_utc for c in certificates),
                        *(crl.last_update_utc for crl in crls)]),
        valid_until=min([*(c.not_valid_after_utc for c in certificates), *next_updates]),
    )
    return facts, legacy, limited
