"""
The server process of the TLS and query-interface benchmarks: occid's own
pieces (its TLS context, the authenticating HTTP channel, the grid
authenticator, the account policy, the OCCI resource tree and site) wired as
L{occid.tap.makeService} wires them, over the in-memory backend of
L{occid.testing} instead of EC2.

It listens twice on 127.0.0.1, serving the same resource:

 - C{grid}: occid's listener, the context of L{occid.server.tls.build_context}
   requesting a client certificate, each connection authenticated by an
   L{occid.server.channel.GridHTTPChannel} (every proxy-chain and VOMS rule);
 - C{plain}: the same context with the client-certificate request removed
   (C{VERIFY_NONE}) and a plain HTTP channel.  Its requests are answered as
   the principal of the warm proxy, validated once at start, so both
   listeners do the same work after the handshake.

It holds one compute entity owned by that principal and prints one JSON line
(the ports and the entity's path) once listening.  It stops when its stdin
closes, or after C{--lifetime} seconds in any case.

    python -m bench.fakeserver --config occid.toml --proxy proxy.pem \\
        [--os-tpl 1000 --resource-tpl 800] [--log FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import re
import sys
import time
from datetime import UTC, datetime

from cryptography import x509
from OpenSSL import SSL
from twisted.internet import endpoints, reactor, stdio
from twisted.internet.protocol import Protocol
from twisted.logger import globalLogBeginner

from occid.config import CrlMode
from occid.gsi.authenticator import GridAuthenticator
from occid.gsi.chain import ChainOptions
from occid.gsi.trust import TrustStore
from occid.gsi.vomsdir import VomsDir
from occid.occi import infrastructure as infra
from occid.occi.model import Resource
from occid.policy import AccountPolicy
from occid.server import preflight
from occid.server.channel import GridHTTPChannel, log_dropped_ac
from occid.server.connections import CappedTLSFactory, Caps
from occid.server.credentials import make_identify
from occid.server.logformat import TextLines
from occid.server.pipeline import make_root
from occid.server.site import make_site
from occid.server.tls import GridServerTLS, build_context
from occid.testing import DEFAULT_AMIS, DEFAULT_INSTANCE_TYPES, MemoryBackend

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def read_chain(path: str) -> list[x509.Certificate]:
    """The certificates of a proxy file, leaf first (its key is skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    return [x509.load_pem_x509_certificate(block) for block in _PEM_CERTIFICATE.findall(data)]


def templates(os_tpls: int, resource_tpls: int):
    """
    The in-memory backend's AMIs and instance types: the defaults, or
    C{os_tpls} made-up AMIs and C{resource_tpls} made-up instance types.
    """
    if not os_tpls and not resource_tpls:
        return DEFAULT_AMIS, DEFAULT_INSTANCE_TYPES
    amis = tuple(
        (f"ami-{i:017x}", f"bench-image-{i:04d}-ubuntu-24.04-amd64-server") for i in range(os_tpls)
    )
    types = tuple(
        (f"bench{i // 16}.size{i % 16}", 1 + i % 64, float(1 + i % 256), "x86_64")
        for i in range(resource_tpls)
    )
    return amis, types


class _StopOnEOF(Protocol):
    """Stops the reactor when the parent closes our stdin."""

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--proxy", required=True, help="the warm proxy: its principal owns the entity")
    parser.add_argument("--os-tpl", type=int, default=0)
    parser.add_argument("--resource-tpl", type=int, default=0)
    parser.add_argument("--log", default="/dev/null", help="the structured log, as the daemon writes it")
    parser.add_argument("--lifetime", type=float, default=1800.0)
    parser.add_argument("--profile", help="write a cProfile of the reactor thread (CPU clock) here")
    args = parser.parse_args(argv)

    # Open for the process's lifetime: the log observer writes to it until exit.
    log_file = open(args.log, "a", encoding="utf-8")  # noqa: SIM115
    # The daemon's text observer (twistd's lines, see occid.server.logformat).
    globalLogBeginner.beginLoggingTo([TextLines(log_file)], redirectStandardIO=False)

    config = preflight.load(args.config)
    grid = config.grid
    now = datetime.now(UTC)
    trust = TrustStore.load(grid.ca_dir, now)
    authenticator = GridAuthenticator(
        trust,
        VomsDir.load(grid.vomsdir),
        ChainOptions.from_config(grid),
        host=config.server.public_host,
        log_dropped=log_dropped_ac,
    )
    policy = AccountPolicy(config.accounts, limited_proxies=grid.limited_proxies)
    amis, types = templates(args.os_tpl, args.resource_tpl)
    backend = MemoryBackend(public_host=config.server.public_host, amis=amis, instance_types=types)

    principal = authenticator.authenticate(read_chain(args.proxy), [], now)
    binding = policy.bind(principal)
    entity = Resource(
        kind=infra.COMPUTE, id="",
        mixins=[infra.os_tpl_mixin(amis[0][0], amis[0][1], config.server.public_host)],
        attributes={"occi.core.title": "bench-vm"},
    )
    created = []
    backend.collection(infra.COMPUTE, principal, binding).create(entity).addCallback(created.append)

    identify = make_identify(None, reactor)

    def identify_either(request):
        """occid's identify on the grid listener; the warm principal on the plain one."""
        if isinstance(request.channel, GridHTTPChannel):
            return identify(request)
        return principal

    root = make_root(backend, policy, identify_either, config.server.public_url, reactor)

    def site(authenticator=None):
        return make_site(root, config.server.max_body, config.server.request_timeout, reactor,
                         authenticator)

    grid_context = build_context(config.server.host_cert, config.server.host_key, trust,
                                 grid.crl is not CrlMode.OFF)
    plain_context = build_context(config.server.host_cert, config.server.host_key, trust,
                                  grid.crl is not CrlMode.OFF)
    plain_context.set_verify(SSL.VERIFY_NONE)
    caps = Caps(config.server.max_connections, config.server.max_connections_per_peer)
    factories = {
        "grid": CappedTLSFactory(caps, GridServerTLS(grid_context), site(authenticator), reactor),
        "plain": CappedTLSFactory(caps, GridServerTLS(plain_context), site(), reactor),
    }
    ports = {}
    for name, factory in factories.items():
        endpoint = endpoints.TCP4ServerEndpoint(reactor, 0, backlog=512, interface="127.0.0.1")
        endpoint.listen(factory).addCallback(
            lambda port, name=name: ports.__setitem__(name, port.getHost().port))

    watcher = _StopOnEOF()
    stdio.StandardIO(watcher)
    announcement = {**ports, "entity": created[0].location}
    reactor.callWhenRunning(watcher.transport.write, json.dumps(announcement).encode() + b"\n")
    reactor.callLater(args.lifetime, reactor.stop)
    if args.profile:
        profile = cProfile.Profile(time.thread_time)
        profile.runcall(reactor.run)
        profile.dump_stats(args.profile)
    else:
        reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
