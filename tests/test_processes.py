"""
Tests for several occid processes on one host: C{[server] reuse_port}
(L{occid.server.reuseport}), the reconciler's leader (L{occid.leadership},
C{[server] coordination_dir}), C{--instance} (L{occid.listenconfig}) and
the template unit C{systemd/occid@.service}; and two real daemons sharing
one port, one of them leading until it is killed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
from twisted.internet.task import Clock
from twisted.python import usage

from occid import config, tap
from occid.ec2.service import reconcile_if
from occid.leadership import LOCK_NAME, RETRY, Leadership
from occid.listenconfig import TcpAddress, instance_listen, tcp_address
from occid.server import preflight
from occid.server.reuseport import bind_shared
from tests.daemon import REPO, Daemon, tls_request, twistd_command
from tests.motoserver import free_port
from tests.offlineconfig import offline_config
from tests.test_config import minimal
from tests.vomsfactory import build_ac, voms_proxy


@pytest.fixture(scope="module")
def proxy(pki, tmp_path_factory):
    """A VOMS proxy of testvo, made in Python (no grid tools needed)."""
    ac = build_ac(signer=pki.voms, holder=pki.user.certificate, now=pki.now,
                  vo="testvo", fqans=["/testvo"])
    return voms_proxy(pki, pki.user, ac).write(str(tmp_path_factory.mktemp("proxy") / "proxy.pem"))


@pytest.mark.parametrize(("description", "address"), [
    ("tcp:11443", TcpAddress(11443)),
    ("tcp:port=11443", TcpAddress(11443)),
    ("tcp:11443:interface=127.0.0.1:backlog=2048", TcpAddress(11443, "127.0.0.1", 2048)),
    (r"tcp:11443:interface=\:\:1", TcpAddress(11443, "::1")),
    ("ssl:11443", None),
    ("systemd:domain=INET:index=0", None),
    ("tcp:11443:interface=127.0.0.1:mode=0", None),
    ("tcp:http", None),
    ("tcp:70000", None),
    ("tcp:", None),
])
def test_tcp_address(description, address):
    """The tcp: endpoints occid binds itself are read as Twisted reads them; others are None."""
    assert tcp_address(description) == address


def test_instance_listen():
    """Process N listens for metrics on the configured port + N - 1, on the same interface."""
    assert instance_listen("tcp:9464:interface=127.0.0.1", 1) == "tcp:9464:interface=127.0.0.1"
    assert instance_listen("tcp:9464:interface=127.0.0.1", 3) == "tcp:9466:interface=127.0.0.1"
    assert instance_listen(r"tcp:9464:interface=\:\:1", 2) == r"tcp:9465:interface=\:\:1"
    for listen, instance in (("unix:/run/m.sock", 2), ("tcp:0", 1), ("tcp:65535", 2)):
        with pytest.raises(ValueError):
            instance_listen(listen, instance)


@pytest.mark.parametrize(("server", "key", "words"), [
    ('listen = "systemd:domain=INET:index=0"\nreuse_port = true', "[server] reuse_port",
     "needs [server] listen of the form"),
    ('coordination_dir = "run/occid"', "[server] coordination_dir", "must be an absolute path"),
])
def test_bad_process_keys(server, key, words):
    """reuse_port without a tcp: listen, or a relative coordination_dir, stop occid naming the key."""
    text = minimal({"cert": "c", "key": "k", "ca_dir": "/c", "vomsdir": "/v"}).replace(
        "[server]\n", f"[server]\n{server}\n", 1)
    with pytest.raises(config.ConfigError) as raised:
        config.parse(text, "/etc/occid/occid.toml")
    assert raised.value.key == key
    assert words in raised.value.problem


def test_coordination_dir_must_be_writable(pki, tmp_path):
    """At start, a coordination_dir that is not a directory stops occid naming the key."""
    path = tmp_path / "occid.toml"
    path.write_text(offline_config(pki, "tcp:1", f'coordination_dir = "{tmp_path}/missing"'))
    with pytest.raises(config.ConfigError) as raised:
        preflight.load(str(path))
    assert raised.value.key == "[server] coordination_dir"
    assert "RuntimeDirectory=" in raised.value.problem


def test_instance_moves_the_metrics_port(pki, tmp_path):
    """
    --instance 3 serves [metrics] two ports up; a non-tcp metrics listen,
    or an instance below 1, is refused.
    """
    path = tmp_path / "occid.toml"
    path.write_text(offline_config(pki, "tcp:11443", extra='[metrics]\nlisten = "tcp:9464"\n'))
    options = tap.Options()
    options.parseOptions(["--config", str(path), "--instance", "3"])
    assert options["metrics_listen"] == "tcp:9466"
    path.write_text(offline_config(pki, "tcp:11443", extra='[metrics]\nlisten = "unix:/m"\n'))
    with pytest.raises(SystemExit):
        tap.Options().parseOptions(["--config", str(path), "--instance", "2"])
    with pytest.raises(usage.UsageError):
        tap.Options().parseOptions(["--config", str(path), "--instance", "0"])


def test_shared_port_binds_twice():
    """Two sockets made by bind_shared share a port; a plain socket cannot bind it."""
    port = free_port()
    first = bind_shared(TcpAddress(port, "127.0.0.1"))
    second = bind_shared(TcpAddress(port, "127.0.0.1"))
    plain = socket.socket()
    try:
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    finally:
        for sock in (first, second, plain):
            sock.close()


def test_one_leader_and_a_takeover(tmp_path):
    """
    Of two processes' leaderships on one directory, one leads and writes
    its pid; once it stops, the other leads within one retry.
    """
    clock = Clock()
    first, second = Leadership(str(tmp_path), clock), Leadership(str(tmp_path), clock)
    first.startService()
    second.startService()
    assert (first.leading(), second.leading()) == (True, False)
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    clock.advance(RETRY)
    assert not second.leading()
    first.stopService()
    assert not first.leading()
    clock.advance(RETRY)
    assert second.leading()
    second.stopService()


def test_only_the_leader_reconciles():
    """The reconciler timer's pass runs in the leading process only."""
    passes = []

    class Backend:
        def reconcile(self):
            passes.append(1)

    reconcile_if(lambda: False, Backend())
    assert passes == []
    reconcile_if(lambda: True, Backend())
    assert passes == [1]


