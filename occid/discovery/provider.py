# -*- test-case-name: tests.test_discovery_cip -*-
"""
occid as a provider of C{cloud-info-provider}: the tool loads L{OccidProvider}
through its C{cip.providers} entry point, C{occid}, and a site runs
C{cloud-info-provider-service --middleware occid --occid-config
/etc/occid/occid.toml site.yaml}.  This is the only module of occid that
imports the tool.

The tool calls every installed provider's C{populate_parser} on one parser,
and its OpenStack provider is always installed: that one adds the site YAML
positional and the OpenStack options, so this one adds only options of its
own, prefixed C{--occid-}.  The site YAML gives C{gocdb} (the site name),
C{endpoint} (which must be C{[server] public_url}: the tool finds the
service in GOCDB by it) and C{vos} (when it names some, only those VOs are
published; an empty list publishes every VO of C{[[accounts]]}).

What is published (L{occid.discovery.facts}): one endpoint per OCCI version
and authentication method, with the ids C{<url>_OCCI_<version>_<method>} of
EGI's OCCI endpoints; the host certificate's issuer as the endpoint's
issuer CA, read from C{[server] host_cert} rather than from a TLS handshake
with the running daemon; its health from the daemon's C{/readyz} when
C{[metrics]} is configured (L{occid.discovery.health}), else C{unknown};
one share per VO, its images and instance types associated with every
endpoint.
"""

from __future__ import annotations

import logging
from typing import Any

from cloud_info_provider import glue
from cloud_info_provider.exceptions import CloudInfoException
from cloud_info_provider.providers.base import BaseProvider

from occid.config import DEFAULT_PATH, ConfigError
from occid.discovery.facts import EndpointFacts, ImageFacts, InstanceTypeFacts, ShareFacts, gather
from occid.discovery.health import endpoint_health
from occid.ec2.profiles import check_profiles
from occid.occi.errors import OCCIError
from occid.server.preflight import read, read_certificate

__all__ = ["OccidProvider"]

#: The GOCDB service type, and GLUE interface name, of OCCI endpoints.
OCCI_SERVICE_TYPE = "eu.egi.cloud.vm-management.occi"

log = logging.getLogger(__name__)


