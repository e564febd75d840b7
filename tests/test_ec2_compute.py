"""
Tests for L{occid.ec2.compute}, L{occid.ec2.launch}, L{occid.ec2.planning}
and L{occid.ec2.mapping} against moto: create (one RunInstances,
tags, key, user data, placement, links recorded), visibility, actions,
updates, delete, and injected EC2 failures (eventual consistency, state
errors, undo after a failed step), with call counts.
"""

import base64
import dataclasses
import re

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.ec2 import outcome
from occid.ec2.backend import EC2Backend
from occid.ec2.launch import create_compute
from occid.ec2.mapping import occi_state
from occid.ec2.planning import plan_compute
from occid.ec2.scope import Scope
from occid.ec2.values import check_ssh_key
from occid.ec2.vocabulary import resource_tpl_mixin
from occid.interfaces import IEntityCollection
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.model import Changes, EntityFilter, Link, Resource
from tests.ec2hooks import count_calls, inject, no_backoff, raise_on_send
from tests.motoserver import (
    ALMA,
    DEBIAN,
    JANE,
    JOHN,
    PUBLIC_HOST,
    UBUNTU,
    InlineReactor,
    SyncPool,
    binding,
    failureResultOf,
    make_account,
    make_config,
    principal,
    provider,
    successResultOf,
    with_images,
)

pytestmark = pytest.mark.moto

def computes(account, who=JANE, visibility=Visibility.OWNER, writable=True):
    return provider(infra.COMPUTE, account, who, visibility, writable)


def os_tpl(ami=DEBIAN):
    return infra.os_tpl_mixin(ami, "", PUBLIC_HOST)


def request(*mixins, title="vm1", links=(), **attributes):
    """A compute create request as the resolver would hand it over."""
    attributes = {k.replace("__", "."): v for k, v in attributes.items()}
    if title:
        attributes["occi.core.title"] = title
    return Resource(kind=infra.COMPUTE, id="", mixins=list(mixins), attributes=attributes,
                    links=list(links))


def link_to(target, **attributes):
    kind = infra.STORAGELINK if target.startswith("/storage/") else infra.NETWORKINTERFACE
    return Link(kind=kind, id="", source="", target=target, attributes=attributes)


def ssh_key(bits=2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


def instance_of(account, id):
    return account.client.describe_instances(InstanceIds=[id])["Reservations"][0]["Instances"][0]


def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", ())}


def test_provides_the_interface(account):
    """The compute collection provides IEntityCollection."""
    verifyObject(IEntityCollection, computes(account))


def test_create_is_one_run_instances_once_the_group_is_cached(account):
    """
    With the security group id cached, a create without links or key is
    exactly one EC2 call: RunInstances, tagged on instance and volume, the
    creator's FQAN included (what accounting reports the instance under).
    """
    collection = computes(account)
    successResultOf(collection.create(request(os_tpl())))
    calls = count_calls(account.client)
    vm = successResultOf(collection.create(
        request(os_tpl(), resource_tpl_mixin("t3.small", 2, 2.0, "x86_64"))))
    assert dict(calls) == {"RunInstances": 1}
    instance = instance_of(account, vm.id)
    tags = tags_of(instance)
    assert tags["Name"] == "vm1"
    assert tags["occid:owner"] == JANE.owner
    assert tags["occid:dn"] == JANE.dn
    assert tags["occid:vo"] == "fedcloud.egi.eu"
    assert tags["occid:fqan"] == "/fedcloud.egi.eu"
    assert instance["InstanceType"] == "t3.small"
    groups = [g["GroupName"] for g in instance["SecurityGroups"]]
    assert groups == ["occid-ssh"]
    volume = account.client.describe_volumes()["Volumes"][-1]
    assert tags_of(volume)["occid:owner"] == JANE.owner
    assert vm.kind == infra.COMPUTE
    assert vm.attributes["occi.compute.cores"] == 2
    assert vm.attributes["occi.core.title"] == "vm1"
    assert os_tpl() in vm.mixins


def test_ssh_group_allows_port_22_from_ssh_cidr(account):
    """The occid-ssh group is made once per VPC and opens TCP 22 to [aws] ssh_cidr."""
    successResultOf(computes(account).create(request(os_tpl())))
    group = account.client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["occid-ssh"]}])["SecurityGroups"]
    assert len(group) == 1
    rule = group[0]["IpPermissions"][0]
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"][0]["CidrIp"]) == (22, 22, "0.0.0.0/0")


def ssh_groups(account):
    return account.client.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["occid-ssh"]}])["SecurityGroups"]


