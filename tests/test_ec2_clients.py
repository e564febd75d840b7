"""
Tests for L{occid.ec2.clients}: client settings, one client per account,
and accounts reached through an assumed role landing in their own AWS
account.
"""

import logging
from urllib.parse import parse_qs

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from occid.config import AccountConfig
from occid.ec2.clients import build_clients, client_config, retry_safe, role_session_name
from tests.ec2hooks import inject, no_backoff, raise_on_send
from tests.motoserver import DEBIAN, make_config

pytestmark = pytest.mark.moto


def test_client_config_bounds_every_call():
    """
    Retries are standard, [aws] attempts in all; timeouts come from [aws]
    timeout, the pool fits the threads.
    """
    config = make_config(threads=32, timeout=12.0, attempts=2).aws
    settings = client_config(config)
    assert settings.retries == {"mode": "standard", "total_max_attempts": 2}
    assert settings.read_timeout == 12.0
    assert settings.connect_timeout == 5.0
    assert settings.max_pool_connections >= 32
    assert settings.tcp_keepalive is True
    assert settings.region_name == "eu-west-1"


def test_role_session_name_fits_sts_limits():
    """The STS session name names the account and stays within 64 characters."""
    assert role_session_name(AccountConfig(name="fedcloud")) == "occid-fedcloud"
    assert len(role_session_name(AccountConfig(name="x" * 100))) == 64


def test_one_client_per_account_at_the_endpoint(moto):
    """build_clients makes one EC2 client per account, aimed at [aws] endpoint_url."""
    config = make_config(
        moto.endpoint,
        accounts=(AccountConfig(name="a", fqans=("/a",)), AccountConfig(name="b", fqans=("/b",))),
    )
    clients = build_clients(config)
    assert sorted(clients) == ["a", "b"]
    assert clients["a"] is not clients["b"]
    assert clients["a"].meta.endpoint_url == moto.endpoint
    assert clients["a"].meta.region_name == "eu-west-1"
    assert logging.getLogger("botocore").level == logging.WARNING
    assert clients["a"].describe_instances()["Reservations"] == []


def test_role_arn_accounts_are_separate(moto):
    """
    Two accounts reached through role_arn (AssumeRole into two AWS account
    ids) each see only the instances launched through their own client.
    """
    config = make_config(
        moto.endpoint,
        accounts=(
            AccountConfig(name="a", fqans=("/a",),
                          role_arn="arn:aws:iam::111111111111:role/occid"),
            AccountConfig(name="b", fqans=("/b",),
                          role_arn="arn:aws:iam::222222222222:role/occid"),
        ),
    )
    clients = build_clients(config)
    launched = {
        name: client.run_instances(
            ImageId=DEBIAN, InstanceType="t3.micro", MinCount=1, MaxCount=1
        )["Instances"][0]["InstanceId"]
        for name, client in clients.items()
    }
    for name, client in clients.items():
        seen = [
            i["InstanceId"]
            for r in client.describe_instances()["Reservations"]
            for i in r["Instances"]
        ]
        assert seen == [launched[name]]
        assert client.describe_instances()["Reservations"][0]["OwnerId"] == {
            "a": "111111111111", "b": "222222222222"}[name]


@pytest.mark.parametrize("operation, safe", [
    ("DescribeInstances", True), ("GetConsoleOutput", True),
    ("RunInstances", True), ("CreateVolume", True), ("CreateNetworkInterface", True),
    ("CreateVpc", False), ("TerminateInstances", False), ("AttachVolume", False),
    ("AllocateAddress", False), ("CreateSnapshot", False), ("ImportKeyPair", False),
])
def test_retry_safe_calls(operation, safe):
    """Reads and calls carrying an idempotency token (ClientToken) are safe to retry; no other."""
    model = build_clients(make_config("http://127.0.0.1:9"))["fedcloud"].meta.service_model
    assert retry_safe(operation, model.operation_model(operation).input_shape) is safe


def test_writes_without_client_token_are_tried_once(moto, monkeypatch):
    """
    A 500 on CreateVpc (no ClientToken) is not retried: a lost answer
    retried could make two networks.  A read is retried [aws] attempts times.
    """
    no_backoff(monkeypatch)
    config = make_config(moto.endpoint, attempts=3)
    client = build_clients(config)["fedcloud"]
    sends = inject(client, "CreateVpc", 500, "InternalError")
    with pytest.raises(Exception, match="InternalError"):
        client.create_vpc(CidrBlock="10.1.0.0/16")
    assert len(sends) == 1
    reads = raise_on_send(client, "DescribeVpcs", ReadTimeoutError(endpoint_url=moto.endpoint))
    with pytest.raises(ReadTimeoutError):
        client.describe_vpcs()
    assert len(reads) == 3


def test_a_launch_whose_answer_was_lost_is_sent_once(moto, monkeypatch):
    """
    RunInstances carries a ClientToken, but once it was sent and its answer
    lost (a read timeout) botocore does not send it again: occid looks it
    up by its token instead (L{occid.ec2.outcome}).  A launch that never
    reached EC2 (no connection) is tried [aws] attempts times.
    """
    no_backoff(monkeypatch)
    client = build_clients(make_config(moto.endpoint, attempts=3))["fedcloud"]
    launch = {"ImageId": DEBIAN, "MinCount": 1, "MaxCount": 1}
    sends = raise_on_send(client, "RunInstances", ReadTimeoutError(endpoint_url=moto.endpoint))
    with pytest.raises(ReadTimeoutError):
        client.run_instances(**launch)
    assert len(sends) == 1
    client = build_clients(make_config(moto.endpoint, attempts=3))["fedcloud"]
    sends = raise_on_send(client, "RunInstances", EndpointConnectionError(endpoint_url=moto.endpoint))
    with pytest.raises(EndpointConnectionError):
        client.run_instances(**launch)
    assert len(sends) == 3


def test_creates_with_a_client_token_are_retried_with_the_same_token(moto, monkeypatch):
    """
    CreateVolume carries a ClientToken (botocore fills one in): a retry
    after a 500 sends the same token, so EC2 makes one volume.
    """
    no_backoff(monkeypatch)
    client = build_clients(make_config(moto.endpoint))["fedcloud"]
    sends = inject(client, "CreateVolume", 500, "InternalError", times=1)
    tokens = []
    client.meta.events.register(
        "before-send.ec2.CreateVolume",
        lambda request, **kwargs: tokens.append(parse_qs(request.body)["ClientToken"][0]))
    client.create_volume(AvailabilityZone="eu-west-1a", Size=1)
    assert len(sends) == 1
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert len(client.describe_volumes()["Volumes"]) == 1
