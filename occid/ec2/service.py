# -*- test-case-name: tests.test_ec2_backend -*-
"""
The EC2 backend as a Twisted service: a dedicated thread pool for every
boto3 call, a timer refreshing the catalogs, a one-minute timer looking for
images occid-images imported or retired, and a timer running the reconciler
over every account.

The pool starts in C{startService} and stops after the reactor has shut
down (joining its threads waits for at most one EC2 call's timeout), so
requests still in flight during shutdown can finish.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from twisted.application.internet import TimerService
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorThreads
from twisted.python.threadpool import ThreadPool

from occid.config import Config
from occid.ec2.accounts import serve
from occid.ec2.backend import RECONCILE_EVERY, EC2Backend, always
from occid.ec2.clients import build_ssm_clients

#: Seconds between catalogue refreshes (AMIs, instance types, zones).
CATALOG_REFRESH = 900.0

#: Seconds between the looks for images occid-images imported or retired
#: (one tag-filtered DescribeImages per account and region).
DISTRIBUTED_REFRESH = 60.0


def reconcile_if(leading: Callable[[], bool], backend: EC2Backend) -> Deferred[Any] | None:
    """A reconciler pass of C{backend} if this process C{leading()}, else nothing."""
    return backend.reconcile() if leading() else None


class ThreadPoolService(Service):
    """
    Starts a thread pool with the service; stops it after reactor shutdown,
    or on L{release} (a replaced configuration's pool, once unused).
    """

    _trigger: Any = None
    _stopped = False

    def __init__(self, reactor: IReactorCore, pool: ThreadPool):
        self._reactor = reactor
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()
        self._trigger = self._reactor.addSystemEventTrigger("after", "shutdown", self._stop)

    def _stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.pool.stop()

    def release(self) -> None:
        """
        Stop the pool now rather than at shutdown: in one of the reactor's
        threads, since joining waits for a call still running.
        """
        if self._trigger is not None:
            self._reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        if not self._stopped:
            IReactorThreads(self._reactor).callInThread(self._stop)


def make_backend_service(config: Config, reactor: Any,
                         leading: Callable[[], bool] = always) -> tuple[EC2Backend, MultiService]:
    """
    The backend and the service that runs it: the C{occid-aws} thread pool,
    the catalog timer (first load at start) and the reconciler timer, whose
    passes run only while C{leading()} (L{occid.leadership}: one process
    of the host runs them; with C{[server] coordination_dir} that process
    alone reads the catalogues from EC2, L{occid.ec2.sharedcatalog.SharedCatalogue}).
    Clients are built here, in the main thread, before any thread runs.
    """
    pool = ThreadPool(0, config.aws.threads, "occid-aws")
    backend = EC2Backend(
        reactor, pool,
        serve(config, build_ssm_clients(config)),
        clock=lambda: datetime.fromtimestamp(reactor.seconds(), UTC),
        shared_dir=config.server.coordination_dir, leading=leading,
    )
    service = MultiService()
    ThreadPoolService(reactor, pool).setServiceParent(service)
    for step, call in ((CATALOG_REFRESH, backend.refresh_catalogs),
                       (DISTRIBUTED_REFRESH, backend.refresh_distributed),
                       (RECONCILE_EVERY, partial(reconcile_if, leading, backend))):
        timer = TimerService(step, call)
        timer.clock = reactor
        timer.setServiceParent(service)
    return backend, service
