"""
Tests for C{occid-images} end to end (L{occid.distribution.sync},
L{occid.distribution.command}): a real OCI registry (Debian's
docker-registry) with artefacts pushed by the oras SDK, a HEPiX list signed
with openssl smime and served over HTTPS by the test CA's host, small
sparse qcow2 disks from qemu-img, and moto's EC2 and EBS direct APIs with
two accounts.  Only occid-tagged resources are checked: moto's
RegisterImage ignores the block device mappings and makes a snapshot of
its own, so the blocks are verified with GetSnapshotBlock on occid's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from occid.config import parse
from occid.distribution.appliance import Refused
from occid.distribution.blocks import data_blocks
from occid.distribution.command import target_maker
from occid.distribution.convert import inspect
from occid.distribution.fetch import Http
from occid.distribution.sync import Target, run_pass, targets_of
from occid.ec2.account import Account, RecentIds, SecurityGroups
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import make_client
from occid.ec2.distributed import IMPORT_TAG, RETIRED_TAG, SOURCE_TAG, image_reference
from occid.ec2.tags import tag_dict
from occid.gsi.trust import TrustStore
from occid.occi import infrastructure as infra
from occid.occi.model import Resource
from tests.distributionservers import FileServer, Registry, make_qcow2
from tests.imagelists import ENDORSER_DN, endorser, image_entry, image_list, sign, soon
from tests.motoserver import PUBLIC_HOST, provider, successResultOf
from tests.pki import PKI

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-img") and shutil.which("docker-registry")),
    reason="needs qemu-utils and docker-registry (Debian packages; .ci/run installs them)")

FEDCLOUD, OTHER = "111111111111", "222222222222"
REGION = "eu-west-1"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The PKI, a registry, an HTTPS server and two disks, for the module."""
    root = tmp_path_factory.mktemp("distribution")
    pki = PKI(str(root / "pki"))
    pki.endorser = endorser(pki)
    registry = Registry(str(root))
    registry.start()
    served = root / "www"
    served.mkdir()
    files = FileServer(str(served), os.path.join(pki.directory, "hostcert.pem"),
                       os.path.join(pki.directory, "hostkey.pem"))
    files.start()
    disks = {}
    for name, seed in (("debian", 1), ("debian2", 2), ("alma", 3)):
        path = str(served / f"{name}.qcow2")
        disks[name] = (path, make_qcow2(path, data_mib=2, seed=seed))
    yield {"pki": pki, "registry": registry, "files": files, "www": served, "disks": disks,
           "root": root}
    files.stop()
    registry.stop()


ANNOTATIONS = {"eu.egi.cloud.tag": "2024.05", "eu.egi.cloud.image.title": "Debian 12 (EGI)",
               "org.openstack.glance.os_distro": "debian", "org.openstack.glance.os_version": "12",
               "org.openstack.glance.architecture": "x86_64",
               "org.openstack.glance.disk_format": "qcow2"}


def config_text(site, moto, sources: str, max_virtual_size: int = 2 << 30) -> str:
    """occid.toml for the two moto accounts, with C{sources}."""
    return f"""
[server]
host_cert = "/nonexistent/hostcert.pem"
host_key = "/nonexistent/hostkey.pem"
[grid]
ca_dir = "{site['pki'].certificates_dir}"
vomsdir = "/nonexistent/vomsdir"
[aws]
endpoint_url = "{moto.endpoint}"
region = "{REGION}"
{sources}
[images.distribution]
grace_period = 3600
max_virtual_size = {max_virtual_size}
work_dir = "{site['root'] / 'work'}"
upload_threads = 4
[[accounts]]
name = "fedcloud"
fqans = ["/fedcloud.egi.eu"]
role_arn = "arn:aws:iam::{FEDCLOUD}:role/occid"
[[accounts]]
name = "other"
fqans = ["/other.vo"]
role_arn = "arn:aws:iam::{OTHER}:role/occid"
"""


