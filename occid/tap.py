# -*- test-case-name: tests.test_tap -*-
"""
twistd's entry point for C{twistd occid}: command-line options and the
service tree.  Wiring only: every piece is built elsewhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, ClassVar

from twisted.application import service, strports
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python import usage
from twisted.python.threadpool import ThreadPool

from occid import __version__
from occid import config as configmodule
from occid.demo import preparation
from occid.demo.announce import AnnounceService
from occid.demo.emulator import EmulatorService
from occid.demo.issuer import issuer_service
from occid.ec2.backend import EC2Backend, ThreadPoolService, make_backend_service
from occid.ec2.profiles import check_profiles
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.chain import ChainOptions
from occid.policy import AccountPolicy
from occid.server import logformat, preflight
from occid.server.bounded import Deadlines
from occid.server.channel import log_dropped_ac
from occid.server.connections import CappedTLSFactory, Caps
from occid.server.credentials import make_identify
from occid.server.health import Check, make_health_site, trust_current
from occid.server.pipeline import make_root
from occid.server.reload import ReloadService, TrustFiles
from occid.server.site import make_site
from occid.server.tls import GridServerTLS
from occid.server.tokens import TokenAuthenticator, TokenService


class Options(usage.Options):
    """Options of C{twistd occid}."""

    synopsis = "[--config PATH] | --demo [--demo-dir DIR] [--port N]"
    longdesc = (
        f"occid {__version__}: an OCCI 1.1/1.2 gateway to Amazon EC2 for grid users "
        "authenticated by RFC 3820 proxies with VOMS attributes.  With --demo it "
        "serves https://localhost:11443 with a throwaway CA, a VOMS proxy and an "
        "embedded EC2 emulator, and prints commands to try."
    )
    optFlags: ClassVar[list[list[str | None]]] = [
        ["demo", None, "Run the embedded demo instead of reading --config."],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        ["config", "c", configmodule.DEFAULT_PATH, "The occid.toml configuration file."],
        ["demo-dir", None, preparation.DEFAULT_DIRECTORY,
         "With --demo: where the demo keeps its credentials and configuration."],
        ["port", None, preparation.DEFAULT_PORT, "With --demo: the port on 127.0.0.1 to serve.", int],
        ["log-format", None, "text",
         "text, or json: one JSON object per line and event (journald, ELK)."],
    ]

    def opt_version(self):
        """Print occid's version and exit."""
        print(f"occid {__version__}")
        raise SystemExit(0)

    def postOptions(self) -> None:
        if self["log-format"] not in logformat.FORMATS:
            raise usage.UsageError(f"--log-format is {' or '.join(logformat.FORMATS)}, "
                                   f"not {self['log-format']!r}")
        if self["demo"]:
            self._prepare_demo()
        elif self["demo-dir"] != preparation.DEFAULT_DIRECTORY or self["port"] != preparation.DEFAULT_PORT:
            raise usage.UsageError("--demo-dir and --port go with --demo")
        try:
            self["loaded"] = preflight.load(self["config"])
            check_profiles(self["loaded"])
        except configmodule.ConfigError as e:
            raise usage.UsageError(str(e)) from e

    def _prepare_demo(self) -> None:
        """Credentials, environment and configuration of the demo; --config names its file."""
        if self["config"] != configmodule.DEFAULT_PATH:
            raise usage.UsageError("--demo writes its own configuration; leave out --config")
        if not 0 < self["port"] < 65536:
            raise usage.UsageError(f"--port {self['port']} is not a TCP port")
        if importlib.util.find_spec("moto") is None:
            raise usage.UsageError("the demo needs moto: pip install 'occid[demo]'")
        self["demo_setup"] = preparation.prepare(self["demo-dir"], self["port"])
        self["config"] = self["demo_setup"].files.config


#: The most calls to OIDC issuers at once (a pool of their own, so that a
#: slow issuer holds up neither EC2 calls nor DNS).
TOKEN_THREADS = 4


