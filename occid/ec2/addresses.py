# -*- test-case-name: tests.test_ec2_compute,tests.test_ec2_reconciler -*-
"""
The elastic IPs occid allocates (tagged C{occid:managed=public},
docs/state.md): finding those of an instance and giving them back.

Blocking boto3 calls, run in the EC2 thread pool by their callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from botocore.exceptions import ClientError

from occid.ec2.clients import EC2Client
from occid.ec2.tags import MANAGED_PUBLIC, MANAGED_TAG, tag_dict

#: Pauses between the tries of a release that EC2 refuses while the address
#: is still associated (the disassociation of a terminating instance takes
#: effect a moment later); after the last one the reconciler takes over.
RELEASE_PAUSES = (1.0, 2.0, 4.0)


def occid_addresses(client: EC2Client, instance_id: str) -> list[dict]:
    """The elastic IPs occid made that are associated with the instance."""
    return [
        address for address in client.describe_addresses(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
        if tag_dict(address).get(MANAGED_TAG) == MANAGED_PUBLIC
    ]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def release(client: EC2Client, address: dict,
            pauses: Iterable[float] = RELEASE_PAUSES,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """
    Disassociate C{address} (if EC2 has not already) and release it; a
    release refused because the address is still in use is tried again
    after each of C{pauses} (bounded: this blocks a pool thread).

    @raise ClientError: EC2 still refuses after the last pause.
    """
    association = address.get("AssociationId")
    if association:
        try:
            client.disassociate_address(AssociationId=association)
        except ClientError as error:
            # Gone with its instance already: nothing left to undo.
            if not _code(error).startswith("InvalidAssociationID"):
                raise
    waits = iter(pauses)
    while True:
        try:
            client.release_address(AllocationId=address["AllocationId"])
            return
        except ClientError as error:
            if _code(error) == "InvalidAllocationID.NotFound":
                return
            pause = next(waits, None)
            if pause is None or not _code(error).endswith(("InUse", "AuthFailure")):
                raise
            sleep(pause)