def test_ssh_group_whose_rule_failed_is_deleted(account, monkeypatch):
    """
    When the ssh rule cannot be added, the new group is deleted and nothing
    launches; the next create makes the group again, with its rule.
    """
    no_backoff(monkeypatch)
    inject(account.client, "AuthorizeSecurityGroupIngress", 400,
           "RulesPerSecurityGroupLimitExceeded", times=1)
    failure = failureResultOf(computes(account).create(request(os_tpl())), errors.BadRequest)
    assert "RulesPerSecurityGroupLimitExceeded" in str(failure.value)
    assert ssh_groups(account) == []
    assert account.client.describe_instances()["Reservations"] == []
    successResultOf(computes(account).create(request(os_tpl())))
    [group] = ssh_groups(account)
    assert group["IpPermissions"][0]["FromPort"] == 22


def test_ipv6_ssh_cidr_is_an_ipv6_range(moto):
    """An IPv6 [aws] ssh_cidr opens TCP 22 through Ipv6Ranges."""
    account = make_account(make_config(moto.endpoint, ssh_cidr="2001:db8::/32"))
    successResultOf(computes(account).create(request(os_tpl())))
    [rule] = ssh_groups(account)[0]["IpPermissions"]
    assert [r["CidrIpv6"] for r in rule["Ipv6Ranges"]] == ["2001:db8::/32"]
    assert rule.get("IpRanges", []) == []


def test_default_instance_type(account):
    """Without resource_tpl, the instance gets [aws] default_instance_type."""
    vm = successResultOf(computes(account).create(request(os_tpl())))
    assert instance_of(account, vm.id)["InstanceType"] == "t3.micro"
    assert vm.attributes["com.amazon.aws.ec2.instance_type"] == "t3.micro"


def test_create_without_os_tpl_is_400(account):
    """No os_tpl: 400 with the documented message, and no EC2 call."""
    calls = count_calls(account.client)
    created = computes(account).create(request())
    failure = failureResultOf(created, errors.BadRequest)
    assert "an os_tpl mixin is required" in str(failure.value)
    assert sum(calls.values()) == 0


def test_os_tpl_outside_the_catalogue_is_400(moto):
    """An AMI the site does not offer is refused, naming the mixin."""
    config = make_config(moto.endpoint)
    config = type(config)(**{**config.__dict__, "images": type(config.images)(
        policy="listed", list=(DEBIAN,))})
    account = make_account(config)
    failure = failureResultOf(computes(account).create(request(os_tpl(UBUNTU))), errors.BadRequest)
    assert UBUNTU in str(failure.value)


def test_limited_proxy_cannot_create(account):
    """A read-only binding gets 403 on create."""
    failureResultOf(computes(account, writable=False).create(request(os_tpl())), errors.Forbidden)


def test_ssh_key_adds_import_and_delete(account):
    """An SSH key costs exactly ImportKeyPair and DeleteKeyPair; the key pair is gone after."""
    collection = computes(account)
    successResultOf(collection.create(request(os_tpl())))
    calls = count_calls(account.client)
    vm = successResultOf(collection.create(request(
        os_tpl(), **{"occi.credentials.ssh.publickey": ssh_key()})))
    assert dict(calls) == {"ImportKeyPair": 1, "RunInstances": 1, "DeleteKeyPair": 1}
    assert instance_of(account, vm.id)["KeyName"].startswith("occid-launch-")
    assert account.client.describe_key_pairs()["KeyPairs"] == []


def test_openstack_ed25519_key_is_accepted(account):
    """rOCCI-cli's OpenStack public key attribute works, ed25519 included."""
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    vm = successResultOf(computes(account).create(request(
        os_tpl(), **{"org.openstack.credentials.publickey.data": key})))
    assert "KeyName" in instance_of(account, vm.id)


@pytest.mark.parametrize("key", ["ssh-rsa AAAAnotakey", "not a key at all"])
def test_bad_ssh_keys_are_400(account, key):
    """Unreadable keys are refused locally, before any EC2 call."""
    failureResultOf(computes(account).create(request(
        os_tpl(), **{"occi.credentials.ssh.publickey": key})), errors.BadRequest)


def test_short_rsa_keys_are_400():
    """RSA keys under 2048 bits are refused, as EC2 would."""
    with pytest.raises(errors.BadRequest, match="1024"):
        check_ssh_key(ssh_key(1024))


def test_user_data_is_decoded_once(account):
    """Base64 user data reaches EC2 decoded (so the guest sees it once-encoded)."""
    script = b"#!/bin/sh\necho hello\n"
    vm = successResultOf(computes(account).create(request(
        os_tpl(), **{"org.openstack.compute.user_data": base64.b64encode(script).decode()})))
    stored = account.client.describe_instance_attribute(
        InstanceId=vm.id, Attribute="userData")["UserData"]["Value"]
    assert base64.b64decode(stored) == script


