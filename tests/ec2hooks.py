# -*- test-case-name: tests.test_ec2_errors -*-
"""
botocore event hooks for EC2 tests: canned error answers (throttling, 5xx,
eventual consistency, state errors) injected before a request is sent, and
per-operation call counters.  Register them on a client built for the test,
before any other thread uses it.
"""

from __future__ import annotations

import collections
import types

import botocore.endpoint
from botocore.awsrequest import AWSResponse


class _Body:
    """The raw body of a canned response, as botocore reads it."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs):
        yield self._body


def error_xml(code: str, message: str = "injected by the test") -> bytes:
    """The XML body EC2 answers an error with."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error>"
        f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    ).encode()


def canned(status: int, body: bytes) -> AWSResponse:
    """A response botocore parses as if EC2 had sent it."""
    return AWSResponse("https://ec2.test/", status, {}, _Body(body))


def inject(client, operation: str, status: int, code: str, times: int | None = None,
           message: str = "injected by the test", when=None) -> list:
    """
    Answer C{operation} with error C{code} and HTTP C{status} for the first
    C{times} sends (every send when C{None}), or only for requests where
    C{when(request)} is true.  Returns the list of intercepted requests.
    """
    seen = []

    def before_send(request, **kwargs):
        if when is not None and not when(request):
            return None
        if times is not None and len(seen) >= times:
            return None
        seen.append(request)
        return canned(status, error_xml(code, message))

    client.meta.events.register(f"before-send.ec2.{operation}", before_send)
    return seen


def raise_on_send(client, operation: str, exception: Exception, times: int | None = None) -> list:
    """Make the first C{times} sends of C{operation} raise C{exception}."""
    seen = []

    def before_send(request, **kwargs):
        if times is not None and len(seen) >= times:
            return None
        seen.append(request)
        raise exception

    client.meta.events.register(f"before-send.ec2.{operation}", before_send)
    return seen


def count_calls(client) -> collections.Counter:
    """A counter of API calls (not HTTP sends) by operation name."""
    counts = collections.Counter()

    def provide_params(model, **kwargs):
        counts[model.name] += 1

    client.meta.events.register("provide-client-params.ec2", provide_params)
    return counts


def no_backoff(monkeypatch) -> None:
    """Make botocore's retry backoff instant for the rest of the test."""
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=lambda s: None))
