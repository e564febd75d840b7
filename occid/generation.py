# -*- test-case-name: tests.test_reload_daemon,tests.test_tap -*-
"""
The daemon's configuration as one swappable I{generation}, so that
C{SIGHUP} reloads all of C{occid.toml} without a restart.

Why generations: accounts, policy, images, instance types, limits, quotas,
C{[oidc]}, the host credentials and the trust directories all hang
together, and changing them one by one in place would let a request see
half of the old configuration and half of the new one.  Instead everything
built from one file is one L{Generation}, and what the listener holds are
fronts that never change: L{GenerationResource} (the site's root),
L{GenerationAuthenticator} (each connection's) and the TLS connection
creator.  Each front reads L{Generations.current} once per request or
connection, so a swap is one assignment in the reactor thread: atomic.

A reload reads and checks the new file completely first, in a worker
thread (the same preflight as at start: parse, the files it names, the AWS
profiles, the trust material); anything wrong is logged in one line and the
old generation keeps serving.  Only then is the new generation built, in
that thread too (its EC2 clients read botocore's data files; reloads run
one at a time, so no other thread builds clients meanwhile), and swapped in
in the reactor thread.  A request
finishes on the generation it started on; the old generation's services
(catalogue and reconciler timers, thread pools, the OIDC key fetcher) stop
once its last request has ended.  Open connections validate their chains
again on their next request (a new generation is a new authenticator
epoch, L{occid.server.channel}).

Not part of a generation: the listening sockets and the reconciler's
leadership (L{occid.leadership}).  A changed C{[server] listen},
C{reuse_port} or C{coordination_dir}, or C{[metrics] listen}, is logged as
ignored until a restart.

This module builds both edges (the Twisted one of L{occid.server} and the
EC2 one of L{occid.ec2}), so it sits beside L{occid.tap}, on top of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web import server
from twisted.web.resource import Resource
from zope.interface import implementer

from occid.config import Config, ConfigError, OidcConfig
from occid.ec2.backend import always
from occid.ec2.profiles import check_profiles
from occid.ec2.service import ThreadPoolService, make_backend_service
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.chain import ChainOptions
from occid.gsi.principal import Principal
from occid.interfaces import IAuthenticator
from occid.policy import AccountPolicy
from occid.server import preflight
from occid.server.bounded import Deadlines
from occid.server.channel import log_dropped_ac
from occid.server.connections import CappedTLSFactory, Caps
from occid.server.credentials import make_identify
from occid.server.pipeline import make_root
from occid.server.reload import Reloaded, SpareDescriptors, Trust, TrustFiles
from occid.server.site import Limits, OCCISite
from occid.server.tls import GridServerTLS
from occid.server.tokens import TokenAuthenticator, TokenService
from occid.server.trustwatch import RunInThread, one_line

log = Logger()

#: The most calls to OIDC issuers at once (a pool of their own, so that a
#: slow issuer holds up neither EC2 calls nor DNS).
TOKEN_THREADS = 4


def token_authenticator(oidc: OidcConfig, reactor: Any,
                        parent: MultiService) -> TokenAuthenticator | None:
    """
    With C{[oidc]} issuers, the token authenticator, its thread pool and the
    service fetching the issuers' keys, under C{parent}; else C{None}.
    """
    if not oidc.enabled:
        return None
    pool = ThreadPool(0, TOKEN_THREADS, "occid-oidc")
    ThreadPoolService(reactor, pool).setServiceParent(parent)

    def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        return deferToThreadPool(reactor, pool, function, *args, **kwargs)

    tokens = TokenAuthenticator(oidc, reactor, run)
    TokenService(tokens, oidc.refresh, reactor).setServiceParent(parent)
    return tokens


class Generation:
    """
    Everything built from one reading of C{occid.toml}: the OCCI resource
    over its backend and policy, the authenticator over its trust, the ban
    list, the TLS context and the request limits, and C{service}, which runs
    its timers and pools.

    @ivar number: 1 at start, one more at each reload.
    @ivar requests: how many requests are being served on it.
    """

    def __init__(self, number: int, config: Config, files: TrustFiles, trust: Trust,
                 reactor: Any, leading: Callable[[], bool] = always):
        """
        Build the generation, EC2 clients too (blocking: at start, or in a
        worker thread while no other thread builds clients); nothing runs
        before C{service} starts.

        @param leading: whether this process runs the reconciler and reads
            the shared catalogues from EC2 now (L{occid.leadership}); the
            next generations ask the same.
        """
        self.number = number
        self.leading = leading
        self.config = config
        self.files = files
        self.requests = 0
        self._retired = False
        grid = config.grid
        self.authenticator = GridAuthenticator(
            trust.store, trust.vomsdir, ChainOptions.from_config(grid),
            host=config.server.public_host, log_dropped=log_dropped_ac,
        )
        self.context = trust.context
        self.banned = trust.banned
        server = config.server
        self.limits = Limits(server.max_body, server.request_timeout, reactor)
        self.deadlines = Deadlines(server.header_timeout, server.idle_timeout)
        self.caps = Caps(server.max_connections, server.max_connections_per_peer)
        self.service = MultiService()
        self.backend, backend_service = make_backend_service(config, reactor, leading)
        backend_service.setServiceParent(self.service)
        tokens = token_authenticator(config.oidc, reactor, self.service)
        self._identify = make_identify(tokens, reactor)
        policy = AccountPolicy(config.accounts, limited_proxies=grid.limited_proxies)
        self.resource = make_root(self.backend, policy, self.identify, config.server.public_url, reactor)

    def apply_trust(self, trust: Trust) -> None:
        """New trust material: a new authenticator epoch, a new context and ban list."""
        self.context = trust.context
        self.banned = trust.banned
        self.authenticator.reload(trust.store, trust.vomsdir)

    def identify(self, request: server.Request) -> Principal | Deferred[Principal]:
        """The principal of C{request}, unless the ban list names it."""
        identified = self._identify(request)
        if isinstance(identified, Deferred):
            return identified.addCallback(self.banned.check)
        return self.banned.check(identified)

    def enter(self) -> None:
        """A request starts on this generation."""
        self.requests += 1

    def leave(self) -> None:
        """A request on this generation ended."""
        self.requests -= 1
        if self._retired and self.requests == 0:
            self._stop()

    def retire(self) -> None:
        """Stop this generation's services once its last request has ended."""
        self._retired = True
        if self.requests == 0:
            self._stop()

    def _stop(self) -> None:
        def stopped(_: object) -> None:
            for pool in _pool_services(self.service):
                pool.release()
            log.info("Stopped the services of generation {number}", number=self.number)

        maybeDeferred(self.service.disownServiceParent).addCallback(stopped).addErrback(
            lambda failure: log.failure("Stopping the services of generation {number}", failure,
                                        number=self.number))


