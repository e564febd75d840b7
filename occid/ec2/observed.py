# -*- test-case-name: tests.test_ec2_observed -*-
"""
Counts and times every AWS API call a client makes (L{occid.metrics}:
C{occid_ec2_calls_total} by operation and outcome, and
C{occid_ec2_call_duration_seconds}), through botocore's event hooks:
C{before-call} starts the clock in the call's own context dict, and
C{after-call} (an answer, error or not) or C{after-call-error} (no
answer: the endpoint could not be reached, or timed out) stops it.  A
call is counted once, its retries included.
"""

from __future__ import annotations

import time
from typing import Any

from occid import metrics

#: Where a call's operation and start are kept in botocore's per-call context.
_STARTED = "occid_started"

#: The error codes of a throttled call.
THROTTLED = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException"})


def observe(client: Any) -> Any:
    """Count and time every call of boto3 C{client}; returns it."""
    events = client.meta.events
    events.register("before-call.*.*", _started)
    events.register("after-call.*.*", _answered)
    events.register("after-call-error.*.*", _unanswered)
    return client


def outcome(status: int, code: str) -> str:
    """The outcome label of an answer with HTTP C{status} and error C{code}."""
    if status < 300:
        return "ok"
    if code in THROTTLED:
        return "throttled"
    return "server_error" if status >= 500 else "client_error"


def _started(model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_STARTED] = (model.name, time.monotonic())


def _answered(http_response: Any, parsed: dict[str, Any], context: dict[str, Any],
              **_: Any) -> None:
    code = parsed.get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
    _count(outcome(http_response.status_code, code), context)


def _unanswered(context: dict[str, Any], **_: Any) -> None:
    _count("unreachable", context)


def _count(result: str, context: dict[str, Any]) -> None:
    """Count the call C{context} belongs to, and its time."""
    started = context.pop(_STARTED, None)
    if started is None:
        return
    operation, at = started
    metrics.EC2_CALLS.labels(operation, result).inc()
    metrics.EC2_LATENCY.labels(operation).observe(time.monotonic() - at)
