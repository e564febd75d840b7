"""
Tests for L{occid.generation}: a reload builds a new generation from the
file and swaps it in at once (limits, TLS context, authenticator epoch); a
request in flight keeps the old one, whose services and thread pools stop
when it ends; a bad file changes nothing and is logged in one line.
"""

import queue
import shutil
import time

import pytest
from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads, IReactorThreads
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from zope.interface import implementer

from occid import tap
from occid.generation import Generations
from tests.test_tap import config_file  # noqa: F401 (the fixture)


@implementer(IReactorThreads, IReactorFromThreads)
class ThreadedMemoryReactor(MemoryReactorClock):
    """
    A memory reactor that runs C{callInThread} at once and records it, and
    queues C{callFromThread} calls (of the EC2 pool's threads) for L{pump}.
    """

    def __init__(self):
        super().__init__()
        self.in_threads = []
        self.from_threads = queue.Queue()

    def callInThread(self, f, *args, **kwargs):
        self.in_threads.append(f)
        f(*args, **kwargs)

    def callFromThread(self, f, *args, **kwargs):
        self.from_threads.put((f, args, kwargs))

    def pump(self, until, timeout=30.0):
        """Run the calls from threads, in this thread, until C{until()} holds."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, "not done in time"
            try:
                f, args, kwargs = self.from_threads.get(timeout=0.1)
            except queue.Empty:
                continue
            f(*args, **kwargs)


@pytest.fixture
def running(config_file, tmp_path):  # noqa: F811
    """The daemon's service tree over a copy of the configuration, started; its L{Generations}."""
    path = tmp_path / "occid.toml"
    shutil.copy(config_file, path)
    options = tap.Options()
    options.parseOptions(["--config", str(path)])
    reactor = ThreadedMemoryReactor()
    top = tap.makeService(options, reactor=reactor)
    top.startService()
    [generations] = [s for s in top if isinstance(s, Generations)]
    # Reloads read inline instead of in a worker thread.
    generations._run_in_thread = defer.maybeDeferred
    yield path, reactor, generations
    top.stopService()
    for stop, args, kwargs in reactor.triggers["after"]["shutdown"]:
        stop(*args, **kwargs)


def test_reload_swaps_and_retires_when_unused(running):
    """
    The new file's limits, context and authenticator serve at once; the
    old generation runs until its request in flight ends, then stops with
    its pools.
    """
    path, reactor, generations = running
    old = generations.current
    authenticator = generations.site.authenticator
    epoch = authenticator.epoch
    old.enter()
    path.write_text(path.read_text().replace("[server]\n", "[server]\nrequest_timeout = 55\n"))
    reloaded = generations.reload()
    assert reloaded is not None
    new = generations.current
    assert (new.number, new.config.server.request_timeout) == (2, 55)
    assert generations.site.limits.request_timeout == 55
    assert authenticator.epoch != epoch
    assert old.service.running and new.service.running
    assert reactor.in_threads == []
    old.leave()
    # Its timers first finish the calls they started (the catalogue's first load).
    reactor.pump(lambda: reactor.in_threads)
    assert not old.service.running and old.service.parent is None
    assert len(reactor.in_threads) == 1, "the old generation's EC2 pool is stopped"
    assert new.service.running


def test_bad_file_keeps_the_generation(running):
    """A bad file changes nothing; the log says why in one line, without a traceback."""
    path, _, generations = running
    old = generations.current
    path.write_text(path.read_text().replace("[aws]\n", "[aws]\nthreads = 0\n"))
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        reloaded = generations.reload()
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert reloaded is not None
    assert generations.current is old and old.service.running
    [event] = [e for e in events if e["log_level"] == LogLevel.error]
    assert formatEvent(event) == ("Configuration not reloaded, the old one keeps serving: "
                                  f"{path}: [aws] threads: must be between 1 and 200")
    assert "log_failure" not in event



def test_changed_listen_is_ignored(running):
    """A changed C{listen} is logged as needing a restart; the rest is reloaded."""
    path, reactor, generations = running
    path.write_text(path.read_text().replace('listen = "tcp:11443:interface=127.0.0.1"',
                                             'listen = "tcp:11444"'))
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        generations.reload()
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert generations.current.number == 2
    [warning] = [formatEvent(e) for e in events if e["log_level"] == LogLevel.warn]
    assert warning == ("[server] listen changed to tcp:11444: ignored until a restart "
                       "(still tcp:11443:interface=127.0.0.1)")
    assert [port for port, *_ in reactor.tcpServers] == [11443]