def _pool_services(service: IService) -> Iterator[ThreadPoolService]:
    """The thread pool services in the tree under C{service}."""
    if isinstance(service, ThreadPoolService):
        yield service
    if isinstance(service, MultiService):
        for child in service:
            yield from _pool_services(child)


def read_generation(path: str, spare: SpareDescriptors, reactor: Any
                    ) -> tuple[Config, TrustFiles, Trust, object]:
    """
    Read and check the configuration at C{path} and the trust material it
    names (blocking: in a worker thread); with the trust files' fingerprint,
    taken before they are read, so that a file changed while they are read
    is read again by the next poll.

    @raise ConfigError: the configuration is not usable.
    @raise Exception: the trust material cannot be read.
    """
    def read() -> tuple[Config, TrustFiles, Trust, object]:
        config = preflight.load(path)
        check_profiles(config)
        files = TrustFiles(config.server, config.grid, reactor, spare)
        seen = files.fingerprint()
        return config, files, files.load(), seen

    return spare.run(read)


class Generations(MultiService):
    """
    The current L{Generation}, the fronts that serve it (C{tls}, C{site},
    the listener's C{factory} with its connection caps),
    and the reload that replaces it.
    """

    def __init__(self, path: str, first: Generation, spare: SpareDescriptors, reactor: Any,
                 run_in_thread: RunInThread):
        """
        @param path: the configuration file, read again at each reload.
        @param first: the generation read at start.
        @param spare: the descriptors reloads read with.
        @param reactor: the reactor (and clock).
        @param run_in_thread: runs a blocking function in a worker thread.
        """
        super().__init__()
        self._path = path
        self._spare = spare
        self._reactor = reactor
        self._run_in_thread = run_in_thread
        self._listen = _listeners(first.config)
        self._reloading = False
        self.current = first
        first.service.setServiceParent(self)
        self.tls = GridServerTLS(first.context)
        self.site = OCCISite(GenerationResource(self), first.limits,
                             GenerationAuthenticator(self), first.deadlines)
        self.factory = CappedTLSFactory(first.caps, self.tls, self.site, reactor)

    # -- the trust files, polled (L{occid.server.reload.ReloadService}) --------------

    def fingerprint(self) -> object:
        """The current generation's trust files' fingerprint (blocking)."""
        return self.current.files.fingerprint()

    def load_trust(self) -> tuple[Generation, Trust]:
        """The current generation's trust files, read again (blocking)."""
        generation = self.current
        return generation, generation.files.load()

    def apply_trust(self, loaded: tuple[Generation, Trust]) -> None:
        """Apply trust read by L{load_trust}, unless a reload replaced its generation since."""
        generation, trust = loaded
        if generation is self.current:
            generation.apply_trust(trust)
            self.tls.replace(trust.context)

    # -- the whole configuration, on SIGHUP ---------------------------------------------

    def reload(self) -> Deferred[Reloaded | None] | None:
        """
        Read the configuration file again and, if it is usable, serve it.
        Returns a Deferred firing with what the poll must know of it (or
        C{None} when the old configuration stays), or C{None} when a reload
        is already running.
        """
        if self._reloading:
            log.warn("A configuration reload is already running; this one is skipped")
            return None
        self._reloading = True
        d = self._run_in_thread(self._read)
        d.addCallback(self._swap)
        d.addErrback(self._refused)

        def done(result: Reloaded | None) -> Reloaded | None:
            self._reloading = False
            return result

        return d.addBoth(done)

    def _read(self) -> tuple[Generation, object]:
        """
        In a worker thread: the next generation, built from the checked
        configuration and its trust (not started), and the trust files'
        fingerprint.  Reloads run one at a time, so nothing else builds
        boto3 clients meanwhile.
        """
        config, files, trust, seen = read_generation(self._path, self._spare, self._reactor)
        number = self.current.number + 1
        # Its EC2 clients read botocore's data files: with the spares too.
        new = self._spare.run(lambda: Generation(number, config, files, trust, self._reactor,
                                                 self.current.leading))
        return new, seen

    def _refused(self, failure: Failure) -> None:
        """Log in one line why the new configuration is not used."""
        error = failure.value
        reason = str(error) if isinstance(error, ConfigError) else one_line(error)
        log.error("Configuration not reloaded, the old one keeps serving: {reason}", reason=reason)

    def _swap(self, read: tuple[Generation, object]) -> Reloaded:
        """In the reactor thread: serve the new generation, retire the old one."""
        new, fingerprint = read
        config = new.config
        for key, address in _listeners(config).items():
            if address != self._listen[key]:
                log.warn("{key} changed to {new}: ignored until a restart (still {old})",
                         key=key, new=address or "off", old=self._listen[key] or "off")
        old, self.current = self.current, new
        new.service.setServiceParent(self)
        self.tls.replace(new.context)
        self.site.use(new.limits, new.deadlines)
        self.factory.count.caps = new.caps
        log.info("Reloaded the configuration from {path} (generation {number})",
                 path=self._path, number=new.number)
        old.retire()
        return Reloaded(fingerprint, config.grid.poll_interval)


