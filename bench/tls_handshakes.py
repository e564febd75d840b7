"""
Issue 2: the cost of occid's client authentication per new TLS connection.

One server process (L{bench.fakeserver}) listens twice with the same site
and resource: (a) occid's listener, requesting the client's proxy chain and
validating it (OpenSSL, then every chain and VOMS rule in Python), and (b)
the same TLS context without the client-certificate request.  Client
processes open a new TLS connection for every request (C{Connection: close}),
as rOCCI-cli does: by default C{GET /-/}, the query interface rOCCI-cli reads
first on every run (the in-memory backend's small catalogue, 11 kB of
text/plain, rendered once and cached by occid), or with C{--request entity}
the C{GET} of one compute entity (which adds the in-memory backend's ~0.3 ms
deep copy of the entity to both listeners).  Three variants, run in
interleaved rounds:

 - C{plain}: (b), the floor;
 - C{grid-warm}: (a) with one proxy reused on every connection (a CLI user);
 - C{grid-cold}: (a) with a proxy never presented before on every
   connection (a new chain each time), from a pre-generated stock.

Ratios of medians: warm = grid-warm / plain connections per second (target
>= 0.6); cold = grid-cold / plain (reported).  The server's CPU time per
connection is printed too: it does not depend on the clients sharing the
machine.

    python -m bench.tls_handshakes [--runs 5] [--duration 5] [--clients 4]
        [--request query|entity]
"""

from __future__ import annotations

import http.client
import os
import ssl
import sys
import tempfile
import time

from bench import common

VARIANTS = ["plain", "grid-warm", "grid-cold"]


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
    parser.add_argument("--cold-rate", type=int, default=350,
                        help="cold connections/s to provision proxies for (default 350)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory:
        pki, config, ca = common.daemon_files(directory)
        warm = common.write_voms_proxy(pki, os.path.join(directory, "warm.pem"))

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
        try:
            _run(args, server, info, ca, warm, cold, per_worker, generated)
        finally:
            server.stop()


def _run(args, server, info, ca, warm, cold, per_worker, generated) -> None:
    path = "/-/" if args.request == "query" else info["entity"]
    for name in ("grid", "plain"):
        status, body = one_request(info[name], path, common.client_context(ca, warm))
        if status != 200:
            raise SystemExit(f"sanity check on the {name} listener: {status} {body[:300]!r}")

    common.print_header("TLS handshakes: new connection per request (issue 2)", [
        f"server: bench.fakeserver, one Twisted process: occid's TLS context, authenticating "
        f"channel and resource tree over the in-memory backend; pid {server.pid}",
        f"request: GET {path} (text/plain), Connection: close",
        common.client_description(args.clients, "each opening connections one after another "
                                  f"(concurrency {args.clients})"),
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order rotated "
        f"each round; {len(cold)} cold proxies pre-generated in {generated:.0f} s "
        f"({per_worker} per worker and run)",
    ])

    rounds = args.runs
    warmup = {
        "plain": handshake_worker(info["plain"], path, ca, lambda i: [warm]),
        "grid-warm": handshake_worker(info["grid"], path, ca, lambda i: [warm]),
    }
    for name, make in warmup.items():
        common.run_workers(name, make, args.clients, 1.0)

    results = {variant: [] for variant in VARIANTS}
    for round_number, order in enumerate(common.rotations(VARIANTS, rounds)):
        print(f"   round {round_number + 1}")
        for variant in order:
            if variant == "grid-cold":
                base = round_number * args.clients * per_worker

                def slice_of(i, base=base):
                    start = base + i * per_worker
                    return cold[start:start + per_worker]

                make = handshake_worker(info["grid"], path, ca, slice_of)
            else:
                port = info["plain"] if variant == "plain" else info["grid"]
                make = handshake_worker(port, path, ca, lambda i: [warm])
            result = common.run_workers(variant, make, args.clients, args.duration, server.pid)
            common.print_run(result)
            results[variant].append(result)

    m = common.medians(results)
    print("   medians:")
    for v in VARIANTS:
        print(f"   {v:<10} {m[v].rate:7.1f} conn/s, p50 {m[v].p50_ms:6.2f} ms, "
              f"server CPU {m[v].cpu_ms:.2f} ms/conn")
    warm_ratio = m["grid-warm"].rate / m["plain"].rate
    cold_ratio = m["grid-cold"].rate / m["plain"].rate
    print(common.verdict("warm: grid-warm / plain connections per second", warm_ratio,
                         ">= 0.6", warm_ratio >= 0.6))
    print(common.verdict("cold: grid-cold / plain connections per second", cold_ratio,
                         "reported", None))
    print(common.verdict("warm, server CPU: plain / grid-warm per connection",
                         m["plain"].cpu_ms / m["grid-warm"].cpu_ms, "reported", None))
    print(common.verdict("cold, server CPU: plain / grid-cold per connection",
                         m["plain"].cpu_ms / m["grid-cold"].cpu_ms, "reported", None))


if __name__ == "__main__":
    main(sys.argv[1:])