@pytest.mark.parametrize("data", ["not base64!!", base64.b64encode(b"x" * 16385).decode()])
def test_bad_user_data_is_400(account, data):
    """Invalid base64, or more than 16 KiB decoded, is refused."""
    failureResultOf(computes(account).create(request(
        os_tpl(), **{"occi.compute.userdata": data})), errors.BadRequest)


def test_zone_mixin_sets_placement(account):
    """An availability_zone mixin places the instance in that zone."""
    zone = infra.availability_zone_mixin("eu-west-1b", PUBLIC_HOST)
    vm = successResultOf(computes(account).create(request(os_tpl(), zone)))
    assert instance_of(account, vm.id)["Placement"]["AvailabilityZone"] == "eu-west-1b"


def test_vpc_link_picks_the_subnet_in_the_zone(account):
    """A VPC link launches in that VPC's subnet of the chosen zone, without a separate placement."""
    client = account.client
    vpc = client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    a = client.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24",
                             AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
    c = client.create_subnet(VpcId=vpc, CidrBlock="10.9.3.0/24",
                             AvailabilityZone="eu-west-1c")["Subnet"]["SubnetId"]
    zone = infra.availability_zone_mixin("eu-west-1c", PUBLIC_HOST)
    vm = successResultOf(computes(account).create(request(os_tpl(), zone,
                                                  links=[link_to(f"/network/{vpc}")])))
    instance = instance_of(account, vm.id)
    assert instance["SubnetId"] == c
    assert instance["VpcId"] == vpc
    first = successResultOf(computes(account).create(request(os_tpl(),
                                                     links=[link_to(f"/network/{vpc}")])))
    assert instance_of(account, first.id)["SubnetId"] == min(a, c)
    assert any(link.target == f"/network/{vpc}" for link in vm.links)


def test_public_and_storage_links_are_recorded(account):
    """Inline public and storage links become a tag, rendered inactive until made."""
    volume = account.client.create_volume(
        Size=1, AvailabilityZone="eu-west-1b",
        TagSpecifications=[{"ResourceType": "volume", "Tags": [
            {"Key": "occid:owner", "Value": JANE.owner}]}])["VolumeId"]
    vm = successResultOf(computes(account).create(request(os_tpl(), links=[
        link_to("/network/public"),
        link_to(f"/storage/{volume}", **{"occi.storagelink.deviceid": "/dev/sdg"})])))
    instance = instance_of(account, vm.id)
    assert tags_of(instance)["occid:links"] == f"public {volume}=/dev/sdg"
    assert instance["Placement"]["AvailabilityZone"] == "eu-west-1b"
    links = {link.id: link for link in successResultOf(computes(account).get(vm.id)).links}
    assert links[f"{vm.id}_public"].attributes["occi.networkinterface.state"] == "inactive"
    storage = links[f"{vm.id}_{volume}"]
    assert storage.attributes["occi.storagelink.state"] == "inactive"
    assert storage.attributes["occi.storagelink.deviceid"] == "/dev/sdg"


def test_storage_link_to_an_invisible_volume_is_400(account):
    """A create linking a volume the user cannot see launches nothing."""
    volume = account.client.create_volume(Size=1, AvailabilityZone="eu-west-1a")["VolumeId"]
    failure = failureResultOf(
        computes(account).create(request(os_tpl(), links=[link_to(f"/storage/{volume}")])),
        errors.BadRequest)
    assert volume in str(failure.value)
    assert account.client.describe_instances()["Reservations"] == []


def janes_volume(account, zone):
    return account.client.create_volume(
        Size=1, AvailabilityZone=zone,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [
            {"Key": "occid:owner", "Value": JANE.owner}]}])["VolumeId"]


def launched(account):
    return [i for r in account.client.describe_instances()["Reservations"] for i in r["Instances"]]


def test_inline_link_to_a_volume_in_use_is_409(account):
    """An inline storage link to an attached volume is 409 naming its state; nothing launches."""
    volume = janes_volume(account, "eu-west-1a")
    other = account.client.run_instances(
        ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        Placement={"AvailabilityZone": "eu-west-1a"})["Instances"][0]["InstanceId"]
    account.client.attach_volume(VolumeId=volume, InstanceId=other, Device="/dev/sdf")
    failure = failureResultOf(
        computes(account).create(request(os_tpl(), links=[link_to(f"/storage/{volume}")])),
        errors.Conflict)
    assert f"{volume} is in-use" in str(failure.value)
    assert [i["InstanceId"] for i in launched(account)] == [other]


