# -*- test-case-name: tests.test_ec2_contract -*-
"""
What the EC2 entity collections share: one account and one principal's scope,
and the way blocking EC2 functions are run.

A blocking function takes C{(account, scope, *arguments)}, returns plain
data and raises L{occid.occi.errors.OCCIError}s; L{AccountCollection} runs it
in the EC2 thread pool and hands back a C{Deferred}.  Writes are refused with
a failed C{Deferred}, before any thread is used, when the scope may only read.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, fail
from twisted.internet.threads import deferToThreadPool

from occid.ec2.account import Account
from occid.ec2.scope import Scope
from occid.occi.errors import OCCIError


class AccountCollection:
    """
    The common part of the EC2 L{occid.interfaces.IEntityCollection}
    providers; each subclass names its C{kind} and its blocking functions.
    """

    def __init__(self, reactor, threadpool, account: Account, scope: Scope):
        self._reactor = reactor
        self._pool = threadpool
        self._account = account
        self._scope = scope

    def _run(self, function: Callable, *args) -> Deferred:
        """C{function(account, scope, *args)} in the thread pool."""
        return deferToThreadPool(self._reactor, self._pool, function,
                                 self._account, self._scope, *args)

    def _write(self, function: Callable, *args) -> Deferred:
        """L{_run}, once the scope allows writing."""
        return self._planned_write(function, lambda: args)

    def _planned_write(self, function: Callable, plan: Callable[[], tuple]) -> Deferred:
        """
        C{function(account, scope, *plan())} in the thread pool, once the
        scope allows writing.  C{plan} checks the request in the calling
        thread without calling EC2; an L{OCCIError} from the scope or from
        C{plan} is the failure of the returned C{Deferred}.
        """
        try:
            self._scope.check_writable()
            args = plan()
        except OCCIError:
            return fail()
        return self._run(function, *args)
