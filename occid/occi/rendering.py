# -*- test-case-name: tests.test_occi_rendering -*-
"""
The media-type API the web layer uses: L{parse} a request body into a
L{Document}, and a L{Renderer} per output media type.

Renderers are pure: the same input gives the same bytes, so the web layer
can cache query-interface renderings by (account, catalog version, media
type, OCCI version), and C{/-/} and C{/.well-known/org/ogf/occi/-/} are
byte-identical.  Entity locations they write are absolute (C{base_url} +
path); category locations are paths (C{/compute/}), since clients of the
OCCI 1.1 era prefix them with their endpoint.

Each renderer renders for one OCCI version (L{renderer}): the text
renderings for 1.1 leave out the attributes 1.2 added.

Answers to a create (201), as rOCCI-api 4 reads them (Location header, then
X-OCCI-Location headers, then X-OCCI-Location body lines, a body of C{OK}
ignored): every media type sends C{Location} and C{X-OCCI-Location}
headers; the text/plain body is C{X-OCCI-Location: <url>}, the text/occi
body C{OK}, the uri-list body the URL, and the JSON body
C{{"location": "<url>"}} (GFD.225 defines no rendering for it; an object
keeps the body valid JSON).

An answer without entity content (a delete, a trigger of stop, start or
restart) is L{Renderer.ok}: an empty body, C{OK} in text/occi.  A listing
of locations that are not entities (C{GET /}: the kind collections) is
L{Renderer.locations}.

Errors: text/plain carries the message as its body; text/occi also in an
C{X-OCCI-Error} header (as OOI does); JSON as
C{{"error": {"status": …, "message": …}}}; text/uri-list cannot carry one
and falls back to text/plain.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from occid.interfaces import ICatalog
from occid.occi import json as occi_json
from occid.occi import jsonrender, textparse, textrender
from occid.occi.errors import BadRequest, NotAcceptable, OCCIError, UnsupportedMediaType
from occid.occi.grammar import absolute
from occid.occi.model import Category, Document, Entity, Link
from occid.occi.negotiation import OCCIVersion

#: Output media types, in the server's order of preference.
MEDIA_TYPES = ("text/plain", "text/occi", "text/uri-list", "application/occi+json")

#: Request media types L{parse} reads (and the empty one: no body).
INPUT_TYPES = ("text/plain", "text/occi", "application/occi+json", "application/json")


@dataclass(frozen=True)
class Rendered:
    """A rendering: extra response headers, the body and its Content-Type."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str


def media_type_of(content_type: str) -> str:
    """
    The media type a Content-Type names: its first comma-separated item
    (rOCCI-cli sends C{text/plain,text/occi}) without parameters,
    lowercased; empty means text/plain.
    """
    first = content_type.split(",")[0].split(";")[0].strip().lower()
    return first or "text/plain"


def parse(content_type: str, headers: list[tuple[str, str]], body: bytes) -> Document:
    """
    What a request says, from its Content-Type, headers and body.

    text/plain reads the body, or the OCCI headers when the body is blank
    (filters on a GET); text/occi reads only the OCCI headers; the JSON types
    read the body (an empty body is an empty document).

    @raise BadRequest: the rendering is invalid; the message names the line.
    @raise UnsupportedMediaType: the media type is not one of
        L{INPUT_TYPES}.
    """
    media_type = media_type_of(content_type)
    if media_type == "text/plain":
        if body.strip():
            return textparse.parse_plain(body)
        return textparse.parse_headers(headers)
    if media_type == "text/occi":
        return textparse.parse_headers(headers)
    if media_type in ("application/occi+json", "application/json"):
        return occi_json.parse_json(body) if body.strip() else Document()
    raise UnsupportedMediaType(
        f"cannot read a {media_type} body; send one of {', '.join(INPUT_TYPES)}")


def _all_categories(catalog_or_categories: ICatalog | Iterable[Category]) -> Sequence[Category]:
    if isinstance(catalog_or_categories, Iterable):
        return tuple(catalog_or_categories)
    catalog = catalog_or_categories
    return catalog.kinds + catalog.mixins + catalog.actions


def _one_line(message: str) -> str:
    return " ".join(message.split())


