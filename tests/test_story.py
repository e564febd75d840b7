# -*- test-case-name: tests.test_story -*-
"""
The user stories of docs/architecture.md end to end (issue 5, "Done when"): the real
daemon over TLS, curl presenting C{voms-proxy-fake} proxies, and a moto EC2
server holding two AWS accounts that occid reaches through C{role_arn}.

  - The VO member's story: create a compute (os_tpl, resource_tpl, title,
    SSH key, a link to a VPC), describe it, stop / start / restart it, create
    and attach a 2 GiB volume, give it a public address, delete everything;
    moto then holds nothing of the member's but terminated instances.
  - Two VOs mapped to two accounts see only their own computes; inside an
    account with C{visibility = "owner"} two members see only their own and
    the manager FQAN sees both; with C{visibility = "vo"} both members see
    both.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN, REGION
from tests.pki import PKI, USER_DN

#: The marks of a story told with the grid tools and curl.
STORY_MARKS = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

pytestmark = STORY_MARKS

#: The moto accounts occid assumes a role into: one per VO.
TESTVO_ACCOUNT, OTHERVO_ACCOUNT = "111111111111", "222222222222"

ACCOUNTS = f"""
[[accounts]]
name = "testvo"
fqans = ["/testvo"]
role_arn = "arn:aws:iam::{TESTVO_ACCOUNT}:role/occid"
visibility = "owner"
manager_fqans = ["/testvo/Role=VMManager"]

[[accounts]]
name = "othervo"
fqans = ["/othervo"]
role_arn = "arn:aws:iam::{OTHERVO_ACCOUNT}:role/occid"
visibility = "vo"
"""

INFRA = "http://schemas.ogf.org/occi/infrastructure#"
OS_TPL_SCHEME = "http://occi.localhost/occi/infrastructure/os_tpl#"
RESOURCE_TPL_SCHEME = "http://schemas.ec2.aws.amazon.com/occi/infrastructure/resource_tpl#"
SSH_KEY_SCHEME = "http://schemas.ogf.org/occi/infrastructure/credentials#"
ACTION_SCHEME = "http://schemas.ogf.org/occi/infrastructure/compute/action#"

#: Other members, by name: (DN, VO, FQANs).
MEMBERS = {
    "alice": ("/DC=org/DC=example/OU=Users/CN=Alice Member", "testvo", ["/testvo"]),
    "bob": ("/DC=org/DC=example/OU=Users/CN=Bob Member", "testvo", ["/testvo"]),
    "carol": ("/DC=org/DC=example/OU=Users/CN=Carol Manager", "testvo",
              ["/testvo", "/testvo/Role=VMManager"]),
    "dave": ("/DC=org/DC=example/OU=Users/CN=Dave Other", "othervo", ["/othervo"]),
    "erin": ("/DC=org/DC=example/OU=Users/CN=Erin Other", "othervo", ["/othervo"]),
}

TEXT = ("-H", "Content-Type: text/plain", "-H", "Accept: text/plain")


def own_account(account_id: str, *lines: str) -> str:
    """
    The C{[[accounts]]} entry of C{/testvo} in the moto account
    C{account_id} (a story's own), with C{lines} added.
    """
    return "\n".join([
        "", "[[accounts]]", 'name = "testvo"', 'fqans = ["/testvo"]',
        f'role_arn = "arn:aws:iam::{account_id}:role/occid"', *lines, ""])


def ssh_public_key() -> str:
    """A freshly generated ed25519 public key in OpenSSH format."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " member@story"


def ec2_client(endpoint: str, account_id: str):
    """A boto3 EC2 client acting in moto account C{account_id} through an assumed role."""
    credentials = dict(aws_access_key_id="testing", aws_secret_access_key="testing",
                       region_name=REGION, endpoint_url=endpoint)
    assumed = boto3.client("sts", **credentials).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/occid", RoleSessionName="occid-tests",
    )["Credentials"]
    return boto3.client(
        "ec2", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The module's PKI, with vomsdir entries for testvo and othervo."""
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    pki.lsc("testvo", "voms.example.org")
    pki.lsc("othervo", "voms.example.org")
    return pki


@pytest.fixture(scope="module")
def proxies(pki, tmp_path_factory):
    """voms-proxy-fake proxies: C{member} (the PKI's user, testvo) and every one of L{MEMBERS}."""
    out = tmp_path_factory.mktemp("proxies")
    made = {"member": gridtools.voms_proxy_fake(
        pki, str(out / "member.pem"), vo="testvo", fqans=["/testvo"])}
    for name, (dn, vo, fqans) in MEMBERS.items():
        cert, key = str(out / f"{name}-cert.pem"), str(out / f"{name}-key.pem")
        pki.issue_user(dn).write_pair(cert, key)
        made[name] = gridtools.voms_proxy_fake(
            pki, str(out / f"{name}.pem"), vo=vo, fqans=fqans, cert=cert, key=key)
    return made


@pytest.fixture(scope="module")
def clients(moto_server):
    """boto3 clients of the two moto accounts, on a freshly reset moto."""
    moto_server.reset()
    return {"testvo": ec2_client(moto_server.endpoint, TESTVO_ACCOUNT),
            "othervo": ec2_client(moto_server.endpoint, OTHERVO_ACCOUNT)}


@pytest.fixture(scope="module")
def vpc(clients):
    """A VPC with one subnet in the testvo account, made with boto3: (vpc id, subnet)."""
    ec2 = clients["testvo"]
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24",
                               AvailabilityZone=f"{REGION}a")["Subnet"]
    return vpc_id, subnet


