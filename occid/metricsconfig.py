# -*- test-case-name: tests.test_config -*-
"""
C{[metrics]}: the daemon's second listener, plain HTTP without client
certificates, serving C{/metrics} (Prometheus), C{/healthz} and
C{/readyz} (L{occid.server.health}).  Off unless the section is present;
its C{listen} defaults to the loopback interface only, as the endpoint
tells anyone who reaches it the accounts and regions served.

Pure core, below L{occid.config}, which reports through the
C{fail(key, problem)} it hands in (L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

from dataclasses import dataclass

from occid.accountconfig import Fail

__all__ = ["DEFAULT_LISTEN", "MetricsConfig", "check_metrics"]

#: Where the metrics listener listens unless told: loopback only.
DEFAULT_LISTEN = "tcp:9464:interface=127.0.0.1"


@dataclass(frozen=True)
class MetricsConfig:
    """C{[metrics]}: C{listen}, a Twisted endpoint description (strports)."""

    listen: str = DEFAULT_LISTEN


def check_metrics(metrics: MetricsConfig, server_listen: str, fail: Fail) -> None:
    """C{listen} names an endpoint, and not the OCCI listener's."""
    if not metrics.listen.strip():
        fail("[metrics] listen", f"must name an endpoint such as {DEFAULT_LISTEN!r}")
    if metrics.listen == server_listen:
        fail("[metrics] listen", "must differ from [server] listen: the metrics are served "
                                 "over plain HTTP on a listener of their own")
