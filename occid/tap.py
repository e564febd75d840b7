# -*- test-case-name: tests.test_tap -*-
"""
twistd's entry point for C{twistd occid}: command-line options and the
service tree.  Wiring only: every piece is built elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from twisted.application import service, strports
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python import usage

from occid import __version__
from occid import config as configmodule
from occid.demo import preparation
from occid.demo.announce import AnnounceService
from occid.demo.emulator import EmulatorService
from occid.demo.issuer import issuer_service
from occid.ec2.backend import always
from occid.ec2.profiles import check_profiles
from occid.generation import Generation, Generations
from occid.leadership import Leadership
from occid.listenconfig import instance_listen, tcp_address
from occid.server import logformat, preflight
from occid.server.health import Check, make_health_site, trust_current
from occid.server.reload import ReloadService, SpareDescriptors, TrustFiles
from occid.server.reuseport import SharedPortService

#: twistd's default pid file, in the working directory.
TWISTD_PIDFILE = "twistd.pid"


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
        ["instance", None, None,
         "N (1, 2, ...): this process is the Nth of the host; its [metrics] listener "
         "takes the configured port + N - 1 (README: Processes and hosts).", int],
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
        if self["instance"] is not None and self["instance"] < 1:
            raise usage.UsageError(f"--instance is 1 or more, not {self['instance']}")
        try:
            self["loaded"] = preflight.load(self["config"])
            check_profiles(self["loaded"])
            self["metrics_listen"] = metrics_listen(self["loaded"], self["instance"])
        except configmodule.ConfigError as e:
            # The one line that matters, without twistd's usage text.
            print(f"occid: {e}", file=sys.stderr)
            raise SystemExit(1) from None

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
        # twistd's pid file goes with the demo's other files, unless one was asked for.
        parent = getattr(self, "parent", None)
        if parent is not None and parent.get("pidfile") == TWISTD_PIDFILE:
            parent["pidfile"] = os.path.join(os.path.abspath(self["demo-dir"]), TWISTD_PIDFILE)


def metrics_listen(config: configmodule.Config, instance: int | None) -> str | None:
    """
    Where this process serves C{[metrics]}: C{listen}, or with C{--instance
    N} its port + N - 1 (C{None}: no such section).

    @raise ConfigError: C{--instance} with a C{listen} that is not C{tcp:PORT}.
    """
    if config.metrics is None or instance is None:
        return config.metrics.listen if config.metrics is not None else None
    try:
        return instance_listen(config.metrics.listen, instance)
    except ValueError as e:
        raise configmodule.ConfigError(
            config.path, "[metrics] listen",
            f"with --instance, must be a tcp:PORT endpoint whose port + instance - 1 is "
            f"free for each process: {e}") from None


def listener(config: configmodule.Config, factory: Any, reactor: Any) -> service.Service:
    """The OCCI listener: C{[server] listen}, bound with C{SO_REUSEPORT} if C{reuse_port}."""
    server = config.server
    address = tcp_address(server.listen)
    if server.reuse_port and address is not None:
        return SharedPortService(address, factory, reactor)
    return strports.service(server.listen, factory, reactor=reactor)


def readiness_checks(generations: Generations, reactor: Any) -> list[Check]:
    """
    What C{/readyz} checks, in the generation serving when it asks: the
    trust store in use and its CRLs, every account's catalogue in every
    region, and no account's EC2 breaker open in any region.
    """
    def trust() -> list[str]:
        generation = generations.current
        check = trust_current(lambda: generation.authenticator.trust,
                              generation.config.grid.crl, reactor)
        return list(check())

    def breakers() -> list[str]:
        return [f"EC2 does not answer account {account} in {region}: its breaker is {state}"
                for account, region, state in generations.current.backend.breaker_states()
                if state == "open"]

    def catalogues() -> list[str]:
        return list(generations.current.backend.catalogue_problems())

    return [trust, catalogues, breakers]


def makeService(options: Options, reactor: Any = None) -> service.MultiService:
    """
    The daemon: the configuration's generation (EC2 backend, OCCI resource,
    authenticator: L{occid.generation}), the TLS listener serving it, the
    metrics listener (with C{[metrics]}), the reconciler's leadership (with
    C{[server] coordination_dir}) and the reload service (trust files
    polled, everything on SIGHUP); logging as C{--log-format} says.

    @param options: the parsed L{Options}.
    @param reactor: the reactor everything runs on (and the one clock);
        the global reactor by default.
    """
    if reactor is None:
        from twisted.internet import reactor
    config = options["loaded"]
    top = logformat.top_service(options["log-format"], getattr(options, "parent", None))
    logformat.forward_stdlib("occid", "botocore")
    demo_setup = options.get("demo_setup")
    if demo_setup is not None:
        # First, so that EC2 answers before the backend loads its catalogs.
        emulator = EmulatorService(demo_setup, reactor)
        emulator.setServiceParent(top)
        # Before the token service, which fetches its keys when it starts.
        issuer_service(demo_setup.issuer, reactor).setServiceParent(top)

    def in_reactor_pool(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        # The injected reactor's pool, asked for when a reload runs.
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    spare = SpareDescriptors()
    files = TrustFiles(config.server, config.grid, reactor, spare)
    leading: Callable[[], bool] = always
    if config.server.coordination_dir:
        leadership = Leadership(config.server.coordination_dir, reactor)
        leadership.setServiceParent(top)
        leading = leadership.leading
    first = Generation(1, config, files, files.load(), reactor, leading)
    generations = Generations(options["config"], first, spare, reactor, in_reactor_pool)
    generations.setServiceParent(top)
    listener(config, generations.factory, reactor).setServiceParent(top)
    metrics = options.get("metrics_listen")
    if metrics is not None:
        strports.service(metrics,
                         make_health_site(readiness_checks(generations, reactor), reactor),
                         reactor=reactor).setServiceParent(top)
    reload = ReloadService(generations.fingerprint, generations.load_trust,
                           generations.apply_trust, generations.reload, reactor, in_reactor_pool,
                           config.grid.poll_interval)
    reload.setServiceParent(top)
    if demo_setup is not None:
        # Last: the listener is up when the commands are printed.
        AnnounceService(demo_setup, emulator).setServiceParent(top)
    return top
