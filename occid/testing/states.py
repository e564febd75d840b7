# -*- test-case-name: tests.test_testing -*-
"""
The state machine the memory fake runs, as EC2 runs it for instances and
volumes: the state of a new entity, the states each action needs and the
state it leaves, the actions an entity's state offers, and the refusal of
an action EC2 cannot do at all (L{occid.ec2.refusals}).
"""

from __future__ import annotations

from occid.ec2 import refusals
from occid.occi import infrastructure as infra
from occid.occi.errors import OCCIError
from occid.occi.model import Action, Entity, Kind
from occid.testing import hibernation

__all__ = ["INITIAL_STATES", "TRANSITIONS", "applicable_actions", "refusal", "state_of"]

#: The state attribute and the state of a new entity, by kind term.
INITIAL_STATES = {
    "compute": ("occi.compute.state", "active"),
    "storage": ("occi.storage.state", "online"),
    "network": ("occi.network.state", "active"),
    "networkinterface": ("occi.networkinterface.state", "active"),
    "storagelink": ("occi.storagelink.state", "active"),
}

#: (kind term, action term) -> (states the action needs, state after it;
#: None keeps the state): the actions EC2 can do.
TRANSITIONS: dict[tuple[str, str], tuple[set[str], str | None]] = {
    ("compute", "start"): ({"inactive", "suspended"}, "active"),
    ("compute", "stop"): ({"active"}, "inactive"),
    ("compute", "restart"): ({"active"}, "active"),
    ("compute", "suspend"): ({"active"}, "suspended"),
    ("compute", "save"): ({"active", "inactive"}, None),
    ("storage", "snapshot"): ({"online", "offline"}, None),
    ("storage", "backup"): ({"online", "offline"}, None),
    ("storage", "resize"): ({"online", "offline"}, None),
}


def state_of(entity: Entity) -> tuple[str, str] | None:
    """The name and value of the entity's state attribute, if its kind has one."""
    known = INITIAL_STATES.get(entity.kind.term)
    if known is None:
        return None
    name = known[0]
    return name, str(entity.attributes.get(name, ""))


def applicable_actions(entity: Entity) -> list[Action]:
    """The kind's actions that the entity's current state allows."""
    state = state_of(entity)
    current = state[1] if state else ""
    return [
        action
        for action in entity.kind.actions
        if current in TRANSITIONS.get((entity.kind.term, action.term), (set(), None))[0]
        and (action != infra.COMPUTE_SUSPEND or hibernation.suspendable(entity))
    ]


def refusal(kind: Kind, action: Action) -> OCCIError | None:
    """What EC2 answers C{action} on an entity of C{kind}, if it cannot do it at all."""
    if action in kind.actions and (kind.term, action.term) in TRANSITIONS:
        return None
    return refusals.action_impossible(kind, action)
