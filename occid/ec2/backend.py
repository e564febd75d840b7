# -*- test-case-name: tests.test_ec2_backend -*-
"""
The EC2 backend as a Twisted service: one client and catalog per account,
a dedicated thread pool for every boto3 call, a timer refreshing the
catalogs, a timer running the reconciler over every account, and short
back-off timers watching each new compute whose inline links wait for it to
run (so they are made within seconds, not at the next reconciler pass).

The pool starts in C{startService} and stops after the reactor has shut
down (joining its threads waits for at most one EC2 call's timeout), so
requests still in flight during shutdown can finish.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from twisted.application.internet import TimerService
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from occid.config import Config
from occid.ec2.account import Account, SecurityGroups
from occid.ec2.adapter import OPERATIONS, EC2Collection
from occid.ec2.catalog import AccountCatalog
from occid.ec2.clients import EC2Client, build_clients, build_ssm_clients
from occid.ec2.images import EC2ImageStore
from occid.ec2.mapping import PUBLIC
from occid.ec2.members import MemberCollection
from occid.ec2.reconciler import Report, complete_instance, reconcile
from occid.ec2.scope import Scope
from occid.ec2.usermixins import Definitions, EC2MixinStore
from occid.gsi.principal import Principal
from occid.interfaces import IBackend, ICatalog, IEntityCollection, IImageStore, IMixinStore
from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.errors import NotFound
from occid.occi.model import Entity, Kind, Resource
from occid.policy import AccountBinding

#: Seconds between catalogue refreshes (AMIs, instance types, zones).
CATALOG_REFRESH = 900.0

#: Seconds between reconciler passes.
RECONCILE_EVERY = 60.0

#: Seconds before the first look at a new compute whose inline links wait for
#: it to run; each next look waits twice as long, up to L{RECONCILE_EVERY}.
WATCH_FIRST = 2.0


def awaits_links(entity: Entity) -> bool:
    """
    Whether a created compute has inline links (public address, storage)
    still waiting for it to run.
    """
    return isinstance(entity, Resource) and any(
        link.attributes.get(f"occi.{link.kind.term}.state") == "inactive"
        and (link.kind == infra.STORAGELINK or link.target == f"/network/{PUBLIC}")
        for link in entity.links)


class WatchedComputes(EC2Collection):
    """
    The computes of a principal, whose creates hand a compute with pending
    inline links to C{watch} (L{EC2Backend.watch}).
    """

    def __init__(self, *args: Any, watch: Callable[[Account, str], None]) -> None:
        super().__init__(*args)
        self._watch = watch

    def create(self, entity: Entity, idempotency_key: str | None = None) -> Deferred[Entity]:
        def watched(created: Entity) -> Entity:
            if awaits_links(created):
                self._watch(self._account, created.id)
            return created

        return super().create(entity, idempotency_key).addCallback(watched)


@implementer(IBackend)
class EC2Backend:
    """Catalogs and entity collections of the configured AWS accounts."""

    log = Logger()

    def __init__(self, reactor: IReactorFromThreads, threadpool: ThreadPool,
                 accounts: dict[str, Account],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._reactor = reactor
        self._pool = threadpool
        self._accounts = dict(accounts)
        self._clock = clock
        self._loading: dict[str, list[Deferred[Any]]] = {}
        self._definitions = {name: Definitions(name, account.ssm)
                             for name, account in self._accounts.items()}

    def _account(self, name: str) -> Account:
        try:
            return self._accounts[name]
        except KeyError:
            raise NotFound(f"no account {name} in this backend") from None

    def catalog(self, binding: AccountBinding,
                principal: Principal | None = None) -> Deferred[ICatalog]:
        """
        The catalog of C{principal} in its account (the account's own plus
        the saved images and user mixins it sees), or the account's without
        a principal; from memory once loaded (a first load is shared; the
        user mixins are read from SSM again once their cache is stale).
        """
        try:
            account = self._account(binding.account)
        except NotFound:
            return fail()
        loading = succeed(None) if account.catalog.loaded else self._shared_refresh(account)
        if principal is None:
            return loading.addCallback(lambda _: account.catalog.catalog)
        scope = Scope(principal, binding)
        definitions = self._definitions[account.name]
        if not definitions.fresh:
            loading.addCallback(lambda _: self._load_definitions(definitions))
        return loading.addCallback(
            lambda _: definitions.catalog_for(account.catalog.catalog_for(scope), scope))

    def _load_definitions(self, definitions: Definitions) -> Deferred[Any]:
        """Read the user mixins again; on failure keep the last ones for a TTL, and log."""
        def failed(failure: Failure) -> None:
            definitions.hold()
            self.log.failure("could not read the user mixins of account {account}",
                             failure, account=definitions.account)

        return deferToThreadPool(self._reactor, self._pool, definitions.load).addErrback(failed)

    def _shared_refresh(self, account: Account) -> Deferred[Any]:
        """
        Fires when the account's load in progress (the timer's or a
        request's), or else a new one, ends: never two loads at once.
        """
        waiting: Deferred[Any] = Deferred()
        first = account.name not in self._loading
        self._loading.setdefault(account.name, []).append(waiting)
        if first:
            self._refresh(account).addBoth(self._loaded, account.name)
        return waiting

    def _loaded(self, result: object, name: str) -> None:
        for waiting in self._loading.pop(name, []):
            if isinstance(result, Failure):
                waiting.errback(result)
            else:
                waiting.callback(result)

    def _refresh(self, account: Account) -> Deferred[ICatalog]:
        def warn(catalog: ICatalog) -> ICatalog:
            cached = account.catalog
            for dropped in cached.templates.dropped:
                self.log.warn("{path}: {key}: {value!r} left out of the catalogue of account "
                              "{account}: {consequence}", path=cached.config_path,
                              key=dropped.key, value=dropped.value, account=account.name,
                              consequence=dropped.consequence)
            return catalog

        return deferToThreadPool(self._reactor, self._pool, account.catalog.refresh
                                 ).addCallback(warn)

    def collection(self, kind: Kind, principal: Principal,
                   binding: AccountBinding) -> IEntityCollection:
        """The collection of C{kind}, bound to this principal and account."""
        operations = OPERATIONS.get(kind)
        if operations is None:
            raise NotFound(f"no collection of {kind.term} here")
        account = self._account(binding.account)
        arguments = (self._reactor, self._pool, account, Scope(principal, binding), operations)
        collection = (WatchedComputes(*arguments, watch=self.watch) if kind == infra.COMPUTE
                      else EC2Collection(*arguments))
        if kind not in usermixins.APPLIES:
            return collection
        store = self._store(account, principal, binding)

        def carried(entities: list[Any]) -> Deferred[list[Any]]:
            return deferToThreadPool(self._reactor, self._pool, store.carried, entities)

        return MemberCollection(collection, store, carried)

    def mixins(self, principal: Principal, binding: AccountBinding) -> IMixinStore:
        """The user mixins of C{binding}'s account, bound to C{principal}."""
        return self._store(self._account(binding.account), principal, binding)

    def images(self, principal: Principal, binding: AccountBinding) -> IImageStore:
        """The images saved in C{binding}'s account, as C{principal} may delete them."""
        return EC2ImageStore(self._reactor, self._pool, self._account(binding.account),
                             Scope(principal, binding))

    def _store(self, account: Account, principal: Principal,
               binding: AccountBinding) -> EC2MixinStore:
        return EC2MixinStore(self._reactor, self._pool, account,
                             self._definitions[account.name], Scope(principal, binding))

    def refresh_catalogs(self) -> Deferred[Any]:
        """Reload every account's templates; failures are logged, the old ones kept."""
        def failed(failure: Failure, name: str) -> None:
            self.log.failure("could not refresh the catalog of account {account}",
                             failure, account=name)

        return DeferredList([
            self._shared_refresh(account).addErrback(failed, account.name)
            for account in self._accounts.values()
        ])

    def watch(self, account: Account, id: str, delay: float = WATCH_FIRST) -> None:
        """
        Look at instance C{id} in C{delay} seconds, and make its recorded
        links (L{complete_instance}) once it runs; while it is pending, look
        again after twice the delay, until that exceeds L{RECONCILE_EVERY}:
        the reconciler's timer then takes over.  The watch lives only in
        this process: the intent is the instance's tag, so losing it (a
        restart) only delays the links until the next reconciler pass.
        """
        timers = cast(IReactorTime, self._reactor)
        timers.callLater(delay, self._look, account, id, delay)

    def _look(self, account: Account, id: str, delay: float) -> Deferred[Any]:
        def done(report: Report | None) -> None:
            if report is not None:
                self._logged(report, account.name)
            elif delay * 2 <= RECONCILE_EVERY:
                self.watch(account, id, delay * 2)

        def failed(failure: Failure) -> None:
            self.log.failure("watching the links of {vm_id} in {account} failed", failure,
                             vm_id=id, account=account.name)

        return deferToThreadPool(self._reactor, self._pool, complete_instance, account, id
                                 ).addCallback(done).addErrback(failed)

    def _logged(self, report: Report, name: str) -> Report:
        """Log what a reconciler pass (or a watcher's look) did in account C{name}."""
        for error in report.errors:
            self.log.warn("reconciler in {account}: {error}", account=name, error=error)
        for link in report.links_abandoned:
            self.log.warn("reconciler in {account} gave up the link {link}",
                          account=name, link=link)
        changes = (report.links_made, report.key_pairs_deleted,
                   report.addresses_released, report.interfaces_deleted)
        if any(changes):
            self.log.info(
                "reconciler in {account}: links made {links}, key pairs deleted {keys}, "
                "addresses released {addresses}, interfaces deleted {interfaces}",
                account=name, links=report.links_made, keys=report.key_pairs_deleted,
                addresses=report.addresses_released, interfaces=report.interfaces_deleted)
        return report

    def reconcile(self) -> Deferred[Any]:
        """One reconciler pass over every account; its outcome is logged."""
        now = self._clock()

        def failed(failure: Failure, name: str) -> None:
            self.log.failure("reconciler pass failed in {account}", failure, account=name)

        return DeferredList([
            deferToThreadPool(self._reactor, self._pool, reconcile, account, now)
            .addCallback(self._logged, account.name).addErrback(failed, account.name)
            for account in self._accounts.values()
        ])


