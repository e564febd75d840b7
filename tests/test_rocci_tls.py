# -*- test-case-name: tests.test_rocci_tls -*-
"""
rOCCI-cli 4.3 against the real daemon (issue 4, "Done when"): every request
of C{tests/vectors/rocci-cli-4.3-requests.txt} replayed over TLS with curl,
a C{voms-proxy-fake} proxy and rOCCI-cli's headers, against occid backed by
a moto EC2 server; and rOCCI-api's client-side template lookup on the
query interface fetched over TLS.

The captures are rewritten to this site: the os_tpl scheme and AMI to
occid's and a listed moto AMI, the VPC and compute ids to real ones, the
truncated SSH key to a freshly generated one.  Their C{t2_micro} stays: the
daemon offers t2.micro.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN, REGION
from tests.test_web_rocci import (
    CLIENT_IDS,
    TRUNCATED_KEY,
    USER_AGENT,
    VECTORS,
    as_headers,
    categories,
    lookup,
)

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OS_TPL_SCHEME = "http://occi.localhost/occi/infrastructure/os_tpl#"
CAPTURED_AMI = "ami-971238f1"
CAPTURED_VPC = "vpc-e2e4f686"
CAPTURED_COMPUTE = "i-0123456789abcdef0"
SSH_KEY = (
    ed25519.Ed25519PrivateKey.generate().public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode()
    + " user@host"
)

ROCCI_ACCEPT = ("-H", "Accept: text/plain,text/occi", "-H", f"User-Agent: {USER_AGENT}")

#: The create forms: (section, Content-Type rOCCI-cli sends, whether the section is headers).
CREATES = {
    "text/plain": ("text/plain body", "text/plain,text/occi", False),
    "text/occi": ("text/occi headers", "text/occi", True),
    "legacy json": ("application/occi+json body", "application/occi+json", False),
}
TRIGGERS = {
    "text/plain": ("trigger stop text/plain body", "text/plain,text/occi", False),
    "text/occi": ("trigger stop text/occi headers", "text/occi", True),
    "json": ("trigger stop json", "application/occi+json", False),
}
LINKS = {
    "text/plain": ("link (--action link) text/plain body", "text/plain,text/occi", False),
    "json": ("link json", "application/occi+json", False),
}


def sections(vpc_id: str, compute_id: str = CAPTURED_COMPUTE) -> dict[str, str]:
    """The capture's sections by title, rewritten to this site's scheme, ids and a real key."""
    text = VECTORS.read_text()
    for captured, ours in (
        ("http://occi.host/occi/infrastructure/os_tpl#", OS_TPL_SCHEME),
        (CAPTURED_AMI, DEBIAN),
        (CAPTURED_VPC, vpc_id),
        (CAPTURED_COMPUTE, compute_id),
        (TRUNCATED_KEY, SSH_KEY),
    ):
        assert captured in text
        text = text.replace(captured, ours)
    found = {}
    for chunk in text.split("===== ")[1:]:
        title, _, body = chunk.partition("\n")
        found[title.split(" (Content-Type")[0]] = body.strip("\n")
    return found


def replay(daemon, proxy, path, section: str, content_type: str, as_header_lines: bool):
    """POST one captured request the way rOCCI-cli sends it."""
    arguments = ["-X", "POST", *ROCCI_ACCEPT, "-H", f"Content-Type: {content_type}"]
    if as_header_lines:
        for name, value in as_headers(section):
            arguments += ["-H", f"{name}: {value}"]
        arguments += ["--data-binary", ""]
    else:
        arguments += ["--data-binary", section]
    return curl(daemon, proxy, path, *arguments)


def instance(ec2, instance_id: str) -> dict:
    [found] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"]
    return found


@pytest.fixture(scope="module")
def vpc_id(ec2):
    """A VPC with one subnet, standing in for the capture's vpc-e2e4f686."""
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.1.0/24", AvailabilityZone=f"{REGION}a")
    return vpc_id


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module, offering t2.micro (the capture's) and t3.micro."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    instance_types=("t2.micro", "t3.micro"))
    yield from started(daemon)


def create(daemon, proxy, vpc_id, form: str = "text/plain") -> str:
    """Replay a captured create; the new compute's id after checking 201 and Location."""
    title, content_type, headers = CREATES[form]
    result = replay(daemon, proxy, "/compute/", sections(vpc_id)[title], content_type, headers)
    assert result.status == 201, result.body
    location = result.header("Location")
    assert location.startswith(f"{daemon.url}/compute/i-"), location
    assert result.header("X-OCCI-Location") == location
    return location.rsplit("/", 1)[1]


@pytest.mark.parametrize("form", list(CREATES))
def test_create(daemon, proxy, ec2, vpc_id, form):
    """
    Each captured create form answers 201 with an absolute Location, and
    the VM exists in EC2 as asked: the AMI, t2.micro, the VPC, the title,
    launched with the SSH key; none of the client's ids is used.
    """
    compute_id = create(daemon, proxy, vpc_id, form)
    assert compute_id not in CLIENT_IDS
    launched = instance(ec2, compute_id)
    assert launched["State"]["Name"] in ("pending", "running")
    assert (launched["ImageId"], launched["InstanceType"], launched["VpcId"]) == (
        DEBIAN, "t2.micro", vpc_id)
    assert {"Key": "Name", "Value": "VMbyX"} in launched["Tags"]
    assert launched["KeyName"].startswith("occid-launch-")


@pytest.mark.parametrize("form", list(TRIGGERS))
def test_trigger_stop(daemon, proxy, ec2, vpc_id, form):
    """Each captured stop trigger answers 200 and the VM is stopped in EC2."""
    compute_id = create(daemon, proxy, vpc_id)
    title, content_type, headers = TRIGGERS[form]
    result = replay(daemon, proxy, f"/compute/{compute_id}?action=stop",
                    sections(vpc_id)[title], content_type, headers)
    assert result.status == 200, result.body
    assert instance(ec2, compute_id)["State"]["Name"] == "stopped"


@pytest.mark.parametrize("form", list(LINKS))
def test_link_public(daemon, proxy, ec2, vpc_id, form):
    """
    Each captured --action link to /network/public answers 201 with an
    absolute Location, and an elastic IP is associated with the VM.
    """
    compute_id = create(daemon, proxy, vpc_id)
    title, content_type, headers = LINKS[form]
    result = replay(daemon, proxy, "/link/networkinterface/",
                    sections(vpc_id, compute_id)[title], content_type, headers)
    assert result.status == 201, result.body
    location = f"{daemon.url}/link/networkinterface/{compute_id}_public"
    assert result.header("Location") == location
    assert result.header("X-OCCI-Location") == location
    [address] = ec2.describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [compute_id]}])["Addresses"]
    assert address["AssociationId"]


def test_client_side_template_lookup(daemon, proxy):
    """
    rOCCI-cli's C{--mixin os_tpl#<ami>} and C{resource_tpl#t3_micro} resolve
    against the /-/ the daemon serves over TLS, as rOCCI-api looks them up.
    """
    result = curl(daemon, proxy, "/-/", "-H", "Accept: text/plain,text/occi;q=0.2",
                  "-H", f"User-Agent: {USER_AGENT}")
    assert result.status == 200, result.body
    assert result.header("Content-Type").split(";")[0] == "text/plain"
    model = categories(result.body)
    os_tpl = lookup(model, "os_tpl", DEBIAN)
    assert os_tpl["scheme"] == OS_TPL_SCHEME
    resource_tpl = lookup(model, "resource_tpl", "t3_micro")
    assert resource_tpl["scheme"] == "http://schemas.ec2.aws.amazon.com/occi/infrastructure/resource_tpl#"
    lookup(model, "resource_tpl", "t2_micro")
    with pytest.raises(AssertionError):
        lookup(model, "os_tpl", CAPTURED_AMI)
