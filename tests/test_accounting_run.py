"""
Tests for C{occid-accounting} against moto (L{occid.accounting.run},
L{occid.accounting.command}): the records of two accounts and two VOs with
every field checked, a simulated month with stops, a hibernation, lost and
killed runs across a month boundary, a 3-hour gap, the spools read back
with dirq and parsed by C{tests/apel.py}, and C{--dry-run} on the demo's
configuration.

moto keeps C{LaunchTime} at the first launch, keeps terminated instances
forever and dates stops by the wall clock; L{VirtualEC2} makes its answers
behave like EC2 on an injected clock: C{LaunchTime} moves on each start,
stops and terminations are dated in C{StateTransitionReason}, and a
terminated instance leaves the listing an hour after its end.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from dirq.QueueSimple import QueueSimple

from occid.accounting.cache import Cache
from occid.accounting.command import CLOUD_TYPE, main
from occid.accounting.records import Owner, Site
from occid.accounting.run import VANISH_AFTER, Period, Target, owner_of, run
from occid.accounting.spool import Spools
from occid.accounting.usage import USAGE_TAG, encode
from occid.accountingconfig import AccountingConfig
from occid.demo.credentials import DemoFiles
from occid.demo.issuer import Issuer
from occid.demo.preparation import Demo, config_text, demo_images
from occid.gsi.principal import owner_hash
from tests.apel import parse_cloud, parse_ip, parse_star
from tests.motoserver import DEBIAN, REGION

pytestmark = pytest.mark.moto

SITE = Site(name="EXAMPLE-AWS", service="occi.test", endpoint="https://occi.test:11443",
            cloud_type=CLOUD_TYPE, benchmark_type="HEPSPEC06")
JANE = "/DC=org/DC=example/OU=Users/CN=Jane Doe"
JOHN = "/DC=org/DC=example/OU=Users/CN=John Roe"
DAY = 86400
STEP = 900


class Clock:
    """The injected clock: epoch seconds, moved by the test."""

    def __init__(self, start: datetime):
        self.now = int(start.timestamp())

    def advance(self, seconds: int) -> None:
        self.now += seconds


class VirtualEC2:
    """
    One account's moto client whose DescribeInstances answers behave like
    EC2 on the test's clock (see the module docstring).
    """

    def __init__(self, endpoint: str, account_id: str, clock: Clock):
        self.clock = clock
        self.client = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
        self.client.meta.events.register("before-sign.ec2.*", self._account(account_id))
        self.client.meta.events.register("after-call.ec2.DescribeInstances", self._rewrite)
        self.launched: dict[str, int] = {}
        self.first: dict[str, int] = {}
        self.changed: dict[str, int] = {}
        self.hibernated: set[str] = set()
        self.ended: dict[str, int] = {}

    @staticmethod
    def _account(account_id):
        def add_header(request, **kwargs):
            request.headers["x-moto-account-id"] = account_id
        return add_header

    def _stamp(self, seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    def _rewrite(self, parsed, **kwargs):
        for reservation in parsed.get("Reservations", ()):
            kept = []
            for instance in reservation["Instances"]:
                id = instance["InstanceId"]
                if id in self.ended and self.clock.now - self.ended[id] > VANISH_AFTER:
                    continue  # EC2 forgets it
                instance["LaunchTime"] = self._stamp(self.launched[id])
                for interface in instance.get("NetworkInterfaces", ()):
                    interface["Attachment"]["AttachTime"] = self._stamp(self.first[id])
                for mapping in instance.get("BlockDeviceMappings", ()):
                    mapping["Ebs"]["AttachTime"] = self._stamp(self.first[id])
                if id in self.changed and instance["State"]["Name"] != "running":
                    instance["StateTransitionReason"] = (
                        f"User initiated ({self._stamp(self.changed[id]):%Y-%m-%d %H:%M:%S} GMT)")
                if id in self.hibernated:
                    instance["StateReason"] = {"Code": "Client.UserInitiatedHibernate"}
                kept.append(instance)
            reservation["Instances"] = kept

    def launch(self, tags: dict[str, str], instance_type: str = "t3.small") -> str:
        """A VM launched now, tagged as the daemon tags its creates."""
        id = self.client.run_instances(
            ImageId=DEBIAN, InstanceType=instance_type, MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": k, "Value": v} for k, v in tags.items()]}] if tags else [],
        )["Instances"][0]["InstanceId"]
        self.launched[id] = self.first[id] = self.clock.now
        return id

    def stop(self, id: str, hibernate: bool = False) -> None:
        self.client.stop_instances(InstanceIds=[id], Hibernate=hibernate)
        self.changed[id] = self.clock.now
        if hibernate:
            self.hibernated.add(id)

    def start(self, id: str) -> None:
        self.client.start_instances(InstanceIds=[id])
        self.launched[id] = self.clock.now
        self.hibernated.discard(id)

    def terminate(self, id: str) -> None:
        self.client.terminate_instances(InstanceIds=[id])
        self.changed[id] = self.ended[id] = self.clock.now


def tags_of(user: str, vo: str, fqan: str | None = None) -> dict[str, str]:
    """The ownership tags of a create by C{user} of C{vo} (occid.ec2.tags.owner_tags)."""
    tags = {"Name": f"vm of {user[-8:]}", "occid:owner": owner_hash(user), "occid:dn": user,
            "occid:vo": vo}
    if fqan:
        tags["occid:fqan"] = fqan
    return tags


@pytest.fixture
def spools(tmp_path):
    """The accounting section writing into C{tmp_path}."""
    return AccountingConfig(
        site_name="EXAMPLE-AWS", cloud_spool=str(tmp_path / "cloud"),
        storage_spool=str(tmp_path / "storage"), ip_spool=str(tmp_path / "ip"),
        cache=str(tmp_path / "cache.json"), benchmarks={"t3.small": 10.5})


def read_spool(path: str) -> list[str]:
    """Every message in the dirq spool at C{path}, oldest first, as ssmsend reads them."""
    if not os.path.isdir(path):
        return []
    queue, messages = QueueSimple(path), []
    name = queue.first()
    while name:
        if queue.lock(name):
            messages.append(queue.get(name).decode("utf-8"))
            queue.unlock(name)
        name = queue.next()
    return messages


def apel_server(messages: list[str]) -> dict[tuple[str, int, int], dict]:
    """
    What an APEL server keeps from cloud C{messages}: per VMUUID and month
    of the measurement time, the newest record (REPLACE).
    """
    kept = {}
    for message in messages:
        for record in parse_cloud(message):
            if record["Status"] == "completed":
                measured = record["EndTime"]
            else:
                measured = record["StartTime"] + record["SuspendDuration"] + record["WallDuration"]
            when = datetime.fromtimestamp(measured, UTC)
            kept[(record["VMUUID"], when.year, when.month)] = record
    return kept


def one_run(targets, accounting, clock, **kwargs):
    """One run at the clock's time into the spools, with the cache file."""
    return run(targets, SITE, accounting, Spools(accounting), Cache(accounting.cache), clock.now,
               **kwargs)