def _token_authenticator(oidc: configmodule.OidcConfig, reactor: Any,
                         top: service.MultiService) -> TokenAuthenticator | None:
    """
    With C{[oidc]} issuers, the token authenticator, its thread pool and the
    service fetching the issuers' keys, under C{top}; else C{None}.
    """
    if not oidc.enabled:
        return None
    pool = ThreadPool(0, TOKEN_THREADS, "occid-oidc")
    ThreadPoolService(reactor, pool).setServiceParent(top)

    def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        return deferToThreadPool(reactor, pool, function, *args, **kwargs)

    tokens = TokenAuthenticator(oidc, reactor, run)
    TokenService(tokens, oidc.refresh, reactor).setServiceParent(top)
    return tokens


def readiness_checks(config: configmodule.Config, authenticator: GridAuthenticator,
                     backend: EC2Backend, reactor: Any) -> list[Check]:
    """
    What C{/readyz} checks: the trust store in use and its CRLs, and every
    account's catalogue in every region.
    """
    return [
        trust_current(lambda: authenticator.trust, config.grid.crl, reactor),
        backend.catalogue_problems,
    ]


def makeService(options: Options, reactor: Any = None) -> service.MultiService:
    """
    The daemon: the EC2 backend (thread pool, catalogs, reconciler), the TLS
    listener serving the OCCI resource, the metrics listener (with
    C{[metrics]}), and the trust reload service; logging as
    C{--log-format} says.

    @param options: the parsed L{Options}.
    @param reactor: the reactor everything runs on (and the one clock);
        the global reactor by default.
    """
    if reactor is None:
        from twisted.internet import reactor
    config = options["loaded"]
    top = logformat.top_service(options["log-format"], getattr(options, "parent", None))
    demo_setup = options.get("demo_setup")
    if demo_setup is not None:
        # First, so that EC2 answers before the backend loads its catalogs.
        emulator = EmulatorService(demo_setup, reactor)
        emulator.setServiceParent(top)
        # Before the token service, which fetches its keys when it starts.
        issuer_service(demo_setup.issuer, reactor).setServiceParent(top)

    grid = config.grid
    files = TrustFiles(config.server, grid, reactor)
    trust = files.load()
    authenticator = GridAuthenticator(
        trust.store,
        trust.vomsdir,
        ChainOptions.from_config(grid),
        host=config.server.public_host,
        log_dropped=log_dropped_ac,
    )
    policy = AccountPolicy(config.accounts, limited_proxies=grid.limited_proxies)

    backend, backend_service = make_backend_service(config, reactor)
    backend_service.setServiceParent(top)

    tokens = _token_authenticator(config.oidc, reactor, top)
    tls = GridServerTLS(trust.context)
    root = make_root(backend, policy, make_identify(tokens, reactor),
                     config.server.public_url, reactor)
    server = config.server
    site = make_site(
        root, server.max_body, server.request_timeout, reactor, authenticator,
        Deadlines(server.header_timeout, server.idle_timeout),
    )
    caps = Caps(server.max_connections, server.max_connections_per_peer)
    listener = strports.service(
        server.listen, CappedTLSFactory(caps, tls, site, reactor), reactor=reactor
    )
    listener.setServiceParent(top)
    if config.metrics is not None:
        checks = readiness_checks(config, authenticator, backend, reactor)
        strports.service(config.metrics.listen, make_health_site(checks, reactor),
                         reactor=reactor).setServiceParent(top)

    def in_reactor_pool(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        # The injected reactor's pool, asked for when a reload runs.
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    ReloadService(files, tls, authenticator, reactor, in_reactor_pool).setServiceParent(top)
    if demo_setup is not None:
        # Last: the listener is up when the commands are printed.
        AnnounceService(demo_setup, emulator).setServiceParent(top)
    return top
