"""
Tests for the limits: L{occid.ec2.usage.check}, the pure comparison of a
request with an account's limits, and L{occid.ec2.quotas}, which counts the
use from occid's tags in EC2 (moto, in process).
"""

import dataclasses

import pytest

from occid.accountconfig import Limits
from occid.ec2 import quotas
from occid.ec2.compute import update_compute
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, tag_list
from occid.ec2.usage import Usage, check
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.occi.errors import BadRequest, Forbidden
from occid.occi.model import Changes
from tests.motoserver import DEBIAN, JANE, JOHN, binding, make_account, make_config

# -- the comparison (pure) -----------------------------------------------------


def refusal(limits: Limits, account: Usage, user: Usage, asked: Usage,
            request: str = "create") -> str:
    """The message of the 403 L{check} raises."""
    with pytest.raises(Forbidden) as e:
        check(limits, "fedcloud", account, user, asked, request)
    assert e.value.status == 403
    return e.value.message


def test_no_limits_allow_everything():
    """Unset limits refuse nothing."""
    check(Limits(), "fedcloud", Usage(99, 999, 9999), Usage(9, 99, 999), Usage(1, 64, 16384))


def test_account_limit():
    """A max_* limit counts the whole account; reaching it exactly is allowed."""
    limits = Limits(max_vcpus=8)
    check(limits, "fedcloud", Usage(3, 6, 0), Usage(), Usage(1, 2, 0))
    assert refusal(limits, Usage(3, 6, 0), Usage(), Usage(1, 4, 0)) == (
        "max_vcpus of account fedcloud is 8: 6 in use, this create asks for 4")


def test_user_limit():
    """A user_max_* limit counts the user's own use only."""
    limits = Limits(user_max_volume_gib=10)
    check(limits, "fedcloud", Usage(volume_gib=500), Usage(volume_gib=4), Usage(volume_gib=6))
    assert refusal(limits, Usage(volume_gib=500), Usage(volume_gib=8), Usage(volume_gib=4),
                   "resize") == (
        "user_max_volume_gib of account fedcloud is 10: 8 in use by you, "
        "this resize asks for 4")


def test_unasked_measures_not_checked():
    """An account over its instance limit may still create volumes."""
    check(Limits(max_instances=1, max_volume_gib=10), "fedcloud", Usage(5, 10, 2), Usage(),
          Usage(volume_gib=3))
    assert refusal(Limits(max_instances=0), Usage(), Usage(), Usage(instances=1)) == (
        "max_instances of account fedcloud is 0: 0 in use, this create asks for 1")


# -- counting in EC2 (moto) ----------------------------------------------------


def limited(account, **limits):
    """C{account} with C{limits}."""
    return dataclasses.replace(account, limits=Limits(**limits))


def launch(account, owner: str, instance_type: str = "t3.micro") -> str:
    """An instance tagged as occid's (owner hash C{owner}), made with boto3; its id."""
    return account.client.run_instances(
        ImageId=DEBIAN, InstanceType=instance_type, MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": tag_list({OWNER_TAG: owner})}])["Instances"][0]["InstanceId"]


@pytest.mark.moto
def test_instances_counted_from_tags(account):
    """
    occid's instances count, stopped ones too, terminated ones and
    instances without occid's tags do not; vCPUs come from the types.
    """
    scope = Scope(JANE, binding())
    account = limited(account, max_vcpus=6, user_max_instances=2)
    launch(account, JANE.owner, "t3.micro")
    stopped = launch(account, JOHN.owner, "t3.micro")
    account.client.stop_instances(InstanceIds=[stopped])
    account.client.terminate_instances(InstanceIds=[launch(account, JANE.owner, "m5.large")])
    account.client.run_instances(ImageId=DEBIAN, InstanceType="m5.large", MinCount=1,
                                 MaxCount=1)
    quotas.check_launch(account, scope, "t3.micro")
    with pytest.raises(Forbidden) as e:
        quotas.check_launch(account, scope, "m5.xlarge")
    assert e.value.message == "max_vcpus of account fedcloud is 6: 4 in use, this create asks for 4"
    launch(account, JANE.owner)
    with pytest.raises(Forbidden) as e:
        quotas.check_launch(account, scope, "t3.micro")
    assert e.value.message == ("user_max_instances of account fedcloud is 2: 2 in use by you, "
                               "this create asks for 1")


@pytest.mark.moto
def test_volumes_counted_from_tags(account):
    """occid's volumes count their size; untagged volumes do not; a growth counts its GiB."""
    scope = Scope(JOHN, binding())
    account = limited(account, max_volume_gib=10)
    zone = account.catalog.templates.zones[0]
    for size, tags in ((4, {OWNER_TAG: JANE.owner}), (3, {OWNER_TAG: JOHN.owner}), (50, {})):
        account.client.create_volume(
            Size=size, AvailabilityZone=zone, TagSpecifications=[
                {"ResourceType": "volume", "Tags": tag_list({"Name": "v", **tags})}])
    quotas.check_volume(account, scope, 3)
    with pytest.raises(Forbidden) as e:
        quotas.check_volume(account, scope, 4, "resize")
    assert e.value.message == ("max_volume_gib of account fedcloud is 10: 7 in use, "
                               "this resize asks for 4")


@pytest.mark.moto
def test_resize_counts_the_extra_vcpus(moto):
    """
    A resize asks for the vCPUs the new type has more than the old one: a
    stopped t3.micro (2) may grow to m5.xlarge (4) under a limit of 4, not
    of 3, and may shrink back under any limit; the type is left unchanged
    when refused.
    """
    account = make_account(make_config(moto.endpoint, instance_types=("t3.micro", "m5.xlarge")))
    scope = Scope(JANE, binding())
    small = launch(account, JANE.owner, "t3.micro")
    account.client.stop_instances(InstanceIds=[small])
    bigger = Changes(mixins=[resource_tpl_mixin("m5.xlarge", 4, 16.0, "x86_64")])
    with pytest.raises(Forbidden) as e:
        update_compute(limited(account, user_max_vcpus=3), scope, small, bigger)
    assert e.value.message == ("user_max_vcpus of account fedcloud is 3: 2 in use by you, "
                               "this resize asks for 2")
    described = account.client.describe_instances(InstanceIds=[small])
    assert described["Reservations"][0]["Instances"][0]["InstanceType"] == "t3.micro"
    update_compute(limited(account, user_max_vcpus=4), scope, small, bigger)
    smaller = Changes(mixins=[resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")])
    update_compute(limited(account, max_vcpus=0), scope, small, smaller)


@pytest.mark.moto
def test_types_ec2_does_not_list(account):
    """
    The instance types are read through a filter: a live instance of a type
    EC2 does not list (here its description is altered) does not fail the
    count and counts no vCPUs, while a create of such a type is 400 naming
    it, not 0 vCPUs.
    """
    scope = Scope(JANE, binding())
    account = limited(account, max_vcpus=4)
    launch(account, JANE.owner, "t3.micro")
    retired = launch(account, JANE.owner, "t3.micro")

    def retire(parsed, **kwargs):
        for reservation in parsed.get("Reservations", ()):
            for instance in reservation["Instances"]:
                if instance["InstanceId"] == retired:
                    instance["InstanceType"] = "t1.retired"

    account.client.meta.events.register("after-call.ec2.DescribeInstances", retire)
    quotas.check_launch(account, scope, "t3.small")
    with pytest.raises(BadRequest) as e:
        quotas.check_launch(account, scope, "t9.nano")
    assert "t9.nano" in e.value.message
