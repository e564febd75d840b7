# -*- test-case-name: tests.test_story_launch -*-
"""
Issue 11, point 9, end to end: the real daemon over TLS, curl presenting a
C{voms-proxy-fake} proxy, a moto EC2 server.  A create carrying an
C{Idempotency-Key} can be retried: the retry answers 201 with the same
Location and EC2 holds one instance; the same key with another body is
409, a malformed key 400, and a key on a storage create 400.
"""

from __future__ import annotations

import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN
from tests.pki import USER_DN
from tests.test_story import INFRA, OS_TPL_SCHEME, TEXT, created, ours

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OWNER = owner_hash(USER_DN)


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint)
    yield from started(daemon)


def compute_body(title: str) -> str:
    """A text/plain create of a Debian compute titled C{title}."""
    return "\n".join([f'Category: compute; scheme="{INFRA}"; class="kind"',
                      f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
                      f'X-OCCI-Attribute: occi.core.title="{title}"'])


def post_keyed(daemon, proxy, path, body, key):
    """POST a text/plain C{body} to C{path} with C{Idempotency-Key: key} (curl's C{;} form sends it empty)."""
    header = f"Idempotency-Key: {key}" if key else "Idempotency-Key;"
    return curl(daemon, proxy, path, "-X", "POST", *TEXT, "-H", header, "--data-binary", body)


def instances(ec2) -> list[dict]:
    """The instances occid launched for the test user, terminated ones left out."""
    return [i for r in ec2.describe_instances()["Reservations"] for i in ours(r["Instances"], OWNER)
            if i["State"]["Name"] != "terminated"]


def test_retried_create_answers_the_same_compute(daemon, proxy, ec2):
    """
    A POST retried with the same Idempotency-Key and body gets 201 and the
    same Location, and EC2 holds one instance (before: two); the same key
    with another body is 409 naming the key, and launches nothing.
    """
    first = created(post_keyed(daemon, proxy, "/compute/", compute_body("vm1"), "story-1"),
                    daemon, "compute")
    again = created(post_keyed(daemon, proxy, "/compute/", compute_body("vm1"), "story-1"),
                    daemon, "compute")
    assert again == first
    assert [i["InstanceId"] for i in instances(ec2)] == [first.rsplit("/", 1)[-1]]
    tags = {t["Key"]: t["Value"] for t in instances(ec2)[0]["Tags"]}
    assert len(tags["occid:request"]) == 64

    other = post_keyed(daemon, proxy, "/compute/", compute_body("vm2"), "story-1")
    assert other.status == 409, other.body
    assert "Idempotency-Key" in other.body
    assert len(instances(ec2)) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
def test_malformed_key_is_400(daemon, proxy, ec2, key):
    """An empty, too long or non-ASCII key: 400, nothing launched."""
    before = len(instances(ec2))
    answer = post_keyed(daemon, proxy, "/compute/", compute_body("bad"), key)
    assert answer.status == 400, answer.body
    assert "Idempotency-Key" in answer.body
    assert len(instances(ec2)) == before


def test_storage_create_refuses_the_key(daemon, proxy, ec2):
    """A storage create with a key: 400 saying only compute honours it; no volume made."""
    body = "\n".join([f'Category: storage; scheme="{INFRA}"; class="kind"',
                      'X-OCCI-Attribute: occi.storage.size=1'])
    before = ec2.describe_volumes()["Volumes"]
    answer = post_keyed(daemon, proxy, "/storage/", body, "disk-1")
    assert answer.status == 400, answer.body
    assert "not supported for storage" in answer.body
    assert ec2.describe_volumes()["Volumes"] == before
