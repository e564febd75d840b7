# -*- test-case-name: tests.test_accounting_run -*-
"""
What accounting reads from one account in one region, and the one thing
it writes there: list calls only (instances in every state, volumes,
occid's elastic IPs, the instance types and images in use, and with
C{[accounting] cloudwatch} the network traffic), and the C{occid:acct}
tag of an instance whose usage checkpoint changed.

Blocking, synchronous boto3: C{occid-accounting} is a command, not the
daemon.  Everything returned is plain data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from occid.accounting.usage import USAGE_TAG, Sample, Usage, encode
from occid.ec2.clients import EC2Client
from occid.ec2.tags import MANAGED_PUBLIC, MANAGED_TAG

__all__ = ["IMAGE_REFERENCE_TAGS", "Listing", "network", "read", "sample_of", "write_usage"]

#: The AMI tags naming the appliance an image was made from (image
#: distribution), most specific first; an AMI without one is reported by id.
IMAGE_REFERENCE_TAGS = ("vmcatcher_event_ad_mpuri", "eu.egi.cloud.image_ref")

_REASON_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")

_GIB = 2 ** 30

#: DescribeInstanceTypes takes at most this many names per call.
_TYPES_PER_CALL = 100

#: GetMetricData takes at most this many queries per call.
_QUERIES_PER_CALL = 500


@dataclass(frozen=True)
class InstanceType:
    """What a record needs of an instance type."""

    cpus: int
    memory_mb: int
    instance_storage_gb: int = 0


@dataclass
class Listing:
    """Everything one run reads of one account in one region."""

    instances: list[dict] = field(default_factory=list)
    volumes: list[dict] = field(default_factory=list)
    addresses: list[dict] = field(default_factory=list)
    types: dict[str, InstanceType] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    #: instance id -> (bytes in, bytes out) since its first launch.
    network: dict[str, tuple[float, float]] = field(default_factory=dict)


def _seconds(value: datetime) -> int:
    return int(value.astimezone(UTC).timestamp())


def _pages(client: EC2Client, operation: str, key: str, **parameters: Any) -> list[dict]:
    pages = client.get_paginator(operation).paginate(
        **parameters, PaginationConfig={"PageSize": 1000})
    return [item for page in pages for item in page[key]]


def read(client: EC2Client) -> Listing:
    """
    List the account's instances (every state), volumes and occid's
    elastic IPs in the client's region, with the types and images they
    use (the network traffic is L{network}'s).
    """
    listing = Listing()
    for reservation in _pages(client, "describe_instances", "Reservations"):
        listing.instances.extend(reservation["Instances"])
    listing.volumes = _pages(client, "describe_volumes", "Volumes")
    listing.addresses = client.describe_addresses(
        Filters=[{"Name": f"tag:{MANAGED_TAG}", "Values": [MANAGED_PUBLIC]}])["Addresses"]
    listing.types = _types(client, {i["InstanceType"] for i in listing.instances})
    listing.images = _images(client, {i["ImageId"] for i in listing.instances if i.get("ImageId")})
    return listing


def _types(client: EC2Client, names: Iterable[str]) -> dict[str, InstanceType]:
    names, found = sorted(names), {}
    for start in range(0, len(names), _TYPES_PER_CALL):
        answer = client.describe_instance_types(InstanceTypes=names[start:start + _TYPES_PER_CALL])
        for description in answer["InstanceTypes"]:
            storage = description.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0)
            found[description["InstanceType"]] = InstanceType(
                cpus=description["VCpuInfo"]["DefaultVCpus"],
                memory_mb=description["MemoryInfo"]["SizeInMiB"],
                instance_storage_gb=storage)
    return found


def _images(client: EC2Client, ids: set[str]) -> dict[str, str]:
    """The appliance reference of each AMI that has one (a filter: gone AMIs are no error)."""
    if not ids:
        return {}
    images = client.describe_images(Filters=[{"Name": "image-id", "Values": sorted(ids)}])["Images"]
    references = {}
    for image in images:
        tags = {tag["Key"]: tag["Value"] for tag in image.get("Tags", ())}
        reference = next((tags[key] for key in IMAGE_REFERENCE_TAGS if tags.get(key)), None)
        if reference:
            references[image["ImageId"]] = reference
    return references


def network(cloudwatch: Any, ids: list[str], first: int, now: int) -> dict[str, tuple[float, float]]:
    """Bytes in and out of each instance (CloudWatch AWS/EC2 NetworkIn/NetworkOut, daily sums)."""
    queries = [{"Id": f"{metric[7:].lower()}{n}", "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/EC2", "MetricName": metric,
                   "Dimensions": [{"Name": "InstanceId", "Value": id}]},
        "Period": 86400, "Stat": "Sum"}}
        for n, id in enumerate(ids) for metric in ("NetworkIn", "NetworkOut")]
    sums: dict[str, float] = {}
    start = datetime.fromtimestamp(first - first % 86400, UTC)
    end = datetime.fromtimestamp(now + 86400 - now % 86400, UTC)
    for offset in range(0, len(queries), _QUERIES_PER_CALL):
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries[offset:offset + _QUERIES_PER_CALL],
            StartTime=start, EndTime=end)
        for page in pages:
            for result in page["MetricDataResults"]:
                sums[result["Id"]] = sums.get(result["Id"], 0.0) + sum(result["Values"])
    return {id: (sums.get(f"in{n}", 0.0), sums.get(f"out{n}", 0.0)) for n, id in enumerate(ids)}


def gigabytes(octets: float) -> int:
    """Bytes as whole GB (2^30), as APEL's network fields want them."""
    return round(octets / _GIB)


def sample_of(instance: dict, now: int) -> Sample:
    """
    The sample of C{instance} at C{now}: its state, its last start
    (C{LaunchTime}), the earliest attach time EC2 keeps across restarts
    (primary interface, root volume) and the time of its last stop or
    termination (C{StateTransitionReason}).
    """
    hints = [_seconds(interface["Attachment"]["AttachTime"])
             for interface in instance.get("NetworkInterfaces", ())
             if interface.get("Attachment", {}).get("DeviceIndex") == 0
             and interface["Attachment"].get("AttachTime")]
    root = instance.get("RootDeviceName")
    hints += [_seconds(mapping["Ebs"]["AttachTime"])
              for mapping in instance.get("BlockDeviceMappings", ())
              if mapping.get("DeviceName") == root and mapping.get("Ebs", {}).get("AttachTime")]
    match = _REASON_TIME.search(instance.get("StateTransitionReason") or "")
    changed = (_seconds(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
               if match else None)
    return Sample(now=now, state=instance["State"]["Name"], launch=_seconds(instance["LaunchTime"]),
                  first_hint=min(hints) if hints else None, changed_at=changed)


def hibernated(instance: dict) -> bool:
    """Whether C{instance} was stopped by hibernation."""
    return instance.get("StateReason", {}).get("Code") == "Client.UserInitiatedHibernate"


def public_ips(instance: dict) -> int:
    """How many public addresses C{instance} holds (its interfaces' associations)."""
    addresses = {interface["Association"]["PublicIp"]
                 for interface in instance.get("NetworkInterfaces", ())
                 if interface.get("Association", {}).get("PublicIp")}
    if instance.get("PublicIpAddress"):
        addresses.add(instance["PublicIpAddress"])
    return len(addresses)


def disk_gb(instance: dict, volumes: list[dict], types: dict[str, InstanceType]) -> int:
    """GB of the EBS volumes attached to C{instance} (root included) plus its instance store."""
    attached = sum(volume["Size"] for volume in volumes
                   if any(a.get("InstanceId") == instance["InstanceId"]
                          for a in volume.get("Attachments", ())))
    kind = types.get(instance["InstanceType"])
    return attached + (kind.instance_storage_gb if kind else 0)


def write_usage(client: EC2Client, instance_id: str, usage: Usage) -> None:
    """Write the usage checkpoint of C{instance_id} (one CreateTags)."""
    client.create_tags(Resources=[instance_id], Tags=[{"Key": USAGE_TAG, "Value": encode(usage)}])
