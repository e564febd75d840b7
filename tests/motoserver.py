# -*- test-case-name: tests.test_ec2_clients -*-
"""
Test helpers for the EC2 backend: a moto server on 127.0.0.1 in a
subprocess, occid configurations pointing at it, and thread-free ways to run
the providers' Deferreds.

The moto server gets a three-image AMI catalogue (tests/data/amis.json) and
validates AMIs, instance types and key pair names, so that tests catch what
real EC2 would refuse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace

import boto3
from twisted.internet.defer import maybeDeferred
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from occid.config import AccountConfig, AwsConfig, Config, ImagesConfig, Visibility
from occid.demo.pki import free_port
from occid.ec2.account import Account, RecentIds, SecurityGroups
from occid.ec2.adapter import OPERATIONS, EC2Collection
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import make_client, make_ssm_client
from occid.ec2.scope import Scope
from occid.gridconfig import GridConfig
from occid.gsi.principal import Principal
from occid.occi.model import Kind
from occid.policy import AccountBinding
from occid.serverconfig import ServerConfig
from occid.testing import make_binding, make_principal

AMIS_PATH = os.path.join(os.path.dirname(__file__), "data", "amis.json")

#: The AMIs of tests/data/amis.json.
DEBIAN, UBUNTU, ALMA = (
    "ami-0a1b2c3d4e5f60001",
    "ami-0a1b2c3d4e5f60002",
    "ami-0a1b2c3d4e5f60003",
)

REGION = "eu-west-1"
PUBLIC_HOST = "occi.test"


class MotoServer:
    """
    C{python -m moto.server} on 127.0.0.1 and a free port, in a subprocess.

    @ivar endpoint: its URL, for C{[aws] endpoint_url}.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        env = dict(
            os.environ,
            MOTO_AMIS_PATH=AMIS_PATH,
            MOTO_ENABLE_AMI_VALIDATION="true",
            MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION="true",
            MOTO_ENABLE_KEYPAIR_VALIDATION="true",
        )
        env.pop("MOTO_ACCOUNT_ID", None)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.reset()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int:
        """The process id of the running server."""
        assert self._process is not None, "the moto server is not running"
        return self._process.pid

    def reset(self) -> None:
        """Wipe every account and region (POST /moto-api/reset)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def make_config(endpoint: str = "", accounts=None, **aws) -> Config:
    """
    An occid configuration for the EC2 backend: C{[aws]} settings from
    C{aws} (pointing at C{endpoint}), the test AMIs listed, one account
    C{fedcloud} unless C{accounts} are given.
    """
    if accounts is None:
        accounts = (AccountConfig(name="fedcloud", fqans=("/fedcloud.egi.eu",)),)
    aws.setdefault("instance_types", ("t3.micro", "t3.small", "m5.large"))
    return Config(
        path="<test>",
        server=ServerConfig(public_url=f"https://{PUBLIC_HOST}:11443"),
        grid=GridConfig(),
        aws=AwsConfig(endpoint_url=endpoint, region=REGION, **aws),
        images=ImagesConfig(policy="listed", list=(DEBIAN, UBUNTU, ALMA)),
        accounts=tuple(accounts),
    )


def with_images(config: Config, policy: str, listed=()) -> Config:
    """C{config} with another C{[images]} policy and list."""
    return replace(config, images=ImagesConfig(policy=policy, list=tuple(listed)))


def principal(name: str = "Jane Doe", vo: str = "fedcloud.egi.eu") -> Principal:
    """A grid user of C{vo} called C{name}."""
    return make_principal(dn=f"/DC=org/DC=example/OU=Users/CN={name}", vo=vo)


def binding(visibility: Visibility = Visibility.OWNER, account: str = "fedcloud",
            vo: str = "fedcloud.egi.eu", writable: bool = True) -> AccountBinding:
    """A binding to C{account} with C{visibility}, writable unless told."""
    assert visibility in (Visibility.OWNER, Visibility.VO, Visibility.MANAGER)
    return make_binding(account=account, visibility=visibility, writable=writable, vo=vo)


#: Two members of the default VO.
JANE = principal("Jane Doe")
JOHN = principal("John Roe")


class InlineReactor(MemoryReactorClock):
    """
    A memory reactor whose C{callFromThread} runs the call at once, so that
    C{deferToThreadPool} Deferreds fire without a running reactor.
    """

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class SyncPool:
    """A thread pool stand-in that runs every call inline, in the caller's thread."""

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):
        maybeDeferred(f, *args, **kwargs).addCallbacks(
            lambda result: onResult(True, result), lambda failure: onResult(False, failure))


def provider(kind: Kind, account: Account, who: Principal = JANE, visibility: Visibility = Visibility.OWNER,
             writable: bool = True) -> EC2Collection:
    """
    The EC2 collection of C{kind} over C{account} for C{who}, running its
    EC2 calls inline (L{SyncPool}, L{InlineReactor}).
    """
    return EC2Collection(InlineReactor(), SyncPool(), account,
                         Scope(who, binding(visibility, vo=who.vo, writable=writable)),
                         OPERATIONS[kind])


def wait(deferred, timeout: float = 30.0):
    """
    Block until C{deferred} (fired from a real thread pool through an
    L{InlineReactor}) has a result; return it, or raise its failure.
    """
    done = threading.Event()
    outcome = []

    def record(result):
        outcome.append(result)
        done.set()

    deferred.addBoth(record)
    if not done.wait(timeout):
        raise TimeoutError("the Deferred did not fire")
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


#: trial's assertions on Deferreds, for the EC2 tests written as plain
#: pytest functions: the providers run on a L{SyncPool} with an
#: L{InlineReactor}, so their Deferreds have fired when a test looks at them.
#: C{successResultOf(d)} is the result (the test fails on a failure or if
#: C{d} has not fired); C{failureResultOf(d, *types)} is the L{Failure}.
_assertions = SynchronousTestCase()
successResultOf = _assertions.successResultOf
failureResultOf = _assertions.failureResultOf


def make_account(config: Config, name: str = "fedcloud", client=None, recent=None):
    """
    The in-memory state of account C{name} (its catalog loaded), using
    C{client} or a new one.
    """
    if client is None:
        client = make_client(config.aws, config.account(name))
    catalog = AccountCatalog(name, client, config.aws, config.images, config.server.public_host)
    catalog.refresh()
    return Account(name=name, client=client, aws=config.aws, catalog=catalog,
                   groups=SecurityGroups(client, config.aws.ssh_cidr),
                   recent=recent or RecentIds(sleep=lambda seconds: None),
                   ssm=make_ssm_client(config.aws, config.account(name)))


def ec2_client(endpoint: str):
    """A boto3 client of moto's default account, the one the daemon's testvo account uses."""
    return boto3.client("ec2", region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
