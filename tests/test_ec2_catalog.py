"""
Tests for L{occid.ec2.catalog}: os_tpl under each image policy, resource_tpl
from instance types, zones, and the cached account catalog.
"""

from dataclasses import replace

import pytest

from occid.accountconfig import TemplateKeys
from occid.config import ImagesConfig
from occid.ec2.answers import image_query, load_templates
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import build_clients
from occid.occi.errors import ServiceUnavailable
from occid.occi.infrastructure import OS_TPL, RESOURCE_TPL, os_tpl_mixin
from tests.ec2hooks import count_calls
from tests.motoserver import ALMA, DEBIAN, PUBLIC_HOST, UBUNTU, make_config, with_images

pytestmark = pytest.mark.moto


def templates_for(moto, policy, listed=()):
    config = with_images(make_config(moto.endpoint), policy, listed)
    client = build_clients(config)["fedcloud"]
    return client, load_templates(client, config.aws, config.images, PUBLIC_HOST)


def test_listed_policy_offers_only_listed_images(moto):
    """policy listed: exactly the listed AMIs that exist, titled by image name; a stale id is ignored."""
    _, templates = templates_for(moto, "listed", (UBUNTU, DEBIAN, "ami-0000000000000dead"))
    assert [(m.term, m.title) for m in templates.os_tpls] == [
        (DEBIAN, "debian-12-amd64-test"), (UBUNTU, "ubuntu-24.04-amd64-test")]
    assert templates.os_tpls[0] == os_tpl_mixin(DEBIAN, "", PUBLIC_HOST)
    assert all(m.depends_on(OS_TPL) for m in templates.os_tpls)


def test_all_policy_offers_every_image(moto):
    """policy all: every machine image of the region."""
    _, templates = templates_for(moto, "all")
    assert {m.term for m in templates.os_tpls} == {DEBIAN, UBUNTU, ALMA}


def test_owned_policies_use_owner_self(moto):
    """
    policy owned: only the account's own images (an image it made), and
    owned_and_listed narrows further.
    """
    client, templates = templates_for(moto, "owned")
    assert templates.os_tpls == ()
    instance = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro",
                                    MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    mine = client.create_image(InstanceId=instance, Name="mine")["ImageId"]
    config = with_images(make_config(moto.endpoint), "owned")
    owned = load_templates(client, config.aws, config.images, PUBLIC_HOST)
    assert [(m.term, m.title) for m in owned.os_tpls] == [(mine, "mine")]
    assert image_query(with_images(config, "owned_and_listed", (mine,)).images)["Owners"] == ["self"]


def test_resource_templates_and_zones(moto):
    """resource_tpl per configured type with cores and memory; zones in name order."""
    _, templates = templates_for(moto, "listed", (DEBIAN,))
    terms = [m.term for m in templates.resource_tpls]
    assert terms == ["t3_micro", "t3_small", "m5_large"]
    large = templates.resource_tpls[2]
    assert large.depends_on(RESOURCE_TPL)
    assert large.attribute("occi.compute.cores").default == 2
    assert large.attribute("occi.compute.memory").default == 8.0
    assert large.attribute("occi.compute.architecture").default == "x64"
    assert templates.zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert [m.term for m in templates.zone_tpls] == list(templates.zones)


def test_account_catalog_serves_from_memory(moto):
    """Once loaded, reading the catalog makes no EC2 call; before, it is 503."""
    config = make_config(moto.endpoint)
    client = build_clients(config)["fedcloud"]
    cached = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST)
    with pytest.raises(ServiceUnavailable):
        _ = cached.catalog
    first = cached.refresh()
    calls = count_calls(client)
    for _ in range(5):
        assert cached.catalog is first
        assert cached.catalog.lookup(first.mixins[-1].identifier) is not None
    assert sum(calls.values()) == 0
    assert cached.refresh().version == first.version


