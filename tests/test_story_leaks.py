# -*- test-case-name: tests.test_story_leaks -*-
"""
Issue 11, what keeps billing or silently stops, end to end: the real daemon
over TLS, curl presenting a C{voms-proxy-fake} proxy, a moto EC2 server.

  - Deleting a compute (one, or the collection) releases the elastic IPs
    occid allocated for it.
  - A VPC occid creates routes C{0.0.0.0/0} to its internet gateway and maps
    public IPs at launch; deleting it removes every piece, and none while a
    foreign piece lives there.
  - A collection delete tries every entity and answers 409 listing those it
    could not delete, after deleting the others.
  - An inline public link is made within seconds of the instance running,
    and shows no address before.
  - An empty SSH key or user data is refused, not dropped.
"""

from __future__ import annotations

import re
import time

import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN
from tests.pki import USER_DN
from tests.test_story import INFRA, OS_TPL_SCHEME, TEXT, created, links, ours, post_text

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OWNER = owner_hash(USER_DN)
IPNETWORK_SCHEME = "http://schemas.ogf.org/occi/infrastructure/network#"


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module, letting users create and delete VPCs."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    aws="network_create = true\nnetwork_delete = true")
    yield from started(daemon)


def delete(daemon, proxy, path):
    """DELETE C{path}, asking for text/plain."""
    return curl(daemon, proxy, path, "-X", "DELETE", "-H", "Accept: text/plain")


def new_compute(daemon, proxy, *lines) -> str:
    """Create a Debian compute with the extra text/plain C{lines}; its path."""
    body = "\n".join([f'Category: compute; scheme="{INFRA}"; class="kind"',
                      f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"', *lines])
    return created(post_text(daemon, proxy, "/compute/", body), daemon, "compute")


def make_public(daemon, proxy, compute) -> str:
    """Link C{compute} to /network/public; the link's path."""
    return created(post_text(daemon, proxy, "/link/networkinterface/", "\n".join([
        f'Category: networkinterface; scheme="{INFRA}"; class="kind"',
        f'X-OCCI-Attribute: occi.core.source="{compute}"',
        'X-OCCI-Attribute: occi.core.target="/network/public"',
    ])), daemon, "link/networkinterface")


def public_link(daemon, proxy, compute) -> dict[str, str]:
    """The attributes of the compute's link to /network/public, as GET renders them."""
    answer = curl(daemon, proxy, compute, "-H", "Accept: text/plain")
    assert answer.status == 200, answer.body
    return links(answer.body)["/network/public"]


# -- point 1: an empty SSH key or user data is refused, not dropped -------------


@pytest.mark.parametrize(("mixin", "attribute"), [
    ('ssh_key; scheme="http://schemas.ogf.org/occi/infrastructure/credentials#"',
     "occi.credentials.ssh.publickey"),
    ('user_data; scheme="http://schemas.openstack.org/compute/instance#"',
     "org.openstack.compute.user_data"),
])
def test_empty_key_or_user_data_is_refused(daemon, proxy, ec2, mixin, attribute):
    """
    A create whose SSH key or user data is empty answers 400 naming the
    attribute, and launches nothing (before: 201, and a VM without them).
    """
    before = live_instances(ec2)
    answer = post_text(daemon, proxy, "/compute/", "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
        f'Category: {mixin}; class="mixin"',
        f'X-OCCI-Attribute: {attribute}=""',
    ]))
    assert answer.status == 400, answer.body
    assert f"attribute {attribute} is empty" in answer.body
    assert live_instances(ec2) == before


def live_instances(ec2) -> list[str]:
    """The ids of our instances not terminated."""
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"]
    return sorted(i["InstanceId"] for i in ours(instances, OWNER))


# -- point 5: a deleted compute's elastic IPs are released ----------------------


def test_compute_delete_releases_its_elastic_ip(daemon, proxy, ec2):
    """
    Deleting one compute, then the compute collection, leaves none of the
    elastic IPs occid allocated for them (before: they stayed allocated,
    associated to terminated instances).
    """
    single = new_compute(daemon, proxy)
    make_public(daemon, proxy, single)
    assert len(ours(ec2.describe_addresses()["Addresses"], OWNER)) == 1
    assert delete(daemon, proxy, single).status == 200
    assert ours(ec2.describe_addresses()["Addresses"], OWNER) == []

    for _ in range(2):
        make_public(daemon, proxy, new_compute(daemon, proxy))
    assert len(ours(ec2.describe_addresses()["Addresses"], OWNER)) == 2
    answer = delete(daemon, proxy, "/compute/")
    assert answer.status == 200, answer.body
    assert ours(ec2.describe_addresses()["Addresses"], OWNER) == []


# -- point 6: a VPC occid makes reaches the internet, and goes entirely ---------


