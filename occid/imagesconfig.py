# -*- test-case-name: tests.test_imagesconfig -*-
"""
The shape of an C{[images]} table, the global one or an account's own
(C{[accounts.images]}): which AMIs are offered as os_tpl mixins, in each
region the gateway serves.

The top-level C{policy}, C{list} and C{default} are the home region's (the
first of C{[aws] regions}); a C{[images.regions.<region>]} table gives
C{list} and C{default} for another region, under the same policy.  A region
without such a table offers no listed images.  Sub-tables are taken out of
the table before its flat keys are built (L{build_images}), so another one
can be added beside C{regions} without changing these.

Pure core, below L{occid.config}, which hands in how to build a dataclass
from a table (L{Build}) and how to fail (L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from occid.accountconfig import Fail, key_name
from occid.modes import ImagePolicy, coerce

__all__ = ["Build", "ImagesConfig", "RegionImages", "build_images", "check_images",
           "region_table"]

#: C{build(table_name, cls, table)}: dataclass C{cls} from the keys of C{table},
#: type-checked and named in messages after C{table_name} (such as C{images}).
Build = Callable[[str, type, dict[str, Any]], Any]

_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")


@dataclass(frozen=True)
class RegionImages:
    """A C{[images.regions.<region>]} table: the images of a region other than the home one."""

    list: tuple[str, ...] = ()
    default: str = ""


@dataclass(frozen=True)
class ImagesConfig:
    """
    C{[images]}: which AMIs are offered as os_tpl mixins.  C{list} and
    C{default} are the home region's; C{regions} maps each other region
    with a table of its own to its L{RegionImages}.
    """

    policy: ImagePolicy = ImagePolicy.LISTED
    list: tuple[str, ...] = ("ami-0123456789abcdef0",)
    default: str = ""
    regions: Mapping[str, RegionImages] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        coerce(self, "policy", ImagePolicy)

    def in_region(self, region: str, home: str) -> ImagesConfig:
        """
        The images offered in C{region}: the policy, and the region's list
        and default (none for a region without a table).

        @param home: the home region, whose images are the top-level ones.
        """
        if region == home:
            own = RegionImages(list=self.list, default=self.default)
        else:
            own = self.regions.get(region, RegionImages())
        return ImagesConfig(policy=self.policy, list=own.list, default=own.default)


def region_table(table: str, region: str, home: str) -> str:
    """
    The name of the table of C{[images]} table C{table} (C{images} or
    C{accounts[0].images}) that holds the images of C{region}: C{table}
    itself for the C{home} region, else C{<table>.regions.<region>}.
    """
    return table if region == home else f"{table}.regions.{region}"


def build_images(table: dict[str, Any], name: str, build: Build, fail: Fail) -> ImagesConfig:
    """
    The L{ImagesConfig} of C{table}, named C{name} in messages (C{images} or
    C{accounts[0].images}), its C{regions} sub-tables included.  Region
    names are checked against the regions served by L{check_images}.
    """
    flat = dict(table)
    regions = flat.pop("regions", {})
    if not isinstance(regions, dict):
        fail(key_name(name, "regions"),
             f"must hold one table per region, such as [{name}.regions.eu-central-1]")
    for region, own in regions.items():
        if not isinstance(own, dict):
            fail(key_name(f"{name}.regions", region), "must be a table of list and default")
    images = build(name, ImagesConfig, flat)
    return replace(images, regions=MappingProxyType({
        region: build(f"{name}.regions.{region}", RegionImages, own)
        for region, own in regions.items()}))


def check_images(images: ImagesConfig, name: str, regions: tuple[str, ...], fail: Fail) -> None:
    """
    Check C{[images]} table C{images}, named C{name} in messages: its
    C{regions} tables name the regions served but the home one, and each
    region's list and default are AMI ids the policy can use.

    @param regions: C{[aws] regions}, the home region first.
    """
    home = regions[0]
    for region in images.regions:
        key = key_name(f"{name}.regions", region)
        if region == home:
            fail(key, f"{region} is the home region: set its images with the top-level keys "
                      f"{key_name(name, 'list')} and {key_name(name, 'default')}")
        if region not in regions:
            fail(key, f"{region!r} is not one of [aws] regions")
    for region in (home, *images.regions):
        _check_region(images.in_region(region, home), region_table(name, region, home), fail)


def _check_region(images: ImagesConfig, table: str, fail: Fail) -> None:
    """Check the list and default of one region, set in C{table}."""
    if images.policy.uses_list and not images.list:
        fail(key_name(table, "list"), f"policy {str(images.policy)!r} needs at least one AMI id")
    for ami in images.list:
        if not _AMI.match(ami):
            fail(key_name(table, "list"), f"{ami!r} is not an AMI id")
    if images.default and not _AMI.match(images.default):
        fail(key_name(table, "default"), f"{images.default!r} is not an AMI id")
