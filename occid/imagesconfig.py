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

The global table alone may also hold the appliance distribution of
C{occid-images} (L{occid.distribution}): its C{[[images.sources]]} (an OCI
registry repository or project, or a signed HEPiX image list, each serving
some VOs in some regions) and its C{[images.distribution]} settings
(L{Distribution}).  The daemon reads neither: it finds the imported AMIs by
their tags.

Pure core, below L{occid.config}, which hands in how to build a dataclass
from a table (L{Build}) and how to fail (L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from occid.accountconfig import Fail, key_name
from occid.modes import ImagePolicy, coerce

__all__ = ["Build", "Distribution", "ImageSource", "ImagesConfig", "RegionImages",
           "build_images", "check_images", "check_sources", "region_table", "serves_vo"]

#: C{build(table_name, cls, table)}: dataclass C{cls} from the keys of C{table},
#: type-checked and named in messages after C{table_name} (such as C{images}).
Build = Callable[[str, type, dict[str, Any]], Any]

_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")

#: A source's name: it is written in the C{occid:source} tag of its AMIs.
_SOURCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

#: An OCI repository name (the distribution spec's C{<name>} grammar).
_REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")

#: A VO name (the first part of its FQANs).
_VO = re.compile(r"[A-Za-z0-9._-]+")

#: Hosts a registry may be reached on over plain HTTP (a local mirror, tests).
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class RegionImages:
    """A C{[images.regions.<region>]} table: the images of a region other than the home one."""

    list: tuple[str, ...] = ()
    default: str = ""


@dataclass(frozen=True)
class ImageSource:
    """
    One C{[[images.sources]]} entry: where appliances come from, which VOs
    they serve and in which regions.  Either C{registry} with C{repository}
    or C{project} (an OCI registry; C{harbor} lists a project through
    Harbor's API, else through the registry's C{/v2/_catalog}), or
    C{image_list} with its C{endorser} (a signed HEPiX image list).
    C{regions} unset: every region the VOs' accounts serve.  C{token_file}
    names a file holding an AppDB access token, sent with the list's
    request as HTTP basic C{(<token>, "x-oauth-basic")} (VO-wide lists).
    """

    name: str = ""
    registry: str = ""
    repository: str = ""
    project: str = ""
    harbor: bool = False
    image_list: str = ""
    endorser: str = ""
    token_file: str = ""
    vos: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        """Whether it is a HEPiX image list (else an OCI registry)."""
        return bool(self.image_list)


@dataclass(frozen=True)
class Distribution:
    """
    C{[images.distribution]}: how C{occid-images} imports.

    @ivar grace_period: seconds an AMI replaced by a new version, dropped
        by its source or of an expired list stays (no longer offered)
        before it and its snapshot are deleted.
    @ivar max_virtual_size: the largest disk (virtual size, bytes) imported.
    @ivar work_dir: where downloads and raw disks are kept during an import.
    @ivar upload_threads: the EBS block uploads in flight at once.
    """

    grace_period: float = 86400.0
    max_virtual_size: int = 107374182400
    work_dir: str = "/var/lib/occid/images"
    upload_threads: int = 8


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
    sources: tuple[ImageSource, ...] = ()
    distribution: Distribution = field(default_factory=Distribution)

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
    C{accounts[0].images}), its C{regions} sub-tables included, and in the
    global table its C{sources} and C{distribution}.  Region names are
    checked against the regions served by L{check_images}, sources against
    the accounts by L{check_sources}.
    """
    flat = dict(table)
    regions = flat.pop("regions", {})
    sources = flat.pop("sources", [])
    distribution = flat.pop("distribution", {})
    if name != "images" and (sources or distribution):
        key = "sources" if sources else "distribution"
        fail(key_name(name, key), "only the global [images] table imports appliances")
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        fail(key_name(name, "sources"), "must be an array of tables, [[images.sources]]")
    if not isinstance(distribution, dict):
        fail(key_name(name, "distribution"), "must be a table, [images.distribution]")
    if not isinstance(regions, dict):
        fail(key_name(name, "regions"),
             f"must hold one table per region, such as [{name}.regions.eu-central-1]")
    for region, own in regions.items():
        if not isinstance(own, dict):
            fail(key_name(f"{name}.regions", region), "must be a table of list and default")
    images = build(name, ImagesConfig, flat)
    return replace(
        images,
        regions=MappingProxyType({
            region: build(f"{name}.regions.{region}", RegionImages, own)
            for region, own in regions.items()}),
        sources=tuple(build(f"{name}.sources[{i}]", ImageSource, source)
                      for i, source in enumerate(sources)),
        distribution=build(f"{name}.distribution", Distribution, distribution))


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


def serves_vo(fqans: tuple[str, ...], vo: str) -> bool:
    """Whether an account with FQAN patterns C{fqans} serves members of C{vo}."""
    return any(pattern.split("/")[1] == vo for pattern in fqans if pattern.startswith("/"))


def check_sources(images: ImagesConfig, accounts: Mapping[str, tuple[str, ...]],
                  regions: tuple[str, ...], fail: Fail) -> None:
    """
    Check C{[[images.sources]]} and C{[images.distribution]}: each source
    named once, of one kind with the keys that kind needs, serving VOs some
    account serves, in regions of C{[aws] regions}.

    @param accounts: the FQAN patterns of each account, by name.
    """
    names: set[str] = set()
    for i, source in enumerate(images.sources):
        where = f"images.sources[{i}]"

        def bad(key: str, problem: str, where: str = where) -> None:
            fail(key_name(where, key), problem)

        if not _SOURCE_NAME.fullmatch(source.name):
            bad("name", "is required: up to 64 letters, digits, '.', '_' or '-'")
        if source.name in names:
            bad("name", f"{source.name!r} is used twice")
        names.add(source.name)
        _check_kind(source, bad)
        if not source.vos:
            bad("vos", "must name at least one VO")
        for vo in source.vos:
            if not _VO.fullmatch(vo):
                bad("vos", f"{vo!r} is not a VO name")
            elif not any(serves_vo(fqans, vo) for fqans in accounts.values()):
                bad("vos", f"no [[accounts]] entry serves VO {vo!r}")
        for region in source.regions:
            if region not in regions:
                bad("regions", f"{region!r} is not one of [aws] regions")
    distribution = images.distribution
    if distribution.grace_period < 0:
        fail("[images.distribution] grace_period", "must be 0 or more seconds")
    if distribution.max_virtual_size < 1 << 20:
        fail("[images.distribution] max_virtual_size", "must be at least 1048576 bytes")
    if not 1 <= distribution.upload_threads <= 64:
        fail("[images.distribution] upload_threads", "must be between 1 and 64")
    if not distribution.work_dir.startswith("/"):
        fail("[images.distribution] work_dir", "must be an absolute path")


def _check_kind(source: ImageSource, bad: Fail) -> None:
    """A registry with one repository or project, or an image list with its endorser."""
    if source.image_list:
        for key in ("registry", "repository", "project"):
            if getattr(source, key):
                bad(key, "a source is a registry or an image_list, not both")
        if not source.image_list.startswith("https://"):
            bad("image_list", "must be an https:// URL")
        if not (source.endorser.startswith("/") and "=" in source.endorser):
            bad("endorser", "is required with image_list: the signer's DN in /DC=…/CN=… form")
        if source.token_file and not source.token_file.startswith("/"):
            bad("token_file", "must be an absolute path")
        return
    if not source.registry:
        bad("registry", "a source needs a registry (with repository or project) or an image_list")
    url = urlsplit(source.registry)
    if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK):
        bad("registry", "must be an https:// URL (http:// only on the loopback address)")
    if not url.hostname or url.path not in ("", "/") or url.query or url.fragment:
        bad("registry", "must be the registry's URL alone, such as https://registry.egi.eu")
    if bool(source.repository) == bool(source.project):
        bad("repository", "set repository or project (all its repositories), one of them")
    for key in ("repository", "project"):
        value = getattr(source, key)
        if value and not _REPOSITORY.fullmatch(value):
            bad(key, f"{value!r} is not an OCI repository name")
    if source.harbor and not source.project:
        bad("harbor", "lists a project: set project")
    for key in ("endorser", "token_file"):
        if getattr(source, key):
            bad(key, "belongs to an image_list source")
