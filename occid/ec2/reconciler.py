# -*- test-case-name: tests.test_ec2_reconciler -*-
"""
The reconciler: one blocking pass over one account, run by a timer in the
daemon (docs/state.md, links that need a running instance).

It makes the links recorded in C{occid:links} tags once their instance
runs, and drops from the tag a link that can never be made (its volume is
gone, attached elsewhere or in another zone).  Then it removes what occid
left behind: its temporary launch key pairs older than an hour, and elastic
IPs it allocated that are not associated and network interfaces it made
that are not attached, once they are older than L{GRACE} (a request, in
this or another occid process, may be between allocating and associating,
or creating and attaching); and, at once, its elastic IPs still associated
with a terminated or vanished instance.  Because every intent lives in EC2 tags, any
occid process (or a restarted one) finishes the work.  It returns a plain
report; the caller logs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from occid.ec2 import intents
from occid.ec2.account import Account, all_instances
from occid.ec2.addresses import occid_addresses, release
from occid.ec2.errors import translate
from occid.ec2.launch import LAUNCH_KEY_PREFIX
from occid.ec2.links import (
    attach_volume,
    make_public,
    write_intents,
    zone_mismatch,
)
from occid.ec2.tags import (
    LINKS_TAG,
    MANAGED_INTERFACE,
    MANAGED_PUBLIC,
    MANAGED_TAG,
    created_at,
    ownership,
    tag_dict,
)
from occid.occi.errors import OCCIError

#: Age after which a launch key pair is certainly left over from a crash.
KEY_PAIR_AGE = timedelta(hours=1)

#: Age under which a free occid address or interface may still be in use by
#: a request that made it.
GRACE = timedelta(minutes=10)


class Abandoned(Exception):
    """A recorded link that can never be made; the message says why."""


@dataclass
class Report:
    """What one pass did, and what failed (messages for the log)."""

    links_made: list[str] = field(default_factory=list)
    links_abandoned: list[str] = field(default_factory=list)
    key_pairs_deleted: list[str] = field(default_factory=list)
    addresses_released: list[str] = field(default_factory=list)
    interfaces_deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _failed(report: Report, what: str, error: Exception) -> None:
    mapped = translate(error)
    message = mapped.message if isinstance(mapped, OCCIError) else type(error).__name__
    report.errors.append(f"{what}: {message}")


def _make(account: Account, instance: dict, intent: intents.Intent) -> None:
    """
    Make one intent, unless it is done already.  @raise Abandoned: it can
    never be made.
    """
    client = account.client
    id = instance["InstanceId"]
    if intent.target == intents.PUBLIC:
        if not occid_addresses(client, id):
            make_public(client, instance, ownership(tag_dict(instance)))
        return
    volumes = client.describe_volumes(
        Filters=[{"Name": "volume-id", "Values": [intent.target]}])["Volumes"]
    if not volumes:
        raise Abandoned(f"storage {intent.target} no longer exists")
    volume = volumes[0]
    holders = {a["InstanceId"] for a in volume.get("Attachments", ())}
    if id in holders:
        return
    if holders:
        raise Abandoned(f"storage {intent.target} is attached to {', '.join(sorted(holders))}")
    mismatch = zone_mismatch(instance, volume)
    if mismatch:
        raise Abandoned(mismatch)
    attach_volume(client, instance, volume, intent.device)


def complete_links(account: Account, report: Report) -> None:
    """Make the recorded links of every running instance, and clear what is done or hopeless."""
    running = all_instances(account, [
        {"Name": "tag-key", "Values": [LINKS_TAG]},
        {"Name": "instance-state-name", "Values": ["running"]}])
    for instance, _ in running:
        _complete(account, instance, report)


def _complete(account: Account, instance: dict, report: Report) -> None:
    """Make the recorded links of one running instance; keep in its tag those that failed."""
    id = instance["InstanceId"]
    left: list[intents.Intent] = []
    for intent in intents.pending(instance):
        try:
            _make(account, instance, intent)
        except Abandoned as reason:
            report.links_abandoned.append(f"{id}_{intent.target}: {reason}")
        except (ClientError, BotoCoreError, OCCIError) as error:
            _failed(report, f"{id} link to {intent.target}", error)
            left.append(intent)
        else:
            report.links_made.append(f"{id}_{intent.target}")
    try:
        write_intents(account.client, id, tuple(left))
    except (ClientError, BotoCoreError) as error:
        _failed(report, f"{id} links tag", error)


def complete_instance(account: Account, id: str) -> Report | None:
    """
    The pass of L{complete_links} over one instance, for the daemon's
    watcher of a new compute (blocking; one DescribeInstances when there is
    nothing to do): C{None} while the instance is pending (look again
    later), else the report (empty when it is gone, stopped or has no
    recorded link left).
    """
    report = Report()
    for instance, _ in all_instances(account, [{"Name": "instance-id", "Values": [id]}]):
        state = instance["State"]["Name"]
        if state == "pending":
            return None
        if state == "running" and intents.pending(instance):
            try:
                _complete(account, instance, report)
            except (ClientError, BotoCoreError, OCCIError) as error:
                _failed(report, f"{id} links", error)
    return report


def _old(resource: dict, now: datetime) -> bool:
    """Whether C{resource} was made more than L{GRACE} ago (or says not when)."""
    created = created_at(tag_dict(resource))
    return created is None or now - created > GRACE


def collect_leftovers(account: Account, now: datetime, report: Report) -> None:
    """
    Delete old launch keys; release free occid addresses and delete free
    occid interfaces older than L{GRACE}.  One without a C{occid:created}
    tag (made by an older occid) counts as old.
    """
    client = account.client
    for key in client.describe_key_pairs(
            Filters=[{"Name": "key-name", "Values": [LAUNCH_KEY_PREFIX + "*"]}])["KeyPairs"]:
        created = key.get("CreateTime")
        if created is not None and now - created > KEY_PAIR_AGE:
            client.delete_key_pair(KeyName=key["KeyName"])
            report.key_pairs_deleted.append(key["KeyName"])
    addresses = client.describe_addresses(
        Filters=[{"Name": f"tag:{MANAGED_TAG}", "Values": [MANAGED_PUBLIC]}])["Addresses"]
    for address in addresses:
        if not address.get("AssociationId") and _old(address, now):
            client.release_address(AllocationId=address["AllocationId"])
            report.addresses_released.append(address["AllocationId"])
    _free_orphans(account, addresses, report)
    for interface in client.describe_network_interfaces(Filters=[
            {"Name": f"tag:{MANAGED_TAG}", "Values": [MANAGED_INTERFACE]},
            {"Name": "status", "Values": ["available"]}])["NetworkInterfaces"]:
        if not _old(interface, now):
            continue
        client.delete_network_interface(NetworkInterfaceId=interface["NetworkInterfaceId"])
        report.interfaces_deleted.append(interface["NetworkInterfaceId"])


def _free_orphans(account: Account, addresses: list[dict], report: Report) -> None:
    """
    Disassociate and release the occid addresses of C{addresses} still
    associated with an instance that is terminated or no longer exists (a
    compute deleted while a release failed, or by another tool).
    """
    holders = {a["InstanceId"]: a for a in addresses if a.get("AssociationId")
               and a.get("InstanceId")}
    if not holders:
        return
    alive = {instance["InstanceId"] for instance, _ in all_instances(account, [
        {"Name": "instance-id", "Values": sorted(holders)},
        {"Name": "instance-state-name",
         "Values": ["pending", "running", "shutting-down", "stopping", "stopped"]}])}
    for id, address in sorted(holders.items()):
        if id in alive:
            continue
        try:
            release(account.client, address, pauses=())
        except (ClientError, BotoCoreError) as error:
            _failed(report, f"releasing {address['AllocationId']} of {id}", error)
        else:
            report.addresses_released.append(address["AllocationId"])


def reconcile(account: Account, now: datetime) -> Report:
    """One pass over C{account} (blocking); failures are reported, never raised."""
    report = Report()
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("complete_links", lambda: complete_links(account, report)),
        ("collect_leftovers", lambda: collect_leftovers(account, now, report)),
    )
    for name, step in steps:
        try:
            step()
        except (ClientError, BotoCoreError, OCCIError) as error:
            _failed(report, name, error)
    return report
