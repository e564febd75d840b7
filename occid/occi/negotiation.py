# -*- test-case-name: tests.test_occi_negotiation -*-
"""
Content negotiation for OCCI requests: which rendering to answer with
(C{Accept}), in which content coding (C{Accept-Encoding}), whether the
client speaks an OCCI version occid serves and which version its answers
are rendered in (C{User-Agent}).  How a request
body is written (C{Content-Type}) is read by
L{occid.occi.rendering.media_type_of}.

Pure functions over header values (text); the server raises what they raise
(L{NotAcceptable}, L{Unimplemented}) through its single error writer.
"""

from __future__ import annotations

import re
from enum import StrEnum

from occid.occi.errors import NotAcceptable, Unimplemented

#: The rendering used when the client accepts anything (GFD.185: MUST).
DEFAULT_MEDIA_TYPE = "text/plain"

#: The newest OCCI version occid speaks.
HIGHEST_OCCI_VERSION = (1, 2)

#: C{OCCI/x.y}, or C{OCCI/x} (read as x.0), in ASCII digits.
_OCCI_VERSION = re.compile(r"\bOCCI/([0-9]+)(?:\.([0-9]+))?\b")

#: Version numbers are read from at most this many digits: any larger one
#: is above 1.2 all the same, and no unbounded number is converted.
_VERSION_DIGITS = 6

#: How many of the versions a client names a refusal quotes.
_QUOTED_VERSIONS = 3

#: The content coding of an answer sent as it is.
IDENTITY = "identity"

#: Other names of content codings (RFC 9110, 8.4.1.3: C{x-gzip} is gzip).
_CODING_ALIASES = {"x-gzip": "gzip"}


class OCCIVersion(StrEnum):
    """The OCCI versions occid renders for."""

    V1_1 = "1.1"
    V1_2 = "1.2"


#: Attributes OCCI 1.2 added (GFD.221, GFD.224): left out of 1.1 renderings.
#: The C{.state.message}, C{.source.kind} and C{.target.kind} names extend an
#: attribute 1.1 already has, and a 1.1 client that nests attribute names
#: (rOCCI-core 4) would let them overwrite their parent's value.
ONLY_IN_1_2 = frozenset({
    "occi.core.source.kind",
    "occi.core.target.kind",
    "occi.compute.share",
    "occi.compute.state.message",
    "occi.storage.state.message",
    "occi.storagelink.state.message",
    "occi.network.state.message",
    "occi.networkinterface.state.message",
})


def unknown_to(version: OCCIVersion | str) -> frozenset[str]:
    """The attributes OCCI C{version} does not know (to leave out of its renderings)."""
    return ONLY_IN_1_2 if version == OCCIVersion.V1_1 else frozenset()


def speaks(version: OCCIVersion | str, attribute: str) -> bool:
    """Whether the OCCI C{version} knows the attribute named C{attribute}."""
    return attribute not in unknown_to(version)


