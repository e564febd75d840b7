"""
Several hosts: HAProxy in TCP mode (TLS passes through, so each client's
proxy chain reaches occid) on 127.0.0.1 in front of two occid daemons over
one moto, as README's "Processes and hosts" sets it up.  A bounded load of
creates (each with its own Idempotency-Key, retried by the client on a
TCP-level failure) and reads runs while one daemon is killed with
SIGKILL: every request ends as the load expects or fails at the TCP level
only, no compute is launched twice, and everything succeeds after.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.cutproxy import CutProxy
from tests.daemon import REPO, Daemon, tls_request
from tests.motoserver import ec2_client, free_port
from tests.vomsfactory import build_ac, voms_proxy

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None and not os.environ.get("CI"),
                                reason="haproxy absent: apt-get install haproxy")

#: A compute create in text/plain: the daemon's first listed image.
CREATE = (
    b'Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"\n'
    b'Category: ami-0a1b2c3d4e5f60001; '
    b'scheme="http://occi.localhost/occi/infrastructure/os_tpl#"; class="mixin"\n'
    b'X-OCCI-Attribute: occi.core.title="behind haproxy"\n'
)

#: Creates in the load, and reads after each.
CREATES = 24

#: Seconds the whole load may take.
LOAD_DEADLINE = 180.0

#: HAProxy's configuration: TCP passthrough, a TCP connect check every
#: 200 ms (one failure takes a server out), and a refused connection
#: retried on the other server.
HAPROXY_CFG = """\
global
    maxconn 256

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch

frontend occi
    bind 127.0.0.1:{front}
    default_backend occid

backend occid
    balance roundrobin
    default-server check inter 200ms fall 1 rise 2
{servers}
"""


@dataclass(frozen=True)
class Front:
    """HAProxy's address, as L{tls_request} reaches a daemon: its port and the CA to trust."""

    port: int
    cacert: str


@pytest.fixture(scope="module")
def proxy(pki, tmp_path_factory):
    """A VOMS proxy of testvo."""
    ac = build_ac(signer=pki.voms, holder=pki.user.certificate, now=pki.now,
                  vo="testvo", fqans=["/testvo"])
    return voms_proxy(pki, pki.user, ac).write(str(tmp_path_factory.mktemp("proxy") / "proxy.pem"))


@pytest.fixture
def late(moto_server):
    """A proxy before moto holding back RunInstances answers (L{CutProxy}'s C{late})."""
    moto_server.reset()
    proxy = CutProxy(moto_server.endpoint)
    proxy.rules["RunInstances"] = "late"
    yield proxy
    proxy.stop()


@pytest.fixture
def hosts(pki, moto_server, late, tmp_path):
    """
    Two daemons over one fresh moto, the first one's launches answered
    late, and HAProxy in front of them; all stopped after.
    """
    daemons = []
    for name, endpoint in (("a", late.endpoint), ("b", moto_server.endpoint)):
        directory = tmp_path / name
        directory.mkdir()
        daemons.append(Daemon(str(directory), pki, endpoint))
    front = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(front=front, servers="\n".join(
        f"    server {name} 127.0.0.1:{daemon.port}"
        for name, daemon in zip("ab", daemons, strict=True))))
    haproxy = None
    try:
        for daemon in daemons:
            daemon.start()
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert haproxy.poll() is None, haproxy.stdout.read().decode()  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", front), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "haproxy did not listen in time"
                time.sleep(0.1)
        yield Front(front, daemons[0].cacert), daemons
    finally:
        if haproxy is not None:
            haproxy.kill()
            haproxy.wait(timeout=30)
            haproxy.stdout.close()  # type: ignore[union-attr]
        for daemon in daemons:
            daemon.stop()


class Client:
    """
    Requests through HAProxy, each on a new TLS connection, retried while
    they fail at the TCP level (refused, reset, closed before an answer);
    counts those failures.
    """

    def __init__(self, front: Front, proxy: str):
        self.front = front
        self.proxy = proxy
        self.tcp_failures = 0
        self._lock = threading.Lock()

    def request(self, method: str, path: str, headers=(), body: bytes = b""):
        deadline = time.monotonic() + 60
        while True:
            try:
                return tls_request(self.front, self.proxy, method, path,  # type: ignore[arg-type]
                                   [("Content-Type", "text/plain"), *headers], body)
            except (OSError, ValueError, IndexError) as e:
                # OSError: refused, reset, TLS cut (ssl.SSLEOFError); the
                # others: the connection closed before a whole answer.
                if isinstance(e, ssl.SSLCertVerificationError) or time.monotonic() > deadline:
                    raise
                with self._lock:
                    self.tcp_failures += 1
                time.sleep(0.2)


def _instances(moto_server) -> list[dict]:
    """Every instance in moto."""
    reservations = ec2_client(moto_server.endpoint).describe_instances()["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def test_kill_one_host_under_load(hosts, late, proxy, moto_server):
    """
    Creates and reads through HAProxy while one of its two daemons is
    killed -9 with a launch made but not yet answered: each ends 201 or 200
    (after TCP-level retries at most), one instance per Idempotency-Key,
    and the surviving host serves everything after.
    """
    front, (victim, survivor) = hosts
    client = Client(front, proxy)
    done = threading.Semaphore(0)

    def one(index: int) -> tuple[int, str | None, int]:
        created = client.request("POST", "/compute/", [("Idempotency-Key", f"load-{index}")],
                                 CREATE)
        done.release()
        listed = client.request("GET", "/compute/")
        return created.status, created.header("Location"), listed.status

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = [pool.submit(one, index) for index in range(CREATES)]
        for _ in range(CREATES // 3):
            assert done.acquire(timeout=LOAD_DEADLINE)
        # Kill it while moto has launched for it and the answer is held back.
        while late.seen["RunInstances"] <= victim.log().count("POST /compute/ 201"):
            assert time.monotonic() - started < LOAD_DEADLINE
            time.sleep(0.01)
        os.kill(victim.pid, signal.SIGKILL)
        served_by_victim = victim.log().count("POST /compute/ 201")
        lost = late.seen["RunInstances"] - served_by_victim
        answers = [result.result(timeout=LOAD_DEADLINE) for result in results]
    assert time.monotonic() - started < LOAD_DEADLINE
    assert served_by_victim > 0, "the killed daemon served none of the load"
    assert lost > 0, "no launch was in flight on the killed daemon"
    assert survivor.log().count("POST /compute/ 201") > 0
    assert [(created, listed) for created, _, listed in answers] == [(201, 200)] * CREATES

    # One instance per key: each create's Location names its own instance.
    locations = [location for _, location, _ in answers]
    assert len(set(locations)) == CREATES
    instances = _instances(moto_server)
    tokens = {tag["Value"] for instance in instances for tag in instance.get("Tags", ())
              if tag["Key"] == "occid:token"}
    assert len(instances) == len(tokens) == CREATES

    # After: every request succeeds at once, without a TCP-level retry.
    failures = client.tcp_failures
    for index in range(6):
        assert client.request("POST", "/compute/", [("Idempotency-Key", f"after-{index}")],
                              CREATE).status == 201
        assert client.request("GET", "/compute/").status == 200
    assert client.tcp_failures == failures


def test_readme_configuration_is_valid(tmp_path):
    """README's HAProxy configuration passes C{haproxy -c} (its hosts put on 127.0.0.1)."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    start = readme.index("```\n", readme.index("A minimal HAProxy")) + 4
    config = tmp_path / "haproxy.cfg"
    config.write_text(re.sub(r"occi\d\.example\.org", "127.0.0.1",
                             readme[start:readme.index("```", start)]))
    checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
