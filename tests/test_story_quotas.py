# -*- test-case-name: tests.test_story_quotas -*-
"""
Issue 11 point 10, per-account templates and limits, end to end: the real
daemon over TLS, curl presenting C{voms-proxy-fake} proxies, a moto EC2
server with one moto account per VO.

  - testvo limits its instances (C{max_instances}) and each user's vCPUs
    (C{user_max_vcpus}): a create past either, or a resize past the vCPUs,
    is 403 with the figures, and nothing is launched or changed.
  - othervo offers its own images and instance types, and limits each
    user's volume GiB (C{user_max_volume_gib}) on create and resize.
"""

from __future__ import annotations

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import ALMA, DEBIAN
from tests.test_story import (
    INFRA,
    OS_TPL_SCHEME,
    RESOURCE_TPL_SCHEME,
    TEXT,
    created,
    ec2_client,
    pki,
    post_text,
    proxies,
)

__all__ = ["pki", "proxies"]

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

#: The moto accounts of this module (not those of test_story: their counts differ).
TESTVO_ACCOUNT, OTHERVO_ACCOUNT = "333333333333", "444444444444"

ACCOUNTS = f"""
[[accounts]]
name = "testvo"
fqans = ["/testvo"]
role_arn = "arn:aws:iam::{TESTVO_ACCOUNT}:role/occid"
instance_types = ["t3.micro", "t3.xlarge"]
max_instances = 2
user_max_vcpus = 2

[[accounts]]
name = "othervo"
fqans = ["/othervo"]
role_arn = "arn:aws:iam::{OTHERVO_ACCOUNT}:role/occid"
instance_types = ["t3.large"]
default_instance_type = "t3.large"
user_max_volume_gib = 10

[accounts.images]
policy = "listed"
list = ["{ALMA}"]
"""


@pytest.fixture(scope="module")
def clients(moto_server):
    """boto3 clients of this module's two moto accounts."""
    return {"testvo": ec2_client(moto_server.endpoint, TESTVO_ACCOUNT),
            "othervo": ec2_client(moto_server.endpoint, OTHERVO_ACCOUNT)}


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon serving both VOs with their own templates and limits."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS)
    yield from started(daemon)


