# -*- test-case-name: tests.test_story_snapshots -*-
"""
Issue 11, EBS snapshots end to end: the real daemon over TLS, curl
presenting a C{voms-proxy-fake} proxy, a moto EC2 server.

  - The C{snapshot} kind lives at C{/snapshot/}, is declared in the query
    interface and renders in every media type (and rOCCI's legacy JSON).
  - A storage's C{snapshot} and C{backup} actions answer 201 with the
    C{Location} of the new snapshot, tagged for its maker.
  - A storage create naming a snapshot restores it; an unknown one is 404,
    a size below the snapshot's 400, and neither makes a volume.
  - Deleting a snapshot removes it; one a saved image uses is 409 naming
    the image.
"""

from __future__ import annotations

import json

import pytest

from occid.gsi.principal import owner_hash
from tests import gridtools
from tests.daemon import Daemon, curl, have_curl, started
from tests.pki import USER_DN
from tests.test_story import INFRA, created, ours, post_text
from tests.test_story_leaks import delete, new_compute

pytestmark = [
    *gridtools.grid_tools,
    pytest.mark.skipif(not have_curl(), reason="curl absent: apt-get install curl"),
]

OWNER = owner_hash(USER_DN)
SNAPSHOT_SCHEME = "http://schemas.ec2.aws.amazon.com/occi/infrastructure#"
VOLUME_SCHEME = "http://schemas.ec2.aws.amazon.com/occi/infrastructure/storage#"
STORAGE_ACTION = "http://schemas.ogf.org/occi/infrastructure/storage/action#"


@pytest.fixture(scope="module")
def daemon(pki, moto_server, ec2, tmp_path_factory):
    """One daemon for the module."""
    daemon = Daemon(str(tmp_path_factory.mktemp("occid")), pki, moto_server.endpoint)
    yield from started(daemon)


def new_storage(daemon, proxy, size: int, *lines: str):
    """POST a storage of C{size} GiB with the extra text/plain C{lines}; the answer."""
    return post_text(daemon, proxy, "/storage/", "\n".join([
        f'Category: storage; scheme="{INFRA}"; class="kind"',
        'X-OCCI-Attribute: occi.core.title="data"',
        f"X-OCCI-Attribute: occi.storage.size={size}", *lines]))


def restoring(snapshot: str) -> tuple[str, str]:
    """The text/plain lines of a storage create restoring C{snapshot}."""
    return (f'Category: aws_ec2_ebs_volume; scheme="{VOLUME_SCHEME}"; class="mixin"',
            f'X-OCCI-Attribute: com.amazon.aws.ec2.snapshot_id="{snapshot}"')


def trigger(daemon, proxy, path: str, term: str):
    """POST the storage action C{term} to C{path}."""
    return post_text(daemon, proxy, f"{path}?action={term}",
                     f'Category: {term}; scheme="{STORAGE_ACTION}"; class="action"')


def volume_ids(ec2) -> set[str]:
    """The volumes of ours in moto."""
    return {v["VolumeId"] for v in ours(ec2.describe_volumes()["Volumes"], OWNER)}


def test_snapshot_kind_take_restore_delete(daemon, proxy, ec2):
    """
    snapshot and backup answer 201 with the new snapshot's location (before:
    200 and no snapshot kind); the snapshot is listed and rendered in every
    media type, restored into a new volume, refused a create, and deleted.
    """
    model = curl(daemon, proxy, "/-/", "-H", "Accept: text/plain").body
    assert (f'Category: snapshot; scheme="{SNAPSHOT_SCHEME}"; class="kind"' in model
            and 'location="/snapshot/"' in model), model

    volume = created(new_storage(daemon, proxy, 2), daemon, "storage")
    taken = [created(trigger(daemon, proxy, volume, term), daemon, "snapshot")
             for term in ("snapshot", "backup")]
    snapshot_id = taken[0].rsplit("/", 1)[1]
    [described] = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert described["VolumeId"] == volume.rsplit("/", 1)[1]
    assert ours([described], OWNER) == [described]

    listing = curl(daemon, proxy, "/snapshot/", "-H", "Accept: text/uri-list")
    assert set(listing.body.split()) == {daemon.url + path for path in taken}
    for accept, header in (("text/plain", ()), ("text/occi", ()),
                           ("application/occi+json", ()),
                           ("application/occi+json",
                            ("-H", "User-Agent: rOCCI-cli/4.3.10 OCCI/1.1"))):
        answer = curl(daemon, proxy, taken[0], "-H", f"Accept: {accept}", *header)
        assert answer.status == 200, (accept, answer.body)
        rendered = answer.body + answer.headers if accept == "text/occi" else answer.body
        assert volume.rsplit("/", 1)[1] in rendered and "volume_size" in rendered, accept
    assert json.loads(curl(daemon, proxy, taken[0], "-H", "Accept: application/occi+json")
                      .body)["kind"] == SNAPSHOT_SCHEME + "snapshot"

    restored = created(new_storage(daemon, proxy, 3, *restoring(daemon.url + taken[0])),
                       daemon, "storage")
    [made] = ec2.describe_volumes(VolumeIds=[restored.rsplit("/", 1)[1]])["Volumes"]
    assert made["SnapshotId"] == snapshot_id and made["Size"] == 3

    before = volume_ids(ec2)
    unknown = new_storage(daemon, proxy, 3, *restoring("snap-0123456789abcdef0"))
    assert unknown.status == 404, unknown.body
    small = new_storage(daemon, proxy, 1, *restoring(snapshot_id))
    assert small.status == 400 and snapshot_id in small.body, small.body
    assert volume_ids(ec2) == before

    refused = post_text(daemon, proxy, "/snapshot/",
                        f'Category: snapshot; scheme="{SNAPSHOT_SCHEME}"; class="kind"')
    assert refused.status == 403 and "action=snapshot" in refused.body, refused.body

    for path in (*taken, restored, volume):
        assert delete(daemon, proxy, path).status == 200, path
    assert ours(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"], OWNER) == []
    assert curl(daemon, proxy, taken[0]).status == 404


def test_snapshot_of_a_saved_image_is_409(daemon, proxy, ec2):
    """
    Deleting a snapshot a saved image uses answers 409 naming the image,
    and keeps it.  moto cannot tag an image's snapshots at CreateImage, so
    the test tags it as EC2 would (TagSpecifications of ResourceType
    snapshot).
    """
    compute = new_compute(daemon, proxy)
    saved = post_text(daemon, proxy, f"{compute}?action=save", 'X-OCCI-Attribute: name="golden"')
    assert saved.status == 200, saved.body
    ami = saved.body.split(";")[0].split(": ")[1]
    [image] = ec2.describe_images(ImageIds=[ami])["Images"]
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.create_tags(Resources=[snapshot_id], Tags=[
        t for t in image["Tags"] if t["Key"].startswith("occid:")])

    answer = delete(daemon, proxy, f"/snapshot/{snapshot_id}")
    assert answer.status == 409 and ami in answer.body, answer.body
    assert ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]

    ec2.deregister_image(ImageId=ami)
    assert delete(daemon, proxy, f"/snapshot/{snapshot_id}").status == 200
    assert delete(daemon, proxy, compute).status == 200
