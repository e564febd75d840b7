# -*- test-case-name: tests.test_ec2_compute -*-
"""
OCCI computes as EC2 instances: the blocking operations.

Each function takes an L{Account} and a L{Scope}, calls boto3, and returns
plain entities (mapped by L{occid.ec2.mapping}) or raises
L{occid.occi.errors.OCCIError}s; L{occid.ec2.adapter} runs them in the EC2
thread pool.  Requests are checked before by L{occid.ec2.planning}.

Creating one is in L{occid.ec2.launch}.
"""

from __future__ import annotations

import uuid

from botocore.exceptions import BotoCoreError, ClientError

from occid.ec2 import quotas, visible
from occid.ec2.account import Account, all_instances
from occid.ec2.addresses import occid_addresses, release
from occid.ec2.defaults import check_template_sizes, requested_sizes
from occid.ec2.errors import translated
from occid.ec2.fullupdate import dropped_mixins, replaced_attributes
from occid.ec2.hibernation import not_hibernating
from occid.ec2.mapping import (
    applicable_actions,
    ec2_state,
    entity_from_instance,
    hibernation_configured,
    occi_state,
    readable,
)
from occid.ec2.readable import each
from occid.ec2.scope import Scope
from occid.ec2.tags import (
    NAME_TAG,
    OWNER_TAG,
    VO_TAG,
    shown,
    tag_dict,
    tag_list,
)
from occid.ec2.templates import SavedImage
from occid.ec2.values import check_image_name
from occid.ec2.vocabulary import instance_type_of
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict, Forbidden
from occid.occi.model import Action, AttributeValue, Changes, Entity, EntityFilter, Mixin, Resource


def entity(account: Account, instance: dict, reservation: str | None = None) -> Resource:
    """
    The compute of C{instance} under C{account}'s current catalog.
    @raise Unreadable: occid cannot read C{instance} (L{readable}).
    """
    return readable(infra.COMPUTE, instance, lambda instance: entity_from_instance(
        instance, account.catalog.catalog, account.catalog.public_host, reservation))


# -- reading -----------------------------------------------------------------


def describe(account: Account, scope: Scope, id: str) -> tuple[dict, str]:
    """
    The description and reservation id of instance C{id}, as the principal
    may see it (one DescribeInstances).

    @raise NotFound: no such instance, terminated, or another user's
        (L{visible.one}: the same answer for each).
    """
    def call() -> list[tuple[dict, str]]:
        answer = account.client.describe_instances(
            InstanceIds=[id], Filters=shown(scope.filters()))
        return [(instance, reservation["ReservationId"])
                for reservation in answer["Reservations"]
                for instance in reservation["Instances"]]

    return visible.one(account, infra.COMPUTE, "i", id, call)


@translated
def list_computes(account: Account, scope: Scope, filter: EntityFilter) -> list[Entity]:
    """
    The principal's visible instances passing C{filter}, ordered by id;
    those occid cannot read are left out (L{each}).
    """
    entities = each(account.label, infra.COMPUTE, all_instances(
        account, shown(scope.filters(owned_only=filter.owned_only))),
        lambda found: entity(account, *found))
    return sorted((e for e in entities if filter.matches(e)), key=lambda e: e.id)


@translated
def get_compute(account: Account, scope: Scope, id: str) -> Entity:
    """Instance C{id} as it is now."""
    instance, reservation = describe(account, scope, id)
    return entity(account, instance, reservation)


# -- changing ----------------------------------------------------------------


def _conflict(action: str, instance: dict) -> Conflict:
    state, _ = occi_state(instance)
    return Conflict(
        f"cannot {action} compute {instance['InstanceId']} while it is {state} "
        f"(EC2 state {ec2_state(instance)})")


@translated
def trigger_compute(account: Account, scope: Scope, id: str, action: Action,
                    attributes: dict[str, AttributeValue]) -> Entity | Mixin:
    """
    Run C{action} on instance C{id}; the entity as EC2 describes it after
    the action (two DescribeInstances in all), or the new os_tpl for save.
    """
    client = account.client
    if action not in infra.COMPUTE.actions:
        raise BadRequest(f"{action.identifier} is not an action of compute")
    if action == infra.COMPUTE_SAVE:
        check_image_name(attributes.get("name"))
    instance, reservation = describe(account, scope, id)
    if action == infra.COMPUTE_SUSPEND and not hibernation_configured(instance):
        raise not_hibernating(id)
    if action not in applicable_actions(instance):
        raise _conflict(action.term, instance)
    method = attributes.get("method")
    if action == infra.COMPUTE_SAVE:
        return _save(account, scope, instance, attributes)
    if action == infra.COMPUTE_START:
        client.start_instances(InstanceIds=[id])
    elif action == infra.COMPUTE_STOP:
        client.stop_instances(InstanceIds=[id], Force=method == "poweroff")
    elif action == infra.COMPUTE_RESTART:
        client.reboot_instances(InstanceIds=[id])
    else:
        client.stop_instances(InstanceIds=[id], Hibernate=True)
    instance, reservation = describe(account, scope, id)
    return entity(account, instance, reservation)


