# -*- test-case-name: tests.test_ec2_outcome,tests.test_story_cut -*-
"""
Creates whose answer is lost: RunInstances, CreateVolume or CreateVpc
sent, and the connection cut, reset or timed out before EC2's answer
arrived.  EC2 may have made the resource; the create looks it up by the
token it sent (tagged on the resource, L{occid.ec2.tags.TOKEN_TAG}) before
answering:

  - found: made; the create goes on as if the answer had arrived (201);
  - not found within L{LOOKUP_DELAYS}: not made; the create's error;
  - the lookup fails too: unknown; L{unknown} is the answer, a 503 or 504
    saying the resource may still appear and how to retry safely.

A failure to connect (the request never left) is "not made" without a
lookup.  botocore does not retry these creates by itself on a cut
connection (L{single_attempt}): a retry is occid's to decide, since not
every EC2 emulator honours the client token.

Blocking: runs in the EC2 thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from occid.ec2.errors import UNREACHABLE_RETRY_AFTER
from occid.occi import infrastructure as infra
from occid.occi.errors import GatewayTimeout, OCCIError, ServiceUnavailable
from occid.occi.model import Kind

__all__ = ["CREATES", "LOOKUP_DELAYS", "lost", "settle", "single_attempt", "unknown"]

_T = TypeVar("_T")

#: The creates occid can look up by a token after a lost answer, by EC2
#: operation name: RunInstances and CreateVolume send it as their
#: C{ClientToken}, CreateVpc only as a tag.
CREATES = ("RunInstances", "CreateVolume", "CreateVpc")

#: Seconds between the lookups of a create whose answer was lost, while
#: EC2 shows nothing for its token (its reads are eventually consistent).
LOOKUP_DELAYS = (0.5, 1.0, 1.5)


def never_sent(error: BaseException) -> bool:
    """Whether C{error} means the request never reached EC2 (no connection)."""
    return isinstance(error, (EndpointConnectionError, ConnectTimeoutError))


def lost(error: BaseException) -> bool:
    """
    Whether EC2 may have acted on a create that failed with C{error}: it
    was sent, and no refusal (a 4xx) came back.
    """
    if isinstance(error, OCCIError) or never_sent(error):
        return False
    response = getattr(error, "response", None)
    status = (response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return not 400 <= status < 500


def _no_retry(caught_exception: BaseException | None = None, **kwargs: Any) -> None:
    """A C{needs-retry} handler: a create whose answer was lost is not resent."""
    if caught_exception is not None and lost(caught_exception):
        raise caught_exception


def single_attempt(client: Any) -> Any:
    """
    Stop botocore from resending L{CREATES} on C{client} when the answer
    was lost (a connect failure is still retried: nothing was sent);
    C{client}.
    """
    for operation in CREATES:
        client.meta.events.register_first(f"needs-retry.ec2.{operation}", _no_retry)
    return client


def unknown(kind: Kind, error: BaseException, keyed: bool) -> OCCIError:
    """
    The answer to a create of C{kind} whose answer (C{error}) was lost and
    whose outcome the lookup could not learn: 504 after a timeout, else 503,
    saying that the entity may still appear and how to retry safely
    (C{keyed}: the create carried an C{Idempotency-Key}).
    """
    collection = f"/{kind.term}/"
    if keyed:
        advice = "a retry with the same Idempotency-Key is safe"
    elif kind == infra.COMPUTE:
        advice = (f"look for it in {collection} before retrying; sending an Idempotency-Key "
                  "header with a create makes its retries safe")
    else:
        advice = f"look for it in {collection} before retrying"
    message = (f"EC2's answer to the create was lost ({type(error).__name__}) and occid could "
               f"not learn whether the {kind.term} was made: it may still appear; {advice}")
    if isinstance(error, ReadTimeoutError):
        return GatewayTimeout(message)
    return ServiceUnavailable(message, retry_after=UNREACHABLE_RETRY_AFTER)


def settle(kind: Kind, error: BaseException, keyed: bool, find: Callable[[], _T | None],
           delays: Iterable[float] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> _T | None:
    """
    What a create of C{kind} that failed with C{error} made, as C{find()}
    finds it by the create's client token: looked for again after each of
    C{delays} (default L{LOOKUP_DELAYS}) while nothing is found; C{None}
    when nothing is.

    @raise OCCIError: a lookup failed (L{unknown}), chained to C{error}.
    """
    waits = iter(LOOKUP_DELAYS if delays is None else delays)
    while True:
        try:
            found = find()
        except (ClientError, BotoCoreError) as failed:
            answer = unknown(kind, error, keyed)
            answer.add_note(f"looking for the {kind.term} by its client token failed: "
                            f"{type(failed).__name__}: {failed}")
            raise answer from error
        if found is not None:
            return found
        wait = next(waits, None)
        if wait is None:
            return None
        sleep(wait)