def test_inline_links_in_two_zones_are_400(account):
    """Inline storage links to volumes of two zones: 400 naming both, and no RunInstances."""
    a = janes_volume(account, "eu-west-1a")
    b = janes_volume(account, "eu-west-1b")
    calls = count_calls(account.client)
    refused = failureResultOf(computes(account).create(request(os_tpl(), links=[
        link_to(f"/storage/{a}"), link_to(f"/storage/{b}")])), errors.BadRequest)
    assert f"{a} in eu-west-1a" in refused.value.message
    assert f"{b} in eu-west-1b" in refused.value.message
    assert calls["RunInstances"] == 0


def test_inline_link_outside_the_zone_mixin_is_400(account):
    """A volume in another zone than the availability_zone mixin: 400 naming both zones."""
    volume = janes_volume(account, "eu-west-1b")
    zone = infra.availability_zone_mixin("eu-west-1a", PUBLIC_HOST)
    failure = failureResultOf(computes(account).create(request(os_tpl(), zone,
                                             links=[link_to(f"/storage/{volume}")])), errors.BadRequest)
    assert re.search("eu-west-1b.*eu-west-1a", str(failure.value))
    assert launched(account) == []


def test_inline_link_outside_the_site_zone_is_400(moto):
    """A volume outside [aws] availability_zone: 400 naming both zones."""
    account = make_account(make_config(moto.endpoint, availability_zone="eu-west-1a"))
    volume = janes_volume(account, "eu-west-1c")
    failure = failureResultOf(
        computes(account).create(request(os_tpl(), links=[link_to(f"/storage/{volume}")])),
        errors.BadRequest)
    assert re.search("eu-west-1c.*eu-west-1a", str(failure.value))
    assert launched(account) == []


def test_inline_link_outside_the_vpc_subnets_is_400(account):
    """A volume in a zone where the linked VPC has no subnet: 400 naming both zones."""
    client = account.client
    vpc = client.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    client.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="eu-west-1a")
    volume = janes_volume(account, "eu-west-1b")
    failure = failureResultOf(computes(account).create(request(os_tpl(), links=[
        link_to(f"/network/{vpc}"), link_to(f"/storage/{volume}")])), errors.BadRequest)
    assert re.search("eu-west-1b.*eu-west-1a", str(failure.value))
    assert launched(account) == []


def test_owner_visibility(account):
    """Two members of one VO see only their own instances; the other's is 404."""
    jane = successResultOf(computes(account, JANE).create(request(os_tpl())))
    john = successResultOf(computes(account, JOHN).create(request(os_tpl())))
    assert [e.id for e in successResultOf(computes(account, JANE).list(EntityFilter()))] == [jane.id]
    assert [e.id for e in successResultOf(computes(account, JOHN).list(EntityFilter()))] == [john.id]
    failureResultOf(computes(account, JANE).get(john.id), errors.NotFound)
    failureResultOf(computes(account, JANE).delete(john.id), errors.NotFound)
    assert instance_of(account, john.id)["State"]["Name"] == "running"


def test_vo_and_manager_visibility(account):
    """vo visibility sees the VO's instances; a manager sees every instance in the account."""
    jane = successResultOf(computes(account, JANE).create(request(os_tpl())))
    stranger = successResultOf(computes(account, principal("Max", vo="other.vo")).create(
        request(os_tpl())))
    outside = account.client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro",
                                           MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    vo_view = [e.id for e in successResultOf(computes(account, JOHN, Visibility.VO).list(EntityFilter()))]
    assert vo_view == [jane.id]
    manager = computes(account, JOHN, Visibility.MANAGER)
    manager_view = {e.id for e in successResultOf(manager.list(EntityFilter()))}
    assert manager_view == {jane.id, stranger.id, outside}
    assert successResultOf(computes(account, JOHN, Visibility.MANAGER).get(outside)).id == outside


def test_list_filter_and_owned_only(account):
    """Listing applies the EntityFilter, and owned_only narrows a manager to its own."""
    successResultOf(computes(account, JANE).create(request(os_tpl(), title="a")))
    mine = successResultOf(computes(account, JOHN).create(request(os_tpl(ALMA), title="b")))
    manager = computes(account, JOHN, Visibility.MANAGER)
    by_title = successResultOf(manager.list(EntityFilter(attributes={"occi.core.title": "b"})))
    assert [e.id for e in by_title] == [mine.id]
    by_mixin = successResultOf(manager.list(EntityFilter(categories=(os_tpl(ALMA).identifier,))))
    assert [e.id for e in by_mixin] == [mine.id]
    assert [e.id for e in successResultOf(manager.list(EntityFilter(owned_only=True)))] == [mine.id]


def test_get_is_one_describe(account):
    """A get makes exactly one DescribeInstances call and no catalogue call."""
    vm = successResultOf(computes(account).create(request(os_tpl())))
    calls = count_calls(account.client)
    entity = successResultOf(computes(account).get(vm.id))
    assert dict(calls) == {"DescribeInstances": 1}
    assert entity.attributes["occi.compute.state"] == "active"
    # No suspend: it was not launched with hibernation, so suspend could only fail.
    assert [a.term for a in entity.actions] == ["stop", "restart", "save"]
    assert entity.attributes["com.amazon.aws.ec2.availability_zone"].startswith("eu-west-1")


