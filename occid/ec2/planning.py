# -*- test-case-name: tests.test_ec2_compute -*-
"""
Requests checked and planned before any EC2 call: what a create asks for,
in the shape the blocking operations take, and the requests EC2 refuses.

Pure: nothing here calls EC2 or Twisted; the planners read the account's
configuration and cached catalog only.  Every planner takes C{(account,
scope, entity)} and raises L{occid.occi.errors.OCCIError}s, so that a bad
request fails in the calling thread, before the thread pool is used.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from occid.ec2 import defaults, intents
from occid.ec2.hibernation import Hibernating, plan_hibernation
from occid.ec2.scope import Scope
from occid.ec2.tags import LINKS_TAG, REQUEST_TAG, TITLE, TOKEN_TAG, tag_list, tag_value
from occid.ec2.values import check_ssh_key, decode_user_data, size_of
from occid.ec2.vocabulary import SNAPSHOT_ID, instance_type_of, valid_id
from occid.occi import idempotency
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Forbidden, NotFound
from occid.occi.model import AttributeValue, Changes, Entity, Kind, Link, Mixin
from occid.occi.resolve import location_id

if TYPE_CHECKING:
    from occid.ec2.account import Account
    from occid.interfaces import ICatalog

__all__ = [
    "Launch",
    "LinkPlan",
    "NetworkPlan",
    "plan_compute",
    "plan_link",
    "plan_network",
    "plan_storage",
    "plan_update",
    "split_link_id",
]

_SSH_KEY_ATTRIBUTES = ("occi.credentials.ssh.publickey", "org.openstack.credentials.publickey.data")
_USER_DATA_ATTRIBUTES = ("org.openstack.compute.user_data", "occi.compute.userdata")


def split_link_id(id: str) -> tuple[str, str]:
    """C{(instance id, target part)} of a link id.  @raise NotFound: not a link id."""
    instance_id, _, target = id.partition("_")
    if not valid_id("i", instance_id) or not target:
        raise NotFound(f"no link {id}")
    return instance_id, target


# -- computes ----------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """Everything a create asks for, checked before any EC2 call."""

    image_id: str
    instance_type: str
    zone: str | None
    vpc_id: str | None
    ssh_key: bytes | None
    user_data: bytes | None
    tags: dict[str, str]
    pending: tuple[intents.Intent, ...]
    client_token: str
    hibernation: Hibernating | None = None

    def tag_specifications(self) -> list[dict]:
        """The RunInstances C{TagSpecifications}: the volumes do not get the links tag."""
        return [
            {"ResourceType": "instance", "Tags": tag_list(self.tags)},
            {"ResourceType": "volume", "Tags": tag_list(
                {k: v for k, v in self.tags.items() if k != LINKS_TAG})},
        ]


def _first(attributes: dict[str, AttributeValue], names: tuple[str, ...]) -> AttributeValue | None:
    return next((attributes[name] for name in names if attributes.get(name)), None)


def _default_image(account: Account, catalog: ICatalog) -> Mixin:
    """
    The os_tpl of C{[images] default}, for a create that names none.

    @raise BadRequest: no default is set, or the catalogue does not offer it.
    """
    default, key = account.catalog.default_image, account.catalog.keys.images_default
    if not default:
        raise BadRequest("an os_tpl mixin is required (this site sets no default image)")
    found = next((m for m in catalog.mixins
                  if m.term == default and m.depends_on(infra.OS_TPL)), None)
    if found is None:
        raise BadRequest(f"the site's default image {default} ({key}) is not "
                         "offered here; name an os_tpl mixin")
    return found


def _default_type(account: Account, catalog: ICatalog) -> str:
    """
    The account's default instance type, for a create that names no resource_tpl.

    @raise BadRequest: EC2 does not know it, so the catalogue left it out.
    """
    default, key = account.aws.default_instance_type, account.catalog.keys.default_instance_type
    if not any(m.depends_on(infra.RESOURCE_TPL) and instance_type_of(m) == default
               for m in catalog.mixins):
        raise BadRequest(f"the site's default instance type {default} "
                         f"({key}) is not offered here; name a "
                         "resource_tpl mixin")
    return default


def plan_compute(account: Account, scope: Scope, entity: Entity,
                 idempotency_key: str | None = None) -> Launch:
    """
    Check a create request against the account's catalog and occid's rules.

    With an C{idempotency_key} the client token is derived from the owner
    and the key, and the L{REQUEST_TAG} holds the digest of the key and
    C{entity}, for L{occid.ec2.launch} to find a retried launch.

    Without an os_tpl the site's C{[images] default} is used; without a
    resource_tpl, cores and memory (when given) choose the smallest offered
    instance type holding them, else C{[aws] default_instance_type}.  Whether
    it launches able to hibernate follows C{[aws] hibernation}
    (L{occid.ec2.hibernation.plan_hibernation}).

    @raise BadRequest: no os_tpl and no default image (or a default image or
        instance type the catalogue left out: EC2 does not know it), a template not
        offered here (to this principal: saved images are private), cores or
        memory no offered type has or that contradict the resource_tpl, a bad
        SSH key or user data, a link occid cannot make, hibernation asked
        for where it cannot be had.
    """
    catalog = account.catalog.catalog_for(scope)
    os_tpl = infra.template_of(entity.mixins, infra.OS_TPL)
    if os_tpl is None:
        os_tpl = _default_image(account, catalog)
    elif catalog.lookup(os_tpl.identifier) is None:
        raise BadRequest(f"os_tpl {os_tpl.identifier} is not offered here")
    resource_tpl = infra.template_of(entity.mixins, infra.RESOURCE_TPL)
    if resource_tpl is not None and catalog.lookup(resource_tpl.identifier) is None:
        raise BadRequest(f"resource_tpl {resource_tpl.identifier} is not offered here")
    cores, memory = defaults.requested_sizes(entity.attributes)
    if resource_tpl is not None:
        defaults.check_template_sizes(resource_tpl, cores, memory)
    elif cores is not None or memory is not None:
        resource_tpl = defaults.smallest_type(catalog.mixins, cores, memory)
    zone_tpl = infra.template_of(entity.mixins, infra.AVAILABILITY_ZONE)
    if zone_tpl is not None and catalog.lookup(zone_tpl.identifier) is None:
        raise BadRequest(f"availability zone {zone_tpl.identifier} is not offered here")

    ssh_key = _first(entity.attributes, _SSH_KEY_ATTRIBUTES)
    user_data = _first(entity.attributes, _USER_DATA_ATTRIBUTES)

    vpc_id = None
    pending = []
    for link in getattr(entity, "links", ()):
        network = location_id(link.target, "network")
        volume = location_id(link.target, "storage")
        if network == "public":
            pending.append(intents.Intent(intents.PUBLIC))
        elif network is not None and valid_id("vpc", network):
            if vpc_id not in (None, network):
                raise BadRequest("a compute can be created in one VPC only")
            vpc_id = network
        elif volume is not None and valid_id("vol", volume):
            device = intents.checked_device(link.attributes.get("occi.storagelink.deviceid"))
            pending.append(intents.Intent(volume, device))
        else:
            raise BadRequest(f"cannot link a new compute to {link.target}")

    instance_type = (instance_type_of(resource_tpl) if resource_tpl
                     else _default_type(account, catalog))
    templates = account.catalog.templates
    hibernation = plan_hibernation(account.aws.hibernation, entity.mixins, instance_type,
                                   templates.resource_tpls, templates.hibernating_types)
    tags = scope.creation_tags(entity.title)
    if idempotency_key is None:
        token = str(uuid.uuid4())
    else:
        token = idempotency.client_token(scope.principal.owner, idempotency_key)
        tags[REQUEST_TAG] = idempotency.request_digest(idempotency_key, entity)
    tags[TOKEN_TAG] = token
    if pending:
        tags[LINKS_TAG] = intents.encode(pending)
    return Launch(
        image_id=os_tpl.term,
        instance_type=instance_type,
        zone=zone_tpl.term if zone_tpl else account.catalog.default_zone,
        vpc_id=vpc_id,
        ssh_key=check_ssh_key(str(ssh_key)) if ssh_key else None,
        user_data=decode_user_data(str(user_data)) if user_data else None,
        tags=tags,
        pending=tuple(pending),
        client_token=token,
        hibernation=hibernation,
    )




def _zone(account: Account, entity: Entity) -> str:
    chosen = infra.template_of(entity.mixins, infra.AVAILABILITY_ZONE)
    zones = account.catalog.templates.zones
    if chosen is not None:
        if chosen.term not in zones:
            raise BadRequest(f"availability zone {chosen.term} is not offered here")
        return chosen.term
    default = account.catalog.default_zone
    if default:
        return default
    if not zones:
        raise BadRequest("the region offers no availability zone")
    return zones[0]


def plan_storage(account: Account, scope: Scope, entity: Entity) -> dict:
    """
    The CreateVolume parameters of a create request, with the C{SnapshotId}
    of the snapshot it restores (C{com.amazon.aws.ec2.snapshot_id}).
    @raise BadRequest: bad request.
    """
    if "occi.storage.size" not in entity.attributes:
        raise BadRequest("occi.storage.size is required")
    parameters = {
        "Size": size_of(entity.attributes["occi.storage.size"]),
        "AvailabilityZone": _zone(account, entity),
        "VolumeType": "gp3",
        "TagSpecifications": [{"ResourceType": "volume",
                               "Tags": tag_list(scope.creation_tags(entity.title))}],
    }
    restored = entity.attributes.get(SNAPSHOT_ID.name)
    if restored:
        parameters["SnapshotId"] = snapshot_id(restored)
    return parameters


def snapshot_id(value: AttributeValue) -> str:
    """
    The id of the snapshot a restore names: C{snap-…} or its C{/snapshot/}
    location (a path or an absolute URL).  @raise BadRequest: neither.
    """
    text = str(value)
    id = location_id(text, "snapshot") if "/" in text else text
    if id is None or not valid_id("snap", id):
        raise BadRequest(f"{SNAPSHOT_ID.name} {text!r} is neither a snapshot id (snap-...) "
                         "nor a /snapshot/ location")
    return id


# -- networks ----------------------------------------------------------------


@dataclass(frozen=True)
class NetworkPlan:
    """
    A VPC to create: its CIDR block (C{None}: a free /16 of C{pool}, chosen
    with the account's VPCs in view) and title.
    """

    cidr: str | None
    title: str | None
    pool: str = "10.0.0.0/8"


def plan_network(account: Account, scope: Scope, entity: Entity) -> NetworkPlan:
    """
    The CIDR and title of a VPC create; without C{occi.network.address} the
    block is left for L{occid.ec2.network.create_network} to choose from
    C{[aws] network_pool}.  @raise Forbidden / BadRequest.
    """
    if not account.aws.network_create:
        raise Forbidden("this site does not let users create networks ([aws] network_create)")
    if entity.title:
        tag_value(entity.title, TITLE)
    address = entity.attributes.get("occi.network.address")
    if not address:
        return NetworkPlan(None, entity.title, account.aws.network_pool)
    try:
        network = ipaddress.ip_network(str(address))
    except ValueError:
        raise BadRequest(f"occi.network.address {address!r} is not a CIDR block") from None
    if network.version != 4 or not 16 <= network.prefixlen <= 28:
        raise BadRequest("occi.network.address must be an IPv4 block from /16 to /28")
    return NetworkPlan(str(network), entity.title, account.aws.network_pool)


@dataclass(frozen=True)
class LinkPlan:
    """
    A link to make: from instance C{source} to C{target} (C{"public"}, a
    VPC id or a volume id), on C{device} for a volume when one was asked.
    """

    kind: Kind
    source: str
    target: str
    device: str | None = None


def plan_link(account: Account, scope: Scope, link: Entity) -> LinkPlan:
    """
    Check a networkinterface or storagelink create: a compute as source, a
    network (C{public} or a VPC) or a volume as target, a device in range.

    @raise BadRequest: a location of the wrong collection, a malformed id or
        device.
    """
    if not isinstance(link, Link):
        raise BadRequest(f"a {link.kind.term} is not a link")
    source = location_id(link.source, "compute")
    if not source:
        raise BadRequest(f"{link.source} is not a /compute/ location")
    if link.kind == infra.NETWORKINTERFACE:
        network = location_id(link.target, "network")
        if network is None:
            raise BadRequest(f"{link.target} is not a /network/ location")
        if network != "public" and not valid_id("vpc", network):
            raise BadRequest(f"no network {network}")
        return LinkPlan(link.kind, source, network)
    volume = location_id(link.target, "storage")
    if volume is None:
        raise BadRequest(f"{link.target} is not a /storage/ location")
    device = intents.checked_device(link.attributes.get("occi.storagelink.deviceid"))
    return LinkPlan(link.kind, source, volume, device)


# -- updates -----------------------------------------------------------------


def plan_update(changes: Changes) -> Changes:
    """
    C{changes}, once the title they set is known to fit the C{Name} tag
    (L{tag_value}) of any kind.  @raise BadRequest: it does not.
    """
    title = changes.attributes.get("occi.core.title")
    if title is not None:
        tag_value(str(title), TITLE)
    return changes
