# -*- test-case-name: tests.test_ec2_catalog -*-
"""
An account's templates, read from EC2 and cached: os_tpl mixins from
DescribeImages under the site's C{[images]} policy, resource_tpl mixins for
C{[aws] instance_types} from DescribeInstanceTypes (with the types that can
hibernate), availability_zone mixins from DescribeAvailabilityZones, and the
C{hibernation} mixin unless C{[aws] hibernation} is C{never} (then the
suspend action is withheld too).

A configured value EC2 does not know (an instance type, a listed or default
AMI, the default zone) is left out of that account's templates and noted as
L{Dropped}, which the backend logs at each load: one bad value never makes
the whole account unusable.

L{load_templates} is the blocking read (run in the EC2 thread pool, at
start and by a timer): L{read_answers} (EC2's answers, as plain data) then
L{templates_from}; L{AccountCatalog} holds the latest result, so that a
request never waits for EC2 to learn the templates once they are loaded.
The answers are what the processes of one host share
(L{occid.ec2.sharedcatalog}).

Images users saved through occid (tagged C{occid:owner} and C{occid:vo} at
CreateImage) are not the account's templates: under every policy each
principal gets them as it sees other resources (its own; its VO's; a manager
all), in a catalog of its own whose C{version} differs from the account's
only when it holds some.  A saved image the site lists in C{[images] list}
(policies C{listed} and C{owned_and_listed}) is a template like the others,
offered to everyone.  L{AccountCatalog.remove_saved} stops offering one its
maker deleted (L{occid.ec2.images}).

Images C{occid-images} imported for the account's VOs (tagged
C{occid:source}, L{occid.ec2.distributed}) are offered under every policy,
titled with the appliance's title and carrying its references, unless
retired; L{AccountCatalog.refresh_distributed} reads them alone (one
tag-filtered DescribeImages), so the backend's one-minute timer notices a
new or retired one between the full refreshes.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from occid.accountconfig import GLOBAL_TEMPLATE_KEYS, TemplateKeys
from occid.config import DEFAULT_PATH, AwsConfig, ImagesConfig
from occid.ec2.clients import EC2Client
from occid.ec2.distributed import SOURCE_TAG, distributed_mixin, distributed_query, offered
from occid.ec2.errors import translated
from occid.ec2.scope import Scope
from occid.ec2.tags import OWNER_TAG, VO_TAG, tag_dict
from occid.ec2.vocabulary import EC2_KINDS, HIBERNATION, MARKERS, instance_type_of, resource_tpl_mixin
from occid.modes import Hibernation
from occid.occi.catalog import Catalog
from occid.occi.errors import ServiceUnavailable
from occid.occi.infrastructure import (
    COMPUTE_SUSPEND,
    availability_zone_mixin,
    os_tpl_mixin,
    region_mixin,
)
from occid.occi.model import Mixin

#: Page size of the paginated Describe calls (the EC2 maximum).
PAGE_SIZE = 1000

#: The instance type names asked for in one DescribeInstanceTypes call.
TYPES_PER_CALL = 100

@dataclass(frozen=True)
class Dropped:
    """
    A value of the configuration that EC2 does not know, left out.

    @ivar key: where it is set, e.g. C{[aws] instance_types}.
    @ivar value: the value itself.
    @ivar consequence: what its absence means for the account's users.
    """

    key: str
    value: str
    consequence: str


@dataclass(frozen=True)
class SavedImage:
    """An image a user saved through occid, with the tags that say who sees it."""

    mixin: Mixin
    owner: str
    vo: str


@dataclass(frozen=True)
class Templates:
    """
    What EC2 offers one account, in query-interface order.

    @ivar zones: the available zone names, in name order.
    @ivar dropped: the configured values EC2 does not know, left out.
    @ivar hibernating_types: the offered instance types that can hibernate
        (DescribeInstanceTypes' C{HibernationSupported}).
    @ivar hibernation_offered: whether the site offers the C{hibernation}
        mixin and the suspend action (C{[aws] hibernation} is not C{never}).
    """

    os_tpls: tuple[Mixin, ...]
    resource_tpls: tuple[Mixin, ...]
    zone_tpls: tuple[Mixin, ...]
    zones: tuple[str, ...]
    saved: tuple[SavedImage, ...] = ()
    distributed: tuple[Mixin, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    hibernating_types: frozenset[str] = frozenset()
    hibernation_offered: bool = True

    def catalog(self, private: tuple[Mixin, ...] = ()) -> Catalog:
        """
        The static categories, the EC2 marker mixins and these templates: the
        account's catalog, or with C{private} (saved images) one principal's.
        """
        mixins = self.os_tpls + self.distributed + private + self.resource_tpls + self.zone_tpls
        digest = hashlib.sha256()
        for mixin in mixins:
            digest.update(f"{mixin.identifier}\0{mixin.title}\0".encode())
        if not self.hibernation_offered:
            digest.update(b"no hibernation")
            return Catalog(MARKERS + mixins, version=digest.hexdigest()[:16], kinds=EC2_KINDS,
                           withheld=(COMPUTE_SUSPEND,))
        return Catalog(MARKERS + (HIBERNATION,) + mixins, version=digest.hexdigest()[:16],
                       kinds=EC2_KINDS)


def image_query(images: ImagesConfig) -> dict:
    """The DescribeImages parameters of the site's image policy."""
    query: dict = {"Filters": [{"Name": "image-type", "Values": ["machine"]},
                               {"Name": "state", "Values": ["available"]}]}
    if images.policy.uses_owned:
        query["Owners"] = ["self"]
    if images.policy.uses_list:
        # A filter, not ImageIds: one stale id must not fail the whole call.
        query["Filters"].append({"Name": "image-id", "Values": list(images.list)})
    return query


def offered_images(client: EC2Client, images: ImagesConfig) -> list[dict]:
    """
    The DescribeImages descriptions of the images the site's policy offers
    as templates (blocking): those of the policy's query, less the images
    users saved through occid unless the site lists them.
    """
    query = image_query(images)
    if images.policy.uses_list:
        found = client.describe_images(**query)["Images"]
    else:
        pages = client.get_paginator("describe_images").paginate(
            PaginationConfig={"PageSize": PAGE_SIZE}, **query
        )
        found = [image for page in pages for image in page["Images"]
                 if OWNER_TAG not in tag_dict(image)]
    return [image for image in found if SOURCE_TAG not in tag_dict(image)]


def imported_images(client: EC2Client) -> list[dict]:
    """
    The DescribeImages descriptions of the account's images imported by
    C{occid-images} and not retired (blocking; one paged call): offered
    whatever the policy.
    """
    pages = client.get_paginator("describe_images").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}, **distributed_query())
    return [image for page in pages for image in page["Images"] if offered(tag_dict(image))]


