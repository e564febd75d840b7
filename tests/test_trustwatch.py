"""
Tests for L{occid.server.trustwatch} and L{occid.server.reload}: the trust
directories are re-read when they change (in a worker thread) or on SIGHUP,
a failed reload keeps the old trust, and what is read reaches the listener
and the authenticator.
"""

import os
import shutil
import signal
import tempfile
from datetime import UTC, datetime

from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from occid.config import GridConfig, ServerConfig
from occid.server.reload import ReloadService, TrustFiles
from occid.server.trustwatch import TrustWatcher
from tests.pki import PKI


class TrustWatcherTests(SynchronousTestCase):
    """L{TrustWatcher} reloads on change only, and survives bad reloads."""

    def setUp(self):
        self.stamp = 1
        self.reloads = 0
        self.applied = []
        self.in_thread = []

        def run_in_thread(f, *args):
            self.in_thread.append(f)
            return defer.maybeDeferred(f, *args)

        def reload():
            self.reloads += 1
            return f"trust-{self.reloads}"

        self.watcher = TrustWatcher(lambda: self.stamp, reload, self.applied.append, run_in_thread)

    def test_unchanged(self):
        """Nothing is read while the fingerprint stays the same; the scan is in a thread."""
        self.successResultOf(self.watcher.check())
        self.assertEqual((self.reloads, self.applied), (0, []))
        self.assertEqual(len(self.in_thread), 1)

    def test_changed(self):
        """A new fingerprint reloads once, through the thread runner, and applies."""
        self.stamp = 2
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.applied, ["trust-1"])
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.reloads, 1)

    def test_forced(self):
        """SIGHUP forces a reload even when nothing seems to have changed."""
        self.successResultOf(self.watcher.check(force=True))
        self.assertEqual(self.applied, ["trust-1"])

    def test_failed_reload_keeps_old_trust_and_retries(self):
        """A reload that raises applies nothing, is logged, and is tried again."""
        self.stamp = 2
        self.watcher._reload = lambda: 1 / 0
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.applied, [])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.watcher._reload = lambda: "fixed"
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.applied, ["fixed"])

    def test_one_reload_at_a_time(self):
        """A check while a reload is running starts no second one."""
        pending = defer.Deferred()
        self.watcher._run_in_thread = lambda f, *args: pending.addCallback(lambda result: f(*args))
        self.stamp = 2
        self.assertIsNotNone(self.watcher.check())
        self.assertIsNone(self.watcher.check(force=True))
        pending.callback(None)
        self.assertEqual(self.applied, ["trust-1"])

    def test_timer(self):
        """The service polls at its interval on the given clock."""
        clock = Clock()
        timer = self.watcher.service(60, clock)
        timer.startService()
        self.stamp = 2
        clock.advance(60)
        self.assertEqual(self.applied, ["trust-1"])
        timer.stopService()


@implementer(IReactorFromThreads)
class InlineReactor(MemoryReactorClock):
    """A memory reactor whose C{callFromThread} calls at once."""

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class FakeTLS:
    """Records the contexts L{ReloadService} hands to the connection creator."""

    def __init__(self):
        self.contexts = []

    def replace(self, context):
        self.contexts.append(context)


class FakeAuthenticator:
    """Records the trust material L{ReloadService} hands to the authenticator."""

    def __init__(self):
        self.reloads = []

    def reload(self, trust, vomsdir):
        self.reloads.append((trust, vomsdir))


class ReloadServiceTests(SynchronousTestCase):
    """
    L{TrustFiles} reads the trust material on the reactor's clock;
    L{ReloadService} applies it when the directories change and on SIGHUP.
    """

    def setUp(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        self.pki = PKI(directory)
        self.reactor = InlineReactor()
        self.reactor.advance(datetime.now(UTC).timestamp())
        self.files = TrustFiles(
            ServerConfig(
                host_cert=os.path.join(directory, "hostcert.pem"),
                host_key=os.path.join(directory, "hostkey.pem"),
            ),
            GridConfig(ca_dir=self.pki.certificates_dir, vomsdir=self.pki.vomsdir),
            self.reactor,
        )
        self.tls = FakeTLS()
        self.authenticator = FakeAuthenticator()
        self.service = ReloadService(
            # The scan runs inline instead of in a worker thread.
            self.files, self.tls, self.authenticator, self.reactor, defer.maybeDeferred,
            interval=60,
        )
        self.previous = signal.getsignal(signal.SIGHUP)
        self.addCleanup(signal.signal, signal.SIGHUP, self.previous)

    def test_load(self):
        """The trust store, the vomsdir and a context over them, judged at the clock's time."""
        trust = self.files.load()
        self.assertIn(self.pki.ca.certificate, [a.certificate for a in trust.store.authorities])
        self.assertIsNotNone(trust.context)
        self.reactor.advance(100 * 365 * 86400)
        self.assertTrue(self.files.load().store.problems, "a century on, the CA has expired")

    def test_change_applied(self):
        """A change seen by the poll reaches the connection creator and the authenticator."""
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.assertEqual(self.tls.contexts, [])
        self.pki.issue_ca("/DC=org/DC=example/CN=Second CA")
        self.reactor.advance(60)
        self.assertEqual(len(self.tls.contexts), 1)
        [(store, _)] = self.authenticator.reloads
        self.assertEqual(len(store.authorities), 2)

    def test_sighup_while_running(self):
        """
        Once the reactor runs, SIGHUP forces a reload from the reactor thread;
        stopping the service gives the signal back.
        """
        forced = []
        self.service.watcher.check = lambda force=False: forced.append(force)
        self.service.startService()
        self.assertIs(signal.getsignal(signal.SIGHUP), self.previous, "not before the reactor runs")
        for hook, args, kwargs in self.reactor.whenRunningHooks:
            hook(*args, **kwargs)
        handler = signal.getsignal(signal.SIGHUP)
        handler(signal.SIGHUP, None)
        self.assertEqual(forced, [True])
        self.service.stopService()
        self.assertIs(signal.getsignal(signal.SIGHUP), self.previous)
