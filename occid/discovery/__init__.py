"""
Service discovery, a site command on top of the EC2 edge: occid as a
provider of EGI's C{cloud-info-provider} (GLUE 2.1).

L{occid.discovery.facts} gathers what occid publishes (its endpoint from
C{occid.toml} and the host certificate, one share per VO with the images
and instance types its accounts offer, read with the daemon's own clients
and catalogue code); it does not import the tool, so it is tested and
reused without it.  L{occid.discovery.provider} is the only module that
imports C{cloud_info_provider}: the provider class the tool loads through
its C{cip.providers} entry point as C{occid}, installed with the
C{occid[discovery]} extra.  L{occid.discovery.health} reads the running
daemon's C{/readyz} for the endpoints' health.  Nothing else in occid
imports this package.
"""

__all__ = ["facts", "health", "provider"]
