# -*- test-case-name: tests.test_web_root,tests.test_web_status -*-
"""
What each kind of path does with each method, once the pipeline has
authorised and routed the request.

One handler object per route target (L{handlers} builds the table); like a
Twisted C{Resource}, a handler answers the methods it has a
C{render_<METHOD>} for, and L{Handler.methods} (the C{Allow} list) is derived
from them.  C{HEAD} and C{OPTIONS} are answered by the pipeline for every
target.  Each C{render_<METHOD>} takes the request's L{Context} and returns an
L{Answer}; errors are raised as L{OCCIError}s, for the pipeline to write.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from occid.occi import corekinds, idempotency, rendering, resolve, textparse, usermixins
from occid.occi import infrastructure as infra
from occid.occi.errors import Conflict, Forbidden, OCCIError
from occid.occi.model import Document, Entity, EntityFilter, Kind, Mixin
from occid.server.context import Context, header, listed
from occid.server.representations import Representations
from occid.server.respond import Answer
from occid.server.routes import Page, page

#: Methods that change nothing: allowed to read-only bindings, and answered
#: on every path.
READ_METHODS = ("GET", "HEAD", "OPTIONS")

#: Methods a handler answers when it has their C{render_<METHOD>}.
WRITE_METHODS = ("POST", "PUT", "DELETE")

#: How many query-interface renderings are kept (with their compressed
#: form), by (account, catalog version, media type, OCCI version).
QUERY_CACHE_SIZE = 64


class Handler:
    """
    The methods of one kind of path.

    @ivar base_url: the base of absolute locations, C{https://host:port}.
    """

    def __init__(self, base_url: str):
        self.base_url = base_url

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this kind of path answers, in C{Allow} order."""
        return READ_METHODS + tuple(m for m in WRITE_METHODS if hasattr(self, f"render_{m}"))

    async def render(self, method: str, context: Context) -> Answer:
        """
        Answer C{method} (C{GET} for C{HEAD}), one of L{methods} other than
        C{OPTIONS}, with its C{render_<METHOD>}.
        """
        respond: Callable[[Context], Awaitable[Answer]] = getattr(self, f"render_{method}")
        return await respond(context)

    def listing(self, context: Context, entities: Sequence[Entity], wanted: Page) -> Answer:
        """The C{wanted} page of C{entities}, rendered as a collection."""
        return Answer(200, context.renderer.collection(wanted.of(entities), self.base_url))


class QueryHandler(Handler):
    """
    The query interface: the account's categories, cached per catalog
    version as the bytes sent (L{Representations}: with an C{ETag}, a
    C{304} for C{If-None-Match}, gzip for C{Accept-Encoding}).  A query
    filtered by C{Category} headers is rendered each time, as it is.

    The cache key holds all a rendering depends on but the handler's
    C{base_url} (category locations are paths, and a new base URL comes
    with a new configuration generation, and so new handlers).
    """

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self._cache: OrderedDict[tuple[str, str, str, str], Representations] = OrderedDict()

    async def render_GET(self, context: Context) -> Answer:
        renderer = context.renderer
        document = context.filters()
        if document.categories:
            categories = resolve.categories_filter(document, context.catalog)
            return Answer(200, renderer.categories(categories, self.base_url))
        key = (context.binding.account, context.catalog.version, renderer.media_type,
               context.exchange.occi_version)
        forms = self._cache.get(key)
        if forms is None:
            forms = Representations.of(renderer.categories(context.catalog, self.base_url))
            self._cache[key] = forms
            if len(self._cache) > QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        request = context.request
        return forms.answer(listed(request, b"accept-encoding"), listed(request, b"if-none-match"))

    async def render_POST(self, context: Context) -> Answer:
        """Define a user mixin (GFD.185); 201 with the mixin's location."""
        _check_writable(context)
        mixin = usermixins.definition_request(context.body())
        usermixins.check_clash(mixin, context.catalog)
        defined = await context.backend.mixins(context.principal, context.binding).define(mixin)
        return created(context, self.base_url + (defined.location or ""))

    async def render_DELETE(self, context: Context) -> Answer:
        """Remove a user mixin: its definition and its memberships."""
        _check_writable(context)
        mixin = usermixins.removal_request(context.body(), context.catalog)
        await context.backend.mixins(context.principal, context.binding).remove(mixin)
        return Answer(200, context.renderer.ok())


class RootHandler(Handler):
    """
    C{/}, the root of the name-space: its hierarchy, the locations of the
    kind collections (absolute), in the negotiated type.
    """

    async def render_GET(self, context: Context) -> Answer:
        urls = [self.base_url + kind.location for kind in context.catalog.kinds
                if kind.location]
        return Answer(200, context.renderer.locations(urls))


class KindHandler(Handler):
    """
    A kind's collection: list, create, trigger an action on all (answered
    like a trigger on one entity, without renderings), delete all owned.
    """

    async def render_GET(self, context: Context) -> Answer:
        wanted = page(context.request.args)
        entities = await context.collection().list(resolve.filter_from(context.filters()))
        return self.listing(context, entities, wanted)

    async def render_POST(self, context: Context) -> Answer:
        kind = _kind(context)
        term = context.action_term()
        document = context.body()
        if term is not None:
            action, attributes = resolve.action_for_trigger(
                document, term, kind, context.catalog
            )
            collection = context.collection()
            for listed in await collection.list(EntityFilter()):
                if action in listed.actions:
                    await collection.trigger(listed.id, action, attributes)
            return Answer(200, context.renderer.ok())
        entity: Entity
        if kind.is_a(corekinds.LINK):
            entity = resolve.link_for_create(document, kind, context.catalog)
        else:
            entity = resolve.resource_for_create(document, kind, context.catalog)
        key = header(context.request, idempotency.HEADER.encode())
        made = await context.collection().create(
            entity, None if key is None else idempotency.check_key(key))
        return created(context, self.base_url + made.location)

    async def render_DELETE(self, context: Context) -> Answer:
        """
        Delete every owned entity of the collection, each one tried even
        when another fails; 409 listing those that could not be deleted
        (L{undeleted}), after the others are gone.
        """
        collection = context.collection()
        refused: list[tuple[str, OCCIError]] = []
        for entity in await collection.list(EntityFilter(owned_only=True)):
            try:
                await collection.delete(entity.id)
            except OCCIError as error:
                refused.append((self.base_url + entity.location, error))
        if refused:
            raise undeleted(_kind(context), refused)
        return Answer(200, context.renderer.ok())


def created(context: Context, url: str) -> Answer:
    """The 201 answering a request that made the entity at C{url}."""
    return Answer(201, context.renderer.created(url),
                  (("Location", url), ("X-OCCI-Location", url)))


def undeleted(kind: Kind, refused: Sequence[tuple[str, OCCIError]]) -> Conflict:
    """
    The 409 of a collection delete that left C{refused} (location, error)
    behind: each location with the status and message of its refusal.
    """
    reasons = "; ".join(f"{url}: {error.status} {error.message.rstrip('.')}"
                        for url, error in refused)
    return Conflict(f"{len(refused)} {kind.term} could not be deleted (the others were): "
                    f"{reasons}")


class EntityHandler(Handler):
    """
    One entity: read, update (partial or whole), trigger an action, delete.

    A trigger answers 200 without a rendering of the entity (as rOCCI-server
    did: rOCCI-cli reads a trigger's answer as the categories a C{save}
    made), except C{save}, which answers the new os_tpl category, and an
    action that made another entity (a storage's C{snapshot} or C{backup}),
    which answers 201 with its C{Location}.
    """

    async def render_GET(self, context: Context) -> Answer:
        entity = await context.collection().get(context.target.id)
        return Answer(200, context.renderer.entity(entity, self.base_url))

    async def render_POST(self, context: Context) -> Answer:
        term = context.action_term()
        document = context.body()
        kind, id = _kind(context), context.target.id
        renderer = context.renderer
        if term is None:
            changes = resolve.changes_for_update(document, kind, context.catalog, False)
            updated = await context.collection().update(id, changes)
            return Answer(200, renderer.entity(updated, self.base_url))
        action, attributes = resolve.action_for_trigger(document, term, kind, context.catalog)
        result = await context.collection().trigger(id, action, attributes)
        if isinstance(result, Entity) and result.kind != kind:
            return created(context, self.base_url + result.location)
        if isinstance(result, Entity):
            return Answer(200, renderer.ok())
        return Answer(200, renderer.category(result, self.base_url))

    async def render_PUT(self, context: Context) -> Answer:
        changes = resolve.changes_for_update(context.body(), _kind(context), context.catalog, True)
        updated = await context.collection().update(context.target.id, changes)
        return Answer(200, context.renderer.entity(updated, self.base_url))

    async def render_DELETE(self, context: Context) -> Answer:
        await context.collection().delete(context.target.id)
        return Answer(200, context.renderer.ok())


class MixinHandler(Handler):
    """
    A mixin's collection: the entities carrying the mixin, over the kinds
    with a collection that are (or derive from) the kinds it applies to.
    """

    async def render_GET(self, context: Context) -> Answer:
        mixin = _mixin(context)
        wanted = page(context.request.args)
        found = resolve.filter_from(context.filters())
        applies = mixin.applies or (corekinds.RESOURCE,)
        kinds = tuple(k for k in context.catalog.kinds
                      if k.location and any(k.is_a(kind) for kind in applies))
        entities: list[Entity] = []
        for kind in kinds:
            collection = context.backend.collection(kind, context.principal, context.binding)
            listed = await collection.list(found)
            entities.extend(e for e in listed if _carries(e, mixin))
        return self.listing(context, entities, wanted)

    async def render_POST(self, context: Context) -> Answer:
        """Associate the named entities with a user mixin (GFD.185)."""
        await self._tag(context, "associate")
        return Answer(200, context.renderer.ok())

    async def render_PUT(self, context: Context) -> Answer:
        """Make the named entities the user mixin's members (GFD.185)."""
        await self._tag(context, "replace")
        return Answer(200, context.renderer.ok())

    async def render_DELETE(self, context: Context) -> Answer:
        """
        Dissociate the named entities from a user mixin (GFD.185); with an
        empty body, on an os_tpl, delete the image a user saved
        (L{occid.interfaces.IImageStore}, which refuses a read-only binding).
        """
        mixin = _mixin(context)
        document = _locations(context) if mixin.depends_on(infra.OS_TPL) else None
        if document == Document():
            await context.backend.images(context.principal, context.binding).remove(mixin)
        else:
            await self._tag(context, "dissociate", document)
        return Answer(200, context.renderer.ok())

    async def _tag(self, context: Context, how: str, document: Document | None = None) -> None:
        """
        Change the members of a user mixin to the entities named by
        C{document}, or by the request's body.
        """
        mixin = _mixin(context)
        if not usermixins.is_user_location(mixin.location):
            raise Forbidden(
                f"{mixin.identifier} is a mixin of occid's: its members cannot be changed "
                "through its location; update the entity (POST to its location) instead")
        _check_writable(context)
        named = _locations(context) if document is None else document
        targets = usermixins.targets(named, context.catalog, mixin,
                                     allow_empty=how == "replace")
        store = context.backend.mixins(context.principal, context.binding)
        if how == "dissociate":
            await store.dissociate(mixin, targets)
        else:
            await store.associate(mixin, targets, how == "replace")


def handlers(base_url: str) -> dict[str, Handler]:
    """The handler of each route target (L{occid.server.routes.Route.target})."""
    return {
        "root": RootHandler(base_url),
        "query": QueryHandler(base_url),
        "kind": KindHandler(base_url),
        "entity": EntityHandler(base_url),
        "mixin": MixinHandler(base_url),
    }


def _kind(context: Context) -> Kind:
    """The kind of the routed collection or entity."""
    kind = context.target.category
    if not isinstance(kind, Kind):
        raise TypeError(f"a kind's path routed without its kind: {context.target}")
    return kind


def _mixin(context: Context) -> Mixin:
    """The mixin of the routed mixin collection."""
    mixin = context.target.category
    if not isinstance(mixin, Mixin):
        raise TypeError(f"a mixin collection routed without its mixin: {context.target}")
    return mixin


def _locations(context: Context) -> Document:
    """The body of a request naming entities: text/uri-list too (GFD.185)."""
    content_type = rendering.media_type_of(header(context.request, b"content-type") or "")
    if content_type == "text/uri-list":
        content = context.request.content.read() if context.request.content else b""
        return textparse.parse_uri_list(content)
    return context.body()


def _check_writable(context: Context) -> None:
    """@raise Forbidden: the binding may only read (a limited proxy)."""
    if not context.binding.writable:
        raise Forbidden("a limited proxy may only read; use a full proxy to change anything")


def _carries(entity: Entity, mixin: Mixin) -> bool:
    """Whether C{entity} carries C{mixin} or a mixin depending on it."""
    return any(m == mixin or m.depends_on(mixin) for m in entity.mixins)