class Renderer(ABC):
    """
    Renders responses in one media type, for one OCCI version.  Subclasses
    exist per type; use L{renderer} to get one.

    @ivar version: the OCCI version of the renderings.
    """

    media_type = ""

    def __init__(self, version: OCCIVersion = OCCIVersion.V1_2):
        self.version = OCCIVersion(version)

    def _rendered(self, body: bytes, headers: tuple[tuple[str, str], ...] = ()
                  ) -> Rendered:
        return Rendered(headers=headers, body=body, content_type=self.media_type)

    @abstractmethod
    def entity(self, entity: Entity, base_url: str) -> Rendered:
        """One entity: its categories, links, actions and attributes."""

    @abstractmethod
    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        """A listing; text renderings hold locations only."""

    @abstractmethod
    def categories(self, catalog_or_categories: ICatalog | Iterable[Category], base_url: str) -> Rendered:
        """The query interface, of an L{ICatalog} or some categories."""

    def category(self, category: Category, base_url: str) -> Rendered:
        """One category in full (e.g. the os_tpl a save produced)."""
        return self.categories((category,), base_url)

    @abstractmethod
    def created(self, location_url: str) -> Rendered:
        """The answer to a create: where the new entity lives."""

    def ok(self) -> Rendered:
        """A success without content (delete, an action without result)."""
        return self._rendered(b"")

    def locations(self, urls: Iterable[str]) -> Rendered:
        """
        A listing of absolute locations that are not entities (the kind
        collections C{GET /} answers).

        @raise NotAcceptable: this rendering has no form for it (the
            renderers here all have one).
        """
        raise NotAcceptable(f"{self.media_type} cannot list locations; "
                            "ask for text/plain or text/uri-list")

    def error(self, error: OCCIError) -> Rendered:
        """An error's message, with its headers."""
        return Rendered(headers=error.headers,
                        body=(_one_line(error.message) + "\n").encode("utf-8"),
                        content_type="text/plain")

    @staticmethod
    def _locations(location_url: str) -> tuple[tuple[str, str], ...]:
        return (("Location", location_url), ("X-OCCI-Location", location_url))


class TextPlainRenderer(Renderer):
    """text/plain: the structures in the body, one per line."""

    media_type = "text/plain"

    def entity(self, entity: Entity, base_url: str) -> Rendered:
        return self._rendered(textrender.plain_lines(
            textrender.entity_fields(entity, base_url, self.version)))

    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        return self.locations(absolute(base_url, e.location) for e in entities)

    def locations(self, urls: Iterable[str]) -> Rendered:
        return self._rendered(textrender.plain_lines(("X-OCCI-Location", u) for u in urls))

    def categories(self, catalog_or_categories: ICatalog | Iterable[Category], base_url: str) -> Rendered:
        return self._rendered(textrender.plain_lines(
            ("Category", textrender.category_value(c, True, self.version))
            for c in _all_categories(catalog_or_categories)))

    def created(self, location_url: str) -> Rendered:
        return self._rendered(textrender.plain_lines([("X-OCCI-Location", location_url)]),
                              self._locations(location_url))


class TextOcciRenderer(Renderer):
    """
    text/occi: the structures in headers, the values of each field name
    comma-joined on one header line; the body is C{OK}.  Collections are
    C{X-OCCI-Location} only: C{Location} is for a 201.
    """

    media_type = "text/occi"

    def _headers(self, fields: Iterable[tuple[str, str]], extra: Iterable[tuple[str, str]] = ()) -> Rendered:
        return self._rendered(b"OK", textrender.header_fields(fields) + tuple(extra))

    def entity(self, entity: Entity, base_url: str) -> Rendered:
        return self._headers(textrender.entity_fields(entity, base_url, self.version))

    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        return self.locations(absolute(base_url, e.location) for e in entities)

    def locations(self, urls: Iterable[str]) -> Rendered:
        return self._headers(("X-OCCI-Location", u) for u in urls)

    def categories(self, catalog_or_categories: ICatalog | Iterable[Category], base_url: str) -> Rendered:
        return self._headers(
            ("Category", textrender.category_value(c, True, self.version))
            for c in _all_categories(catalog_or_categories))

    def created(self, location_url: str) -> Rendered:
        return self._rendered(b"OK", self._locations(location_url))

    def ok(self) -> Rendered:
        return self._rendered(b"OK")

    def error(self, error: OCCIError) -> Rendered:
        rendered = super().error(error)
        return Rendered(
            headers=rendered.headers + (("X-OCCI-Error", _one_line(error.message)),),
            body=rendered.body, content_type=self.media_type)


