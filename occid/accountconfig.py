# -*- test-case-name: tests.test_accountconfig -*-
"""
What an C{[[accounts]]} entry may set beyond who it serves: its own
templates (C{images}, C{instance_types}, C{default_instance_type}, which
override the global ones for that account) and its limits.

Pure core, below L{occid.config}: the checks shared by the global keys and
an account's own (instance type names; image lists are
L{occid.imagesconfig}'s) live here, with how messages name a key
(L{key_name}), and report through the C{fail(key, problem)} callable their
caller gives, which raises the L{occid.config.ConfigError} naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

#: C{fail(key, problem)}: raises the error naming the file, C{key} and C{problem}.
Fail = Callable[[str, str], None]

_INSTANCE_TYPE = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+")


@dataclass(frozen=True)
class Limits:
    """
    The limits of one account: C{max_*} for everything occid made in the
    account, C{user_max_*} for what one user (one C{occid:owner}) made;
    C{None} is no limit.  Instances count while not terminated or
    shutting down, vCPUs are their types' default vCPUs, volume GiB the
    sizes of occid's volumes not being deleted (root volumes included).
    """

    max_instances: int | None = None
    max_vcpus: int | None = None
    max_volume_gib: int | None = None
    user_max_instances: int | None = None
    user_max_vcpus: int | None = None
    user_max_volume_gib: int | None = None


@dataclass(frozen=True)
class TemplateKeys:
    """
    The names, as messages give them, of the keys that set one account's
    templates in one region: the global C{[aws]} and C{[images]} keys, or the
    account's own where it overrides them (C{accounts[1].instance_types});
    outside the home region, the list and default of the region's table
    (C{[images.regions.eu-central-1] list}).
    """

    instance_types: str = "[aws] instance_types"
    default_instance_type: str = "[aws] default_instance_type"
    images_policy: str = "[images] policy"
    images_list: str = "[images] list"
    images_default: str = "[images] default"


def key_name(table: str, key: str) -> str:
    """
    How messages name C{key} of C{table}: C{[images.regions] eu-central-1}
    for a top-level table (C{images.regions}), C{accounts[0].images.list}
    inside an entry of an array of tables (C{accounts[0].images},
    C{oidc.issuers[0]}).
    """
    return f"{table}.{key}" if "[" in table else f"[{table}] {key}"


#: The keys of an account that sets no templates of its own.
GLOBAL_TEMPLATE_KEYS = TemplateKeys()

#: The limit keys an account table may hold.
LIMIT_KEYS = tuple(f.name for f in fields(Limits))


def take_limits(table: dict[str, Any], where: str, fail: Fail) -> Limits:
    """
    The limits in account C{table}, removed from it.

    @param where: the account's name in messages, such as C{accounts[0]}.
    """
    values = {}
    for key in LIMIT_KEYS:
        if key not in table:
            continue
        value = table.pop(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail(f"{where}.{key}", f"must be a whole number, 0 or more, not {value!r}")
        values[key] = value
    return Limits(**values)


def check_instance_types(types: tuple[str, ...], default: str, prefix: str,
                         fail: Fail, types_key: str | None = None) -> None:
    """
    Check the instance types offered and the default one, whose keys are
    named C{prefix + key} in messages (C{"[aws] "} or C{"accounts[0]."}).

    @param types_key: the key that set C{types}, named when the default is
        not among them (an account may inherit C{[aws] instance_types});
        C{prefix + "instance_types"} when C{None}.
    """
    if not types:
        fail(f"{prefix}instance_types", "must offer at least one instance type")
    for instance_type in types:
        if not _INSTANCE_TYPE.fullmatch(instance_type):
            fail(f"{prefix}instance_types", f"{instance_type!r} is not an instance type name")
    if default not in types:
        fail(f"{prefix}default_instance_type",
             f"must be one of {types_key or prefix + 'instance_types'}")
