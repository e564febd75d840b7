# -*- test-case-name: tests.test_trustwatch,tests.test_tap -*-
"""
Keeps the running daemon's trust current without a restart: the trust
material (CA directory with its CRLs, vomsdir, and the TLS context built over
them) is read at start, re-read when the directories change (polled) or at
once on C{SIGHUP}, and applied to the listener's connection creator and to
the authenticator (which drops its cache of validated principals).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from OpenSSL import SSL
from twisted.application.service import MultiService
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorTime

from occid.config import CrlMode, GridConfig, ServerConfig
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.trust import TrustStore, fingerprint
from occid.gsi.vomsdir import VomsDir
from occid.server.identity import now
from occid.server.tls import GridServerTLS, build_context
from occid.server.trustwatch import RunInThread, TrustWatcher

#: How often the trust dir and vomsdir are checked for changes, in seconds.
TRUST_POLL_INTERVAL = 60

#: The signal that makes the daemon re-read its trust material at once.
RELOAD_SIGNAL = signal.SIGHUP

_Handler = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True)
class Trust:
    """
    The trust material read from disk at one time.

    @ivar store: the CA directory's authorities and CRLs.
    @ivar vomsdir: the VOMS servers' LSC files.
    @ivar context: the TLS context over C{store} and the host credentials.
    """

    store: TrustStore
    vomsdir: VomsDir
    context: SSL.Context


class TrustFiles:
    """
    Where the trust material lives, and how to read it (blocking: at start,
    or in a worker thread).
    """

    def __init__(self, server: ServerConfig, grid: GridConfig, clock: IReactorTime):
        """
        @param server: the host certificate and key.
        @param grid: the CA directory, vomsdir and CRL mode.
        @param clock: the reactor's clock, the time CAs and CRLs are judged at.
        """
        self._server = server
        self._grid = grid
        self._clock = clock

    def fingerprint(self) -> object:
        """A value that changes whenever either directory changes."""
        return fingerprint(self._grid.ca_dir), fingerprint(self._grid.vomsdir)

    def load(self) -> Trust:
        """Read the directories and the host credentials."""
        store = TrustStore.load(self._grid.ca_dir, now(self._clock))
        vomsdir = VomsDir.load(self._grid.vomsdir)
        context = build_context(
            self._server.host_cert, self._server.host_key, store, self._grid.crl is not CrlMode.OFF
        )
        return Trust(store, vomsdir, context)


class ReloadService(MultiService):
    """
    Applies fresh trust material: polled every C{interval} seconds, and at
    once on L{RELOAD_SIGNAL} while the service runs.
    """

    _previous: _Handler = None
    _installed = False

    def __init__(
        self, files: TrustFiles, tls: GridServerTLS, authenticator: GridAuthenticator,
        reactor: IReactorTime, run_in_thread: RunInThread, interval: float = TRUST_POLL_INTERVAL,
    ):
        """
        @param files: the trust material, read in a worker thread.
        @param tls: the listener's connection creator, given each new context.
        @param authenticator: given each new trust store and vomsdir.
        @param reactor: the reactor: the poll's clock, and what runs the
            signal's reload (it must also provide C{IReactorCore} and
            C{IReactorFromThreads}).
        @param run_in_thread: runs a function in a worker thread and gives
            a Deferred of its result (the reactor's pool, in the daemon).
        @param interval: seconds between polls.
        """
        super().__init__()
        self._tls = tls
        self._authenticator = authenticator
        self._reactor = reactor
        self.watcher = TrustWatcher(
            files.fingerprint, files.load, self._apply,
            run_in_thread,
        )
        self.watcher.service(interval, reactor).setServiceParent(self)

    def _apply(self, trust: Trust) -> None:
        """In the reactor thread: new connections and new chains use C{trust}."""
        self._tls.replace(trust.context)
        self._authenticator.reload(trust.store, trust.vomsdir)

    def startService(self) -> None:
        super().startService()
        # Once the reactor runs: after it has installed its own handlers.
        IReactorCore(self._reactor).callWhenRunning(self._install)

    def stopService(self) -> Any:
        if self._installed:
            signal.signal(RELOAD_SIGNAL, self._previous)
            self._installed = False
        return super().stopService()

    def _install(self) -> None:
        if self.running:
            self._previous = signal.signal(RELOAD_SIGNAL, self._signalled)
            self._installed = True

    def _signalled(self, number: int, frame: FrameType | None) -> None:
        """The signal handler: force a reload from the reactor thread."""
        IReactorFromThreads(self._reactor).callFromThread(self.watcher.check, True)
