# -*- test-case-name: tests.test_testing -*-
"""
What the memory fake decides as the EC2 planners do: the templates of a
compute create (the default image, the smallest instance type holding the
cores and memory asked for), the block of a network create without one, the
name of a saved image, and a full update's result.  Built on the same pure
functions as the EC2 edge (L{occid.ec2.defaults}, L{occid.ec2.fullupdate},
L{occid.ec2.values.check_image_name}), so that both answer alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from occid.ec2.defaults import (
    check_template_sizes,
    free_block,
    requested_sizes,
    smallest_type,
)
from occid.ec2.fullupdate import dropped_mixins, replaced_attributes
from occid.ec2.values import check_image_name, size_of
from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest
from occid.occi.model import AttributeValue, Changes, Entity, Mixin

__all__ = ["SETTABLE", "check_image_name", "compute_mixins", "grown", "network_address",
           "replaced", "template_attributes"]


def compute_mixins(entity: Entity, templates: Sequence[Mixin], default_image: str) -> list[Mixin]:
    """
    The mixins a compute create gets: its own, the default image when it
    names no os_tpl, the smallest type holding its cores and memory when it
    names no resource_tpl.  @raise BadRequest: as L{occid.ec2.planning.plan_compute}.
    """
    mixins = list(entity.mixins)
    if infra.template_of(mixins, infra.OS_TPL) is None:
        if not default_image:
            raise BadRequest("an os_tpl mixin is required (this site sets no default image)")
        image = next((m for m in templates
                      if m.term == default_image and m.depends_on(infra.OS_TPL)), None)
        if image is None:
            raise BadRequest(f"the site's default image {default_image} ([images] default) "
                             "is not offered here; name an os_tpl mixin")
        mixins.append(image)
    cores, memory = requested_sizes(entity.attributes)
    template = infra.template_of(mixins, infra.RESOURCE_TPL)
    if template is not None:
        check_template_sizes(template, cores, memory)
    elif cores is not None or memory is not None:
        template = smallest_type(templates, cores, memory)
        mixins.append(template)
    return mixins


def template_attributes(mixins: Sequence[Mixin]) -> dict[str, AttributeValue]:
    """What the resource_tpl among C{mixins} fixes (cores, memory, architecture), as EC2 shows it."""
    template = infra.template_of(mixins, infra.RESOURCE_TPL)
    if template is None:
        return {}
    return {a.name: a.default for a in template.attributes if a.default is not None}


def network_address(entity: Entity, others: Sequence[Entity], pool: str) -> str | None:
    """
    The block of a network create without C{occi.network.address}: the first
    free /16 of C{pool} among the C{others}' blocks; C{None} when it names one.
    """
    if entity.attributes.get("occi.network.address"):
        return None
    used = [str(o.attributes.get("occi.network.address", "")) for o in others]
    return free_block(pool, used)


#: The attributes a full update sets, by kind term: what EC2 can set.
SETTABLE = {"compute": ("occi.core.title",),
            "storage": ("occi.core.title", "occi.storage.size")}


def replaced(current: Entity, changes: Changes) -> dict[str, AttributeValue]:
    """
    The attributes of C{current} after the full update C{changes}: the
    title as stated (removed when omitted), the size of a storage as stated
    (kept when omitted), the rest as it was.  @raise Forbidden / Conflict:
    as L{occid.ec2.fullupdate} (no mixin can be removed).
    """
    values = replaced_attributes(current, changes,
                                 SETTABLE.get(current.kind.term, ("occi.core.title",)))
    dropped_mixins(current, changes)
    attributes = dict(current.attributes)
    for name, value in values.items():
        if value != "":
            attributes[name] = value
        elif name == "occi.core.title":
            attributes.pop(name, None)
    return attributes


def grown(current: Entity, size: AttributeValue) -> float:
    """
    The size of storage C{current} grown to C{size} GiB (EBS rounds up).
    @raise BadRequest: not a size EBS offers, or smaller than now.
    """
    new = size_of(size)
    now = float(current.attributes.get("occi.storage.size", 0) or 0)
    if new < now:
        raise BadRequest(f"EBS volumes can only grow; {current.id} has {now:g} GiB")
    return float(new)