def new_network(daemon, proxy, address: str) -> str:
    """Create a network (a VPC) over C{address}; its path."""
    return created(post_text(daemon, proxy, "/network/", "\n".join([
        f'Category: network; scheme="{INFRA}"; class="kind"',
        f'Category: ipnetwork; scheme="{IPNETWORK_SCHEME}"; class="mixin"',
        'X-OCCI-Attribute: occi.core.title="lab"',
        f'X-OCCI-Attribute: occi.network.address="{address}"',
    ])), daemon, "network")


def pieces(ec2, vpc_id: str) -> dict[str, list[str]]:
    """The subnets, internet gateways and non-main route tables of C{vpc_id}."""
    where = [{"Name": "vpc-id", "Values": [vpc_id]}]
    return {
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=where)["Subnets"]],
        "gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]],
        "tables": [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=where)[
            "RouteTables"] if not any(a.get("Main") for a in t.get("Associations", ()))],
    }


def test_network_routes_to_its_gateway_and_goes_entirely(daemon, proxy, ec2):
    """
    A created VPC has a route table sending 0.0.0.0/0 to its internet
    gateway, associated with its subnet, which maps public IPs at launch;
    its delete removes route table, gateway, subnet and VPC (before: no
    route, no mapping).
    """
    network = new_network(daemon, proxy, "10.31.0.0/16")
    vpc_id = network.rsplit("/", 1)[1]
    made = pieces(ec2, vpc_id)
    [subnet], [gateway], [table_id] = made["subnets"], made["gateways"], made["tables"]
    [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    routes = {r.get("DestinationCidrBlock"): r.get("GatewayId") for r in table["Routes"]}
    assert routes["0.0.0.0/0"] == gateway
    assert [a["SubnetId"] for a in table["Associations"]] == [subnet]
    [described] = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"]
    assert described["MapPublicIpOnLaunch"] is True

    answer = delete(daemon, proxy, network)
    assert answer.status == 200, answer.body
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    assert table_id not in {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]}
    assert gateway not in {g["InternetGatewayId"]
                           for g in ec2.describe_internet_gateways()["InternetGateways"]}


def test_network_with_a_foreign_route_table_is_kept_whole(daemon, proxy, ec2):
    """A route table occid did not make in the VPC: 409 naming it, and nothing is deleted."""
    network = new_network(daemon, proxy, "10.32.0.0/16")
    vpc_id = network.rsplit("/", 1)[1]
    foreign = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    before = pieces(ec2, vpc_id)
    answer = delete(daemon, proxy, network)
    assert answer.status == 409, answer.body
    assert foreign in answer.body
    assert pieces(ec2, vpc_id) == before
    ec2.delete_route_table(RouteTableId=foreign)
    assert delete(daemon, proxy, network).status == 200


# -- point 7: a collection delete tries every entity ----------------------------


def test_collection_delete_tries_every_entity(daemon, proxy, ec2):
    """
    DELETE /storage/ with two attached root volumes and a free volume
    deletes the free one and answers 409 naming both roots with their
    reason (before: it stopped at the first root volume).
    """
    roots = []
    for _ in range(2):
        compute = new_compute(daemon, proxy)
        [instance] = ec2.describe_instances(InstanceIds=[compute.rsplit("/", 1)[1]])[
            "Reservations"][0]["Instances"]
        roots.extend(m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"])
    free = created(curl(daemon, proxy, "/storage/", "-X", "POST", *TEXT, "--data-binary", "\n".join([
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        "X-OCCI-Attribute: occi.storage.size=1",
    ])), daemon, "storage").rsplit("/", 1)[1]

    answer = delete(daemon, proxy, "/storage/")
    assert answer.status == 409, answer.body
    for root in roots:
        assert re.search(rf"{daemon.url}/storage/{root}: 409 [^;]*{root}", answer.body), answer.body
    assert answer.body.startswith("2 storage could not be deleted"), answer.body
    assert free not in {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert delete(daemon, proxy, "/compute/").status == 200


# -- point 11: an inline public link is made within seconds -----------------------


def test_inline_public_link_is_made_within_seconds(daemon, proxy, ec2):
    """
    A compute created with an inline link to /network/public shows that
    link without an address at first (not EC2's auto-assigned one), and
    active with its elastic IP within seconds, well before the reconciler's
    next pass (a minute).
    """
    compute = new_compute(
        daemon, proxy,
        f'Link: </network/public>; rel="{INFRA}network"; category="{INFRA}networkinterface"')
    first = public_link(daemon, proxy, compute)
    if first["occi.networkinterface.state"] == "inactive":
        assert not first.get("occi.networkinterface.address"), first
    deadline = time.monotonic() + 15
    while (link := public_link(daemon, proxy, compute))[
            "occi.networkinterface.state"] != "active":
        assert time.monotonic() < deadline, link
        time.sleep(0.5)
    [address] = ours(ec2.describe_addresses()["Addresses"], OWNER)
    assert link["occi.networkinterface.address"] == address["PublicIp"]
    assert delete(daemon, proxy, compute).status == 200
    assert ours(ec2.describe_addresses()["Addresses"], OWNER) == []
