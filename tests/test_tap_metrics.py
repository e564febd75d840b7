"""
Tests for the wiring of L{occid.tap} around observation: C{[metrics]}
adds a plain HTTP listener of its own whose C{/readyz} runs the daemon's
readiness checks, and C{--log-format} chooses the log format.
"""

from __future__ import annotations

import json

import pytest
from twisted.application.service import Application
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver
from twisted.python import usage
from twisted.web.test.requesthelper import DummyRequest

from occid import tap
from occid.server.health import HealthSite
from occid.server.logformat import JSONLines, Logged
from tests.offlineconfig import offline_config
from tests.pki import PKI


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    """A valid configuration file with [metrics], over a test PKI and an EC2 nobody serves."""
    directory = tmp_path_factory.mktemp("tap")
    pki = PKI(str(directory))
    path = directory / "occid.toml"
    path.write_text(offline_config(pki, extra='[metrics]\nlisten = "tcp:9464:interface=127.0.0.1"\n'))
    return str(path)


def make(config_file, *arguments: str):
    """The options and the service tree, on a memory reactor."""
    options = tap.Options()
    options.parseOptions(["--config", config_file, *arguments])
    reactor = MemoryReactorClock()
    return options, reactor, tap.makeService(options, reactor=reactor)


def test_metrics_listener(config_file):
    """[metrics] listens where it says, plain HTTP; /readyz names the catalogue not loaded."""
    _, reactor, top = make(config_file)
    top.startService()
    try:
        ports = {port: (factory, interface) for port, factory, _, interface in reactor.tcpServers}
        site, interface = ports[9464]
        assert isinstance(site, HealthSite) and interface == "127.0.0.1"
        request = DummyRequest([b"readyz"])
        resource = site.getResourceFor(request)
        body = json.loads(resource.render(request))
        assert request.responseCode == 503 and body["ready"] is False
        assert body["problems"] == ["the catalogue of account testvo in eu-west-1 is not loaded yet"]
    finally:
        top.stopService()
        for stop, args, kwargs in reactor.triggers["after"]["shutdown"]:
            stop(*args, **kwargs)


def test_log_format(config_file):
    """--log-format json gives twistd's application a JSON observer; other values are refused."""
    _, _, top = make(config_file, "--log-format", "json")
    application = Application("occid")
    top.setServiceParent(application)
    assert isinstance(top, Logged) and isinstance(top.observer, JSONLines)
    assert application.getComponent(ILogObserver) is top.observer
    with pytest.raises(usage.UsageError) as raised:
        make(config_file, "--log-format", "xml")
    assert str(raised.value) == "--log-format is text or json, not 'xml'"
