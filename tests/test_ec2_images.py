"""
Tests for L{occid.ec2.images} beyond the saved-image contract
(tests/contract_images.py): what a delete does when EC2 refuses a snapshot,
or while the image is still being saved.
"""

import pytest

from occid.ec2.images import EC2ImageStore
from occid.ec2.scope import Scope
from occid.occi import errors
from occid.occi import infrastructure as infra
from tests.ec2hooks import count_calls, inject
from tests.motoserver import (
    DEBIAN,
    JANE,
    InlineReactor,
    SyncPool,
    binding,
    failureResultOf,
    provider,
    successResultOf,
)
from tests.test_ec2_compute import os_tpl, request

pytestmark = pytest.mark.moto


def test_a_refused_snapshot_is_reported_after_the_others_and_the_image_go(account):
    """
    When EC2 refuses a snapshot's delete, the image is still deregistered
    and no longer offered; the refusal is the failure, noting the snapshot
    left behind.
    """
    computes = provider(infra.COMPUTE, account, JANE)
    vm = successResultOf(computes.create(request(os_tpl(DEBIAN))))
    saved = successResultOf(computes.trigger(vm.id, infra.COMPUTE_SAVE, {"name": "golden"}))
    [image] = account.client.describe_images(ImageIds=[saved.term])["Images"]
    snapshots = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    assert snapshots
    inject(account.client, "DeleteSnapshot", 400, "InvalidSnapshot.InUse")
    store = EC2ImageStore(InlineReactor(), SyncPool(), lambda mixin: account, Scope(JANE, binding()))
    failure = failureResultOf(store.remove(saved), errors.OCCIError)
    assert any(snapshots[0] in note for note in getattr(failure.value, "__notes__", ()))
    assert account.client.describe_images(Owners=["self"], Filters=[
        {"Name": "image-id", "Values": [saved.term]}])["Images"] == []
    assert account.catalog.catalog_for(Scope(JANE, binding())).lookup(saved.identifier) is None


def test_an_image_still_being_saved_is_409_naming_its_state(account):
    """
    While CreateImage runs (EC2 describes the image C{pending}; moto's are
    available at once, so the description is altered), its snapshots may
    not all be listed yet: the delete is 409 naming the state, and nothing
    is deregistered or deleted.
    """
    computes = provider(infra.COMPUTE, account, JANE)
    vm = successResultOf(computes.create(request(os_tpl(DEBIAN))))
    saved = successResultOf(computes.trigger(vm.id, infra.COMPUTE_SAVE, {"name": "golden"}))

    def pending(parsed, **kwargs):
        for image in parsed["Images"]:
            image["State"] = "pending"

    account.client.meta.events.register("after-call.ec2.DescribeImages", pending)
    calls = count_calls(account.client)
    store = EC2ImageStore(InlineReactor(), SyncPool(), lambda mixin: account, Scope(JANE, binding()))
    failure = failureResultOf(store.remove(saved), errors.Conflict)
    assert "pending" in str(failure.value)
    assert calls["DeregisterImage"] == calls["DeleteSnapshot"] == 0
    assert account.catalog.catalog_for(Scope(JANE, binding())).lookup(saved.identifier)
