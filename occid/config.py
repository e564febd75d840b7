# -*- test-case-name: tests.test_config -*-
"""
Parse and validate the text of C{occid.toml} into frozen dataclasses.

Pure core: this module reads no file and imports neither Twisted nor
botocore.  L{parse} refuses unknown sections or keys, wrong types, unknown
modes and combinations that cannot work, with one message naming the file,
the key and the problem.  Whether the files it names exist and the AWS
profiles are known is checked once at start by L{occid.server.preflight},
which reads the file and calls L{parse}.  No AWS secret is ever read from
here: credentials come from the standard AWS chain, optionally followed by
an account's C{role_arn}.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from occid.accountconfig import (
    GLOBAL_TEMPLATE_KEYS,
    Fail,
    Limits,
    TemplateKeys,
    check_instance_types,
    key_name,
    take_limits,
)
from occid.accountingconfig import AccountingConfig, build_accounting, check_accounting
from occid.awsconfig import AwsConfig, check_aws, check_deadlines
from occid.gridconfig import GridConfig, check_grid
from occid.imagesconfig import ImagesConfig, build_images, check_images, check_sources, region_table
from occid.metricsconfig import MetricsConfig, check_metrics
from occid.modes import CrlMode, Hibernation, ImagePolicy, LimitedProxies, Visibility, coerce
from occid.oidcconfig import IssuerConfig, OidcConfig, build_oidc, check_oidc, subject_issuer
from occid.regionconfig import check_account_regions, check_regions
from occid.serverconfig import ServerConfig, check_server
from occid.tableconfig import build_table

__all__ = ["DEFAULT_PATH", "AccountConfig", "AccountingConfig", "AwsConfig", "Config", "ConfigError",
           "CrlMode", "Hibernation", "ImagePolicy", "ImagesConfig", "IssuerConfig",
           "LimitedProxies", "MetricsConfig", "OidcConfig", "Visibility", "parse"]

DEFAULT_PATH = "/etc/occid/occid.toml"


class ConfigError(Exception):
    """The configuration cannot be used; C{str()} is the one-line message."""

    def __init__(self, path: str, key: str, problem: str):
        super().__init__(f"{path}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class AccountConfig:
    """One C{[[accounts]]} entry: an AWS account and who it serves."""

    name: str = ""
    fqans: tuple[str, ...] = ()
    profile: str = ""
    role_arn: str = ""
    visibility: Visibility = Visibility.OWNER
    manager_fqans: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    #: Token users served without entitlements, C{"<issuer> <sub>"} (robots, like C{dns}).
    subs: tuple[str, ...] = ()
    #: The regions it serves, its default one first; unset: C{[aws] regions}.
    regions: tuple[str, ...] = ()
    #: The account's own templates (L{occid.accountconfig}); unset: the global ones.
    images: ImagesConfig | None = None
    instance_types: tuple[str, ...] = ()
    default_instance_type: str = ""
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        coerce(self, "visibility", Visibility)


@dataclass(frozen=True)
class Config:
    """
    The whole configuration; C{path} is the file it came from.  Its views of
    an account in a region take any region of C{[aws] regions}, served by
    the account or not (its own mixins stay in the home region).
    """

    path: str
    server: ServerConfig
    grid: GridConfig
    aws: AwsConfig
    images: ImagesConfig
    accounts: tuple[AccountConfig, ...] = field(default=())
    oidc: OidcConfig = field(default_factory=OidcConfig)
    #: C{[accounting]}, read by C{occid-accounting} only; C{None}: no such section.
    accounting: AccountingConfig | None = None
    #: C{[metrics]}, the metrics and health listener; C{None}: no such section (off).
    metrics: MetricsConfig | None = None

    def account(self, name: str) -> AccountConfig:
        """The account entry called C{name}."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    def regions_for(self, name: str) -> tuple[str, ...]:
        """The regions account C{name} serves, its default one first."""
        return self.account(name).regions or self.aws.regions

    def aws_for(self, name: str, region: str | None = None) -> AwsConfig:
        """
        C{[aws]} for account C{name} in C{region} (unset: the home region),
        with the account's instance types where it sets its own, and no
        C{availability_zone} outside the home region.

        @raise KeyError: C{region} is not one of C{[aws] regions}.
        """
        account, region = self.account(name), self._served(region)
        return replace(
            self.aws, region=region,
            availability_zone=self.aws.availability_zone if region == self.aws.region else "",
            instance_types=account.instance_types or self.aws.instance_types,
            default_instance_type=account.default_instance_type or self.aws.default_instance_type)

    def images_for(self, name: str, region: str | None = None) -> ImagesConfig:
        """
        The images account C{name} is offered in C{region} (unset: the home
        region), from its own C{images} table, else C{[images]}.

        @raise KeyError: C{region} is not one of C{[aws] regions}.
        """
        images = self.account(name).images or self.images
        return images.in_region(self._served(region), self.aws.region)

    def template_keys(self, name: str, region: str | None = None) -> TemplateKeys:
        """
        Which keys set the templates of account C{name} in C{region} (see
        L{aws_for}, L{images_for}).
        """
        index = [account.name for account in self.accounts].index(name)
        account, where = self.accounts[index], f"accounts[{index}]"
        images = f"{where}.images" if account.images else "images"
        own = region_table(images, self._served(region), self.aws.region)
        default = GLOBAL_TEMPLATE_KEYS
        return TemplateKeys(
            instance_types=(f"{where}.instance_types" if account.instance_types
                            else default.instance_types),
            default_instance_type=(f"{where}.default_instance_type"
                                   if account.default_instance_type
                                   else default.default_instance_type),
            images_policy=key_name(images, "policy"),
            images_list=key_name(own, "list"),
            images_default=key_name(own, "default"),
        )

    def _served(self, region: str | None) -> str:
        """C{region}, or the home region if C{None}; L{KeyError} if not served."""
        region = self.aws.region if region is None else region
        if region not in self.aws.regions:
            raise KeyError(region)
        return region