@pytest.fixture(scope="module")
def daemon(pki, moto_server, clients, tmp_path_factory):
    """One daemon for the module, serving both VOs from their own moto accounts."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS)
    yield from started(daemon)


# -- requests ----------------------------------------------------------------


def post_text(daemon, proxy, path, body):
    """POST a text/plain body, asking for text/plain."""
    return curl(daemon, proxy, path, "-X", "POST", *TEXT, "--data-binary", body)


def created(result, daemon, collection):
    """The path of a created entity, after checking 201 and an absolute Location."""
    assert result.status == 201, result.body
    location = result.header("Location")
    assert location.startswith(f"{daemon.url}/{collection}/"), location
    assert result.header("X-OCCI-Location") == location
    return location[len(daemon.url):]


def action(term: str) -> str:
    """The Category line invoking the compute action C{term}."""
    return f'Category: {term}; scheme="{ACTION_SCHEME}"; class="action"'


def trigger(daemon, proxy, path, term):
    """POST C{<path>?action=<term>} in text/plain, checking 200."""
    result = post_text(daemon, proxy, f"{path}?action={term}", action(term))
    assert result.status == 200, result.body
    return result


def describe(daemon, proxy, path):
    """GET an entity in text/plain, checking 200; the rendering."""
    result = curl(daemon, proxy, path, "-H", "Accept: text/plain")
    assert result.status == 200, result.body
    return result.body


def state(body: str) -> str:
    """C{occi.compute.state} in a text/plain rendering."""
    return re.search(r'occi\.compute\.state="(\w+)"', body).group(1)


def links(body: str) -> dict[str, dict[str, str]]:
    """The Link lines of a text/plain rendering: target path -> parameters."""
    found = {}
    for line in body.splitlines():
        match = re.match(r"Link:\s*<([^>]+)>\s*;(.*)$", line)
        if match:
            parameters = re.findall(r'([\w.]+)="([^"]*)"', match.group(2))
            found[urlsplit(match.group(1)).path] = dict(parameters)
    return found


def listed(daemon, proxy) -> set[str]:
    """The compute paths a principal lists (text/uri-list)."""
    result = curl(daemon, proxy, "/compute/", "-H", "Accept: text/uri-list")
    assert result.status == 200, result.body
    return {url[len(daemon.url):] for url in result.body.split()}


def create_compute(daemon, proxy, title, *extra_lines):
    """Create a Debian compute in text/plain, checking 201; its path."""
    body = "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
        f'X-OCCI-Attribute: occi.core.title="{title}"',
        *extra_lines,
    ])
    return created(post_text(daemon, proxy, "/compute/", body), daemon, "compute")


def ec2_state(ec2, instance_id: str) -> str:
    """The instance's state as EC2 itself reports it."""
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def ours(resources: list[dict], owner: str) -> list[dict]:
    """The EC2 resources tagged with the owner hash C{owner}."""
    return [r for r in resources
            if {"Key": "occid:owner", "Value": owner} in r.get("Tags", [])]


