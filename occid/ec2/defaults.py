# -*- test-case-name: tests.test_ec2_defaults -*-
"""
What a create gets for what it leaves out, and the checks of what it
restates: the smallest instance type holding the cores and memory asked for,
the values a resource_tpl fixes, and a free /16 of the site's network pool.

Pure: no EC2 call and no Twisted.  The EC2 planners (L{occid.ec2.planning})
and the memory fake (L{occid.testing.memory}) both use these functions, so
that both choose alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from occid.occi import infrastructure as infra
from occid.occi.errors import BadRequest, Conflict
from occid.occi.model import AttributeValue, Mixin

__all__ = ["POOL_PREFIX", "check_template_sizes", "free_block", "requested_sizes",
           "smallest_type"]

#: The prefix of the block a network create without an address gets.
POOL_PREFIX = 16

_CORES, _MEMORY = "occi.compute.cores", "occi.compute.memory"

#: Memory sizes closer than this (GiB) are the same size.
_MEMORY_SLACK = 0.01


def _default(mixin: Mixin, name: str) -> float:
    attribute = mixin.attribute(name)
    if attribute is None or attribute.default is None:
        return 0.0
    return float(attribute.default)


def requested_sizes(attributes: dict[str, AttributeValue]) -> tuple[float | None, float | None]:
    """C{(cores, memory in GiB)} a create names, C{None} for what it leaves out."""
    def value(name: str) -> float | None:
        given = attributes.get(name)
        if given is None or given == "":
            return None
        try:
            return float(given)
        except (TypeError, ValueError):
            raise BadRequest(f"{name} must be a number, not {given!r}") from None
    return value(_CORES), value(_MEMORY)


def _described(cores: float | None, memory: float | None) -> str:
    asked = []
    if cores is not None:
        asked.append(f"{_CORES}={cores:g}")
    if memory is not None:
        asked.append(f"{_MEMORY}={memory:g}")
    return " and ".join(asked)


def smallest_type(offered: Iterable[Mixin], cores: float | None,
                  memory: float | None) -> Mixin:
    """
    The smallest offered resource_tpl (by cores, then memory, then name)
    with at least C{cores} cores and C{memory} GiB.

    @raise BadRequest: none is that large (the message names the request
        and the largest offered).
    """
    templates = sorted((m for m in offered if m.depends_on(infra.RESOURCE_TPL)),
                       key=lambda m: (_default(m, _CORES), _default(m, _MEMORY), m.term))
    for template in templates:
        if ((cores is None or _default(template, _CORES) >= cores)
                and (memory is None or _default(template, _MEMORY) + _MEMORY_SLACK >= memory)):
            return template
    largest = (f"the largest offered, {templates[-1].term}, has "
               f"{_default(templates[-1], _CORES):g} cores and "
               f"{_default(templates[-1], _MEMORY):g} GiB") if templates else "none is offered"
    raise BadRequest(f"no instance type offered here has {_described(cores, memory)} "
                     f"({largest})")


def check_template_sizes(template: Mixin, cores: float | None, memory: float | None) -> None:
    """
    @raise BadRequest: C{cores} or C{memory} (when given) differ from what
        the resource_tpl C{template} fixes.
    """
    fixed_cores, fixed_memory = _default(template, _CORES), _default(template, _MEMORY)
    if cores is not None and cores != fixed_cores:
        raise BadRequest(f"{_CORES}={cores:g} contradicts resource_tpl {template.term}, "
                         f"which has {fixed_cores:g} cores; drop one of them")
    if memory is not None and abs(memory - fixed_memory) > _MEMORY_SLACK:
        raise BadRequest(f"{_MEMORY}={memory:g} contradicts resource_tpl {template.term}, "
                         f"which has {fixed_memory:g} GiB; drop one of them")


def free_block(pool: str, used: Sequence[str]) -> str:
    """
    The first /16 of C{pool} (an IPv4 block of prefix 16 or less) that
    overlaps none of the CIDR blocks C{used}.

    @raise Conflict: every /16 of the pool is taken (the message names the
        pool and tells the client to name an address).
    """
    network = ipaddress.IPv4Network(pool)
    taken = []
    for cidr in used:
        try:
            block = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if block.version == 4:
            taken.append(block)
    for candidate in network.subnets(new_prefix=POOL_PREFIX):
        if not any(candidate.overlaps(block) for block in taken):
            return str(candidate)
    raise Conflict(f"every /{POOL_PREFIX} of the site's network pool {pool} ([aws] "
                   "network_pool) is used by a network of this account; name a free "
                   "occi.network.address")
