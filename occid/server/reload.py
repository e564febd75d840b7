# -*- test-case-name: tests.test_trustwatch,tests.test_tap,tests.test_reload_daemon -*-
"""
Keeps the running daemon's trust and configuration current without a
restart.  The trust material (CA directory with its CRLs, vomsdir, the ban
list, and the TLS context built over them) is read at start and re-read
when those files change (polled), then applied to the current generation
(L{occid.generation}: the listener's connection creator, the
authenticator, which drops its cache of validated principals and moves to a
new epoch, and the ban check).  C{SIGHUP} reloads the whole configuration,
the trust material with it.

Reading files needs descriptors, and a flood of connections can take them
all (C{EMFILE}): a few spare descriptors are held open on C{/dev/null} and
given up only while a reload reads, and a read that still meets C{EMFILE} is
tried again a few times before the reload fails (logged in one line; the
old trust keeps serving).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from OpenSSL import SSL
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads, IReactorTime

from occid.config import CrlMode
from occid.gridconfig import GridConfig
from occid.gsi.trust import TrustStore, fingerprint, out_of_descriptors
from occid.gsi.vomsdir import VomsDir
from occid.server.banlist import BanList
from occid.server.identity import now
from occid.server.tls import build_context
from occid.server.trustwatch import RunInThread, TrustWatcher
from occid.serverconfig import ServerConfig

#: The signal that makes the daemon re-read its configuration at once.
RELOAD_SIGNAL = signal.SIGHUP

#: How many descriptors are kept in reserve for reloads.
SPARE_DESCRIPTORS = 4

#: How many times a read that met C{EMFILE} is tried, and the pause between tries.
EMFILE_TRIES = 5
EMFILE_PAUSE = 0.2

_Handler = Callable[[int, FrameType | None], Any] | int | None

T = TypeVar("T")


class SpareDescriptors:
    """
    Descriptors held open on C{/dev/null} so that a reload can read its
    files while connections hold every other one; one reader at a time.
    """

    def __init__(self, count: int = SPARE_DESCRIPTORS):
        self._count = count
        self._held: list[int] = []
        self._lock = threading.RLock()
        # How many blocks run with the spares given up (they nest).
        self._depth = 0
        self._reserve()

    def _reserve(self) -> None:
        """Take back as many descriptors as there is room for."""
        while len(self._held) < self._count:
            try:
                self._held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                return

    @contextmanager
    def released(self) -> Iterator[None]:
        """Give the spares up while the block runs (waiting for another reader's block)."""
        with self._lock:
            self._depth += 1
            while self._held:
                os.close(self._held.pop())
            try:
                yield
            finally:
                self._depth -= 1
                if not self._depth:
                    self._reserve()

    def run(self, function: Callable[[], T]) -> T:
        """C{function()} with the spares given up, tried again while it meets C{EMFILE}."""
        tries = 1
        while True:
            try:
                with self.released():
                    return function()
            except OSError as e:
                if not out_of_descriptors(e) or tries == EMFILE_TRIES:
                    raise
            tries += 1
            time.sleep(EMFILE_PAUSE)


@dataclass(frozen=True)
class Reloaded:
    """
    What a reload of the whole configuration tells the poll.

    @ivar fingerprint: the fingerprint of the trust files it read.
    @ivar interval: the poll's interval in the new configuration, in seconds.
    """

    fingerprint: object
    interval: float


@dataclass(frozen=True)
class Trust:
    """
    The trust material read from disk at one time.

    @ivar store: the CA directory's authorities and CRLs.
    @ivar vomsdir: the VOMS servers' LSC files.
    @ivar context: the TLS context over C{store} and the host credentials.
    @ivar banned: the ban list.
    """

    store: TrustStore
    vomsdir: VomsDir
    context: SSL.Context
    banned: BanList


class TrustFiles:
    """
    Where the trust material lives, and how to read it (blocking: at start,
    or in a worker thread), with the spare descriptors.
    """

    def __init__(self, server: ServerConfig, grid: GridConfig, clock: IReactorTime,
                 spare: SpareDescriptors):
        """
        @param server: the host certificate and key.
        @param grid: the CA directory, vomsdir, CRL mode and ban list.
        @param clock: the reactor's clock, the time CAs and CRLs are judged at.
        @param spare: the descriptors given up while reading.
        """
        self._server = server
        self._grid = grid
        self._clock = clock
        self._spare = spare

    def fingerprint(self) -> object:
        """A value that changes whenever either directory or the ban list changes."""
        return self._spare.run(self._fingerprint)

    def _fingerprint(self) -> object:
        banned = None
        if self._grid.banned:
            try:
                st = os.stat(self._grid.banned)
                banned = (st.st_size, st.st_mtime_ns, st.st_ino)
            except FileNotFoundError:
                pass
        return fingerprint(self._grid.ca_dir), fingerprint(self._grid.vomsdir), banned

    def load(self) -> Trust:
        """Read the directories, the ban list and the host credentials."""
        return self._spare.run(self._load)

    def _load(self) -> Trust:
        store = TrustStore.load(self._grid.ca_dir, now(self._clock))
        vomsdir = VomsDir.load(self._grid.vomsdir)
        context = build_context(
            self._server.host_cert, self._server.host_key, store, self._grid.crl is not CrlMode.OFF
        )
        return Trust(store, vomsdir, context, BanList.read(self._grid.banned))


class ReloadService(MultiService):
    """
    Reloads the trust material when its files change (polled every
    C{interval} seconds, C{[grid] poll_interval}), and the whole
    configuration at once on L{RELOAD_SIGNAL} while the service runs.
    """

    _previous: _Handler = None
    _installed = False

    def __init__(
        self, fingerprint: Callable[[], object], load: Callable[[], Any],
        apply: Callable[[Any], None], reload_all: Callable[[], Deferred[Reloaded | None] | None],
        reactor: IReactorTime, run_in_thread: RunInThread, interval: float,
    ):
        """
        @param fingerprint: the current trust files' fingerprint (blocking).
        @param load: reads the current trust files (blocking).
        @param apply: applies what C{load} read, in the reactor thread.
        @param reload_all: reloads the whole configuration (on the signal):
            a Deferred of its L{Reloaded} (C{None}: the old configuration
            stays), or C{None} when a reload is already running.
        @param reactor: the reactor: the poll's clock, and what runs the
            signal's reload (it must also provide C{IReactorCore} and
            C{IReactorFromThreads}).
        @param run_in_thread: runs a function in a worker thread and gives
            a Deferred of its result (the reactor's pool, in the daemon).
        @param interval: seconds between polls.
        """
        super().__init__()
        self._reactor = reactor
        self._reload_all = reload_all
        self.watcher = TrustWatcher(fingerprint, load, apply, run_in_thread)
        self._timer = self.watcher.service(interval, reactor)
        self._timer.setServiceParent(self)

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
        """The signal handler: reload from the reactor thread."""
        IReactorFromThreads(self._reactor).callFromThread(self._reload)

    def _reload(self) -> None:
        """Reload everything; the poll then knows the trust files it read, and its new interval."""
        reloading = self._reload_all()
        if reloading is not None:
            reloading.addCallback(self._reloaded)

    def _reloaded(self, reloaded: Reloaded | None) -> None:
        if reloaded is None:
            return
        self.watcher.saw(reloaded.fingerprint)
        if reloaded.interval != self._timer.step:
            self._timer.disownServiceParent()
            self._timer = self.watcher.service(reloaded.interval, self._reactor)
            self._timer.setServiceParent(self)
