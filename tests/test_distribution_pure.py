"""
Tests for the pure parts of appliance distribution: OCI annotations
(L{occid.distribution.oci}), the sync plan (L{occid.distribution.plan}),
the AMI's name and provenance tags (L{occid.distribution.provenance}) and
the blocks worth writing (L{occid.distribution.blocks}).
"""

import os
from datetime import UTC, datetime, timedelta

import pytest

from occid.distribution.appliance import Appliance, Refused
from occid.distribution.blocks import BLOCK_SIZE, data_blocks, is_zero
from occid.distribution.oci import appliance_of, newest, parse_manifest
from occid.distribution.plan import Found, plan
from occid.distribution.provenance import ami_name, retired_at, retired_value, tags_of

DIGEST = "sha256:" + "1" * 64
MANIFEST_DIGEST = "sha256:" + "2" * 64
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def manifest(annotations=None, layers=1, created=""):
    """An oras-like manifest of one disk layer."""
    annotations = {"eu.egi.cloud.tag": "2024.05", "eu.egi.cloud.image.title": "Ubuntu 22.04",
                   "org.openstack.glance.os_distro": "ubuntu",
                   "org.openstack.glance.os_version": "22.04",
                   "org.openstack.glance.architecture": "aarch64",
                   "org.openstack.glance.disk_format": "qcow2",
                   **({"org.opencontainers.image.created": created} if created else {}),
                   **(annotations or {})}
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": DIGEST, "size": 1234}] * layers,
            "annotations": {k: v for k, v in annotations.items() if v is not None}}


def test_oci_annotations():
    """An artefact's annotations make its appliance; the identifier is atrope's."""
    appliance = appliance_of(manifest(), MANIFEST_DIGEST, "egi", "registry.egi.eu",
                             "egi_vm_images/ubuntu", "22.04")
    assert appliance.key == "registry.egi.eu/egi_vm_images/ubuntu"
    assert appliance.reference == f"registry.egi.eu/egi_vm_images/ubuntu:22.04-{MANIFEST_DIGEST}"
    assert (appliance.title, appliance.egi_tag, appliance.image_ref) == (
        "Ubuntu 22.04", "2024.05", "egi_vm_images/ubuntu:22.04")
    assert (appliance.ec2_architecture, appliance.ec2_boot_mode) == ("arm64", "uefi")
    assert (appliance.digest, appliance.size, appliance.disk_format) == (DIGEST, 1234, "qcow2")
    assert appliance.url == f"/v2/egi_vm_images/ubuntu/blobs/{DIGEST}"


@pytest.mark.parametrize("changes, layers, reason", [
    ({"eu.egi.cloud.tag": None}, 1, "has no eu.egi.cloud.tag annotation"),
    ({}, 2, "has 2 layers, not one disk"),
    ({"org.openstack.glance.disk_format": "ova"}, 1, "not one qemu-img reads"),
])
def test_oci_refused(changes, layers, reason):
    """An artefact without the EGI tag, of several layers or an unreadable format is refused."""
    with pytest.raises(Refused, match=reason):
        appliance_of(manifest(changes, layers), MANIFEST_DIGEST, "egi", "r", "p/u", "1")


def test_parse_manifest():
    """A manifest that is not JSON or has no layers is refused."""
    with pytest.raises(Refused):
        parse_manifest(b"<html>")
    with pytest.raises(Refused):
        parse_manifest(b'{"manifests": []}')


def test_newest():
    """The newest artefact of a repository: by creation time, then by tag."""
    def candidate(tag, created=""):
        return tag, manifest(created=created), appliance_of(
            manifest(created=created), MANIFEST_DIGEST, "egi", "r", "p/u", tag)
    assert newest([candidate("1.9"), candidate("1.10")]).reference.startswith("r/p/u:1.10-")
    assert newest([candidate("2", "2024-01-01T00:00:00Z"),
                   candidate("1", "2025-01-01T00:00:00Z")]).reference.startswith("r/p/u:1-")


def appliance(key="deb", version="1"):
    """An appliance of source C{s}."""
    return Appliance(source="s", key=key, version=version, title="Debian 12", url="https://x",
                     size=1, reference=f"mp/{key}")


def test_plan_first_run_imports_everything():
    """With nothing found, every appliance is imported; leftover snapshots are orphans."""
    a, b = appliance("a"), appliance("b")
    done = plan({"a": a, "b": b}, [], {"snap-1": a.import_id}, NOW, 60)
    assert done.imports == (a, b) and done.orphans == ("snap-1",)


def test_plan_second_run_changes_nothing():
    """An appliance whose version has an AMI is not imported again; its snapshot is kept."""
    a = appliance("a")
    done = plan({"a": a}, [Found("ami-1", "a", a.import_id)], {"snap-1": a.import_id}, NOW, 60)
    assert done.empty


def test_plan_new_version_replaces():
    """A new version is imported and replaces the old one once registered."""
    old, new = appliance("a", "1"), appliance("a", "2")
    done = plan({"a": new}, [Found("ami-1", "a", old.import_id)], {}, NOW, 60)
    assert done.imports == (new,)
    assert done.replaces == {new.import_id: ("ami-1",)} and done.retire == ()


def test_plan_dropped_and_grace():
    """A dropped image is retired; a retired one goes after the grace period, not before."""
    a = appliance("a")
    assert plan({}, [Found("ami-1", "a", a.import_id)], {}, NOW, 60).retire == ("ami-1",)
    recent = Found("ami-1", "a", a.import_id, retired=NOW - timedelta(seconds=30))
    old = Found("ami-2", "b", "x", retired=NOW - timedelta(seconds=90))
    done = plan({}, [recent, old], {}, NOW, 60)
    assert done.remove == (old,) and done.retire == ()


