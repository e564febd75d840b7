# -*- test-case-name: tests.test_ec2_backend -*-
"""
The accounts a configuration serves, built from it: in each region, every
account's client behind a breaker, its catalogue (nothing loaded yet) and
its security groups (L{make_accounts}); an account served in several
regions gets its L{Served} regions (L{serve}).
"""

from __future__ import annotations

from typing import Any

from occid.config import Config
from occid.ec2.account import Account, SecurityGroups
from occid.ec2.breaker import Breaker
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import EC2Client, build_clients, guard
from occid.ec2.regional import Served
from occid.ec2.regions import RegionMap


def region_label(config: Config, region: str) -> str:
    """
    The region the templates of C{region} name (L{AccountCatalog.region}):
    itself in a gateway of several regions, C{""} in a gateway of one.
    """
    return region if len(config.aws.regions) > 1 else ""


def make_accounts(config: Config, clients: dict[str, EC2Client],
                  ssm: dict[str, Any] | None = None,
                  region: str | None = None) -> dict[str, Account]:
    """
    The in-memory state of every account served in C{region} (default: the
    home region; nothing loaded yet); C{ssm}: their SSM clients, for user
    mixins.  In a gateway of several regions, images and zones name theirs.
    Each account gets a breaker in front of its EC2 client (and of its SSM
    client in the home region, where that client calls).
    """
    host = config.server.public_host
    region = region or config.aws.region
    label = region_label(config, region)
    accounts = {}
    for name, client in clients.items():
        breaker = Breaker()
        guard(client, breaker)
        home_ssm = (ssm or {}).get(name)
        if home_ssm is not None and region == config.aws.region:
            guard(home_ssm, breaker)
        accounts[name] = Account(
            name=name, client=client, aws=config.aws_for(name, region),
            catalog=AccountCatalog(name, client, config.aws_for(name, region),
                                   config.images_for(name, region), host, config.path,
                                   config.template_keys(name, region), label),
            groups=SecurityGroups(client, config.aws.ssh_cidr),
            ssm=home_ssm, limits=config.account(name).limits, breaker=breaker)
    return accounts


def serve(config: Config, ssm: dict[str, Any] | None = None) -> dict[str, Account | Served]:
    """
    Every account as the backend serves it, with clients built here (from
    the main thread): in a gateway of one region its L{Account}, in one of
    several its L{Served} regions, its default first.
    """
    if len(config.aws.regions) == 1:
        return dict(make_accounts(config, build_clients(config), ssm))
    by_region = {region: make_accounts(config, build_clients(config, region), ssm, region)
                 for region in config.aws.regions}
    served: dict[str, Account | Served] = {}
    for account in config.accounts:
        regions = [by_region[region][account.name] for region in config.regions_for(account.name)]
        for one in regions:
            one.regions = regions
        served[account.name] = Served(tuple(regions),
                                      RegionMap(config.aws.region, config.regions_for(account.name)))
    return served
