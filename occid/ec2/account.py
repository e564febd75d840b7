# -*- test-case-name: tests.test_ec2_compute -*-
"""
What occid keeps in memory for one AWS account, shared by every request's
collections: the client, the catalog, the id of the C{occid-ssh} security
group of each VPC, and the ids this process created a moment ago (which EC2
may not know yet: its reads are eventually consistent, docs/status.md).

Blocking: the methods that call EC2 run in the EC2 thread pool.  What a
cleanup could not undo is noted on the error raised (C{add_note}), which
L{occid.ec2.adapter} logs in the reactor thread.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from occid.accountconfig import Limits
from occid.config import AwsConfig
from occid.ec2.breaker import Breaker
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import EC2Client
from occid.ec2.tags import MANAGED_SSH, MANAGED_TAG, NAME_TAG, tag_dict, tag_list
from occid.occi.errors import ServiceUnavailable
from occid.occi.model import AttributeValue

_T = TypeVar("_T")

#: The security group occid attaches at launch, one per VPC.
SSH_GROUP = "occid-ssh"

class RecentIds:
    """
    Ids this process created in the last C{window} seconds.  A describe that
    answers NotFound for one of them is retried briefly instead of being
    reported as 404.
    """

    def __init__(self, window: float = 120.0,
                 delays: Iterable[float] = (0.5, 1.0, 2.0, 4.0),
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._window = window
        self._delays = tuple(delays)
        self._clock = clock
        self._sleep = sleep
        self._created: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, id: str) -> None:
        """Remember that C{id} was just created."""
        now = self._clock()
        with self._lock:
            self._created = {
                known: when for known, when in self._created.items()
                if now - when < self._window
            }
            self._created[id] = now

    def forget(self, id: str) -> None:
        """C{id} was deleted: a NotFound for it is the truth from now on."""
        with self._lock:
            self._created.pop(id, None)

    def fresh(self, id: str) -> bool:
        """Whether C{id} was created less than the window ago."""
        with self._lock:
            when = self._created.get(id)
        return when is not None and self._clock() - when < self._window

    def describe(self, id: str, call: Callable[[], _T]) -> _T:
        """
        C{call()}, retried with backoff while it raises a NotFound error and
        C{id} is fresh.

        @raise ServiceUnavailable: a fresh id still unknown after the retries.
        """
        delays = iter(self._delays)
        while True:
            try:
                return call()
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if not code.endswith("NotFound") or not self.fresh(id):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise ServiceUnavailable(
                        f"{id} was just created and EC2 does not show it yet; try again",
                        retry_after=5,
                    ) from error
                self._sleep(delay)


class SecurityGroups:
    """
    The id of the C{occid-ssh} group of each VPC (TCP 22 from C{[aws]
    ssh_cidr}, IPv4 or IPv6), created when missing, then remembered; and the
    default VPC.  A group whose rule could not be added is deleted again, so
    that no lookup finds it without its rule.
    """

    def __init__(self, client: EC2Client, ssh_cidr: str) -> None:
        self._client = client
        self._cidr = ssh_cidr
        self._groups: dict[str, str | None] = {}
        self._default_vpc: str | None = None
        self._lock = threading.Lock()

    def default_vpc(self) -> str | None:
        """The account's default VPC in the region, if it has one."""
        if self._default_vpc is None:
            vpcs = self._client.describe_vpcs(
                Filters=[{"Name": "is-default", "Values": ["true"]}]
            )["Vpcs"]
            self._default_vpc = vpcs[0]["VpcId"] if vpcs else ""
        return self._default_vpc or None

    def group_for(self, vpc_id: str) -> str | None:
        """The C{occid-ssh} group id of C{vpc_id}, or C{None} when ssh_cidr is empty."""
        if not self._cidr:
            return None
        known = self._groups.get(vpc_id)
        if known:
            return known
        with self._lock:
            if vpc_id not in self._groups:
                self._groups[vpc_id] = self._find_or_create(vpc_id)
            return self._groups[vpc_id]

    def _find(self, vpc_id: str) -> str | None:
        groups = self._client.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                     {"Name": "group-name", "Values": [SSH_GROUP]}]
        )["SecurityGroups"]
        return groups[0]["GroupId"] if groups else None

    def _find_or_create(self, vpc_id: str) -> str | None:
        found = self._find(vpc_id)
        if found:
            return found
        try:
            group_id = self._client.create_security_group(
                GroupName=SSH_GROUP,
                Description="SSH to instances launched by occid",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group",
                                    "Tags": tag_list({MANAGED_TAG: MANAGED_SSH})}],
            )["GroupId"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "InvalidGroup.Duplicate":
                raise
            return self._find(vpc_id)  # another occid process made it meanwhile
        try:
            self._client.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[ssh_permission(self._cidr)])
        except BaseException as error:
            try:
                self._client.delete_security_group(GroupId=group_id)
            except (ClientError, BotoCoreError) as cleanup:
                # The rule's error is the one to raise; this one is noted on it.
                error.add_note(f"deleting security group {group_id} after its rule failed "
                               f"failed: {cleanup}")
            raise
        return group_id


