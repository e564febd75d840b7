# -*- test-case-name: tests.test_ec2_clients -*-
"""
One boto3 EC2 client per account, built once in the main thread at start.

boto3 sessions are not thread-safe but clients are, once made, so
L{build_clients} makes every client before the thread pool starts and the
collections share them.  Credentials come from the standard AWS chain, or
from the account's C{profile}; when the account names a C{role_arn}, occid
first assumes that role through STS, and botocore refreshes the temporary
credentials by itself before they expire.  Nothing here reads a secret from
occid's configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeAlias

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)

from occid.config import AccountConfig, AwsConfig, Config
from occid.ec2.outcome import single_attempt
from occid.ec2.readable import register

#: A boto3 EC2 client.  boto3 ships no type information, so to mypy it is
#: C{Any}; the alias says what is meant.
EC2Client: TypeAlias = Any

#: How long assumed-role credentials last; botocore refreshes them 15
#: minutes before they expire.
ROLE_SESSION_SECONDS = 3600

#: Attempts per EC2 call in botocore's "standard" retry mode (the first try
#: included): throttling, 5xx and connection errors are retried with
#: exponential backoff before occid reports them.
MAX_ATTEMPTS = 4


class AssumedRole(CredentialProvider):
    """
    A botocore credential provider whose credentials come from
    C{refresh_using} (an STS AssumeRole call) on first use, and again
    whenever they are about to expire.  botocore serialises the refreshes.
    """

    METHOD = "sts-assume-role"

    def __init__(self, refresh_using: Callable[[], dict[str, str]]) -> None:
        super().__init__()
        self._refresh_using = refresh_using

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(
            refresh_using=self._refresh_using, method=self.METHOD
        )


def client_config(aws: AwsConfig) -> BotoConfig:
    """
    The botocore settings of every client: standard retries, bounded
    timeouts, a connection pool as large as occid's thread pool, keep-alive.
    """
    return BotoConfig(
        region_name=aws.region,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=min(aws.timeout, 5.0),
        read_timeout=aws.timeout,
        max_pool_connections=max(aws.threads, 10),
        tcp_keepalive=True,
    )


def role_session_name(account: AccountConfig) -> str:
    """The STS session name occid uses for C{account}: visible in CloudTrail."""
    return f"occid-{account.name}"[:64]


def account_session(aws: AwsConfig, account: AccountConfig) -> boto3.session.Session:
    """
    A boto3 session holding C{account}'s credentials: the standard chain or
    its profile, then, with a C{role_arn}, refreshable assumed-role
    credentials.  No network call happens until the first use.
    """
    base = boto3.session.Session(
        profile_name=account.profile or None, region_name=aws.region
    )
    if not account.role_arn:
        return base
    sts = base.client(
        "sts", endpoint_url=aws.endpoint_url or None, config=client_config(aws)
    )

    def assume_role() -> dict[str, str]:
        answer = sts.assume_role(
            RoleArn=account.role_arn,
            RoleSessionName=role_session_name(account),
            DurationSeconds=ROLE_SESSION_SECONDS,
        )["Credentials"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    core = botocore.session.Session()
    core.register_component(
        "credential_provider", CredentialResolver([AssumedRole(assume_role)])
    )
    return boto3.session.Session(botocore_session=core, region_name=aws.region)


def make_service_client(aws: AwsConfig, account: AccountConfig, service: str) -> Any:
    """The boto3 client of AWS C{service} (C{"ec2"}, C{"ssm"}, …) of C{account} in C{aws.region}."""
    session = account_session(aws, account)
    return session.client(
        service, endpoint_url=aws.endpoint_url or None, config=client_config(aws)
    )


def make_client(aws: AwsConfig, account: AccountConfig) -> EC2Client:
    """
    The EC2 client of C{account} in C{aws.region}, mending answers that
    one unreadable tag would make unparseable (L{occid.ec2.readable}) and
    leaving a create whose answer was lost to occid (L{occid.ec2.outcome}).
    """
    return single_attempt(register(make_service_client(aws, account, "ec2")))


def make_ssm_client(aws: AwsConfig, account: AccountConfig) -> Any:
    """
    The SSM client of C{account} in C{aws.region}, its home region, where
    its user-defined mixins are kept (L{occid.ec2.usermixins}).
    """
    return make_service_client(aws, account, "ssm")


def build_ssm_clients(config: Config) -> dict[str, Any]:
    """One SSM client per configured account; from the main thread, like L{build_clients}."""
    return {account.name: make_ssm_client(config.aws, account) for account in config.accounts}


def build_clients(config: Config, region: str | None = None) -> dict[str, EC2Client]:
    """
    One EC2 client in C{region} (default: the home region) per configured
    account served there, by account name.  Call it from the main thread,
    before any thread uses the clients.
    """
    logging.getLogger("botocore").setLevel(logging.WARNING)
    region = region or config.aws.region
    aws = replace(config.aws, region=region)
    return {account.name: make_client(aws, account) for account in config.accounts
            if region in config.regions_for(account.name)}
