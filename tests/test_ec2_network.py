"""
Tests for L{occid.ec2.network} against moto: VPCs and the public network,
create/delete only where [aws] network_create / network_delete allow, and
delete only of a VPC occid made, by its creator or a manager.
"""

import pytest
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from occid.config import Visibility
from occid.interfaces import IEntityCollection
from occid.occi import errors
from occid.occi import infrastructure as infra
from occid.occi.model import EntityFilter, Resource
from tests.ec2hooks import inject, no_backoff
from tests.motoserver import JOHN, failureResultOf, make_account, make_config, provider, successResultOf

pytestmark = pytest.mark.moto


def networks(moto, **aws):
    account = make_account(make_config(moto.endpoint, **aws))
    return account, provider(infra.NETWORK, account)


def vpc_ids(account):
    return {v["VpcId"] for v in account.client.describe_vpcs()["Vpcs"]}


def request(address="10.20.0.0/16"):
    return Resource(kind=infra.NETWORK, id="", mixins=[infra.IPNETWORK],
                    attributes={"occi.core.title": "lab", "occi.network.address": address})


def test_lists_public_and_vpcs(moto):
    """The listing holds public and the default VPC with its CIDR, state active."""
    _, collection = networks(moto)
    verifyObject(IEntityCollection, collection)
    listed = successResultOf(collection.list(EntityFilter()))
    assert listed[0].id == "public"
    vpc = listed[1]
    assert vpc.id.startswith("vpc-")
    assert vpc.attributes["occi.network.address"] == "172.31.0.0/16"
    assert vpc.attributes["occi.network.state"] == "active"
    assert successResultOf(collection.get("public")).attributes["occi.network.state"] == "active"
    assert successResultOf(collection.get(vpc.id)).id == vpc.id
    failureResultOf(collection.get("vpc-0000000000000dead"), errors.NotFound)


def test_create_and_delete_forbidden_by_default(moto):
    """Without network_create / network_delete, create and delete are 403."""
    account, collection = networks(moto)
    failureResultOf(collection.create(request()), errors.Forbidden)
    vpc = account.client.describe_vpcs()["Vpcs"][0]["VpcId"]
    failureResultOf(collection.delete(vpc), errors.Forbidden)
    failureResultOf(collection.delete("public"), errors.Forbidden)


def test_create_and_delete_when_allowed(moto):
    """Allowed: a VPC with a subnet and an attached internet gateway, all removed on delete."""
    account, collection = networks(moto, network_create=True, network_delete=True)
    made = successResultOf(collection.create(request()))
    client = account.client
    assert made.attributes["occi.network.address"] == "10.20.0.0/16"
    assert made.title == "lab"
    assert client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [made.id]}])["Subnets"]
    gateways = client.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [made.id]}])["InternetGateways"]
    assert len(gateways) == 1
    successResultOf(collection.delete(made.id))
    assert made.id not in [v["VpcId"] for v in client.describe_vpcs()["Vpcs"]]


@pytest.mark.parametrize("address", ["nonsense", "10.0.0.0/8", "fd00::/64"])
def test_bad_addresses_are_400(moto, address):
    """The address must be an IPv4 CIDR block from /16 to /28."""
    _, collection = networks(moto, network_create=True)
    failureResultOf(collection.create(request(address)), errors.BadRequest)


def test_no_address_takes_a_free_block_of_the_pool(moto):
    """
    Without an address the VPC gets the first /16 of [aws] network_pool
    that no VPC of the account overlaps; when none is left, 409 naming the
    pool, and nothing is made.
    """
    account, collection = networks(moto, network_create=True, network_pool="10.40.0.0/15")
    account.client.create_vpc(CidrBlock="10.40.128.0/17")
    made = successResultOf(collection.create(request(None)))
    assert made.attributes["occi.network.address"] == "10.41.0.0/16"
    before = vpc_ids(account)
    failure = failureResultOf(collection.create(request(None)), errors.Conflict)
    assert "10.40.0.0/15" in str(failure.value)
    assert vpc_ids(account) == before


