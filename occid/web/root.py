# -*- test-case-name: tests.test_web_root -*-
"""
The OCCI HTTP interface: URL space, verbs, and the one place where errors
become responses.

Every request goes through the same steps: negotiate the rendering
(C{Accept}), check the client's OCCI version, identify the principal (the
injected C{identify(request)}), bind it to an account (the policy), fetch
that account's catalog, route the path against it, check the method and
write permission, then ask the account's entity collection.  Nothing reaches
the backend before a principal and a binding exist.  An L{OCCIError} anywhere
becomes its status and an OCCI rendering of its message in the negotiated
type; anything else becomes a 500 carrying a request id, with the traceback
in the log only.

The URL space depends on the account (its templates live under C{/mixin/}),
so one resource serves every path and routes it with the account's catalog
(L{route}), instead of a static C{putChild} tree.

L{make_site} wraps the root in a C{Site} whose requests refuse bodies over
C{max_body} (413) before reading them, answer 504 when a request runs over
C{request_timeout} (abandoning the work), and carry the C{Server} header on
every response.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import server
from twisted.web.resource import Resource

from occid import SERVER_HEADER
from occid.gsi.principal import CertificateRejected
from occid.occi import infrastructure as infra
from occid.occi import rendering, resolve
from occid.occi.errors import (
    BadRequest,
    Forbidden,
    GatewayTimeout,
    InternalError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    OCCIError,
    PayloadTooLarge,
    Unauthorized,
    Unimplemented,
)
from occid.occi.model import Entity, EntityFilter, Kind, Mixin
from occid.web.negotiation import check_occi_version, negotiate, request_media_type

log = Logger()

#: The two paths of the query interface (GFD.185: byte-identical).
QUERY_PATHS = ("/-/", "/.well-known/org/ogf/occi/-/")

#: Methods that change nothing: allowed to read-only bindings.
READ_METHODS = ("GET", "HEAD", "OPTIONS")

#: The largest page a client may ask for (GFD.223 pagination: 413 above).
MAX_PAGE_SIZE = 1000

#: How many query-interface renderings are kept, (account, version, type).
QUERY_CACHE_SIZE = 64

_ACTION_QUERY = re.compile(r"action=([A-Za-z0-9_.-]+)")

#: The methods each kind of path answers.
METHODS = {
    "query": ("GET", "HEAD", "OPTIONS", "POST", "DELETE"),
    "kind": ("GET", "HEAD", "OPTIONS", "POST", "DELETE"),
    "entity": ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"),
    "mixin": ("GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"),
}


@dataclass(frozen=True)
class Route:
    """
    Where a path leads in one account's URL space.

    @ivar target: C{"query"}, C{"kind"} (a kind collection), C{"entity"} or
        C{"mixin"} (a mixin collection).
    @ivar category: the kind or mixin of the collection or entity.
    @ivar id: the entity id, for C{"entity"}.
    """

    target: str
    category: Kind | Mixin | None = None
    id: str = ""

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this path answers, for C{Allow}."""
        return METHODS[self.target]


def route(catalog, path: str) -> Route:
    """
    Find what C{path} names in the URL space of C{catalog}'s account.

    @raise NotFound: nothing lives there.
    """
    if path in QUERY_PATHS:
        return Route("query")
    kind = catalog.kind_at(path)
    if kind is not None:
        return Route("kind", kind)
    mixin = catalog.mixin_at(path)
    if mixin is not None:
        return Route("mixin", mixin)
    parent, _, id = path.rpartition("/")
    kind = catalog.kind_at(parent + "/") if id else None
    if kind is not None:
        return Route("entity", kind, id)
    raise NotFound(f"nothing lives at {path}; the query interface /-/ lists the collections")


def _page(args: dict[bytes, list[bytes]]) -> tuple[int, int | None]:
    """
    The C{?page=N&number=M} of a listing: (page, page size or None for all).

    @raise BadRequest: not positive integers.
    @raise PayloadTooLarge: a page size over L{MAX_PAGE_SIZE}.
    """
    values = {}
    for name in (b"page", b"number"):
        if name in args:
            try:
                values[name] = int(args[name][-1])
            except ValueError:
                values[name] = 0
            if values[name] < 1:
                raise BadRequest(f"{name.decode()} must be a positive integer")
    number = values.get(b"number")
    if number is not None and number > MAX_PAGE_SIZE:
        raise PayloadTooLarge(
            f"page size {number} is over {MAX_PAGE_SIZE}; ask for smaller pages"
        )
    if b"page" in values and number is None:
        number = MAX_PAGE_SIZE
    return values.get(b"page", 1), number


