# -*- test-case-name: tests.test_config -*-
"""
C{[aws]}: the regions, endpoint, defaults and limits of the EC2 backend,
and the checks of their forms (those of the regions are
L{occid.regionconfig}'s).

Pure core, below L{occid.config}: the checks report through the
C{fail(key, problem)} callable their caller gives
(L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from occid.accountconfig import Fail, check_instance_types
from occid.modes import Hibernation, coerce
from occid.regionconfig import DEFAULT_REGION

__all__ = ["AwsConfig", "check_aws", "check_deadlines"]

#: The longest wait to connect to EC2, whatever C{[aws] timeout} says.
CONNECT_TIMEOUT = 5.0

#: The most botocore waits between two attempts (its C{standard} mode's cap).
MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class AwsConfig:
    """
    C{[aws]}: the regions, endpoint, defaults and limits of the EC2 backend.
    C{regions} are those served, the home region first; C{region} is the
    home region, or the one a view of L{occid.config.Config.aws_for} is for.  Either
    fills the other when left out.
    """

    region: str = ""
    regions: tuple[str, ...] = ()
    endpoint_url: str = ""
    availability_zone: str = ""
    default_instance_type: str = "t3.micro"
    instance_types: tuple[str, ...] = ("t3.micro", "t3.small", "t3.medium", "t3.large")
    ssh_cidr: str = "0.0.0.0/0"
    network_create: bool = False
    network_delete: bool = False
    public_ip_on_launch: bool = True
    network_pool: str = "10.0.0.0/8"
    threads: int = 10
    timeout: float = 10.0
    attempts: int = 3
    hibernation: Hibernation = Hibernation.ON_REQUEST

    def __post_init__(self) -> None:
        coerce(self, "hibernation", Hibernation)
        regions = self.regions or (self.region or DEFAULT_REGION,)
        object.__setattr__(self, "regions", regions)
        object.__setattr__(self, "region", self.region or regions[0])

    @property
    def connect_timeout(self) -> float:
        """Seconds one attempt may wait to connect: C{timeout}, at most L{CONNECT_TIMEOUT}."""
        return min(self.timeout, CONNECT_TIMEOUT)

    @property
    def call_seconds(self) -> float:
        """
        The longest one EC2 call can take: C{attempts} attempts, each
        connecting and then waiting C{timeout} for the answer, and
        botocore's longest backoff before each retry (2, 4, 8… seconds,
        at most L{MAX_BACKOFF}).
        """
        backoff = sum(min(2.0 ** retry, MAX_BACKOFF) for retry in range(1, self.attempts))
        return self.attempts * (self.connect_timeout + self.timeout) + backoff


def check_aws(aws: AwsConfig, fail: Fail) -> None:
    """The forms of the keys of C{[aws]} but its regions, and the combinations that cannot work."""
    if aws.endpoint_url and urlsplit(aws.endpoint_url).scheme not in ("http", "https"):
        fail("[aws] endpoint_url", "must be empty or an http(s) URL")
    check_instance_types(aws.instance_types, aws.default_instance_type, "[aws] ", fail)
    if aws.ssh_cidr:
        try:
            ipaddress.ip_network(aws.ssh_cidr)
        except ValueError:
            fail("[aws] ssh_cidr", f"{aws.ssh_cidr!r} is not a CIDR block")
    if not 1 <= aws.threads <= 200:
        fail("[aws] threads", "must be between 1 and 200")
    if not 0 < aws.timeout <= 300:
        fail("[aws] timeout", "must be between 0 and 300 seconds")
    if not 1 <= aws.attempts <= 10:
        fail("[aws] attempts", "must be between 1 and 10")
    if aws.network_delete and not aws.network_create:
        fail("[aws] network_delete", "needs network_create = true")
    _check_pool(aws.network_pool, fail)


def check_deadlines(aws: AwsConfig, request_timeout: float, fail: Fail) -> None:
    """
    One EC2 call, retries included, must end before the request it serves
    is answered 504, so that a write answered 504 is one whose calls have
    all ended (L{AwsConfig.call_seconds} < C{[server] request_timeout}).
    """
    if aws.call_seconds >= request_timeout:
        fail("[aws] timeout", f"[aws] attempts ({aws.attempts}) times ([aws] timeout "
             f"{aws.timeout:g} s + connect {aws.connect_timeout:g} s) + backoff = "
             f"{aws.call_seconds:g} s must be less than [server] request_timeout "
             f"({request_timeout:g} s); lower [aws] timeout or attempts, or raise "
             "[server] request_timeout")


def _check_pool(pool: str, fail: Fail) -> None:
    """C{[aws] network_pool}: an IPv4 block holding at least one /16."""
    try:
        network = ipaddress.ip_network(pool)
    except ValueError:
        fail("[aws] network_pool", f"{pool!r} is not a CIDR block such as 10.0.0.0/8")
        return
    if network.version != 4 or network.prefixlen > 16:
        fail("[aws] network_pool", f"{pool!r} must be an IPv4 block of /16 or larger "
             "(prefix 16 or less): new networks take a /16 of it")