def test_delete_refuses_a_vpc_occid_did_not_create(moto):
    """A VPC made outside occid is 403 to delete, and it keeps its subnet."""
    account, collection = networks(moto, network_delete=True)
    client = account.client
    vpc = client.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    failure = failureResultOf(collection.delete(vpc), errors.Forbidden)
    assert "not created through occid" in str(failure.value)
    assert vpc in vpc_ids(account)
    assert client.describe_subnets(SubnetIds=[subnet])["Subnets"]


def test_only_the_creator_or_a_manager_deletes(moto):
    """Another member gets 403 on a VPC Jane made; a VO manager may delete it."""
    account, jane = networks(moto, network_create=True, network_delete=True)
    made = successResultOf(jane.create(request()))
    failure = failureResultOf(provider(infra.NETWORK, account, JOHN).delete(made.id), errors.Forbidden)
    assert "creator" in str(failure.value)
    assert made.id in vpc_ids(account)
    successResultOf(provider(infra.NETWORK, account, JOHN, Visibility.MANAGER).delete(made.id))
    assert made.id not in vpc_ids(account)


def test_delete_touches_nothing_when_foreign_pieces_live_in_it(moto):
    """A security group someone else added to occid's VPC: 409 naming it, nothing deleted."""
    account, collection = networks(moto, network_create=True, network_delete=True)
    made = successResultOf(collection.create(request()))
    client = account.client
    foreign = client.create_security_group(GroupName="theirs", Description="not occid's",
                                           VpcId=made.id)["GroupId"]
    failure = failureResultOf(collection.delete(made.id), errors.Conflict)
    assert foreign in str(failure.value)
    assert client.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [made.id]}])["InternetGateways"]
    assert len(client.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [made.id]}])["Subnets"]) == 1


def test_failed_undo_keeps_the_original_error(moto, monkeypatch):
    """
    A create failing at the internet gateway, whose undo fails too, answers
    the gateway's error, not the undo's.
    """
    no_backoff(monkeypatch)
    account, collection = networks(moto, network_create=True)
    inject(account.client, "CreateInternetGateway", 400, "InternetGatewayLimitExceeded")
    inject(account.client, "DeleteSubnet", 400, "DependencyViolation")
    failure = failureResultOf(collection.create(request()), errors.BadRequest)
    assert "InternetGatewayLimitExceeded" in str(failure.value)


class FailedUndoLogTests(SynchronousTestCase):
    """What a failed create could not undo reaches the log."""

    @pytest.fixture(autouse=True)
    def _moto(self, moto, monkeypatch):
        self.moto = moto
        no_backoff(monkeypatch)

    def test_failed_undo_is_logged(self):
        """
        What the undo of a failed create could not delete is logged as a
        warning (in the reactor thread, by the adapter), naming the VPC.
        """
        account, collection = networks(self.moto, network_create=True)
        inject(account.client, "CreateInternetGateway", 400, "InternetGatewayLimitExceeded")
        inject(account.client, "DeleteSubnet", 400, "DependencyViolation")
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.failureResultOf(collection.create(request()), errors.BadRequest)
        [warning] = [e for e in events if "note" in e]
        assert warning["log_level"] == LogLevel.warn
        assert warning["kind"] == "network" and warning["account"] == account.name
        assert "DependencyViolation" in warning["note"] and "vpc-" in warning["note"]


def test_public_ip_on_launch_off(moto):
    """
    With C{[aws] public_ip_on_launch = false} the subnet of a new VPC does
    not map public IPs at launch, and the route to the gateway is still made.
    """
    account, collection = networks(moto, network_create=True, public_ip_on_launch=False)
    made = successResultOf(collection.create(request("10.21.0.0/16")))
    client = account.client
    [subnet] = client.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [made.id]}])["Subnets"]
    assert subnet["MapPublicIpOnLaunch"] is False
    routes = [route for table in client.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [made.id]}])["RouteTables"]
        for route in table["Routes"]]
    assert any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("GatewayId", "").startswith(
        "igw-") for r in routes)
