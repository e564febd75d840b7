"""
Issue 13, done when: EGI Check-in tokens beside proxies, end to end.  The
real daemon over TLS, an OIDC issuer served over HTTP on 127.0.0.1 by the
test process (L{tests.issuer}), curl presenting no client certificate but
a token, and a moto EC2 server in an account of this module's own.

  - The VO member's story (create, describe, stop, delete) with
    C{Authorization: Bearer}, and with a request shaped like rOCCI-cli's
    C{--auth token} (C{X-Auth-Token}, its User-Agent, Accept and
    Content-Type), each in the VO's account.
  - Two token users of one VO see only their own computes under
    C{visibility = "owner"}; a manager entitlement sees both; a token user
    and a proxy user of the VO are isolated from each other.
  - Hostile tokens over TLS: refused with the reason in the RFC 6750
    challenge; a 100 KB token is a 431; neither credential is a 401 naming
    both ways.
"""

from __future__ import annotations

import time

import pytest

from occid.demo.issuer import entitlement
from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.issuer import serving_issuer
from tests.motoserver import DEBIAN
from tests.test_rocci_tls_json import USER_AGENT
from tests.test_story import (
    INFRA,
    OS_TPL_SCHEME,
    TEXT,
    action,
    created,
    ec2_client,
    ec2_state,
    state,
)

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

#: The moto account of this module alone.
ACCOUNT = "777777777777"

MEMBER = entitlement("testvo", "vm_operator")
MANAGER = entitlement("testvo", "VMManager")

#: rOCCI-cli 4.3's headers with --auth token (its token plugin sends X-Auth-Token).
ROCCI = ("-H", f"User-Agent: {USER_AGENT}", "-H", "Accept: text/plain,text/occi",
         "-H", "Content-Type: text/plain,text/occi")


@pytest.fixture(scope="module")
def issuer():
    """The module's issuer, served over HTTP on 127.0.0.1, with its users' entitlements."""
    with serving_issuer() as (issuer, _):
        issuer.users.update({"alice@egi.eu": (MEMBER,), "bob@egi.eu": (MEMBER,),
                             "carol@egi.eu": (MEMBER, MANAGER)})
        yield issuer


@pytest.fixture(scope="module")
def ec2(moto_server):
    """boto3 in this module's moto account."""
    return ec2_client(moto_server.endpoint, ACCOUNT)


@pytest.fixture(scope="module")
def daemon(pki, moto_server, issuer, tmp_path_factory):
    """One daemon taking proxies and the issuer's tokens for testvo."""
    accounts = f"""
[[accounts]]
name = "testvo"
fqans = ["/testvo"]
role_arn = "arn:aws:iam::{ACCOUNT}:role/occid"
visibility = "owner"
manager_fqans = ["/testvo/Role=VMManager"]

[oidc]
[[oidc.issuers]]
url = "{issuer.url}"
"""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=accounts)
    yield from started(daemon)


def bearer(token: str) -> tuple[str, str]:
    return ("-H", f"Authorization: Bearer {token}")


def create(daemon, title: str, *credentials: str) -> str:
    """Create a Debian compute in text/plain with C{credentials} (curl arguments); its path."""
    body = "\n".join([f'Category: compute; scheme="{INFRA}"; class="kind"',
                      f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
                      f'X-OCCI-Attribute: occi.core.title="{title}"'])
    return created(curl(daemon, None, "/compute/", "-X", "POST", *credentials,
                        "--data-binary", body), daemon, "compute")


def listed(daemon, proxy, *credentials: str) -> set[str]:
    """The compute paths a user lists (text/uri-list)."""
    result = curl(daemon, proxy, "/compute/", "-H", "Accept: text/uri-list", *credentials)
    assert result.status == 200, result.body
    return {url[len(daemon.url):] for url in result.body.split()}


def story(daemon, ec2, issuer, sub: str, credentials) -> None:
    """Create, describe, stop and delete a compute with a token of C{sub}; check its tags."""
    compute = create(daemon, f"vm-of-{sub}", *credentials)
    instance_id = compute.rsplit("/", 1)[1]
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
    assert tags["occid:owner"] == owner_hash(f"oidc:{issuer.url}\n{sub}")
    assert tags["occid:oidc"] == f"{issuer.url} {sub}"
    assert tags["occid:vo"] == "testvo" and "occid:dn" not in tags

    described = curl(daemon, None, compute, *credentials)
    assert described.status == 200, described.body
    assert state(described.body) == "active"
    stopped = curl(daemon, None, f"{compute}?action=stop", "-X", "POST", *credentials,
                   "--data-binary", action("stop"))
    assert stopped.status == 200, stopped.body
    assert ec2_state(ec2, instance_id) == "stopped"
    deleted = curl(daemon, None, compute, "-X", "DELETE", *credentials)
    assert deleted.status == 200, deleted.body
    assert curl(daemon, None, compute, *credentials).status == 404


