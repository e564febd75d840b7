# -*- test-case-name: tests.test_ec2_network -*-
"""
OCCI networks: the account's VPCs (id = VPC id, C{occi.network.address} =
its CIDR block) plus the C{public} pseudo-network that elastic IPs are
linked to.  VPCs are visible to every user of the account.  Creating a VPC
(with one subnet and an internet gateway) and deleting one are allowed only
when C{[aws] network_create} and C{network_delete} say so; only a VPC occid
created (tagged C{occid:managed=network} at creation) can be deleted, and
only by its creator or a VO manager.
"""

from __future__ import annotations

import ipaddress

from twisted.internet.defer import fail
from zope.interface import implementer

from occid.config import Visibility
from occid.ec2.account import MANAGED_TAG, Account
from occid.ec2.collection import AccountCollection
from occid.ec2.errors import translated
from occid.ec2.scope import NAME_TAG, Scope, tag_dict, tag_list, valid_id
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden, NotFound
from occid.occi.model import Entity, EntityFilter, Resource

PUBLIC = "public"

#: The C{occid:managed} value of the VPCs occid created.
MANAGED_NETWORK = "network"


def public_network() -> Resource:
    """The pseudo-network of public (elastic) addresses."""
    return Resource(kind=infra.NETWORK, id=PUBLIC, mixins=[infra.IPNETWORK], attributes={
        "occi.core.title": "public addresses (elastic IPs)",
        "occi.network.state": "active",
        "occi.network.allocation": "dynamic",
    })


def render(vpc: dict) -> Resource:
    """The OCCI network of a VPC description."""
    tags = tag_dict(vpc)
    attributes: dict = {
        "occi.network.address": vpc["CidrBlock"],
        "occi.network.state": "active" if vpc["State"] == "available" else "inactive",
        "occi.network.allocation": "dynamic",
        "com.amazon.aws.ec2.state": vpc["State"],
        "com.amazon.aws.ec2.is_default": bool(vpc.get("IsDefault")),
    }
    if vpc["State"] != "available":
        attributes["occi.network.state.message"] = f"the VPC is {vpc['State']}"
    if vpc.get("InstanceTenancy"):
        attributes["com.amazon.aws.ec2.instance_tenancy"] = vpc["InstanceTenancy"]
    if NAME_TAG in tags:
        attributes["occi.core.title"] = tags[NAME_TAG]
    return Resource(kind=infra.NETWORK, id=vpc["VpcId"], mixins=[infra.IPNETWORK, infra.EC2_VPC],
                    attributes=attributes)


def _vpc(account: Account, id: str) -> dict:
    if not valid_id("vpc", id):
        raise NotFound(f"no network {id}")
    return account.recent.describe(
        id, lambda: account.client.describe_vpcs(VpcIds=[id])["Vpcs"][0])


@translated
def list_networks(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """C{public} and every VPC of the account passing C{filter}."""
    pages = account.client.get_paginator("describe_vpcs").paginate(
        PaginationConfig={"PageSize": 1000})
    networks = [public_network()] + sorted(
        (render(vpc) for page in pages for vpc in page["Vpcs"]), key=lambda n: n.id)
    if filter.owned_only:
        return []
    return [n for n in networks if filter.matches(n)]


@translated
def get_network(account: Account, scope: Scope, id: str) -> Entity:
    """Network C{id}: C{public} or a VPC."""
    if id == PUBLIC:
        return public_network()
    return render(_vpc(account, id))


def plan_network(account: Account, entity: Entity) -> tuple[str, str | None]:
    """The CIDR and title of a VPC create.  @raise Forbidden / BadRequest."""
    if not account.aws.network_create:
        raise Forbidden("this site does not let users create networks ([aws] network_create)")
    address = entity.attributes.get("occi.network.address")
    if not address:
        raise BadRequest("occi.network.address (a CIDR block such as 10.1.0.0/16) is required")
    try:
        network = ipaddress.ip_network(str(address))
    except ValueError:
        raise BadRequest(f"occi.network.address {address!r} is not a CIDR block") from None
    if network.version != 4 or not 16 <= network.prefixlen <= 28:
        raise BadRequest("occi.network.address must be an IPv4 block from /16 to /28")
    return str(network), entity.title


@translated
def create_network(account: Account, scope: Scope, cidr: str, title: str | None) -> Entity:
    """A VPC with one subnet over its whole block and an attached internet gateway."""
    client = account.client
    tags = tag_list(dict(scope.creation_tags(title), **{MANAGED_TAG: MANAGED_NETWORK}))
    vpc = client.create_vpc(CidrBlock=cidr, TagSpecifications=[
        {"ResourceType": "vpc", "Tags": tags}])["Vpc"]
    vpc_id = vpc["VpcId"]
    try:
        client.create_subnet(VpcId=vpc_id, CidrBlock=cidr, TagSpecifications=[
            {"ResourceType": "subnet", "Tags": tags}])
        gateway = client.create_internet_gateway(TagSpecifications=[
            {"ResourceType": "internet-gateway", "Tags": tags}])["InternetGateway"]
        client.attach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"],
                                       VpcId=vpc_id)
    except BaseException:
        try:
            _teardown(client, vpc_id)
        except Exception:
            pass  # the error that stopped the create is the one to report
        raise
    account.recent.add(vpc_id)
    return render(vpc)


