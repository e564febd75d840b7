# -*- test-case-name: tests.test_discovery -*-
"""
What occid publishes for service discovery, gathered without the tool that
formats it: the endpoint, from C{occid.toml} and the host certificate, and
one share per VO of C{[[accounts]]}, with the images and instance types its
accounts offer in each region they are served in.

The offer is read the way the daemon reads its catalogue: the same clients
(L{occid.ec2.clients.build_clients}: each account through its profile and
role, in each region), the same image policy (L{offered_images}, and the
imported images, L{imported_images}) and the
same instance type lookup (L{instance_types}), so an image or type is
published exactly when the daemon offers it.  L{gather} is blocking: it
runs in a command, not in the daemon.

A VO whose FQAN patterns several accounts share gets one share holding what
each of them offers (the policy binds its members to one or the other by
group).  Robots served by C{dns} belong to no VO and have no share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from cryptography import x509

from occid import __version__
from occid.accountconfig import Limits
from occid.config import Config
from occid.ec2.accounts import region_label
from occid.ec2.answers import imported_images, instance_types, offered_images
from occid.ec2.clients import EC2Client, build_clients
from occid.ec2.errors import translated
from occid.ec2.tags import tag_dict
from occid.ec2.templates import architecture
from occid.ec2.vocabulary import RESOURCE_TPL_SCHEME, resource_tpl_term
from occid.gsi.names import slash_dn
from occid.occi.infrastructure import os_tpl_mixin
from occid.occi.negotiation import OCCIVersion
from occid.policy import vo_of

__all__ = ["APPLIANCE_TAGS", "QUOTA_NAMES", "Authentication", "EndpointFacts", "ImageFacts",
           "InstanceTypeFacts", "ShareFacts", "SiteFacts", "authentications", "endpoint_facts",
           "gather", "vo_accounts"]

#: The tags image distribution puts on an AMI made from an appliance
#: (egi.md §5.2, §5.3), published with the image when present.
APPLIANCE_TAGS = ("eu.egi.cloud.image_ref", "eu.egi.cloud.tag", "vmcatcher_event_ad_mpuri",
                  "appdb_id")

#: The tag holding an appliance's marketplace URL.
MARKETPLACE_TAG = "vmcatcher_event_ad_mpuri"

#: The tags giving an image's OS, as image importers set them (atrope, Glance).
OS_DISTRO_TAG, OS_VERSION_TAG = "os_distro", "os_version"

#: The name each account limit is published under in a share's quotas.
QUOTA_NAMES = MappingProxyType({
    "max_instances": "instances",
    "max_vcpus": "cores",
    "max_volume_gib": "volume_gib",
    "user_max_instances": "user_instances",
    "user_max_vcpus": "user_cores",
    "user_max_volume_gib": "user_volume_gib",
})


@dataclass(frozen=True)
class Authentication:
    """
    One way users authenticate to the endpoint.

    @ivar method: its GLUE name, such as C{X509-VOMS}.
    @ivar issuers: the token issuers it accepts, for token methods.
    """

    method: str
    issuers: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointFacts:
    """
    The OCCI endpoint.

    @ivar url: C{[server] public_url}, without a trailing slash.
    @ivar issuer: the host certificate's issuer, in OpenSSL's slash form.
    @ivar subject: the host certificate's subject, likewise.
    """

    url: str
    versions: tuple[str, ...]
    authentications: tuple[Authentication, ...]
    issuer: str
    subject: str
    implementation_version: str = __version__


@dataclass(frozen=True)
class ImageFacts:
    """
    One os_tpl of a share.

    @ivar id: the full os_tpl mixin id (scheme and term, the AMI id).
    @ivar title: the mixin's title (the image name; in a gateway of several
        regions, with the region).
    @ivar os_version: from the image's C{os_version} tag, if any.
    @ivar appliance: the L{APPLIANCE_TAGS} the image carries.
    """

    id: str
    ami: str
    title: str
    region: str
    os_name: str
    os_version: str | None
    architecture: str
    description: str | None = None
    appliance: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def marketplace_url(self) -> str | None:
        """The appliance's marketplace URL, if the image came from one."""
        return self.appliance.get(MARKETPLACE_TAG)


@dataclass(frozen=True)
class InstanceTypeFacts:
    """
    One resource_tpl of a share, offered in C{regions}.

    @ivar id: the full resource_tpl mixin id.
    @ivar ram: MiB.
    @ivar disk: GB of instance storage; 0 for a type with EBS only.
    @ivar network: EC2's network performance, such as C{Up to 5 Gigabit}.
    """

    id: str
    name: str
    cpu: int
    ram: int
    disk: int
    network: str | None
    architecture: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class ShareFacts:
    """
    What one VO is offered, by every account serving one of its FQAN
    patterns.

    @ivar quotas: the limits every one of those accounts sets, summed,
        under the names of L{QUOTA_NAMES}.
    """

    vo: str
    accounts: tuple[str, ...]
    images: tuple[ImageFacts, ...]
    instance_types: tuple[InstanceTypeFacts, ...]
    quotas: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SiteFacts:
    """The endpoint and its shares, in the VOs' order in the configuration."""

    endpoint: EndpointFacts
    shares: tuple[ShareFacts, ...]