#: The sections built from their keys alone; C{[images]} has sub-tables too.
_SECTIONS = {
    "server": ServerConfig,
    "grid": GridConfig,
    "aws": AwsConfig,
}

#: The top-level tables; C{[[accounts]]} is an array of tables.
_TABLES = (*_SECTIONS, "images", "oidc", "accounting", "metrics")

_FQAN = re.compile(r"^(/[A-Za-z0-9._-]+)+(/Role=[A-Za-z0-9._-]+)?(/Capability=[A-Za-z0-9._-]+)?$")
_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def parse(text: str, path: str = "<string>") -> Config:
    """
    Validate the TOML C{text} (read from C{path}, which only names it in
    messages) into a L{Config}.  The files it names are not looked at.

    @raise ConfigError: anything is wrong.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "(syntax)", str(e)) from None

    for name in document:
        if name not in (*_TABLES, "accounts"):
            raise ConfigError(path, f"[{name}]", "unknown section")

    tables: dict[str, dict[str, Any]] = {}
    for name in _TABLES:
        tables[name] = document.get(name, {})
        if not isinstance(tables[name], dict):
            raise ConfigError(path, f"[{name}]", "must be a table")
    fail = _failing(path)
    build = partial(build_table, fail)
    sections: dict[str, Any] = {name: build(name, cls, tables[name])
                                for name, cls in _SECTIONS.items()}
    check_regions(tables["aws"], fail)
    sections["images"] = build_images(tables["images"], "images", build, fail)
    sections["oidc"] = build_oidc(tables["oidc"], build, fail)
    if "accounting" in document:
        sections["accounting"] = build_accounting(tables["accounting"], build, fail)
    if "metrics" in document:
        sections["metrics"] = build("metrics", MetricsConfig, tables["metrics"])

    raw_accounts = document.get("accounts", [])
    if not isinstance(raw_accounts, list) or not all(
        isinstance(a, dict) for a in raw_accounts
    ):
        raise ConfigError(path, "[[accounts]]", "must be an array of tables")
    accounts = tuple(_build_account(path, i, table) for i, table in enumerate(raw_accounts))
    config = Config(path=path, accounts=accounts, **sections)
    _check(config)
    return config


def _failing(path: str) -> Fail:
    """C{fail(key, problem)}: raise the L{ConfigError} naming C{path}, C{key} and C{problem}."""
    def fail(key: str, problem: str) -> None:
        raise ConfigError(path, key, problem)

    return fail


def _build_account(path: str, index: int, table: dict[str, Any]) -> AccountConfig:
    """Account C{table}, with its own C{images} table and its limits."""
    where = f"accounts[{index}]"
    fail = _failing(path)
    build = partial(build_table, fail)
    table = dict(table)
    limits = take_limits(table, where, fail)
    images = table.pop("images", None)
    if images is not None and not isinstance(images, dict):
        fail(f"{where}.images", "must be a table like [images]")
    if "limits" in table:
        fail(f"{where}.limits", "unknown key")
    for key, what in (("instance_types", "offer at least one instance type"),
                      ("regions", "name at least one region")):
        if table.get(key) == []:
            fail(f"{where}.{key}", f"must {what} (or be left out)")
    account = build(where, AccountConfig, table)
    if images is None:
        return replace(account, limits=limits)
    return replace(account, limits=limits,
                   images=build_images(images, f"{where}.images", build, fail))


def _check(config: Config) -> None:
    """The checks across keys, and of each value's form."""
    server, aws, images = config.server, config.aws, config.images
    fail = _failing(config.path)

    check_server(server, fail)
    check_grid(config.grid, fail)

    check_aws(aws, fail)
    if server.request_timeout > 0:
        check_deadlines(aws, server.request_timeout, fail)

    check_images(images, "images", aws.regions, fail)
    check_oidc(config.oidc, fail)
    if config.accounting is not None:
        check_accounting(config.accounting, fail)
    if config.metrics is not None:
        check_metrics(config.metrics, server.listen, fail)

    _check_accounts(config)
    check_sources(images, {account.name: account.fqans for account in config.accounts},
                  aws.regions, fail)


