# -*- test-case-name: tests.test_tap -*-
"""
twistd's entry point for C{twistd occid}: command-line options and the
service tree.  Wiring only: every piece is built elsewhere.
"""

from __future__ import annotations

import importlib.util
import signal
from datetime import UTC, datetime

from twisted.application import service, strports
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage

from occid import __version__, demo
from occid import config as configmodule
from occid.ec2.backend import make_backend_service
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.chain import ChainOptions
from occid.gsi.trust import TrustStore, fingerprint
from occid.gsi.vomsdir import VomsDir
from occid.policy import AccountPolicy
from occid.tls import GridServerTLS, authenticating, build_context, identify, log_dropped_ac
from occid.trustwatch import TrustWatcher
from occid.web.root import make_root, make_site

#: How often the trust dir and vomsdir are checked for changes, in seconds.
TRUST_POLL_INTERVAL = 60


class Options(usage.Options):
    """Options of C{twistd occid}."""

    synopsis = "[--config PATH] | --demo [--demo-dir DIR] [--port N]"
    longdesc = (
        f"occid {__version__}: an OCCI 1.1/1.2 gateway to Amazon EC2 for grid users "
        "authenticated by RFC 3820 proxies with VOMS attributes.  With --demo it "
        "serves https://localhost:11443 with a throwaway CA, a VOMS proxy and an "
        "embedded EC2 emulator, and prints commands to try."
    )
    optFlags = [
        ["demo", None, "Run the embedded demo instead of reading --config."],
    ]
    optParameters = [
        ["config", "c", configmodule.DEFAULT_PATH, "The occid.toml configuration file."],
        ["demo-dir", None, demo.DEFAULT_DIRECTORY,
         "With --demo: where the demo keeps its credentials and configuration."],
        ["port", None, demo.DEFAULT_PORT, "With --demo: the port on 127.0.0.1 to serve.", int],
    ]

    def opt_version(self):
        """Print occid's version and exit."""
        print(f"occid {__version__}")
        raise SystemExit(0)

    def postOptions(self) -> None:
        if self["demo"]:
            self._prepare_demo()
        elif self["demo-dir"] != demo.DEFAULT_DIRECTORY or self["port"] != demo.DEFAULT_PORT:
            raise usage.UsageError("--demo-dir and --port go with --demo")
        try:
            self["loaded"] = configmodule.load(self["config"])
        except configmodule.ConfigError as e:
            raise usage.UsageError(str(e))

    def _prepare_demo(self) -> None:
        """Credentials, environment and configuration of the demo; --config names its file."""
        if self["config"] != configmodule.DEFAULT_PATH:
            raise usage.UsageError("--demo writes its own configuration; leave out --config")
        if not 0 < self["port"] < 65536:
            raise usage.UsageError(f"--port {self['port']} is not a TCP port")
        if importlib.util.find_spec("moto") is None:
            raise usage.UsageError("the demo needs moto: pip install 'occid[demo]'")
        self["demo_setup"] = demo.prepare(self["demo-dir"], self["port"])
        self["config"] = self["demo_setup"].files.config


def makeService(options, reactor=None) -> service.MultiService:
    """
    The daemon: the EC2 backend (thread pool, catalogs, reconciler), the TLS
    listener serving the OCCI resource tree, and the trust-dir watcher.
    """
    if reactor is None:
        from twisted.internet import reactor
    config = options["loaded"]
    top = service.MultiService()
    demo_setup = options.get("demo_setup")
    if demo_setup is not None:
        # First, so that EC2 answers before the backend loads its catalogs.
        emulator = demo.EmulatorService(demo_setup, reactor)
        emulator.setServiceParent(top)

    grid = config.grid

    def read_trust():
        return TrustStore.load(grid.ca_dir, datetime.now(UTC)), VomsDir.load(grid.vomsdir)

    trust, vomsdir = read_trust()
    authenticator = GridAuthenticator(
        trust,
        vomsdir,
        ChainOptions.from_config(grid),
        host=config.server.public_host,
        log_dropped=log_dropped_ac,
    )
    policy = AccountPolicy(config.accounts, limited_proxies=grid.limited_proxies)

    backend, backend_service = make_backend_service(config, reactor)
    backend_service.setServiceParent(top)

    def tls_context(trust):
        return build_context(
            config.server.host_cert, config.server.host_key, trust, grid.crl != "off"
        )

    tls = GridServerTLS(tls_context(trust))
    root = make_root(backend, policy, identify, config.server.public_url, reactor)
    site = authenticating(
        make_site(root, config.server.max_body, config.server.request_timeout, reactor),
        authenticator,
    )
    listener = strports.service(
        config.server.listen,
        TLSMemoryBIOFactory(tls, False, site, clock=reactor),
        reactor=reactor,
    )
    listener.setServiceParent(top)

    def reload_blocking():
        trust, vomsdir = read_trust()
        return trust, vomsdir, tls_context(trust)

    def apply(result):
        new_trust, new_vomsdir, context = result
        tls.replace(context)
        authenticator.reload(new_trust, new_vomsdir)

    watcher = TrustWatcher(
        lambda: (fingerprint(grid.ca_dir), fingerprint(grid.vomsdir)), reload_blocking, apply
    )
    watcher.service(TRUST_POLL_INTERVAL, reactor).setServiceParent(top)
    reactor.callWhenRunning(
        signal.signal, signal.SIGHUP, lambda *_: reactor.callFromThread(watcher.check, True)
    )
    if demo_setup is not None:
        # Last: the listener is up when the commands are printed.
        demo.AnnounceService(demo_setup, emulator).setServiceParent(top)
    return top
