"""
Tests for L{occid.server.trustwatch} and L{occid.server.reload}: the trust
directories are re-read when they change (in a worker thread) or on SIGHUP,
a failed reload keeps the old trust, and what is read reaches the listener
and the authenticator.
"""

import builtins
import errno
import os
import shutil
import signal
import tempfile
from datetime import UTC, datetime

from twisted.internet import defer
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from occid.gridconfig import GridConfig
from occid.gsi import trust as trust_module
from occid.server.reload import EMFILE_TRIES, Reloaded, ReloadService, SpareDescriptors, TrustFiles
from occid.server.trustwatch import TrustWatcher
from occid.serverconfig import ServerConfig
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

    def test_failed_reload_keeps_old_trust_and_retries(self):
        """A reload that raises applies nothing, is logged in one line, and is tried again."""
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.stamp = 2

        def unreadable():
            raise OSError(errno.EMFILE, "Too many open files", "/etc/grid-security/certificates")

        self.watcher._reload = unreadable
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.applied, [])
        [event] = [e for e in observer if e.get("log_level") == LogLevel.error]
        self.assertEqual(formatEvent(event),
                         "Could not reload the trust directories, keeping the old ones: "
                         "Too many open files: /etc/grid-security/certificates")
        self.assertNotIn("log_failure", event)
        self.watcher._reload = lambda: "fixed"
        self.successResultOf(self.watcher.check())
        self.assertEqual(self.applied, ["fixed"])

    def test_one_reload_at_a_time(self):
        """A check while a reload is running starts no second one."""
        pending = defer.Deferred()
        self.watcher._run_in_thread = lambda f, *args: pending.addCallback(lambda result: f(*args))
        self.stamp = 2
        self.assertIsNotNone(self.watcher.check())
        self.assertIsNone(self.watcher.check())
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
        open(os.path.join(directory, "banned"), "w").close()
        self.reactor.advance(datetime.now(UTC).timestamp())
        self.files = TrustFiles(
            ServerConfig(
                host_cert=os.path.join(directory, "hostcert.pem"),
                host_key=os.path.join(directory, "hostkey.pem"),
            ),
            GridConfig(ca_dir=self.pki.certificates_dir, vomsdir=self.pki.vomsdir,
                       banned=os.path.join(directory, "banned")),
            self.reactor,
            SpareDescriptors(),
        )
        self.applied = []
        self.reloads = []

        def reload_all():
            self.reloads.append(True)
            return defer.succeed(Reloaded(self.files.fingerprint(), self.interval))

        self.interval = 60

        self.service = ReloadService(
            # The scan runs inline instead of in a worker thread.
            self.files.fingerprint, self.files.load, self.applied.append, reload_all,
            self.reactor, defer.maybeDeferred, interval=60,
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
        """A change seen by the poll is read and applied."""
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.assertEqual(self.applied, [])
        self.pki.issue_ca("/DC=org/DC=example/CN=Second CA")
        self.reactor.advance(60)
        [trust] = self.applied
        self.assertEqual(len(trust.store.authorities), 2)

    def test_ban_list_change_applied(self):
        """The ban list is polled with the directories."""
        self.service.startService()
        self.addCleanup(self.service.stopService)
        with open(self.files._grid.banned, "w", encoding="utf-8") as f:
            f.write("# suspended\n/DC=org/DC=example/CN=Jane Doe\nhttps://issuer.example.org  abc\n")
        self.reactor.advance(60)
        [trust] = self.applied
        self.assertEqual(trust.banned.names,
                         {"/DC=org/DC=example/CN=Jane Doe", "https://issuer.example.org abc"})

    def test_reads_with_every_descriptor_taken(self):
        """
        With the process out of descriptors (a flood of connections), the
        trust files are still read, with the spare descriptors.
        """
        taken = []
        try:
            while True:
                taken.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as e:
            self.assertEqual(e.errno, errno.EMFILE)
        try:
            self.files.fingerprint()
            trust = self.files.load()
        finally:
            for fd in taken:
                os.close(fd)
        self.assertIn(self.pki.ca.certificate, [a.certificate for a in trust.store.authorities])

    def test_out_of_descriptors_fails_the_whole_load(self):
        """
        A CRL that cannot be opened for want of descriptors (another thread
        took the spares) fails the whole load, tried again a few times,
        rather than leave the CRL out, which would let its revoked users in.
        """
        opened = []

        def crowded(path, *args, **kwargs):
            opened.append(path)
            if path.endswith(".r0"):
                raise OSError(errno.EMFILE, "Too many open files", path)
            return builtins.open(path, *args, **kwargs)

        trust_module.open = crowded
        try:
            with self.assertRaises(OSError) as e:
                self.files.load()
        finally:
            del trust_module.open
        self.assertEqual(e.exception.errno, errno.EMFILE)
        self.assertEqual(len([path for path in opened if path.endswith(".r0")]), EMFILE_TRIES)

    def test_sighup_while_running(self):
        """
        Once the reactor runs, SIGHUP reloads everything from the reactor
        thread, and the poll then knows the trust files it read; stopping
        the service gives the signal back.
        """
        self.service.startService()
        self.assertIs(signal.getsignal(signal.SIGHUP), self.previous, "not before the reactor runs")
        for hook, args, kwargs in self.reactor.whenRunningHooks:
            hook(*args, **kwargs)
        handler = signal.getsignal(signal.SIGHUP)
        handler(signal.SIGHUP, None)
        self.assertEqual(self.reloads, [True])
        self.assertEqual(self.service.watcher._seen, self.files.fingerprint())
        self.service.stopService()
        self.assertIs(signal.getsignal(signal.SIGHUP), self.previous)

    def test_poll_follows_the_reloaded_interval(self):
        """After SIGHUP, the poll runs at the new configuration's C{poll_interval}."""
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.interval = 5
        self.service._reload()
        self.pki.issue_ca("/DC=org/DC=example/CN=Second CA")
        self.reactor.advance(5)
        self.assertEqual(len(self.applied), 1)
        self.assertEqual(self.service._timer.step, 5)