def _directives(name: str) -> list[str]:
    """The non-comment lines of the unit systemd/C{name}."""
    with open(os.path.join(REPO, "systemd", name), encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line and not line.startswith("#")]


def test_template_unit_repeats_the_single_one():
    """
    occid@.service is occid.service with an instance number, a conflict
    with it, and the runtime directory of the lock file kept between
    instances: its other settings cannot drift apart.
    """
    single, template = _directives("occid.service"), _directives("occid@.service")
    differing = {line for line in template if line not in single}
    assert differing == {
        "Description=occid OCCI gateway to Amazon EC2, process %i",
        "Conflicts=occid.service",
        "ExecStart=/opt/occid/venv/bin/twistd --nodaemon --pidfile= --logfile=- occid "
        "--config /etc/occid/occid.toml --instance %i",
        "RuntimeDirectory=occid",
        "RuntimeDirectoryPreserve=yes",
    }
    assert {line for line in single if line not in template} == {
        "Description=occid OCCI gateway to Amazon EC2",
        "ExecStart=/opt/occid/venv/bin/twistd --nodaemon --pidfile= --logfile=- occid "
        "--config /etc/occid/occid.toml",
    }


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
                    reason="systemd-analyze absent")
@pytest.mark.parametrize(("name", "instance"), [("occid.service", "occid.service"),
                                                ("occid@.service", "occid@2.service")])
def test_units_verify(tmp_path, name, instance):
    """systemd-analyze verify finds nothing wrong in either unit (twistd put where it is here)."""
    with open(os.path.join(REPO, "systemd", name), encoding="utf-8") as f:
        text = f.read().replace("/opt/occid/venv/bin/twistd", twistd_command()[0])
    (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / instance)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.fixture
def pair(pki, moto_server, tmp_path):
    """Two daemons sharing one port with reuse_port and one coordination directory."""
    shared = tmp_path / "run"
    shared.mkdir()
    port = free_port()
    daemons = []
    for instance in (1, 2):
        directory = tmp_path / f"occid{instance}"
        directory.mkdir()
        daemons.append(Daemon(str(directory), pki, moto_server.endpoint, port=port,
                              server=f'reuse_port = true\ncoordination_dir = "{shared}"',
                              options=("--instance", str(instance))))
    try:
        for daemon in daemons:
            daemon.start()
            # The port answered already if the other daemon listens: wait for this one's.
            daemon.wait_for_log("Starting factory <occid.server.site.OCCISite", timeout=60)
        yield daemons, shared
    finally:
        for daemon in daemons:
            daemon.stop()


def _served(daemon: Daemon) -> int:
    """How many requests the daemon logged."""
    return len(re.findall(r"\] GET /-/ 200 ", daemon.log()))


def test_two_daemons_share_a_port_and_a_leader(pair, proxy):
    """
    Both daemons serve connections to the one port; exactly one runs the
    reconciler and shares the catalogues; each reloads on its SIGHUP; once
    the leader is killed (-9) the other leads within a retry.
    """
    daemons, shared = pair
    for _ in range(40):
        assert tls_request(daemons[0], proxy, "GET", "/-/").status == 200
    assert all(_served(daemon) > 0 for daemon in daemons), [_served(d) for d in daemons]
    deadline = time.monotonic() + 3 * RETRY
    while not any("now runs the reconciler" in daemon.log() for daemon in daemons):
        assert time.monotonic() < deadline, "no process took the lead"
        time.sleep(0.1)
    [leader] = [daemon for daemon in daemons if "now runs the reconciler" in daemon.log()]
    [follower] = [daemon for daemon in daemons if daemon is not leader]
    assert (shared / LOCK_NAME).read_text() == f"{leader.pid}\n"
    # The leader shares each account's catalogue (testvo and othervo, one region).
    assert sorted(path.name.split("-")[1] for path in shared.glob("catalogue-*.json")) == [
        "othervo", "testvo"]
    # Each process reloads on its own SIGHUP, keeping its place.
    for daemon in daemons:
        mark = daemon.log_mark()
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("Reloaded the configuration", since=mark)
    mark = follower.log_mark()
    os.kill(leader.pid, signal.SIGKILL)
    started = time.monotonic()
    follower.wait_for_log("now runs the reconciler", since=mark, timeout=3 * RETRY)
    assert time.monotonic() - started < 3 * RETRY
    assert (shared / LOCK_NAME).read_text() == f"{follower.pid}\n"
    assert tls_request(follower, proxy, "GET", "/-/").status == 200