def test_every_field_of_two_accounts_and_two_vos(moto, spools):
    """
    Two accounts serving two VOs: each VM's record names its site, service,
    user, FQAN, account, sizes and benchmark; a VM occid did not create is
    accounted to its account's VO with no user; volumes become STAR records
    and occid's elastic IPs public IP records.
    """
    clock = Clock(datetime(2027, 3, 1, tzinfo=UTC))
    alpha = VirtualEC2(moto.endpoint, "111111111111", clock)
    beta = VirtualEC2(moto.endpoint, "222222222222", clock)
    jane = alpha.launch(tags_of(JANE, "fedcloud.egi.eu", "/fedcloud.egi.eu/Role=VMManager"))
    foreign = alpha.launch({})
    john = beta.launch(tags_of(JOHN, "vo.example.org", "/vo.example.org"), "m5.large")
    zone = beta.client.describe_instances(InstanceIds=[john])["Reservations"][0]["Instances"][0][
        "Placement"]["AvailabilityZone"]
    volume = beta.client.create_volume(Size=30, AvailabilityZone=zone, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in
                                            tags_of(JOHN, "vo.example.org", "/vo.example.org").items()]}])
    beta.client.attach_volume(VolumeId=volume["VolumeId"], InstanceId=john, Device="/dev/sdf")
    beta.client.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
        {"Key": k, "Value": v} for k, v in
        dict(tags_of(JOHN, "vo.example.org", "/vo.example.org"), **{"occid:managed": "public"}).items()]}])
    targets = [Target("fedcloud", REGION, alpha.client, "fedcloud.egi.eu"),
               Target("other", REGION, beta.client, "vo.example.org")]
    clock.advance(3600)
    report = one_run(targets, spools, clock)
    assert report.problems == [] and report.records == {"cloud": 3, "storage": 4, "ip": 1}
    assert report.tags_written == 3
    records = {r["VMUUID"].split()[0].rsplit("/", 1)[1]: r
               for m in read_spool(spools.cloud_spool) for r in parse_cloud(m)}
    start = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())
    assert records[jane] == {
        "VMUUID": f"https://occi.test:11443/compute/{jane} 2027-03-01 00:00:00+00:00",
        "SiteName": "EXAMPLE-AWS", "CloudComputeService": "occi.test",
        "MachineName": f"vm of {JANE[-8:]}", "LocalUserId": owner_hash(JANE),
        "LocalGroupId": "fedcloud", "GlobalUserName": JANE,
        "FQAN": "/fedcloud.egi.eu/Role=VMManager", "Status": "started", "StartTime": start,
        "SuspendDuration": 0, "WallDuration": 3600, "CpuDuration": 7200, "CpuCount": 2.0,
        "PublicIPCount": 1, "Memory": 2048, "Disk": 8, "BenchmarkType": "HEPSPEC06",
        "Benchmark": 10.5, "ImageId": DEBIAN, "CloudType": CLOUD_TYPE}
    assert "GlobalUserName" not in records[foreign] and "LocalUserId" not in records[foreign]
    assert records[foreign]["FQAN"] == "fedcloud.egi.eu"
    assert (records[john]["FQAN"], records[john]["LocalGroupId"]) == ("/vo.example.org", "other")
    assert (records[john]["CpuCount"], records[john]["Memory"], records[john]["Disk"]) == (2.0, 8192, 38)
    assert records[john]["Benchmark"] == 0.0
    stars = [r for m in read_spool(spools.storage_spool) for r in parse_star(m)]
    attached = next(r for r in stars if r["RecordId"].endswith(volume["VolumeId"]))
    assert attached["ResourceCapacityUsed"] == 30 * 2 ** 30
    assert (attached["Group"], attached["UserIdentity"]) == ("vo.example.org", JOHN)
    [ip] = [r for m in read_spool(spools.ip_spool) for r in parse_ip(m)]
    assert (ip["IPCount"], ip["GlobalUserName"], ip["FQAN"]) == (1, JOHN, "/vo.example.org")
    tag = {t["Key"]: t["Value"] for t in alpha.client.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [jane]}])["Tags"]}[USAGE_TAG]
    assert tag == f"1 {start} 0 0 {start} pending"
    clock.advance(STEP)
    assert one_run(targets, spools, clock).tags_written == 0


