# -*- test-case-name: tests.test_trustwatch -*-
"""
Notices when fetch-crl (or an admin) rewrites the CA directory or the
vomsdir: a cheap fingerprint is compared in a worker thread, and only a
change reloads (SIGHUP reloads everything: L{occid.generation}).  A failed reload keeps the old trust
and is logged in one line, without a traceback (it is the files' fault, not
the daemon's).  What is reloaded and how it is applied
is given by L{occid.server.reload}; no file is read on the request path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from twisted.application.internet import TimerService
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()

#: What a reload reads.
T = TypeVar("T")

#: C{run_in_thread(f, *args)}: a Deferred of C{f(*args)} computed in a worker thread.
RunInThread = Callable[..., "Deferred[Any]"]


class TrustWatcher(Generic[T]):
    """
    Scans cheap fingerprints of the trust directories and, when one
    changed, reloads them; both in a worker thread (they touch the file
    system), then calls C{apply} in the reactor thread with the result.

    @param fingerprint: a blocking callable returning a value that changes
        whenever the directories change (names, sizes, modification times).
    @param reload: a blocking callable reading the directories; its result
        goes to C{apply}.
    @param apply: called in the reactor thread with what C{reload} returned.
    """

    def __init__(
        self,
        fingerprint: Callable[[], object],
        reload: Callable[[], T],
        apply: Callable[[T], None],
        run_in_thread: RunInThread,
    ):
        self._fingerprint = fingerprint
        self._reload = reload
        self._apply = apply
        self._run_in_thread = run_in_thread
        self._seen = fingerprint()
        self._busy = False

    def check(self) -> Deferred[None] | None:
        """
        Reload if the fingerprint changed since the last load.  Returns a
        Deferred that fires when the check is over, or C{None} when one is
        already running.
        """
        if self._busy:
            return None
        self._busy = True
        d = self._run_in_thread(self._scan, self._seen)

        def scanned(outcome: tuple[object, bool, T]) -> None:
            current, changed, result = outcome
            if changed:
                self._apply(result)
                self._seen = current
                log.info("Reloaded the trust directories")

        def failed(failure: Failure) -> None:
            log.error("Could not reload the trust directories, keeping the old ones: {reason}",
                      reason=one_line(failure.value))

        def done(_: None) -> None:
            self._busy = False

        d.addCallbacks(scanned, failed)
        d.addBoth(done)
        return d

    def saw(self, current: object) -> None:
        """The trust files with fingerprint C{current} were loaded by someone else."""
        self._seen = current

    def _scan(self, seen: object) -> tuple[object, bool, T | None]:
        """In a worker thread: (fingerprint, whether it changed, reload result)."""
        current = self._fingerprint()
        if current == seen:
            return current, False, None
        return current, True, self._reload()

    def service(self, interval: float, clock: IReactorTime) -> TimerService:
        """A service calling L{check} every C{interval} seconds."""
        timer = TimerService(interval, self.check)
        timer.clock = clock
        return timer


def one_line(error: BaseException | None) -> str:
    """
    What went wrong, for an admin, on one line: a system error with its
    file name, anything else by its message (and type, when it has none).
    """
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = " ".join(str(error).split()) if error is not None else ""
    return text or type(error).__name__
