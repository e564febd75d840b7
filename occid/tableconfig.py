# -*- test-case-name: tests.test_config -*-
"""
Turn one table of C{occid.toml} into a frozen dataclass: each key must be
a field of the dataclass and have the type of its default (lists of strings
become tuples, modes one of their enum's values).

Pure core, below L{occid.config}, which hands this builder, as
L{occid.imagesconfig.Build}, to the modules of the sections with
sub-tables, and reports through the C{fail(key, problem)} it hands in
(L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

from dataclasses import fields
from enum import StrEnum
from typing import Any

from occid.accountconfig import Fail, key_name
from occid.modes import Visibility

__all__ = ["build_table"]

#: The values a file may give a mode, where not every member of its enum.
_CHOICES: dict[tuple[str, str], tuple[StrEnum, ...]] = {
    ("accounts", "visibility"): (Visibility.OWNER, Visibility.VO),
}


def build_table(fail: Fail, section: str, cls: type, table: dict[str, Any]) -> Any:
    """Type-check C{table} against the fields of dataclass C{cls}."""
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        where = key_name(section, key)
        if key not in known:
            fail(where, "unknown key")
        default = known[key].default
        values[key] = _typed(fail, where, value, default)
        if isinstance(default, StrEnum):
            choices = _CHOICES.get((section.split("[")[0], key), tuple(type(default)))
            if values[key] not in choices:
                fail(where, f"must be one of {', '.join(map(repr, map(str, choices)))}, not {value!r}")
    return cls(**values)


def _typed(fail: Fail, where: str, value: Any, default: Any) -> Any:
    """C{value} if it has the type of C{default} (lists become tuples)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail(where, f"must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            fail(where, f"must be an integer, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(where, f"must be a number, not {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(where, "must be a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        fail(where, f"must be a string, not {value!r}")
    return value