def ssh_permission(cidr: str) -> dict:
    """The ingress rule opening TCP 22 to C{cidr}, an IPv4 or IPv6 block."""
    description = "SSH (occid [aws] ssh_cidr)"
    if ipaddress.ip_network(cidr, strict=False).version == 6:
        ranges = {"Ipv6Ranges": [{"CidrIpv6": cidr, "Description": description}]}
    else:
        ranges = {"IpRanges": [{"CidrIp": cidr, "Description": description}]}
    return {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, **ranges}


@dataclass
class Account:
    """Everything occid shares between the requests served by one account."""

    name: str
    client: EC2Client
    aws: AwsConfig
    catalog: AccountCatalog
    groups: SecurityGroups
    recent: RecentIds = field(default_factory=RecentIds)
    #: The account's SSM client in the same region, where its user mixins
    #: are defined (L{occid.ec2.usermixins}); C{None}: no user mixins.
    ssm: Any = None
    #: What occid may make in the account (L{occid.ec2.quotas}).
    limits: Limits = field(default_factory=Limits)
    #: The account in every region it is served in, this one included, when
    #: it is served in several: its limits count them all.  Empty otherwise.
    regions: list[Account] = field(default_factory=list, repr=False, compare=False)
    #: The breaker of this account in this region, in front of its clients
    #: (L{occid.ec2.clients.guard}).
    breaker: Breaker = field(default_factory=Breaker, repr=False, compare=False)

    @property
    def label(self) -> str:
        """How logs name this account in this region: C{fedcloud (eu-west-1)}."""
        return f"{self.name} ({self.aws.region})"

    def everywhere(self) -> list[Account]:
        """The account in every region it is served in (its limits' reach)."""
        return self.regions or [self]

    def retitle(self, resource: dict, id: str, title: AttributeValue) -> dict:
        """
        Set (or, for an empty title, remove) the C{Name} tag of EC2 resource
        C{id} if C{title} differs from it; returns C{resource} (its
        description) with the tags as they now are.  Blocking.
        """
        title = str(title)
        if title == tag_dict(resource).get(NAME_TAG, ""):
            return resource
        if title:
            self.client.create_tags(Resources=[id], Tags=[{"Key": NAME_TAG, "Value": title}])
        else:
            self.client.delete_tags(Resources=[id], Tags=[{"Key": NAME_TAG}])
        others = [t for t in resource.get("Tags", ()) if t["Key"] != NAME_TAG]
        return dict(resource, Tags=others + ([{"Key": NAME_TAG, "Value": title}] if title else []))


def all_instances(account: Account, filters: list[dict]) -> Iterator[tuple[dict, str]]:
    """(instance, reservation id) for every instance matching C{filters}, paginated by 1,000."""
    pages = account.client.get_paginator("describe_instances").paginate(
        Filters=filters, PaginationConfig={"PageSize": 1000})
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                yield instance, reservation["ReservationId"]
