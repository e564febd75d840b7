# -*- test-case-name: tests.test_contract_hibernation -*-
"""
Hibernation in the memory fake, as the EC2 backend does it under C{[aws]
hibernation = "on-request"}: a compute created with the C{hibernation}
mixin of an instance type that cannot hibernate is refused, and only a
compute created with it may be suspended.  Built on
L{occid.ec2.hibernation}, so that both answer alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from occid.ec2.hibernation import not_hibernating, plan_hibernation
from occid.ec2.vocabulary import HIBERNATION, instance_type_of
from occid.modes import Hibernation
from occid.occi import infrastructure as infra
from occid.occi.model import Action, Entity, Mixin

__all__ = ["check_create", "check_trigger", "suspendable"]


def check_create(mixins: Sequence[Mixin], hibernating_types: frozenset[str]) -> None:
    """
    @raise BadRequest: C{mixins} ask for hibernation with a resource_tpl not
        in C{hibernating_types} (without a resource_tpl the fake has no type
        to check).
    """
    template = infra.template_of(mixins, infra.RESOURCE_TPL)
    if template is not None:
        plan_hibernation(Hibernation.ON_REQUEST, mixins, instance_type_of(template),
                         [template], hibernating_types)


def suspendable(entity: Entity) -> bool:
    """Whether compute C{entity} was created able to hibernate."""
    return HIBERNATION in entity.mixins


def check_trigger(entity: Entity, action: Action) -> None:
    """@raise Conflict: C{action} is suspend, and C{entity} cannot hibernate."""
    if action == infra.COMPUTE_SUSPEND and not suspendable(entity):
        raise not_hibernating(entity.id)
