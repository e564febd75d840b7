# -*- test-case-name: tests.test_story_hibernation -*-
"""
Issue 11 point 4, hibernation, end to end: the real daemon over TLS, curl
presenting a C{voms-proxy-fake} proxy, a moto EC2 server.

  - A create with the C{hibernation} mixin launches with
    C{HibernationOptions} on an encrypted root volume of the image's root
    size plus the RAM; with an instance type that cannot hibernate it is
    400 naming why, and nothing is launched.
  - A compute launched without it renders no suspend action, and suspend
    on it is 409 naming why.
  - Under C{[aws] hibernation = "never"} the query interface offers neither
    the mixin nor the suspend action, and asking for either is 400.
"""

from __future__ import annotations

import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN
from tests.pki import USER_DN
from tests.test_story import (
    ACTION_SCHEME,
    INFRA,
    OS_TPL_SCHEME,
    RESOURCE_TPL_SCHEME,
    created,
    ours,
    post_text,
)

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OWNER = owner_hash(USER_DN)
HIBERNATION = ('Category: hibernation; '
               'scheme="http://schemas.ec2.aws.amazon.com/occi/infrastructure/compute#"; '
               'class="mixin"')
SUSPEND_LINK = "?action=suspend"


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module offering t3.micro (hibernates) and a1.medium (cannot)."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    instance_types=("t3.micro", "a1.medium"))
    yield from started(daemon)


def compute_body(instance_type: str, *lines: str) -> str:
    """A text/plain create of a Debian compute of C{instance_type}, with C{lines}."""
    return "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {DEBIAN}; scheme="{OS_TPL_SCHEME}"; class="mixin"',
        f'Category: {instance_type.replace(".", "_")}; scheme="{RESOURCE_TPL_SCHEME}"; '
        'class="mixin"',
        *lines])


def our_instances(ec2) -> list[dict]:
    """The instances tagged with the test user's owner hash, terminated ones aside."""
    return ours([i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"], OWNER)


def test_hibernating_launch_has_an_encrypted_root_holding_the_ram(daemon, proxy, ec2):
    """
    The hibernation mixin with t3.micro (1 GiB of RAM): the root volume EC2
    made is encrypted and one GiB larger than the image's root, and the
    compute renders the suspend action.
    """
    path = created(post_text(daemon, proxy, "/compute/",
                             compute_body("t3.micro", HIBERNATION)), daemon, "compute")
    instance = ec2.describe_instances(InstanceIds=[path.rsplit("/", 1)[-1]])[
        "Reservations"][0]["Instances"][0]
    image = ec2.describe_images(ImageIds=[DEBIAN])["Images"][0]
    image_root = next(m["Ebs"]["VolumeSize"] for m in image["BlockDeviceMappings"]
                      if m["DeviceName"] == image["RootDeviceName"])
    root = next(m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]
                if m["DeviceName"] == image["RootDeviceName"])
    volume = ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert volume["Size"] == image_root + 1
    rendered = curl(daemon, proxy, path, "-H", "Accept: text/plain")
    assert rendered.status == 200, rendered.body
    assert SUSPEND_LINK in rendered.body


def test_type_that_cannot_hibernate_is_400_and_launches_nothing(daemon, proxy, ec2):
    """a1.medium's HibernationSupported is false: 400 naming it, no instance."""
    before = our_instances(ec2)
    answer = post_text(daemon, proxy, "/compute/", compute_body("a1.medium", HIBERNATION))
    assert answer.status == 400, answer.body
    assert "a1.medium cannot hibernate" in answer.body
    assert "HibernationSupported" in answer.body
    assert our_instances(ec2) == before


def test_compute_without_hibernation_offers_no_suspend(daemon, proxy, ec2):
    """Launched without the mixin: no suspend link, and suspend is 409 naming why."""
    path = created(post_text(daemon, proxy, "/compute/", compute_body("t3.micro")),
                   daemon, "compute")
    rendered = curl(daemon, proxy, path, "-H", "Accept: text/plain")
    assert rendered.status == 200, rendered.body
    assert "?action=stop" in rendered.body
    assert SUSPEND_LINK not in rendered.body
    answer = post_text(daemon, proxy, path + SUSPEND_LINK,
                       f'Category: suspend; scheme="{ACTION_SCHEME}"; class="action"')
    assert answer.status == 409, answer.body
    assert "not launched with hibernation" in answer.body


def test_query_interface_offers_hibernation_on_request(daemon, proxy):
    """The default (on-request) offers the mixin and suspend."""
    answer = curl(daemon, proxy, "/-/", "-H", "Accept: text/plain")
    assert answer.status == 200, answer.body
    assert "Category: hibernation;" in answer.body
    assert "Category: suspend;" in answer.body


def test_never_offers_neither_mixin_nor_suspend(pki, moto_server, proxy, ec2, tmp_path):
    """
    [aws] hibernation = "never": no mixin, no suspend; asking for the mixin
    is 400, and so is suspend, an action computes then do not have.
    """
    never = Daemon(str(tmp_path), pki, moto_server.endpoint, aws='hibernation = "never"')
    never.start()
    try:
        query = curl(never, proxy, "/-/", "-H", "Accept: text/plain")
        assert query.status == 200, query.body
        assert "hibernation" not in query.body
        assert "suspend" not in query.body
        before = our_instances(ec2)
        answer = post_text(never, proxy, "/compute/", compute_body("t3.micro", HIBERNATION))
        assert answer.status == 400, answer.body
        assert "hibernation" in answer.body
        assert our_instances(ec2) == before
        path = created(post_text(never, proxy, "/compute/", compute_body("t3.micro")),
                       never, "compute")
        suspend = curl(never, proxy, path + SUSPEND_LINK, "-X", "POST", "-H",
                       "Accept: text/plain")
        assert suspend.status == 400, suspend.body
        assert "no action suspend" in suspend.body
    finally:
        assert never.stop()

