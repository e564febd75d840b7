# -*- test-case-name: tests.test_ec2_reconciler -*-
"""
The reconciler: one blocking pass over one account, run by a timer in the
daemon (DESIGN.md, "Links that need a running instance").

It makes the links recorded in C{occid:links} tags once their instance
runs, then removes what occid left behind: its temporary launch key pairs
older than an hour, elastic IPs it allocated that are no longer associated,
and network interfaces it made that are no longer attached.  Because every
intent lives in EC2 tags, any occid process (or a restarted one) finishes
the work.  It returns a plain report; the caller logs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from occid.ec2 import intents
from occid.ec2.account import MANAGED_TAG, Account
from occid.ec2.compute import LAUNCH_KEY_PREFIX, all_instances
from occid.ec2.errors import translate
from occid.ec2.links import attach_volume, occid_addresses, make_public
from occid.ec2.scope import OWNER_TAG, VO_TAG, tag_dict
from occid.occi.errors import OCCIError

#: Age after which a launch key pair is certainly left over from a crash.
KEY_PAIR_AGE = timedelta(hours=1)


@dataclass
class Report:
    """What one pass did, and what failed (messages for the log)."""

    links_made: list[str] = field(default_factory=list)
    key_pairs_deleted: list[str] = field(default_factory=list)
    addresses_released: list[str] = field(default_factory=list)
    interfaces_deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _failed(report: Report, what: str, error: Exception) -> None:
    mapped = translate(error)
    message = mapped.message if isinstance(mapped, OCCIError) else type(error).__name__
    report.errors.append(f"{what}: {message}")


def _make(account: Account, instance: dict, intent: intents.Intent) -> None:
    """Make one intent, unless it is done already or impossible for good."""
    client = account.client
    if intent.target == intents.PUBLIC:
        if not occid_addresses(client, instance["InstanceId"]):
            tags = tag_dict(instance)
            make_public(client, instance, {k: tags[k] for k in (OWNER_TAG, VO_TAG, "occid:dn")
                                           if k in tags})
        return
    volumes = client.describe_volumes(
        Filters=[{"Name": "volume-id", "Values": [intent.target]}])["Volumes"]
    # A volume deleted meanwhile, or attached already, leaves nothing to do.
    if volumes and not volumes[0].get("Attachments"):
        attach_volume(client, instance, volumes[0], intent.device)


def complete_links(account: Account, report: Report) -> None:
    """Make the recorded links of every running instance, and clear what is done."""
    client = account.client
    running = all_instances(account, [
        {"Name": "tag-key", "Values": [intents.LINKS_TAG]},
        {"Name": "instance-state-name", "Values": ["running"]}])
    for instance, _ in running:
        id = instance["InstanceId"]
        pending = intents.decode(tag_dict(instance).get(intents.LINKS_TAG, ""))
        left = []
        for intent in pending:
            try:
                _make(account, instance, intent)
            except (ClientError, BotoCoreError, OCCIError) as error:
                _failed(report, f"{id} link to {intent.target}", error)
                left.append(intent)
            else:
                report.links_made.append(f"{id}_{intent.target}")
        try:
            if left:
                client.create_tags(Resources=[id], Tags=[
                    {"Key": intents.LINKS_TAG, "Value": intents.encode(left)}])
            else:
                client.delete_tags(Resources=[id], Tags=[{"Key": intents.LINKS_TAG}])
        except (ClientError, BotoCoreError) as error:
            _failed(report, f"{id} links tag", error)


def collect_leftovers(account: Account, now: datetime, report: Report) -> None:
    """Delete old launch keys, release free occid addresses, delete free occid interfaces."""
    client = account.client
    for key in client.describe_key_pairs(
            Filters=[{"Name": "key-name", "Values": [LAUNCH_KEY_PREFIX + "*"]}])["KeyPairs"]:
        created = key.get("CreateTime")
        if created is not None and now - created > KEY_PAIR_AGE:
            client.delete_key_pair(KeyName=key["KeyName"])
            report.key_pairs_deleted.append(key["KeyName"])
    for address in client.describe_addresses(
            Filters=[{"Name": f"tag:{MANAGED_TAG}", "Values": ["public"]}])["Addresses"]:
        if not address.get("AssociationId"):
            client.release_address(AllocationId=address["AllocationId"])
            report.addresses_released.append(address["AllocationId"])
    for interface in client.describe_network_interfaces(Filters=[
            {"Name": f"tag:{MANAGED_TAG}", "Values": ["interface"]},
            {"Name": "status", "Values": ["available"]}])["NetworkInterfaces"]:
        client.delete_network_interface(NetworkInterfaceId=interface["NetworkInterfaceId"])
        report.interfaces_deleted.append(interface["NetworkInterfaceId"])


def reconcile(account: Account, now: datetime) -> Report:
    """One pass over C{account} (blocking); failures are reported, never raised."""
    report = Report()
    for step, args in ((complete_links, ()), (collect_leftovers, (now,))):
        try:
            step(account, *args, report)
        except (ClientError, BotoCoreError, OCCIError) as error:
            _failed(report, step.__name__, error)
    return report
