# -*- test-case-name: tests.test_oidc -*-
"""
Entitlements as group paths: an AARC-G002 entitlement such as
C{urn:mace:egi.eu:group:vo.example.org:sub:role=vm_operator#aai.egi.eu}
becomes C{/vo.example.org/sub/Role=vm_operator}, the form of a VOMS FQAN,
so that C{[[accounts]]} C{fqans} patterns and C{manager_fqans} apply to
token users unchanged.  C{role=member} adds no role: it is what a plain
FQAN C{/vo/group} means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["group_path", "group_paths"]

#: A group or role name that may appear in an FQAN pattern.
_NAME = re.compile(r"[A-Za-z0-9._-]+")

#: What separates the namespace from the groups in an entitlement URN.
_GROUP = ":group:"

#: The role every member holds: no C{/Role=} in the path.
MEMBER = "member"


def group_path(entitlement: str) -> str | None:
    """
    The group path of C{entitlement}, or C{None} when it is no group
    entitlement: C{urn:<namespace>:group:<vo>[:<subgroup>…][:role=<role>][#<authority>]}
    whose names are letters, digits, C{.}, C{_} or C{-}.
    """
    urn = entitlement.partition("#")[0]
    if not urn.startswith("urn:"):
        return None
    _, marker, groups = urn.partition(_GROUP)
    if not marker:
        return None
    parts = groups.split(":")
    role = parts.pop()[len("role="):] if parts[-1].startswith("role=") else MEMBER
    if not parts or not all(_NAME.fullmatch(part) for part in (*parts, role)):
        return None
    path = "/" + "/".join(parts)
    return path if role == MEMBER else f"{path}/Role={role}"


def group_paths(entitlements: Iterable[str]) -> tuple[str, ...]:
    """The group paths of C{entitlements}, in their order, each once; others left out."""
    paths: dict[str, None] = {}
    for entitlement in entitlements:
        path = group_path(entitlement)
        if path is not None:
            paths[path] = None
    return tuple(paths)
