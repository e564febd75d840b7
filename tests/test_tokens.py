"""
Tests for L{occid.server.tokens} and L{occid.server.credentials}: bearer
tokens from an issuer served over HTTP on 127.0.0.1 (L{tests.issuer}),
through the whole web stack over the memory fakes with the real policy.
Every hostile token is refused with its rule's reason in the RFC 6750
challenge, and nothing reaches the backend.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey
from twisted.internet import defer
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from zope.interface.verify import verifyObject

from occid.config import AccountConfig, IssuerConfig, OidcConfig
from occid.demo.issuer import Issuer, entitlement, new_key
from occid.gsi.principal import owner_hash
from occid.interfaces import ITokenAuthenticator
from occid.occi.errors import Unauthorized
from occid.oidc.refusal import TokenRejected
from occid.policy import AccountPolicy
from occid.server.credentials import _refused, make_identify
from occid.server.pipeline import make_root
from occid.server.site import make_site
from occid.server.tokens import TokenAuthenticator, TokenService
from occid.testing import MemoryBackend
from tests.issuer import serving_issuer
from tests.rawhttp import http_request

AUDIENCE = "https://occi.example.org"

ACCOUNTS = (
    AccountConfig(name="testvo", fqans=("/testvo",), visibility="owner",
                  manager_fqans=("/testvo/Role=VMManager",)),
)

MEMBER = entitlement("testvo", "vm_operator")


@pytest.fixture(scope="module")
def served():
    """The test issuer over HTTP, and the paths it was asked for."""
    with serving_issuer() as (issuer, calls):
        yield issuer, calls


def inline(function, *args, **kwargs) -> defer.Deferred:
    """The token pool, run inline (the issuer answers from its own thread)."""
    return defer.maybeDeferred(function, *args, **kwargs)


class Recording(MemoryBackend):
    """A memory backend that counts the principals it was asked about."""

    def __init__(self):
        super().__init__()
        self.asked = []

    def catalog(self, binding, principal=None):
        self.asked.append(principal)
        return super().catalog(binding, principal)


class Stack:
    """The web stack over a L{Recording} backend, authenticating tokens of C{issuer}."""

    def __init__(self, issuer: Issuer, audience: str = "", introspect: bool = False):
        self.clock = MemoryReactorClock()
        self.clock.advance(time.time())
        client = issuer.client if introspect else ("", "")
        self.oidc = OidcConfig(issuers=(IssuerConfig(url=issuer.url, audience=audience,
                                                     client_id=client[0], client_secret=client[1]),))
        self.tokens = TokenAuthenticator(self.oidc, self.clock, inline)
        self.backend = Recording()
        root = make_root(self.backend, AccountPolicy(ACCOUNTS, "read-only"),
                         make_identify(self.tokens, self.clock), "https://occi.example.org", self.clock)
        self.site = make_site(root, 1 << 20, 60, self.clock)

    def get(self, token: str | None, header: str = "Authorization", path: str = "/-/"):
        headers = []
        if token is not None:
            headers.append((header, f"Bearer {token}" if header == "Authorization" else token))
        return http_request(self.site, "GET", path, headers)


def refused(stack: Stack, token: str, reason: str, status: int = 401):
    """C{token} is refused with C{reason} in the challenge and body; nothing reached the backend."""
    response = stack.get(token)
    assert response.status == status, response.body
    assert reason in response.body.decode()
    if status == 401:
        [bearer] = [v for v in response.values("WWW-Authenticate") if v.startswith("Bearer")]
        assert 'error="invalid_token"' in bearer
        assert reason in bearer
    assert stack.backend.asked == []
    return response


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict, claims: dict, secret: bytes | None = None) -> str:
    """A compact JWS of C{header} and C{claims}, HMAC-SHA256 with C{secret}, or unsigned."""
    signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing + "."
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def claims_of(issuer: Issuer, **override) -> dict:
    now = int(time.time())
    return {"iss": issuer.url, "sub": "alice", "iat": now, "exp": now + 3600,
            "eduperson_entitlement": [MEMBER], **override}


def test_provides_the_interface(served):
    """The token authenticator provides ITokenAuthenticator."""
    issuer, _ = served
    assert verifyObject(ITokenAuthenticator, Stack(issuer).tokens)


def test_bearer_token_serves_the_member(served):
    """A valid token with a member entitlement is bound to the VO's account."""
    issuer, _ = served
    stack = Stack(issuer)
    response = stack.get(issuer.mint("alice", entitlements=[MEMBER]))
    assert response.status == 200, response.body
    [principal] = stack.backend.asked
    assert principal.fqans == ("/testvo/Role=vm_operator",)
    assert principal.token.issuer == issuer.url and principal.token.sub == "alice"