# -- the VO member's story ---------------------------------------------------


def test_vo_member_story(daemon, proxies, clients, vpc):
    """
    A VO member creates, inspects, drives, extends and deletes a compute
    through occid with text/plain, text/occi and application/occi+json;
    every step answers its exact status, describe shows EC2 as it is, and
    afterwards moto holds no live instance, volume, elastic IP or key pair
    of the member's.
    """
    proxy = proxies["member"]
    ec2 = clients["testvo"]
    vpc_id, subnet = vpc
    owner = owner_hash(USER_DN)

    # Create: os_tpl, resource_tpl, title, SSH key and a link to the VPC.
    compute = create_compute(
        daemon, proxy, "story-vm",
        f'Category: t3_small; scheme="{RESOURCE_TPL_SCHEME}"; class="mixin"',
        f'Category: ssh_key; scheme="{SSH_KEY_SCHEME}"; class="mixin"',
        f'X-OCCI-Attribute: occi.credentials.ssh.publickey="{ssh_public_key()}"',
        f'Link: </network/{vpc_id}>; rel="{INFRA}network"; category="{INFRA}networkinterface"',
    )
    instance_id = compute.rsplit("/", 1)[1]
    [instance] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    assert (instance["ImageId"], instance["InstanceType"]) == (DEBIAN, "t3.small")
    assert (instance["VpcId"], instance["SubnetId"]) == (vpc_id, subnet["SubnetId"])
    assert instance["KeyName"].startswith("occid-launch-")
    [root] = [m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]]
    assert ours(ec2.describe_volumes(VolumeIds=[root])["Volumes"], owner)

    # Describe: active, with its mixins and its network link with the address.
    body = describe(daemon, proxy, compute)
    assert state(body) == "active"
    assert f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"' in body
    assert f'Category: t3_small; scheme="{RESOURCE_TPL_SCHEME}"; class="mixin"' in body
    assert 'X-OCCI-Attribute: occi.core.title="story-vm"' in body
    network = links(body)[f"/network/{vpc_id}"]
    assert network["occi.networkinterface.address"] == instance["PrivateIpAddress"]
    assert network["occi.networkinterface.state"] == "active"

    # Stop (text/plain), start (text/occi), restart (text/plain).
    trigger(daemon, proxy, compute, "stop")
    assert state(describe(daemon, proxy, compute)) == "inactive"
    assert ec2_state(ec2, instance_id) == "stopped"
    start = curl(daemon, proxy, f"{compute}?action=start", "-X", "POST",
                 "-H", "Content-Type: text/occi", "-H", "Accept: text/occi",
                 "-H", action("start"), "--data-binary", "")
    assert start.status == 200, start.body
    assert state(describe(daemon, proxy, compute)) == "active"
    assert ec2_state(ec2, instance_id) == "running"
    trigger(daemon, proxy, compute, "restart")
    assert state(describe(daemon, proxy, compute)) == "active"

    # A 2 GiB volume (application/occi+json), attached; a public address.
    volume_json = {"kind": f"{INFRA}storage",
                   "attributes": {"occi.storage.size": 2, "occi.core.title": "story-disk"}}
    storage = created(curl(daemon, proxy, "/storage/", "-X", "POST",
                           "-H", "Content-Type: application/occi+json",
                           "-H", "Accept: application/occi+json",
                           "--data-binary", json.dumps(volume_json)), daemon, "storage")
    volume_id = storage.rsplit("/", 1)[1]
    assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Size"] == 2
    storagelink = created(post_text(daemon, proxy, "/link/storagelink/", "\n".join([
        f'Category: storagelink; scheme="{INFRA}"; class="kind"',
        f'X-OCCI-Attribute: occi.core.source="{compute}"',
        f'X-OCCI-Attribute: occi.core.target="{storage}"',
    ])), daemon, "link/storagelink")
    assert storagelink == f"/link/storagelink/{instance_id}_{volume_id}"
    public = created(post_text(daemon, proxy, "/link/networkinterface/", "\n".join([
        f'Category: networkinterface; scheme="{INFRA}"; class="kind"',
        f'X-OCCI-Attribute: occi.core.source="{compute}"',
        'X-OCCI-Attribute: occi.core.target="/network/public"',
    ])), daemon, "link/networkinterface")
    assert public == f"/link/networkinterface/{instance_id}_public"
    [address] = ec2.describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]

    # Describe (application/occi+json) shows the new links beside the VPC and root volume.
    answer = curl(daemon, proxy, compute, "-H", "Accept: application/occi+json")
    assert answer.status == 200, answer.body
    rendered = {link["target"]["location"]: link for link in json.loads(answer.body)["links"]}
    assert set(rendered) == {f"{daemon.url}/network/{vpc_id}", f"{daemon.url}/network/public",
                             f"{daemon.url}{storage}", f"{daemon.url}/storage/{root}"}
    assert rendered[f"{daemon.url}/network/public"]["attributes"][
        "occi.networkinterface.address"] == address["PublicIp"]
    assert rendered[f"{daemon.url}{storage}"]["attributes"]["occi.storagelink.state"] == "active"

    # Delete everything through occid.
    for path in (public, storagelink, storage, compute):
        deleted = curl(daemon, proxy, path, "-X", "DELETE", "-H", "Accept: text/plain")
        assert deleted.status == 200, (path, deleted.body)
    assert curl(daemon, proxy, compute, "-H", "Accept: text/plain").status == 404

    # moto, asked directly, holds nothing of the member's but terminated instances.
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    mine = ours(instances, owner)
    assert [i["InstanceId"] for i in mine] == [instance_id]
    assert {i["State"]["Name"] for i in mine} == {"terminated"}
    assert ours(ec2.describe_volumes()["Volumes"], owner) == []
    assert ours(ec2.describe_addresses()["Addresses"], owner) == []
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == []


