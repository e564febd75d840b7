"""
Issues 2 and 18: the cost of occid's client authentication per new TLS
connection, against the same listener without it and against nginx verifying
the same proxy chains.

One server process (L{bench.fakeserver}) listens twice with the same site
and resource: (a) occid's listener, requesting the client's proxy chain and
validating it (OpenSSL, then every chain and VOMS rule in Python), and (b)
the same TLS context without the client-certificate request.  Beside it runs
Debian's nginx with the proxy shim (L{bench.nginxref}): the same host
certificate, CA and CRLs, a client certificate required and verified, the
same bytes answered from a file.  Client processes open a new TLS connection
for every request (C{Connection: close}), as rOCCI-cli does: by default
C{GET /-/}, the query interface rOCCI-cli reads first on every run (the
in-memory backend's small catalogue, 11 kB of text/plain, rendered once and
cached by occid), or with C{--request entity} the C{GET} of one compute
entity (which adds the in-memory backend's ~0.3 ms deep copy of the entity to
both of occid's listeners).  Four variants, run in interleaved rounds:

 - C{plain}: (b), the floor of issue 2;
 - C{grid-warm}: (a) with one proxy reused on every connection (a CLI user);
 - C{grid-cold}: (a) with a proxy never presented before on every
   connection (a new chain each time), from a pre-generated stock;
 - C{nginx}: nginx verifying the warm proxy on every connection (it keeps
   nothing from one connection to the next, so warm and cold cost it the
   same), the reference of issue 18;
 - C{nginx-plain}: the same nginx asking for no client certificate, its
   floor (as C{plain} is occid's).

Ratios of medians: issue 2's warm = grid-warm / plain connections per second
(target >= 0.6); issue 18's warm and cold = occid's server CPU per
connection / nginx's (targets <= 1.2 and <= 1.6).  Server CPU per connection
is read from C{/proc/<pid>/stat}: it does not depend on the clients sharing
the machine.  At start, both servers must refuse a revoked user's proxy and
a proxy from an untrusted CA (nginx 400, occid 401), so nginx is known to
verify.

    python -m bench.tls_handshakes [--runs 5] [--duration 5] [--clients 4]
        [--request query|entity] [--shim-source DIR]
"""

from __future__ import annotations

import http.client
import os
import ssl
import sys
import tempfile
import time

from bench import common, nginxref

VARIANTS = ["plain", "grid-warm", "grid-cold", "nginx", "nginx-plain"]


