"""
Tests for L{occid.tap} and the twistd plugin: options, the service tree
makeService wires, and plugin discovery.
"""

import os
import subprocess
import sys

import pytest
from twisted.application.service import IServiceCollection, IServiceMaker
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins

from occid import __version__, tap
from occid.server.bounded import Deadlines
from occid.server.channel import GridHTTPChannel
from occid.server.connections import CappedTLSFactory, Caps
from occid.server.reload import ReloadService
from occid.server.site import Limits, OCCISite
from tests.daemon import REPO, twistd_command
from tests.offlineconfig import offline_config
from tests.pki import PKI


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """A valid configuration file over a test PKI."""
    directory = tmp_path_factory.mktemp("tap")
    pki = PKI(str(directory))
    path = directory / "occid.toml"
    path.write_text(offline_config(pki))
    return str(path)


def test_options_load_the_configuration(config_file):
    """--config names the file; postOptions loads and validates it."""
    options = tap.Options()
    options.parseOptions(["--config", config_file])
    assert options["config"] == config_file
    assert options["loaded"].server.public_host == "localhost"


def test_unknown_aws_profile_stops_twistd(config_file, tmp_path, monkeypatch, capsys):
    """An account naming an AWS profile nobody configured stops twistd before it listens."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    path = tmp_path / "occid.toml"
    with open(config_file, encoding="utf-8") as f:
        path.write_text(f.read().replace('fqans = ["/testvo"]', 'fqans = ["/testvo"]\nprofile = "nosuch"'))
    with pytest.raises(SystemExit) as e:
        tap.Options().parseOptions(["--config", str(path)])
    assert e.value.code == 1
    assert capsys.readouterr().err.startswith(f"occid: {path}: accounts[0].profile: no AWS profile 'nosuch'")


def test_default_configuration_path(capsys):
    """Without --config, occid reads /etc/occid/occid.toml."""
    options = tap.Options()
    with pytest.raises(SystemExit):
        options.parseOptions([])
    assert options["config"] == "/etc/occid/occid.toml"
    assert capsys.readouterr().err.startswith("occid: /etc/occid/occid.toml: ")


def test_bad_configuration_is_one_line(tmp_path, capsys):
    """A bad file stops twistd with the one-line message on stderr, and no usage text."""
    path = tmp_path / "occid.toml"
    path.write_text("[server]\nport = 1\n")
    with pytest.raises(SystemExit) as e:
        tap.Options().parseOptions(["--config", str(path)])
    assert e.value.code == 1
    assert capsys.readouterr().err == f"occid: {path}: [server] port: unknown key\n"


def test_twistd_prints_one_line_for_a_bad_configuration(tmp_path):
    """C{twistd occid --config bad.toml} prints the one line on stderr, no usage, and fails."""
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 1\n")
    result = subprocess.run(
        [*twistd_command(), "--nodaemon", "--pidfile=", "occid", "--config", str(path)],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert result.stderr == f"occid: {path}: [server] port: unknown key\n"
    assert result.stdout == ""


def test_make_service(config_file):
    """
    makeService wires the TLS listener on the configured endpoint, capped
    and held to the [server] deadlines, whose channels authenticate with the
    authenticator and the reactor's clock they were built with, the backend
    and the reload service.
    """
    options = tap.Options()
    options.parseOptions(["--config", config_file])
    reactor = MemoryReactorClock()
    top = tap.makeService(options, reactor=reactor)
    assert IServiceCollection.providedBy(top)
    top.startService()
    try:
        [(port, factory, _, interface)] = reactor.tcpServers
        assert (port, interface) == (11443, "127.0.0.1")
        assert isinstance(factory, CappedTLSFactory)
        assert factory.count.caps == Caps(total=4000, per_peer=200)
        site = factory.wrappedFactory
        assert isinstance(site, OCCISite)
        assert site.authenticator is not None
        assert site.limits == Limits(max_body=1048576, request_timeout=60.0, clock=reactor)
        assert site.deadlines == Deadlines(header_timeout=10.0, idle_timeout=30.0)
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert isinstance(channel, GridHTTPChannel)
        assert channel.authenticator is site.authenticator
        assert channel.clock is reactor
        assert [s for s in top if isinstance(s, ReloadService)]
    finally:
        top.stopService()
        # The EC2 thread pool stops after reactor shutdown, as under twistd.
        for stop, args, kwargs in reactor.triggers["after"]["shutdown"]:
            stop(*args, **kwargs)


def test_plugin_discovered():
    """twistd finds the occid plugin (no __init__.py in twisted/plugins)."""
    import twisted.plugins

    makers = {p.tapname: p for p in getPlugins(IServiceMaker, twisted.plugins)}
    assert "occid" in makers
    assert makers["occid"].module == "occid.tap"
    assert not os.path.exists(os.path.join(REPO, "twisted", "__init__.py"))
    assert not os.path.exists(os.path.join(REPO, "twisted", "plugins", "__init__.py"))


def test_twistd_help_lists_occid(tmp_path):
    """C{twistd --help} lists occid, and C{twistd occid --help} documents --config."""
    env = dict(os.environ, PYTHONPATH=REPO)
    listing = subprocess.run([*twistd_command(), "--help"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=60)
    assert "occid" in listing.stdout
    detail = subprocess.run([*twistd_command(), "occid", "--help"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60)
    assert "--config" in detail.stdout
    assert __version__ in detail.stdout


def test_installed_plugin(tmp_path):
    """
    In an installed occid (CI installs the package into its venv), twistd
    finds the plugin outside the source tree.
    """
    probe = subprocess.run(
        [sys.executable, "-c", "import occid, os; print(os.path.dirname(occid.__file__))"],
        capture_output=True, text=True, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if probe.returncode != 0 or probe.stdout.strip() == os.path.join(REPO, "occid"):
        pytest.skip("occid is not installed outside the source tree (pip install . first)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listing = subprocess.run([*twistd_command(), "--help"], capture_output=True, text=True,
                             cwd=tmp_path, env=env, timeout=60)
    assert "occid" in listing.stdout