def _save(account: Account, scope: Scope, instance: dict,
          attributes: dict[str, AttributeValue]) -> Mixin:
    """
    CreateImage of C{instance}, tagged with the principal's owner tags so
    that the image is offered to those who see the principal's resources.
    On AWS itself (no C{[aws] endpoint_url}) its snapshots get the same
    tags, which narrow their DeleteSnapshot (README, IAM policy); an
    EC2-compatible endpoint (the local emulator) may refuse snapshot tags
    in CreateImage, so they are asked of AWS only.
    """
    title = tag_dict(instance).get(NAME_TAG) or instance["InstanceId"]
    name = str(attributes.get("name") or f"{title}-{uuid.uuid4().hex[:8]}")
    tags = scope.creation_tags(name)
    tagged = ("image",) if account.aws.endpoint_url else ("image", "snapshot")
    image_id = account.client.create_image(
        InstanceId=instance["InstanceId"], Name=name,
        NoReboot=attributes.get("method") != "deferred",
        TagSpecifications=[{"ResourceType": kind, "Tags": tag_list(tags)} for kind in tagged],
    )["ImageId"]
    mixin = account.catalog.image_mixin(image_id, name)
    account.catalog.add_saved(SavedImage(mixin, tags[OWNER_TAG], tags[VO_TAG]))
    return mixin


@translated
def update_compute(account: Account, scope: Scope, id: str, changes: Changes) -> Entity:
    """
    Rename (Name tag) or resize (instance type, while stopped, within the
    account's vCPU limits: L{quotas.check_resize}) instance C{id}.  A full update (C{changes.replace}) follows
    L{occid.ec2.fullupdate}: the title it omits is removed, restated
    values are compared, and no mixin can be removed.
    """
    client = account.client
    instance, reservation = describe(account, scope, id)
    current = entity(account, instance, reservation)
    if changes.replace:
        changes = _full(current, changes)
    for name, value in changes.attributes.items():
        if name == "occi.core.title" or str(current.attributes.get(name)) == str(value):
            continue
        raise Forbidden(f"{name} of a compute cannot be changed")
    catalog = account.catalog.catalog
    new_type = None
    for mixin in changes.mixins:
        if mixin in current.mixins:
            continue
        if not mixin.depends_on(infra.RESOURCE_TPL):
            raise Forbidden(f"mixin {mixin.identifier} cannot be added to an existing compute")
        if catalog.lookup(mixin.identifier) is None:
            raise BadRequest(f"resource_tpl {mixin.identifier} is not offered here")
        new_type = instance_type_of(mixin)
    if new_type and new_type != instance["InstanceType"]:
        if ec2_state(instance) != "stopped":
            raise _conflict("resize", instance)
        quotas.check_resize(account, scope, instance["InstanceType"], new_type)
        client.modify_instance_attribute(InstanceId=id, InstanceType={"Value": new_type})
        instance = dict(instance, InstanceType=new_type)
    title = changes.attributes.get("occi.core.title")
    if title is not None:
        instance = account.retitle(instance, id, title)
    return entity(account, instance, reservation)


def _full(current: Entity, changes: Changes) -> Changes:
    """
    The partial update doing what the full update C{changes} asks of
    C{current}.  @raise Forbidden / Conflict / BadRequest: it cannot be done.
    """
    title = replaced_attributes(current, changes, ("occi.core.title",))
    dropped_mixins(current, changes)
    template = infra.template_of(changes.mixins, infra.RESOURCE_TPL)
    if template is not None and template not in current.mixins:
        check_template_sizes(template, *requested_sizes(changes.attributes))
    return Changes(mixins=changes.mixins, attributes=title)


@translated
def delete_compute(account: Account, scope: Scope, id: str) -> None:
    """
    Terminate instance C{id}, then disassociate and release the elastic IPs
    occid allocated for it (L{occid.ec2.addresses.release}: DisassociateAddress
    works in any instance state, so no wait for the termination is needed;
    a release EC2 still refuses after a few seconds is left to the
    reconciler, which frees occid addresses of terminated instances).
    """
    describe(account, scope, id)
    client = account.client
    addresses = occid_addresses(client, id)
    client.terminate_instances(InstanceIds=[id])
    account.recent.forget(id)
    for address in addresses:
        try:
            release(client, address)
        except (ClientError, BotoCoreError):
            continue
