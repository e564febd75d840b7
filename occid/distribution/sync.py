# -*- test-case-name: tests.test_distribution_command -*-
"""
One pass of C{occid-images}: for each source, read what it publishes, plan
each target (an account serving one of its VOs, in one of its regions),
then download, convert and write each appliance to import once, into every
target that lacks it; retire what was replaced or dropped, remove what was
retired longer than the grace period, delete what an interrupted import
left.  A dry run reads and plans only.  Every refusal is logged with its
reason, and nothing of a refused appliance is registered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from occid.config import Config
from occid.distribution import amis
from occid.distribution.appliance import Appliance, Refused
from occid.distribution.convert import inspect, to_raw
from occid.distribution.ebs import write_snapshot
from occid.distribution.fetch import Http
from occid.distribution.plan import Plan, plan
from occid.distribution.provenance import tags_of
from occid.distribution.sources import download, read_source
from occid.gsi.trust import TrustStore
from occid.imagesconfig import ImageSource, serves_vo

__all__ = ["Report", "Target", "run_pass", "targets_of"]

log = logging.getLogger("occid.images")


@dataclass(frozen=True)
class Target:
    """One account in one region, with its EC2 and EBS clients."""

    account: str
    region: str
    ec2: Any
    ebs: Any

    @property
    def label(self) -> str:
        return f"{self.account} ({self.region})"


@dataclass
class Report:
    """What a pass did (or, dry, would do): lists of C{(target, what)}."""

    imported: list[tuple[str, str]] = field(default_factory=list)
    retired: list[tuple[str, str]] = field(default_factory=list)
    restored: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    orphans: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def targets_of(config: Config, source: ImageSource,
               make: Callable[[str, str], Target]) -> list[Target]:
    """The targets of C{source}, made by C{make(account, region)}."""
    found = []
    for account in config.accounts:
        if not any(serves_vo(account.fqans, vo) for vo in source.vos):
            continue
        for region in config.regions_for(account.name):
            if not source.regions or region in source.regions:
                found.append(make(account.name, region))
    return found


def run_pass(config: Config, make: Callable[[str, str], Target], http: Http, trust: TrustStore,
             now: datetime, dry_run: bool = False) -> Report:
    """One pass over every source; never raises for what a source sends."""
    report = Report()
    targets: dict[tuple[str, str], Target] = {}

    def target(account: str, region: str) -> Target:
        key = (account, region)
        if key not in targets:
            targets[key] = make(account, region)
        return targets[key]

    for source in config.images.sources:
        read = read_source(source, http, trust, now)
        for reason in read.refusals:
            log.warning("source %s: refused: %s", source.name, reason)
            report.refused.append(f"{source.name}: {reason}")
        plans = []
        for one in targets_of(config, source, target):
            try:
                images, snapshots = amis.find(one.ec2, source.name)
                planned = plan(read.wanted, images, snapshots, now,
                               config.images.distribution.grace_period)
                _tidy(one, planned, snapshots, now, dry_run, report)
            except (BotoCoreError, ClientError) as e:
                log.error("%s: source %s skipped this pass: %s", one.label, source.name, e)
                report.refused.append(f"{one.label}: {source.name}: {e}")
                continue
            plans.append((one, planned))
        _import(config, source, plans, http, now, dry_run, report)
    return report


def _tidy(one: Target, planned: Plan, snapshots: dict[str, str], now: datetime, dry_run: bool,
          report: Report) -> None:
    """Orphans, retirements, restorations and removals in one target."""
    for snapshot in planned.orphans:
        log.warning("%s: deleting %s, left by an interrupted import", one.label, snapshot)
        report.orphans.append((one.label, snapshot))
        if not dry_run:
            one.ec2.delete_snapshot(SnapshotId=snapshot)
    for image in planned.retire:
        log.info("%s: retiring %s (dropped by its source)", one.label, image)
        report.retired.append((one.label, image))
    for image in planned.restore:
        log.info("%s: offering %s again", one.label, image)
        report.restored.append((one.label, image))
    for found in planned.remove:
        log.info("%s: removing %s, retired at %s", one.label, found.image_id, found.retired)
        report.removed.append((one.label, found.image_id))
    if dry_run:
        return
    amis.retire(one.ec2, list(planned.retire), now)
    amis.restore(one.ec2, list(planned.restore))
    for found in planned.remove:
        amis.remove(one.ec2, found, snapshots)


def _import(config: Config, source: ImageSource, plans: list[tuple[Target, Plan]], http: Http,
            now: datetime, dry_run: bool, report: Report) -> None:
    """Import each appliance some target lacks: downloaded and converted once."""
    wanted: dict[str, tuple[Appliance, list[tuple[Target, Plan]]]] = {}
    for one, planned in plans:
        for appliance in planned.imports:
            wanted.setdefault(appliance.import_id, (appliance, []))[1].append((one, planned))
    settings = config.images.distribution
    for appliance, where in wanted.values():
        if dry_run:
            for one, planned in where:
                log.info("%s: would import %s (%s)%s", one.label, appliance.title,
                         appliance.reference, _replacing(planned, appliance))
                report.imported.append((one.label, appliance.reference))
            continue
        os.makedirs(settings.work_dir, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="import-") as work:
            try:
                got = download(source, appliance, http, os.path.join(work, "download"))
                disk = inspect(os.path.join(work, "download"), appliance.disk_format,
                               settings.max_virtual_size)
                raw = to_raw(os.path.join(work, "download"), disk, os.path.join(work, "raw"))
            except (Refused, OSError) as e:
                log.warning("source %s: refused %s: %s", source.name, appliance.reference, e)
                report.refused.append(f"{source.name}: {appliance.reference}: {e}")
                continue
            tags = tags_of(appliance, got.sha512)
            for one, planned in where:
                try:
                    snapshot, blocks = write_snapshot(
                        one.ebs, one.ec2, raw, disk.virtual_size, tags, appliance.reference,
                        settings.upload_threads)
                    image = _register(one, appliance, snapshot, tags)
                except (BotoCoreError, ClientError, Refused, OSError) as e:
                    log.error("%s: import of %s failed (retried next pass): %s", one.label,
                              appliance.reference, e)
                    report.refused.append(f"{one.label}: {appliance.reference}: {e}")
                    continue
                log.info("%s: imported %s as %s (%d blocks written)%s", one.label,
                         appliance.reference, image, blocks, _replacing(planned, appliance))
                report.imported.append((one.label, image))
                replaced = list(planned.replaces.get(appliance.import_id, ()))
                try:
                    amis.retire(one.ec2, replaced, now)
                except (BotoCoreError, ClientError) as e:
                    log.error("%s: could not retire %s (retried next pass): %s", one.label,
                              ", ".join(replaced), e)
                    continue
                report.retired += [(one.label, old) for old in replaced]


def _register(one: Target, appliance: Appliance, snapshot: str, tags: dict[str, str]) -> str:
    """The AMI of C{snapshot}; if registering fails, the snapshot is deleted."""
    try:
        return amis.register(one.ec2, appliance, snapshot, tags)
    except BaseException:
        # If this delete fails too, the next pass deletes it as an orphan.
        with contextlib.suppress(BotoCoreError, ClientError):
            one.ec2.delete_snapshot(SnapshotId=snapshot)
        raise


def _replacing(planned: Plan, appliance: Appliance) -> str:
    replaced = planned.replaces.get(appliance.import_id, ())
    return f", replacing {', '.join(replaced)}" if replaced else ""