class UriListRenderer(Renderer):
    """text/uri-list: absolute locations of a collection, one per line."""

    media_type = "text/uri-list"

    def entity(self, entity: Entity, base_url: str) -> Rendered:
        raise BadRequest("text/uri-list renders collections only; "
                         "ask for text/plain or text/occi")

    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        return self.locations(absolute(base_url, e.location) for e in entities)

    def locations(self, urls: Iterable[str]) -> Rendered:
        return self._rendered("".join(u + "\n" for u in urls).encode("utf-8"))

    def categories(self, catalog_or_categories: ICatalog | Iterable[Category], base_url: str) -> Rendered:
        raise BadRequest("text/uri-list cannot render categories; "
                         "ask for text/plain or text/occi")

    def created(self, location_url: str) -> Rendered:
        return self._rendered((location_url + "\n").encode("utf-8"),
                              self._locations(location_url))


class JsonRenderer(Renderer):
    """application/occi+json, as GFD.225 defines it."""

    media_type = "application/occi+json"

    def entity(self, entity: Entity, base_url: str) -> Rendered:
        return self._rendered(jsonrender.dumps(jsonrender.entity_object(entity, base_url)))

    def collection(self, entities: Iterable[Entity], base_url: str) -> Rendered:
        entities = list(entities)
        links = [e for e in entities if isinstance(e, Link)]
        key = "links" if entities and len(links) == len(entities) else "resources"
        return self._rendered(jsonrender.dumps(
            {key: [jsonrender.entity_object(e, base_url) for e in entities]}))

    def categories(self, catalog_or_categories: ICatalog | Iterable[Category], base_url: str) -> Rendered:
        return self._rendered(jsonrender.dumps(jsonrender.model_object(
            _all_categories(catalog_or_categories), base_url)))

    def category(self, category: Category, base_url: str) -> Rendered:
        return self._rendered(jsonrender.dumps(
            jsonrender.category_object(category, base_url)))

    def locations(self, urls: Iterable[str]) -> Rendered:
        return self._rendered(jsonrender.dumps({"locations": list(urls)}))

    def created(self, location_url: str) -> Rendered:
        return self._rendered(jsonrender.dumps({"location": location_url}),
                              self._locations(location_url))

    def error(self, error: OCCIError) -> Rendered:
        return Rendered(headers=error.headers, body=jsonrender.dumps(
            {"error": {"status": error.status, "message": error.message}}),
            content_type=self.media_type)


_RENDERERS: dict[tuple[str, OCCIVersion], Renderer] = {
    (r.media_type, version): r(version)
    for r in (TextPlainRenderer, TextOcciRenderer, UriListRenderer)
    for version in OCCIVersion
}
_RENDERERS[JsonRenderer.media_type, OCCIVersion.V1_2] = JsonRenderer(OCCIVersion.V1_2)


def renderer(media_type: str, version: OCCIVersion | str = OCCIVersion.V1_2) -> Renderer:
    """
    The renderer of one of L{MEDIA_TYPES} for OCCI C{version} (C{"1.1"} or
    C{"1.2"}, L{occid.occi.negotiation.client_version}).

    OCCI 1.1 clients reading JSON (rOCCI-cli 4) get rOCCI's legacy JSON
    (L{occid.occi.legacyjson}), which no 1.2 client reads.

    @raise KeyError: another media type (the web layer negotiates first).
    @raise ValueError: another version.
    """
    version = OCCIVersion(version)
    if version is OCCIVersion.V1_1 and media_type == JsonRenderer.media_type:
        # Imported here: the legacy renderer builds on this module's Renderer.
        from occid.occi.legacyjson import LegacyJsonRenderer

        return LegacyJsonRenderer(media_type)
    return _RENDERERS[media_type, version]