def _listeners(config: Config) -> dict[str, str]:
    """The settings of the listeners and the leadership a reload cannot change, by key."""
    metrics = config.metrics.listen if config.metrics is not None else ""
    server = config.server
    return {"[server] listen": server.listen, "[metrics] listen": metrics,
            "[server] reuse_port": str(server.reuse_port).lower(),
            "[server] coordination_dir": server.coordination_dir}


class GenerationResource(Resource):
    """
    The site's root: each request is served by the OCCI resource of the
    generation current when it arrives, which it keeps until it ends.
    """

    isLeaf = True

    def __init__(self, generations: Generations):
        super().__init__()
        self._generations = generations

    def render(self, request: server.Request) -> Any:
        generation = self._generations.current
        generation.enter()
        request.notifyFinish().addBoth(lambda _: generation.leave())
        return generation.resource.render(request)


@implementer(IAuthenticator)
class GenerationAuthenticator:
    """Each connection's authenticator: the current generation's."""

    def __init__(self, generations: Generations):
        self._generations = generations

    @property
    def epoch(self) -> object:
        """Moves with each generation and each trust reload within one."""
        current = self._generations.current
        return current.number, current.authenticator.epoch

    def authenticate(self, chain: Any, tls_errors: Any, now: Any) -> Principal:
        return self._generations.current.authenticator.authenticate(chain, tls_errors, now)