def _check_accounts(config: Config) -> None:
    """At least one account; each named once, serving someone, in valid forms."""
    path = config.path
    if not config.accounts:
        raise ConfigError(path, "[[accounts]]", "at least one account is required")
    names = set()
    raise_error = _failing(path)
    for i, account in enumerate(config.accounts):
        where = f"accounts[{i}]"

        def fail(key: str, problem: str, where: str = where) -> None:
            raise ConfigError(path, f"{where}.{key}", problem)

        if not re.fullmatch(r"[A-Za-z0-9_.-]+", account.name):
            fail("name", "is required: letters, digits, '.', '_' or '-'")
        if account.name in names:
            fail("name", f"{account.name!r} is used twice")
        names.add(account.name)
        if not account.fqans and not account.dns and not account.subs:
            fail("fqans", "an account needs fqans, dns or subs to serve anyone")
        for key in ("fqans", "manager_fqans"):
            for pattern in getattr(account, key):
                if not _FQAN.match(pattern):
                    fail(key, f"{pattern!r} is not a FQAN such as /vo/group/Role=r")
        for dn in account.dns:
            if not dn.startswith("/") or "=" not in dn:
                fail("dns", f"{dn!r} is not a DN in /DC=…/CN=… form")
        for subject in account.subs:
            if subject_issuer(subject, config.oidc) is None:
                fail("subs", f"{subject!r} is not '<issuer> <sub>' with an issuer of [[oidc.issuers]]")
        if account.role_arn and not _ARN.match(account.role_arn):
            fail("role_arn", f"{account.role_arn!r} is not an IAM role ARN")
        check_account_regions(account.regions, config.aws.regions, f"{where}.regions", raise_error)
        if account.images is not None:
            check_images(account.images, f"{where}.images", config.aws.regions, raise_error)
        if account.instance_types or account.default_instance_type:
            aws = config.aws_for(account.name)
            check_instance_types(aws.instance_types, aws.default_instance_type, f"{where}.",
                                 raise_error, config.template_keys(account.name).instance_types)
