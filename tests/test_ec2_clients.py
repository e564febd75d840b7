"""
Tests for L{occid.ec2.clients}: client settings, one client per account,
and accounts reached through an assumed role landing in their own AWS
account.
"""

import logging

import pytest

from occid.config import AccountConfig
from occid.ec2.clients import MAX_ATTEMPTS, build_clients, client_config, role_session_name
from tests.motoserver import DEBIAN, make_config

pytestmark = pytest.mark.moto


def test_client_config_bounds_every_call():
    """Retries are standard, timeouts come from [aws] timeout, the pool fits the threads."""
    config = make_config(threads=32, timeout=12.0).aws
    settings = client_config(config)
    assert settings.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
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
