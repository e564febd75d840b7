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

Retries (botocore's C{standard} mode, C{[aws] attempts} in all, backoff
between them) are kept for the calls that are safe to repeat: reads
(C{Describe*}, C{Get*}, C{List*}) and the calls carrying an idempotency
token (C{RunInstances}, C{CreateVolume}, …: occid sets C{ClientToken}, or
botocore fills one in, the same for every attempt).  Every other EC2 call
that changes something is tried once: a retry after a lost answer could do
it twice.  L{guard} puts an account's L{Breaker} in front of its client.
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
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from occid.config import AccountConfig, AwsConfig, Config
from occid.ec2.breaker import Breaker, BreakerOpen
from occid.ec2.errors import Refused
from occid.ec2.observed import observe
from occid.ec2.outcome import single_attempt
from occid.ec2.readable import register
from occid.ec2.timestamps import install

#: A boto3 EC2 client.  boto3 ships no type information, so to mypy it is
#: C{Any}; the alias says what is meant.
EC2Client: TypeAlias = Any

#: How long assumed-role credentials last; botocore refreshes them 15
#: minutes before they expire.
ROLE_SESSION_SECONDS = 3600

#: The prefixes of the names of EC2 calls that only read.
READS = ("Describe", "Get", "List")


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
    The botocore settings of every client: standard retries (C{[aws]
    attempts} tries in all: throttling, 5xx and connection errors are
    retried with exponential backoff), bounded timeouts, a connection pool
    as large as occid's thread pool, keep-alive.  The longest call these
    allow is L{AwsConfig.call_seconds}.
    """
    return BotoConfig(
        region_name=aws.region,
        retries={"mode": "standard", "total_max_attempts": aws.attempts},
        connect_timeout=aws.connect_timeout,
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
        botocore_session=install(botocore.session.Session()),
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

    core = install(botocore.session.Session())
    core.register_component(
        "credential_provider", CredentialResolver([AssumedRole(assume_role)])
    )
    return boto3.session.Session(botocore_session=core, region_name=aws.region)


def make_service_client(aws: AwsConfig, account: AccountConfig, service: str) -> Any:
    """The boto3 client of AWS C{service} (C{"ec2"}, C{"ssm"}, …) of C{account} in C{aws.region}."""
    session = account_session(aws, account)
    return observe(session.client(
        service, endpoint_url=aws.endpoint_url or None, config=client_config(aws)
    ))


def make_client(aws: AwsConfig, account: AccountConfig) -> EC2Client:
    """
    The EC2 client of C{account} in C{aws.region}: retrying only what is
    safe, leaving a create whose answer was lost to occid
    (L{occid.ec2.outcome}), and mending answers that one unreadable tag
    would make unparseable (L{occid.ec2.readable}).
    """
    client = make_service_client(aws, account, "ec2")
    model = client.meta.service_model
    for name in model.operation_names:
        if not retry_safe(name, model.operation_model(name).input_shape):
            client.meta.events.register_first(f"needs-retry.ec2.{name}", _never)
    return single_attempt(register(client))


def retry_safe(operation: str, input_shape: Any) -> bool:
    """
    Whether EC2 call C{operation} may be repeated after a lost answer: it
    only reads, or it carries an idempotency token (C{ClientToken}).
    """
    if operation.startswith(READS):
        return True
    members = input_shape.members if input_shape is not None else {}
    return any(shape.metadata.get("idempotencyToken") for shape in members.values())


def _never(**kwargs: Any) -> bool:
    """A C{needs-retry} answer: do not retry (botocore takes C{False} as final)."""
    return False


def guard(client: Any, breaker: Breaker) -> None:
    """
    Put C{breaker} in front of every call of C{client}: a call it refuses
    raises L{Refused} before anything is sent; a call
    that got an answer below 500 closes it; one that ended in a transport
    error, a timeout or a 5xx (after the retries) counts as a failure; any
    other error (missing credentials) neither.  The
    error of a failed call is marked with its C{operation_name} when
    botocore did not (transport errors), for the log line of
    L{occid.ec2.errors.trace}.
    """
    service = client.meta.service_model.service_id.hyphenize()

    def before(**kwargs: Any) -> None:
        try:
            breaker.admit()
        except BreakerOpen as refusal:
            raise Refused(refusal) from refusal

    def after(http_response: Any, model: Any, **kwargs: Any) -> None:
        if http_response is not None and http_response.status_code >= 500:
            breaker.failed(f"{model.name} answered HTTP {http_response.status_code}")
        else:
            breaker.succeeded()

    def after_error(exception: Exception, event_name: str, **kwargs: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if not hasattr(exception, "operation_name"):
            exception.operation_name = operation  # type: ignore[attr-defined]
        if isinstance(exception, (BotoConnectionError, HTTPClientError)):
            breaker.failed(f"{operation}: {type(exception).__name__}")

    events = client.meta.events
    events.register_first(f"before-call.{service}", before)
    events.register(f"after-call.{service}", after)
    events.register(f"after-call-error.{service}", after_error)


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
