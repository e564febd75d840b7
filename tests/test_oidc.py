"""
Tests for the pure token rules of L{occid.oidc}: entitlements as group
paths, the claims rules at their edges, and the reading of issuers'
documents.  (Hostile tokens end to end: L{tests.test_tokens}.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from occid.config import IssuerConfig, OidcConfig
from occid.demo.issuer import Issuer, entitlement, new_key
from occid.ec2 import tags
from occid.oidc.documents import endpoints, introspected, key_set, userinfo_entitlements
from occid.oidc.entitlements import group_path, group_paths
from occid.oidc.principal import token_principal
from occid.oidc.refusal import TokenRejected
from occid.oidc.rules import SKEW, check_claims, is_jwt, read
from occid.testing import make_binding

ISSUER = IssuerConfig(url="https://aai.egi.eu/auth/realms/egi")
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
T = NOW.timestamp()


@pytest.mark.parametrize(("value", "path"), [
    ("urn:mace:egi.eu:group:ops:role=vm_operator#aai.egi.eu", "/ops/Role=vm_operator"),
    ("urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu",
     "/vo.access.egi.eu/Role=vm_operator"),
    ("urn:mace:egi.eu:group:culturalheritage.vo.egi.eu:CH-cloud_operators:role=member#aai.egi.eu",
     "/culturalheritage.vo.egi.eu/CH-cloud_operators"),
    ("urn:mace:egi.eu:group:cloud.egi.eu:role=auditor#aai.egi.eu", "/cloud.egi.eu/Role=auditor"),
    ("urn:mace:egi.eu:group:ops#aai.egi.eu", "/ops"),
    ("urn:geant:example.org:group:vo:sub", "/vo/sub"),
])
def test_entitlement_to_group_path(value, path):
    """Check-in's entitlements (egi.md §6.1) become FQAN-like paths; role=member adds none."""
    assert group_path(value) == path


@pytest.mark.parametrize("value", [
    "urn:mace:egi.eu:aai.egi.eu:member@ops",  # the old matcher's form: no group
    "urn:mace:egi.eu:group:#aai.egi.eu",
    "urn:mace:egi.eu:group:vo/evil:role=member#aai.egi.eu",
    "urn:mace:egi.eu:group:vo:role=a/Role=b#aai.egi.eu",
    "urn:mace:egi.eu:group::role=member#aai.egi.eu",
    "https://example.org/group:vo",
    "",
])
def test_not_a_group_entitlement(value):
    """Other entitlements, and names that would forge a path, give no group path."""
    assert group_path(value) is None


def test_group_paths_in_order_once():
    """Paths keep the entitlements' order, each once, the others left out."""
    assert group_paths([entitlement("b"), "junk", entitlement("a", "vm_operator"),
                        entitlement("b")]) == ("/b", "/a/Role=vm_operator")


def claims(**override):
    return {"iss": ISSUER.url, "sub": "u@egi.eu", "exp": T + 60, **override}


def test_claims_within_the_skew():
    """exp may have passed, and nbf/iat may lie ahead, by less than the VOMS skew."""
    skew = SKEW.total_seconds()
    verified = check_claims(claims(exp=T - skew + 1, nbf=T + skew - 1, iat=T + skew - 1), ISSUER, NOW)
    assert verified.not_after == datetime.fromtimestamp(T + 1, UTC)


@pytest.mark.parametrize(("override", "rule"), [
    ({"exp": T - SKEW.total_seconds()}, "T6"),
    ({"exp": None}, "T6"),
    ({"nbf": T + SKEW.total_seconds() + 1}, "T7"),
    ({"iat": T + SKEW.total_seconds() + 1}, "T7"),
    ({"sub": ""}, "T9"),
    ({"sub": None}, "T9"),
    ({"sub": "x" * 256}, "T9"),
    ({"iss": ISSUER.url + "/"}, "T3"),
    ({"exp": "tomorrow"}, "T1"),
    ({"exp": 10 ** 20}, "T1"),
    ({"exp": True}, "T1"),
    ({"exp": float("nan")}, "T1"),
    ({"nbf": float("inf")}, "T1"),
])
def test_claims_refused(override, rule):
    """Each claims rule refuses its case with its id."""
    values = {k: v for k, v in claims(**override).items() if v is not None}
    with pytest.raises(TokenRejected) as e:
        check_claims(values, ISSUER, NOW)
    assert e.value.rule == rule


