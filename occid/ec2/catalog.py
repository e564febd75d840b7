# -*- test-case-name: tests.test_ec2_catalog -*-
"""
An account's templates, read from EC2 and cached: os_tpl mixins from
DescribeImages under the site's C{[images]} policy, resource_tpl mixins for
C{[aws] instance_types} from DescribeInstanceTypes, availability_zone mixins
from DescribeAvailabilityZones.

L{load_templates} is the blocking read (run in the EC2 thread pool, at
start and by a timer); L{AccountCatalog} holds the latest result, so that a
request never waits for EC2 to learn the templates once they are loaded.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from occid.config import AwsConfig, ImagesConfig
from occid.ec2.errors import translated
from occid.occi.catalog import Catalog
from occid.occi.errors import ServiceUnavailable
from occid.occi.infrastructure import (
    availability_zone_mixin,
    os_tpl_mixin,
    resource_tpl_mixin,
)
from occid.occi.model import Mixin

#: Page size of the paginated Describe calls (the EC2 maximum).
PAGE_SIZE = 1000

#: DescribeInstanceTypes accepts at most this many names per call.
TYPES_PER_CALL = 100


@dataclass(frozen=True)
class Templates:
    """
    What EC2 offers one account, in query-interface order.

    @ivar zones: the available zone names, in name order.
    """

    os_tpls: tuple[Mixin, ...]
    resource_tpls: tuple[Mixin, ...]
    zone_tpls: tuple[Mixin, ...]
    zones: tuple[str, ...]

    def catalog(self) -> Catalog:
        """The account's catalog: the static categories plus these templates."""
        mixins = self.os_tpls + self.resource_tpls + self.zone_tpls
        digest = hashlib.sha256()
        for mixin in mixins:
            digest.update(f"{mixin.identifier}\0{mixin.title}\0".encode())
        return Catalog(mixins, version=digest.hexdigest()[:16])


def image_query(images: ImagesConfig) -> dict:
    """The DescribeImages parameters of the site's image policy."""
    query: dict = {"Filters": [{"Name": "image-type", "Values": ["machine"]},
                               {"Name": "state", "Values": ["available"]}]}
    if images.policy in ("owned", "owned_and_listed"):
        query["Owners"] = ["self"]
    if images.policy in ("listed", "owned_and_listed"):
        # A filter, not ImageIds: one stale id must not fail the whole call.
        query["Filters"].append({"Name": "image-id", "Values": list(images.list)})
    return query


def _images(client, images: ImagesConfig) -> list[dict]:
    query = image_query(images)
    if images.policy in ("listed", "owned_and_listed"):
        return client.describe_images(**query)["Images"]
    pages = client.get_paginator("describe_images").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}, **query
    )
    return [image for page in pages for image in page["Images"]]


def _instance_types(client, names: tuple[str, ...]) -> dict[str, dict]:
    found = {}
    for start in range(0, len(names), TYPES_PER_CALL):
        chunk = list(names[start:start + TYPES_PER_CALL])
        for info in client.describe_instance_types(InstanceTypes=chunk)["InstanceTypes"]:
            found[info["InstanceType"]] = info
    return found


def _architecture(info: dict) -> str | None:
    supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    for preferred in ("x86_64", "i386"):
        if preferred in supported:
            return preferred
    return supported[0] if supported else None


@translated
def load_templates(client, aws: AwsConfig, images: ImagesConfig, public_host: str) -> Templates:
    """Read the account's templates from EC2 (blocking; four calls or so)."""
    os_tpls = sorted(
        (
            os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"], public_host)
            for image in _images(client, images)
        ),
        key=lambda mixin: (mixin.title, mixin.term),
    )
    infos = _instance_types(client, aws.instance_types)
    resource_tpls = [
        resource_tpl_mixin(
            name,
            infos[name]["VCpuInfo"]["DefaultVCpus"],
            infos[name]["MemoryInfo"]["SizeInMiB"] / 1024,
            _architecture(infos[name]),
        )
        for name in aws.instance_types
        if name in infos
    ]
    zones = sorted(
        zone["ZoneName"]
        for zone in client.describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}]
        )["AvailabilityZones"]
    )
    return Templates(
        os_tpls=tuple(os_tpls),
        resource_tpls=tuple(resource_tpls),
        zone_tpls=tuple(availability_zone_mixin(zone, public_host) for zone in zones),
        zones=tuple(zones),
    )


class AccountCatalog:
    """
    The latest templates and catalog of one account.  L{refresh} runs in a
    pool thread; readers in the reactor thread see either the old or the new
    pair, never a mix.
    """

    def __init__(self, account: str, client, aws: AwsConfig, images: ImagesConfig,
                 public_host: str):
        self.account = account
        self.public_host = public_host
        self._client = client
        self._aws = aws
        self._images = images
        self._state: tuple[Templates, Catalog] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the templates have been read at least once."""
        return self._state is not None

    def refresh(self) -> Catalog:
        """Read the templates again (blocking) and publish them."""
        with self._lock:
            templates = load_templates(self._client, self._aws, self._images, self.public_host)
            self._state = (templates, templates.catalog())
            return self._state[1]

    def _current(self) -> tuple[Templates, Catalog]:
        state = self._state
        if state is None:
            raise ServiceUnavailable(
                f"the templates of account {self.account} are not loaded yet; try again shortly",
                retry_after=5,
            )
        return state

    @property
    def templates(self) -> Templates:
        """The latest templates. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[0]

    @property
    def catalog(self) -> Catalog:
        """The latest catalog. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[1]
