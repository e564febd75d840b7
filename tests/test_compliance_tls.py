"""
Issue 10, "Done when", over real TLS: the real daemon (C{[images] default}
set, users allowed to create networks) on a moto EC2 server, curl
presenting a C{voms-proxy-fake} proxy.

  - a compute create with the kind alone is 201 and runs the default image;
  - a network create with a title only is 201 and gets a free /16 of
    C{[aws] network_pool};
  - a PUT of what a GET answered, minus its Link lines, is 200 (with them
    400; changing the state 403);
  - and, beside them: memory choosing the instance type, the storage
    backup action making a snapshot, and a save name EC2 refuses being 400
    rather than 502.
"""

from __future__ import annotations

import json

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

INFRA = "http://schemas.ogf.org/occi/infrastructure#"
TEXT = ("-H", "Content-Type: text/plain", "-H", "Accept: text/plain")
KIND_ONLY = f'Category: compute; scheme="{INFRA}"; class="kind"\n'


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon: [images] default = Debian, network_create on, three instance types."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    aws="network_create = true\nnetwork_pool = \"10.0.0.0/8\"",
                    images=f'default = "{DEBIAN}"',
                    instance_types=("t3.micro", "t3.small", "t3.medium"))
    yield from started(daemon)


def post(daemon, proxy, path: str, body: str):
    """POST a text/plain body over TLS."""
    return curl(daemon, proxy, path, "-X", "POST", *TEXT, "--data-binary", body)


def create(daemon, proxy, collection: str, body: str) -> str:
    """The path of what a create made; it must be 201."""
    result = post(daemon, proxy, collection, body)
    assert result.status == 201, result.body
    return result.header("Location")[len(daemon.url):]


def instance(ec2, path: str) -> dict:
    """What EC2 says of the compute at C{path}."""
    [found] = ec2.describe_instances(
        InstanceIds=[path.rsplit("/", 1)[1]])["Reservations"][0]["Instances"]
    return found


def test_kind_only_compute_create(daemon, proxy, ec2):
    """A compute create with the kind alone is 201 and launches [images] default."""
    path = create(daemon, proxy, "/compute/", KIND_ONLY)
    assert instance(ec2, path)["ImageId"] == DEBIAN


def test_network_create_with_title_only(daemon, proxy, ec2):
    """A network create with a title only is 201; the VPC has the first free /16 of the pool."""
    body = (f'Category: network; scheme="{INFRA}"; class="kind"\n'
            'X-OCCI-Attribute: occi.core.title="pooled"\n')
    used = {vpc["CidrBlock"] for vpc in ec2.describe_vpcs()["Vpcs"]}
    path = create(daemon, proxy, "/network/", body)
    [vpc] = ec2.describe_vpcs(VpcIds=[path.rsplit("/", 1)[1]])["Vpcs"]
    assert vpc["CidrBlock"].startswith("10.") and vpc["CidrBlock"].endswith(".0.0/16")
    assert vpc["CidrBlock"] not in used


def test_put_of_a_get_minus_links(daemon, proxy, ec2):
    """
    A PUT of a GET's text/plain rendering minus its Link lines is 200 and
    changes nothing; with the Link lines it is 400; with the state changed
    403; without the title line the Name tag is removed.
    """
    path = create(daemon, proxy, "/compute/", KIND_ONLY + 'X-OCCI-Attribute: occi.core.title="put-me"\n')
    got = curl(daemon, proxy, path, "-H", "Accept: text/plain")
    assert got.status == 200, got.body
    lines = got.body.splitlines()
    bare = "\n".join(line for line in lines if not line.startswith("Link:")) + "\n"
    assert any(line.startswith("Link:") for line in lines)
    with_links = curl(daemon, proxy, path, "-X", "PUT", *TEXT, "--data-binary", got.body)
    assert with_links.status == 400, with_links.body
    put = curl(daemon, proxy, path, "-X", "PUT", *TEXT, "--data-binary", bare)
    assert put.status == 200, put.body
    assert {"Key": "Name", "Value": "put-me"} in instance(ec2, path)["Tags"]
    state = next(line for line in lines if "occi.compute.state=" in line)
    changed = bare.replace(state, 'X-OCCI-Attribute: occi.compute.state="error"')
    refused = curl(daemon, proxy, path, "-X", "PUT", *TEXT, "--data-binary", changed)
    assert refused.status == 403, refused.body
    untitled = "\n".join(line for line in bare.splitlines() if "occi.core.title" not in line)
    assert curl(daemon, proxy, path, "-X", "PUT", *TEXT, "--data-binary", untitled).status == 200
    assert "Name" not in {tag["Key"] for tag in instance(ec2, path).get("Tags", ())}


def test_memory_chooses_the_instance_type(daemon, proxy, ec2):
    """occi.compute.memory=3.6 without resource_tpl launches t3.medium (4 GiB), the smallest."""
    path = create(daemon, proxy, "/compute/", KIND_ONLY + "X-OCCI-Attribute: occi.compute.memory=3.6\n")
    assert instance(ec2, path)["InstanceType"] == "t3.medium"
    huge = post(daemon, proxy, "/compute/", KIND_ONLY + "X-OCCI-Attribute: occi.compute.memory=64\n")
    assert huge.status == 400 and "occi.compute.memory=64" in huge.body, huge.body


def test_storage_backup_is_a_snapshot(daemon, proxy, ec2):
    """POST ?action=backup on a storage is 201 locating the snapshot EC2 now holds of the volume."""
    path = create(daemon, proxy, "/storage/",
                  f'Category: storage; scheme="{INFRA}"; class="kind"\n'
                  "X-OCCI-Attribute: occi.storage.size=1\n")
    result = post(daemon, proxy, path + "?action=backup", "")
    assert result.status == 201, result.body
    volume = path.rsplit("/", 1)[1]
    [snapshot] = ec2.describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": [volume]}])["Snapshots"]
    assert result.header("Location") == f"{daemon.url}/snapshot/{snapshot['SnapshotId']}"


def test_save_with_a_short_name_is_400(daemon, proxy, ec2):
    """save with a two-character name is 400 naming it, and no image is made."""
    path = create(daemon, proxy, "/compute/", KIND_ONLY)
    before = ec2.describe_images(Owners=["self"])["Images"]
    result = post(daemon, proxy, path + "?action=save", 'X-OCCI-Attribute: name="ab"\n')
    assert result.status == 400 and "'ab'" in result.body, result.body
    assert ec2.describe_images(Owners=["self"])["Images"] == before


def test_put_of_a_json_get_minus_links(daemon, proxy, ec2):
    """The same in application/occi+json: a GET's rendering without its links, PUT back, is 200."""
    path = create(daemon, proxy, "/compute/", KIND_ONLY + 'X-OCCI-Attribute: occi.core.title="json"\n')
    got = curl(daemon, proxy, path, "-H", "Accept: application/occi+json")
    assert got.status == 200, got.body
    rendering = json.loads(got.body)
    rendering.pop("links", None)
    put = curl(daemon, proxy, path, "-X", "PUT", "-H", "Content-Type: application/occi+json",
               "-H", "Accept: application/occi+json", "--data-binary", json.dumps(rendering))
    assert put.status == 200, put.body
    assert {"Key": "Name", "Value": "json"} in instance(ec2, path)["Tags"]
