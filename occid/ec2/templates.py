# -*- test-case-name: tests.test_ec2_catalog -*-
"""
An account's templates built from EC2's answers (L{occid.ec2.answers}), as
plain data, without calling EC2: os_tpl mixins from the images the site's
C{[images]} policy offers, resource_tpl mixins for C{[aws] instance_types}
(with the types that can hibernate), availability_zone mixins, the images
users saved through occid (L{SavedImage}) and those C{occid-images}
imported (L{occid.ec2.distributed}).

A configured value EC2 does not know (an instance type, a listed or default
AMI, the default zone) is left out of that account's templates and noted as
L{Dropped}, which the backend logs at each load: one bad value never makes
the whole account unusable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from occid.accountconfig import GLOBAL_TEMPLATE_KEYS, TemplateKeys
from occid.config import AwsConfig, ImagesConfig
from occid.ec2.distributed import distributed_mixin
from occid.ec2.tags import OWNER_TAG, VO_TAG, tag_dict
from occid.ec2.vocabulary import EC2_KINDS, HIBERNATION, MARKERS, instance_type_of, resource_tpl_mixin
from occid.modes import Hibernation
from occid.occi.catalog import Catalog
from occid.occi.infrastructure import (
    COMPUTE_SUSPEND,
    availability_zone_mixin,
    os_tpl_mixin,
    region_mixin,
)
from occid.occi.model import Mixin


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



def saved_image(image: dict, public_host: str, region: str) -> SavedImage:
    """The L{SavedImage} of an image description carrying occid's tags."""
    tags = tag_dict(image)
    return SavedImage(os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"],
                                   public_host, region),
                      tags.get(OWNER_TAG, ""), tags.get(VO_TAG, ""))


def mixin_keys(mixins: tuple[Mixin, ...]) -> tuple[tuple, ...]:
    """What tells two lists of os_tpl mixins apart (mixins compare by identity)."""
    return tuple((mixin.term, mixin.title,
                  tuple((attribute.name, attribute.default) for attribute in mixin.attributes))
                 for mixin in mixins)


def by_title(mixins: Iterable[Mixin]) -> tuple[Mixin, ...]:
    """C{mixins} in title order (then term): how the catalog lists os_tpl mixins."""
    return tuple(sorted(mixins, key=lambda mixin: (mixin.title, mixin.term)))


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


def distributed_templates(imported: list[dict], public_host: str, region: str) -> tuple[Mixin, ...]:
    """The os_tpl mixins of the imported images still offered."""
    return by_title(distributed_mixin(image["ImageId"], tag_dict(image), public_host, region)
                    for image in imported)


def templates_from(answers: dict, aws: AwsConfig, images: ImagesConfig, public_host: str,
                   keys: TemplateKeys = GLOBAL_TEMPLATE_KEYS, region: str = "") -> Templates:
    """
    The account's templates from EC2's L{occid.ec2.answers.read_answers}; C{keys} name where
    C{aws} and C{images} were set, for L{Dropped}.  With a C{region} (a
    gateway of several), images and zones name it.
    """
    found = answers["images"]
    os_tpls = by_title(
        os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"], public_host, region)
        for image in found
    )
    distributed = distributed_templates(answers["imported"], public_host, region)
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
