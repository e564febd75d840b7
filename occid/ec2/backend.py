# -*- test-case-name: tests.test_ec2_backend -*-
"""
The EC2 backend: one client and catalog per account, every boto3 call in
the EC2 thread pool; catalogs loaded once and served from memory (a first
load shared, the catalogues shared by the processes of a host), the
accounts' collections, user mixins and saved images, reconciler passes over
every account, and short back-off timers watching each new compute whose
inline links wait for it to run (so they are made within seconds, not at
the next reconciler pass).  L{occid.ec2.service} runs it as a Twisted
service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from occid import metrics
from occid.ec2.account import Account
from occid.ec2.adapter import OPERATIONS, EC2Collection
from occid.ec2.breaker import COOL_DOWN, FAILURES_TO_OPEN, State
from occid.ec2.images import EC2ImageStore
from occid.ec2.members import MemberCollection
from occid.ec2.reconciler import Report, complete_instance, reconcile
from occid.ec2.regional import Served
from occid.ec2.regions import RegionMap
from occid.ec2.reports import logged
from occid.ec2.scope import Scope
from occid.ec2.sharedcatalog import SharedCatalogue
from occid.ec2.usermixins import Definitions, EC2MixinStore
from occid.ec2.watched import WatchedComputes
from occid.gsi.principal import Principal
from occid.interfaces import IBackend, ICatalog, IEntityCollection, IImageStore, IMixinStore
from occid.occi import infrastructure as infra
from occid.occi import usermixins
from occid.occi.errors import NotFound
from occid.occi.model import Kind
from occid.policy import AccountBinding

#: Seconds between reconciler passes.
RECONCILE_EVERY = 60.0

#: Seconds before the first look at a new compute whose inline links wait for
#: it to run; each next look waits twice as long, up to L{RECONCILE_EVERY}.
WATCH_FIRST = 2.0


def always() -> bool:
    """The leadership of a process alone: it runs the reconciler and reads EC2's catalogues."""
    return True