#: The calls that read the catalogue; a request never makes them.
CATALOGUE_CALLS = {"DescribeImages", "DescribeInstanceTypes", "DescribeAvailabilityZones"}


def test_create_and_list_make_no_catalogue_call(account):
    """
    A create using every kind of template (os_tpl, resource_tpl, zone) with
    a key and an inline storage link, and a list, read the templates from
    memory: no catalogue call reaches EC2.
    """
    volume = janes_volume(account, "eu-west-1b")
    collection = computes(account)
    calls = count_calls(account.client)
    successResultOf(collection.create(request(
        os_tpl(ALMA), resource_tpl_mixin("t3.small", 2, 2.0, "x86_64"),
        infra.availability_zone_mixin("eu-west-1b", PUBLIC_HOST),
        links=[link_to(f"/storage/{volume}")],
        **{"occi.credentials.ssh.publickey": ssh_key()})))
    assert calls["RunInstances"] == 1
    listed = successResultOf(collection.list(EntityFilter()))
    assert calls["DescribeInstances"] == 1 and len(listed) == 1
    assert CATALOGUE_CALLS.isdisjoint(calls)


def test_malformed_and_unknown_ids_are_404(account):
    """Ids that are not instance ids, or unknown ones, answer 404."""
    failureResultOf(computes(account).get("../etc"), errors.NotFound)
    failureResultOf(computes(account).get("i-0123456789abcdef0"), errors.NotFound)


def test_listing_2001_instances_takes_three_pages(account):
    """Listing 2,001 instances is ceil(2001/1000) = 3 DescribeInstances calls."""
    def page(first, count, token):
        reservation = {"ReservationId": f"r-{first:08x}", "Instances": [
            {"InstanceId": f"i-{n:017x}", "ImageId": DEBIAN, "InstanceType": "t3.micro",
             "State": {"Name": "running", "Code": 16},
             "Tags": [{"Key": "occid:owner", "Value": JANE.owner}]}
            for n in range(first, first + count)]}
        answer = {"Reservations": [reservation]}
        if token:
            answer["NextToken"] = token
        return answer

    stubber = Stubber(account.client)
    stubber.add_response("describe_instances", page(0, 1000, "t1"))
    stubber.add_response("describe_instances", page(1000, 1000, "t2"))
    stubber.add_response("describe_instances", page(2000, 1, None))
    calls = count_calls(account.client)
    with stubber:
        listed = successResultOf(computes(account).list(EntityFilter()))
    assert len(listed) == 2001
    assert calls["DescribeInstances"] == 3
    stubber.assert_no_pending_responses()


def test_stop_start_restart(account):
    """stop, start and restart go to EC2 and the entity shows the new state."""
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    stopped = successResultOf(collection.trigger(vm.id, infra.COMPUTE_STOP, {"method": "graceful"}))
    assert stopped.attributes["occi.compute.state"] == "inactive"
    assert instance_of(account, vm.id)["State"]["Name"] == "stopped"
    assert [a.term for a in successResultOf(collection.get(vm.id)).actions] == ["start", "save"]
    failure = failureResultOf(collection.trigger(vm.id, infra.COMPUTE_STOP, {}), errors.Conflict)
    assert "inactive" in str(failure.value)
    started = successResultOf(collection.trigger(vm.id, infra.COMPUTE_START, {}))
    assert started.id == vm.id
    assert instance_of(account, vm.id)["State"]["Name"] == "running"
    failure = failureResultOf(collection.trigger(vm.id, infra.COMPUTE_START, {}), errors.Conflict)
    assert "active" in str(failure.value)
    successResultOf(collection.trigger(vm.id, infra.COMPUTE_RESTART, {"method": "warm"}))
    assert instance_of(account, vm.id)["State"]["Name"] == "running"


def test_poweroff_forces_the_stop(account):
    """stop with method poweroff sends Force=True; graceful does not."""
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    sent = []
    account.client.meta.events.register(
        "provide-client-params.ec2.StopInstances", lambda params, **kw: sent.append(params))
    successResultOf(collection.trigger(vm.id, infra.COMPUTE_STOP, {"method": "poweroff"}))
    assert sent[0]["Force"] is True


def test_suspend_needs_hibernation(account):
    """suspend of an instance launched without hibernation is 409 with the reason."""
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    failure = failureResultOf(collection.trigger(vm.id, infra.COMPUTE_SUSPEND, {}), errors.Conflict)
    assert "hibernation" in str(failure.value)


