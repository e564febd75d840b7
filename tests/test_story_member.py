# -*- test-case-name: tests.test_story_member -*-
"""
Issue 11, done when: the VO member's whole story leaves nothing that bills.
The real daemon over TLS, curl presenting a C{voms-proxy-fake} proxy, a moto
EC2 server in an account of this module's own, so that "nothing" is
everything EC2 holds there, not only what a tag filter finds.

The member makes a network, a compute in it with an SSH key and a public
address, saves the compute as an image, launches from that image, takes a
snapshot of a volume and restores it into another, then deletes all of it
through occid.  Afterwards the account holds what it held before (moto's
own images and their snapshots): no live instance, volume, snapshot, image,
elastic IP, key pair, VPC, route table or internet gateway of occid's, and
no new security group but C{occid-ssh} of the default VPC.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.daemon import Daemon, curl, started
from tests.test_story import (
    INFRA,
    OS_TPL_SCHEME,
    SSH_KEY_SCHEME,
    STORY_MARKS,
    TEXT,
    action,
    created,
    ec2_client,
    own_account,
    post_text,
    ssh_public_key,
)
from tests.test_story_snapshots import VOLUME_SCHEME

pytestmark = STORY_MARKS

#: The moto account of this module alone.
ACCOUNT = "666666666666"

ACCOUNTS = own_account(ACCOUNT)

IPNETWORK = "http://schemas.ogf.org/occi/infrastructure/network#"
STORAGE_ACTION = "http://schemas.ogf.org/occi/infrastructure/storage/action#"


@pytest.fixture(scope="module")
def ec2(moto_server):
    """boto3 in this module's moto account."""
    return ec2_client(moto_server.endpoint, ACCOUNT)


