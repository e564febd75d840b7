# -*- test-case-name: tests.test_discovery_health -*-
"""
The endpoint's GLUE health, from the running daemon's C{/readyz} when
C{[metrics]} is configured on TCP (the discovery command runs on the
daemon's host, so a listener on every interface is asked on loopback):
C{ok} when ready, C{critical} with the problems it names when not,
C{unknown} when there is no listener to ask or it does not answer.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from occid.metricsconfig import MetricsConfig

__all__ = ["Health", "endpoint_health", "readyz_url"]

#: Seconds to wait for C{/readyz}.
TIMEOUT = 5.0

#: The endpoint types of a TCP listener, and the host asked when it listens everywhere.
_TCP = {"tcp": "127.0.0.1", "tcp6": "::1"}

_FIELD = re.compile(r"(?<!\\):")


@dataclass(frozen=True)
class Health:
    """GLUE's C{HealthState} (C{ok}, C{critical}, C{unknown}) and C{HealthStateInfo}."""

    state: str
    info: str | None = None


def readyz_url(listen: str) -> str | None:
    """
    The C{/readyz} URL of the C{[metrics] listen} description, or C{None}
    for a listener other than C{tcp:} or C{tcp6:}.
    """
    kind, *fields = [field.replace("\\:", ":") for field in _FIELD.split(listen)]
    if kind not in _TCP or not fields or not fields[0].isdigit():
        return None
    options = dict(field.partition("=")[::2] for field in fields[1:])
    host = options.get("interface", "")
    if host in ("", "0.0.0.0", "::"):
        host = _TCP[kind]
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{fields[0]}/readyz"


def _get(url: str) -> tuple[int, bytes]:
    """GET C{url} (blocking): status and body, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def endpoint_health(metrics: MetricsConfig | None,
                    get: Callable[[str], tuple[int, bytes]] = _get) -> Health:
    """The endpoint's health, asked of C{/readyz} through C{get} when there is one."""
    url = readyz_url(metrics.listen) if metrics is not None else None
    if url is None:
        return Health("unknown")
    try:
        status, body = get(url)
        answer: Any = json.loads(body)
    except (OSError, ValueError) as error:
        return Health("unknown", f"{url} did not answer: {error}")
    if status == 200:
        return Health("ok")
    problems = answer.get("problems") if isinstance(answer, dict) else None
    return Health("critical", "; ".join(map(str, problems or [f"{url} answered {status}"])))
