# -*- test-case-name: tests.test_ec2_network -*-
"""
OCCI networks as the account's VPCs (id = VPC id, C{occi.network.address} =
its CIDR block) plus the C{public} pseudo-network that elastic IPs are
linked to: the blocking operations, run in the EC2 thread pool by
L{occid.ec2.adapter}.

VPCs are visible to every user of the account.  Creating a VPC (with one
subnet, an internet gateway and a route table sending C{0.0.0.0/0} to it;
the subnet maps public IPs at launch per C{[aws] public_ip_on_launch}) and
deleting one are allowed only when
C{[aws] network_create} and C{network_delete} say so; only a VPC occid
created (tagged C{occid:managed=network} at creation) can be deleted, and
only by its creator or a VO manager.
"""

from __future__ import annotations

import uuid

from botocore.exceptions import BotoCoreError, ClientError

from occid.config import Visibility
from occid.ec2 import outcome, refusals, visible
from occid.ec2.account import Account
from occid.ec2.clients import EC2Client
from occid.ec2.defaults import free_block
from occid.ec2.errors import translate, translated
from occid.ec2.mapping import PUBLIC, entity_from_vpc, public_network, readable
from occid.ec2.planning import NetworkPlan
from occid.ec2.readable import each
from occid.ec2.scope import Scope
from occid.ec2.tags import MANAGED_NETWORK, MANAGED_TAG, TOKEN_TAG, shown, tag_dict, tag_list
from occid.occi import infrastructure as infra
from occid.occi.errors import Conflict, Forbidden, OCCIError
from occid.occi.model import Action, AttributeValue, Entity, EntityFilter

#: The destination of the route to the internet gateway.
DEFAULT_ROUTE = "0.0.0.0/0"


def _vpc(account: Account, id: str) -> dict:
    """VPC C{id}.  @raise NotFound: no such VPC (L{visible.one})."""
    return visible.one(account, infra.NETWORK, "vpc", id,
                       lambda: account.client.describe_vpcs(VpcIds=[id])["Vpcs"])


def _network(vpc: dict) -> Entity:
    """The network of C{vpc}.  @raise Unreadable: occid cannot read it (L{readable})."""
    return readable(infra.NETWORK, vpc, entity_from_vpc)


@translated
def list_networks(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """
    C{public} and every VPC of the account passing C{filter}; those occid
    cannot read are left out (L{each}).
    """
    pages = account.client.get_paginator("describe_vpcs").paginate(
        PaginationConfig={"PageSize": 1000})
    networks = [public_network()] + sorted(
        each(account.label, infra.NETWORK, (vpc for page in pages for vpc in page["Vpcs"]),
             _network), key=lambda n: n.id)
    if filter.owned_only:
        return []
    return [n for n in networks if filter.matches(n)]


@translated
def get_network(account: Account, scope: Scope, id: str) -> Entity:
    """Network C{id}: C{public} or a VPC."""
    if id == PUBLIC:
        return public_network()
    return _network(_vpc(account, id))


@translated
def trigger_network(account: Account, scope: Scope, id: str, action: Action,
                    attributes: dict[str, AttributeValue]) -> Entity:
    """
    No action runs on a VPC: C{up} and C{down} of a network that exists are
    409; of one that does not (never was, or deleted) 404.
    """
    if action not in infra.NETWORK.actions:
        raise refusals.not_an_action(infra.NETWORK, action)
    if id != PUBLIC:
        _vpc(account, id)
    raise refusals.action_impossible(infra.NETWORK, action)


@translated
def create_network(account: Account, scope: Scope, plan: NetworkPlan) -> Entity:
    """
    A VPC with one subnet over its whole block and an attached internet
    gateway; a plan without a block takes the first /16 of its pool that no
    VPC of the account uses (one DescribeVpcs).  When a part fails, what was made is deleted again; what could
    not be is noted on the error raised.  CreateVpc has no client token:
    the VPC is tagged with a L{TOKEN_TAG} of the create's own, by which it
    is looked up when the answer is lost (L{outcome.settle}).
    """
    client = account.client
    cidr = plan.cidr or free_block(plan.pool, used_blocks(client))
    token = str(uuid.uuid4())
    tags = tag_list(dict(scope.creation_tags(plan.title), **{MANAGED_TAG: MANAGED_NETWORK}))
    try:
        vpc = client.create_vpc(CidrBlock=cidr, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [*tags, {"Key": TOKEN_TAG, "Value": token}]}])["Vpc"]
    except Exception as error:
        if not outcome.lost(error):
            raise
        # It may have been made before the answer was lost.
        found = outcome.settle(infra.NETWORK, error, False, lambda: next(iter(
            client.describe_vpcs(Filters=[
                {"Name": f"tag:{TOKEN_TAG}", "Values": [token]}])["Vpcs"]), None))
        if found is None:
            error.add_note(f"no VPC made with token {token}")
            raise
        vpc = found
    vpc_id = vpc["VpcId"]
    try:
        _build(client, vpc_id, cidr, tags, account.aws.public_ip_on_launch)
    except BaseException as error:
        try:
            _teardown(client, vpc_id)
        except (ClientError, BotoCoreError, OCCIError) as cleanup:
            # The error that stopped the create is the one to report.
            error.add_note(f"deleting {vpc_id} after the failed create failed: "
                           f"{translate(cleanup)}")
        raise
    account.recent.add(vpc_id)
    return _network(vpc)


