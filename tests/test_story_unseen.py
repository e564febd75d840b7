# -*- test-case-name: tests.test_story_unseen -*-
"""
Issue 17, points 8 and 4: what a user cannot see reads the same, and a
listing survives one resource occid cannot read.  The real daemon over TLS,
curl presenting C{voms-proxy-fake} proxies of two members of one VO under
C{visibility = "owner"}, moto EC2 in an account of this module's own.

  - Bob's 404 for Alice's compute, volume, snapshot or link is the 404 for
    a made-up id of the same kind, byte for byte apart from the id, C{Date}
    and a request id; a made-up network reads the same way.
  - A compute and a volume given tags occid never writes (straight through
    boto3) are left out of the listings, which answer 200 with the others
    and log one warning naming the EC2 id; reading one of them is a 502
    naming it, not a 500.
"""

from __future__ import annotations

import re

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, started
from tests.test_story import (
    INFRA,
    STORY_MARKS,
    TEXT,
    create_compute,
    created,
    ec2_client,
    own_account,
    post_text,
)

pytestmark = STORY_MARKS

#: The moto account of this module alone.
ACCOUNT = "171717171717"

ACCOUNTS = own_account(ACCOUNT, 'visibility = "owner"')

MEMBERS = {
    "alice": "/DC=org/DC=example/OU=Users/CN=Alice Unseen",
    "bob": "/DC=org/DC=example/OU=Users/CN=Bob Unseen",
}

STORAGE_ACTION = "http://schemas.ogf.org/occi/infrastructure/storage/action#"

#: Ids of each kind's shape that no EC2 resource has.
MADE_UP = {
    "compute": "i-0123456789abcdef0",
    "storage": "vol-0123456789abcdef0",
    "snapshot": "snap-0123456789abcdef0",
    "network": "vpc-0123456789abcdef0",
}

#: Accept headers: the text rendering and the JSON one.
ACCEPTS = ("text/plain", "application/occi+json")


@pytest.fixture(scope="module")
def ec2(moto_server):
    """boto3 in this module's moto account."""
    return ec2_client(moto_server.endpoint, ACCOUNT)


@pytest.fixture(scope="module")
def members(pki, tmp_path_factory):
    """voms-proxy-fake proxies of Alice and Bob, both plain members of testvo."""
    out = tmp_path_factory.mktemp("members")
    made = {}
    for name, dn in MEMBERS.items():
        cert, key = str(out / f"{name}-cert.pem"), str(out / f"{name}-key.pem")
        pki.issue_user(dn).write_pair(cert, key)
        made[name] = gridtools.voms_proxy_fake(
            pki, str(out / f"{name}.pem"), vo="testvo", fqans=["/testvo"], cert=cert, key=key)
    return made


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon serving testvo from this module's account, owner visibility."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS)
    yield from started(daemon)


@pytest.fixture(scope="module")
def alices(daemon, members):
    """Alice's compute, volume, snapshot and the compute's first link: their paths."""
    alice = members["alice"]
    compute = create_compute(daemon, alice, "alice's")
    storage = created(post_text(daemon, alice, "/storage/", "\n".join((
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        "X-OCCI-Attribute: occi.storage.size=1"))), daemon, "storage")
    snapshot = created(post_text(
        daemon, alice, f"{storage}?action=snapshot",
        f'Category: snapshot; scheme="{STORAGE_ACTION}"; class="action"'), daemon, "snapshot")
    rendering = curl(daemon, alice, compute, "-H", "Accept: text/plain")
    assert rendering.status == 200, rendering.body
    link = re.search(r'self="([^"]*/link/networkinterface/[^"]+)"', rendering.body).group(1)
    return {"compute": compute, "storage": storage, "snapshot": snapshot,
            "networkinterface": link[link.index("/link/"):]}


