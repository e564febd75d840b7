"""
Issue 4: the query interface of a large catalogue.

One server process (L{bench.fakeserver}, occid's listener and resource tree
over the in-memory backend) offers 1,000 os_tpl and 800 resource_tpl mixins.
Ten client processes each hold one TLS keep-alive connection, authenticated
with a VOMS proxy, and send one request after another.  Two variants, in
interleaved runs:

 - C{query}: C{GET /-/}, the whole catalogue;
 - C{entity}: C{GET /compute/<id>} of the one compute entity the proxy's
   owner has: the smallest real read of an entity, going through every step
   of the daemon (principal of the connection, account binding, the
   account's catalogue, routing against it, the collection, one entity
   rendered).  The in-memory backend deep-copies the entity it returns
   (~0.3 ms), a cost the EC2 backend replaces with a DescribeInstances;
 - C{empty}: C{GET /storage/}, a collection the owner has nothing in: the
   same steps with no entity at all, the cheapest authenticated read.

Ratio of medians of the runs' p50 latencies: query / entity (target <= 3);
query / empty is reported as the stricter comparison.

    python -m bench.query_interface [--runs 5] [--duration 5] [--clients 10]
        [--accept text/plain]
"""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time

from bench import common

VARIANTS = ["query", "entity", "empty"]


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=10)
    parser.add_argument("--os-tpl", type=int, default=1000)
    parser.add_argument("--resource-tpl", type=int, default=800)
    parser.add_argument("--accept", default="text/plain", help="the Accept of both requests")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory:
        pki, config, ca = common.daemon_files(directory)
        proxy = common.write_voms_proxy(pki, os.path.join(directory, "proxy.pem"))
        server = common.ServerProcess([
            sys.executable, "-m", "bench.fakeserver", "--config", config, "--proxy", proxy,
            "--os-tpl", str(args.os_tpl), "--resource-tpl", str(args.resource_tpl),
            "--log", os.path.join(directory, "occid.log"),
        ])
        info = server.start()
        try:
            _run(args, server, info, ca, proxy)
        finally:
            server.stop()


def _first(port: int, ca: str, proxy: str, path: str, accept: str) -> tuple[int, float]:
    """
    The body size and latency (ms, handshake excluded) of the first C{GET
    path} the server sees, checking it answers 200: for C{/-/}, the one
    request that renders the catalogue before occid caches the rendering.
    """
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=common.client_context(ca, proxy), timeout=60)
    try:
        connection.connect()
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept": accept})
        response = connection.getresponse()
        body = response.read()
        latency = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    return len(body), latency


def _run(args, server, info, ca, proxy) -> None:
    port = info["grid"]
    paths = {"query": "/-/", "entity": info["entity"], "empty": "/storage/"}
    first = {v: _first(port, ca, proxy, paths[v], args.accept) for v in VARIANTS}
    sizes = {v: first[v][0] for v in VARIANTS}
    common.print_header("Query interface with a large catalogue (issue 4)", [
        f"server: bench.fakeserver, one Twisted process: occid's TLS listener (proxy "
        f"validation), authenticating channel and resource tree over the in-memory backend "
        f"(occid.testing.MemoryBackend) offering {args.os_tpl} os_tpl + {args.resource_tpl} "
        f"resource_tpl mixins; pid {server.pid}",
        f"requests: query = GET /-/ ({sizes['query']:,} bytes); entity = GET {paths['entity']} "
        f"({sizes['entity']:,} bytes); empty = GET /storage/ ({sizes['empty']:,} bytes); "
        f"Accept: {args.accept}; the first GET /-/ (rendering "
        f"the catalogue, which occid then caches) took {first['query'][1]:.0f} ms",
        common.client_description(args.clients, "each with one TLS keep-alive connection, "
                                  f"requests one after another (concurrency {args.clients})"),
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order "
        "rotated each round",
    ])
    headers = {"Accept": args.accept}
    makes = {v: common.keepalive_worker(port, ca, proxy, paths[v], headers) for v in VARIANTS}
    for variant in VARIANTS:
        common.run_workers(variant, makes[variant], args.clients, 1.0)

    results = {v: [] for v in VARIANTS}
    for round_number, order in enumerate(common.rotations(VARIANTS, args.runs)):
        print(f"   round {round_number + 1}")
        for variant in order:
            result = common.run_workers(variant, makes[variant], args.clients, args.duration,
                                        server.pid)
            common.print_run(result)
            results[variant].append(result)

    m = common.medians(results)
    print("   medians:")
    for v in VARIANTS:
        print(f"   {v:<10} p50 {m[v].p50_ms:7.2f} ms, {m[v].rate:7.1f} req/s, "
              f"server CPU {m[v].cpu_ms:.3f} ms/req")
    ratio = m["query"].p50_ms / m["entity"].p50_ms
    print(common.verdict("p50 latency: query / entity", ratio, "<= 3", ratio <= 3))
    strict = m["query"].p50_ms / m["empty"].p50_ms
    print(common.verdict("p50 latency: query / empty", strict, "reported", None))
    print(common.verdict("server CPU per request: query / entity",
                         m["query"].cpu_ms / m["entity"].cpu_ms, "reported", None))
    print(common.verdict("server CPU per request: query / empty",
                         m["query"].cpu_ms / m["empty"].cpu_ms, "reported", None))


if __name__ == "__main__":
    main(sys.argv[1:])
