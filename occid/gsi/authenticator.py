# -*- test-case-name: tests.test_authenticator -*-
"""
The authenticator: a presented client chain in, a L{Principal} out.

It runs the proxy-chain rules (L{occid.gsi.proxy.validate_chain}) and the
VOMS rules (L{occid.gsi.voms.verify_acs}), and remembers what it concluded:
the result depends only on the chain, OpenSSL's verdict, the trust store,
the vomsdir and the clock, so a client that reconnects with the same chain
(rOCCI-cli opens a connection per request) gets its principal from memory
until the principal expires, an AC refused for starting in the future
becomes valid, or the daemon reloads the trust material.

Pure: the log is an injected callable, time is passed in.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from zope.interface import implementer

from occid import metrics
from occid.gsi.chain import ChainOptions, EecCache
from occid.gsi.principal import Principal
from occid.gsi.proxy import validate_chain
from occid.gsi.trust import TrustStore
from occid.gsi.voms import DroppedAC, verify_acs
from occid.gsi.vomsdir import VomsDir
from occid.gsi.vomssigner import SignerCache
from occid.interfaces import IAuthenticator

#: How many validated principals are remembered.
CACHE_SIZE = 10_000


@implementer(IAuthenticator)
class GridAuthenticator:
    """
    Validates client chains against one trust store and vomsdir, with a
    bounded cache of validated principals keyed by the whole chain, an
    L{EecCache} so a new proxy of a known user costs only its own checks,
    and a L{SignerCache} so each VOMS server's signer chain is validated
    once.
    """

    def __init__(
        self,
        trust: TrustStore,
        vomsdir: VomsDir,
        options: ChainOptions,
        host: str,
        log_dropped: Callable[[str, DroppedAC], None],
        cache_size: int = CACHE_SIZE,
    ):
        """
        @param host: our host name (of C{public_url}), for AC targets.
        @param log_dropped: called with the EEC's DN and a L{DroppedAC} for
            every attribute certificate that was refused.
        @param cache_size: the most principals remembered (least recently
            used ones are forgotten first).
        """
        self._trust = trust
        self._vomsdir = vomsdir
        self._options = options
        self._host = host
        self._log_dropped = log_dropped
        self._cache_size = cache_size
        self._signers = SignerCache()
        self._eecs = EecCache()
        # chain key -> (principal, the moment it must be validated again)
        self._cache: OrderedDict[bytes, tuple[Principal, datetime]] = OrderedDict()
        self.epoch = 0

    @property
    def trust(self) -> TrustStore:
        """The trust store in use (the readiness check looks at its CRLs)."""
        return self._trust

    def reload(self, trust: TrustStore, vomsdir: VomsDir) -> None:
        """
        Use new trust material from now on; forget every principal,
        end-entity certificate and verified signer chain, and move to a new
        L{epoch}.
        """
        self.epoch += 1
        self._trust = trust
        self._vomsdir = vomsdir
        self._cache.clear()
        self._signers = SignerCache()
        self._eecs = EecCache()

    def authenticate(
        self,
        chain: Sequence[x509.Certificate],
        tls_errors: Sequence[tuple[int, int]],
        now: datetime,
    ) -> Principal:
        key = chain_key(chain, tls_errors)
        cached = self._cache.get(key)
        if cached is not None:
            principal, until = cached
            if now < until:
                self._cache.move_to_end(key)
                metrics.PRINCIPAL_CACHE.labels("hit").inc()
                return principal
            del self._cache[key]
        metrics.PRINCIPAL_CACHE.labels("miss").inc()
        principal, until = self._validate(chain, tls_errors, now)
        self._cache[key] = (principal, until)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def _validate(self, chain, tls_errors, now) -> tuple[Principal, datetime]:
        """The principal, and until when it stands: its end, the moment a
        CRL of its path goes out of date, or the earliest moment a refused
        AC becomes valid, whichever comes first."""
        facts = validate_chain(chain, tls_errors, self._trust, self._options, now, self._eecs)
        verdict = verify_acs(facts, self._vomsdir, self._trust, self._options, self._host, now, self._signers)
        for dropped in verdict.dropped:
            self._log_dropped(facts.eec_dn, dropped)
        voms = verdict.attributes
        principal = Principal(
            dn=facts.eec_dn,
            issuer_dn=facts.issuer_dn,
            proxy_depth=facts.proxy_depth,
            limited=facts.limited,
            legacy=facts.legacy,
            not_after=min(facts.not_after, voms.not_after) if voms else facts.not_after,
            vo=voms.vo if voms else None,
            fqans=voms.fqans if voms else (),
            attributes=voms.attributes if voms else (),
        )
        starts = [d.valid_from for d in verdict.dropped if d.valid_from is not None]
        return principal, min([principal.not_after, facts.valid_until, *starts])


def chain_key(chain: Sequence[x509.Certificate], tls_errors: Sequence[tuple[int, int]]) -> bytes:
    """A digest of every certificate of C{chain} (DER, in order) and C{tls_errors}."""
    digest = hashlib.sha256(len(chain).to_bytes(4, "big"))
    for certificate in chain:
        der = certificate.public_bytes(Encoding.DER)
        digest.update(len(der).to_bytes(4, "big") + der)
    digest.update(repr(tuple((int(d), int(e)) for d, e in tls_errors)).encode())
    return digest.digest()
