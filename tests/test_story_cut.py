# -*- test-case-name: tests.test_story_cut -*-
"""
Issue 17, point 6: a create whose answer is lost tells the truth.  The real
daemon over TLS reaches moto through L{tests.cutproxy.CutProxy}, which
loses the answer of a RunInstances or CreateVolume after moto acted on it
("cut"), or closes the connection before forwarding it ("refuse").

  - cut: the compute launched, so the create answers 201 with its
    Location; moto holds exactly one new instance and no launch key pair;
    a keyed create's retry answers the same compute; a cut CreateVolume
    answers 201 with the one volume made;
  - refused: nothing launched, so a clean 503, no instance, no key pair;
  - cut, and the lookup refused too: 503 saying the compute may still
    launch and how to retry safely; the retry with the same
    C{Idempotency-Key} answers the compute that did launch.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.cutproxy import CutProxy
from tests.daemon import Daemon, curl, started
from tests.motoserver import DEBIAN
from tests.test_story import (
    INFRA,
    OS_TPL_SCHEME,
    SSH_KEY_SCHEME,
    STORY_MARKS,
    TEXT,
    create_compute,
    created,
    ec2_client,
    own_account,
    post_text,
    ssh_public_key,
)

pytestmark = STORY_MARKS

#: The moto account of this module alone.
ACCOUNT = "171717171718"

ACCOUNTS = own_account(ACCOUNT)

SSH_KEY = (f'Category: ssh_key; scheme="{SSH_KEY_SCHEME}"; class="mixin"',)


@pytest.fixture(scope="module")
def ec2(moto_server):
    """boto3 in this module's moto account, straight to moto."""
    return ec2_client(moto_server.endpoint, ACCOUNT)


@pytest.fixture(scope="module")
def cutter(moto_server):
    """The proxy between the daemon and moto."""
    proxy = CutProxy(moto_server.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture
def rules(cutter):
    """The proxy's rules, cleared after each test."""
    yield cutter
    cutter.rules.clear()
    cutter.after_cut.clear()


@pytest.fixture(scope="module")
def daemon(pki, cutter, tmp_path_factory):
    """One daemon reaching moto through the proxy."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, cutter.endpoint,
                    accounts=ACCOUNTS, aws="network_create = true")
    yield from started(daemon)


def live(ec2) -> set[str]:
    """The ids of the instances moto holds that are not terminated."""
    return {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"] if i["State"]["Name"] not in ("shutting-down", "terminated")}


def launch_keys(ec2) -> set[str]:
    """The temporary launch key pairs moto holds."""
    return {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]
            if k["KeyName"].startswith("occid-launch-")}


def compute_body(*extra: str) -> str:
    """A Debian compute with an SSH key (so the create imports a launch key pair)."""
    return "\n".join((
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"', *SSH_KEY,
        f'X-OCCI-Attribute: occi.credentials.ssh.publickey="{ssh_public_key()}"', *extra))


def post_compute(daemon, proxy, key: str | None = None, body: str | None = None):
    """POST a compute create, with the C{Idempotency-Key} C{key} when given."""
    headers = ("-H", f"Idempotency-Key: {key}") if key else ()
    return curl(daemon, proxy, "/compute/", "-X", "POST", *TEXT, *headers,
                "--data-binary", body or compute_body())


def test_cut_after_launch_is_201(daemon, proxy, ec2, rules):
    """moto launched, occid lost the answer: 201 with the one compute, no key pair left."""
    create_compute(daemon, proxy, "warm-up")  # the security group, catalogue, etc.
    before = live(ec2)
    rules.rules["RunInstances"] = "cut"
    answer = post_compute(daemon, proxy)
    path = created(answer, daemon, "compute")
    assert rules.seen["RunInstances"] >= 1
    assert live(ec2) - before == {path.rsplit("/", 1)[1]}
    assert launch_keys(ec2) == set()


def test_cut_keyed_create_and_its_retry(daemon, proxy, ec2, rules):
    """A keyed create cut after the launch: 201; its retry answers the same compute."""
    before = live(ec2)
    key = str(uuid.uuid4())
    body = compute_body()
    rules.rules["RunInstances"] = "cut"
    first = created(post_compute(daemon, proxy, key, body), daemon, "compute")
    rules.rules.clear()
    again = post_compute(daemon, proxy, key, body)
    assert again.status in (200, 201), again.body
    assert again.header("Location").endswith(first)
    assert live(ec2) - before == {first.rsplit("/", 1)[1]}
    assert launch_keys(ec2) == set()


def test_refused_before_launch_is_503_and_leaves_nothing(daemon, proxy, ec2, rules):
    """RunInstances never reached moto: a clean 503, no instance, no launch key pair."""
    before = live(ec2)
    rules.rules["RunInstances"] = "refuse"
    started = time.monotonic()
    answer = post_compute(daemon, proxy)
    assert answer.status == 503, answer.body
    assert "EC2 cannot be reached" in answer.body
    assert answer.header("Retry-After")
    assert time.monotonic() - started < 30
    assert live(ec2) == before
    assert launch_keys(ec2) == set()


@pytest.mark.parametrize("keyed", [False, True])
def test_unknown_outcome_says_so(daemon, proxy, ec2, rules, keyed):
    """
    The answer lost and the lookup refused: 503 saying the compute may still
    launch and how to retry; no key pair left.  Keyed, the retry (EC2
    reachable again) answers the compute that launched, and launches no other.
    """
    before = live(ec2)
    key = str(uuid.uuid4()) if keyed else None
    body = compute_body()
    rules.rules["RunInstances"] = "cut"
    rules.after_cut["DescribeInstances"] = "refuse"
    answer = post_compute(daemon, proxy, key, body)
    assert answer.status == 503, answer.body
    assert "may still appear" in answer.body
    if keyed:
        assert "a retry with the same Idempotency-Key is safe" in answer.body
    else:
        assert "sending an Idempotency-Key header with a create makes its retries safe" \
            in answer.body
    [launched] = live(ec2) - before
    assert launch_keys(ec2) == set()
    rules.rules.clear()
    if keyed:
        again = created(post_compute(daemon, proxy, key, body), daemon, "compute")
        assert again.endswith(launched)
        assert live(ec2) - before == {launched}


def test_cut_volume_create_is_201(daemon, proxy, ec2, rules):
    """CreateVolume acted on, its answer lost: 201 with the one volume made."""
    before = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    rules.rules["CreateVolume"] = "cut"
    path = created(post_text(daemon, proxy, "/storage/", "\n".join((
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        "X-OCCI-Attribute: occi.storage.size=1"))), daemon, "storage")
    after = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert after - before == {path.rsplit("/", 1)[1]}


def test_cut_network_create_is_201(daemon, proxy, ec2, rules):
    """CreateVpc acted on, its answer lost: 201 with the one VPC, its subnet made."""
    before = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    rules.rules["CreateVpc"] = "cut"
    path = created(post_text(daemon, proxy, "/network/", "\n".join((
        f'Category: network; scheme="{INFRA}"; class="kind"',
        'Category: ipnetwork; scheme="http://schemas.ogf.org/occi/infrastructure/network#"; '
        'class="mixin"', 'X-OCCI-Attribute: occi.network.address="10.77.0.0/16"'))),
        daemon, "network")
    [vpc_id] = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} - before
    assert path.endswith(vpc_id)
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