def test_values_ec2_does_not_know_are_dropped(moto):
    """
    An unknown instance type (here also the default), listed AMI, default
    AMI and zone are left out, each noted once with its key; the rest is
    offered.
    """
    config = replace(
        make_config(moto.endpoint, instance_types=("t3.micro", "t9.nano"),
                    default_instance_type="t9.nano", availability_zone="eu-west-1z"),
        images=ImagesConfig(policy="listed", list=(DEBIAN, "ami-0000000000000dead"),
                            default=ALMA))
    client = build_clients(config)["fedcloud"]
    templates = load_templates(client, config.aws, config.images, PUBLIC_HOST)
    assert [m.term for m in templates.resource_tpls] == ["t3_micro"]
    assert [m.term for m in templates.os_tpls] == [DEBIAN]
    assert templates.zones == ("eu-west-1a", "eu-west-1b", "eu-west-1c")
    assert [(d.key, d.value) for d in templates.dropped] == [
        ("[aws] instance_types", "t9.nano"),
        ("[aws] default_instance_type", "t9.nano"),
        ("[images] list", "ami-0000000000000dead"),
        ("[images] default", ALMA),
        ("[aws] availability_zone", "eu-west-1z"),
    ]
    cached = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST)
    cached.refresh()
    assert cached.default_zone is None


def test_an_accounts_own_keys_are_named(moto):
    """An account's own instance types and images: the noted keys are the account's."""
    config = replace(
        make_config(moto.endpoint, instance_types=("t3.micro", "t9.nano")),
        images=ImagesConfig(policy="listed", list=("ami-0000000000000dead",)))
    keys = TemplateKeys(instance_types="accounts[1].instance_types",
                        images_list="accounts[1].images.list")
    client = build_clients(config)["fedcloud"]
    cached = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST,
                            keys=keys)
    cached.refresh()
    assert [(d.key, d.value) for d in cached.templates.dropped] == [
        ("accounts[1].instance_types", "t9.nano"),
        ("accounts[1].images.list", "ami-0000000000000dead"),
    ]


def test_known_values_drop_nothing(moto):
    """A configuration EC2 fully knows: nothing dropped, the default zone kept."""
    config = replace(make_config(moto.endpoint, availability_zone="eu-west-1b"),
                     images=ImagesConfig(policy="listed", list=(DEBIAN,), default=DEBIAN))
    client = build_clients(config)["fedcloud"]
    cached = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST)
    cached.refresh()
    assert cached.templates.dropped == ()
    assert cached.default_zone == "eu-west-1b"


def test_imported_images_offered_whatever_the_policy(moto):
    """
    An AMI occid-images imported (tagged occid:source) is offered under the
    listed policy without being listed, titled by its Name tag with its
    references as attributes, once (not also as an owned image); retired,
    it is no longer offered, and the one-call look-up notices both.
    """
    client, _ = templates_for(moto, "owned_and_listed", (DEBIAN,))
    instance = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro",
                                    MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = client.create_image(InstanceId=instance, Name="debian-12 0123")["ImageId"]
    config = with_images(make_config(moto.endpoint), "listed", (DEBIAN,))
    catalog = AccountCatalog("fedcloud", client, config.aws, config.images, PUBLIC_HOST)
    catalog.refresh()
    assert catalog.templates.distributed == ()
    client.create_tags(Resources=[image], Tags=[
        {"Key": "occid:source", "Value": "egi"}, {"Key": "Name", "Value": "Debian 12"},
        {"Key": "eu.egi.cloud.tag", "Value": "2024.05"}])
    calls = count_calls(client)
    assert catalog.refresh_distributed() is True
    assert sum(calls.values()) == 1
    (mixin,) = catalog.templates.distributed
    assert (mixin.term, mixin.title) == (image, "Debian 12")
    assert [(a.name, a.default) for a in mixin.attributes] == [("eu.egi.cloud.tag", "2024.05")]
    assert [m.term for m in catalog.templates.os_tpls] == [DEBIAN]
    owned = with_images(config, "owned_and_listed", (DEBIAN, image))
    both = load_templates(client, owned.aws, owned.images, PUBLIC_HOST)
    assert [m.term for m in both.os_tpls] == [] and [m.term for m in both.distributed] == [image]
    assert not [d for d in both.dropped if d.value == image]
    client.create_tags(Resources=[image], Tags=[{"Key": "occid:retired",
                                                 "Value": "2026-12-05T12:00:00Z"}])
    assert catalog.refresh_distributed() is True and catalog.templates.distributed == ()