def saved_images(client: EC2Client) -> list[dict]:
    """The descriptions of the account's images saved through occid, pending ones included."""
    pages = client.get_paginator("describe_images").paginate(
        Owners=["self"], PaginationConfig={"PageSize": PAGE_SIZE},
        Filters=[{"Name": "image-type", "Values": ["machine"]},
                 {"Name": "state", "Values": ["pending", "available"]},
                 {"Name": "tag-key", "Values": [OWNER_TAG]}])
    return [image for page in pages for image in page["Images"]]


def saved_image(image: dict, public_host: str, region: str) -> SavedImage:
    """The L{SavedImage} of an image description carrying occid's tags."""
    tags = tag_dict(image)
    return SavedImage(os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"],
                                   public_host, region),
                      tags.get(OWNER_TAG, ""), tags.get(VO_TAG, ""))


def _keys(mixins: tuple[Mixin, ...]) -> tuple[tuple, ...]:
    """What tells two lists of os_tpl mixins apart (mixins compare by identity)."""
    return tuple((mixin.term, mixin.title,
                  tuple((attribute.name, attribute.default) for attribute in mixin.attributes))
                 for mixin in mixins)


def _by_title(mixins: Iterable[Mixin]) -> tuple[Mixin, ...]:
    return tuple(sorted(mixins, key=lambda mixin: (mixin.title, mixin.term)))


