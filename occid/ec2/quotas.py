# -*- test-case-name: tests.test_quotas -*-
"""
The account's limits checked before a create or a resize (blocking: runs in
the EC2 thread pool, inside the operation it guards).

The use is counted from occid's tags in EC2 at that moment, never kept in
memory, so every occid process serving the account counts the same: the
instances tagged C{occid:owner} that occid shows (L{occid.ec2.tags.shown}:
not shutting down or terminated), their vCPUs from DescribeInstanceTypes'
C{DefaultVCpus} (L{occid.ec2.answers.instance_types}; an instance of a type
EC2 no longer lists counts no vCPUs, while a request for such a type is
refused), and the volumes
tagged C{occid:owner} not being deleted (their size, root volumes
included), in every region the account is served in
(L{occid.ec2.account.Account.everywhere}: one bill, one set of limits; the
vCPUs of the types are read in the region of the request, as a type has the
same vCPUs everywhere).  A user's use is what carries its own C{occid:owner}.  Creates
running at the same moment do not see each other, so together they may
overshoot a limit by at most their number.  The comparison is
L{occid.ec2.usage.check}.
"""

from __future__ import annotations

from occid.ec2.account import Account, all_instances
from occid.ec2.answers import instance_types
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, shown, tag_dict
from occid.ec2.usage import Usage, check
from occid.occi.errors import BadRequest

#: The volume states that count against the limits.
COUNTED_VOLUMES = ("creating", "available", "in-use", "error")

_OURS = {"Name": "tag-key", "Values": [OWNER_TAG]}


def check_launch(account: Account, scope: Scope, instance_type: str) -> None:
    """
    @raise Forbidden: one more instance of C{instance_type} would exceed a
        limit on instances or vCPUs.
    @raise BadRequest: a vCPU limit is set and EC2 does not list
        C{instance_type}.
    """
    _check_instances(account, scope, "create", instance_type, instances=1)


def check_resize(account: Account, scope: Scope, old_type: str, new_type: str) -> None:
    """
    @raise Forbidden: the vCPUs C{new_type} has more than C{old_type} (a
        stopped instance's type, changed) would exceed a limit on vCPUs.
    """
    _check_instances(account, scope, "resize", new_type, old_type=old_type)


def _check_instances(account: Account, scope: Scope, request: str, instance_type: str,
                     instances: int = 0, old_type: str | None = None) -> None:
    """
    Count the instances and vCPUs in use (one DescribeInstances, and a
    DescribeInstanceTypes when a vCPU limit is set) and check a C{request}
    for C{instances} more instances and the vCPUs of C{instance_type} less
    those of C{old_type}.

    @raise Forbidden: a limit would be exceeded.
    @raise BadRequest: a vCPU limit is set and EC2 does not list
        C{instance_type}.
    """
    limits = account.limits
    counting_vcpus = limits.max_vcpus is not None or limits.user_max_vcpus is not None
    counting_instances = instances > 0 and (limits.max_instances is not None
                                            or limits.user_max_instances is not None)
    if not counting_vcpus and not counting_instances:
        return
    owners_and_types = [(tag_dict(instance).get(OWNER_TAG), instance["InstanceType"])
                        for region in account.everywhere()
                        for instance, _ in all_instances(region, shown([_OURS]))]
    vcpus: dict[str, int] = {}
    if counting_vcpus:
        asked_types = {instance_type} | ({old_type} if old_type else set())
        vcpus = {name: info["VCpuInfo"]["DefaultVCpus"] for name, info in instance_types(
            account.client, sorted({t for _, t in owners_and_types} | asked_types)).items()}
        if instance_type not in vcpus:
            raise BadRequest(f"EC2 does not list instance type {instance_type} in the region; "
                             "its vCPUs cannot be counted against the account's limits")
    owner = scope.principal.owner

    def use(of_user: bool) -> Usage:
        types = [t for who, t in owners_and_types if who == owner or not of_user]
        return Usage(instances=len(types), vcpus=sum(vcpus.get(t, 0) for t in types))

    asked_vcpus = vcpus.get(instance_type, 0) - (vcpus.get(old_type, 0) if old_type else 0)
    check(limits, account.name, use(of_user=False), use(of_user=True),
          Usage(instances=instances, vcpus=asked_vcpus), request)


def check_volume(account: Account, scope: Scope, gib: int, request: str = "create") -> None:
    """
    @raise Forbidden: C{gib} more GiB of volumes (a C{request}: C{"create"}
        or C{"resize"}) would exceed a limit on volume GiB.
    """
    limits = account.limits
    if gib <= 0 or (limits.max_volume_gib is None and limits.user_max_volume_gib is None):
        return
    volumes = [(volume["Size"], tag_dict(volume).get(OWNER_TAG))
               for region in account.everywhere()
               for page in region.client.get_paginator("describe_volumes").paginate(
                   Filters=[_OURS, {"Name": "status", "Values": list(COUNTED_VOLUMES)}])
               for volume in page["Volumes"]]
    owner = scope.principal.owner
    check(limits, account.name, Usage(volume_gib=sum(size for size, _ in volumes)),
          Usage(volume_gib=sum(size for size, who in volumes if who == owner)),
          Usage(volume_gib=gib), request)
