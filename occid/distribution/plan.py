# -*- test-case-name: tests.test_distribution_pure -*-
"""
What one pass does in one account and region for one source: which
appliances to import, which AMIs to retire (replaced by a new version,
dropped by the source, or of an expired list), bring back (retired, but
offered again), remove (retired longer than the grace period) and which
snapshots a failed or interrupted import left (L{Found} AMIs and
snapshots come from their tags: nothing is imported twice).

Pure: no boto3, no Twisted; time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from occid.distribution.appliance import Appliance

__all__ = ["Found", "Plan", "plan"]


@dataclass(frozen=True)
class Found:
    """An AMI of the source, from its tags; C{retired}: when, or C{None}."""

    image_id: str
    appliance: str
    import_id: str
    retired: datetime | None = None


@dataclass(frozen=True)
class Plan:
    """
    @ivar imports: the appliances to import here.
    @ivar replaces: by import id, the AMIs its import retires once registered.
    @ivar retire: AMIs to retire now (dropped, or their list expired).
    @ivar restore: retired AMIs offered again (their version is current).
    @ivar remove: retired AMIs past the grace period, with their snapshots.
    @ivar orphans: snapshots of imports with no AMI.
    """

    imports: tuple[Appliance, ...] = ()
    replaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    retire: tuple[str, ...] = ()
    restore: tuple[str, ...] = ()
    remove: tuple[Found, ...] = ()
    orphans: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the pass changes nothing here."""
        return not (self.imports or self.retire or self.restore or self.remove or self.orphans)


def plan(wanted: Mapping[str, Appliance] | None, images: list[Found],
         snapshots: Mapping[str, str], now: datetime, grace: float) -> Plan:
    """
    The plan for one target.

    @param wanted: the source's current appliances by key; C{None} when the
        source could not be read this time (nothing is retired then).
    @param images: the source's AMIs in this target.
    @param snapshots: the source's snapshots here, snapshot id to import id.
    @param grace: seconds a retired AMI is kept.
    """
    current = {appliance.import_id for appliance in (wanted or {}).values()}
    imported = {found.import_id for found in images}
    imports = tuple(appliance for appliance in (wanted or {}).values()
                    if appliance.import_id not in imported)
    replaces: dict[str, tuple[str, ...]] = {}
    retire, restore, remove = [], [], []
    kept: set[str] = set()
    for found in sorted(images, key=lambda found: found.image_id):
        if found.retired is not None:
            if found.import_id in current and found.import_id not in kept:
                restore.append(found.image_id)
                kept.add(found.import_id)
            elif now - found.retired >= timedelta(seconds=grace):
                remove.append(found)
            continue
        if wanted is None:
            continue
        if found.import_id in current and found.import_id not in kept:
            kept.add(found.import_id)
            continue
        new = wanted.get(found.appliance)
        if new is not None and new.import_id not in imported:
            replaces[new.import_id] = replaces.get(new.import_id, ()) + (found.image_id,)
        else:
            retire.append(found.image_id)
    orphans = tuple(sorted(snapshot for snapshot, import_id in snapshots.items()
                           if import_id not in imported))
    return Plan(imports=imports, replaces=replaces, retire=tuple(retire), restore=tuple(restore),
                remove=tuple(remove), orphans=orphans)