def _carries(entity: Entity, mixin: Mixin) -> bool:
    """Whether C{entity} carries C{mixin} or a mixin depending on it."""
    return any(m == mixin or m.depends_on(mixin) for m in entity.mixins)


@dataclass
class _Exchange:
    """What one request has established so far, for its responses and logs."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    method: str = ""
    path: str = ""
    renderer: object = None
    dn: str | None = None
    account: str | None = None
    finished: bool = False
    gone: bool = False
    work: defer.Deferred | None = None


class OCCIResource(Resource):
    """
    The whole OCCI URL space.  Build it with L{make_root}.
    """

    isLeaf = True

    def __init__(self, backend, policy, identify, public_url: str, clock):
        super().__init__()
        self._backend = backend
        self._policy = policy
        self._identify = identify
        self._base_url = public_url.rstrip("/")
        self._clock = clock
        self._query_cache: OrderedDict[tuple, rendering.Rendered] = OrderedDict()

    # -- twisted.web ----------------------------------------------------------

    def render(self, request):
        exchange = _Exchange(
            method=request.method.decode("latin-1"),
            path=request.path.decode("utf-8", "replace"),
        )
        request.notifyFinish().addBoth(self._finished_early, exchange)
        work = defer.Deferred.fromCoroutine(self._serve(request, exchange))
        if not work.called:
            exchange.work = work
        work.addErrback(self._lost, exchange)
        return server.NOT_DONE_YET

    def _finished_early(self, result, exchange: _Exchange) -> None:
        """The request ended (timeout answer or disconnect) while we worked."""
        if exchange.finished:
            return
        exchange.gone = True
        if exchange.work is not None and not exchange.work.called:
            exchange.work.cancel()

    def _lost(self, failure, exchange: _Exchange) -> None:
        """Log a failure of the answer itself (the pipeline catches the rest)."""
        if not failure.check(defer.CancelledError):
            log.failure(
                "request {request_id} failed after it was answered",
                failure, request_id=exchange.request_id,
            )

    # -- the pipeline -------------------------------------------------------------

    async def _serve(self, request, exchange: _Exchange) -> None:
        """Run L{_handle} and answer with its result or its error."""
        try:
            status, rendered, headers = await self._handle(request, exchange)
        except OCCIError as error:
            status, rendered, headers = self._error(error, exchange)
        except Exception:
            if exchange.gone:
                log.info(
                    "{method} {path} abandoned", method=exchange.method,
                    path=exchange.path, request_id=exchange.request_id,
                    dn=exchange.dn, account=exchange.account,
                )
                return
            log.failure(
                "{method} {path} failed: request {request_id}",
                method=exchange.method, path=exchange.path,
                request_id=exchange.request_id, dn=exchange.dn,
                account=exchange.account,
            )
            status, rendered, headers = self._error(
                InternalError(exchange.request_id), exchange
            )
        if exchange.gone:
            return
        self._respond(request, exchange, status, rendered, headers)

    def _error(self, error: OCCIError, exchange: _Exchange):
        """C{error} as (status, rendering, headers), in the negotiated type if any."""
        renderer = exchange.renderer
        if renderer is None or renderer.media_type == "text/uri-list":
            renderer = rendering.renderer("text/plain")
        return error.status, renderer.error(error), error.headers

    def _respond(self, request, exchange, status, rendered, headers) -> None:
        """Write the whole response, with Server, Accept and Content-Length, and log it."""
        request.setResponseCode(status)
        if rendered is not None:
            for name, value in rendered.headers:
                request.responseHeaders.addRawHeader(name, value)
            request.setHeader("Content-Type", rendered.content_type)
            body = rendered.body
        else:
            body = b""
        for name, value in headers:
            request.setHeader(name, value)
        request.setHeader("Server", SERVER_HEADER)
        request.setHeader("Accept", ", ".join(rendering.MEDIA_TYPES))
        request.setHeader("Content-Length", str(len(body)))
        exchange.finished = True
        log.info(
            "{method} {path} {status}", method=exchange.method,
            path=exchange.path, status=status, dn=exchange.dn,
            account=exchange.account, request_id=exchange.request_id,
        )
        request.write(body)
        request.finish()

    async def _handle(self, request, exchange: _Exchange):
        """
        Serve one request.

        @return: C{(status, Rendered or None, extra headers)}.
        """
        # Who is asking comes first (401, then 403 for no account): a client
        # is told about its credentials before anything about its request.
        # Until then, errors are rendered in the type it accepts if any.
        try:
            media_type = negotiate(_header(request, b"accept"), rendering.MEDIA_TYPES)
        except NotAcceptable as error:
            unacceptable, media_type = error, "text/plain"
        else:
            unacceptable = None
        exchange.renderer = rendering.renderer(media_type)
        try:
            principal = await defer.maybeDeferred(self._identify, request)
        except CertificateRejected as rejected:
            raise Unauthorized(str(rejected)) from None
        exchange.dn = principal.dn
        now = datetime.fromtimestamp(self._clock.seconds(), UTC)
        if principal.expired(now):
            raise Unauthorized(
                f"your proxy expired at {principal.not_after.isoformat()}; "
                "create a new one (voms-proxy-init) and reconnect"
            )
        binding = self._policy.bind(principal)
        exchange.account = binding.account
        if unacceptable is not None:
            raise unacceptable
        check_occi_version(_header(request, b"user-agent"))
        catalog = await self._backend.catalog(binding, principal)
        target = route(catalog, exchange.path)
        method = "GET" if exchange.method == "HEAD" else exchange.method
        if exchange.method not in target.methods:
            raise MethodNotAllowed(
                f"{exchange.method} is not allowed on {exchange.path}", target.methods
            )
        if method == "OPTIONS":
            return 200, None, (("Allow", ", ".join(target.methods)),)
        if not binding.writable and method not in READ_METHODS:
            raise Forbidden(
                "your proxy is limited, which allows reading only; "
                "use a full proxy to create, change or delete"
            )
        if (
            exchange.renderer.media_type == "text/uri-list"
            and target.target in ("entity", "query")
            and method != "DELETE"
        ):
            raise BadRequest(
                "text/uri-list renders collections only; accept text/plain, "
                "text/occi or application/occi+json here"
            )
        context = _Context(
            request, exchange, self._backend, principal, binding, catalog, target
        )
        handler = getattr(self, f"_{target.target}_{method.lower()}")
        return await handler(context)

    # -- the query interface ----------------------------------------------------

    async def _query_get(self, context):
        renderer = context.exchange.renderer
        document = context.filters()
        if document.categories:
            categories = resolve.categories_filter(document, context.catalog)
            return 200, renderer.categories(categories, self._base_url), ()
        key = (context.binding.account, context.catalog.version, renderer.media_type)
        rendered = self._query_cache.get(key)
        if rendered is None:
            rendered = renderer.categories(context.catalog, self._base_url)
            self._query_cache[key] = rendered
            if len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        else:
            self._query_cache.move_to_end(key)
        return 200, rendered, ()

    async def _query_post(self, context):
        raise Unimplemented("user-defined mixins are not supported yet")

    _query_delete = _query_post

    # -- kind collections -------------------------------------------------------

    async def _kind_get(self, context):
        page, number = _page(context.request.args)
        entities = await context.collection().list(resolve.filter_from(context.filters()))
        return 200, self._listing(context, entities, page, number), ()

    def _listing(self, context, entities, page, number):
        if number is not None:
            entities = entities[(page - 1) * number: page * number]
        return context.exchange.renderer.collection(entities, self._base_url)

    async def _kind_post(self, context):
        kind = context.target.category
        term = context.action_term()
        document = context.body()
        if term is not None:
            action, attributes = resolve.action_for_trigger(
                document, term, kind, context.catalog
            )
            collection = context.collection()
            results = []
            for entity in await collection.list(EntityFilter()):
                if action in entity.actions:
                    result = await collection.trigger(entity.id, action, attributes)
                    if isinstance(result, Entity):
                        results.append(result)
            return 200, context.exchange.renderer.collection(results, self._base_url), ()
        if kind.is_a(infra.LINK):
            entity = resolve.link_for_create(document, kind, context.catalog)
        else:
            entity = resolve.resource_for_create(document, kind, context.catalog)
        created = await context.collection().create(entity)
        url = self._base_url + created.location
        rendered = context.exchange.renderer.created(url)
        return 201, rendered, (("Location", url), ("X-OCCI-Location", url))

    async def _kind_delete(self, context):
        collection = context.collection()
        for entity in await collection.list(EntityFilter(owned_only=True)):
            await collection.delete(entity.id)
        return 200, context.exchange.renderer.ok(), ()

    # -- entities -------------------------------------------------------------------

    async def _entity_get(self, context):
        entity = await context.collection().get(context.target.id)
        return 200, context.exchange.renderer.entity(entity, self._base_url), ()

    async def _entity_post(self, context):
        term = context.action_term()
        document = context.body()
        kind, id = context.target.category, context.target.id
        renderer = context.exchange.renderer
        if term is None:
            changes = resolve.changes_for_update(document, kind, context.catalog, False)
            updated = await context.collection().update(id, changes)
            return 200, renderer.entity(updated, self._base_url), ()
        action, attributes = resolve.action_for_trigger(document, term, kind, context.catalog)
        result = await context.collection().trigger(id, action, attributes)
        if isinstance(result, Entity):
            return 200, renderer.entity(result, self._base_url), ()
        return 200, renderer.category(result, self._base_url), ()

    async def _entity_put(self, context):
        changes = resolve.changes_for_update(
            context.body(), context.target.category, context.catalog, True
        )
        updated = await context.collection().update(context.target.id, changes)
        return 200, context.exchange.renderer.entity(updated, self._base_url), ()

    async def _entity_delete(self, context):
        await context.collection().delete(context.target.id)
        return 200, context.exchange.renderer.ok(), ()

    # -- mixin collections --------------------------------------------------------

    async def _mixin_get(self, context):
        mixin = context.target.category
        page, number = _page(context.request.args)
        wanted = resolve.filter_from(context.filters())
        kinds = mixin.applies or tuple(
            k for k in context.catalog.kinds if k.location and k.is_a(infra.RESOURCE)
        )
        entities = []
        for kind in kinds:
            collection = self._backend.collection(kind, context.principal, context.binding)
            listed = await collection.list(wanted)
            entities.extend(e for e in listed if _carries(e, mixin))
        return 200, self._listing(context, entities, page, number), ()

    async def _mixin_post(self, context):
        raise Unimplemented(
            "associating entities through a mixin collection is not supported yet; "
            "update the entity (POST to its location) with the mixin instead"
        )

    _mixin_put = _mixin_delete = _mixin_post


@dataclass
class _Context:
    """One authorised, routed request, as the handlers see it."""

    request: object
    exchange: _Exchange
    backend: object
    principal: object
    binding: object
    catalog: object
    target: Route

    def collection(self):
        """The routed kind's collection, bound to the request's principal."""
        return self.backend.collection(self.target.category, self.principal, self.binding)

    def headers(self) -> list[tuple[str, str]]:
        return [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in self.request.requestHeaders.getAllRawHeaders()
            for value in values
        ]

    def filters(self):
        """The Category / X-OCCI-Attribute headers of a read (GFD.185 filtering)."""
        return rendering.parse("text/occi", self.headers(), b"")

    def body(self):
        """
        The request's OCCI document: from its body, or from its OCCI headers
        when the body is blank (text/occi, or no Content-Type at all).
        """
        content = self.request.content.read() if self.request.content else b""
        media_type = request_media_type(_header(self.request, b"content-type"))
        return rendering.parse(media_type, self.headers(), content)

    def action_term(self) -> str | None:
        """
        The term of C{?action=term}, or C{None} without a query.

        @raise BadRequest: a query other than exactly C{action=<term>}.
        """
        _, question, query = self.request.uri.partition(b"?")
        if not question:
            return None
        text = query.decode("latin-1")
        match = _ACTION_QUERY.fullmatch(text)
        if match is None:
            raise BadRequest(
                f"the query must be action=<term>, not {text!r}"
            )
        return match.group(1)


def _header(request, name: bytes) -> str | None:
    """The first value of request header C{name}, as text."""
    value = request.getHeader(name)
    return value.decode("latin-1") if isinstance(value, bytes) else value


def make_root(backend, policy, identify, public_url: str, clock) -> Resource:
    """
    The OCCI resource serving every path.

    @param backend: provides L{occid.interfaces.IBackend}.
    @param policy: provides L{occid.interfaces.IAccountPolicy}.
    @param identify: C{identify(request) -> Principal} (or a Deferred of
        one); raises L{Unauthorized} (or L{CertificateRejected}, answered
        the same way) with the reason.
    @param public_url: the base of absolute locations, C{https://host:port}.
    @param clock: an C{IReactorTime}, for principal expiry.
    """
    return OCCIResource(backend, policy, identify, public_url, clock)


def _error_rendering(accept: str | None, error: OCCIError) -> rendering.Rendered:
    """C{error} rendered in the type C{accept} asks for, else text/plain."""
    try:
        media_type = negotiate(accept, rendering.MEDIA_TYPES)
    except OCCIError:
        media_type = "text/plain"
    if media_type == "text/uri-list":
        media_type = "text/plain"
    return rendering.renderer(media_type).error(error)


class OCCIRequest(server.Request):
    """
    A request that enforces the site's limits and carries C{Server} on every
    response, including the ones Twisted itself writes.

    Bodies over the site's C{max_body} are refused with 413 and the
    connection closed: a declared C{Content-Length} before any of the body is
    read, a chunked body as soon as the bytes received pass the limit.  A
    request still unanswered after the site's C{request_timeout} gets 504,
    and the root abandons its work (it watches C{notifyFinish}).
    """

    _refused = False
    _received = 0
    _deadline = None
    _gone = False

    def gotLength(self, length):
        if length is not None and length > self.channel.site.max_body:
            self.content = BytesIO()
            # No "100 Continue" after the refusal (the channel sends it next).
            self.requestHeaders.removeHeader(b"expect")
            self._refuse_body()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > self.channel.site.max_body:
            self._refuse_body()
        else:
            super().handleContentChunk(data)

    def _refuse_body(self) -> None:
        """Answer 413 straight on the transport and close the connection."""
        self._refused = True
        site = self.channel.site
        error = PayloadTooLarge(
            f"the request body is over {site.max_body} bytes; send less"
        )
        rendered = _error_rendering(_header(self, b"accept"), error)
        lines = [
            "HTTP/1.1 413 Request Entity Too Large",
            f"Server: {SERVER_HEADER}",
            f"Accept: {', '.join(rendering.MEDIA_TYPES)}",
            f"Content-Type: {rendered.content_type}",
            f"Content-Length: {len(rendered.body)}",
            "Connection: close",
        ]
        lines += [f"{name}: {value}" for name, value in rendered.headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        log.info(
            "request body over {max_body} bytes refused", max_body=site.max_body,
            status=413,
        )
        self.channel.transport.write(head + rendered.body)
        self.channel.transport.loseConnection()

    def process(self):
        if self._refused:
            return
        site = self.channel.site
        self._deadline = site.reactor.callLater(site.request_timeout, self._time_out)
        super().process()

    def _stop_clock(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def finish(self):
        self._stop_clock()
        return super().finish()

    def connectionLost(self, reason):
        self._gone = True
        self._stop_clock()
        super().connectionLost(reason)

    def _time_out(self) -> None:
        """Answer 504 for a request that ran over its time."""
        self._deadline = None
        if self.finished or self._gone:
            return
        error = GatewayTimeout(
            f"the request took over {self.channel.site.request_timeout} seconds "
            "and was abandoned; check the resource's state before retrying"
        )
        rendered = _error_rendering(_header(self, b"accept"), error)
        self.setResponseCode(error.status)
        for name, value in rendered.headers:
            self.responseHeaders.addRawHeader(name, value)
        self.setHeader("Content-Type", rendered.content_type)
        self.setHeader("Content-Length", str(len(rendered.body)))
        log.info(
            "{method} {path} {status}", method=self.method.decode("latin-1"),
            path=self.path.decode("utf-8", "replace"), status=error.status,
            timeout=self.channel.site.request_timeout,
        )
        self.write(rendered.body)
        self.finish()

    def write(self, data):
        if not self.startedWriting:
            self.setHeader("Server", SERVER_HEADER)
            if not self.responseHeaders.hasHeader(b"accept"):
                self.setHeader("Accept", ", ".join(rendering.MEDIA_TYPES))
        super().write(data)


class OCCISite(server.Site):
    """
    A C{Site} of L{OCCIRequest}s with the limits they enforce.  Its access
    log is off: the root logs one structured event per request instead.
    """

    displayTracebacks = False

    def __init__(self, root, max_body: int, request_timeout: float, clock):
        super().__init__(root, requestFactory=OCCIRequest, reactor=clock)
        self.max_body = max_body
        self.request_timeout = request_timeout

    def log(self, request):
        """No access log line: see L{OCCIResource}'s structured events."""


def make_site(root, max_body: int, request_timeout: float, clock) -> server.Site:
    """
    The C{Site} serving C{root}.

    @param max_body: the largest request body accepted, in bytes.
    @param request_timeout: seconds before an unanswered request gets 504.
    @param clock: an C{IReactorTime} (the reactor, or a test clock).
    """
    return OCCISite(root, max_body, request_timeout, clock)