def _teardown(client, vpc_id: str) -> None:
    """
    Delete a VPC occid made, with the gateways, subnets and security groups
    occid made in it.  @raise Conflict: something else lives in it (checked
    before anything is deleted).
    """
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    gateways = client.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    subnets = client.describe_subnets(Filters=filters)["Subnets"]
    groups = [group for group in client.describe_security_groups(Filters=filters)["SecurityGroups"]
              if group["GroupName"] != "default"]
    foreign = [piece.get("InternetGatewayId") or piece.get("SubnetId") or piece["GroupId"]
               for piece in (*gateways, *subnets, *groups)
               if MANAGED_TAG not in tag_dict(piece)]
    if foreign:
        raise Conflict(f"network {vpc_id} holds {', '.join(foreign)}, which occid did not "
                       "create; remove them first")
    for gateway in gateways:
        client.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"],
                                       VpcId=vpc_id)
        client.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
    for subnet in subnets:
        client.delete_subnet(SubnetId=subnet["SubnetId"])
    for group in groups:
        client.delete_security_group(GroupId=group["GroupId"])
    client.delete_vpc(VpcId=vpc_id)


def check_deletable(scope: Scope, vpc: dict) -> None:
    """
    @raise Forbidden: occid did not create C{vpc}, or the principal is
        neither its creator nor a VO manager.
    """
    tags = tag_dict(vpc)
    if tags.get(MANAGED_TAG) != MANAGED_NETWORK:
        raise Forbidden(f"network {vpc['VpcId']} was not created through occid; "
                        "only the site admin may delete it")
    if not scope.owns(tags) and scope.binding.visibility != Visibility.MANAGER:
        raise Forbidden(f"only the creator of network {vpc['VpcId']} or a VO manager "
                        "may delete it")


@translated
def delete_network(account: Account, scope: Scope, id: str) -> None:
    """Delete VPC C{id} when the site allows it and nothing runs in it."""
    if id == PUBLIC:
        raise Forbidden("the public network cannot be deleted")
    if not account.aws.network_delete:
        raise Forbidden("this site does not let users delete networks ([aws] network_delete)")
    vpc = _vpc(account, id)
    if vpc.get("IsDefault"):
        raise Forbidden("the default VPC cannot be deleted through occid")
    check_deletable(scope, vpc)
    running = account.client.describe_instances(Filters=[
        {"Name": "vpc-id", "Values": [id]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
    ])["Reservations"]
    if running:
        raise Conflict(f"network {id} still has computes in it")
    _teardown(account.client, id)
    account.recent.forget(id)


@implementer(IEntityCollection)
class NetworkCollection(AccountCollection):
    """The account's VPCs and the public network."""

    kind = infra.NETWORK

    def list(self, filter):
        return self._run(list_networks, filter)

    def get(self, id):
        return self._run(get_network, id)

    def create(self, entity):
        return self._planned_write(create_network, lambda: plan_network(self._account, entity))

    def update(self, id, changes):
        return fail(Forbidden("networks cannot be changed through occid"))

    def delete(self, id):
        return self._write(delete_network, id)

    def trigger(self, id, action, attributes):
        if action in infra.NETWORK.actions:
            return fail(Conflict(f"{action.term} is not possible on a VPC; it is always up"))
        return fail(BadRequest(f"{action.identifier} is not an action of network"))
