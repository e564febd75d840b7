# -*- test-case-name: tests.test_web_root -*-
"""
A complete occid web stack over the memory fakes, for tests that speak raw
HTTP to it (L{tests.rawhttp}).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from twisted.internet.testing import MemoryReactorClock
from twisted.web.server import Site

from occid.gsi.principal import Principal
from occid.interfaces import IAccountPolicy
from occid.policy import AccountBinding
from occid.server.pipeline import make_root
from occid.server.site import make_site
from occid.testing import MemoryBackend, StaticPolicy, identify_as, make_binding, make_principal
from occid.testing.identities import Identify
from tests.rawhttp import RawResponse, http_request


@dataclass
class Gateway:
    """An occid site over memory fakes, with the clock it runs on."""

    backend: MemoryBackend
    clock: MemoryReactorClock
    site: Site

    def request(
        self, method: str, path: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
    ) -> RawResponse:
        """One request over a fresh connection; see L{http_request}."""
        return http_request(self.site, method, path, headers, body)


def make_gateway(
    principal: Principal | None = None,
    binding: AccountBinding | None = None,
    backend: MemoryBackend | None = None,
    identify: Identify | None = None,
    policy: IAccountPolicy | None = None,
    public_url: str = "https://occi.example.org:11443",
    max_body: int = 1 << 20,
    request_timeout: float = 60,
) -> Gateway:
    """
    A complete occid web stack (C{make_site} over C{make_root}) for one
    principal, over a L{MemoryBackend} (a new one unless shared through
    C{backend}), a L{StaticPolicy} binding C{principal} to C{binding} (unless
    C{policy} is given) and a C{MemoryReactorClock} set to the present.
    """
    principal = principal or make_principal()
    binding = binding or make_binding()
    backend = backend or MemoryBackend()
    clock = MemoryReactorClock()
    clock.advance(datetime.now(UTC).timestamp())
    root = make_root(
        backend,
        policy or StaticPolicy({principal.dn: binding}),
        identify or identify_as(principal),
        public_url,
        clock,
    )
    return Gateway(backend, clock, make_site(root, max_body, request_timeout, clock))