def create_compute(daemon, proxy, image: str = DEBIAN, *lines: str):
    """POST a compute of C{image} with the extra text/plain C{lines}; the answer."""
    return post_text(daemon, proxy, "/compute/", "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {image}; scheme="{OS_TPL_SCHEME}"; class="mixin"', *lines]))


def create_storage(daemon, proxy, size: int):
    """POST a volume of C{size} GiB; the answer."""
    return post_text(daemon, proxy, "/storage/", "\n".join([
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        f"X-OCCI-Attribute: occi.storage.size={size}"]))


def instances(ec2) -> list[dict]:
    """The instances of an account that are not terminated."""
    return [i for r in ec2.describe_instances(Filters=[{
                "Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
            for i in r["Instances"]]


def test_instance_and_vcpu_limits(daemon, proxies, clients):
    """
    With user_max_vcpus = 2 a member's second t3.micro (2 vCPUs each) is
    refused, and so is growing the first to t3.xlarge (4) once stopped;
    with max_instances = 2 a third member's first create is refused; each
    403 names the limit, the use and the request, and launches or changes
    nothing.  A retry of a create (same Idempotency-Key) is no new
    launch: at the limit it still answers the compute it made.
    """
    ec2 = clients["testvo"]
    body = "\n".join([f'Category: compute; scheme="{INFRA}"; class="kind"',
                      f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"'])
    keyed = ("-X", "POST", *TEXT, "-H", "Idempotency-Key: alice-1", "--data-binary", body)
    first = created(curl(daemon, proxies["alice"], "/compute/", *keyed), daemon, "compute")

    answer = create_compute(daemon, proxies["alice"])
    assert answer.status == 403, answer.body
    assert ("user_max_vcpus of account testvo is 2: 2 in use by you, "
            "this create asks for 2") in answer.body
    assert len(instances(ec2)) == 1
    assert created(curl(daemon, proxies["alice"], "/compute/", *keyed),
                   daemon, "compute") == first
    assert len(instances(ec2)) == 1

    created(create_compute(daemon, proxies["bob"]), daemon, "compute")
    answer = create_compute(daemon, proxies["member"])
    assert answer.status == 403, answer.body
    assert "max_instances of account testvo is 2: 2 in use, this create asks for 1" in answer.body
    assert len(instances(ec2)) == 2

    # A terminated instance no longer counts.
    bob = [i["InstanceId"] for i in instances(ec2)
           if {"Key": "occid:dn", "Value": "/DC=org/DC=example/OU=Users/CN=Bob Member"}
           in i["Tags"]]
    ec2.terminate_instances(InstanceIds=bob)
    created(create_compute(daemon, proxies["member"]), daemon, "compute")

    # A resize asks for the vCPUs the new type adds: t3.micro to t3.xlarge, 2.
    ec2.stop_instances(InstanceIds=[first.rsplit("/", 1)[1]])
    resize = post_text(daemon, proxies["alice"], first, "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: t3_xlarge; scheme="{RESOURCE_TPL_SCHEME}"; class="mixin"']))
    assert resize.status == 403, resize.body
    assert ("user_max_vcpus of account testvo is 2: 2 in use by you, "
            "this resize asks for 2") in resize.body
    assert ec2.describe_instances(InstanceIds=[first.rsplit("/", 1)[1]])[
        "Reservations"][0]["Instances"][0]["InstanceType"] == "t3.micro"


def test_account_templates(daemon, proxies, clients):
    """
    othervo offers its own image and instance type (and makes it the
    default); testvo keeps the global ones.
    """
    other = curl(daemon, proxies["dave"], "/-/", "-H", "Accept: text/plain").body
    mine = curl(daemon, proxies["member"], "/-/", "-H", "Accept: text/plain").body
    assert f'Category: {ALMA}; scheme="{OS_TPL_SCHEME}"' in other
    assert DEBIAN not in other
    assert f'Category: t3_large; scheme="{RESOURCE_TPL_SCHEME}"' in other
    assert "t3_micro" not in other
    assert DEBIAN in mine and ALMA not in mine
    assert "t3_micro" in mine and "t3_large" not in mine

    refused = create_compute(daemon, proxies["dave"], DEBIAN)
    assert refused.status == 400, refused.body
    made = created(create_compute(daemon, proxies["dave"], ALMA), daemon, "compute")
    instance = clients["othervo"].describe_instances(
        InstanceIds=[made.rsplit("/", 1)[1]])["Reservations"][0]["Instances"][0]
    assert (instance["ImageId"], instance["InstanceType"]) == (ALMA, "t3.large")


def test_volume_limit_on_create_and_resize(daemon, proxies, clients):
    """
    With user_max_volume_gib = 10 a user with 6 GiB may not create 5 more,
    nor grow the volume past 10 GiB; another user's root volume counts for
    that user.
    """
    ec2 = clients["othervo"]
    storage = created(create_storage(daemon, proxies["erin"], 6), daemon, "storage")
    before = len(ec2.describe_volumes()["Volumes"])

    answer = create_storage(daemon, proxies["erin"], 5)
    assert answer.status == 403, answer.body
    assert ("user_max_volume_gib of account othervo is 10: 6 in use by you, "
            "this create asks for 5") in answer.body
    assert len(ec2.describe_volumes()["Volumes"]) == before

    grown = post_text(daemon, proxies["erin"], storage, "\n".join([
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        "X-OCCI-Attribute: occi.storage.size=8"]))
    assert grown.status == 200, grown.body
    resize = curl(daemon, proxies["erin"], f"{storage}?action=resize", "-X", "POST", *TEXT,
                  "--data-binary", "\n".join([
                      'Category: resize; scheme="http://schemas.ogf.org/occi/infrastructure/'
                      'storage/action#"; class="action"',
                      "X-OCCI-Attribute: size=12"]))
    assert resize.status == 403, resize.body
    assert ("user_max_volume_gib of account othervo is 10: 8 in use by you, "
            "this resize asks for 4") in resize.body
    volume_id = storage.rsplit("/", 1)[1]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 8

    # dave's compute (test_account_templates) has an 8 GiB root volume: it counts.
    answer = create_storage(daemon, proxies["dave"], 3)
    assert answer.status == 403, answer.body
    assert "8 in use by you, this create asks for 3" in answer.body
    created(create_storage(daemon, proxies["dave"], 2), daemon, "storage")