def test_suspend_hibernates_when_configured(account):
    """suspend hibernates an instance launched with hibernation; it renders suspended."""
    client = account.client
    id = client.run_instances(
        ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        HibernationOptions={"Configured": True},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "occid:owner", "Value": JANE.owner}]}])["Instances"][0]["InstanceId"]
    entity = successResultOf(computes(account).get(id))
    assert [a.term for a in entity.actions] == ["stop", "restart", "suspend", "save"]
    sent = []
    client.meta.events.register(
        "provide-client-params.ec2.StopInstances", lambda params, **kw: sent.append(params))
    successResultOf(computes(account).trigger(id, infra.COMPUTE_SUSPEND, {}))
    assert sent[0]["Hibernate"] is True


def test_hibernated_instance_is_suspended():
    """A stopped instance whose reason is a hibernation renders suspended and can only start."""
    assert occi_state({"State": {"Name": "stopped"},
                       "StateReason": {"Code": "Client.UserInitiatedHibernate"}}) == (
        "suspended", "hibernated")
    assert occi_state({"State": {"Name": "pending"}})[0] == "inactive"
    assert occi_state({"State": {"Name": "stopping"}})[1]


def test_incorrect_instance_state_from_ec2_is_409(account, monkeypatch):
    """EC2's IncorrectInstanceState (a race with another client) answers 409."""
    no_backoff(monkeypatch)
    vm = successResultOf(computes(account).create(request(os_tpl())))
    inject(account.client, "StopInstances", 400, "IncorrectInstanceState",
           message="The instance is not in the 'running' state.")
    failure = failureResultOf(computes(account).trigger(vm.id, infra.COMPUTE_STOP, {}), errors.Conflict)
    assert "running" in str(failure.value)


def test_save_fires_with_the_new_os_tpl(account):
    """save creates an image and fires with its os_tpl mixin."""
    vm = successResultOf(computes(account).create(request(os_tpl())))
    mixin = successResultOf(computes(account).trigger(vm.id, infra.COMPUTE_SAVE, {"name": "golden"}))
    assert mixin.depends_on(infra.OS_TPL)
    assert mixin.title == "golden"
    image = account.client.describe_images(ImageIds=[mixin.term])["Images"][0]
    assert tags_of(image)["occid:owner"] == JANE.owner


def test_save_on_aws_tags_the_snapshots_too(account):
    """
    On AWS itself (no endpoint_url) CreateImage tags the image's snapshots
    with the owner tags as well, so that DeleteSnapshot can be narrowed to
    occid's; an EC2-compatible endpoint (moto) is asked for the image's only.
    """
    vm = successResultOf(computes(account).create(request(os_tpl())))
    on_aws = dataclasses.replace(account, aws=dataclasses.replace(account.aws, endpoint_url=""))
    described = account.client.describe_instances(InstanceIds=[vm.id])
    stubber = Stubber(account.client)
    stubber.add_response("describe_instances", described)
    stubber.add_response("create_image", {"ImageId": "ami-0123456789abcdef0"}, {
        "InstanceId": vm.id, "Name": "golden", "NoReboot": True, "TagSpecifications": [
            {"ResourceType": "image", "Tags": ANY}, {"ResourceType": "snapshot", "Tags": ANY}]})
    with stubber:
        saved = successResultOf(computes(on_aws).trigger(vm.id, infra.COMPUTE_SAVE, {"name": "golden"}))
    stubber.assert_no_pending_responses()
    assert saved.term == "ami-0123456789abcdef0"


def test_saved_images_are_offered_to_those_who_see_their_saver(moto):
    """
    Under policy owned, an image Jane saves is not an account template: it
    is in Jane's catalog (with its own version), in a VO-visibility member's
    and a manager's, also after a refresh; John's catalog is the account's
    itself, he cannot launch the image, Jane can.
    """
    account = make_account(with_images(make_config(moto.endpoint), "owned"))
    vm = account.client.run_instances(
        ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "occid:owner", "Value": JANE.owner},
            {"Key": "occid:vo", "Value": JANE.vo}]}])["Instances"][0]["InstanceId"]
    mixin = successResultOf(computes(account).trigger(vm, infra.COMPUTE_SAVE, {"name": "golden"}))
    image = account.client.describe_images(ImageIds=[mixin.term])["Images"][0]
    assert (tags_of(image)["occid:owner"], tags_of(image)["occid:vo"]) == (JANE.owner, JANE.vo)
    stranger = principal("Max", vo="other.vo")

    def offered():
        catalog = account.catalog
        assert catalog.catalog.lookup(mixin.identifier) is None
        assert catalog.catalog_for(Scope(JOHN, binding())) is catalog.catalog
        assert catalog.catalog_for(Scope(stranger, binding(Visibility.VO, vo=stranger.vo))) is catalog.catalog
        janes = catalog.catalog_for(Scope(JANE, binding()))
        assert janes.lookup(mixin.identifier).title == "golden"
        assert janes.version != catalog.catalog.version
        for seer in (Scope(JOHN, binding(Visibility.VO)), Scope(JOHN, binding(Visibility.MANAGER))):
            assert catalog.catalog_for(seer).lookup(mixin.identifier) is not None

    offered()
    failure = failureResultOf(computes(account, JOHN).create(request(mixin)), errors.BadRequest)
    assert "not offered" in str(failure.value)
    assert successResultOf(computes(account).create(request(mixin))).mixins[0].term == mixin.term
    account.catalog.refresh()
    offered()
    backend = EC2Backend(InlineReactor(), SyncPool(), {"fedcloud": account})
    assert successResultOf(backend.catalog(binding(), JANE)).lookup(mixin.identifier) is not None
    assert successResultOf(backend.catalog(binding())) is account.catalog.catalog