def test_x_auth_token_as_rocci_sends_it(served):
    """rOCCI-cli's X-Auth-Token is accepted like Authorization: Bearer."""
    issuer, _ = served
    stack = Stack(issuer)
    assert stack.get(issuer.mint("alice", entitlements=[MEMBER]), "X-Auth-Token").status == 200


def test_two_different_tokens_are_a_bad_request(served):
    """Authorization and X-Auth-Token naming different tokens: 400, nothing served."""
    issuer, _ = served
    stack = Stack(issuer)
    response = http_request(stack.site, "GET", "/-/", [
        ("Authorization", "Bearer " + issuer.mint("alice", entitlements=[MEMBER])),
        ("X-Auth-Token", issuer.mint("bob", entitlements=[MEMBER]))])
    assert response.status == 400
    assert stack.backend.asked == []


def test_no_credentials_names_both_ways(served):
    """Neither certificate nor token: 401 with the X509 and Bearer challenges and both fixes."""
    issuer, _ = served
    response = Stack(issuer).get(None)
    assert response.status == 401
    assert response.values("WWW-Authenticate") == ['X509 realm="occid"', 'Bearer realm="occid"']
    assert b"--auth token" in response.body and b"--user-cred" in response.body


def test_entitlements_from_userinfo(served):
    """A token without the entitlements claim gets them from userinfo."""
    issuer, calls = served
    issuer.users["carol"] = (MEMBER,)
    stack = Stack(issuer)
    del calls[:]
    assert stack.get(issuer.mint("carol")).status == 200
    assert "/userinfo" in calls
    assert stack.backend.asked[0].fqans == ("/testvo/Role=vm_operator",)


def test_principal_cached_until_expiry(served):
    """The second request with a token asks the issuer nothing; an expired one is refused."""
    issuer, calls = served
    issuer.users["dave"] = (MEMBER,)
    stack = Stack(issuer)
    token = issuer.mint("dave", lifetime=60)
    assert stack.get(token).status == 200
    del calls[:]
    assert stack.get(token).status == 200
    assert calls == []
    stack.clock.advance(3600)
    refused_after = stack.get(token)
    assert refused_after.status == 401 and b"expired" in refused_after.body


def test_opaque_token_introspected(served):
    """A token that is no JWT is introspected with occid's client credentials."""
    issuer, calls = served
    issuer.users["erin"] = (MEMBER,)
    stack = Stack(issuer, introspect=True)
    del calls[:]
    assert stack.get(issuer.mint_opaque("erin")).status == 200
    assert "/introspect" in calls
    assert stack.backend.asked[0].token.sub == "erin"


def test_inactive_opaque_token(served):
    """Introspection saying inactive is a 401 naming it."""
    issuer, _ = served
    refused(Stack(issuer, introspect=True), "not-a-token-of-ours", "inactive token")


def test_opaque_token_without_introspection(served):
    """A token that is no JWT, where no issuer introspects: 401 naming the form."""
    issuer, _ = served
    refused(Stack(issuer), "opaque-token-value", "malformed token")


# -- hostile tokens: each refused with its reason (docs/security.md, T rules) ---------------


def test_alg_none(served):
    """T2: an unsigned token (alg none) is refused."""
    issuer, _ = served
    token = forged({"alg": "none", "kid": issuer.key.kid}, claims_of(issuer))
    refused(Stack(issuer), token, "unsupported algorithm")


def test_hs256_keyed_with_the_public_key(served):
    """T2: HS256 with the issuer's public key as HMAC secret is refused."""
    issuer, _ = served
    secret = issuer.key.as_pem(private=False)
    token = forged({"alg": "HS256", "kid": issuer.key.kid}, claims_of(issuer), secret)
    refused(Stack(issuer), token, "unsupported algorithm")


def test_expired(served):
    """T6: a token expired beyond the skew is refused."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[MEMBER], now=time.time() - 7200)
    refused(Stack(issuer), token, "expired")


def test_not_yet_valid(served):
    """T7: a token whose nbf is beyond the skew is refused."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[MEMBER], nbf=int(time.time()) + 3600)
    refused(Stack(issuer), token, "not yet valid")


