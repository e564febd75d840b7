# -*- test-case-name: tests.test_regionconfig -*-
"""
The regions a gateway serves: C{[aws] regions} (or C{[aws] region} alone,
for one), the first being the home region, where C{[aws] availability_zone}
must lie; and the regions C{[[accounts]] regions} narrows an account to,
the first being where its creates go.

Pure core, below L{occid.config}: the checks report through the
C{fail(key, problem)} callable their caller gives
(L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from occid.accountconfig import Fail

__all__ = ["DEFAULT_REGION", "check_account_regions", "check_regions"]

#: The home region of a file setting neither C{[aws] region} nor C{regions}.
DEFAULT_REGION = "eu-west-1"

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def check_regions(table: Mapping[str, Any], fail: Fail) -> None:
    """
    Check the regions of C{[aws]} C{table}, as written once its keys have
    the right types, and its C{availability_zone}.
    """
    key = "[aws] regions" if "regions" in table else "[aws] region"
    if "region" in table and "regions" in table:
        fail(key, "set region or regions, not both")
    regions = tuple(table.get("regions", [table.get("region", DEFAULT_REGION)]))
    if not regions:
        fail(key, "must name at least one region (or be left out)")
    _check_names(regions, key, _REGION.fullmatch, "is not an AWS region name", fail)
    zone, home = table.get("availability_zone", ""), regions[0]
    if zone and not re.fullmatch(re.escape(home) + "[a-z][a-z0-9]*", zone):
        fail("[aws] availability_zone", f"{zone!r} is not a zone of region {home}, the home region")


def check_account_regions(regions: tuple[str, ...], served: tuple[str, ...], key: str,
                          fail: Fail) -> None:
    """
    Check the regions C{key} (C{accounts[0].regions}) narrows an account
    to: some of the C{served} ones, each named once.
    """
    _check_names(regions, key, served.__contains__, "is not one of [aws] regions", fail)


def _check_names(regions: tuple[str, ...], key: str, known: Callable[[str], object],
                 unknown: str, fail: Fail) -> None:
    """Each of C{regions} is C{known} (else the problem C{unknown}) and named once."""
    for i, region in enumerate(regions):
        if not known(region):
            fail(key, f"{region!r} {unknown}")
        if region in regions[:i]:
            fail(key, f"{region!r} is named twice")
