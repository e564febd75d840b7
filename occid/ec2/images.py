# -*- test-case-name: tests.test_ec2_contract,tests.test_story_images -*-
"""
The images users saved through occid (C{save}: CreateImage tagged with the
maker's C{occid:owner} and C{occid:vo}), deleted by their maker or a
manager: DeregisterImage, then DeleteSnapshot of each EBS snapshot of its
block device mappings (EC2 refuses to delete them while the image is
registered).

L{EC2ImageStore} provides L{IImageStore}, running L{remove_image} in the
EC2 thread pool; the account's catalog stops offering the image at once
(L{occid.ec2.catalog.AccountCatalog.remove_saved}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from twisted.internet.defer import Deferred, fail
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from occid.ec2.account import Account
from occid.ec2.errors import translated
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, tag_dict
from occid.interfaces import IImageStore
from occid.modes import Visibility
from occid.occi.errors import Conflict, Forbidden, NotFound, OCCIError
from occid.occi.model import Mixin

__all__ = ["EC2ImageStore", "check_removable", "remove_image"]


def check_removable(scope: Scope, mixin: Mixin, site_offers: bool,
                    tags: dict[str, str] | None) -> None:
    """
    Whether C{scope}'s principal may delete the image of os_tpl C{mixin}.

    @param site_offers: the site offers the image to everyone (C{[images]}).
    @param tags: the image's tags, C{None} when the account has no such image.
    @raise Forbidden: the site offers it; or the principal sees it (its VO
        under C{visibility = "vo"}) but neither saved it nor manages.
    @raise NotFound: no saved image of the account that the principal sees.
    """
    if site_offers:
        raise Forbidden(f"{mixin.identifier} is an image the site offers, not one a user "
                        "saved: ask the site admin to withdraw it")
    if tags is None or OWNER_TAG not in tags or not scope.sees(tags):
        raise NotFound(f"no saved image {mixin.term} here")
    if scope.binding.visibility != Visibility.MANAGER and not scope.owns(tags):
        raise Forbidden(f"only the user who saved {mixin.term} or a manager may delete it")


@translated
def remove_image(account: Account, scope: Scope, mixin: Mixin) -> None:
    """
    Deregister the saved image of C{mixin} and delete its snapshots
    (blocking: two calls and one per snapshot).  Every snapshot is tried;
    when EC2 refuses some, the first refusal is raised, noting that the
    image itself is gone and which snapshots are left.

    @raise Conflict: the image is not C{available} (still being saved: its
        block device mappings may not name all its snapshots yet); nothing
        is deleted.
    """
    site_offers = account.catalog.catalog.lookup(mixin.identifier) is not None
    client = account.client
    found = [] if site_offers else client.describe_images(
        Owners=["self"], Filters=[{"Name": "image-id", "Values": [mixin.term]}])["Images"]
    check_removable(scope, mixin, site_offers, tag_dict(found[0]) if found else None)
    state = found[0].get("State", "available")
    if state != "available":
        raise Conflict(f"image {mixin.term} is {state}, not available: it is still being "
                       "saved (its snapshots may not all exist yet); try again once it is "
                       "available")
    client.deregister_image(ImageId=mixin.term)
    account.catalog.remove_saved(mixin.term)
    left: list[tuple[str, Exception]] = []
    for mapping in found[0].get("BlockDeviceMappings", ()):
        snapshot = mapping.get("Ebs", {}).get("SnapshotId")
        if not snapshot:
            continue
        try:
            client.delete_snapshot(SnapshotId=snapshot)
        except (ClientError, BotoCoreError) as error:
            left.append((snapshot, error))
    if left:
        first = left[0][1]
        first.add_note(f"image {mixin.term} was deregistered, but not all its snapshots "
                       f"were deleted: {', '.join(snapshot for snapshot, _ in left)} left")
        raise first


@implementer(IImageStore)
class EC2ImageStore:
    """
    The saved images of one account, as one principal may delete them;
    C{holding} gives the account (of the region) holding an os_tpl mixin's
    image.
    """

    def __init__(self, reactor: Any, pool: Any, holding: Callable[[Mixin], Account],
                 scope: Scope) -> None:
        self._reactor = reactor
        self._pool = pool
        self._holding = holding
        self._scope = scope

    def remove(self, mixin: Mixin) -> Deferred[None]:
        try:
            self._scope.check_writable()
        except OCCIError:
            return fail()
        return deferToThreadPool(self._reactor, self._pool, remove_image,
                                 self._holding(mixin), self._scope, mixin)