def registry_source(site, repository="egi_vm_images/debian"):
    return f"""
[[images.sources]]
name = "egi"
registry = "{site['registry'].url}"
repository = "{repository}"
vos = ["fedcloud.egi.eu"]
"""


def list_source(site, name="appdb.list"):
    return f"""
[[images.sources]]
name = "appdb"
image_list = "{site['files'].url}/{name}"
endorser = "{ENDORSER_DN}"
vos = ["fedcloud.egi.eu"]
"""


def publish_list(site, name="appdb.list", disk="alma", sha512=None, size=None, signer=None,
                 expires="2499-12-31T22:00:00Z", tamper=False) -> None:
    """Sign and serve a HEPiX list of one disk of the module."""
    path = site["disks"][disk][0]
    content = Path(path).read_bytes()
    entry = image_entry("c0482bc2-alma", f"{site['files'].url}/{os.path.basename(path)}",
                        sha512 or hashlib.sha512(content).hexdigest(), size or len(content),
                        title="AlmaLinux 9")
    signed = sign(image_list([entry], expires=expires), *(signer or site["pki"].endorser))
    if tamper:
        signed = signed.replace(b"AlmaLinux 9", b"AlmaLinux 8")
    (site["www"] / name).write_bytes(signed)


def ec2(moto, account=FEDCLOUD):
    """An EC2 client of moto C{account}."""
    client = boto3.client("ec2", region_name=REGION, endpoint_url=moto.endpoint)
    client.meta.events.register("before-sign.ec2.*", lambda request, **_: request.headers
                                .__setitem__("x-moto-account-id", account))
    return client


def ebs(moto, account=FEDCLOUD):
    client = boto3.client("ebs", region_name=REGION, endpoint_url=moto.endpoint)
    client.meta.events.register("before-sign.ebs.*", lambda request, **_: request.headers
                                .__setitem__("x-moto-account-id", account))
    return client


def tagged_images(moto, account=FEDCLOUD):
    """The account's AMIs imported by occid-images, with their tags."""
    images = ec2(moto, account).describe_images(
        Owners=["self"], Filters=[{"Name": "tag-key", "Values": [SOURCE_TAG]}])["Images"]
    return {image["ImageId"]: tag_dict(image) for image in images}


def tagged_snapshots(moto, account=FEDCLOUD):
    snapshots = ec2(moto, account).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag-key", "Values": [SOURCE_TAG]}])["Snapshots"]
    return {snapshot["SnapshotId"]: tag_dict(snapshot) for snapshot in snapshots}


class Writes:
    """The mutating AWS calls the targets made."""

    def __init__(self):
        self.calls = []

    def hook(self, model, **_):
        if not model.name.startswith(("Describe", "Get", "List")):
            self.calls.append(model.name)


def run(site, moto, sources, now=NOW, writes=None, dry_run=False, **keys):
    """One pass of occid-images over C{sources}; its report."""
    config = parse(config_text(site, moto, sources, **keys), "/etc/occid/occid.toml")
    make = target_maker(config)

    def counted(account, region):
        target = make(account, region)
        if writes is not None:
            for client in (target.ec2, target.ebs):
                client.meta.events.register("before-call", writes.hook)
        return target

    trust = TrustStore.load(site["pki"].certificates_dir, now)
    return run_pass(config, counted, Http(site["pki"].certificates_dir), trust, now, dry_run)