def one_request(port: int, path: str, context: ssl.SSLContext) -> tuple[int, bytes]:
    """A new TLS connection, one GET, the answer read, the connection closed."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def handshake_worker(port: int, path: str, ca: str, proxies_of):
    """
    A worker factory for L{common.run_workers}: worker C{i} presents the
    proxies C{proxies_of(i)} in turn, one per connection, and stops when it
    has used them all (a list of one proxy is reused forever).
    """

    def make(index):
        proxies = proxies_of(index)
        contexts = [common.client_context(ca, proxy) for proxy in proxies]
        reuse = len(contexts) == 1

        def run(deadline):
            tally = common.Tally()
            used = 0
            while time.monotonic() < deadline:
                if reuse:
                    context = contexts[0]
                elif used < len(contexts):
                    context = contexts[used]
                    used += 1
                else:
                    tally.failed("ran out of cold proxies")
                    break
                started = time.perf_counter()
                try:
                    status, body = one_request(port, path, context)
                except (OSError, http.client.HTTPException) as e:
                    tally.failed(repr(e))
                    continue
                tally.answered(status, body, time.perf_counter() - started)
            return tally.outcome()

        return run

    return make


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=4)
    parser.add_argument("--request", choices=("query", "entity"), default="query",
                        help="GET /-/ (default) or GET of one compute entity")
    parser.add_argument("--cold-rate", type=int, default=600,
                        help="cold connections/s to provision proxies for (default 600)")
    parser.add_argument("--shim-source", default=os.path.join(common.REPO, "..", "shared", "tools",
                                                               "nginx-proxy-shim"),
                        help="the directory of nginx-proxy-shim's C source "
                             "(default ../shared/tools/nginx-proxy-shim)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory:
        try:
            nginxref.nginx_binary()
            shim = nginxref.build_shim(os.path.abspath(args.shim_source), directory)
        except nginxref.Missing as e:
            print(f"error: the nginx reference cannot run: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        pki, config, ca = common.daemon_files(directory)
        warm = common.write_voms_proxy(pki, os.path.join(directory, "warm.pem"))
        refused = refused_proxies(pki, directory)

        per_worker = int(args.cold_rate * args.duration / args.clients) + 1
        stock = args.runs * args.clients * per_worker
        started = time.monotonic()
        cold = [
            common.write_voms_proxy(pki, os.path.join(directory, f"cold-{i}.pem"))
            for i in range(stock)
        ]
        generated = time.monotonic() - started

        server = common.ServerProcess([
            sys.executable, "-m", "bench.fakeserver", "--config", config, "--proxy", warm,
            "--log", os.path.join(directory, "occid.log"),
        ])
        info = server.start()
        nginx = None
        try:
            path = "/-/" if args.request == "query" else info["entity"]
            nginx = start_nginx(pki, directory, shim, path,
                                answer(info["grid"], path, ca, warm, "occid"))
            check_refusals(info["grid"], nginx.port, path, ca, refused)
            _run(args, server, info, nginx, ca, warm, cold, per_worker, generated, path)
        finally:
            if nginx is not None:
                nginx.stop()
            server.stop()


def refused_proxies(pki, directory: str) -> dict[str, str]:
    """Proxy files any verifying server must refuse: of a revoked user, of an untrusted CA."""
    revoked = pki.issue_user("/DC=org/DC=example/OU=Users/CN=Revoked User")
    pki.revoke(revoked)
    rogue = pki.issue_ca("/DC=org/DC=rogue/CN=Rogue CA", trusted=False)
    stranger = pki.issue_user("/DC=org/DC=rogue/CN=Stranger", ca=rogue)
    return {
        "revoked user": pki.issue_proxy(revoked).write(os.path.join(directory, "revoked.pem")),
        "untrusted CA": pki.issue_proxy(stranger).write(os.path.join(directory, "rogue.pem")),
    }


def answer(port: int, path: str, ca: str, proxy: str, name: str) -> bytes:
    """The body of a 200 to C{GET path} on C{port}; exits when the answer is not a 200."""
    status, body = one_request(port, path, common.client_context(ca, proxy))
    if status != 200:
        raise SystemExit(f"sanity check on {name}: {status} {body[:300]!r}")
    return body


def start_nginx(pki, directory: str, shim: str, path: str, body: bytes) -> nginxref.Nginx:
    """nginx with the shim, the trust dir's CAs and CRLs, answering C{GET path} with C{body}."""
    trust = pki.certificates_dir
    names = sorted(os.listdir(trust))
    cas = nginxref.bundle([os.path.join(trust, n) for n in names if n.endswith(".0")],
                          os.path.join(directory, "nginx-cas.pem"))
    crls = nginxref.bundle([os.path.join(trust, n) for n in names if n.endswith(".r0")],
                           os.path.join(directory, "nginx-crls.pem"))
    body_file = os.path.join(directory, "nginx-body")
    with open(body_file, "wb") as f:
        f.write(body)
    nginx = nginxref.Nginx(directory, shim, os.path.join(pki.directory, "hostcert.pem"),
                           os.path.join(pki.directory, "hostkey.pem"), cas, crls, path, body_file)
    nginx.start()
    return nginx


def check_refusals(grid: int, nginx: int, path: str, ca: str, refused: dict[str, str]) -> None:
    """Exit unless occid answers each refused proxy 401 and nginx 400."""
    for what, proxy in refused.items():
        for name, port, expected in (("occid", grid, 401), ("nginx", nginx, 400)):
            status, body = one_request(port, path, common.client_context(ca, proxy))
            if status != expected:
                raise SystemExit(f"{name} answered a proxy of an {what} {status}, not "
                                 f"{expected}: it does not verify ({body[:200]!r})")


