# -*- test-case-name: tests.test_web_representations -*-
"""
The query interface's answers, kept as the bytes occid sends.

A rendering of the query interface is made once per cache entry
(L{occid.server.handlers.QueryHandler}) and turned here, once, into its
L{Representations}: the answer as rendered (identity) and, when that is
smaller, gzip-compressed; each with its own strong C{ETag} and its C{304}.
A request then picks one of them by its C{Accept-Encoding} and its
C{If-None-Match}: nothing is rendered, compressed or hashed per request.

The C{ETag} is a digest of everything the representation sends (content
type, coding, OCCI headers, body), so it changes whenever its bytes do (the
catalogue, the media type, the OCCI version, the coding) and stays the same
across a reload or between processes that would send the same bytes.
Answers carry C{Vary: Accept, Accept-Encoding} (the rendering follows
C{Accept}, the coding C{Accept-Encoding}, and the OCCI version the
C{User-Agent}, which caches would split too finely on: C{Cache-Control:
private, no-cache} keeps them out of shared caches and makes every reuse a
revalidation).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass, replace

from occid.occi.errors import BadRequest
from occid.occi.negotiation import IDENTITY, content_coding
from occid.occi.rendering import Rendered
from occid.server.respond import Answer

#: The one coding occid compresses with.
GZIP = "gzip"

#: What the answers of the query interface vary with, and how they may be cached.
CACHING_HEADERS = (("Vary", "Accept, Accept-Encoding"), ("Cache-Control", "private, no-cache"))

#: One element of an C{If-None-Match} list: an entity tag (weak or
#: strong), or nothing (RFC 9110 lists allow empty elements).
_LISTED_TAG = re.compile(r'[ \t]*(?:(?:W/)?("[^"]*"))?[ \t]*(?:,|$)')


def none_match(if_none_match: str, etag: str) -> bool:
    """
    Whether an C{If-None-Match} condition is false for C{etag}: it is C{*}
    (a current representation exists), or lists a tag weakly equal to it
    (the same opaque tag, C{W/} or not: RFC 9110, 13.1.2).

    @param if_none_match: the request's C{If-None-Match} value (its lines
        comma-joined).
    @param etag: the representation's entity tag, with its quotes.
    @raise BadRequest: the value is neither C{*} nor a list of entity tags.
    """
    value = if_none_match.strip()
    if value == "*":
        return True
    position, listed = 0, []
    while position < len(value):
        element = _LISTED_TAG.match(value, position)
        if element is None:
            raise BadRequest(
                f"If-None-Match must be * or a comma-separated list of quoted entity tags "
                f'(as ETag sends them: "abc" or W/"abc"), not {if_none_match!r}'
            )
        if element.group(1) is not None:
            listed.append(element.group(1))
        position = element.end()
    return etag in listed


@dataclass(frozen=True)
class Representation:
    """
    One form of an answer: the C{200} sending it and the C{304} naming it.

    @ivar etag: its strong entity tag, quoted.
    """

    etag: str
    ok: Answer
    not_modified: Answer

    @classmethod
    def of(cls, rendered: Rendered, coding: str) -> Representation:
        """The form of C{rendered}, whose body is in C{coding}."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (rendered.content_type, coding, *(f"{n}: {v}" for n, v in rendered.headers)):
            digest.update(part.encode("utf-8") + b"\n")
        digest.update(rendered.body)
        etag = f'"{digest.hexdigest()}"'
        headers = (("ETag", etag), *CACHING_HEADERS)
        encoded = () if coding == IDENTITY else (("Content-Encoding", coding),)
        return cls(etag, Answer(200, rendered, headers + encoded), Answer(304, None, headers))


@dataclass(frozen=True)
class Representations:
    """
    The forms of one rendering, by content coding: L{IDENTITY} always,
    L{GZIP} when it is smaller.
    """

    identity: Representation
    gzip: Representation | None

    @classmethod
    def of(cls, rendered: Rendered) -> Representations:
        """The forms of C{rendered}, compressed here once."""
        compressed = gzip.compress(rendered.body, mtime=0)
        smaller = len(compressed) < len(rendered.body)
        return cls(
            Representation.of(rendered, IDENTITY),
            Representation.of(replace(rendered, body=compressed), GZIP) if smaller else None,
        )

    def answer(self, accept_encoding: str | None, if_none_match: str | None) -> Answer:
        """
        The answer to a C{GET} (or C{HEAD}) with these header values (or
        C{None} when absent): the form C{Accept-Encoding} prefers, as a
        C{304} when C{If-None-Match} names it.

        @raise NotAcceptable: C{Accept-Encoding} refuses every form.
        @raise BadRequest: C{If-None-Match} cannot be read.
        """
        coding = content_coding(accept_encoding, () if self.gzip is None else (GZIP,))
        form = self.gzip if coding == GZIP and self.gzip is not None else self.identity
        if if_none_match is not None and none_match(if_none_match, form.etag):
            return form.not_modified
        return form.ok