def instance_types(client: EC2Client, names: Iterable[str]) -> dict[str, dict]:
    """
    The DescribeInstanceTypes descriptions of the C{names} EC2 knows, by
    name; a name it does not know is missing from the result.  Asked with
    the C{instance-type} filter, C{TYPES_PER_CALL} names at a time, not with
    C{InstanceTypes}: one unknown name, or more than 100, would fail the
    whole call.
    """
    names = tuple(names)
    found = {}
    paginator = client.get_paginator("describe_instance_types")
    for start in range(0, len(names), TYPES_PER_CALL):
        chunk = list(names[start:start + TYPES_PER_CALL])
        for page in paginator.paginate(Filters=[{"Name": "instance-type", "Values": chunk}]):
            for info in page["InstanceTypes"]:
                found[info["InstanceType"]] = info
    return found


def architecture(info: dict) -> str | None:
    """
    The architecture of an instance type's description: x86_64 (or i386)
    when it supports it, else the first it names.
    """
    supported = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    for preferred in ("x86_64", "i386"):
        if preferred in supported:
            return preferred
    return supported[0] if supported else None


def _unknown(aws: AwsConfig, images: ImagesConfig, keys: TemplateKeys, templates: Templates,
             listed: set[str]) -> tuple[Dropped, ...]:
    """
    The configured values missing from C{templates}, named by C{keys};
    C{listed}: the AMIs of the image list that DescribeImages returned.
    """
    types = {instance_type_of(mixin) for mixin in templates.resource_tpls}
    images_offered = ({mixin.term for mixin in templates.os_tpls + templates.distributed}
                      | {saved.mixin.term for saved in templates.saved})
    unseen = ("not among the available images EC2 shows the account under "
              f"{keys.images_policy} {str(images.policy)!r}")
    dropped = [Dropped(keys.instance_types, name,
                       "EC2 does not know that instance type in the region; not offered")
               for name in aws.instance_types if name not in types]
    if aws.default_instance_type not in types:
        dropped.append(Dropped(keys.default_instance_type, aws.default_instance_type,
                               "not offered; a compute create naming no resource_tpl, cores "
                               "or memory is refused with 400"))
    if images.policy.uses_list:
        dropped += [Dropped(keys.images_list, ami, f"{unseen}; not offered")
                    for ami in images.list if ami not in listed]
    if images.default and images.default not in images_offered:
        dropped.append(Dropped(keys.images_default, images.default,
                               f"{unseen}; a compute create naming no os_tpl is refused with 400"))
    if aws.availability_zone and aws.availability_zone not in templates.zones:
        dropped.append(Dropped("[aws] availability_zone", aws.availability_zone,
                               "EC2 shows no available zone of that name; computes go where "
                               "EC2 places them, volumes to the first zone"))
    return tuple(dropped)


def _image_fields(image: dict, *names: str) -> dict:
    """The fields C{names} of an image description (what the templates use of it)."""
    return {name: image[name] for name in names if name in image}


@translated
def read_answers(client: EC2Client, aws: AwsConfig, images: ImagesConfig) -> dict:
    """
    What EC2 says of the account's templates (blocking; six calls), as plain
    JSON-able data, the parts of its answers L{templates_from} uses: what
    one process reads and every process of the host can build its
    templates from (L{occid.ec2.sharedcatalog}).
    """
    return {
        "images": [_image_fields(image, "ImageId", "Name")
                   for image in offered_images(client, images)],
        "imported": [_image_fields(image, "ImageId", "Tags")
                     for image in imported_images(client)],
        "types": instance_types(client, aws.instance_types),
        "zones": sorted(
            zone["ZoneName"]
            for zone in client.describe_availability_zones(
                Filters=[{"Name": "state", "Values": ["available"]}]
            )["AvailabilityZones"]
        ),
        "saved": [_image_fields(image, "ImageId", "Name", "Tags")
                  for image in saved_images(client)],
    }