def _run(args, server, info, nginx, ca, warm, cold, per_worker, generated, path) -> None:
    answer(info["plain"], path, ca, warm, "the plain listener")
    answer(nginx.port, path, ca, warm, f"nginx (its log: {nginx.errors()!r})")
    answer(nginx.plain_port, path, ca, warm, f"nginx without verification ({nginx.errors()!r})")

    common.print_header("TLS handshakes: new connection per request (issues 2 and 18)", [
        f"server: bench.fakeserver, one Twisted process: occid's TLS context, authenticating "
        f"channel and resource tree over the in-memory backend; pid {server.pid}",
        f"reference: {nginxref.nginx_version()} with the proxy shim (LD_PRELOAD), one process "
        f"(pid {nginx.pid}), same host certificate, CAs, CRLs, TLS 1.2-1.3, no session cache or "
        f"tickets; it refused the revoked and untrusted proxies (400), as occid did (401)",
        f"request: GET {path} (text/plain), Connection: close",
        common.client_description(args.clients, "each opening connections one after another "
                                  f"(concurrency {args.clients})"),
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order rotated "
        f"each round; {len(cold)} cold proxies pre-generated in {generated:.0f} s "
        f"({per_worker} per worker and run)",
    ])

    rounds = args.runs
    ports = {"plain": info["plain"], "grid-warm": info["grid"], "grid-cold": info["grid"],
             "nginx": nginx.port, "nginx-plain": nginx.plain_port}
    pids = {"plain": server.pid, "grid-warm": server.pid, "grid-cold": server.pid,
            "nginx": nginx.pid, "nginx-plain": nginx.pid}
    for name in ("plain", "grid-warm", "nginx", "nginx-plain"):
        common.run_workers(name, handshake_worker(ports[name], path, ca, lambda i: [warm]),
                           args.clients, 1.0)

    results = {variant: [] for variant in VARIANTS}
    for round_number, order in enumerate(common.rotations(VARIANTS, rounds)):
        print(f"   round {round_number + 1}")
        for variant in order:
            if variant == "grid-cold":
                base = round_number * args.clients * per_worker

                def slice_of(i, base=base):
                    start = base + i * per_worker
                    return cold[start:start + per_worker]

                make = handshake_worker(ports[variant], path, ca, slice_of)
            else:
                make = handshake_worker(ports[variant], path, ca, lambda i: [warm])
            result = common.run_workers(variant, make, args.clients, args.duration, pids[variant])
            common.print_run(result)
            results[variant].append(result)

    m = common.medians(results)
    print("   medians:")
    for v in VARIANTS:
        print(f"   {v:<10} {m[v].rate:7.1f} conn/s, p50 {m[v].p50_ms:6.2f} ms, "
              f"server CPU {m[v].cpu_ms:.2f} ms/conn")
    warm_ratio = m["grid-warm"].rate / m["plain"].rate
    print(common.verdict("warm: grid-warm / plain connections per second", warm_ratio,
                         ">= 0.6", warm_ratio >= 0.6))
    print(common.verdict("cold: grid-cold / plain connections per second",
                         m["grid-cold"].rate / m["plain"].rate, "reported", None))
    nginx_cpu = m["nginx"].cpu_ms
    for variant, target in (("grid-warm", 1.2), ("grid-cold", 1.6)):
        ratio = m[variant].cpu_ms / nginx_cpu
        print(common.verdict(f"server CPU per connection: {variant} / nginx", ratio,
                             f"<= {target}", ratio <= target))
    print(common.verdict("server CPU per connection: plain / nginx",
                         m["plain"].cpu_ms / nginx_cpu, "reported", None))
    print(common.verdict("server CPU per connection: plain / nginx-plain",
                         m["plain"].cpu_ms / m["nginx-plain"].cpu_ms, "reported", None))
    added = {v: m[v].cpu_ms - m["plain"].cpu_ms for v in ("grid-warm", "grid-cold")}
    print(f"   client verification adds, per connection: occid warm {added['grid-warm']:.2f} ms, "
          f"cold {added['grid-cold']:.2f} ms; nginx {nginx_cpu - m['nginx-plain'].cpu_ms:.2f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
