"""
Tests for L{occid.server.trustwatch}: the trust directories are re-read when they
change, in a worker thread, and a failed reload keeps the old trust.
"""

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from occid.server.trustwatch import TrustWatcher


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
