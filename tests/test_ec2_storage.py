"""
Tests for L{occid.ec2.storage} against moto: create (size, zone, tags),
visibility, states, resize by update, snapshot, delete refused while
attached.
"""

import pytest
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.ec2.mapping import entity_from_volume
from occid.interfaces import IEntityCollection
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.catalog import Catalog
from occid.occi.model import Changes, EntityFilter, Resource
from tests.ec2hooks import count_calls
from tests.motoserver import (
    DEBIAN,
    JANE,
    JOHN,
    PUBLIC_HOST,
    failureResultOf,
    make_account,
    make_config,
    provider,
    successResultOf,
)

pytestmark = pytest.mark.moto

def volumes(account, who=JANE, visibility=Visibility.OWNER):
    return provider(infra.STORAGE, account, who, visibility)


def request(size=1.5, *mixins, title="data"):
    attributes = {"occi.core.title": title}
    if size is not None:
        attributes["occi.storage.size"] = size
    return Resource(kind=infra.STORAGE, id="", mixins=list(mixins), attributes=attributes)


def test_provides_the_interface(account):
    """The storage collection provides IEntityCollection."""
    verifyObject(IEntityCollection, volumes(account))


def test_create_rounds_up_and_tags(account):
    """A create is one CreateVolume, size rounded up to whole GiB, tagged, in the first zone."""
    calls = count_calls(account.client)
    volume = successResultOf(volumes(account).create(request(1.5)))
    assert dict(calls) == {"CreateVolume": 1}
    described = account.client.describe_volumes(VolumeIds=[volume.id])["Volumes"][0]
    assert described["Size"] == 2
    assert described["AvailabilityZone"] == "eu-west-1a"
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert (tags["Name"], tags["occid:owner"]) == ("data", JANE.owner)
    assert volume.attributes["occi.storage.size"] == 2.0
    assert volume.attributes["occi.storage.state"] == "online"


def test_zone_from_mixin_or_config(moto):
    """A zone mixin wins; else [aws] availability_zone."""
    account = make_account(make_config(moto.endpoint, availability_zone="eu-west-1c"))
    placed = successResultOf(volumes(account).create(request(
        1, infra.availability_zone_mixin("eu-west-1b", PUBLIC_HOST))))
    default = successResultOf(volumes(account).create(request(1)))
    assert placed.attributes["com.amazon.aws.ec2.availability_zone"] == "eu-west-1b"
    assert default.attributes["com.amazon.aws.ec2.availability_zone"] == "eu-west-1c"


@pytest.mark.parametrize("size", [None, 0, "big", 20000])
def test_bad_sizes_are_400(account, size):
    """A missing, zero, non-numeric or oversized size is refused before any call."""
    failureResultOf(volumes(account).create(request(size)), errors.BadRequest)


def test_visibility(account):
    """Each owner sees only its volumes; a manager sees all; another's is 404."""
    jane = successResultOf(volumes(account, JANE).create(request()))
    john = successResultOf(volumes(account, JOHN).create(request()))
    assert [v.id for v in successResultOf(volumes(account, JANE).list(EntityFilter()))] == [jane.id]
    failureResultOf(volumes(account, JANE).get(john.id), errors.NotFound)
    seen = {v.id for v in successResultOf(volumes(account, JOHN, Visibility.MANAGER).list(EntityFilter()))}
    assert seen == {jane.id, john.id}


def test_states():
    """creating is offline with a message, error is error, in-use is online."""
    def state(name):
        return entity_from_volume({"VolumeId": "vol-00000001", "Size": 1, "State": name,
                                   "AvailabilityZone": "eu-west-1a"},
                                  Catalog(), PUBLIC_HOST).attributes

    assert state("creating")["occi.storage.state"] == "offline"
    assert state("creating")["occi.storage.state.message"]
    assert state("error")["occi.storage.state"] == "error"
    assert state("in-use")["occi.storage.state"] == "online"


def test_resize_and_rename(account):
    """Updating the size grows the volume (ModifyVolume); shrinking is 400; title renames."""
    collection = volumes(account)
    volume = successResultOf(collection.create(request(1)))
    grown = successResultOf(collection.update(volume.id, Changes(
        attributes={"occi.storage.size": 5, "occi.core.title": "bigger"})))
    assert grown.attributes["occi.storage.size"] == 5.0
    assert account.client.describe_volumes(VolumeIds=[volume.id])["Volumes"][0]["Size"] == 5
    assert successResultOf(collection.get(volume.id)).attributes["occi.core.title"] == "bigger"
    failureResultOf(
        collection.update(volume.id, Changes(attributes={"occi.storage.size": 2})),
        errors.BadRequest)
    failureResultOf(
        collection.update(volume.id, Changes(attributes={"occi.storage.state": "offline"})),
        errors.Forbidden)


def test_snapshot_action(account):
    """snapshot makes a tagged EBS snapshot; other storage actions are 409."""
    collection = volumes(account)
    volume = successResultOf(collection.create(request(1)))
    successResultOf(collection.trigger(volume.id, infra.STORAGE_SNAPSHOT, {}))
    snapshots = account.client.describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": [volume.id]}])["Snapshots"]
    assert len(snapshots) == 1
    failureResultOf(collection.trigger(volume.id, infra.STORAGE_OFFLINE, {}), errors.Conflict)


def test_delete_refused_while_attached(account):
    """An attached volume cannot be deleted (409 naming the state); a free one can."""
    collection = volumes(account)
    volume = successResultOf(collection.create(request(1)))
    instance = account.client.run_instances(
        ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        Placement={"AvailabilityZone": "eu-west-1a"})["Instances"][0]["InstanceId"]
    account.client.attach_volume(VolumeId=volume.id, InstanceId=instance, Device="/dev/sdf")
    failure = failureResultOf(collection.delete(volume.id), errors.Conflict)
    assert "in-use" in str(failure.value)
    account.client.detach_volume(VolumeId=volume.id, InstanceId=instance, Device="/dev/sdf")
    successResultOf(collection.delete(volume.id))
    failureResultOf(collection.get(volume.id), errors.NotFound)
