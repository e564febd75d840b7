"""
rOCCI-cli 4.3 with C{--media-type application/occi+json} against the real
daemon over TLS (issue 10, point 3): its session (model, create, describe,
list, trigger, link) replayed with curl and rOCCI-cli's headers, every
answer read by L{tests.rocci43json} the way rOCCI-core 4.3 reads it.  The same session runs over the
gateway in C{tests/test_web_legacyjson.py}.
"""

from __future__ import annotations

import pytest

from occid.occi import infrastructure as infra
from tests import gridtools, rocci43json
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN, ec2_client
from tests.test_rocci_tls import OS_TPL_SCHEME, sections

JSON = "application/occi+json"
USER_AGENT = "rOCCI-cli/4.3.10 OCCI/1.1"
ROCCI_JSON = ("-H", f"Accept: {JSON}", "-H", f"Content-Type: {JSON}",
              "-H", f"User-Agent: {USER_AGENT}")


pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]


@pytest.fixture(scope="module")
def vpc_id(moto_server):
    """A VPC with one subnet, standing in for the capture's."""
    moto_server.reset()
    ec2 = ec2_client(moto_server.endpoint)
    vpc_id = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.31.1.0/24",
                      AvailabilityZone=ec2.describe_availability_zones()[
                          "AvailabilityZones"][0]["ZoneName"])
    return vpc_id


@pytest.fixture(scope="module")
def daemon(pki, moto_server, vpc_id, tmp_path_factory):
    """One daemon for the module, offering the capture's t2.micro (and the default t3.micro)."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    instance_types=("t2.micro", "t3.micro"))
    yield from started(daemon)


def request(daemon, proxy, path, method="GET", body=None):
    arguments = ["-X", method, *ROCCI_JSON]
    if body is not None:
        arguments += ["--data-binary", body]
    result = curl(daemon, proxy, path, *arguments)
    assert result.header("Content-Type").split(";")[0] == JSON, result.headers
    return result


def create(daemon, proxy, vpc_id) -> str:
    """The capture's JSON create; the new compute's path."""
    result = request(daemon, proxy, "/compute/", "POST",
                     sections(vpc_id)["application/occi+json body"])
    assert result.status == 201, result.body
    rocci43json.parse(result.body)
    return result.header("Location").removeprefix(daemon.url)


def test_model(daemon, proxy):
    """The model reads, and os_tpl#<ami> resolves through depends."""
    result = request(daemon, proxy, "/-/")
    assert result.status == 200, result.body
    model = rocci43json.parse(result.body)
    [parent] = [m for m in model.mixins if m.term == "os_tpl"]
    [template] = [m for m in model.mixins if m.term == DEBIAN and parent.identifier in m.related]
    assert template.scheme == OS_TPL_SCHEME
    assert model.category(infra.COMPUTE.identifier).location == "/compute/"


def test_describe_list_trigger(daemon, proxy, vpc_id):
    """A new compute describes with its state and link, lists, and stops."""
    path = create(daemon, proxy, vpc_id)
    described = request(daemon, proxy, path)
    assert described.status == 200, described.body
    [compute] = rocci43json.parse(described.body).resources
    assert compute.attributes["occi.compute.state"] in ("active", "inactive")
    assert "occi.compute.state.message" not in compute.attributes
    assert compute.attributes["occi.core.title"] == "VMbyX"
    listed = request(daemon, proxy, "/compute/")
    assert listed.status == 200, listed.body
    assert path.rsplit("/", 1)[1] in {r.id for r in rocci43json.parse(listed.body).resources}
    stopped = request(daemon, proxy, path + "?action=stop", "POST",
                      sections(vpc_id)["trigger stop json"])
    assert stopped.status == 200, stopped.body
    rocci43json.parse(stopped.body)


def test_link(daemon, proxy, vpc_id):
    """--action link to /network/public: 201, and the link describes with rel/source/target."""
    compute_id = create(daemon, proxy, vpc_id).rsplit("/", 1)[1]
    result = request(daemon, proxy, "/link/networkinterface/", "POST",
                     sections(vpc_id, compute_id)["link json"])
    assert result.status == 201, result.body
    rocci43json.parse(result.body)
    described = request(daemon, proxy, result.header("Location").removeprefix(daemon.url))
    assert described.status == 200, described.body
    [link] = rocci43json.parse(described.body).links
    assert link.source == f"{daemon.url}/compute/{compute_id}"
    assert link.target == f"{daemon.url}/network/public"
    assert link.rel == infra.NETWORK.identifier
