# -*- test-case-name: tests.test_ec2_clients -*-
"""
Shared pytest fixtures: one moto EC2 server on 127.0.0.1 for the session,
wiped before every test that uses it, with fake AWS credentials in the
environment and no shared AWS configuration files; and the account
C{fedcloud} on it.  For the modules that drive the real daemon over TLS:
a PKI trusting testvo's VOMS signer, a voms-proxy-fake proxy of testvo and
boto3 on a freshly reset moto (a module defining its own wins).
"""

import pytest

from tests import gridtools
from tests.motoserver import MotoServer, ec2_client, make_account, make_config
from tests.pki import PKI


@pytest.fixture(scope="session")
def moto_server():
    """The session's moto server; stopped when the session ends."""
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """Fake credentials in the environment; no ~/.aws files, no profile."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def moto(moto_server, aws_environment):
    """The moto server, freshly reset, with fake credentials in the environment."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def account(moto):
    """The account fedcloud on the fresh moto server, catalog loaded."""
    return make_account(make_config(moto.endpoint))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The module's PKI, with a vomsdir entry for testvo."""
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    pki.lsc("testvo", "voms.example.org")
    return pki


@pytest.fixture(scope="module")
def proxy(pki, tmp_path_factory):
    """A voms-proxy-fake proxy of testvo."""
    return gridtools.voms_proxy_fake(
        pki, str(tmp_path_factory.mktemp("proxy") / "proxy.pem"), vo="testvo", fqans=["/testvo"])


@pytest.fixture(scope="module")
def ec2(moto_server):
    """boto3 on a freshly reset moto, in the account the daemon's testvo uses."""
    moto_server.reset()
    return ec2_client(moto_server.endpoint)
