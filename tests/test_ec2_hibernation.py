# -*- test-case-name: tests.test_ec2_hibernation -*-
"""
Tests for L{occid.ec2.hibernation} and its use by the planner, the launch
and the catalogue: which creates launch able to hibernate under each
C{[aws] hibernation}, the RunInstances options they carry (against moto),
and what the query interface offers.
"""

import pytest

from occid.ec2.answers import load_templates
from occid.ec2.hibernation import Hibernating, plan_hibernation, run_options
from occid.ec2.vocabulary import HIBERNATION, resource_tpl_mixin
from occid.modes import Hibernation
from occid.occi import errors
from occid.occi import infrastructure as infra
from tests.ec2hooks import count_calls
from tests.motoserver import (
    DEBIAN,
    PUBLIC_HOST,
    failureResultOf,
    make_account,
    make_config,
    provider,
    successResultOf,
)
from tests.test_ec2_compute import os_tpl, request

MICRO = resource_tpl_mixin("t3.micro", 2, 1.0, "x86_64")
LARGE = resource_tpl_mixin("t3.large", 2, 8.0, "x86_64")
ARM = resource_tpl_mixin("a1.medium", 1, 2.0, "arm64")
TEMPLATES = (MICRO, LARGE, ARM)
HIBERNATING = frozenset({"t3.micro", "t3.large"})


def plan(mode, mixins, instance_type):
    return plan_hibernation(mode, mixins, instance_type, TEMPLATES, HIBERNATING)


# -- the planner (pure) ---------------------------------------------------------


def test_on_request_hibernates_only_when_asked():
    assert plan(Hibernation.ON_REQUEST, [MICRO], "t3.micro") is None
    assert plan(Hibernation.ON_REQUEST, [LARGE, HIBERNATION], "t3.large") == Hibernating(8, True)


def test_asking_with_a_type_that_cannot_is_400():
    for mode in (Hibernation.ON_REQUEST, Hibernation.ALWAYS):
        with pytest.raises(errors.BadRequest, match="a1.medium cannot hibernate"):
            plan(mode, [ARM, HIBERNATION], "a1.medium")


def test_always_hibernates_what_can_and_launches_the_rest_without():
    assert plan(Hibernation.ALWAYS, [MICRO], "t3.micro") == Hibernating(1, False)
    assert plan(Hibernation.ALWAYS, [ARM], "a1.medium") is None


def test_never_refuses_the_mixin():
    assert plan(Hibernation.NEVER, [MICRO], "t3.micro") is None
    with pytest.raises(errors.BadRequest, match='hibernation = "never"'):
        plan(Hibernation.NEVER, [MICRO, HIBERNATION], "t3.micro")


# -- the RunInstances options (pure) --------------------------------------------


EBS_IMAGE = {"ImageId": DEBIAN, "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
             "BlockDeviceMappings": [
                 {"DeviceName": "/dev/xvdb", "Ebs": {"VolumeSize": 100}},
                 {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}]}
STORE_IMAGE = {"ImageId": DEBIAN, "RootDeviceType": "instance-store",
               "RootDeviceName": "/dev/sda1", "BlockDeviceMappings": []}


def test_root_volume_is_encrypted_and_holds_root_and_ram():
    assert run_options(EBS_IMAGE, Hibernating(4, True)) == {
        "HibernationOptions": {"Configured": True},
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
            "Encrypted": True, "DeleteOnTermination": True, "VolumeSize": 12}}],
    }


def test_instance_store_root_is_400_when_asked_else_no_hibernation():
    with pytest.raises(errors.BadRequest, match="instance-store root device"):
        run_options(STORE_IMAGE, Hibernating(1, True))
    assert run_options(STORE_IMAGE, Hibernating(1, False)) == {}


# -- against moto ----------------------------------------------------------------


@pytest.mark.moto
def test_templates_know_which_types_hibernate(moto):
    client = make_account(make_config(moto.endpoint)).client
    config = make_config(moto.endpoint, instance_types=("t3.micro", "a1.medium"))
    templates = load_templates(client, config.aws, config.images, PUBLIC_HOST)
    assert templates.hibernating_types == frozenset({"t3.micro"})


