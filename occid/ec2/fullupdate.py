# -*- test-case-name: tests.test_ec2_fullupdate -*-
"""
What a full update (PUT) of a resource asks of a provider that can change
only some of it: the rules the EC2 providers and the memory fake share.

A PUT states the whole entity (minus its links, which are changed through
the link collections).  Against the entity as it is now:

  - an immutable attribute restated with its current value is accepted;
    one with another value is 403 (L{Forbidden});
  - a mutable attribute the provider can set (C{settable}) takes the value
    given, and is reset when omitted (the title is removed);
  - a mutable attribute the provider derives from what the entity is (the
    cores and memory of an instance type, a volume's size) may be restated
    unchanged or left out; another value is 409 (L{Conflict}) naming it,
    unless the provider sets it (C{settable});
  - a mixin the entity has and the PUT leaves out is removed when the
    provider can remove it (C{removable}); a template replaced by a sibling
    is a change, not a removal; anything else is 409 naming the mixin.

Pure: no EC2 call and no Twisted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from occid.occi import infrastructure as infra
from occid.occi.errors import Conflict, Forbidden
from occid.occi.model import Attribute, AttributeValue, Changes, Entity, Kind, Mixin

__all__ = ["TEMPLATE_PARENTS", "definition_of", "dropped_mixins", "replaced_attributes", "same_value"]

#: The template parents: a mixin depending on one is replaced by its sibling.
TEMPLATE_PARENTS = (infra.OS_TPL, infra.RESOURCE_TPL, infra.AVAILABILITY_ZONE)

#: Attributes a client may restate but the provider names (never compared).
_PROVIDED = ("occi.core.id", "occi.core.source", "occi.core.target")


def same_value(current: AttributeValue | None, given: AttributeValue) -> bool:
    """Whether C{given} restates C{current} (numbers compared as numbers)."""
    if current is None:
        return given in ("", None)
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        try:
            return abs(float(current) - float(given)) < 1e-6
        except (TypeError, ValueError):
            return False
    return str(current) == str(given)


def definition_of(entity: Entity, name: str) -> Attribute | None:
    """The definition of C{name} for C{entity}: the kind's (and its parents') win."""
    kind: Kind | None = entity.kind
    while kind is not None:
        found = kind.attribute(name)
        if found is not None:
            return found
        kind = kind.parent
    for mixin in entity.mixins:
        found = mixin.attribute(name)
        if found is not None:
            return found
    return None


def replaced_attributes(current: Entity, changes: Changes,
                        settable: Iterable[str]) -> dict[str, AttributeValue]:
    """
    The values of the C{settable} attributes after the full update
    C{changes} (C{""} for one omitted: reset), once every other attribute it
    states is checked against C{current}.

    @raise Forbidden: it changes an immutable attribute.
    @raise Conflict: it changes a mutable attribute the provider cannot set.
    """
    settable = tuple(settable)
    for name, value in changes.attributes.items():
        if name in settable or name in _PROVIDED:
            continue
        if same_value(current.attributes.get(name), value):
            continue
        definition = definition_of(current, name)
        if definition is not None and not definition.mutable:
            raise Forbidden(f"attribute {name} cannot be changed (it is "
                            f"{current.attributes.get(name)!r}, the update says {value!r})")
        raise Conflict(f"a {current.kind.term} cannot have {name} changed by an update "
                       f"(it is {current.attributes.get(name)!r}, the update says {value!r})")
    return {name: changes.attributes.get(name, "") for name in settable}


def dropped_mixins(current: Entity, changes: Changes,
                removable: Callable[[Mixin], bool] = lambda mixin: False) -> list[Mixin]:
    """
    The mixins of C{current} the full update C{changes} drops that the
    provider can remove (C{removable}).

    @raise Conflict: it drops one the provider cannot remove.
    """
    dropped = []
    for mixin in current.mixins:
        if mixin in changes.mixins:
            continue
        parents = [p for p in TEMPLATE_PARENTS if mixin.depends_on(p)]
        if parents and any(m.depends_on(p) for m in changes.mixins for p in parents):
            continue
        if not removable(mixin):
            raise Conflict(f"mixin {mixin.identifier} cannot be removed from a "
                           f"{current.kind.term}; a full update (PUT) must restate it")
        dropped.append(mixin)
    return dropped