def check_blocks(moto, snapshot: str, raw: str) -> int:
    """Every data block of C{raw} is in C{snapshot}, byte for byte; their number."""
    client = ebs(moto)
    fd = os.open(raw, os.O_RDONLY)
    count = 0
    try:
        for index, data in data_blocks(fd, os.path.getsize(raw)):
            block = client.get_snapshot_block(SnapshotId=snapshot, BlockIndex=index,
                                              BlockToken="x")
            assert block["BlockData"].read() == data
            assert block["Checksum"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
            count += 1
    finally:
        os.close(fd)
    return count


def test_import_both_sources_then_nothing(site, moto):
    """
    One pass imports the registry's artefact and the list's image into the
    account of their VO only, with the provenance tags and every data block;
    a second pass makes no write at all.
    """
    site["registry"].push("egi_vm_images/debian", "1.0", site["disks"]["debian"][0], ANNOTATIONS)
    publish_list(site)
    sources = registry_source(site) + list_source(site)
    report = run(site, moto, sources)
    assert report.refused == [] and len(report.imported) == 2
    images = tagged_images(moto)
    assert tagged_images(moto, OTHER) == {}
    by_title = {tags["Name"]: tags for tags in images.values()}
    debian = by_title["Debian 12 (EGI)"]
    assert debian["eu.egi.cloud.tag"] == "2024.05"
    assert debian["eu.egi.cloud.image_ref"] == "egi_vm_images/debian:1.0"
    assert debian["vmcatcher_event_ad_mpuri"].startswith(
        f"{site['registry'].host}/egi_vm_images/debian:1.0-sha256:")
    assert (debian["os_distro"], debian["os_version"], debian["architecture"]) == (
        "debian", "12", "x86_64")
    alma = by_title["AlmaLinux 9"]
    assert alma["appdb_id"] == "c0482bc2-alma"
    assert alma["sha512"] == hashlib.sha512(
        Path(site["disks"]["alma"][0]).read_bytes()).hexdigest()
    snapshots = tagged_snapshots(moto)
    assert sorted(tags[IMPORT_TAG] for tags in snapshots.values()) == sorted(
        tags[IMPORT_TAG] for tags in images.values())
    for snapshot, tags in snapshots.items():
        disk = "debian" if tags["Name"].startswith("Debian") else "alma"
        assert check_blocks(moto, snapshot, site["disks"][disk][1]) == 5

    writes = Writes()
    again = run(site, moto, sources, writes=writes)
    assert again.imported == [] and again.refused == []
    assert writes.calls == []


def test_new_version_replaces_then_old_removed(site, moto):
    """
    A new tag replaces the old version at once (retired, no longer
    offered); after the grace period the old AMI and its snapshot go.
    """
    registry, sources = site["registry"], registry_source(site, "egi_vm_images/replaced")
    registry.push("egi_vm_images/replaced", "1.0", site["disks"]["debian"][0], ANNOTATIONS)
    run(site, moto, sources)
    (old,) = tagged_images(moto)
    registry.push("egi_vm_images/replaced", "2.0", site["disks"]["debian2"][0], ANNOTATIONS)
    report = run(site, moto, sources)
    assert [image for _, image in report.retired] == [old]
    images = tagged_images(moto)
    (new,) = [image for image, tags in images.items() if RETIRED_TAG not in tags]
    assert new != old and RETIRED_TAG in images[old]
    assert run(site, moto, sources, now=NOW + timedelta(minutes=30)).removed == []
    later = run(site, moto, sources, now=NOW + timedelta(hours=2))
    assert [image for _, image in later.removed] == [old]
    assert list(tagged_images(moto)) == [new]
    assert [tags[IMPORT_TAG] for tags in tagged_snapshots(moto).values()] == [
        images[new][IMPORT_TAG]]


def test_dropped_list_image_retired(site, moto):
    """An image of an expired list is retired like one its list dropped."""
    publish_list(site, "expiring.list")
    run(site, moto, list_source(site, "expiring.list"))
    (image,) = tagged_images(moto)
    publish_list(site, "expiring.list", expires=soon(NOW, -1))
    report = run(site, moto, list_source(site, "expiring.list"))
    assert [retired for _, retired in report.retired] == [image]
    assert any("the list expired" in reason for reason in report.refused)


def test_dry_run_changes_nothing(site, moto):
    """A dry run reports what it would import and writes nothing."""
    publish_list(site, "dry.list")
    writes = Writes()
    report = run(site, moto, list_source(site, "dry.list"), writes=writes, dry_run=True)
    assert len(report.imported) == 1 and writes.calls == [] and tagged_images(moto) == {}


def _refused(site, moto, sources, reason, **keys):
    report = run(site, moto, sources, **keys)
    assert any(reason in refusal for refusal in report.refused), report.refused
    assert tagged_images(moto) == {} and tagged_snapshots(moto) == {}


@pytest.mark.parametrize("change, reason", [
    ({"tamper": True}, "does not match its signature"),
    ({"signer": "other"}, "not by the configured endorser"),
    ({"signer": "rogue"}, "no CA of the trust directory issued"),
    ({"expires": "2001-01-01T00:00:00Z"}, "the list expired"),
    ({"sha512": "0" * 128}, "sha512 is not the list's"),
    ({"truncate": True}, "truncated"),
])
def test_list_refused(site, moto, change, reason):
    """A bad list or a bad download is refused with its reason; nothing is registered."""
    change = dict(change)
    signer = change.pop("signer", None)
    if signer == "other":
        change["signer"] = endorser(site["pki"], "/DC=org/DC=example/OU=Hosts/CN=other.example")
    elif signer == "rogue":
        rogue = site["pki"].issue_ca("/DC=org/DC=rogue/CN=Rogue CA", trusted=False)
        change["signer"] = endorser(site["pki"], "/DC=org/DC=example/CN=mallory", ca=rogue)
    if change.pop("truncate", False):
        path, _ = site["disks"]["alma"]
        whole = Path(path).read_bytes()
        (site["www"] / "short.qcow2").write_bytes(whole[:-1000])
        site["disks"]["short"] = (str(site["www"] / "short.qcow2"), None)
        change.update(disk="short", size=len(whole), sha512=hashlib.sha512(whole).hexdigest())
    publish_list(site, "bad.list", **change)
    _refused(site, moto, list_source(site, "bad.list"), reason)


def test_missing_egi_tag_refused(site, moto):
    """An artefact without eu.egi.cloud.tag is refused; nothing is registered."""
    annotations = {k: v for k, v in ANNOTATIONS.items() if k != "eu.egi.cloud.tag"}
    site["registry"].push("egi_vm_images/untagged", "1.0", site["disks"]["debian"][0], annotations)
    _refused(site, moto, registry_source(site, "egi_vm_images/untagged"),
             "has no eu.egi.cloud.tag annotation")


def test_virtual_size_over_limit_refused(site, moto):
    """A disk whose virtual size exceeds max_virtual_size is refused."""
    site["registry"].push("egi_vm_images/big", "1.0", site["disks"]["debian"][0], ANNOTATIONS)
    _refused(site, moto, registry_source(site, "egi_vm_images/big"),
             "exceeds [images.distribution] max_virtual_size", max_virtual_size=512 << 20)


def test_blob_digest_mismatch_refused(site, moto, tmp_path):
    """A blob whose content differs from its digest is refused."""
    registry = site["registry"]
    disk = tmp_path / "corrupt.qcow2"
    make_qcow2(str(disk), data_mib=1, seed=9)
    registry.push("egi_vm_images/corrupt", "1.0", str(disk), ANNOTATIONS)
    digest = "sha256:" + hashlib.sha256(disk.read_bytes()).hexdigest()
    blob = registry.blob_path(digest)
    data = bytearray(Path(blob).read_bytes())
    data[-1] ^= 0xFF
    Path(blob).write_bytes(bytes(data))
    _refused(site, moto, registry_source(site, "egi_vm_images/corrupt"), "the blob's digest is")


def test_kill_during_import_then_rerun(site, moto, tmp_path):
    """
    occid-images killed with SIGKILL in the middle of an import, then run
    again: one AMI, and no snapshot left without its AMI.
    """
    big = tmp_path / "big.qcow2"
    make_qcow2(str(big), data_mib=48, seed=5)
    site["registry"].push("egi_vm_images/killed", "1.0", str(big), ANNOTATIONS)
    config = tmp_path / "occid.toml"
    config.write_text(config_text(site, moto, registry_source(site, "egi_vm_images/killed")))
    command = [sys.executable, "-m", "occid.distribution.command", "--once",
               "--config", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not tagged_snapshots(moto) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert tagged_snapshots(moto) and tagged_images(moto) == {}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "left by an interrupted import" in done.stderr
    images = tagged_images(moto)
    assert len(images) == 1
    (tags,) = images.values()
    assert [t[IMPORT_TAG] for t in tagged_snapshots(moto).values()] == [tags[IMPORT_TAG]]


def _catalog(site, moto, name, sources):
    """The loaded account catalog of account C{name}, as the daemon builds it."""
    config = parse(config_text(site, moto, sources), "/etc/occid/occid.toml")
    client = make_client(config.aws, config.account(name))
    catalog = AccountCatalog(name, client, config.aws, config.images, PUBLIC_HOST)
    catalog.refresh()
    return config, client, catalog


def test_daemon_offers_imported_images(site, moto):
    """
    The daemon offers an imported image as os_tpl to the account of its VO
    only, whatever the [images] policy, titled with the appliance's title
    and with its references; a compute created from it runs; once retired,
    the one-minute look stops offering it.
    """
    site["registry"].push("egi_vm_images/offered", "1.0", site["disks"]["debian"][0], ANNOTATIONS)
    sources = registry_source(site, "egi_vm_images/offered")
    run(site, moto, sources)
    (image, tags), = tagged_images(moto).items()
    config, client, catalog = _catalog(site, moto, "fedcloud", sources)
    (mixin,) = catalog.templates.distributed
    assert (mixin.term, mixin.title) == (image, "Debian 12 (EGI)")
    attributes = {attribute.name: attribute.default for attribute in mixin.attributes}
    assert attributes["eu.egi.cloud.tag"] == "2024.05"
    assert attributes["eu.egi.fedcloud.appliance.appdb.mpuri"] == tags["vmcatcher_event_ad_mpuri"]
    assert image_reference(tags) == tags["vmcatcher_event_ad_mpuri"]
    assert any(category.term == image for category in catalog.catalog.mixins)
    assert _catalog(site, moto, "other", sources)[2].templates.distributed == ()

    account = Account(name="fedcloud", client=client, aws=config.aws, catalog=catalog,
                      groups=SecurityGroups(client, config.aws.ssh_cidr),
                      recent=RecentIds(sleep=lambda seconds: None))
    vm = successResultOf(provider(infra.COMPUTE, account).create(Resource(
        kind=infra.COMPUTE, id="", mixins=[mixin], attributes={"occi.core.title": "vm1"},
        links=[])))
    described = client.describe_instances(InstanceIds=[vm.id])["Reservations"][0]["Instances"][0]
    assert (described["ImageId"], described["State"]["Name"]) == (image, "running")

    ec2(moto).create_tags(Resources=[image], Tags=[{"Key": RETIRED_TAG, "Value": "x"}])
    assert catalog.refresh_distributed() is True
    assert catalog.templates.distributed == ()
    assert catalog.refresh_distributed() is False


def test_project_source(site, moto):
    """A project source imports the newest artefact of each repository it lists (/v2/_catalog)."""
    registry = site["registry"]
    registry.push("project_x/one", "1.0", site["disks"]["debian"][0], ANNOTATIONS)
    registry.push("project_x/two", "1.0", site["disks"]["alma"][0],
                  {**ANNOTATIONS, "eu.egi.cloud.image.title": "Two"})
    source = f"""
[[images.sources]]
name = "project"
registry = "{registry.url}"
project = "project_x"
vos = ["fedcloud.egi.eu"]
"""
    report = run(site, moto, source)
    assert report.refused == []
    assert sorted(tags["Name"] for tags in tagged_images(moto).values()) == [
        "Debian 12 (EGI)", "Two"]


def test_aws_failure_skips_the_target(site, moto):
    """An EC2 error in one target is logged and reported; the pass goes on."""
    publish_list(site, "failing.list")
    config = parse(config_text(site, moto, list_source(site, "failing.list")), "occid.toml")
    make = target_maker(config)

    def broken(account, region):
        target = make(account, region)
        target.ec2.meta.events.register(
            "before-call.ec2.DescribeImages",
            lambda **_: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="x")))
        return target

    trust = TrustStore.load(site["pki"].certificates_dir, NOW)
    report = run_pass(config, broken, Http(site["pki"].certificates_dir), trust, NOW)
    assert any("Could not connect" in refusal for refusal in report.refused)
    assert tagged_images(moto) == {}