def test_issued_in_the_future(served):
    """T7: a token whose iat is beyond the skew is refused."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[MEMBER], iat=int(time.time()) + 3600)
    refused(Stack(issuer), token, "not yet valid")


def test_wrong_issuer(served):
    """T3: a token of a configured issuer's key whose iss differs is refused."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[MEMBER], iss=issuer.url + "/")
    refused(Stack(issuer), token, "wrong issuer")


def test_issuer_not_configured(served):
    """T3: a token of another issuer is refused before any key is fetched."""
    issuer, _ = served
    other = Issuer("https://issuer.example.net")
    refused(Stack(issuer), other.mint("alice", entitlements=[MEMBER]), "wrong issuer")


def test_wrong_audience(served):
    """T8: with an audience configured, a token for another is refused."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[MEMBER], aud="https://elsewhere.example.org")
    refused(Stack(issuer, audience=AUDIENCE), token, "wrong audience")
    good = issuer.mint("alice", entitlements=[MEMBER], aud=[AUDIENCE, "other"])
    assert Stack(issuer, audience=AUDIENCE).get(good).status == 200


def test_missing_audience(served):
    """T8: with an audience configured, a token without aud is refused."""
    issuer, _ = served
    refused(Stack(issuer, audience=AUDIENCE), issuer.mint("alice", entitlements=[MEMBER]),
            "wrong audience")


def test_tampered_payload(served):
    """T5: a payload changed after signing is refused."""
    issuer, _ = served
    header, _, signature = issuer.mint("alice", entitlements=[]).split(".")
    payload = b64(json.dumps(claims_of(issuer, eduperson_entitlement=[
        entitlement("testvo", "VMManager")])).encode())
    refused(Stack(issuer), f"{header}.{payload}.{signature}", "bad signature")


def test_unknown_kid(served):
    """T4: a kid the issuer does not publish is refused, after at most one refresh."""
    issuer, calls = served
    stranger = new_key()
    token = jwt.encode({"alg": "RS256", "kid": stranger.kid}, claims_of(issuer), stranger)
    stack = Stack(issuer)
    del calls[:]
    refused(stack, token, "unknown key")
    refused(stack, token, "unknown key")
    assert calls.count("/jwks") == 1


def test_key_of_another_issuer_with_the_same_kid(served):
    """T5: a token signed by another key bearing the issuer's kid is refused."""
    issuer, _ = served
    impostor = new_key()
    token = jwt.encode({"alg": "RS256", "kid": issuer.key.kid}, claims_of(issuer), impostor)
    refused(Stack(issuer), token, "bad signature")


def test_ec_key_for_an_rsa_kid(served):
    """T5: an ES256 token naming the issuer's RSA kid is refused."""
    issuer, _ = served
    key = ECKey.generate_key("P-256")
    token = jwt.encode({"alg": "ES256", "kid": issuer.key.kid}, claims_of(issuer), key)
    refused(Stack(issuer), token, "bad signature")


def test_vo_without_account(served):
    """Entitlements of a VO no account serves: 403 naming the VO, nothing served."""
    issuer, _ = served
    token = issuer.mint("alice", entitlements=[entitlement("elsewhere.eu", "vm_operator")])
    refused(Stack(issuer), token, "VO elsewhere.eu has no account", status=403)


def test_no_entitlements(served):
    """A token user with no entitlements and not in subs: 403 saying so."""
    issuer, _ = served
    refused(Stack(issuer), issuer.mint("nobody", entitlements=[]), "no VO entitlements", status=403)


def test_refusal_logged_with_issuer_and_sub_never_the_token(served):
    """The log line of a refusal names the issuer and sub, not the token."""
    issuer, _ = served
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        token = issuer.mint("mallory", entitlements=[MEMBER], now=time.time() - 7200)
        Stack(issuer).get(token)
    finally:
        globalLogPublisher.removeObserver(events.append)
    [event] = [e for e in events if e.get("rule") == "T6"]
    assert (event["issuer"], event["sub"]) == (issuer.url, "mallory")
    assert not any(token in repr(e) for e in events)


# -- keys ---------------------------------------------------------------------------------


