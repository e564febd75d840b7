# -*- test-case-name: tests.test_testing -*-
"""
In-memory fakes of occid's providers, shipped in the package so that every
layer (and every project embedding occid) can test against them; they sit on
top of the pure core, beside the EC2 edge they stand in for.

  - L{occid.testing.identities}: principals and bindings made to measure,
    C{identify(request)} stand-ins and a fixed-table account policy;
  - L{occid.testing.memory}: entity collections in a dict, with the state
    machine, visibility and refusals of the EC2 providers;
  - L{occid.testing.snapshots}: EBS snapshots taken by the storage
    actions, restored by storage creates;
  - L{occid.testing.usermixins}: user-defined mixins, their definitions
    and memberships;
  - L{occid.testing.backend}: the backend handing out catalogs and those
    collections.

The contract tests (C{tests/contract.py}) run against these fakes and against
the EC2 backend, which keeps the fakes honest.
"""

from occid.testing.backend import (
    DEFAULT_AMIS,
    DEFAULT_INSTANCE_TYPES,
    DEFAULT_ZONES,
    MemoryBackend,
)
from occid.testing.identities import (
    StaticPolicy,
    identify_as,
    make_binding,
    make_principal,
    refuse_identity,
)
from occid.testing.memory import MemoryCollection, MemoryStore

__all__ = [
    "DEFAULT_AMIS",
    "DEFAULT_INSTANCE_TYPES",
    "DEFAULT_ZONES",
    "MemoryBackend",
    "MemoryCollection",
    "MemoryStore",
    "StaticPolicy",
    "identify_as",
    "make_binding",
    "make_principal",
    "refuse_identity",
]