@pytest.mark.parametrize("text, status", [("[server]\nlisten = 3\n", 2), (None, 0)])
def test_command_exit_status(site, tmp_path, text, status):
    """A bad configuration exits 2 naming the key; a file without sources has nothing to do."""
    path = tmp_path / "occid.toml"
    if text is None:
        text = config_text(site, type("M", (), {"endpoint": "http://127.0.0.1:1"}), "")
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "occid.distribution.command", "--once",
                           "--config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == status, done.stderr
    if status == 2:
        assert "[server] listen: must be a string" in done.stderr
    else:
        assert "no [[images.sources]]: nothing to do" in done.stderr


@pytest.mark.parametrize("options, reason", [
    (["-b", "{base}", "-F", "raw"], "the disk has a backing file"),
    (["-o", "data_file={base}"], "the disk has an external data file"),
])
def test_disks_reaching_other_files_refused(tmp_path, options, reason):
    """A qcow2 that would read another file of the host (backing or data file) is refused."""
    base = tmp_path / "secret.raw"
    base.write_bytes(b"secret" * 100)
    disk = tmp_path / "hostile.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2",
                    *[o.format(base=base) for o in options], str(disk), "1M"],
                   check=True, capture_output=True)
    with pytest.raises(Refused, match=reason):
        inspect(str(disk), "qcow2", 1 << 30)