class Killed(BaseException):
    """A kill -9 in the middle of a run."""


class KilledAtPut(Spools):
    """Spools whose owner is killed as it is about to put the cloud message."""

    def put(self, kind, message):
        if kind == "cloud":
            raise Killed()
        super().put(kind, message)


def test_a_month_of_one_vm(moto, spools):
    """
    One VM runs 10 days, stops 5 (hibernated), runs 15 and ends, from
    20 January: runs every 15 minutes, two lost, one killed after its
    message and before its tag write, one killed before its message.
    The final record is completed with WallDuration 25 days and
    SuspendDuration 5 days, within one interval; January's record (the
    APEL server's view, REPLACE per VMUUID and month) holds January's use.
    """
    clock = Clock(datetime(2027, 1, 20, tzinfo=UTC))
    ec2 = VirtualEC2(moto.endpoint, "111111111111", clock)
    vm = ec2.launch(tags_of(JANE, "fedcloud.egi.eu", "/fedcloud.egi.eu"))
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu")]
    events = {10 * DAY: lambda: ec2.stop(vm, hibernate=True), 15 * DAY: lambda: ec2.start(vm),
              30 * DAY: lambda: ec2.terminate(vm)}
    lost = {5 * DAY, 20 * DAY + 7 * STEP}
    killed_after_message = 12 * DAY + 3 * STEP
    killed_before_message = 15 * DAY + 1 * STEP
    tag_writes = 0

    def write_usage(client, id, usage):
        nonlocal tag_writes
        if elapsed == killed_after_message:
            raise Killed()
        tag_writes += 1
        client.create_tags(Resources=[id], Tags=[{"Key": USAGE_TAG, "Value": encode(usage)}])

    start = clock.now
    for elapsed in range(0, 30 * DAY + 2 * STEP, STEP):
        clock.now = start + elapsed
        if elapsed in events:
            events[elapsed]()
        if elapsed in lost:
            continue
        outbox = KilledAtPut(spools) if elapsed == killed_before_message else Spools(spools)
        try:
            run(targets, SITE, spools, outbox, Cache(spools.cache), clock.now,
                write_usage=write_usage)
        except Killed:
            assert elapsed in (killed_after_message, killed_before_message)
    kept = apel_server(read_spool(spools.cloud_spool))
    [final] = [r for (uuid, year, month), r in kept.items() if month == 2]
    assert final["Status"] == "completed"
    assert abs(final["WallDuration"] - 25 * DAY) <= STEP
    assert abs(final["SuspendDuration"] - 5 * DAY) <= STEP
    assert final["EndTime"] == start + 30 * DAY
    [january] = [r for (uuid, year, month), r in kept.items() if month == 1]
    assert abs(january["WallDuration"] - 10 * DAY) <= STEP
    assert abs(january["SuspendDuration"] - 2 * DAY) <= STEP
    assert january["Status"] == "suspended"
    # Checkpoints change at the first sight, the stop, the start and the end.
    assert tag_writes == 4


