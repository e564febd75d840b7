# -*- test-case-name: tests.test_ec2_contract -*-
"""
The one threaded adapter between Twisted and the blocking EC2 operations.

L{EC2Collection} binds an account and a principal's scope once and provides
L{IEntityCollection} for any kind by running that kind's blocking functions
(L{occid.ec2.compute}, L{occid.ec2.launch}, L{occid.ec2.storage},
L{occid.ec2.network}, L{occid.ec2.links}, L{occid.ec2.snapshots}) in the EC2 thread pool with one
C{deferToThreadPool} each.  Requests are planned (L{occid.ec2.planning}) and
writes refused, for a scope that may only read, in the calling thread,
before any thread is used; what EC2 refuses by nature (changing a network
or a link) fails at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from occid.ec2 import compute, errors, launch, links, network, planning, refusals, snapshots, storage
from occid.ec2.account import Account
from occid.ec2.scope import Scope
from occid.ec2.vocabulary import SNAPSHOT
from occid.interfaces import IEntityCollection
from occid.occi import infrastructure as infra
from occid.occi.errors import OCCIError
from occid.occi.model import Action, AttributeValue, Changes, Entity, EntityFilter, Kind

__all__ = ["OPERATIONS", "EC2Collection", "Operations", "traced"]

log = Logger()


def _unchanged(account: Account, scope: Scope, entity: Entity) -> Entity:
    """The plan of a create whose checks need EC2: the entity as asked."""
    return entity


def _entity(result: Any, account: str) -> Entity:
    return result


def _report_launch(launched: launch.Launched, account: str) -> Entity:
    """
    The entity of C{launched}, after logging a temporary key pair left
    behind (L{occid.ec2.launch.create_compute}).
    """
    if launched.key_left:
        log.warn(
            "compute {vm_id} launched, but its temporary key pair {key_name} was not "
            "deleted ({reason}); the reconciler removes it within the hour",
            vm_id=launched.entity.id, key_name=launched.key_name,
            reason=launched.key_left, account=account)
    return launched.entity


def traced(failure: Failure, account: Account) -> None:
    """
    Log one line for a failure caused by an EC2 error (L{errors.trace}):
    the call, the code, the HTTP status and the AWS request id, with the
    account and region, to give AWS support; other failures are left alone.
    """
    found = errors.trace(getattr(failure.value, "__cause__", None))
    if found is None:
        return
    log.info(
        "EC2 {operation} failed in account {account} region {region}: {code} "
        "(HTTP {http_status}, AWS request id {aws_request_id}), answered {status}",
        operation=found.operation or "(unknown call)", account=account.name,
        region=account.aws.region, code=found.code,
        http_status=found.status if found.status is not None else "none",
        aws_request_id=found.request_id or "none",
        status=getattr(failure.value, "status", None))


@dataclass(frozen=True)
class Operations:
    """
    The blocking functions serving one kind.  Each takes C{(account, scope,
    *arguments)}, like L{IEntityCollection}'s methods after the account and
    scope are bound.

    @ivar plan: C{(account, scope, entity)} to what C{create} takes; runs
        in the calling thread.
    @ivar created: C{(result of create, account name)} to the entity;
        runs in the reactor thread.
    @ivar create: C{None} when actions make the kind's entities:
        C{refusals.create_refused(kind)} is then the error.
    @ivar update: C{None} when the kind cannot be changed:
        C{refusals.update_refused(kind)} is then the error.
    @ivar trigger: C{None} when the kind has no action occid runs:
        C{refusals.action_impossible(kind, action)} is then the error.

    The C{plan} of a kind in L{refusals.IDEMPOTENT_KINDS} takes the
    create's idempotency key as a fourth argument.
    """

    kind: Kind
    list: Callable[..., list[Entity]]
    get: Callable[..., Entity]
    create: Callable[..., Any] | None
    delete: Callable[..., None]
    update: Callable[..., Entity] | None = None
    trigger: Callable[..., Any] | None = None
    plan: Callable[..., Any] = _unchanged
    created: Callable[[Any, str], Entity] = _entity


def _link_operations(kind: Kind, create: Callable[..., Entity],
                     delete: Callable[..., None]) -> Operations:
    return Operations(kind=kind, list=partial(links.list_links, kind=kind),
                      get=partial(links.get_link, kind=kind), create=create, delete=delete,
                      plan=planning.plan_link)


#: The operations of every kind the EC2 backend serves.
OPERATIONS: dict[Kind, Operations] = {ops.kind: ops for ops in (
    Operations(kind=infra.COMPUTE, list=compute.list_computes, get=compute.get_compute,
               create=launch.create_compute, delete=compute.delete_compute,
               update=compute.update_compute, trigger=compute.trigger_compute,
               plan=planning.plan_compute, created=_report_launch),
    Operations(kind=infra.STORAGE, list=storage.list_storage, get=storage.get_storage,
               create=storage.create_storage, delete=storage.delete_storage,
               update=storage.update_storage, trigger=storage.trigger_storage,
               plan=planning.plan_storage),
    Operations(kind=infra.NETWORK, list=network.list_networks, get=network.get_network,
               create=network.create_network, delete=network.delete_network,
               trigger=network.trigger_network, plan=planning.plan_network),
    Operations(kind=SNAPSHOT, list=snapshots.list_snapshots, get=snapshots.get_snapshot,
               create=None, delete=snapshots.delete_snapshot),
    _link_operations(infra.NETWORKINTERFACE, links.create_networkinterface,
                     links.delete_networkinterface),
    _link_operations(infra.STORAGELINK, links.create_storagelink, links.delete_storagelink),
)}


@implementer(IEntityCollection)
class EC2Collection:
    """The entities of one kind that one principal sees in one account."""

    log = log

    def __init__(self, reactor: IReactorFromThreads, pool: ThreadPool, account: Account,
                 scope: Scope, operations: Operations):
        self.kind = operations.kind
        self._reactor = reactor
        self._pool = pool
        self._account = account
        self._scope = scope
        self._operations = operations

    def _run(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """
        C{function(account, scope, *args)} in the thread pool; refused at
        once, without a thread, while the account's breaker is open here.
        """
        refusal = self._account.breaker.refusal()
        if refusal is not None:
            return fail(errors.translate(refusal))
        return deferToThreadPool(self._reactor, self._pool, function, self._account,
                                 self._scope, *args).addErrback(self._noted)

    def _noted(self, failure: Failure) -> Failure:
        """
        Log the EC2 error behind a failed operation (L{traced}) and what it
        could not clean up (the notes of its error).
        """
        traced(failure, self._account)
        for note in getattr(failure.value, "__notes__", ()):
            self.log.warn("{kind} in account {account}: {note}", kind=self.kind.term,
                          account=self._account.name, note=note)
        return failure

    def _write(self, function: Callable[..., Any],
               plan: Callable[[], tuple[Any, ...]]) -> Deferred[Any]:
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

    def list(self, filter: EntityFilter) -> Deferred[list[Entity]]:
        return self._run(self._operations.list, filter)

    def get(self, id: str) -> Deferred[Entity]:
        return self._run(self._operations.get, id)

    def create(self, entity: Entity, idempotency_key: str | None = None) -> Deferred[Entity]:
        operations = self._operations
        if operations.create is None:
            return fail(refusals.create_refused(self.kind))
        keyed: tuple[str, ...] = ()
        if idempotency_key is not None:
            if self.kind not in refusals.IDEMPOTENT_KINDS:
                return fail(refusals.not_idempotent(self.kind))
            keyed = (idempotency_key,)
        return self._write(
            operations.create,
            lambda: (operations.plan(self._account, self._scope, entity, *keyed),),
        ).addCallback(operations.created, self._account.name)

    def update(self, id: str, changes: Changes) -> Deferred[Entity]:
        if self._operations.update is None:
            return fail(refusals.update_refused(self.kind))
        return self._write(self._operations.update,
                           lambda: (id, planning.plan_update(changes)))

    def delete(self, id: str) -> Deferred[None]:
        return self._write(self._operations.delete, lambda: (id,))

    def trigger(self, id: str, action: Action,
                attributes: dict[str, AttributeValue]) -> Deferred[Any]:
        if self._operations.trigger is None:
            return fail(refusals.action_impossible(self.kind, action))
        return self._write(self._operations.trigger, lambda: (id, action, dict(attributes)))
