# -*- test-case-name: tests.test_processes -*-
"""
Which of the occid processes of one host runs the reconciler
(C{[server] coordination_dir}).

Requests need no coordination: entity ids are EC2 ids and every intent
lives in EC2 tags, so any process answers any request.  The reconciler and
the catalogue refresh do: N processes would make N times their EC2 calls
(and race to make the same links).  The processes share a directory; the
one holding an exclusive C{flock} on its C{reconciler.lock} is the leader:
only the leader's reconciler timer runs, and only the leader reads the
catalogues from EC2, sharing them with the others
(L{occid.ec2.sharedcatalog}).  The kernel releases the lock when its holder
exits, however it dies (C{kill -9} too); every other process tries again
every L{RETRY} seconds, so one of them leads within that time.  Each try
is one non-blocking C{flock} call on a descriptor kept open: nothing that
can block the reactor.

The leader writes its process id into the file, for the admin
(C{cat /run/occid/reconciler.lock}).  Across hosts nothing is shared: each
host has its leader, and their reconcilers work on the same tags (README:
Processes and hosts).
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from twisted.application.service import Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

#: Seconds between a follower's tries to take the lock.
RETRY = 5.0

#: The lock file's name in the coordination directory.
LOCK_NAME = "reconciler.lock"

log = Logger()


class Leadership(Service):
    """
    The reconciler's lock on one host: L{leading} says whether this process
    holds it.  While running, tries to take it every C{retry} seconds until
    it does; stopping releases it.
    """

    def __init__(self, directory: str, reactor: Any, retry: float = RETRY):
        """
        @param directory: the coordination directory (it must exist).
        @raise OSError: the lock file cannot be opened.
        """
        self.path = os.path.join(directory, LOCK_NAME)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._reactor = reactor
        self._retry = retry
        self._loop: LoopingCall | None = None
        self._held = False

    def leading(self) -> bool:
        """Whether this process holds the lock: runs the reconciler."""
        return self._held

    def startService(self) -> None:
        super().startService()
        loop = self._loop = LoopingCall(self._try)
        loop.clock = self._reactor
        loop.start(self._retry, now=True)

    def _try(self) -> None:
        """Take the lock if it is free; once held, stop trying."""
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        except OSError as e:
            log.error("Cannot lock {path}: {error}; this process leaves the reconciler "
                      "to another", path=self.path, error=e.strerror)
            return
        self._held = True
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)
        log.info("This process (pid {pid}) now runs the reconciler of this host "
                 "(it holds {path})", pid=os.getpid(), path=self.path, leader=True)
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def stopService(self) -> None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._fd is not None:
            # Closing the descriptor releases the lock for the next leader.
            os.close(self._fd)
            self._fd = None
        self._held = False