def test_bearer_member_story(daemon, ec2, issuer):
    """curl with Authorization: Bearer and no certificate runs the member's story in testvo."""
    story(daemon, ec2, issuer, "alice@egi.eu", (*bearer(issuer.mint("alice@egi.eu")), *TEXT))


def test_rocci_token_member_story(daemon, ec2, issuer):
    """A request shaped like rOCCI-cli's --auth token (X-Auth-Token) runs the same story."""
    token = issuer.mint("bob@egi.eu")
    story(daemon, ec2, issuer, "bob@egi.eu", ("-H", f"X-Auth-Token: {token}", *ROCCI))


def test_token_users_owner_visibility_and_manager(daemon, issuer, proxy):
    """
    Two token users of testvo see only their own computes; the manager
    entitlement sees both; a proxy user of testvo and the token users do
    not see each other's.
    """
    alice, bob = bearer(issuer.mint("alice@egi.eu")), bearer(issuer.mint("bob@egi.eu"))
    carol = bearer(issuer.mint("carol@egi.eu"))
    mine = {name: create(daemon, f"shared-{name}", *credentials, *TEXT)
            for name, credentials in (("alice", alice), ("bob", bob))}
    by_proxy = created(curl(daemon, proxy, "/compute/", "-X", "POST", *TEXT, "--data-binary", "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"'])), daemon, "compute")
    assert listed(daemon, None, *alice) == {mine["alice"]}
    assert listed(daemon, None, *bob) == {mine["bob"]}
    assert curl(daemon, None, mine["bob"], *alice).status == 404
    assert {mine["alice"], mine["bob"], by_proxy} <= listed(daemon, None, *carol)
    assert by_proxy in listed(daemon, proxy) and not set(mine.values()) & listed(daemon, proxy)
    assert curl(daemon, proxy, mine["alice"]).status == 404
    assert curl(daemon, None, by_proxy, *alice).status == 404
    for path, credentials in ((mine["alice"], alice), (mine["bob"], bob), (by_proxy, ())):
        owner = proxy if not credentials else None
        assert curl(daemon, owner, path, "-X", "DELETE", *credentials).status == 200


def test_certificate_wins_over_a_token(daemon, issuer, proxy):
    """With a valid proxy and a token, the proxy user is served (the token is not read)."""
    made = created(curl(daemon, proxy, "/compute/", "-X", "POST", *TEXT, "--data-binary", "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"'])), daemon, "compute")
    both = listed(daemon, proxy, *bearer(issuer.mint("alice@egi.eu")))
    assert made in both
    assert curl(daemon, proxy, made, "-X", "DELETE").status == 200


def test_no_credentials_over_tls(daemon):
    """Neither certificate nor token: 401 with both challenges."""
    answer = curl(daemon, None, "/-/")
    assert answer.status == 401
    assert 'Bearer realm="occid"' in answer.headers and 'X509 realm="occid"' in answer.headers
    assert "--auth token" in answer.body


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": int(time.time()) - 7200}, "expired"),
    ({"iss": "https://aai.egi.eu/auth/realms/egi"}, "wrong issuer"),
    ({"nbf": int(time.time()) + 7200}, "not yet valid"),
])
def test_hostile_tokens_over_tls(daemon, issuer, claims, reason):
    """A refused token gets 401 with error="invalid_token" and its reason; the log names the sub."""
    mark = daemon.log_mark()
    token = issuer.mint("alice@egi.eu", **claims)
    answer = curl(daemon, None, "/compute/", *bearer(token))
    assert answer.status == 401, answer.body
    challenge = [line for line in answer.headers.splitlines() if "invalid_token" in line]
    assert challenge and reason in challenge[0]
    assert reason in answer.body
    logged = daemon.log(mark)
    assert "Refused a token of " in logged and token not in logged


def test_huge_token_is_431(daemon):
    """A token of 100 KB is over the header line limit: 431, never a reset or a 500."""
    answer = curl(daemon, None, "/-/", *bearer("a" * 100_000))
    assert answer.status == 431, (answer.exit_code, answer.body)


def test_vo_without_account_over_tls(daemon, issuer):
    """Entitlements of a VO with no account: 403 naming it."""
    token = issuer.mint("zed@egi.eu", entitlements=[entitlement("nowhere.eu", "vm_operator")])
    answer = curl(daemon, None, "/-/", *bearer(token))
    assert answer.status == 403
    assert "nowhere.eu" in answer.body
