# -*- test-case-name: tests.test_web_root,tests.test_web_status -*-
"""
The OCCI resource: every request goes through the same steps, in order.

 1. B{negotiate} the rendering (C{Accept}) and the OCCI version of the
    answers (the C{OCCI/x.y} of C{User-Agent}: 1.1 clients get 1.1
    renderings); a refusal waits until the client knows who it is, so that
    errors before then are rendered in the type it accepts if any;
 2. B{authenticate}: the injected C{identify(request)} gives the principal
    (401 otherwise), still valid on the reactor's clock;
 3. B{bind} it to an account (the policy; 403 for none), then check the
    client's OCCI version;
 4. B{route} the path against that account's catalog, check the method (405)
    and write permission (403);
 5. B{handle}: the route target's handler (L{occid.server.handlers}).

Nothing reaches the backend before a principal and a binding exist.  An
L{OCCIError} anywhere becomes its status and an OCCI rendering of its message
in the negotiated type (L{occid.server.respond}); anything else becomes a 500
carrying a request id, with the traceback in the log only.  A request that
ends early (timeout answer, disconnect) has its work cancelled and nothing
more written.

Every request ends with one event, L{REQUEST_LOG} (its text line and its
keys name the method, path and query, status, duration, bytes sent, peer,
user, account and request id), and is counted in L{occid.metrics}.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource

from occid import metrics
from occid.gsi.principal import CertificateRejected, Principal
from occid.interfaces import IAccountPolicy, IBackend
from occid.occi import rendering
from occid.occi.errors import (
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotAcceptable,
    OCCIError,
)
from occid.occi.negotiation import check_occi_version, client_version, negotiate
from occid.server.context import Context, Exchange, header
from occid.server.handlers import READ_METHODS, handlers
from occid.server.identity import check_current, rejected
from occid.server.respond import Answer, error_answer, send
from occid.server.routes import route

log = Logger()

#: The one event logged per request, when it ends (answered, timed out or
#: left by its client), carrying every field of L{LogFields} and these.
REQUEST_LOG = ("{method} {path}{query} {status} {duration_ms}ms {bytes}B peer={peer} "
               "user={dn!r} account={account} request={request_id}")

#: The status logged and counted for a request its client left before its
#: answer (nginx's, for the same).
CLIENT_GONE = 499

#: C{identify(request)}: the principal of a request, or a Deferred of one.
Identify = Callable[[server.Request], "Principal | defer.Deferred[Principal]"]


class OCCIResource(Resource):
    """
    The whole OCCI URL space, one resource serving every path.  Build it
    with L{make_root}.
    """

    isLeaf = True

    def __init__(
        self, backend: IBackend, policy: IAccountPolicy, identify: Identify,
        public_url: str, clock: IReactorTime,
    ):
        super().__init__()
        self._backend = backend
        self._policy = policy
        self._identify = identify
        self._clock = clock
        self._handlers = handlers(public_url.rstrip("/"))

    def render(self, request: server.Request) -> int:
        exchange = Exchange.of(request, self._clock.seconds())
        request.notifyFinish().addBoth(self._ended, request, exchange)
        work = defer.Deferred.fromCoroutine(self._serve(request, exchange))
        if not work.called:
            exchange.work = work
        return server.NOT_DONE_YET

    async def _serve(self, request: server.Request, exchange: Exchange) -> None:
        """
        Handle the request and write its answer (one coroutine: most
        requests end without waiting, and need no chain of callbacks).
        """
        try:
            try:
                answer: Answer | None = await self._handle(request, exchange)
            except Exception:  # noqa: BLE001 - every failure is answered or logged
                answer = self._failed(Failure(), exchange)
            self._answer(answer, request, exchange)
        except Exception:  # noqa: BLE001 - the answer's own failure, logged
            self._lost(Failure(), exchange)

    # -- how a request ends ---------------------------------------------------------

    def _ended(self, result: object, request: server.Request, exchange: Exchange) -> None:
        """
        The request ended: log it and count it.  If it ended while we
        worked (a timeout answer or a disconnect), abandon the work.
        """
        if not exchange.finished:
            exchange.gone = True
            if exchange.work is not None and not exchange.work.called:
                exchange.work.cancel()
        status = CLIENT_GONE if isinstance(result, Failure) else request.code
        duration = max(0.0, self._clock.seconds() - exchange.started)
        log.info(REQUEST_LOG, status=status, duration_ms=round(duration * 1000, 1),
                 bytes=request.sentLength, **exchange.log_fields())
        kind = metrics.request_kind(exchange.path)
        metrics.REQUESTS.labels(kind, metrics.method_label(exchange.method), str(status)).inc()
        metrics.REQUEST_LATENCY.labels(kind).observe(duration)

    def _failed(self, failure: Failure, exchange: Exchange) -> Answer | None:
        """
        The answer to a failed request: its L{OCCIError}, else a logged 500;
        C{None} when the request is gone (its work was abandoned).
        """
        if isinstance(failure.value, OCCIError):
            return error_answer(failure.value, exchange.renderer)
        if exchange.gone:
            log.info("{method} {path}{query} abandoned", **exchange.log_fields())
            return None
        log.failure(
            "{method} {path}{query} failed: request {request_id}", failure,
            **exchange.log_fields(),
        )
        return error_answer(InternalError(exchange.request_id), exchange.renderer)

    def _answer(self, answer: Answer | None, request: server.Request, exchange: Exchange) -> None:
        """Write C{answer}, unless the request is gone, and log it."""
        if answer is None or exchange.gone:
            return
        exchange.finished = True
        send(request, answer)

    def _lost(self, failure: Failure, exchange: Exchange) -> None:
        """Log a failure of the answer itself (the pipeline catches the rest)."""
        if not failure.check(defer.CancelledError):
            log.failure(
                "request {request_id} failed after it was answered",
                failure, request_id=exchange.request_id,
            )

    # -- the steps ----------------------------------------------------------------

    async def _handle(self, request: server.Request, exchange: Exchange) -> Answer:
        """Serve one request: the steps of this module's docstring."""
        # Who is asking comes first (401, then 403 for no account): a client
        # is told about its credentials before anything about its request.
        try:
            media_type = negotiate(header(request, b"accept"), rendering.MEDIA_TYPES)
        except NotAcceptable as error:
            unacceptable: NotAcceptable | None = error
            media_type = "text/plain"
        else:
            unacceptable = None
        user_agent = header(request, b"user-agent")
        version = exchange.occi_version = client_version(user_agent)
        renderer = exchange.renderer = rendering.renderer(media_type, version)
        principal = await self._identified(request)
        exchange.dn = principal.name
        check_current(principal, self._clock)
        binding = self._policy.bind(principal)
        exchange.account = binding.account
        if unacceptable is not None:
            raise unacceptable
        check_occi_version(user_agent)
        catalog = await self._backend.catalog(binding, principal)
        target = route(catalog, exchange.path)
        handler = self._handlers[target.target]
        method = "GET" if exchange.method == "HEAD" else exchange.method
        if exchange.method not in handler.methods:
            raise MethodNotAllowed(
                f"{exchange.method} is not allowed on {exchange.path}", handler.methods
            )
        if method == "OPTIONS":
            return Answer(200, None, (("Allow", ", ".join(handler.methods)),))
        if not binding.writable and method not in READ_METHODS:
            raise Forbidden(
                "your proxy is limited, which allows reading only; "
                "use a full proxy to create, change or delete"
            )
        if (
            renderer.media_type == "text/uri-list"
            and target.target in ("entity", "query")
            and method != "DELETE"
        ):
            raise BadRequest(
                "text/uri-list renders collections only; accept text/plain, "
                "text/occi or application/occi+json here"
            )
        context = Context(
            request, exchange, self._backend, principal, binding, catalog, target, renderer
        )
        return await handler.render(method, context)

    async def _identified(self, request: server.Request) -> Principal:
        """
        The principal asking.

        @raise Unauthorized: there is none; the message says why.
        """
        try:
            identified = self._identify(request)
            if isinstance(identified, defer.Deferred):
                return await identified
            return identified
        except CertificateRejected as refusal:
            raise rejected(refusal) from None


def make_root(
    backend: IBackend, policy: IAccountPolicy, identify: Identify, public_url: str,
    clock: IReactorTime,
) -> Resource:
    """
    The OCCI resource serving every path.

    @param backend: the cloud behind occid.
    @param policy: binds each principal to an account.
    @param identify: C{identify(request) -> Principal} (or a Deferred of
        one); raises L{occid.occi.errors.Unauthorized} (or
        L{CertificateRejected}, answered the same way) with the reason.  In
        the daemon, L{occid.server.channel.identify}.
    @param public_url: the base of absolute locations, C{https://host:port}.
    @param clock: the reactor's clock, for principal expiry.
    """
    return OCCIResource(backend, policy, identify, public_url, clock)
