# -*- test-case-name: tests.test_config -*-
"""
Load and validate C{occid.toml} into frozen dataclasses.

Every problem stops the daemon before it listens, with one message naming the
file, the key and the problem: unknown sections or keys, wrong types,
missing or unreadable files, a host key that does not match its certificate,
and combinations that cannot work.  No AWS secret is ever read from here:
credentials come from the standard AWS chain, optionally followed by an
account's C{role_arn}.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from cryptography import x509
from cryptography.hazmat.primitives import serialization

DEFAULT_PATH = "/etc/occid/occid.toml"


class ConfigError(Exception):
    """The configuration cannot be used; C{str()} is the one-line message."""

    def __init__(self, path: str, key: str, problem: str):
        super().__init__(f"{path}: {key}: {problem}")
        self.path = path
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class ServerConfig:
    """C{[server]}: where and how occid listens."""

    listen: str = "tcp:11443"
    public_url: str = "https://occi.example.org:11443"
    host_cert: str = ""
    host_key: str = ""
    max_body: int = 1048576
    request_timeout: float = 60.0

    @property
    def public_host(self) -> str:
        """The host name of C{public_url}: AC targets and template schemes use it."""
        return urlsplit(self.public_url).hostname or ""


@dataclass(frozen=True)
class GridConfig:
    """C{[grid]}: the trust directory, vomsdir and proxy rules."""

    ca_dir: str = "/etc/grid-security/certificates"
    vomsdir: str = "/etc/grid-security/vomsdir"
    crl: str = "if-valid"
    legacy_proxies: bool = False
    limited_proxies: str = "read-only"


@dataclass(frozen=True)
class AwsConfig:
    """C{[aws]}: the region, endpoint, defaults and limits of the EC2 backend."""

    region: str = "eu-west-1"
    endpoint_url: str = ""
    availability_zone: str = ""
    default_instance_type: str = "t3.micro"
    instance_types: tuple[str, ...] = ("t3.micro", "t3.small", "t3.medium", "t3.large")
    ssh_cidr: str = "0.0.0.0/0"
    network_create: bool = False
    network_delete: bool = False
    threads: int = 10
    timeout: float = 20.0


@dataclass(frozen=True)
class ImagesConfig:
    """C{[images]}: which AMIs are offered as os_tpl mixins."""

    policy: str = "listed"
    list: tuple[str, ...] = ("ami-0123456789abcdef0",)


@dataclass(frozen=True)
class AccountConfig:
    """One C{[[accounts]]} entry: an AWS account and who it serves."""

    name: str = ""
    fqans: tuple[str, ...] = ()
    profile: str = ""
    role_arn: str = ""
    visibility: str = "owner"
    manager_fqans: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The whole configuration; C{path} is the file it came from."""

    path: str
    server: ServerConfig
    grid: GridConfig
    aws: AwsConfig
    images: ImagesConfig
    accounts: tuple[AccountConfig, ...] = field(default=())

    def account(self, name: str) -> AccountConfig:
        """The account entry called C{name}."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)


_CHOICES = {
    ("grid", "crl"): ("require", "if-valid", "off"),
    ("grid", "limited_proxies"): ("refuse", "read-only"),
    ("images", "policy"): ("all", "owned", "listed", "owned_and_listed"),
    ("accounts", "visibility"): ("owner", "vo"),
}

_SECTIONS = {
    "server": ServerConfig,
    "grid": GridConfig,
    "aws": AwsConfig,
    "images": ImagesConfig,
}

_FQAN = re.compile(r"^(/[A-Za-z0-9._-]+)+(/Role=[A-Za-z0-9._-]+)?(/Capability=[A-Za-z0-9._-]+)?$")
_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def load(path: str) -> Config:
    """
    Read and validate the configuration file at C{path}.

    @raise ConfigError: the file is missing, unreadable or invalid.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(path, "(file)", f"cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "not UTF-8 text") from None
    return parse(text, path)


def parse(text: str, path: str = "<string>") -> Config:
    """
    Validate the TOML C{text} (read from C{path}) into a L{Config}, checking
    the files it names.

    @raise ConfigError: anything is wrong.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "(syntax)", str(e)) from None

    for name in document:
        if name not in _SECTIONS and name != "accounts":
            raise ConfigError(path, f"[{name}]", "unknown section")

    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(path, f"[{name}]", "must be a table")
        sections[name] = _build(path, name, cls, table)

    raw_accounts = document.get("accounts", [])
    if not isinstance(raw_accounts, list) or not all(
        isinstance(a, dict) for a in raw_accounts
    ):
        raise ConfigError(path, "[[accounts]]", "must be an array of tables")
    accounts = tuple(
        _build(path, f"accounts[{i}]", AccountConfig, table)
        for i, table in enumerate(raw_accounts)
    )
    config = Config(path=path, accounts=accounts, **sections)
    _check(config)
    return config


def _build(path: str, section: str, cls: type, table: dict[str, Any]) -> Any:
    """Type-check C{table} against the fields of dataclass C{cls}."""
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        where = f"[{section}] {key}" if not section.startswith("accounts") else f"{section}.{key}"
        if key not in known:
            raise ConfigError(path, where, "unknown key")
        default = known[key].default
        values[key] = _typed(path, where, value, default)
        choices = _CHOICES.get((section.split("[")[0], key))
        if choices and values[key] not in choices:
            raise ConfigError(
                path, where, f"must be one of {', '.join(map(repr, choices))}, not {value!r}"
            )
    return cls(**values)


def _typed(path: str, where: str, value: Any, default: Any) -> Any:
    """C{value} if it has the type of C{default} (lists become tuples)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(path, where, f"must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, where, f"must be an integer, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, where, f"must be a number, not {value!r}")
        return float(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, where, "must be a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(path, where, f"must be a string, not {value!r}")
    return value


def _check(config: Config) -> None:
    """Cross-key checks and the files the configuration names."""
    path = config.path
    server, grid, aws, images = config.server, config.grid, config.aws, config.images

    def fail(key: str, problem: str) -> None:
        raise ConfigError(path, key, problem)

    url = urlsplit(server.public_url)
    if url.scheme != "https" or not url.hostname or url.path not in ("", "/"):
        fail("[server] public_url", "must be https://host[:port] with no path")
    if server.max_body < 1024:
        fail("[server] max_body", "must be at least 1024 bytes")
    if server.request_timeout <= 0:
        fail("[server] request_timeout", "must be positive")
    if not server.listen:
        fail("[server] listen", "must name an endpoint such as tcp:11443")
    for key in ("host_cert", "host_key"):
        if not getattr(server, key):
            fail(f"[server] {key}", "is required")
    cert = _read_certificate(path, "[server] host_cert", server.host_cert)
    key = _read_private_key(path, "[server] host_key", server.host_key)
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        fail("[server] host_key", f"does not match the certificate in {server.host_cert}")

    for key_name in ("ca_dir", "vomsdir"):
        directory = getattr(grid, key_name)
        if not os.path.isdir(directory):
            fail(f"[grid] {key_name}", f"{directory} is not a directory")
        if not os.access(directory, os.R_OK | os.X_OK):
            fail(f"[grid] {key_name}", f"{directory} is not readable")

    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", aws.region):
        fail("[aws] region", f"{aws.region!r} is not an AWS region name")
    if aws.endpoint_url and urlsplit(aws.endpoint_url).scheme not in ("http", "https"):
        fail("[aws] endpoint_url", "must be empty or an http(s) URL")
    if aws.availability_zone and not aws.availability_zone.startswith(aws.region):
        fail("[aws] availability_zone", f"is not a zone of region {aws.region}")
    if not aws.instance_types:
        fail("[aws] instance_types", "must offer at least one instance type")
    for instance_type in aws.instance_types:
        if not re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+", instance_type):
            fail("[aws] instance_types", f"{instance_type!r} is not an instance type name")
    if aws.default_instance_type not in aws.instance_types:
        fail("[aws] default_instance_type", "must be one of [aws] instance_types")
    if aws.ssh_cidr:
        try:
            ipaddress.ip_network(aws.ssh_cidr)
        except ValueError:
            fail("[aws] ssh_cidr", f"{aws.ssh_cidr!r} is not a CIDR block")
    if not 1 <= aws.threads <= 200:
        fail("[aws] threads", "must be between 1 and 200")
    if not 0 < aws.timeout <= 300:
        fail("[aws] timeout", "must be between 0 and 300 seconds")
    if aws.network_delete and not aws.network_create:
        fail("[aws] network_delete", "needs network_create = true")

    if images.policy in ("listed", "owned_and_listed") and not images.list:
        fail("[images] list", f"policy {images.policy!r} needs at least one AMI id")
    for ami in images.list:
        if not _AMI.match(ami):
            fail("[images] list", f"{ami!r} is not an AMI id")

    if not config.accounts:
        fail("[[accounts]]", "at least one account is required")
    names = set()
    for i, account in enumerate(config.accounts):
        where = f"accounts[{i}]"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", account.name):
            fail(f"{where}.name", "is required: letters, digits, '.', '_' or '-'")
        if account.name in names:
            fail(f"{where}.name", f"{account.name!r} is used twice")
        names.add(account.name)
        if not account.fqans and not account.dns:
            fail(f"{where}.fqans", "an account needs fqans or dns to serve anyone")
        for key in ("fqans", "manager_fqans"):
            for pattern in getattr(account, key):
                if not _FQAN.match(pattern):
                    fail(f"{where}.{key}", f"{pattern!r} is not a FQAN such as /vo/group/Role=r")
        for dn in account.dns:
            if not dn.startswith("/") or "=" not in dn:
                fail(f"{where}.dns", f"{dn!r} is not a DN in /DC=…/CN=… form")
        if account.role_arn and not _ARN.match(account.role_arn):
            fail(f"{where}.role_arn", f"{account.role_arn!r} is not an IAM role ARN")
    profiles = [a.profile for a in config.accounts if a.profile]
    if profiles:
        known = set(botocore.session.Session().available_profiles)
        for i, account in enumerate(config.accounts):
            if account.profile and account.profile not in known:
                fail(
                    f"accounts[{i}].profile",
                    f"no AWS profile {account.profile!r} in the shared AWS config or "
                    "credentials files of the user running occid",
                )


def _read_certificate(path: str, key: str, filename: str) -> x509.Certificate:
    """The first PEM certificate in C{filename}."""
    data = _read_file(path, key, filename)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(path, key, f"{filename} holds no PEM certificate") from None


def _read_private_key(path: str, key: str, filename: str):
    """The unencrypted PEM private key in C{filename}."""
    data = _read_file(path, key, filename)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(path, key, f"{filename} is encrypted; occid needs it unencrypted") from None
    except ValueError:
        raise ConfigError(path, key, f"{filename} holds no PEM private key") from None


def _read_file(path: str, key: str, filename: str) -> bytes:
    """The bytes of C{filename}, named by C{key} of the configuration at C{path}."""
    try:
        with open(filename, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(path, key, f"cannot read {filename}: {e.strerror}") from None
