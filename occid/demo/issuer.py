# -*- test-case-name: tests.test_tokens,tests.test_demo -*-
"""
A small OpenID Connect issuer for the demo and the tests: discovery, a key
set (whose key can be rotated), userinfo and introspection, and the access
tokens it mints for its users.  L{Issuer.answer} serves one HTTP request
as plain data; the demo serves it from the reactor (L{IssuerResource}), the
tests from a thread of their own.

Not a real issuer: no login, no client registration; every token it mints
for a user is good until it expires.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from twisted.application import strports
from twisted.application.service import IService
from twisted.internet.interfaces import IReactorCore
from twisted.web import resource, server

from occid.gsi.principal import TokenSubject

__all__ = ["Issuer", "IssuerResource", "entitlement", "issuer_service"]

#: The paths of the issuer's endpoints, below its URL.
DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks"
USERINFO = "/userinfo"
INTROSPECT = "/introspect"


def entitlement(vo: str, role: str = "member", *groups: str) -> str:
    """An EGI Check-in entitlement of C{vo} (and C{groups}) with C{role}."""
    path = ":".join((vo, *groups))
    return f"urn:mace:egi.eu:group:{path}:role={role}#aai.egi.eu"


class Issuer:
    """
    An issuer at C{url}, signing with its current RSA key (RS256).

    @ivar users: each subject's entitlements, which userinfo and
        introspection give.
    @ivar client: the C{(client_id, client_secret)} introspection takes.
    """

    def __init__(self, url: str, key: RSAKey | None = None):
        self.url = url
        self.keys: list[RSAKey] = [key or new_key()]
        self.users: dict[str, tuple[str, ...]] = {}
        self.client = ("occid", secrets.token_urlsafe(16))
        self._opaque: dict[str, dict[str, Any]] = {}

    @property
    def key(self) -> RSAKey:
        """The key new tokens are signed with."""
        return self.keys[0]

    def rotate(self, keep: bool = False) -> RSAKey:
        """Sign with a new key from now on; the old ones stay published if C{keep}."""
        self.keys = [new_key(), *(self.keys if keep else ())]
        return self.key

    def mint(self, sub: str, lifetime: float = 3600, entitlements: Sequence[str] | None = None,
             now: float | None = None, **claims: Any) -> str:
        """
        A JWT access token of C{sub}, valid for C{lifetime} seconds from
        C{now}; C{entitlements} in the token itself when given (else
        userinfo has them, from L{users}); C{claims} override the others.
        """
        now = time.time() if now is None else now
        payload: dict[str, Any] = {"iss": self.url, "sub": sub, "iat": int(now),
                                   "exp": int(now + lifetime), "scope": "openid eduperson_entitlement"}
        if entitlements is not None:
            payload["eduperson_entitlement"] = list(entitlements)
        payload.update(claims)
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, payload, self.key)

    def mint_opaque(self, sub: str, lifetime: float = 3600, now: float | None = None) -> str:
        """A token that is no JWT, which only introspection explains."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        self._opaque[token] = {"sub": sub, "iss": self.url, "exp": int(now + lifetime)}
        return token

    def subject(self, token: str) -> TokenSubject | None:
        """Whose token C{token} is, if this issuer made it and it is current."""
        if token in self._opaque:
            claims = self._opaque[token]
        else:
            try:
                claims = dict(jwt.decode(token, self._key_of(token), algorithms=["RS256"]).claims)
            except (JoseError, ValueError, StopIteration, IndexError):
                return None
        if claims.get("exp", 0) < time.time():
            return None
        return TokenSubject(self.url, claims["sub"])

    def _key_of(self, token: str) -> RSAKey:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return next(key for key in self.keys if key.kid == header.get("kid"))

    # -- HTTP ------------------------------------------------------------------------

    def documents(self) -> dict[str, Any]:
        """The discovery document."""
        return {"issuer": self.url, "jwks_uri": self.url + JWKS,
                "userinfo_endpoint": self.url + USERINFO,
                "introspection_endpoint": self.url + INTROSPECT,
                "id_token_signing_alg_values_supported": ["RS256"]}

    def answer(self, method: str, path: str, headers: Mapping[str, str],
               body: bytes) -> tuple[int, Any]:
        """The status and JSON answer to one request (header names in lower case)."""
        if method == "GET" and path == DISCOVERY:
            return 200, self.documents()
        if method == "GET" and path == JWKS:
            return 200, {"keys": [dict(key.as_dict(private=False), use="sig", alg="RS256")
                                  for key in self.keys]}
        authorization = headers.get("authorization", "")
        if path == USERINFO:
            scheme, _, token = authorization.partition(" ")
            subject = self.subject(token) if scheme.lower() == "bearer" else None
            if subject is None:
                return 401, {"error": "invalid_token"}
            return 200, {"sub": subject.sub,
                         "eduperson_entitlement": list(self.users.get(subject.sub, ()))}
        if method == "POST" and path == INTROSPECT:
            pair = f"{self.client[0]}:{self.client[1]}".encode()
            if authorization != "Basic " + base64.b64encode(pair).decode():
                return 401, {"error": "invalid_client"}
            token = parse_qs(body.decode("ascii", "replace")).get("token", [""])[0]
            subject = self.subject(token)
            if subject is None:
                return 200, {"active": False}
            return 200, {"active": True, **self._opaque.get(token, {"sub": subject.sub}),
                         "eduperson_entitlement": list(self.users.get(subject.sub, ()))}
        return 404, {"error": "not_found"}


def new_key() -> RSAKey:
    """A fresh 2048-bit RSA signing key with a random C{kid}."""
    return RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8)})


class IssuerResource(resource.Resource):
    """L{Issuer} served by twisted.web: the demo's issuer, beside its emulator."""

    isLeaf = True

    def __init__(self, issuer: Issuer):
        super().__init__()
        self._issuer = issuer

    def render(self, request: server.Request) -> bytes:
        headers = {name.decode("latin-1").lower(): values[0].decode("latin-1")
                   for name, values in request.requestHeaders.getAllRawHeaders()}
        body = request.content.read() if request.content is not None else b""
        status, answer = self._issuer.answer(request.method.decode("latin-1"),
                                             request.path.decode("latin-1"), headers, body)
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(answer).encode()


def issuer_service(issuer: Issuer, reactor: IReactorCore) -> IService:
    """The service serving C{issuer} on its URL's port of 127.0.0.1."""
    port = issuer.url.rsplit(":", 1)[1]
    return strports.service(f"tcp:{port}:interface=127.0.0.1",
                            server.Site(IssuerResource(issuer)), reactor=reactor)