def normalised(answer, id: str) -> tuple[int, list[str], str]:
    """Status, header lines and body of C{answer} with C{id} and what varies taken out."""
    headers = sorted(
        line.replace(id, "<id>") for line in answer.headers.splitlines()[1:]
        if line.strip() and not re.match(r"(?i)(date|[\w-]*request-id)\s*:", line))
    return answer.status, headers, answer.body.replace(id, "<id>")


@pytest.mark.parametrize("kind", ["compute", "storage", "snapshot", "networkinterface"])
@pytest.mark.parametrize("accept", ACCEPTS)
def test_foreign_and_made_up_read_alike(daemon, members, alices, kind, accept):
    """Bob's 404 for Alice's entity equals his 404 for a made-up id but for the id."""
    path = alices[kind]
    foreign_id = path.rstrip("/").rsplit("/", 1)[1]
    if kind == "networkinterface":
        made_up_id = f"{MADE_UP['compute']}_eni-0123456789abcdef0"
    else:
        made_up_id = MADE_UP[kind]
    made_up_path = path[:-len(foreign_id)] + made_up_id
    bob = members["bob"]
    foreign = curl(daemon, bob, path, "-H", f"Accept: {accept}")
    made_up = curl(daemon, bob, made_up_path, "-H", f"Accept: {accept}")
    assert foreign.status == 404, foreign.body
    assert foreign_id in foreign.body
    assert normalised(foreign, foreign_id) == normalised(made_up, made_up_id)
    # Alice, the owner, still reads hers.
    assert curl(daemon, members["alice"], path, "-H", f"Accept: {accept}").status == 200


def test_made_up_network(daemon, members):
    """A made-up VPC id reads like any other 404, not as EC2's NotFound code."""
    answer = curl(daemon, members["bob"], f"/network/{MADE_UP['network']}", *TEXT)
    assert answer.status == 404
    assert f"no network {MADE_UP['network']} here" in answer.body
    assert "NotFound" not in answer.body


# -- a listing survives one unreadable resource --------------------------------


def test_listing_skips_an_unreadable_resource(daemon, members, ec2):
    """
    A compute and a volume whose Name tag holds a control character
    (written with boto3: occid never writes one) are left out of Bob's
    listings with one warning each; the others are listed, and reading
    one of the two is a 502 naming it.
    """
    bob = members["bob"]
    lines = (f'Category: storage; scheme="{INFRA}"; class="kind"',
             "X-OCCI-Attribute: occi.storage.size=1")
    paths = {
        "compute": [create_compute(daemon, bob, f"bob's {n}") for n in range(2)],
        "storage": [created(post_text(daemon, bob, "/storage/", "\n".join(lines)),
                            daemon, "storage") for _ in range(2)],
    }
    mark = daemon.log_mark()
    for kind, (good, bad) in paths.items():
        good_id, bad_id = good.rsplit("/", 1)[1], bad.rsplit("/", 1)[1]
        ec2.create_tags(Resources=[bad_id], Tags=[{"Key": "Name", "Value": "bad\x01name"}])
        for accept in ("text/uri-list", "text/plain", "application/occi+json"):
            listing = curl(daemon, bob, f"/{kind}/", "-H", f"Accept: {accept}")
            assert listing.status == 200, listing.body
            assert good_id in listing.body and bad_id not in listing.body
        one = curl(daemon, bob, bad, *TEXT)
        assert one.status == 502, one.body
        assert f"EC2 holds {kind} {bad_id}, but occid cannot read it" in one.body
        assert "'Name'" in one.body
        assert curl(daemon, bob, good, *TEXT).status == 200
        warnings = [line for line in daemon.log(mark).splitlines()
                    if f"{kind} {bad_id} of account testvo" in line
                    and "left out of a listing" in line]
        assert len(warnings) == 3, daemon.log(mark)
        assert "Traceback" not in daemon.log(mark)
        # Once the tag is corrected, it is listed again.
        ec2.create_tags(Resources=[bad_id], Tags=[{"Key": "Name", "Value": "mended"}])
        listing = curl(daemon, bob, f"/{kind}/", "-H", "Accept: text/uri-list")
        assert bad_id in listing.body