class OccidProvider(BaseProvider):
    """The GLUE 2.1 objects of one occid gateway, for the tool's formatters."""

    goc_service_type = OCCI_SERVICE_TYPE
    interface_name = OCCI_SERVICE_TYPE

    def __init__(self, opts: Any, **kwargs: Any) -> None:
        """
        Read the site YAML (the tool's base class does), C{occid.toml} and
        the host certificate, then what EC2 offers each VO (blocking).

        @raise CloudInfoException: a file cannot be used, the site YAML's
            endpoint is not occid's, or EC2 failed.
        """
        super().__init__(opts, **kwargs)
        try:
            config = read(opts.occid_config)
            check_profiles(config)
            certificate = read_certificate(config.path, "[server] host_cert",
                                           config.server.host_cert)
        except ConfigError as e:
            raise CloudInfoException(str(e)) from None
        url = config.server.public_url.rstrip("/")
        if str(self.site_config["endpoint"]).rstrip("/") != url:
            raise CloudInfoException(
                f"the site configuration's endpoint {self.site_config['endpoint']} is not "
                f"{config.path}'s [server] public_url {config.server.public_url}")
        self.health = endpoint_health(config.metrics)
        vos = [vo["name"] for vo in self.site_config["vos"] or ()]
        try:
            self.facts = gather(config, certificate, vos)
        except OCCIError as e:
            raise CloudInfoException(f"EC2: {e}") from None
        published = {share.vo for share in self.facts.shares}
        for vo in vos:
            if vo not in published:
                log.warning("VO %s of the site configuration has no account in %s", vo, config.path)

    @staticmethod
    def populate_parser(parser: Any) -> None:
        """Add occid's own options (the site YAML positional is the OpenStack provider's)."""
        parser.add_argument(
            "--occid-config", metavar="PATH", default=DEFAULT_PATH,
            help="occid's configuration file (middleware occid only)")

    @property
    def _url(self) -> str:
        """C{[server] public_url}, the prefix of every id published."""
        return self.facts.endpoint.url

    def get_service_id(self) -> str:
        """The service's id, C{<url>_cloud.compute}, as EGI's cloud services have it."""
        return f"{self._url}_cloud.compute"

    def get_manager_id(self) -> str:
        """The manager's id, C{<url>_cloud.compute_manager}."""
        return f"{self._url}_cloud.compute_manager"

    def _get_ca_info(self, url: str) -> dict[str, str]:
        """The issuer of occid's host certificate (the tool would ask the running endpoint)."""
        return {"issuer": self.facts.endpoint.issuer}

    def fetch(self) -> dict[str, list[Any]]:
        """The tool's objects by class name, the service's complexity counting every endpoint."""
        objects: dict[str, list[Any]] = super().fetch()
        endpoints = len(self.get_objs("CloudComputingEndpoint"))
        self.service.complexity = f"endpointType={endpoints},share={len(self.facts.shares)}"
        return objects

    def build_manager(self) -> Any:
        """The manager: occid and its version."""
        return super().build_manager(product_name="occid",
                                     product_version=self.facts.endpoint.implementation_version)

    def build_endpoint(self) -> list[Any]:
        """One endpoint per OCCI version and authentication method, each with its access policy."""
        facts: EndpointFacts = self.facts.endpoint
        rules = [f"VO:{share.vo}" for share in self.facts.shares]
        endpoints = []
        for version in facts.versions:
            for authentication in facts.authentications:
                id = f"{facts.url}_OCCI_{version}_{authentication.method}"
                other_info: dict[str, Any] = {"HostDN": facts.subject}
                if authentication.issuers:
                    other_info["issuers"] = list(authentication.issuers)
                endpoint = super().build_endpoint(
                    id=id, name=f"Cloud computing endpoint for {id}", url=facts.url,
                    interface_version=version, authentication=authentication.method,
                    semantics="http://occi-wg.org/about/specification",
                    implementation_name="occid",
                    implementation_version=facts.implementation_version,
                    health_state=self.health.state, health_state_info=self.health.info,
                    other_info=other_info)
                policy = glue.AccessPolicy(id=f"{id}_policy", rule=rules)
                policy.add_associated_object(endpoint)
                self.add_glue(policy)
                endpoints.append(endpoint)
        return endpoints

    def build_shares(self) -> list[Any]:
        """One share per VO, with its mapping policy, images and instance types."""
        return [self._share(share) for share in self.facts.shares]

    def _share(self, facts: ShareFacts) -> Any:
        """The share of one VO, added with its policy and offer."""
        id = f"{self.get_service_id()}_share_{facts.vo}"
        share = glue.Share(
            id=id, name=f"{facts.vo} share",
            project_id=facts.accounts[0] if len(facts.accounts) == 1 else None,
            max_vm=facts.quotas.get("instances"),
            instance_max_cpu=max((t.cpu for t in facts.instance_types), default=None),
            instance_min_cpu=min((t.cpu for t in facts.instance_types), default=None),
            instance_max_ram=max((t.ram for t in facts.instance_types), default=None),
            instance_min_ram=min((t.ram for t in facts.instance_types), default=None),
            other_info={"accounts": list(facts.accounts), "quotas": dict(facts.quotas)},
        )
        self._associate(share, self.service)
        self.add_glue(share)
        policy = glue.MappingPolicy(id=f"{id}_Policy", rule=[f"VO:{facts.vo}"])
        policy.add_associated_object(share)
        policy.add_association("PolicyUserDomain", facts.vo)
        self.add_glue(policy)
        for image in facts.images:
            self._add_offer(self._image(image), share)
        for instance_type in facts.instance_types:
            self._add_offer(self._instance_type(instance_type), share)
        return share

    def _associate(self, obj: Any, *others: Any) -> None:
        """Associate C{obj} with C{others} and every endpoint."""
        for other in (*others, *self.get_objs("CloudComputingEndpoint")):
            obj.add_associated_object(other)

    def _add_offer(self, obj: Any, share: Any) -> None:
        """Add an image or instance type of C{share}."""
        self._associate(obj, share, self.manager)
        self.add_glue(obj)

    @staticmethod
    def _image(facts: ImageFacts) -> Any:
        return glue.CloudComputingImage(
            id=facts.id, name=facts.title, osName=facts.os_name, osVersion=facts.os_version,
            osPlatform=facts.architecture, description=facts.description,
            marketplace_url=facts.marketplace_url,
            other_info={"ami": facts.ami, "region": facts.region, **facts.appliance})

    @staticmethod
    def _instance_type(facts: InstanceTypeFacts) -> Any:
        return glue.CloudComputingInstanceType(
            id=facts.id, name=facts.name, platform=facts.architecture, cpu=facts.cpu,
            ram=facts.ram, disk=facts.disk, network_info=facts.network,
            other_info={"regions": list(facts.regions)})