def test_a_three_hour_gap_is_reported(moto, spools):
    """
    A run three hours after the previous one says so, and names the
    instance that ended in between and left the listing unseen.
    """
    clock = Clock(datetime(2027, 5, 1, tzinfo=UTC))
    ec2 = VirtualEC2(moto.endpoint, "111111111111", clock)
    vm = ec2.launch(tags_of(JANE, "fedcloud.egi.eu"))
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu")]
    assert one_run(targets, spools, clock).problems == []
    clock.advance(STEP)
    ec2.terminate(vm)
    clock.advance(3 * 3600 - STEP)
    problems = one_run(targets, spools, clock).problems
    assert problems == [
        "fedcloud/eu-west-1: 3.0 h since the last run (2027-05-01T00:00:00Z): instances "
        "terminated in between may have left EC2's listing before their end was seen",
        f"fedcloud/eu-west-1: {vm} left EC2's listing before its end was seen; its last record stands"]


def test_resend_a_past_period(moto, spools):
    """C{--from}/C{--to} re-sends the records as of the end of the period and writes no tag."""
    clock = Clock(datetime(2027, 5, 1, tzinfo=UTC))
    ec2 = VirtualEC2(moto.endpoint, "111111111111", clock)
    ec2.launch(tags_of(JANE, "fedcloud.egi.eu"))
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu")]
    one_run(targets, spools, clock)
    clock.advance(2 * DAY)
    report = one_run(targets, spools, clock, period=Period(clock.now - 2 * DAY, clock.now - DAY))
    assert report.tags_written == 0
    last = parse_cloud(read_spool(spools.cloud_spool)[-1])[0]
    assert (last["WallDuration"], last["Status"]) == (DAY, "started")