def test_targets_per_vo_account_and_region(site, moto):
    """
    A source's targets are the accounts serving its VOs, in each region they
    serve, narrowed to the source's regions when it names some.
    """
    text = config_text(site, moto, """
[[images.sources]]
name = "everywhere"
image_list = "https://example.org/a.list"
endorser = "/CN=x"
vos = ["fedcloud.egi.eu", "other.vo"]
[[images.sources]]
name = "central"
image_list = "https://example.org/b.list"
endorser = "/CN=x"
vos = ["other.vo"]
regions = ["eu-central-1"]
""").replace(f'region = "{REGION}"', 'regions = ["eu-west-1", "eu-central-1"]')
    config = parse(text, "occid.toml")
    everywhere, central = config.images.sources

    def pairs(source):
        return [(t.account, t.region) for t in targets_of(
            config, source, lambda account, region: Target(account, region, None, None))]

    assert pairs(everywhere) == [("fedcloud", "eu-west-1"), ("fedcloud", "eu-central-1"),
                                 ("other", "eu-west-1"), ("other", "eu-central-1")]
    assert pairs(central) == [("other", "eu-central-1")]


def test_failed_registration_leaves_nothing(site, moto):
    """A RegisterImage refused by EC2 deletes the new snapshot; the next pass imports it."""
    publish_list(site, "refused.list")
    config = parse(config_text(site, moto, list_source(site, "refused.list")), "occid.toml")
    make = target_maker(config)

    def refusing(account, region):
        target = make(account, region)
        target.ec2.meta.events.register(
            "before-call.ec2.RegisterImage",
            lambda **_: (_ for _ in ()).throw(ClientError(
                {"Error": {"Code": "InvalidParameter", "Message": "no"}}, "RegisterImage")))
        return target

    trust = TrustStore.load(site["pki"].certificates_dir, NOW)
    report = run_pass(config, refusing, Http(site["pki"].certificates_dir), trust, NOW)
    assert any("InvalidParameter" in refusal for refusal in report.refused)
    assert tagged_images(moto) == {} and tagged_snapshots(moto) == {}
    assert len(run(site, moto, list_source(site, "refused.list")).imported) == 1
