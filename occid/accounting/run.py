# -*- test-case-name: tests.test_accounting_run -*-
"""
One run of C{occid-accounting} over every account and region: read what
EC2 lists, move each instance's usage checkpoint on, and write the
records, then the checkpoints that changed.

The order is what makes a kill at any moment harmless.  A cloud record is
cumulative and the APEL server keeps the newest record per VMUUID and
month (C{REPLACE}), so a message is put in the spool first and the
checkpoints of the instances it carries are written after it: killed
before the tag write, the next run starts again from the old checkpoint
and sends the same cumulative usage, which replaces the first message's
(nothing counted twice); killed before the message, nothing was written,
and the next run covers the same time (nothing lost).  An instance whose
final record went out is marked final by its checkpoint and not sent
again.  Terminated instances leave EC2's listing about an hour after their
end, taking their tag along: a run more than L{VANISH_AFTER} after the
previous one says so, and names the instances the previous run left
unfinished that are gone, rather than guessing their end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from occid.accounting import observe
from occid.accounting.cache import Cache
from occid.accounting.observe import Listing
from occid.accounting.records import (
    MESSAGE_RECORDS,
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
from occid.accounting.usage import USAGE_TAG, Usage, advance, decode
from occid.accountingconfig import AccountingConfig
from occid.ec2.clients import EC2Client
from occid.ec2.tags import DN_TAG, FQAN_TAG, NAME_TAG, OWNER_TAG, SUBJECT_TAG, VO_TAG, tag_dict
from occid.policy import ROBOT_VO_PREFIX

__all__ = ["IDENTITY_TAGS", "VANISH_AFTER", "Outbox", "Period", "Report", "Target", "owner_of",
           "run"]

#: Seconds EC2 keeps listing a terminated instance (about an hour).
VANISH_AFTER = 3600

#: The tags naming a resource's user, the first present wins: the DN of a
#: proxy user, the C{<issuer> <sub>} of a token user.  Without one, the
#: C{occid:owner} hash stands for the user.
IDENTITY_TAGS = (DN_TAG, SUBJECT_TAG)


class Outbox(Protocol):
    """Where messages go (L{occid.accounting.spool})."""

    def put(self, kind: str, message: str) -> None:
        """Add C{message} of C{kind} (C{cloud}, C{storage}, C{ip})."""


@dataclass(frozen=True)
class Target:
    """
    One account in one region: its clients (C{cloudwatch} C{None} unless
    network traffic is read), how its compute and storage ids read in
    locations (C{suffix}: C{""} in the home region, C{".<region>"} else)
    and the VO that what occid did not create is accounted to.
    """

    account: str
    region: str
    client: EC2Client
    default_vo: str | None
    suffix: str = ""
    cloudwatch: Any = None

    @property
    def key(self) -> str:
        """Its key in the cache."""
        return f"{self.account}/{self.region}"


@dataclass(frozen=True)
class Period:
    """C{--from}/C{--to}: re-send records as of C{end} for what was alive after C{start}."""

    start: int
    end: int


@dataclass
class Report:
    """What a run did, and what it could not know."""

    records: dict[str, int] = field(default_factory=lambda: {"cloud": 0, "storage": 0, "ip": 0})
    tags_written: int = 0
    problems: list[str] = field(default_factory=list)
    #: The targets that could not be read at all.
    failed: list[str] = field(default_factory=list)


def owner_of(tags: dict[str, str], target: Target) -> Owner:
    """
    Whom a resource with C{tags} is accounted to: its creator's identity
    and FQAN (the bare VO for a resource older than the FQAN tag); what
    occid did not create, and a robot's resources, go to the VO of the
    account's first FQAN pattern.
    """
    vo = tags.get(VO_TAG)
    fqan = tags.get(FQAN_TAG) or (vo if vo and not vo.startswith(ROBOT_VO_PREFIX) else None)
    local_user = tags.get(OWNER_TAG)
    user = next((tags[key] for key in IDENTITY_TAGS if tags.get(key)), local_user)
    return Owner(user=user, local_user=local_user, group=target.account,
                 fqan=fqan or target.default_vo)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(targets: Sequence[Target], site: Site, accounting: AccountingConfig, outbox: Outbox,
        cache: Cache, now: int, period: Period | None = None,
        write_usage: Callable[[EC2Client, str, Usage], None] = observe.write_usage) -> Report:
    """
    One run at C{now} over C{targets}; with a C{period}, a re-send that
    writes no checkpoint and no cache.  A target whose listing fails is
    reported and the others still run.
    """
    report = Report()
    for target in targets:
        try:
            _run_target(target, site, accounting, outbox, cache, now, period, write_usage, report)
        except (ClientError, BotoCoreError) as error:
            report.failed.append(target.key)
            report.problems.append(f"{target.key}: EC2 could not be read: {error}")
    if period is None:
        cache.save()
    return report


def _run_target(target: Target, site: Site, accounting: AccountingConfig, outbox: Outbox,
                cache: Cache, now: int, period: Period | None,
                write_usage: Callable[[EC2Client, str, Usage], None], report: Report) -> None:
    last_run = cache.last_run(target.key)
    if period is None and last_run is not None and now - last_run > VANISH_AFTER:
        report.problems.append(
            f"{target.key}: {(now - last_run) / 3600:.1f} h since the last run "
            f"({_iso(last_run)}): instances terminated in between may have left EC2's listing "
            "before their end was seen")
    listing = observe.read(target.client)
    at = now if period is None else min(period.end, now)
    moved = []
    for instance in listing.instances:
        old = _checkpoint(instance, target, report)
        moved.append((instance, old, advance(old, observe.sample_of(instance, now), last_run)))
    if target.cloudwatch is not None and moved:
        listing.network = observe.network(target.cloudwatch, [i["InstanceId"] for i, _, _ in moved],
                                          min(new.first for _, _, new in moved), now)
    entries: list[tuple[dict[str, str], str, Usage | None, Usage]] = []
    unfinished = set()
    for instance, old, new in moved:
        id = instance["InstanceId"]
        if not new.final:
            unfinished.add(id)
        if period is None and old is not None and old.final:
            continue  # its final record went out
        if period is not None and (new.end is not None and new.end < period.start):
            continue
        record = cloud_record(site, _vm(instance, listing, target, accounting), new, at)
        if record is None:
            if new.first <= at:
                report.problems.append(f"{target.key}: {id} changed state after {_iso(at)}; "
                                       "its usage then is no longer known")
            continue
        entries.append((record, id, old, new))
    if period is None:
        for gone in sorted(cache.unfinished(target.key) - {i["InstanceId"] for i in listing.instances}):
            report.problems.append(f"{target.key}: {gone} left EC2's listing before its end was "
                                   "seen; its last record stands")
    for start in range(0, len(entries), MESSAGE_RECORDS):
        batch = entries[start:start + MESSAGE_RECORDS]
        for message in cloud_messages([record for record, *_ in batch]):
            outbox.put("cloud", message)
        report.records["cloud"] += len(batch)
        if period is None:
            for _, id, old, new in batch:
                if new != old:
                    _write(write_usage, target, id, new, report)
    _storage(target, site, listing, outbox, at, report)
    if period is None:
        _addresses(target, site, listing, outbox, at, report)
        cache.record(target.key, now, unfinished)


def _checkpoint(instance: dict, target: Target, report: Report) -> Usage | None:
    try:
        return decode(tag_dict(instance).get(USAGE_TAG))
    except ValueError as error:
        report.problems.append(f"{target.key}: {instance['InstanceId']}: {error}; counted afresh")
        return None


def _write(write_usage: Callable[[EC2Client, str, Usage], None], target: Target, id: str,
           usage: Usage, report: Report) -> None:
    try:
        write_usage(target.client, id, usage)
        report.tags_written += 1
    except (ClientError, BotoCoreError) as error:
        # The record went out; the next run recomputes it from the old checkpoint.
        report.problems.append(f"{target.key}: {id}: the usage tag could not be written: {error}")


def _vm(instance: dict, listing: Listing, target: Target, accounting: AccountingConfig) -> VM:
    tags = tag_dict(instance)
    kind = listing.types.get(instance["InstanceType"])
    network = listing.network.get(instance["InstanceId"])
    return VM(
        location=f"/compute/{instance['InstanceId']}{target.suffix}",
        name=tags.get(NAME_TAG),
        owner=owner_of(tags, target),
        instance_type=instance["InstanceType"],
        cpus=kind.cpus if kind else None,
        memory_mb=kind.memory_mb if kind else None,
        disk_gb=observe.disk_gb(instance, listing.volumes, listing.types),
        public_ips=observe.public_ips(instance),
        image=listing.images.get(instance.get("ImageId", ""), instance.get("ImageId", "")),
        benchmark=accounting.benchmark(instance["InstanceType"]),
        network_in_gb=observe.gigabytes(network[0]) if network else None,
        network_out_gb=observe.gigabytes(network[1]) if network else None,
        hibernated=observe.hibernated(instance),
    )


def _storage(target: Target, site: Site, listing: Listing, outbox: Outbox, at: int,
             report: Report) -> None:
    records = []
    for volume in listing.volumes:
        created = int(volume["CreateTime"].timestamp())
        if created > at:
            continue
        records.append(star_record(site, Volume(
            location=f"/storage/{volume['VolumeId']}{target.suffix}",
            owner=owner_of(tag_dict(volume), target), size_gib=volume["Size"], created=created,
            volume_type=volume.get("VolumeType", "")), at))
    for message in star_messages(records):
        outbox.put("storage", message)
    report.records["storage"] += len(records)


def _addresses(target: Target, site: Site, listing: Listing, outbox: Outbox, at: int,
               report: Report) -> None:
    records = ip_records(site, [owner_of(tag_dict(address), target)
                                for address in listing.addresses], at)
    for message in ip_messages(records):
        outbox.put("ip", message)
    report.records["ip"] += len(records)