def _number(digits: str) -> int:
    """
    A version number from its digits, at most L{_VERSION_DIGITS} of them
    read (a longer number reads as 10**6 or more: above 1.2 all the same).
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > _VERSION_DIGITS:
        return 10**_VERSION_DIGITS
    return int(digits)


def _versions(user_agent: str | None) -> list[tuple[int, int]]:
    """The C{OCCI/x.y} (or C{OCCI/x}) versions a C{User-Agent} names, in order."""
    return [(_number(major), _number(minor or "0"))
            for major, minor in _OCCI_VERSION.findall(user_agent or "")]


def client_version(user_agent: str | None) -> OCCIVersion:
    """
    The OCCI version to render answers in: 1.1 when the newest version the
    client names at or below 1.2 is older than 1.2 (rOCCI-cli 4 and jOCCI
    send C{OCCI/1.1}), else 1.2; a client naming no version (or only
    versions above 1.2, which L{check_occi_version} refuses) gets 1.2.
    Never raises: the pipeline asks this before it knows who is asking.
    """
    served = [v for v in _versions(user_agent) if v <= HIGHEST_OCCI_VERSION]
    if served and max(served) < HIGHEST_OCCI_VERSION:
        return OCCIVersion.V1_1
    return OCCIVersion.V1_2


def _weighted(value: str) -> list[tuple[str, float]]:
    """
    The items of an C{Accept} or C{Accept-Encoding} value (media ranges,
    content codings) with their quality, lowercased, in order.  Items with
    an unreadable C{q} are dropped, as RFC 9110 allows.
    """
    ranges = []
    for item in value.split(","):
        name, *parameters = item.split(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if 0.0 <= quality <= 1.0:
            ranges.append((name, quality))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, float]]) -> float:
    """
    The quality the client gives C{media_type}: that of the most specific
    range matching it (C{type/subtype} over C{type/*} over C{*/*}), or 0.
    """
    major = media_type.split("/")[0]
    best_specificity, best_quality = -1, 0.0
    for name, quality in ranges:
        if name == media_type:
            specificity = 2
        elif name == major + "/*":
            specificity = 1
        elif name == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, quality
    return best_quality


def negotiate(accept: str | None, offered: tuple[str, ...]) -> str:
    """
    Choose the rendering for a response.

    @param accept: the request's C{Accept} value, or C{None} when absent.
    @param offered: the media types occid can render, most preferred first
        (C{text/plain} first, so that C{*/*} and C{text/*} get it).
    @return: the offered type the client rates highest; on a tie, the
        earlier one in C{offered}.  No C{Accept} (or an empty one) means
        L{DEFAULT_MEDIA_TYPE}.
    @raise NotAcceptable: the client accepts none of C{offered}.
    """
    if accept is None or not accept.strip():
        return DEFAULT_MEDIA_TYPE
    ranges = _weighted(accept)
    best, best_quality = None, 0.0
    for media_type in offered:
        quality = _quality(media_type, ranges)
        if quality > best_quality:
            best, best_quality = media_type, quality
    if best is None:
        raise NotAcceptable(
            f"cannot render any of {accept!r}; "
            f"ask for one of: {', '.join(offered)}"
        )
    return best


def content_coding(accept_encoding: str | None, available: tuple[str, ...]) -> str:
    """
    Choose the content coding of an answer (RFC 9110, 12.5.3).

    A coding the client names has its own quality; one it does not name
    has that of C{*}, else 0, except L{IDENTITY}, which is acceptable
    (quality 1) unless named with C{q=0} or left to a C{*;q=0}.  An empty
    value accepts identity only.

    @param accept_encoding: the request's C{Accept-Encoding} value (its
        lines comma-joined), or C{None} when absent.
    @param available: the codings the answer exists in besides identity,
        most preferred first.
    @return: the coding the client rates highest; on a tie the earlier one
        in C{available}, before identity.  L{IDENTITY} without the header:
        a client that names no coding may not decode one.
    @raise NotAcceptable: the client refuses identity and every coding in
        C{available}.
    """
    if accept_encoding is None:
        return IDENTITY
    qualities: dict[str, float] = {}
    for name, quality in _weighted(accept_encoding):
        qualities.setdefault(_CODING_ALIASES.get(name, name), quality)
    anything = qualities.get("*")
    best, best_quality = IDENTITY, 0.0
    for coding in (*available, IDENTITY):
        default = 1.0 if coding == IDENTITY and anything is None else anything or 0.0
        quality = qualities.get(coding, default)
        if quality > best_quality:
            best, best_quality = coding, quality
    if best_quality == 0.0:
        offered = ", ".join((*available, IDENTITY))
        raise NotAcceptable(
            f"Accept-Encoding {accept_encoding!r} refuses every coding this answer "
            f"is sent in; accept one of: {offered}"
        )
    return best


def check_occi_version(user_agent: str | None) -> None:
    """
    Refuse clients that only speak an OCCI version above 1.2 (GFD.185 and
    GFD.223, "Versioning": MUST answer 501).  A client naming no version, or
    naming 1.2 or lower among the versions it lists, is served.

    @raise Unimplemented: every C{OCCI/x.y} in C{user_agent} is above 1.2.
    """
    versions = _versions(user_agent)
    if versions and min(versions) > HIGHEST_OCCI_VERSION:
        named = [match.group() for match in _OCCI_VERSION.finditer(user_agent or "")]
        spoken = ", ".join(version if len(version) <= 24 else version[:21] + "..."
                           for version in named[:_QUOTED_VERSIONS])
        if len(named) > _QUOTED_VERSIONS:
            spoken += ", ..."
        raise Unimplemented(
            f"this server speaks OCCI/1.1 and OCCI/1.2, not {spoken}; "
            "use a client for OCCI 1.1 or 1.2"
        )