def test_key_rotation(served):
    """
    After the issuer rotates its key, a token of the new key is accepted
    once a minute has passed since the last fetch: one refresh, off the
    failing request's way afterwards.
    """
    issuer, calls = served
    stack = Stack(issuer)
    assert stack.get(issuer.mint("alice", entitlements=[MEMBER])).status == 200
    old = issuer.key
    issuer.rotate()
    token = issuer.mint("alice", entitlements=[MEMBER])
    first = stack.get(token)
    assert first.status == 401 and b"unknown key" in first.body
    stack.clock.advance(61)
    del calls[:]
    assert stack.get(token).status == 200
    assert calls.count("/jwks") == 1
    issuer.keys.append(old)


def test_issuer_unreachable_is_503():
    """Keys that cannot be fetched: 503 with Retry-After, not a 401."""
    issuer = Issuer("http://127.0.0.1:9")
    stack = Stack(issuer)
    response = stack.get(issuer.mint("alice", entitlements=[MEMBER]))
    assert response.status == 503
    assert response.header("Retry-After") == "60"


def test_refresh_failure_logged(served):
    """A failed fetch of the keys is logged and leaves the authenticator usable."""
    issuer = Issuer("http://127.0.0.1:9")
    stack = Stack(issuer)
    result = []
    stack.tokens.refresh().addBoth(result.append)
    assert result == [None]


def test_owner_of_a_token_user_is_never_a_dn_hash(served):
    """The token identity is prefixed: its owner hash cannot be any DN's."""
    issuer, _ = served
    stack = Stack(issuer)
    stack.get(issuer.mint("alice", entitlements=[MEMBER]))
    [principal] = stack.backend.asked
    assert principal.identity.startswith("oidc:")
    assert principal.owner == owner_hash(f"oidc:{issuer.url}\nalice")
    assert principal.owner != owner_hash("alice")


def test_unexpected_failure_is_not_a_token_refusal():
    """A failure other than a refusal passes through the identify errback untouched."""
    failure = Failure(ValueError("boom"))
    assert _refused(failure) is failure
    with pytest.raises(Unauthorized, match="token was refused"):
        _refused(Failure(TokenRejected("T6", "expired")))


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=200),
       header=_JSON, claims=_JSON)
def test_garbage_is_refused_never_a_500(served, text, header, claims):
    """Any header value, or any JSON in a JWT's parts, is a 401 (or 403), never a 500."""
    issuer, _ = served
    stack = Stack(issuer)
    for token in (text, forged(header, claims)):
        if not token.strip():
            continue
        assert stack.get(token).status in (401, 403)
    assert all(p is None or p.token is not None for p in stack.backend.asked)


def test_cache_is_bounded(served):
    """Past its size the cache forgets the least recently used token: its userinfo is asked again."""
    issuer, calls = served
    issuer.users["frank"] = issuer.users["grace"] = (MEMBER,)
    stack = Stack(issuer)
    stack.tokens._cache_size = 1
    first, second = issuer.mint("frank"), issuer.mint("grace")
    assert stack.get(first).status == 200
    del calls[:]
    for token in (second, first):
        assert stack.get(token).status == 200
    assert calls.count("/userinfo") == 2
    del calls[:]
    assert stack.get(first).status == 200
    assert calls == []


def test_keys_refreshed_by_the_service(served):
    """The token service fetches the keys when it starts and every refresh period, off requests."""
    issuer, calls = served
    stack = Stack(issuer)
    service = TokenService(stack.tokens, 3600, stack.clock)
    del calls[:]
    service.startService()
    assert calls.count("/jwks") == 1
    stack.clock.advance(3600)
    assert calls.count("/jwks") == 2
    service.stopService()
    stack.clock.advance(3600)
    assert calls.count("/jwks") == 2


def test_concurrent_unknown_kids_share_one_fetch(served):
    """Requests arriving while the keys are fetched wait for that fetch; none starts another."""
    issuer, _ = served
    clock = MemoryReactorClock()
    clock.advance(time.time())
    queued = []

    def later(function, *args, **kwargs):
        queued.append((function, args, kwargs))
        return defer.Deferred()

    oidc = OidcConfig(issuers=(IssuerConfig(url=issuer.url),))
    tokens = TokenAuthenticator(oidc, clock, later)
    now = datetime.fromtimestamp(clock.seconds(), UTC)
    first = tokens.authenticate(issuer.mint("h", entitlements=[MEMBER]), now)
    second = tokens.authenticate(issuer.mint("i", entitlements=[MEMBER]), now)
    assert len(queued) == 1 and not first.called and not second.called