def test_update_title_and_resize(account):
    """
    Title changes the Name tag (an empty one removes it); resize is 409
    while running, done while stopped.
    """
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    renamed = successResultOf(collection.update(vm.id, Changes(attributes={"occi.core.title": "web"})))
    assert renamed.attributes["occi.core.title"] == "web"
    assert tags_of(instance_of(account, vm.id))["Name"] == "web"
    untitled = successResultOf(collection.update(vm.id, Changes(attributes={"occi.core.title": ""})))
    assert "occi.core.title" not in untitled.attributes
    assert "Name" not in tags_of(instance_of(account, vm.id))
    bigger = Changes(mixins=[resource_tpl_mixin("m5.large", 2, 8.0, "x86_64")])
    failure = failureResultOf(collection.update(vm.id, bigger), errors.Conflict)
    assert "active" in str(failure.value)
    successResultOf(collection.trigger(vm.id, infra.COMPUTE_STOP, {}))
    resized = successResultOf(collection.update(vm.id, bigger))
    assert instance_of(account, vm.id)["InstanceType"] == "m5.large"
    assert resized.attributes["occi.compute.memory"] == 8.0


def test_update_of_immutable_things_is_403(account):
    """Changing the state attribute or the os_tpl is forbidden; unchanged values pass."""
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    failureResultOf(
        collection.update(vm.id, Changes(attributes={"occi.compute.state": "inactive"})),
        errors.Forbidden)
    failureResultOf(collection.update(vm.id, Changes(mixins=[os_tpl(ALMA)])), errors.Forbidden)
    same = successResultOf(collection.update(vm.id, Changes(
        attributes={"occi.compute.state": "active"}, mixins=[os_tpl()])))
    assert same.id == vm.id


def test_delete_terminates_and_hides(account):
    """delete terminates; the instance is then 404 and absent from lists."""
    collection = computes(account)
    vm = successResultOf(collection.create(request(os_tpl())))
    assert successResultOf(collection.delete(vm.id)) is None
    assert instance_of(account, vm.id)["State"]["Name"] in ("shutting-down", "terminated")
    failureResultOf(collection.get(vm.id), errors.NotFound)
    assert successResultOf(collection.list(EntityFilter())) == []


def test_fresh_id_not_found_is_retried(account):
    """A just-created id that EC2 does not know yet is retried, not 404."""
    vm = successResultOf(computes(account).create(request(os_tpl())))
    sends = inject(account.client, "DescribeInstances", 400, "InvalidInstanceID.NotFound", times=2)
    assert successResultOf(computes(account).get(vm.id)).id == vm.id
    assert len(sends) == 2


def test_fresh_id_still_unknown_is_503(account):
    """A fresh id unknown after the retries is 503 (retry later), never 404."""
    vm = successResultOf(computes(account).create(request(os_tpl())))
    inject(account.client, "DescribeInstances", 400, "InvalidInstanceID.NotFound")
    failureResultOf(computes(account).get(vm.id), errors.ServiceUnavailable)


