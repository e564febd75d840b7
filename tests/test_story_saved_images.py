# -*- test-case-name: tests.test_story_saved_images -*-
"""
Issue 11, point 2, end to end: the images users save.  The real daemon over
TLS (C{[images] policy = "listed"}, the sample's and the demo's), curl with
C{voms-proxy-fake} proxies, two VOs in two moto accounts (tests/test_story.py:
testvo with C{visibility = "owner"} and a manager FQAN, othervo with
C{visibility = "vo"}).

  - A saved image is offered back, under the listed policy, to those who see
    its maker: a compute can be created from it.
  - C{DELETE} with an empty body on its os_tpl location, by its maker or a
    manager, deregisters it and deletes its snapshots; it is offered no
    more.  One who cannot see it gets 404; a VO member who sees it but
    neither made it nor manages gets 403; a site-listed image is 403.
"""

from __future__ import annotations

import re

import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.motoserver import DEBIAN
from tests.pki import USER_DN
from tests.test_story import (  # noqa: F401  (module fixtures)
    ACCOUNTS,
    INFRA,
    MEMBERS,
    OS_TPL_SCHEME,
    TEXT,
    action,
    clients,
    create_compute,
    created,
    ours,
    pki,
    post_text,
    proxies,
)

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]


@pytest.fixture(scope="module")
def daemon(pki, moto_server, clients, tmp_path_factory):  # noqa: F811
    """One daemon for the module, on the two accounts of tests/test_story.py."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint,
                    accounts=ACCOUNTS)
    yield from started(daemon)


def save(daemon, proxy, compute: str, name: str) -> str:
    """Trigger save on C{compute}; the AMI id of the os_tpl it answers."""
    answer = post_text(daemon, proxy, compute + "?action=save",
                       f'{action("save")}\nX-OCCI-Attribute: name="{name}"')
    assert answer.status == 200, answer.body
    found = re.search(r"Category: (ami-[0-9a-f]+);", answer.body)
    assert found, answer.body
    return found.group(1)


def delete_image(daemon, proxy, ami: str, *body: str):
    """DELETE the os_tpl location of C{ami}, with C{body} (empty: delete the image)."""
    data = ("--data-binary", body[0]) if body else ()
    return curl(daemon, proxy, f"/mixin/os_tpl/{ami}/", "-X", "DELETE", *TEXT, *data)


def from_image(daemon, proxy, ami: str):
    """The answer to a compute create from os_tpl C{ami}."""
    return post_text(daemon, proxy, "/compute/", "\n".join([
        f'Category: compute; scheme="{INFRA}"; class="kind"',
        f'Category: {ami}; scheme="{OS_TPL_SCHEME}"; class="mixin"']))


def snapshots_of(ec2, image: dict) -> list[str]:
    """The snapshots behind C{image} that EC2 still has."""
    ids = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", ())
           if m.get("Ebs", {}).get("SnapshotId")]
    return [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
            if s["SnapshotId"] in ids]


def images_of(ec2, owner: str) -> dict[str, dict]:
    """The account's images tagged with owner hash C{owner}, by id."""
    return {i["ImageId"]: i for i in ours(ec2.describe_images(Owners=["self"])["Images"], owner)}


def test_saved_image_offered_under_listed_policy_and_deleted_by_its_maker(
        daemon, proxies, clients):  # noqa: F811
    """
    Under policy listed the maker launches from its saved image (before:
    400 unknown mixin); another member (owner visibility) gets 404 on it;
    the maker's DELETE with an empty body deregisters it and deletes its
    snapshots, after which launching from it is 400 and a second DELETE 404.
    """
    ec2, member = clients["testvo"], proxies["member"]
    compute = create_compute(daemon, member, "golden-source")
    ami = save(daemon, member, compute, "golden")
    image = ec2.describe_images(ImageIds=[ami])["Images"][0]
    assert snapshots_of(ec2, image)
    assert from_image(daemon, member, ami).status == 201

    assert delete_image(daemon, proxies["alice"], ami).status == 404
    answer = delete_image(daemon, member, ami)
    assert answer.status == 200, answer.body
    assert ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "image-id", "Values": [ami]}])["Images"] == []
    assert snapshots_of(ec2, image) == []
    refused = from_image(daemon, member, ami)
    assert refused.status == 400, refused.body
    assert delete_image(daemon, member, ami).status == 404
    assert ami not in images_of(ec2, owner_hash(USER_DN))


def test_manager_deletes_a_members_saved_image(daemon, proxies, clients):  # noqa: F811
    """The manager FQAN of testvo deletes a member's saved image."""
    ec2 = clients["testvo"]
    ami = save(daemon, proxies["bob"], create_compute(daemon, proxies["bob"], "bobs"), "bobs")
    answer = delete_image(daemon, proxies["carol"], ami)
    assert answer.status == 200, answer.body
    assert ami not in images_of(ec2, owner_hash(MEMBERS["bob"][0]))


def test_vo_member_who_did_not_save_it_is_403(daemon, proxies, clients):  # noqa: F811
    """
    Under visibility vo, another member sees the image (and may launch from
    it) but its DELETE is 403 and the image stays; the maker's succeeds.
    """
    ec2 = clients["othervo"]
    dave, erin = proxies["dave"], proxies["erin"]
    ami = save(daemon, dave, create_compute(daemon, dave, "daves"), "daves")
    assert from_image(daemon, erin, ami).status == 201
    refused = delete_image(daemon, erin, ami)
    assert refused.status == 403, refused.body
    assert "saved" in refused.body
    assert ami in images_of(ec2, owner_hash(MEMBERS["dave"][0]))
    assert delete_image(daemon, dave, ami).status == 200
    assert ami not in images_of(ec2, owner_hash(MEMBERS["dave"][0]))


def test_site_listed_image_and_entity_lists_are_403(daemon, proxies):  # noqa: F811
    """
    A listed (site) image cannot be deleted, even by a manager; a DELETE
    naming entities on an os_tpl keeps its meaning (members of occid's
    mixins cannot be changed there): 403.
    """
    answer = delete_image(daemon, proxies["carol"], DEBIAN)
    assert answer.status == 403, answer.body
    assert "site" in answer.body
    compute = create_compute(daemon, proxies["member"], "listed")
    answer = delete_image(daemon, proxies["member"], DEBIAN, f"X-OCCI-Location: {compute}")
    assert answer.status == 403, answer.body