def test_read_refuses_garbage():
    """T1: what is no JWT is refused with a reason, never an exception of the parser."""
    oidc = OidcConfig(issuers=(ISSUER,))
    for token in ("a.b.c", "e30.e30.", "W10.W10.sig", "x" * 50):
        with pytest.raises(TokenRejected) as e:
            read(token, oidc)
        assert e.value.rule in ("T1", "T2")
    assert not is_jwt("opaque token") and is_jwt("a.b.c")


def test_key_set_keeps_public_signing_keys():
    """T4: only asymmetric public signing keys are kept, by kid."""
    good = new_key()
    private = new_key().as_dict(private=True)
    document = {"keys": [
        dict(good.as_dict(private=False), use="sig"),
        dict(new_key().as_dict(private=False), use="enc"),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        private,
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "junk",
    ]}
    keys = key_set(document)
    assert list(keys.keys) == [good.kid]
    assert keys.find(good.kid) is not None and keys.find("hmac") is None
    assert keys.find(None) is not None  # the only key
    with pytest.raises(ValueError):
        key_set({"keys": "none"})


def test_discovery_names_the_configured_issuer():
    """The discovery document must name the issuer exactly, and its endpoints share its scheme."""
    issuer = Issuer(ISSUER.url)
    found = endpoints(issuer.documents(), ISSUER)
    assert found.jwks_uri == ISSUER.url + "/jwks"
    with pytest.raises(ValueError):
        endpoints(dict(issuer.documents(), issuer=ISSUER.url + "/"), ISSUER)
    with pytest.raises(ValueError):
        endpoints(dict(issuer.documents(), jwks_uri="file:///etc/passwd"), ISSUER)
    assert endpoints(dict(issuer.documents(), userinfo_endpoint="file:///x"), ISSUER).userinfo is None


def test_userinfo_must_name_the_subject():
    """T10: userinfo about another subject is refused."""
    verified = check_claims(claims(), ISSUER, NOW)
    assert userinfo_entitlements({"sub": "u@egi.eu", "eduperson_entitlement": "e"}, verified) == ("e",)
    with pytest.raises(TokenRejected) as e:
        userinfo_entitlements({"sub": "other", "eduperson_entitlement": ["e"]}, verified)
    assert e.value.rule == "T10"


def test_introspection_must_be_active():
    """T10: an inactive answer is refused; an active one passes the claims rules."""
    with pytest.raises(TokenRejected) as e:
        introspected({"active": False}, ISSUER, NOW)
    assert e.value.rule == "T10"
    assert introspected({"active": True, "sub": "s", "exp": T + 60}, ISSUER, NOW).sub == "s"
    with pytest.raises(TokenRejected):
        introspected({"active": True, "sub": "s", "exp": T - 3600}, ISSUER, NOW)


def test_token_principal_and_its_tags():
    """
    A token principal: FQANs from entitlements, its own identity tag, no DN
    tag; the FQAN tag is the entitlement of the account's VO.
    """
    verified = check_claims(claims(), ISSUER, NOW)
    principal = token_principal(verified, [entitlement("ops", "vm_operator"), entitlement("dteam")])
    assert principal.fqans == ("/ops/Role=vm_operator", "/dteam")
    assert principal.vo == "ops"
    assert principal.not_after == datetime.fromtimestamp(T + 60, UTC) + SKEW
    assert not principal.expired(NOW + timedelta(seconds=60))
    made = tags.owner_tags(principal, make_binding(vo="ops"))
    assert made == {tags.OWNER_TAG: principal.owner, tags.VO_TAG: "ops",
                    tags.SUBJECT_TAG: f"{ISSUER.url} u@egi.eu", tags.FQAN_TAG: "/ops/Role=vm_operator"}
    assert tags.ownership({**made, "Name": "x"}) == made
    by_dteam = tags.owner_tags(principal, make_binding(vo="dteam"))
    assert (by_dteam[tags.VO_TAG], by_dteam[tags.FQAN_TAG]) == ("dteam", "/dteam")