def test_dry_run_on_the_demo_configuration(moto, tmp_path):
    """
    C{occid-accounting --dry-run} with the demo's occid.toml pointing at
    the emulator prints valid cloud, STAR and public IP messages for its
    VM, volumes and address, and writes no spool and no tag.
    """
    files = DemoFiles(str(tmp_path))
    demo = Demo(files=files, port=12443, emulator_port=moto.port, images=demo_images(),
                issuer=Issuer("http://127.0.0.1:15998"))
    path = tmp_path / "occid.toml"
    path.write_text(config_text(demo), encoding="utf-8")
    client = boto3.client("ec2", region_name=REGION, endpoint_url=moto.endpoint)
    vm = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                              TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                  {"Key": k, "Value": v} for k, v in
                                  tags_of(JANE, "demo.occid.example").items()]}])["Instances"][0]
    client.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
        {"Key": "occid:managed", "Value": "public"}, {"Key": "occid:owner", "Value": owner_hash(JANE)}]}])
    out, err = io.StringIO(), io.StringIO()
    assert main(["--config", str(path), "--dry-run"], out=out, err=err) == 0, err.getvalue()
    assert err.getvalue().endswith("records 1 cloud, 1 storage, 1 ip; usage tags to write 1\n")
    text = out.getvalue()
    messages = {}
    for block in text.split("# ")[1:]:
        kind, _, message = block.partition(" message\n")
        messages.setdefault(kind, []).append(message)
    [cloud] = [r for m in messages["cloud"] for r in parse_cloud(m)]
    assert cloud["VMUUID"].startswith(f"https://localhost:12443/compute/{vm['InstanceId']} ")
    assert (cloud["SiteName"], cloud["CloudComputeService"]) == ("OCCID-DEMO", "localhost")
    assert [r["ResourceCapacityUsed"] for m in messages["storage"] for r in parse_star(m)] == [8 * 2 ** 30]
    assert [r["IPCount"] for m in messages["ip"] for r in parse_ip(m)] == [1]
    assert not os.path.exists(tmp_path / "apel")
    tags = client.describe_tags(Filters=[{"Name": "key", "Values": [USAGE_TAG]}])["Tags"]
    assert tags == []


def test_bad_configuration_is_one_line(tmp_path):
    """A file without [accounting] stops the command with one line naming file and key."""
    path = tmp_path / "occid.toml"
    path.write_text('[server]\nhost_cert = "/x"\nhost_key = "/y"\n[[accounts]]\nname = "a"\n'
                    'fqans = ["/vo"]\n', encoding="utf-8")
    err = io.StringIO()
    assert main(["--config", str(path)], err=err) == 2
    assert err.getvalue() == (f"occid-accounting: {path}: [accounting]: is required by "
                              "occid-accounting (site_name at least)\n")


@pytest.mark.parametrize("arguments, message", [
    (["--from", "2026-12-01", "--to", "2026-11-01"], "--from must be before --to"),
])
def test_period_must_be_forward(arguments, message, tmp_path):
    """A period ending before it starts is refused before anything is read."""
    err = io.StringIO()
    assert main(["--config", str(tmp_path / "none.toml"), *arguments], err=err) == 2
    assert message in err.getvalue()


def test_bad_date_is_a_usage_error(capsys):
    """A C{--to} that is no date is argparse's usage error (status 2), naming the value."""
    with pytest.raises(SystemExit) as exit:
        main(["--to", "yesterday"])
    assert exit.value.code == 2
    assert "'yesterday' is not a date" in capsys.readouterr().err


def test_network_traffic_from_cloudwatch_and_appliance_image(moto, spools):
    """
    With a CloudWatch client, NetworkIn/NetworkOut sums (seeded with
    PutMetricData: moto has no EC2 metrics of its own) become GB; an AMI
    tagged with its appliance reference is reported by that reference.
    """
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    ec2 = VirtualEC2(moto.endpoint, "333333333333", clock)
    reference = "registry.egi.eu/egi_vm_images/debian:12-sha256:4d06e117"
    ec2.client.create_tags(Resources=[DEBIAN], Tags=[{"Key": "eu.egi.cloud.image_ref",
                                                      "Value": reference}])
    vm = ec2.launch(tags_of(JANE, "fedcloud.egi.eu"))
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto.endpoint)
    cloudwatch.meta.events.register("before-sign.cloudwatch.*", VirtualEC2._account("333333333333"))
    for metric, gib in (("NetworkIn", 3), ("NetworkOut", 1)):
        for half in (0, 1):
            cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[{
                "MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": vm}],
                "Timestamp": datetime.fromtimestamp(clock.now - 600 * half, UTC),
                "Value": gib * 2 ** 30 / 2, "Unit": "Bytes"}])
    clock.advance(STEP)
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu", cloudwatch=cloudwatch)]
    assert one_run(targets, spools, clock).problems == []
    [record] = parse_cloud(read_spool(spools.cloud_spool)[0])
    assert (record["NetworkInbound"], record["NetworkOutbound"]) == (3, 1)
    assert record["ImageId"] == reference