def test_lost_answer_is_not_resent_and_each_create_has_its_token(account, monkeypatch):
    """
    A RunInstances whose answer is lost is not resent by botocore (not
    every emulator honours the ClientToken); the create finds nothing by
    its token and answers the timeout; each create mints a new token.
    """
    no_backoff(monkeypatch)
    monkeypatch.setattr(outcome, "LOOKUP_DELAYS", ())
    collection = computes(account)
    successResultOf(collection.create(request(os_tpl())))
    tokens = []
    account.client.meta.events.register(
        "before-send.ec2.RunInstances",
        lambda request, **kw: tokens.append(re.search(r"ClientToken=([^&]+)",
                                                      str(request.body)).group(1)))
    sent = raise_on_send(account.client, "RunInstances",
                         ReadTimeoutError(endpoint_url="http://127.0.0.1"), times=1)
    failureResultOf(collection.create(request(os_tpl())), errors.GatewayTimeout)
    successResultOf(collection.create(request(os_tpl())))
    assert len(sent) == 1
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_connect_failure_is_retried(account, monkeypatch):
    """A RunInstances that never left (no connection) is retried by botocore: one launch."""
    no_backoff(monkeypatch)
    collection = computes(account)
    before = successResultOf(collection.list(EntityFilter()))
    sent = raise_on_send(account.client, "RunInstances",
                         EndpointConnectionError(endpoint_url="http://127.0.0.1"), times=1)
    made = successResultOf(collection.create(request(os_tpl())))
    assert len(sent) == 1
    after = successResultOf(collection.list(EntityFilter()))
    assert {e.id for e in after} - {e.id for e in before} == {made.id}


def test_client_token_replay_answers_the_same_instance(account):
    """Replaying one token (EC2's idempotency, stubbed: moto lacks it) yields the same instance."""
    scope = Scope(JANE, binding())
    launch = plan_compute(account, scope, request(os_tpl()))
    account.groups.group_for(account.groups.default_vpc())
    answer = {"ReservationId": "r-0000000000000001", "OwnerId": "123456789012", "Instances": [{
        "InstanceId": "i-00000000000000001", "ImageId": DEBIAN, "InstanceType": "t3.micro",
        "State": {"Name": "pending", "Code": 0}}]}
    stubber = Stubber(account.client)
    for _ in range(2):
        stubber.add_response("run_instances", answer, {
            "ImageId": DEBIAN, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
            "ClientToken": launch.client_token, "TagSpecifications": ANY,
            "SecurityGroupIds": ANY})
    with stubber:
        once = create_compute(account, scope, launch).entity
        again = create_compute(account, scope, launch).entity
    assert once.id == again.id == "i-00000000000000001"
    assert once.attributes["occi.compute.state"] == "inactive"


class KeyPairLeftTests(SynchronousTestCase):
    """A temporary key pair EC2 would not delete."""

    @pytest.fixture(autouse=True)
    def _account(self, account, monkeypatch):
        self.account = account
        no_backoff(monkeypatch)

    def test_key_pair_left_after_launch_keeps_the_instance(self):
        """
        When DeleteKeyPair fails after RunInstances succeeded, the create still
        succeeds, the instance runs, the temporary key pair is left for the
        reconciler, and a warning naming both is logged.
        """
        account = self.account
        inject(account.client, "DeleteKeyPair", 403, "UnauthorizedOperation", times=1)
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        vm = self.successResultOf(computes(account).create(request(
            os_tpl(), **{"occi.credentials.ssh.publickey": ssh_key()})))
        assert instance_of(account, vm.id)["State"]["Name"] in ("pending", "running")
        [key] = account.client.describe_key_pairs()["KeyPairs"]
        assert key["KeyName"].startswith("occid-launch-")
        [warning] = [e for e in events if e.get("key_name")]
        assert warning["log_level"] == LogLevel.warn
        assert (warning["vm_id"], warning["key_name"]) == (vm.id, key["KeyName"])
        assert "UnauthorizedOperation" in warning["reason"]

    def test_failed_launch_logs_what_it_could_not_undo(self):
        """
        RunInstances refused and the temporary key pair's deletion refused too:
        the launch's error is the answer, and the key left is logged as a warning.
        """
        account = self.account
        inject(account.client, "RunInstances", 400, "InsufficientInstanceCapacity")
        inject(account.client, "DeleteKeyPair", 403, "UnauthorizedOperation")
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        failure = self.failureResultOf(computes(account).create(request(
            os_tpl(), **{"occi.credentials.ssh.publickey": ssh_key()})), errors.BadRequest)
        assert "InsufficientInstanceCapacity" in str(failure.value)
        [warning] = [e for e in events if "note" in e]
        assert warning["log_level"] == LogLevel.warn and warning["kind"] == "compute"
        assert "occid-launch-" in warning["note"] and "UnauthorizedOperation" in warning["note"]


def test_failed_launch_deletes_the_key_pair(account, monkeypatch):
    """RunInstances refused after the key was imported: the key pair is deleted, nothing runs."""
    no_backoff(monkeypatch)
    inject(account.client, "RunInstances", 400, "InsufficientInstanceCapacity")
    failureResultOf(computes(account).create(request(
        os_tpl(), **{"occi.credentials.ssh.publickey": ssh_key()})), errors.BadRequest)
    assert account.client.describe_key_pairs()["KeyPairs"] == []
    assert account.client.describe_instances()["Reservations"] == []