@pytest.fixture(scope="module")
def daemon(pki, moto_server, tmp_path_factory):
    """One daemon letting members create and delete networks."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS, aws="network_create = true\nnetwork_delete = true")
    yield from started(daemon)


def make(daemon, proxy, collection: str, *lines: str) -> str:
    """POST the text/plain C{lines} to C{/collection/}; the created path."""
    return created(post_text(daemon, proxy, f"/{collection}/", "\n".join(lines)),
                   daemon, collection)


def compute_lines(image: str, network: str) -> tuple[str, ...]:
    """A compute of C{image} with an SSH key, in C{network}, with a public address."""
    return (f'Category: compute; scheme="{INFRA}"; class="kind"',
            f'Category: {image}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
            f'Category: ssh_key; scheme="{SSH_KEY_SCHEME}"; class="mixin"',
            f'X-OCCI-Attribute: occi.credentials.ssh.publickey="{ssh_public_key()}"',
            f'Link: <{network}>; rel="{INFRA}network"; category="{INFRA}networkinterface"',
            f'Link: </network/public>; rel="{INFRA}network"; '
            f'category="{INFRA}networkinterface"')


def storage_lines(*lines: str) -> tuple[str, ...]:
    """A 1 GiB storage with the extra C{lines}."""
    return (f'Category: storage; scheme="{INFRA}"; class="kind"',
            "X-OCCI-Attribute: occi.storage.size=1", *lines)


def wait_for_address(ec2, instance_id: str, timeout: float = 30.0) -> None:
    """Wait until the inline public link has given C{instance_id} an elastic IP."""
    deadline = time.monotonic() + timeout
    where = [{"Name": "instance-id", "Values": [instance_id]}]
    while not ec2.describe_addresses(Filters=where)["Addresses"]:
        assert time.monotonic() < deadline, f"{instance_id} got no elastic IP"
        time.sleep(0.3)


def delete(daemon, proxy, path: str) -> None:
    """DELETE C{path}; it must answer 200."""
    answer = curl(daemon, proxy, path, "-X", "DELETE", *TEXT)
    assert answer.status == 200, (path, answer.body)


def holdings(ec2) -> dict[str, set]:
    """
    What the account holds that bills or that occid makes: live instances,
    volumes, snapshots and images of its own, elastic IPs, key pairs, VPCs,
    route tables, internet gateways and security groups.
    """
    def ids(answer: dict, key: str, id: str) -> set:
        return {item[id] for item in answer[key]}

    instances = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                 for i in r["Instances"] if i["State"]["Name"] != "terminated"}
    return {
        "instances": instances,
        "volumes": ids(ec2.describe_volumes(), "Volumes", "VolumeId"),
        "snapshots": ids(ec2.describe_snapshots(OwnerIds=["self"]), "Snapshots", "SnapshotId"),
        "images": ids(ec2.describe_images(Owners=["self"]), "Images", "ImageId"),
        "addresses": ids(ec2.describe_addresses(), "Addresses", "AllocationId"),
        "key pairs": ids(ec2.describe_key_pairs(), "KeyPairs", "KeyName"),
        "vpcs": ids(ec2.describe_vpcs(), "Vpcs", "VpcId"),
        "route tables": ids(ec2.describe_route_tables(), "RouteTables", "RouteTableId"),
        "gateways": ids(ec2.describe_internet_gateways(), "InternetGateways",
                        "InternetGatewayId"),
        "groups": {(g["GroupName"], g["VpcId"])
                   for g in ec2.describe_security_groups()["SecurityGroups"]},
    }


def test_member_story_leaves_nothing(daemon, proxy, ec2):
    """Every step answers as documented; afterwards EC2 holds what it held before."""
    before = holdings(ec2)
    assert not before["instances"] | before["volumes"] | before["addresses"], before
    network = make(daemon, proxy, "network",
                   f'Category: network; scheme="{INFRA}"; class="kind"',
                   f'Category: ipnetwork; scheme="{IPNETWORK}"; class="mixin"',
                   'X-OCCI-Attribute: occi.network.address="10.42.0.0/16"')
    vpc_id = network.rsplit("/", 1)[1]
    first = make(daemon, proxy, "compute", *compute_lines(
        "ami-0a1b2c3d4e5f60001", network))
    wait_for_address(ec2, first.rsplit("/", 1)[1])

    saved = post_text(daemon, proxy, f"{first}?action=save",
                      f'{action("save")}\nX-OCCI-Attribute: name="member-golden"')
    assert saved.status == 200, saved.body
    ami = re.search(r"Category: (ami-[0-9a-f]+);", saved.body).group(1)
    second = make(daemon, proxy, "compute", *compute_lines(ami, network))
    wait_for_address(ec2, second.rsplit("/", 1)[1])
    [instance] = ec2.describe_instances(
        InstanceIds=[second.rsplit("/", 1)[1]])["Reservations"][0]["Instances"]
    assert (instance["ImageId"], instance["VpcId"]) == (ami, vpc_id)

    volume = make(daemon, proxy, "storage", *storage_lines())
    snapshot = created(post_text(
        daemon, proxy, f"{volume}?action=snapshot",
        f'Category: snapshot; scheme="{STORAGE_ACTION}"; class="action"'), daemon, "snapshot")
    restored = make(daemon, proxy, "storage", *storage_lines(
        f'Category: aws_ec2_ebs_volume; scheme="{VOLUME_SCHEME}"; class="mixin"',
        f'X-OCCI-Attribute: com.amazon.aws.ec2.snapshot_id="{snapshot}"'))
    [made] = ec2.describe_volumes(VolumeIds=[restored.rsplit("/", 1)[1]])["Volumes"]
    assert made["SnapshotId"] == snapshot.rsplit("/", 1)[1]

    for path in ("/compute/", "/storage/", snapshot, f"/mixin/os_tpl/{ami}/", network):
        delete(daemon, proxy, path)

    after = holdings(ec2)
    [default_vpc] = before["vpcs"]
    assert after["groups"] - before["groups"] <= {("occid-ssh", default_vpc)}, after["groups"]
    after["groups"] = before["groups"]
    assert after == before
