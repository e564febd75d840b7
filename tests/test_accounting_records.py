"""
Tests for L{occid.accounting.records}: each kind of message, read back by
the parsers of C{tests/apel.py} (written from the format facts), carries
the fields and units APEL expects, and no message holds more than 100
records.
"""

from __future__ import annotations

from occid.accounting.records import (
    VM,
    Owner,
    Site,
    Volume,
    cloud_messages,
    cloud_record,
    ip_messages,
    ip_records,
    star_messages,
    star_record,
)
from occid.accounting.usage import Usage
from tests.apel import parse_cloud, parse_ip, parse_star

SITE = Site(name="EXAMPLE-AWS", service="occi.test", endpoint="https://occi.test:11443",
            cloud_type="occid/0.1.0 (AWS EC2)", benchmark_type="HEPSPEC06")
JANE = Owner(user="/DC=org/CN=Jane\nDoe", local_user="ab12", group="fedcloud",
             fqan="/fedcloud.egi.eu/Role=VMManager")
T0 = 1_800_000_000


def vm(**changes) -> VM:
    """A two-vCPU VM of Jane's."""
    values = dict(location="/compute/i-0123456789abcdef0", name="vm1", owner=JANE,
                  instance_type="t3.small", cpus=2, memory_mb=2048, disk_gb=8, public_ips=1,
                  image="ami-0a1b2c3d4e5f60001", benchmark=10.5)
    values.update(changes)
    return VM(**values)


def test_running_vm_record():
    """A running VM: cumulative wall and suspend seconds, CPU seconds, units, no end."""
    usage = Usage(first=T0, running=100, stopped=50, since=T0 + 150, state="running")
    [message] = cloud_messages([cloud_record(SITE, vm(), usage, T0 + 250)])
    [record] = parse_cloud(message)
    assert record == {
        "VMUUID": "https://occi.test:11443/compute/i-0123456789abcdef0 2027-01-15 08:00:00+00:00",
        "SiteName": "EXAMPLE-AWS", "CloudComputeService": "occi.test", "MachineName": "vm1",
        "LocalUserId": "ab12", "LocalGroupId": "fedcloud", "GlobalUserName": "/DC=org/CN=Jane Doe",
        "FQAN": "/fedcloud.egi.eu/Role=VMManager", "Status": "started", "StartTime": T0,
        "SuspendDuration": 50, "WallDuration": 200, "CpuDuration": 400, "CpuCount": 2.0,
        "PublicIPCount": 1, "Memory": 2048, "Disk": 8, "BenchmarkType": "HEPSPEC06",
        "Benchmark": 10.5, "ImageId": "ami-0a1b2c3d4e5f60001", "CloudType": "occid/0.1.0 (AWS EC2)"}


def test_ended_and_stopped_status():
    """An ended VM is completed with its EndTime; a stopped one stopped, a hibernated one suspended."""
    ended = Usage(first=T0, running=100, stopped=0, since=T0 + 100, state="terminated", end=T0 + 100)
    record = cloud_record(SITE, vm(network_in_gb=3, network_out_gb=1), ended, T0 + 900)
    assert (record["Status"], record["EndTime"], record["WallDuration"]) == (
        "completed", str(T0 + 100), "100")
    assert (record["NetworkInbound"], record["NetworkOutbound"]) == ("3", "1")
    stopped = Usage(first=T0, running=100, stopped=0, since=T0 + 100, state="stopped")
    assert cloud_record(SITE, vm(), stopped, T0 + 200)["Status"] == "stopped"
    assert cloud_record(SITE, vm(hibernated=True), stopped, T0 + 200)["Status"] == "suspended"
    assert cloud_record(SITE, vm(), stopped, T0 + 50) is None


def test_unknown_user_is_left_out():
    """A VM occid did not create has no user fields at all (NULL to APEL)."""
    nobody = Owner(user=None, local_user=None, group="fedcloud", fqan="fedcloud.egi.eu")
    usage = Usage(first=T0, running=0, stopped=0, since=T0, state="running")
    [record] = parse_cloud(cloud_messages([cloud_record(SITE, vm(owner=nobody, cpus=None), usage, T0)])[0])
    assert "GlobalUserName" not in record and "LocalUserId" not in record and "CpuCount" not in record
    assert record["FQAN"] == "fedcloud.egi.eu"


def test_at_most_100_records_per_message():
    """250 records make three messages of 100, 100 and 50."""
    usage = Usage(first=T0, running=0, stopped=0, since=T0, state="running")
    records = [cloud_record(SITE, vm(location=f"/compute/i-{n:017x}"), usage, T0) for n in range(250)]
    messages = cloud_messages(records)
    assert [len(parse_cloud(m)) for m in messages] == [100, 100, 50]
    assert len({r["VMUUID"] for m in messages for r in parse_cloud(m)}) == 250


def test_star_record():
    """A volume's STAR record: bytes, its creation as start, the VO as group."""
    volume = Volume(location="/storage/vol-0123456789abcdef0", owner=JANE, size_gib=30,
                    created=T0, volume_type="gp3")
    [message] = star_messages([star_record(SITE, volume, T0 + 3600)])
    [record] = parse_star(message)
    assert record["RecordId"] == "https://occi.test:11443/storage/vol-0123456789abcdef0"
    assert record["ResourceCapacityUsed"] == 30 * 2 ** 30
    assert (record["StartTime"], record["EndTime"], record["CreateTime"]) == (
        "2027-01-15T08:00:00Z", "2027-01-15T09:00:00Z", "2027-01-15T09:00:00Z")
    assert (record["Group"], record["LocalGroup"], record["Site"]) == (
        "fedcloud.egi.eu", "fedcloud", "EXAMPLE-AWS")
    assert record["UserIdentity"] == "/DC=org/CN=Jane Doe"


def test_ip_records_count_per_owner():
    """Three addresses of two owners: two records counting 2 and 1."""
    john = Owner(user="/CN=John", local_user="cd34", group="fedcloud", fqan="/fedcloud.egi.eu")
    [message] = ip_messages(ip_records(SITE, [JANE, john, JANE], T0))
    records = parse_ip(message)
    assert sorted((r["LocalUser"], r["IPCount"]) for r in records) == [("ab12", 2), ("cd34", 1)]
    assert all(r["MeasurementTime"] == T0 and r["SiteName"] == "EXAMPLE-AWS" for r in records)
