# -*- test-case-name: tests.test_ec2_breaker -*-
"""
A circuit breaker for the EC2 endpoint of one account in one region.

While EC2 answers, the breaker is I{closed} and every call goes through.
After L{FAILURES_TO_OPEN} calls in a row ended without an answer from EC2
(a connection error, a timeout, a 5xx after botocore's retries), it
I{opens}: for L{COOL_DOWN} seconds every call is refused at once with
L{BreakerOpen} (503 with C{Retry-After}), so that no request waits out
timeouts and no thread of the pool is held.  Then it is I{half-open}: the
next call is let through as a probe while the others are still refused; an
answer of EC2 (any answer, a client error such as C{NotFound} included)
closes it, a failure opens it for another cool-down.  A probe whose outcome
never came (it took longer than a cool-down) lets the next call probe again.

Pure: the state logic knows no botocore and no Twisted, and reads the time
from the C{clock} it is given (L{occid.ec2.clients.guard} wires it to a
client's events).

Thread safety: the methods are called from the EC2 thread pool (the calls'
outcomes) and from the reactor thread (L{Breaker.refusal}, L{Breaker.state});
one lock guards the state, held only for the few assignments of a
transition, never during a call to EC2 nor while C{on_change} runs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from enum import Enum

__all__ = ["COOL_DOWN", "FAILURES_TO_OPEN", "Breaker", "BreakerOpen", "State"]

#: Calls in a row without an answer from EC2 that open the breaker.
FAILURES_TO_OPEN = 3

#: Seconds an open breaker refuses every call before letting a probe through.
COOL_DOWN = 5.0


class State(Enum):
    """The states of a breaker, by the names /metrics and /readyz show."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class BreakerOpen(Exception):
    """
    A call refused because EC2 did not answer the last calls.

    @ivar retry_after: whole seconds until the breaker lets a call through.
    @ivar reason: the failure that opened it.
    """

    def __init__(self, retry_after: int, reason: str) -> None:
        super().__init__(f"EC2 did not answer the last calls ({reason})")
        self.retry_after = retry_after
        self.reason = reason


class Breaker:
    """
    The breaker of one (account, region).

    @ivar on_change: called with the new L{State} and the last failure (or
        C{""}) when the breaker opens (not again after a failed probe) or
        closes, in the thread whose call
        made it change, outside the lock; C{None}: nobody listens.
    """

    on_change: Callable[[State, str], None] | None = None

    def __init__(self, failures_to_open: int = FAILURES_TO_OPEN, cool_down: float = COOL_DOWN,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._failures_to_open = failures_to_open
        self._cool_down = cool_down
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._reason = ""
        #: When the breaker opened last; C{None} while closed.
        self._opened: float | None = None
        #: When the probe in flight was let through; C{None}: no probe out.
        self._probe: float | None = None

    def _wait(self, now: float) -> float:
        """Seconds a call must still wait (0: it may go), under the lock."""
        if self._opened is None:
            return 0.0
        until = self._opened + self._cool_down
        if self._probe is not None:
            until = max(until, self._probe + self._cool_down)
        return max(until - now, 0.0)

    def state(self) -> State:
        """The current state (an open breaker past its cool-down is half-open)."""
        with self._lock:
            if self._opened is None:
                return State.CLOSED
            return State.OPEN if self._wait(self._clock()) > 0 else State.HALF_OPEN

    def refusal(self) -> BreakerOpen | None:
        """
        The refusal a call would get now, or C{None} if it may go; changes
        nothing (the reactor asks before using a thread).
        """
        with self._lock:
            wait = self._wait(self._clock())
            if wait <= 0:
                return None
            return BreakerOpen(max(math.ceil(wait), 1), self._reason)

    def admit(self) -> None:
        """
        Let a call go, as the probe if the breaker is half-open.

        @raise BreakerOpen: the breaker is open, or a probe is out.
        """
        with self._lock:
            now = self._clock()
            wait = self._wait(now)
            if wait > 0:
                raise BreakerOpen(max(math.ceil(wait), 1), self._reason)
            if self._opened is not None:
                self._probe = now

    def succeeded(self) -> None:
        """EC2 answered a call: the breaker closes."""
        with self._lock:
            was_open = self._opened is not None
            self._failures, self._opened, self._probe = 0, None, None
        if was_open:
            self._changed(State.CLOSED, "")

    def failed(self, reason: str) -> None:
        """
        A call ended without an answer from EC2 (C{reason} says how).  The
        breaker opens at the threshold, and again after a failed probe.
        """
        with self._lock:
            now = self._clock()
            self._failures += 1
            self._reason = reason
            opening = self._opened is None and self._failures >= self._failures_to_open
            if opening or self._probe is not None:
                self._opened, self._probe = now, None
        if opening:
            self._changed(State.OPEN, reason)

    def _changed(self, state: State, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(state, reason)