def _build(client: EC2Client, vpc_id: str, cidr: str, tags: list[dict],
           public_ip_on_launch: bool) -> None:
    """
    The pieces of a new VPC, all tagged with C{tags}: one subnet over its
    whole block (mapping public IPs at launch when C{public_ip_on_launch}),
    an attached internet gateway, and a route table routing C{0.0.0.0/0}
    to it, associated with the subnet.
    """
    subnet = client.create_subnet(VpcId=vpc_id, CidrBlock=cidr, TagSpecifications=[
        {"ResourceType": "subnet", "Tags": tags}])["Subnet"]["SubnetId"]
    gateway = client.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": tags}])["InternetGateway"]
    gateway_id = gateway["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    table = client.create_route_table(VpcId=vpc_id, TagSpecifications=[
        {"ResourceType": "route-table", "Tags": tags}])["RouteTable"]["RouteTableId"]
    client.create_route(RouteTableId=table, DestinationCidrBlock=DEFAULT_ROUTE,
                        GatewayId=gateway_id)
    client.associate_route_table(RouteTableId=table, SubnetId=subnet)
    if public_ip_on_launch:
        client.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})


def used_blocks(client: EC2Client) -> list[str]:
    """Every IPv4 CIDR block of every VPC of the account."""
    pages = client.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 1000})
    blocks = []
    for page in pages:
        for vpc in page["Vpcs"]:
            blocks.append(vpc["CidrBlock"])
            blocks.extend(association["CidrBlock"]
                          for association in vpc.get("CidrBlockAssociationSet", ())
                          if association.get("CidrBlock"))
    return blocks


def _teardown(client: EC2Client, vpc_id: str) -> None:
    """
    Delete a VPC occid made, with the route tables (and so their routes and
    associations), gateways, subnets and security groups occid made in it,
    in that order.  @raise Conflict: something else lives in it (checked
    before anything is deleted).
    """
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    gateways = client.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    subnets = client.describe_subnets(Filters=filters)["Subnets"]
    groups = [group for group in client.describe_security_groups(Filters=filters)["SecurityGroups"]
              if group["GroupName"] != "default"]
    tables = [table for table in client.describe_route_tables(Filters=filters)["RouteTables"]
              if not any(a.get("Main") for a in table.get("Associations", ()))]
    foreign = [piece.get("InternetGatewayId") or piece.get("SubnetId")
               or piece.get("RouteTableId") or piece["GroupId"]
               for piece in (*gateways, *subnets, *tables, *groups)
               if MANAGED_TAG not in tag_dict(piece)]
    if foreign:
        raise Conflict(f"network {vpc_id} holds {', '.join(foreign)}, which occid did not "
                       "create; remove them first")
    for table in tables:
        for association in table.get("Associations", ()):
            client.disassociate_route_table(
                AssociationId=association["RouteTableAssociationId"])
        client.delete_route_table(RouteTableId=table["RouteTableId"])
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
    running = account.client.describe_instances(
        Filters=shown([{"Name": "vpc-id", "Values": [id]}]))["Reservations"]
    if running:
        raise Conflict(f"network {id} still has computes in it")
    _teardown(account.client, id)
    account.recent.forget(id)