class KilledAtSecondCloudPut(Spools):
    """Spools whose owner is killed as it puts the second cloud message of the run."""

    def __init__(self, accounting):
        super().__init__(accounting)
        self.cloud = 0

    def put(self, kind, message):
        if kind == "cloud":
            self.cloud += 1
            if self.cloud == 2:
                raise Killed()
        super().put(kind, message)


def test_killed_between_a_tag_write_and_the_next_message(moto, spools):
    """
    150 VMs make two messages; a run killed after the first message and
    its 100 tag writes, before the second message, leaves 100 checkpoints
    written and 50 not.  The next run, after every VM was stopped, sends
    each VM's exact totals once: nothing lost, nothing doubled.
    """
    clock = Clock(datetime(2027, 6, 1, tzinfo=UTC))
    ec2 = VirtualEC2(moto.endpoint, "111111111111", clock)
    answer = ec2.client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro", MinCount=150,
                                      MaxCount=150, TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                          {"Key": k, "Value": v} for k, v in
                                          tags_of(JANE, "fedcloud.egi.eu").items()]}])
    ids = [instance["InstanceId"] for instance in answer["Instances"]]
    for id in ids:
        ec2.launched[id] = ec2.first[id] = clock.now
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu")]
    clock.advance(3600)
    with pytest.raises(Killed):
        run(targets, SITE, spools, KilledAtSecondCloudPut(spools), Cache(spools.cache), clock.now)
    written = ec2.client.describe_tags(Filters=[{"Name": "key", "Values": [USAGE_TAG]}])["Tags"]
    assert len(written) == 100
    clock.advance(1800)
    for id in ids:
        ec2.stop(id)
    clock.advance(1800)
    report = one_run(targets, spools, clock)
    assert report.records["cloud"] == 150 and report.tags_written == 150
    kept = apel_server(read_spool(spools.cloud_spool))
    assert len(kept) == 150
    assert {(r["WallDuration"], r["SuspendDuration"], r["Status"]) for r in kept.values()} == {
        (5400, 1800, "stopped")}


def test_owner_of_robots_and_old_resources():
    """
    A robot's resource keeps its DN as user but goes to the account's VO;
    a resource made before the FQAN tag existed goes to its bare VO; one
    whose DN did not fit a tag is named by its owner hash; a token user's
    by its issuer and subject.
    """
    target = Target("fedcloud", REGION, None, "fedcloud.egi.eu")
    robot = {"occid:owner": owner_hash(JANE), "occid:dn": JANE, "occid:vo": "@fedcloud"}
    assert owner_of(robot, target) == Owner(JANE, owner_hash(JANE), "fedcloud", "fedcloud.egi.eu")
    old = {"occid:owner": "ab", "occid:vo": "vo.example.org"}
    assert owner_of(old, target) == Owner("ab", "ab", "fedcloud", "vo.example.org")
    token = {"occid:owner": "cd", "occid:oidc": "https://aai.egi.eu/auth/realms/egi 12ab@egi.eu",
             "occid:vo": "vo.example.org", "occid:fqan": "/vo.example.org/Role=vm_operator"}
    assert owner_of(token, target) == Owner("https://aai.egi.eu/auth/realms/egi 12ab@egi.eu", "cd",
                                            "fedcloud", "/vo.example.org/Role=vm_operator")


def test_a_refused_tag_write_is_reported(moto, spools):
    """A tag EC2 refuses to write is reported; the record went out and the next run sends it again."""
    clock = Clock(datetime(2027, 6, 1, tzinfo=UTC))
    ec2 = VirtualEC2(moto.endpoint, "111111111111", clock)
    vm = ec2.launch(tags_of(JANE, "fedcloud.egi.eu"))
    targets = [Target("fedcloud", REGION, ec2.client, "fedcloud.egi.eu")]

    def refuse(client, id, usage):
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "CreateTags")

    report = run(targets, SITE, spools, Spools(spools), Cache(spools.cache), clock.now,
                 write_usage=refuse)
    assert report.problems == [f"fedcloud/eu-west-1: {vm}: the usage tag could not be written: "
                               "An error occurred (UnauthorizedOperation) when calling the "
                               "CreateTags operation: no"]
    assert report.records["cloud"] == 1 and report.tags_written == 0