def test_plan_unreadable_source_retires_nothing():
    """A source not read this time retires nothing, but expired retirements still go."""
    gone = Found("ami-2", "b", "x", retired=NOW - timedelta(days=2))
    done = plan(None, [Found("ami-1", "a", "y"), gone], {}, NOW, 60)
    assert done.retire == () and done.imports == () and done.remove == (gone,)


def test_plan_restore():
    """A retired AMI whose version is current again is offered again rather than reimported."""
    a = appliance("a")
    done = plan({"a": a}, [Found("ami-1", "a", a.import_id, retired=NOW)], {}, NOW, 60)
    assert done.restore == ("ami-1",) and done.imports == ()


def test_provenance():
    """The tags carry the ecosystem's provenance and occid's keys; the name is EC2-safe."""
    a = Appliance(source="s", key="k", version="v", title="Ubuntu 22.04 «LTS»", url="u", size=1,
                  reference="r", egi_tag="t", image_ref="p:t", os_distro="ubuntu")
    tags = tags_of(a, "f" * 128)
    assert tags["Name"] == "Ubuntu 22.04 «LTS»" and tags["occid:import"] == a.import_id
    assert (tags["eu.egi.cloud.tag"], tags["vmcatcher_event_ad_mpuri"], tags["sha512"]) == (
        "t", "r", "f" * 128)
    assert "appdb_id" not in tags
    assert ami_name(a) == f"Ubuntu 22.04 -LTS {a.import_id}"
    assert retired_at(retired_value(NOW)) == NOW and retired_at("soon") is None


def test_data_blocks(tmp_path):
    """Holes and all-zero blocks are skipped; data blocks come with their index, padded."""
    path = tmp_path / "disk.raw"
    with open(path, "wb") as disk:
        disk.truncate(10 * BLOCK_SIZE + 100)
        disk.seek(3 * BLOCK_SIZE + 5)
        disk.write(b"x")
        disk.seek(5 * BLOCK_SIZE)
        disk.write(bytes(BLOCK_SIZE))
        disk.seek(10 * BLOCK_SIZE)
        disk.write(b"y" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:
        found = list(data_blocks(fd, 10 * BLOCK_SIZE + 100))
    finally:
        os.close(fd)
    assert [index for index, _ in found] == [3, 10]
    assert all(len(data) == BLOCK_SIZE for _, data in found)
    assert is_zero(bytes(10)) and not is_zero(b"\0\1")


class FakeHttp:
    """An L{occid.distribution.fetch.Http} answering from a table; it records the requests."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []

    def read(self, url, headers=None):
        self.requests.append((url, dict(headers or {})))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            if "Authorization" not in (headers or {}):
                raise answer
            answer = self.answers[url + "#authorized"]
        return answer, {}


def test_harbor_listing_and_bearer_token():
    """
    A Harbor project is listed page by page through its API; a 401 with a
    Bearer challenge gets an anonymous token for the repository's scope,
    sent on the retry and on blob downloads.
    """
    from occid.distribution.fetch import HttpError
    from occid.distribution.registry import Registry

    base = "https://registry.egi.eu"
    challenge = 'Bearer realm="https://registry.egi.eu/service/token",service="harbor-registry"'
    http = FakeHttp({
        f"{base}/api/v2.0/projects/egi_vm_images/repositories?page=1&page_size=100":
            b'[{"name": "egi_vm_images/ubuntu"}, {"name": "egi_vm_images/alma"}]',
        f"{base}/v2/egi_vm_images/ubuntu/tags/list": HttpError("u", 401, challenge),
        f"{base}/v2/egi_vm_images/ubuntu/tags/list#authorized": b'{"tags": ["22.04"]}',
        "https://registry.egi.eu/service/token?service=harbor-registry&scope="
        "repository%3Aegi_vm_images%2Fubuntu%3Apull": b'{"token": "t0k"}',
    })
    registry = Registry(base, http)
    assert registry.repositories("egi_vm_images", harbor=True) == [
        "egi_vm_images/alma", "egi_vm_images/ubuntu"]
    assert registry.tags("egi_vm_images/ubuntu") == ["22.04"]
    assert http.requests[-1][1]["Authorization"] == "Bearer t0k"
    assert registry.blob_headers("egi_vm_images/ubuntu") == {"Authorization": "Bearer t0k"}
    assert registry.blob_headers("egi_vm_images/alma") == {}


def test_list_token_sent(tmp_path):
    """A source's AppDB token goes with the list's request as HTTP basic; a missing file is refused."""
    from occid.distribution.sources import read_source
    from occid.imagesconfig import ImageSource

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    url = "https://appdb.example.org/store/vo/fedcloud.egi.eu/image.list"
    http = FakeHttp({url: b"Content-Type: text/plain\n\nnot signed"})
    source = ImageSource(name="appdb", image_list=url, endorser="/CN=x", token_file=str(token),
                         vos=("fedcloud.egi.eu",))
    read = read_source(source, http, None, NOW)
    assert read.wanted is None and "not signed" in read.refusals[0]
    assert http.requests == [(url, {"Authorization": "Basic czNjcmV0Ongtb2F1dGgtYmFzaWM="})]
    missing = ImageSource(name="appdb", image_list=url, endorser="/CN=x",
                          token_file=str(tmp_path / "none"), vos=("fedcloud.egi.eu",))
    assert "No such file" in read_source(missing, http, None, NOW).refusals[0]