@implementer(IBackend)
class EC2Backend:
    """Catalogs and entity collections of the configured AWS accounts."""

    log = Logger()

    def __init__(self, reactor: IReactorFromThreads, threadpool: ThreadPool,
                 accounts: Mapping[str, Account | Served],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 shared_dir: str = "", leading: Callable[[], bool] = always):
        """
        @param accounts: by name, each account in a gateway of one region,
            or its L{Served} regions.
        @param shared_dir: the host's coordination directory, where the
            catalogues are shared (L{SharedCatalogue}) while C{leading()}
            says which process reads them from EC2; C{""}: this process
            reads its own.
        """
        self._reactor = reactor
        self._pool = threadpool
        self._served = {name: served if isinstance(served, Served) else Served((served,))
                        for name, served in accounts.items()}
        self._clock = clock
        self._loading: dict[tuple[str, str], list[Deferred[Any]]] = {}
        self._definitions = {name: Definitions(name, served.accounts[0].ssm)
                             for name, served in self._served.items()}
        self._shares = {
            (account.name, account.aws.region):
                SharedCatalogue(shared_dir, account.aws.region, account.catalog, leading)
            for account in self._every_region()} if shared_dir else {}
        for account in self._every_region():
            metrics.CATALOGUE_AGE.labels(account.name, account.aws.region).set_function(
                account.catalog.age)
            account.breaker.on_change = partial(self._breaker_changed, account)

    def _breaker_changed(self, account: Account, state: State, reason: str) -> None:
        """Log, from the reactor thread, that C{account}'s breaker opened or closed."""
        if state is State.OPEN:
            self._reactor.callFromThread(
                self.log.warn, "EC2 breaker of account {account} region {region} opened "
                "after {failures} calls without an answer (last: {reason}): its calls are "
                "answered 503 for {cool_down:g} s, then one probes", account=account.name,
                region=account.aws.region, failures=FAILURES_TO_OPEN, reason=reason,
                cool_down=COOL_DOWN, breaker="open")
        else:
            self._reactor.callFromThread(
                self.log.info, "EC2 breaker of account {account} region {region} closed: "
                "EC2 answers again", account=account.name, region=account.aws.region,
                breaker="closed")

    def breaker_states(self) -> list[tuple[str, str, str]]:
        """
        (account, region, state) of the EC2 breaker of every account in every
        region served; the state is C{closed}, C{open} or C{half-open}
        (L{occid.ec2.breaker.State}).  From the reactor thread, without
        calling EC2.
        """
        return [(account.name, account.aws.region, account.breaker.state().value)
                for account in self._every_region()]

    def _served_as(self, name: str) -> Served:
        try:
            return self._served[name]
        except KeyError:
            raise NotFound(f"no account {name} in this backend") from None

    def _every_region(self) -> list[Account]:
        """The account of every (account, region) served."""
        return [account for served in self._served.values() for account in served.accounts]

    def catalogue_problems(self) -> list[str]:
        """The readiness check of the catalogues: each account and region never loaded."""
        return [f"the catalogue of account {account.name} in {account.aws.region} "
                "is not loaded yet" for account in self._every_region()
                if not account.catalog.loaded]

    def catalog(self, binding: AccountBinding,
                principal: Principal | None = None) -> Deferred[ICatalog]:
        """
        The catalog of C{principal} in its account (the account's own plus
        the saved images and user mixins it sees), or the account's without
        a principal; from memory once loaded (a first load is shared; the
        user mixins are read from SSM again once their cache is stale).  In
        a gateway of several regions, the regions' catalogs in one; a region
        whose catalogue cannot be loaded is left out while another loads.
        """
        try:
            served = self._served_as(binding.account)
        except NotFound:
            return fail()
        if all(account.catalog.loaded for account in served.accounts):
            loading: Deferred[Any] = succeed(list(served.accounts))
        else:
            loading = DeferredList([
                succeed(None) if account.catalog.loaded else self._shared_refresh(account)
                for account in served.accounts], consumeErrors=True).addCallback(
                    self._loaded_regions, served)
        if principal is None:
            return loading.addCallback(lambda loaded: served.catalog(
                [(account, account.catalog.catalog) for account in loaded]))
        scope = Scope(principal, binding)
        definitions = self._definitions[served.name]
        if not definitions.fresh:
            loading.addCallback(lambda loaded: self._load_definitions(definitions)
                                .addCallback(lambda _: loaded))
        return loading.addCallback(lambda loaded: definitions.catalog_for(served.catalog(
            [(account, account.catalog.catalog_for(scope)) for account in loaded]), scope))

    def _loaded_regions(self, results: list[tuple[bool, Any]],
                        served: Served) -> list[Account] | Failure:
        """The accounts of C{served} whose catalogue is loaded; the first failure if none."""
        loaded = [account for account in served.accounts if account.catalog.loaded]
        if loaded:
            return loaded
        return next(result for ok, result in results if not ok)

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
        key = (account.name, account.aws.region)
        first = key not in self._loading
        self._loading.setdefault(key, []).append(waiting)
        if first:
            self._refresh(account).addBoth(self._loaded, key)
        return waiting

    def _loaded(self, result: object, key: tuple[str, str]) -> None:
        for waiting in self._loading.pop(key, []):
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
                              key=dropped.key, value=dropped.value, account=account.label,
                              consequence=dropped.consequence)
            return catalog

        share = self._shares.get((account.name, account.aws.region))
        load = share.refresh if share is not None else account.catalog.refresh
        return deferToThreadPool(self._reactor, self._pool, load).addCallback(warn)

    def collection(self, kind: Kind, principal: Principal,
                   binding: AccountBinding) -> IEntityCollection:
        """The collection of C{kind}, bound to this principal and account."""
        operations = OPERATIONS.get(kind)
        if operations is None:
            raise NotFound(f"no collection of {kind.term} here")
        scope = Scope(principal, binding)

        def one(account: Account) -> IEntityCollection:
            arguments = (self._reactor, self._pool, account, scope, operations)
            inner = (WatchedComputes(*arguments, watch=self.watch) if kind == infra.COMPUTE
                     else EC2Collection(*arguments))
            if kind not in usermixins.APPLIES:
                return inner
            store = self._store(account, principal, binding)

            def carried(entities: list[Any]) -> Deferred[list[Any]]:
                if not store.asks(entities):
                    return succeed(entities)
                return deferToThreadPool(self._reactor, self._pool, store.carried, entities)

            return MemberCollection(inner, store, carried)

        return self._served_as(binding.account).collection(one)

    def mixins(self, principal: Principal, binding: AccountBinding) -> IMixinStore:
        """
        The user mixins of C{binding}'s account, bound to C{principal}: kept
        in its first region (the home region unless the account is narrowed),
        whose entities alone they are associated with
        here (another region's take them through an update of the entity).
        """
        served = self._served_as(binding.account)
        return self._store(served.accounts[0], principal, binding, served.regions)

    def images(self, principal: Principal, binding: AccountBinding) -> IImageStore:
        """The images saved in C{binding}'s account, as C{principal} may delete them."""
        return EC2ImageStore(self._reactor, self._pool, self._served_as(binding.account).holding,
                             Scope(principal, binding))

    def _store(self, account: Account, principal: Principal, binding: AccountBinding,
               regions: RegionMap | None = None) -> EC2MixinStore:
        return EC2MixinStore(self._reactor, self._pool, account,
                             self._definitions[account.name], Scope(principal, binding), regions)

    def refresh_catalogs(self) -> Deferred[Any]:
        """Reload every account's templates; failures are logged, the old ones kept."""
        def failed(failure: Failure, name: str) -> None:
            self.log.failure("could not refresh the catalog of account {account}",
                             failure, account=name)

        return DeferredList([
            self._shared_refresh(account).addErrback(failed, account.label)
            for account in self._every_region()
        ])

    def refresh_distributed(self) -> Deferred[Any]:
        """
        Look again at the images occid-images imported, in every loaded
        account: a new one is offered, a retired one no longer, within a
        minute.  Failures are logged, the last ones kept.
        """
        def changed(done: bool, name: str) -> None:
            if done:
                self.log.info("imported images of account {account} changed", account=name)

        def failed(failure: Failure, name: str) -> None:
            self.log.failure("could not read the imported images of account {account}",
                             failure, account=name)

        def look(account: Account) -> Callable[[], bool]:
            share = self._shares.get((account.name, account.aws.region))
            return (share.refresh_distributed if share is not None
                    else account.catalog.refresh_distributed)

        return DeferredList([
            deferToThreadPool(self._reactor, self._pool, look(account))
            .addCallback(changed, account.label).addErrback(failed, account.label)
            for account in self._every_region() if account.catalog.loaded
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
                logged(report, self.log, account.label)
            elif delay * 2 <= RECONCILE_EVERY:
                self.watch(account, id, delay * 2)

        def failed(failure: Failure) -> None:
            self.log.failure("watching the links of {vm_id} in {account} failed", failure,
                             vm_id=id, account=account.label)

        return deferToThreadPool(self._reactor, self._pool, complete_instance, account, id
                                 ).addCallback(done).addErrback(failed)

    def reconcile(self) -> Deferred[Any]:
        """One reconciler pass over every account; its outcome is logged."""
        now = self._clock()

        def failed(failure: Failure, name: str) -> None:
            self.log.failure("reconciler pass failed in {account}", failure, account=name)

        return DeferredList([
            deferToThreadPool(self._reactor, self._pool, reconcile, account, now)
            .addCallback(logged, self.log, account.label).addErrback(failed, account.label)
            for account in self._every_region()
        ])