@pytest.mark.moto
def test_hibernating_create_sends_the_options(moto):
    """RunInstances carries HibernationOptions and the encrypted root of the image."""
    account = make_account(make_config(moto.endpoint))
    sent = []
    account.client.meta.events.register(
        "provide-client-params.ec2.RunInstances", lambda params, **kw: sent.append(params))
    collection = provider(infra.COMPUTE, account)
    vm = successResultOf(collection.create(request(os_tpl(), MICRO, HIBERNATION)))
    assert sent[0]["HibernationOptions"] == {"Configured": True}
    [root] = sent[0]["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert infra.COMPUTE_SUSPEND in successResultOf(collection.get(vm.id)).actions


@pytest.mark.moto
def test_image_gone_since_the_catalogue_is_400_naming_it(moto):
    """
    EC2 answers no image for an AMI deregistered since the catalogue was
    read: a hibernating create is 400 naming it, and nothing is launched.
    """
    account = make_account(make_config(moto.endpoint))
    calls = count_calls(account.client)
    account.client.meta.events.register(
        "after-call.ec2.DescribeImages", lambda parsed, **kw: parsed.update(Images=[]))
    failure = failureResultOf(provider(infra.COMPUTE, account).create(
        request(os_tpl(), MICRO, HIBERNATION)), errors.BadRequest)
    assert DEBIAN in str(failure.value)
    assert calls["RunInstances"] == 0


@pytest.mark.moto
def test_always_hibernates_unasked_where_the_type_can(moto):
    """Under always: t3.micro launches able to hibernate unasked, a1.medium without."""
    account = make_account(make_config(moto.endpoint, hibernation="always",
                                       instance_types=("t3.micro", "a1.medium")))
    sent = []
    account.client.meta.events.register(
        "provide-client-params.ec2.RunInstances", lambda params, **kw: sent.append(params))
    collection = provider(infra.COMPUTE, account)
    successResultOf(collection.create(request(os_tpl(), MICRO)))
    successResultOf(collection.create(request(os_tpl(), ARM)))
    assert sent[0]["HibernationOptions"] == {"Configured": True}
    assert "HibernationOptions" not in sent[1]


@pytest.mark.moto
def test_type_that_cannot_is_400_before_any_ec2_call(moto):
    account = make_account(make_config(moto.endpoint, instance_types=("t3.micro", "a1.medium")))
    calls = count_calls(account.client)
    collection = provider(infra.COMPUTE, account)
    failure = failureResultOf(collection.create(request(os_tpl(), ARM, HIBERNATION)),
                              errors.BadRequest)
    assert "HibernationSupported" in str(failure.value)
    assert not calls


@pytest.mark.moto
@pytest.mark.parametrize(("mode", "offered"), [("on-request", True), ("always", True),
                                                ("never", False)])
def test_query_interface_offers_mixin_and_suspend_unless_never(moto, mode, offered):
    account = make_account(make_config(moto.endpoint, hibernation=mode))
    catalog = account.catalog.catalog
    compute = catalog.kind_at("/compute/")
    assert (catalog.lookup(HIBERNATION.identifier) is not None) is offered
    assert (infra.COMPUTE_SUSPEND in catalog.actions) is offered
    assert (infra.COMPUTE_SUSPEND in compute.actions) is offered
    assert infra.COMPUTE_STOP in compute.actions


@pytest.mark.moto
def test_hibernating_instance_under_never_shows_neither_mixin_nor_suspend(moto):
    """
    An instance launched able to hibernate, rendered once the site has
    switched to C{never}: no hibernation mixin (the query interface lists
    none) and no suspend action.
    """
    account = make_account(make_config(moto.endpoint))
    collection = provider(infra.COMPUTE, account)
    vm = successResultOf(collection.create(request(os_tpl(), MICRO, HIBERNATION)))
    never = make_account(make_config(moto.endpoint, hibernation="never"))
    shown = successResultOf(provider(infra.COMPUTE, never).get(vm.id))
    assert HIBERNATION not in shown.mixins
    assert infra.COMPUTE_SUSPEND not in shown.actions