def _distributed(imported: list[dict], public_host: str, region: str) -> tuple[Mixin, ...]:
    """The os_tpl mixins of the imported images still offered."""
    return _by_title(distributed_mixin(image["ImageId"], tag_dict(image), public_host, region)
                     for image in imported)


def templates_from(answers: dict, aws: AwsConfig, images: ImagesConfig, public_host: str,
                   keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = "") -> Templates:
    """
    The account's templates from EC2's L{read_answers}; C{keys} name where
    C{aws} and C{images} were set, for L{Dropped}.  With a C{region} (a
    gateway of several), images and zones name it.
    """
    found = answers["images"]
    os_tpls = _by_title(
        os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"], public_host, region)
        for image in found
    )
    distributed = _distributed(answers["imported"], public_host, region)
    infos = answers["types"]
    resource_tpls = [
        resource_tpl_mixin(
            name,
            infos[name]["VCpuInfo"]["DefaultVCpus"],
            infos[name]["MemoryInfo"]["SizeInMiB"] / 1024,
            architecture(infos[name]),
        )
        for name in aws.instance_types
        if name in infos
    ]
    in_region = region_mixin(region, public_host) if region else None
    zones = answers["zones"]
    templates = Templates(
        os_tpls=os_tpls,
        resource_tpls=tuple(resource_tpls),
        zone_tpls=tuple(availability_zone_mixin(zone, public_host, in_region) for zone in zones),
        zones=tuple(zones),
        saved=tuple(saved for saved in (saved_image(image, public_host, region)
                                        for image in answers["saved"])
                    if saved.mixin not in os_tpls),
        distributed=distributed,
        hibernating_types=frozenset(
            name for name, info in infos.items() if info.get("HibernationSupported")),
        hibernation_offered=aws.hibernation != Hibernation.NEVER,
    )
    listed = {image["ImageId"] for image in found} | {mixin.term for mixin in distributed}
    return replace(templates, dropped=_unknown(aws, images, keys, templates, listed))


def load_templates(client: EC2Client, aws: AwsConfig, images: ImagesConfig, public_host: str,
                   keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = "") -> Templates:
    """Read the account's templates from EC2 (blocking; six calls): L{templates_from}."""
    return templates_from(read_answers(client, aws, images), aws, images, public_host,
                          keys, region)


