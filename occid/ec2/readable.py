# -*- test-case-name: tests.test_ec2_readable,tests.test_story_unseen -*-
"""
Reading what EC2 holds when one resource of it cannot be read, so that one
bad tag does not break every listing of an account (and, under C{vo}
visibility or for a manager, of other users too).

  - L{mend} is a botocore C{before-parse} handler (L{register} adds it to a
    client): a character that XML 1.0 cannot carry (a control character,
    raw or as a character reference, or bytes that are not UTF-8) in an
    answer of EC2 would make the whole answer unparseable; it is replaced
    by L{occid.ec2.mapping.REPLACED}, so that the page parses and the one
    resource holding it is found unreadable
    (L{occid.ec2.mapping.readable}).
  - L{each} maps the descriptions of a listing, leaving out and logging
    each one occid cannot read.

Blocking: runs in the EC2 thread pool (and in botocore, for L{mend}), and
logs through the standard library's C{logging}, which the daemon forwards
to its own log (L{occid.server.logformat.forward_stdlib}).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from occid.ec2.mapping import REPLACED, Unreadable
from occid.occi.model import Kind

__all__ = ["each", "mend", "register"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The characters and character references XML 1.0 forbids.
_ILLEGAL = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f]"
    rb"|&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
    rb"|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));")

#: The control characters XML 1.0 forbids, to delete with C{bytes.translate}.
_CONTROLS = bytes(range(0x20)).translate(None, b"\t\n\r")

_REPLACEMENT = REPLACED.encode("utf-8")


def mend(response_dict: dict[str, Any], **kwargs: Any) -> None:
    """
    Replace, in the body of an EC2 answer about to be parsed, what XML 1.0
    cannot carry by L{REPLACED}.

    Nearly every answer is ASCII, without a control character or an
    entity: that is checked first, in a few microseconds for 5 kB where
    decoding and the regular expression take a hundred.
    """
    body = response_dict.get("body")
    if not isinstance(body, bytes):
        return
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            body = body.decode("utf-8", "replace").encode("utf-8")
    if b"&" in body or len(body.translate(None, _CONTROLS)) != len(body):
        body = _ILLEGAL.sub(_REPLACEMENT, body)
    response_dict["body"] = body


def register(client: Any) -> Any:
    """Have C{client} (a boto3 EC2 client) L{mend} every answer; C{client}."""
    client.meta.events.register("before-parse.ec2", mend)
    return client


def each(account: str, kind: Kind, descriptions: Iterable[_T],
         build: Callable[[_T], Any]) -> Iterator[Any]:
    """
    C{build(description)} for each of C{descriptions}, leaving out those
    it finds L{Unreadable} with one warning each, naming the EC2 id, the
    account and why.
    """
    for description in descriptions:
        try:
            yield build(description)
        except Unreadable as error:
            fields = {"kind": kind.term, "id": error.id, "account": account, "why": error.why}
            log.warning("%(kind)s %(id)s of account %(account)s left out of a listing: %(why)s",
                        fields, extra={"fields": fields})