class ThreadPoolService(Service):
    """Starts a thread pool with the service; stops it after reactor shutdown."""

    def __init__(self, reactor: IReactorCore, pool: ThreadPool):
        self._reactor = reactor
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()
        self._reactor.addSystemEventTrigger("after", "shutdown", self.pool.stop)


def make_accounts(config: Config, clients: dict[str, EC2Client],
                  ssm: dict[str, Any] | None = None) -> dict[str, Account]:
    """
    The in-memory state of every configured account (nothing loaded yet);
    C{ssm}: their SSM clients, for user mixins.
    """
    host = config.server.public_host
    return {
        name: Account(
            name=name, client=client, aws=config.aws_for(name),
            catalog=AccountCatalog(name, client, config.aws_for(name), config.images_for(name),
                                   host, config.path, config.template_keys(name)),
            groups=SecurityGroups(client, config.aws.ssh_cidr),
            ssm=(ssm or {}).get(name),
            limits=config.account(name).limits,
        )
        for name, client in clients.items()
    }


def make_backend_service(config: Config, reactor: Any) -> tuple[EC2Backend, MultiService]:
    """
    The backend and the service that runs it: the C{occid-aws} thread pool,
    the catalog timer (first load at start) and the reconciler timer.
    Clients are built here, in the main thread, before any thread runs.
    """
    pool = ThreadPool(0, config.aws.threads, "occid-aws")
    backend = EC2Backend(
        reactor, pool,
        make_accounts(config, build_clients(config), build_ssm_clients(config)),
        clock=lambda: datetime.fromtimestamp(reactor.seconds(), UTC),
    )
    service = MultiService()
    ThreadPoolService(reactor, pool).setServiceParent(service)
    for step, call in ((CATALOG_REFRESH, backend.refresh_catalogs),
                       (RECONCILE_EVERY, backend.reconcile)):
        timer = TimerService(step, call)
        timer.clock = reactor
        timer.setServiceParent(service)
    return backend, service
