# -*- test-case-name: tests.test_accounting_records -*-
"""
APEL records and the messages carrying them: cloud records v0.4 (one per
VM, cumulative, C{Key: Value} lines, records parted by C{%%}), STAR
storage records (XML, one per EBS volume) and public IP records v0.2
(JSON, one per owner and FQAN), at most L{MESSAGE_RECORDS} records per
message (docs: README, "Accounting"; facts: EGI's APEL formats).

Pure: no boto3 and no Twisted; the facts come in as plain values.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from xml.etree import ElementTree

from occid.accounting.usage import RUNNING, Usage, state_class

__all__ = ["CLOUD_HEADER", "MESSAGE_RECORDS", "STAR_NAMESPACE", "VM", "Owner", "Site", "Volume",
           "cloud_messages", "cloud_record", "ip_messages", "ip_records", "star_messages",
           "star_record"]

#: The first line of a cloud message.
CLOUD_HEADER = "APEL-cloud-message: v0.4"

#: The most records one message carries (EGI's limit).
MESSAGE_RECORDS = 100

#: The namespace of STAR.
STAR_NAMESPACE = "http://eu-emi.eu/namespaces/2011/02/storagerecord"

#: The fields of a cloud record, in the order APEL lists them.
CLOUD_FIELDS = (
    "VMUUID", "SiteName", "CloudComputeService", "MachineName", "LocalUserId", "LocalGroupId",
    "GlobalUserName", "FQAN", "Status", "StartTime", "EndTime", "SuspendDuration",
    "WallDuration", "CpuDuration", "CpuCount", "NetworkType", "NetworkInbound",
    "NetworkOutbound", "PublicIPCount", "Memory", "Disk", "BenchmarkType", "Benchmark",
    "StorageRecordId", "ImageId", "CloudType",
)

_GIB = 2 ** 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_T = TypeVar("_T")

ElementTree.register_namespace("sr", STAR_NAMESPACE)


@dataclass(frozen=True)
class Site:
    """
    What every record of a site says: its GOCDB name, the service name,
    the endpoint (C{[server] public_url}, no trailing C{/}) that makes ids
    unique across sites, the producer and the benchmark type.
    """

    name: str
    service: str
    endpoint: str
    cloud_type: str
    benchmark_type: str


@dataclass(frozen=True)
class Owner:
    """
    Whom a resource is accounted to: C{user} (GlobalUserName: a DN or a
    token identity), C{local_user} (the C{occid:owner} hash), C{group}
    (the occid account's name) and C{fqan} (a FQAN or a bare VO name);
    C{None} where unknown (a resource occid did not create has no user).
    """

    user: str | None
    local_user: str | None
    group: str
    fqan: str | None

    @property
    def vo(self) -> str | None:
        """The VO of C{fqan}: its first group, or the bare name."""
        if not self.fqan:
            return None
        return self.fqan.strip("/").split("/")[0] if self.fqan.startswith("/") else self.fqan


@dataclass(frozen=True)
class VM:
    """The facts of one instance a cloud record needs besides its usage."""

    location: str
    name: str | None
    owner: Owner
    instance_type: str
    cpus: int | None
    memory_mb: int | None
    disk_gb: int | None
    public_ips: int
    image: str
    benchmark: float
    network_in_gb: int | None = None
    network_out_gb: int | None = None
    hibernated: bool = False


@dataclass(frozen=True)
class Volume:
    """One EBS volume: its location, owner, size and creation time."""

    location: str
    owner: Owner
    size_gib: int
    created: int
    volume_type: str = ""


def _text(value: str | None) -> str | None:
    """C{value} on one line: control characters (line breaks) become a space."""
    return None if value is None else _CONTROL.sub(" ", value).strip() or None


def _stamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def vmuuid(site: Site, location: str, first: int) -> str:
    """
    The VMUUID: the compute's URL and its first launch, unique across
    sites (the endpoint) and over the reuse of an id (the time).
    """
    return f"{site.endpoint}{location} {_stamp(first).strftime('%Y-%m-%d %H:%M:%S+00:00')}"


def status(usage: Usage, at: int, hibernated: bool = False) -> str:
    """
    The record's Status at C{at}: C{completed} once ended by then;
    C{started} while running; C{suspended} hibernated; else C{stopped}.
    """
    if usage.end is not None and usage.end <= at:
        return "completed"
    if state_class(usage.state) == RUNNING:
        return "started"
    return "suspended" if hibernated else "stopped"


def cloud_record(site: Site, vm: VM, usage: Usage, at: int) -> dict[str, str] | None:
    """
    The cloud record of C{vm} with C{usage} as of C{at} (cumulative from
    the first launch); C{None} when C{usage} no longer knows C{at}.  Unknown
    fields are left out, which APEL reads as NULL.
    """
    totals = usage.totals(at)
    if totals is None or usage.first > at:
        return None
    wall, suspended = totals
    ended = usage.end is not None and usage.end <= at
    fields: dict[str, object] = {
        "VMUUID": vmuuid(site, vm.location, usage.first),
        "SiteName": site.name,
        "CloudComputeService": site.service,
        "MachineName": _text(vm.name),
        "LocalUserId": vm.owner.local_user,
        "LocalGroupId": vm.owner.group,
        "GlobalUserName": _text(vm.owner.user),
        "FQAN": vm.owner.fqan,
        "Status": status(usage, at, vm.hibernated),
        "StartTime": usage.first,
        "EndTime": usage.end if ended else None,
        "SuspendDuration": suspended,
        "WallDuration": wall,
        "CpuDuration": wall * vm.cpus if vm.cpus is not None else None,
        "CpuCount": vm.cpus,
        "NetworkInbound": vm.network_in_gb,
        "NetworkOutbound": vm.network_out_gb,
        "PublicIPCount": vm.public_ips,
        "Memory": vm.memory_mb,
        "Disk": vm.disk_gb,
        "BenchmarkType": site.benchmark_type,
        "Benchmark": f"{vm.benchmark:g}",
        "ImageId": _text(vm.image),
        "CloudType": site.cloud_type,
    }
    return {key: str(value) for key, value in fields.items() if value is not None}


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), MESSAGE_RECORDS):
        yield items[start:start + MESSAGE_RECORDS]


def cloud_messages(records: Sequence[dict[str, str]]) -> list[str]:
    """The cloud messages carrying C{records}, at most L{MESSAGE_RECORDS} each."""
    messages = []
    for chunk in _chunks(records):
        bodies = ["\n".join(f"{key}: {record[key]}" for key in CLOUD_FIELDS if key in record)
                  for record in chunk]
        messages.append(CLOUD_HEADER + "\n" + "\n%%\n".join(bodies) + "\n")
    return messages


def _iso(seconds: int) -> str:
    return _stamp(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sr(name: str) -> str:
    return f"{{{STAR_NAMESPACE}}}{name}"


def star_record(site: Site, volume: Volume, at: int) -> ElementTree.Element:
    """
    The STAR record of C{volume} measured at C{at}: capacity in bytes, from
    its creation (or C{at}, for a volume younger than the clock) to C{at}.
    """
    record = ElementTree.Element(_sr("StorageUsageRecord"))
    ElementTree.SubElement(record, _sr("RecordIdentity"), {
        _sr("createTime"): _iso(at), _sr("recordId"): f"{site.endpoint}{volume.location}"})
    for name, value in (("StorageSystem", site.service), ("Site", site.name),
                        ("StorageShare", volume.owner.group), ("StorageMedia", "disk"),
                        ("StorageClass", volume.volume_type or None)):
        if value:
            ElementTree.SubElement(record, _sr(name)).text = value
    subject = ElementTree.SubElement(record, _sr("SubjectIdentity"))
    owner = volume.owner
    for name, value in (("LocalUser", owner.local_user), ("LocalGroup", owner.group),
                        ("UserIdentity", _text(owner.user)), ("Group", owner.vo)):
        if value:
            ElementTree.SubElement(subject, _sr(name)).text = value
    for name, value in (("StartTime", _iso(min(volume.created, at))), ("EndTime", _iso(at)),
                        ("ResourceCapacityUsed", str(volume.size_gib * _GIB))):
        ElementTree.SubElement(record, _sr(name)).text = value
    return record


def star_messages(records: Sequence[ElementTree.Element]) -> list[str]:
    """The STAR messages (C{sr:StorageUsageRecords}) carrying C{records}."""
    messages = []
    for chunk in _chunks(records):
        envelope = ElementTree.Element(_sr("StorageUsageRecords"))
        envelope.extend(chunk)
        messages.append(ElementTree.tostring(envelope, encoding="unicode") + "\n")
    return messages


def ip_records(site: Site, owners: Iterable[Owner], at: int) -> list[dict[str, object]]:
    """
    The public IP records of the addresses held by C{owners} (one entry per
    address) at C{at}: one record per owner, counting its addresses.  The
    record's uuid is the same for the same owner, site and moment.
    """
    counts: dict[Owner, int] = {}
    for owner in owners:
        counts[owner] = counts.get(owner, 0) + 1
    records = []
    for owner, count in sorted(counts.items(), key=lambda item: repr(item[0])):
        record: dict[str, object] = {
            "SiteName": site.name, "CloudType": site.cloud_type,
            "CloudComputeService": site.service,
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{site.endpoint} {owner!r} {at}")),
            "LocalUser": owner.local_user, "GlobalUserName": _text(owner.user),
            "LocalGroup": owner.group, "FQAN": owner.fqan,
            "IPVersion": 4, "IPCount": count, "MeasurementTime": at,
        }
        records.append({key: value for key, value in record.items() if value is not None})
    return records


def ip_messages(records: Sequence[dict[str, object]]) -> list[str]:
    """The public IP messages (JSON, v0.2) carrying C{records}."""
    return [json.dumps({"Type": "APEL Public IP message", "Version": "0.2",
                        "UsageRecords": list(chunk)}, sort_keys=True) + "\n"
            for chunk in _chunks(records)]