class AccountCatalog:
    """
    The latest templates and catalog of one account, and the principals'
    catalogs built from them.  L{refresh}, L{add_saved} and L{remove_saved}
    run in a pool thread; readers in the reactor thread see either the old
    or the new state, never a mix.
    """

    def __init__(self, account: str, client: EC2Client, aws: AwsConfig, images: ImagesConfig,
                 public_host: str, config_path: str = DEFAULT_PATH,
                 keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = ""):
        self.account = account
        #: The region named by the images and zones, in a gateway of several
        #: regions; C{""} in a gateway of one.
        self.region = region
        #: The configuration file, named by the warnings about L{Dropped} values.
        self.config_path = config_path
        #: Where the account's templates are set, named by the same warnings.
        self.keys = keys
        self.public_host = public_host
        self._client = client
        self._aws = aws
        self._images = images
        self._state: tuple[Templates, Catalog, dict] | None = None
        self._loaded_at: float | None = None
        self._answers: dict | None = None
        self._lock = threading.Lock()

    @property
    def default_image(self) -> str:
        """C{[images] default}: the AMI of a create naming no os_tpl, or C{""}."""
        return self._images.default

    @property
    def default_zone(self) -> str | None:
        """
        C{[aws] availability_zone} when EC2 offers it, else C{None}.
        @raise ServiceUnavailable: no templates loaded yet.
        """
        zone = self._aws.availability_zone
        return zone if zone in self.templates.zones else None

    @property
    def loaded(self) -> bool:
        """Whether the templates have been read at least once."""
        return self._state is not None

    def age(self) -> float:
        """Seconds since the templates were last read in full; NaN before the first load."""
        loaded_at = self._loaded_at
        return math.nan if loaded_at is None else time.monotonic() - loaded_at

    @property
    def answers(self) -> dict | None:
        """EC2's answers the templates were built from (L{read_answers}); C{None} before."""
        return self._answers

    def refresh(self) -> Catalog:
        """Read the templates again (blocking) and publish them."""
        with self._lock:
            answers = read_answers(self._client, self._aws, self._images)
            return self._publish(answers, time.monotonic())

    def adopt(self, answers: dict, age: float) -> Catalog:
        """
        Publish the templates of C{answers} another process read from EC2
        C{age} seconds ago (L{occid.ec2.sharedcatalog}), without calling EC2.
        """
        with self._lock:
            return self._publish(answers, time.monotonic() - max(0.0, age))

    def _publish(self, answers: dict, loaded_at: float) -> Catalog:
        templates = templates_from(answers, self._aws, self._images, self.public_host,
                                   self.keys, self.region)
        self._state = (templates, templates.catalog(), {})
        self._answers = answers
        self._loaded_at = loaded_at
        return self._state[1]

    def refresh_distributed(self) -> bool:
        """
        Read the imported images again (blocking; one call) and publish
        them if they changed; whether they did.  Nothing before a first load.
        """
        with self._lock:
            if self._state is None or self._answers is None:
                return False
            imported = [_image_fields(image, "ImageId", "Tags")
                        for image in imported_images(self._client)]
            distributed = _distributed(imported, self.public_host, self.region)
            templates = self._state[0]
            if _keys(distributed) == _keys(templates.distributed):
                return False
            templates = replace(templates, distributed=distributed)
            self._state = (templates, templates.catalog(), {})
            self._answers = {**self._answers, "imported": imported}
            return True

    def image_mixin(self, image_id: str, title: str) -> Mixin:
        """The os_tpl mixin of one of this account's images (L{os_tpl_mixin})."""
        return os_tpl_mixin(image_id, title, self.public_host, self.region)

    def add_saved(self, image: SavedImage) -> None:
        """
        Offer C{image}, just saved by this process, without waiting for the
        next refresh.
        """
        with self._lock:
            templates, catalog, _ = self._current()
            if any(saved.mixin == image.mixin for saved in templates.saved):
                return
            templates = replace(templates, saved=templates.saved + (image,))
            self._state = (templates, catalog, {})

    def remove_saved(self, image_id: str) -> None:
        """
        Stop offering saved image C{image_id}, just deregistered by this
        process, without waiting for the next refresh.
        """
        with self._lock:
            templates, catalog, _ = self._current()
            kept = tuple(saved for saved in templates.saved if saved.mixin.term != image_id)
            self._state = (replace(templates, saved=kept), catalog, {})

    def catalog_for(self, scope: Scope) -> Catalog:
        """
        The catalog of C{scope}'s principal: the account's, plus the saved
        images it sees.  Built once per distinct set of those images.

        @raise ServiceUnavailable: none loaded yet.
        """
        templates, catalog, views = self._current()
        private = _by_title(saved.mixin for saved in templates.saved
                            if scope.sees({OWNER_TAG: saved.owner, VO_TAG: saved.vo}))
        if not private:
            return catalog
        key = tuple(mixin.term for mixin in private)
        view = views.get(key)
        if view is None:
            view = views.setdefault(key, templates.catalog(private))
        return view

    def _current(self) -> tuple[Templates, Catalog, dict]:
        state = self._state
        if state is None:
            where = f"region {self.region} is unavailable: " if self.region else ""
            raise ServiceUnavailable(
                f"{where}the templates of account {self.account} are not loaded yet; "
                "try again shortly", retry_after=5)
        return state

    @property
    def templates(self) -> Templates:
        """The latest templates. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[0]

    @property
    def catalog(self) -> Catalog:
        """The latest catalog. @raise ServiceUnavailable: none loaded yet."""
        return self._current()[1]
