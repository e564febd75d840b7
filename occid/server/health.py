# -*- test-case-name: tests.test_health,tests.test_daemon_metrics -*-
"""
The metrics listener (C{[metrics]}): plain HTTP, no client certificate,
on a port of its own, serving

 - C{/metrics}: every metric of L{occid.metrics}, in Prometheus' text format;
 - C{/healthz}: 200 while the process runs (it answers, so it runs);
 - C{/readyz}: 200 when every readiness check sees no problem, else 503;
   both with a JSON body C{{"ready": …, "problems": [...]}} naming what is
   not ready.

A readiness check is a callable returning the problems it sees (an empty
list when all is well); the daemon's list of them is built in one place
(L{occid.tap}).  L{trust_current} is the trust store's; the backend's
catalogues have theirs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from twisted.internet.interfaces import IReactorTime
from twisted.web import server
from twisted.web.http import Request
from twisted.web.resource import Resource

from occid import metrics
from occid.config import CrlMode
from occid.gsi.trust import TrustStore
from occid.server.identity import now

#: A readiness check: the problems it sees, each one line for the admin.
Check = Callable[[], Sequence[str]]

#: Seconds an idle connection to the metrics listener stays open.
IDLE_TIMEOUT = 30


def trust_current(store: Callable[[], TrustStore], crl: CrlMode, clock: IReactorTime) -> Check:
    """
    The check of the trust material in use (C{store()}): it holds CAs, and
    (unless C{[grid] crl} is C{off}) no CA's CRL is past its nextUpdate;
    under C{require}, every CA has a CRL.
    """
    def problems() -> list[str]:
        trust = store()
        if not trust.authorities:
            return ["the trust store holds no usable CA: check [grid] ca_dir"]
        if crl is CrlMode.OFF:
            return []
        moment = now(clock)
        found = []
        for authority in trust.authorities:
            revocations = authority.crl
            if revocations is None:
                if crl is CrlMode.REQUIRE:
                    found.append(f"CA {authority.dn} has no CRL ([grid] crl = \"require\"): "
                                 "run fetch-crl")
            elif revocations.next_update_utc is not None and revocations.next_update_utc < moment:
                found.append(f"the CRL of CA {authority.dn} is past its nextUpdate "
                             f"({revocations.next_update_utc:%Y-%m-%d %H:%M} UTC): run fetch-crl")
        return found

    return problems


class Metrics(Resource):
    """C{/metrics}: occid's registry in Prometheus' text format."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(metrics.REGISTRY)


class Alive(Resource):
    """C{/healthz}: the process runs."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return b'{"alive": true}\n'


class Ready(Resource):
    """C{/readyz}: 200 or 503, with the problems every check sees."""

    isLeaf = True

    def __init__(self, checks: Sequence[Check]):
        super().__init__()
        self._checks = checks

    def problems(self) -> list[str]:
        """What every check sees."""
        return [problem for check in self._checks for problem in check()]

    def render_GET(self, request: Request) -> bytes:
        found = self.problems()
        request.setResponseCode(503 if found else 200)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"ready": not found, "problems": found}).encode() + b"\n"


class HealthSite(server.Site):
    """The metrics listener's site; no access log (a scraper calls every few seconds)."""

    def log(self, request: Request) -> None:
        """No access log line."""


def make_health_site(checks: Sequence[Check], clock: IReactorTime) -> HealthSite:
    """
    The site of the metrics listener.

    @param checks: the readiness checks of C{/readyz}; a list the caller
        may still extend before the listener starts.
    @param clock: the reactor.
    """
    root = Resource()
    root.putChild(b"metrics", Metrics())
    root.putChild(b"healthz", Alive())
    root.putChild(b"readyz", Ready(checks))
    return HealthSite(root, timeout=IDLE_TIMEOUT, reactor=clock)
