# -*- test-case-name: tests.test_tokens -*-
"""
Bearer tokens into principals, on the Twisted side: each issuer's keys
found by discovery and kept in memory, fetched again every C{[oidc]
refresh} seconds and when a token names a key not yet known (at most once
a minute per issuer); entitlements from the token, else from userinfo (or,
for a token that is no JWT, from introspection); principals remembered per
token until it expires.

Every call to an issuer runs in the token thread pool through the injected
C{run}, with C{[oidc] timeout}; the rules themselves are the pure
L{occid.oidc}'s.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from occid.gsi.principal import Principal
from occid.interfaces import ITokenAuthenticator
from occid.occi.errors import ServiceUnavailable
from occid.oidc.documents import (
    Endpoints,
    IssuerKeys,
    endpoints,
    entitlements,
    introspected,
    key_set,
    userinfo_entitlements,
)
from occid.oidc.principal import token_principal
from occid.oidc.refusal import TokenRejected
from occid.oidc.rules import VerifiedToken, is_jwt, read, verify
from occid.oidcconfig import IssuerConfig, OidcConfig
from occid.server.issuerhttp import IssuerRefused, get_json

log = Logger()

#: How many validated tokens are remembered.
CACHE_SIZE = 10_000

#: The least time between two fetches of an issuer's keys for unknown C{kid}s, in seconds.
KEY_REFRESH_INTERVAL = 60.0

#: C{run(function, *args)}: C{function(*args)} in the token thread pool, as a Deferred.
Run = Callable[..., "defer.Deferred[Any]"]

#: The discovery document of an issuer, below its identifier.
DISCOVERY = "/.well-known/openid-configuration"


@dataclass
class _Issuer:
    """What is known of one issuer: its endpoints and keys once fetched."""

    config: IssuerConfig
    endpoints: Endpoints | None = None
    keys: IssuerKeys | None = None
    fetched_at: float | None = None
    pending: defer.Deferred[None] | None = None


@implementer(ITokenAuthenticator)
class TokenAuthenticator:
    """
    Validates bearer tokens of the issuers of one C{[oidc]} section.
    """

    def __init__(self, oidc: OidcConfig, clock: IReactorTime, run: Run,
                 fetch: Callable[..., Any] = get_json, cache_size: int = CACHE_SIZE):
        """
        @param run: runs a blocking call in the token thread pool.
        @param fetch: the blocking call to an issuer (L{get_json}'s signature).
        @param cache_size: the most validated tokens remembered.
        """
        self._oidc = oidc
        self._clock = clock
        self._run = run
        self._fetch = fetch
        self._cache_size = cache_size
        self._issuers = {issuer.url: _Issuer(issuer) for issuer in oidc.issuers}
        # sha256(token) -> principal
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()

    # -- keys ------------------------------------------------------------------------

    def refresh(self) -> defer.Deferred[None]:
        """Fetch every issuer's discovery document and keys again (in the pool)."""
        return defer.DeferredList(
            [self._refresh(issuer) for issuer in self._issuers.values()]
        ).addCallback(lambda _: None)

    def _refresh(self, issuer: _Issuer) -> defer.Deferred[None]:
        """Fetch C{issuer}'s endpoints and keys, once at a time; failures are logged."""
        if issuer.pending is not None:
            return _follow(issuer.pending)
        issuer.fetched_at = self._clock.seconds()
        pending = issuer.pending = self._run(self._load, issuer.config)

        def loaded(result: tuple[Endpoints, IssuerKeys]) -> None:
            issuer.endpoints, issuer.keys = result
            log.info("Loaded {count} keys of OIDC issuer {issuer}",
                     count=len(result[1].keys), issuer=issuer.config.url)

        def failed(failure: Any) -> None:
            log.warn("Could not load the keys of OIDC issuer {issuer}: {error}",
                     issuer=issuer.config.url, error=str(failure.value))

        def done(result: object) -> None:
            issuer.pending = None

        pending.addCallbacks(loaded, failed).addBoth(done)
        return _follow(pending)

    def _load(self, issuer: IssuerConfig) -> tuple[Endpoints, IssuerKeys]:
        """In the pool: the discovery document, then the key set it names."""
        found = endpoints(self._fetch(issuer.url.rstrip("/") + DISCOVERY, self._oidc.timeout), issuer)
        return found, key_set(self._fetch(found.jwks_uri, self._oidc.timeout))

    async def _key(self, issuer: _Issuer, kid: str | None) -> Any:
        """
        Rule T4: the key C{kid} names, fetching the keys again first if it
        is not known and the last fetch is over a minute old (or running).
        """
        key = issuer.keys.find(kid) if issuer.keys is not None else None
        if key is None:
            await self._fetched_again(issuer)
            key = issuer.keys.find(kid) if issuer.keys is not None else None
        if key is None and issuer.keys is None:
            raise ServiceUnavailable(f"the keys of {issuer.config.url} could not be fetched; "
                                     "retry in a minute", retry_after=60)
        if key is None:
            raise TokenRejected("T4", f"unknown key {str(kid)[:64]!r} of {issuer.config.url}",
                                issuer.config.url)
        return key

    async def _fetched_again(self, issuer: _Issuer) -> None:
        """
        Wait for the fetch of C{issuer}'s documents that runs, or start one
        if the last started a minute ago or more (so a flood of bad tokens
        costs the issuer one call a minute).
        """
        since = self._clock.seconds() - (issuer.fetched_at or float("-inf"))
        if issuer.pending is not None or since >= KEY_REFRESH_INTERVAL:
            await self._refresh(issuer)

    # -- tokens ----------------------------------------------------------------------

    def authenticate(self, token: str, now: datetime) -> defer.Deferred[Principal]:
        return defer.Deferred.fromCoroutine(self._authenticate(token, now))

    async def _authenticate(self, token: str, now: datetime) -> Principal:
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            if not cached.expired(now):
                self._cache.move_to_end(digest)
                return cached
            del self._cache[digest]
        principal = await (self._jwt(token, now) if is_jwt(token) else self._opaque(token, now))
        self._cache[digest] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def _jwt(self, token: str, now: datetime) -> Principal:
        """Rules T1-T9 on a JWT, then its entitlements: its own, else userinfo's."""
        unverified = read(token, self._oidc)
        issuer = self._issuers[unverified.issuer.url]
        verified = verify(unverified, await self._key(issuer, unverified.kid), now)
        held = entitlements(verified.claims, verified.issuer)
        if held is None:
            held = await self._userinfo(issuer, token, verified)
        return token_principal(verified, held)

    async def _userinfo(self, issuer: _Issuer, token: str, verified: VerifiedToken) -> tuple[str, ...]:
        """Rule T10: the entitlements the issuer's userinfo gives the token's subject."""
        url = issuer.endpoints.userinfo if issuer.endpoints is not None else None
        if url is None:
            return ()
        answer = await self._call(issuer.config, url, bearer=token)
        return userinfo_entitlements(answer, verified)

    async def _opaque(self, token: str, now: datetime) -> Principal:
        """
        Rule T10 on a token that is no JWT: the first issuer whose
        introspection says it is active vouches for it.
        """
        asked = [issuer for issuer in self._issuers.values() if issuer.config.introspects]
        if not asked:
            raise TokenRejected("T1", "malformed token: not a signed JWT, and no issuer "
                                "is configured to introspect other tokens")
        refusal = None
        for issuer in asked:
            if issuer.endpoints is None:
                await self._fetched_again(issuer)
            url = issuer.endpoints.introspection if issuer.endpoints is not None else None
            if url is None:
                continue
            answer = await self._call(issuer.config, url, form={"token": token},
                                      client=(issuer.config.client_id, issuer.config.client_secret))
            try:
                verified = introspected(answer, issuer.config, now)
            except TokenRejected as rejected:
                refusal = rejected
                continue
            held = entitlements(verified.claims, verified.issuer)
            if held is None:
                held = await self._userinfo(issuer, token, verified)
            return token_principal(verified, held)
        raise refusal or TokenRejected("T10", "inactive token: no issuer vouches for it")

    async def _call(self, issuer: IssuerConfig, url: str, **arguments: Any) -> Any:
        """
        The JSON answer of C{url} at C{issuer}, from the pool.

        @raise TokenRejected: the issuer refused the token (401 or 403).
        @raise ServiceUnavailable: it could not be reached or made no sense.
        """
        try:
            return await self._run(self._fetch, url, self._oidc.timeout, **arguments)
        except IssuerRefused as refused:
            if refused.status in (401, 403):
                raise TokenRejected("T10", f"{issuer.url} refused the token", issuer.url) from None
            raise self._unreachable(issuer, refused) from None
        except (OSError, ValueError) as error:
            raise self._unreachable(issuer, error) from None

    def _unreachable(self, issuer: IssuerConfig, error: Exception) -> ServiceUnavailable:
        log.warn("OIDC issuer {issuer} failed: {error}", issuer=issuer.url, error=str(error))
        return ServiceUnavailable(f"the OIDC issuer {issuer.url} could not be reached; "
                                  "retry in a minute", retry_after=60)


def _follow(pending: defer.Deferred[None]) -> defer.Deferred[None]:
    """A Deferred firing (with C{None}) when C{pending} does, leaving C{pending} alone."""
    follower: defer.Deferred[None] = defer.Deferred()

    def fire(result: object) -> object:
        follower.callback(None)
        return result

    pending.addBoth(fire)
    return follower


class TokenService(Service):
    """
    The keys' life in the daemon: fetched when it starts, and again every
    C{[oidc] refresh} seconds, off the request path.
    """

    def __init__(self, authenticator: TokenAuthenticator, refresh: float, clock: IReactorTime):
        self._authenticator = authenticator
        self._loop = task.LoopingCall(authenticator.refresh)
        self._loop.clock = clock
        self._refresh = refresh

    def startService(self) -> None:
        super().startService()
        self._loop.start(self._refresh, now=True)

    def stopService(self) -> None:
        super().stopService()
        if self._loop.running:
            self._loop.stop()