def authentications(config: Config) -> tuple[Authentication, ...]:
    """
    The ways users of C{config}'s gateway authenticate, each published with
    the endpoint: proxies always, Check-in tokens when C{[oidc]} names issuers.
    """
    tokens = (Authentication("OIDC", tuple(issuer.url for issuer in config.oidc.issuers)),)
    return (Authentication("X509-VOMS"),) + (tokens if config.oidc.enabled else ())


def endpoint_facts(config: Config, host_certificate: x509.Certificate) -> EndpointFacts:
    """The endpoint of C{config}, served with C{host_certificate}."""
    return EndpointFacts(
        url=config.server.public_url.rstrip("/"),
        versions=tuple(str(version) for version in OCCIVersion),
        authentications=authentications(config),
        issuer=slash_dn(host_certificate.issuer),
        subject=slash_dn(host_certificate.subject),
    )


def vo_accounts(config: Config) -> dict[str, tuple[str, ...]]:
    """Each VO of C{[[accounts]]} (first seen first) and the accounts serving it, in file order."""
    served: dict[str, list[str]] = {}
    for account in config.accounts:
        for pattern in account.fqans:
            names = served.setdefault(vo_of(pattern), [])
            if account.name not in names:
                names.append(account.name)
    return {vo: tuple(names) for vo, names in served.items()}


def image_facts(image: dict, public_host: str, region: str, label: str) -> ImageFacts:
    """
    The L{ImageFacts} of a DescribeImages description in C{region}, whose
    os_tpl names C{label} (L{region_label}).
    """
    tags = tag_dict(image)
    mixin = os_tpl_mixin(image["ImageId"], image.get("Name") or image["ImageId"], public_host,
                         label)
    platform = "windows" if image.get("Platform") == "windows" else "linux"
    return ImageFacts(
        id=mixin.identifier, ami=image["ImageId"], title=mixin.title, region=region,
        os_name=tags.get(OS_DISTRO_TAG) or image.get("PlatformDetails") or platform,
        os_version=tags.get(OS_VERSION_TAG),
        architecture=image.get("Architecture", "UNKNOWN"),
        description=image.get("Description") or None,
        appliance=MappingProxyType({key: tags[key] for key in APPLIANCE_TAGS if key in tags}),
    )


def type_facts(info: dict, regions: tuple[str, ...]) -> InstanceTypeFacts:
    """The L{InstanceTypeFacts} of a DescribeInstanceTypes description, offered in C{regions}."""
    name = info["InstanceType"]
    return InstanceTypeFacts(
        id=RESOURCE_TPL_SCHEME + resource_tpl_term(name), name=name,
        cpu=info["VCpuInfo"]["DefaultVCpus"], ram=info["MemoryInfo"]["SizeInMiB"],
        disk=info.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0),
        network=info.get("NetworkInfo", {}).get("NetworkPerformance"),
        architecture=architecture(info) or "UNKNOWN", regions=regions,
    )


@translated
def _offer(client: EC2Client, config: Config, name: str,
           region: str) -> tuple[list[ImageFacts], dict[str, dict]]:
    """
    What account C{name} offers in C{region} (blocking): its images, and the
    descriptions of its instance types EC2 knows there, by name.
    """
    host, label = config.server.public_host, region_label(config, region)
    found = offered_images(client, config.images_for(name, region)) + imported_images(client)
    images = [image_facts(image, host, region, label) for image in found]
    return images, instance_types(client, config.aws_for(name, region).instance_types)


def quotas(limits: Collection[Limits]) -> dict[str, int]:
    """The limits set in every one of C{limits}, summed, by their L{QUOTA_NAMES}."""
    summed = {}
    for limit in fields(Limits):
        values = [getattr(one, limit.name) for one in limits]
        if values and None not in values:
            summed[QUOTA_NAMES[limit.name]] = sum(values)
    return summed


def gather(config: Config, host_certificate: x509.Certificate,
           vos: Collection[str] = ()) -> SiteFacts:
    """
    Everything published about C{config}'s gateway (blocking: EC2 calls for
    each account in each region it is served in).

    @param vos: publish only these VOs; every VO when empty.
    @raise OCCIError: EC2 refused or failed a call (L{occid.ec2.errors}).
    """
    wanted = {vo: names for vo, names in vo_accounts(config).items() if not vos or vo in vos}
    needed = {name for names in wanted.values() for name in names}
    offers = {}
    for region in config.aws.regions:
        for name, client in build_clients(config, region).items():
            if name in needed:
                offers[name, region] = _offer(client, config, name, region)
    shares = []
    for vo, names in wanted.items():
        images: dict[str, ImageFacts] = {}
        infos: dict[str, dict] = {}
        regions: dict[str, list[str]] = {}
        for (name, region), (found, types) in offers.items():
            if name not in names:
                continue
            images.update((image.id, image) for image in found)
            infos.update(types)
            for type_name in types:
                if region not in regions.setdefault(type_name, []):
                    regions[type_name].append(region)
        shares.append(ShareFacts(
            vo=vo, accounts=names,
            images=tuple(sorted(images.values(), key=lambda image: (image.title, image.id))),
            instance_types=tuple(type_facts(infos[type_name], tuple(regions[type_name]))
                                 for type_name in sorted(infos)),
            quotas=MappingProxyType(quotas([config.account(name).limits for name in names])),
        ))
    return SiteFacts(endpoint_facts(config, host_certificate), tuple(shares))
