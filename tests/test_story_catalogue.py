# -*- test-case-name: tests.test_story_catalogue -*-
"""
Issue 11 point 8, end to end: the real daemon over TLS, curl presenting a
C{voms-proxy-fake} proxy, a moto EC2 server.  An instance type, AMI or zone
in occid.toml that EC2 does not know is left out of the account's catalogue
with one warning naming the file, the key and the value; everything else
keeps working, and a create needing the missing default is a precise 400.
"""

from __future__ import annotations

import time

import pytest

from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.test_story import INFRA, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, created, post_text

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

#: An instance type, an AMI and a zone moto does not know, in valid forms.
UNKNOWN_TYPE = "t9.nano"
UNKNOWN_AMI = "ami-0000000000000dead"
UNKNOWN_ZONE = "eu-west-1z"
#: An AMI moto has, listed first.
DEBIAN = "ami-0a1b2c3d4e5f60001"

#: What each warning names after the file: key and value.
WARNED = {
    "[aws] instance_types": UNKNOWN_TYPE,
    "[aws] default_instance_type": UNKNOWN_TYPE,
    "[images] default": UNKNOWN_AMI,
    "[aws] availability_zone": UNKNOWN_ZONE,
}


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """A daemon whose default type, default image and zone EC2 does not know."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    instance_types=("t3.micro", UNKNOWN_TYPE),
                    aws=f'default_instance_type = "{UNKNOWN_TYPE}"\n'
                        f'availability_zone = "{UNKNOWN_ZONE}"',
                    images=f'default = "{UNKNOWN_AMI}"')
    yield from started(daemon)


def warnings(daemon) -> list[str]:
    """The log lines warning about a value left out of the catalogue of testvo."""
    return [line for line in daemon.log().splitlines()
            if f"{daemon.config_path}: " in line and "left out of the catalogue of account "
            "testvo" in line]


def wait_for_warnings(daemon, count: int, timeout: float = 30.0) -> list[str]:
    """The warnings, once there are C{count} of them (the first load at start)."""
    deadline = time.monotonic() + timeout
    while len(warnings(daemon)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return warnings(daemon)


def compute_body(*lines: str) -> str:
    """A compute create in text/plain with the extra C{lines}."""
    return "\n".join([f'Category: compute; scheme="{INFRA}"; class="kind"', *lines])


def test_unknown_values_are_left_out_with_one_warning_each(daemon, proxy, ec2):
    """
    The start warns once per unknown value, naming file, key and value; the
    query interface offers the rest; a create naming a known type runs; one
    relying on the unknown default type is 400 naming it, launching nothing;
    a volume goes to a zone EC2 has.
    """
    query = curl(daemon, proxy, "/-/", "-H", "Accept: text/plain")
    assert query.status == 200, query.body
    assert "t3_micro" in query.body
    assert "t9_nano" not in query.body
    assert "eu-west-1z" not in query.body

    found = wait_for_warnings(daemon, len(WARNED))
    for key, value in WARNED.items():
        [line] = [line for line in found if f": {key}: " in line]
        assert repr(value) in line, line
    assert len(found) == len(WARNED), found

    os_tpl = f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"'
    compute = created(post_text(daemon, proxy, "/compute/", compute_body(
        os_tpl, f'Category: t3_micro; scheme="{RESOURCE_TPL_SCHEME}"; class="mixin"')),
        daemon, "compute")
    [reservation] = ec2.describe_instances(InstanceIds=[compute.rsplit("/", 1)[1]])["Reservations"]
    assert reservation["Instances"][0]["Placement"]["AvailabilityZone"] != UNKNOWN_ZONE

    launched = len(ec2.describe_instances()["Reservations"])
    refused = post_text(daemon, proxy, "/compute/", compute_body(os_tpl))
    assert refused.status == 400, refused.body
    assert UNKNOWN_TYPE in refused.body and "default_instance_type" in refused.body
    no_image = post_text(daemon, proxy, "/compute/", compute_body())
    assert no_image.status == 400, no_image.body
    assert UNKNOWN_AMI in no_image.body and "([images] default)" in no_image.body
    assert len(ec2.describe_instances()["Reservations"]) == launched

    storage = created(post_text(daemon, proxy, "/storage/", "\n".join([
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        "X-OCCI-Attribute: occi.storage.size=1"])), daemon, "storage")
    [volume] = ec2.describe_volumes(VolumeIds=[storage.rsplit("/", 1)[1]])["Volumes"]
    assert volume["AvailabilityZone"] == "eu-west-1a"

    assert warnings(daemon) == found