# -- who sees what -------------------------------------------------------------


@pytest.fixture(scope="module")
def computes(daemon, proxies):
    """One compute per member of L{MEMBERS} but the manager: name -> path."""
    return {name: create_compute(daemon, proxies[name], f"vm-of-{name}")
            for name in ("alice", "bob", "dave", "erin")}


def test_two_vos_two_accounts(daemon, proxies, clients, computes):
    """
    Each VO's computes live in its own AWS account (reached through its
    role) and the other VO neither lists nor describes them (404).
    """
    for name, account in (("alice", "testvo"), ("dave", "othervo")):
        ids = [i["InstanceId"] for r in clients[account].describe_instances()["Reservations"]
               for i in r["Instances"]]
        assert computes[name].rsplit("/", 1)[1] in ids
    assert computes["dave"] not in listed(daemon, proxies["alice"])
    assert computes["alice"] not in listed(daemon, proxies["dave"])
    for name, other in (("alice", "dave"), ("dave", "alice")):
        assert curl(daemon, proxies[name], computes[other]).status == 404
        assert curl(daemon, proxies[name], computes[name]).status == 200


def test_owner_visibility(daemon, proxies, computes):
    """With visibility = "owner" two members of testvo see only their own compute."""
    assert listed(daemon, proxies["alice"]) == {computes["alice"]}
    assert listed(daemon, proxies["bob"]) == {computes["bob"]}
    assert curl(daemon, proxies["alice"], computes["bob"]).status == 404
    assert curl(daemon, proxies["bob"], computes["alice"]).status == 404


def test_manager_sees_both(daemon, proxies, computes):
    """The manager FQAN of testvo sees both members' computes, and not the other VO's."""
    seen = listed(daemon, proxies["carol"])
    assert {computes["alice"], computes["bob"]} <= seen
    assert computes["dave"] not in seen
    for name in ("alice", "bob"):
        assert curl(daemon, proxies["carol"], computes[name]).status == 200


def test_vo_visibility(daemon, proxies, computes):
    """With visibility = "vo" both members of othervo see both computes."""
    both = {computes["dave"], computes["erin"]}
    for name in ("dave", "erin"):
        assert listed(daemon, proxies[name]) == both
        for path in both:
            assert curl(daemon, proxies[name], path).status == 200
