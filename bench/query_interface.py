"""
Issues 4 and 18: the query interface of a large catalogue.

One server process (L{bench.fakeserver}, occid's listener and resource tree
over the in-memory backend) offers 1,000 os_tpl and 800 resource_tpl mixins.
Ten client processes each hold one TLS keep-alive connection, authenticated
with a VOMS proxy, and send one request after another.  Four variants, in
interleaved runs:

 - C{query}: C{GET /-/}, the whole catalogue, uncompressed (no
   C{Accept-Encoding}, as C{curl} without C{--compressed});
 - C{query-gzip}: the same with C{Accept-Encoding: gzip} (as rOCCI-cli's
   Ruby C{Net::HTTP} and C{curl --compressed} send it): the cached gzip
   bytes, read and not decompressed by the client (that is the client's
   CPU, not the server's; the first answer is checked to decompress to the
   plain one);
 - C{query-304}: the same with the C{ETag} of that answer in
   C{If-None-Match}: a 304 without a body;
 - C{empty}: C{GET /storage/}, a collection the owner has nothing in: the
   same steps (principal of the connection, account binding, the account's
   catalogue, routing) with no entity at all, the cheapest authenticated
   read.

Ratios of medians of the runs' p50 latencies and of the server's CPU per
request, each query variant over C{empty}: the target (issue 18) is C{<= 3}
for the p50 of C{query-gzip}, what a grid client gets.

    python -m bench.query_interface [--runs 5] [--duration 5] [--clients 10]
        [--accept text/plain]
"""

from __future__ import annotations

import gzip
import http.client
import os
import sys
import tempfile
import time

from bench import common

VARIANTS = ["query", "query-gzip", "query-304", "empty"]

#: The status each variant is answered with.
EXPECTED = {"query": 200, "query-gzip": 200, "query-304": 304, "empty": 200}

GZIP = {"Accept-Encoding": "gzip"}


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=10)
    parser.add_argument("--os-tpl", type=int, default=1000)
    parser.add_argument("--resource-tpl", type=int, default=800)
    parser.add_argument("--accept", default="text/plain", help="the Accept of every request")
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


def _first(port: int, ca: str, proxy: str, path: str,
           headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes, float]:
    """
    The answer, body and latency (ms, handshake excluded) of one C{GET
    path} on a new connection: for the first C{/-/}, the one request that
    renders (and compresses) the catalogue before occid caches it.
    """
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=common.client_context(ca, proxy), timeout=60)
    try:
        connection.connect()
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        latency = (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    return response, body, latency


def _run(args, server, info, ca, proxy) -> None:
    port = info["grid"]
    accept = {"Accept": args.accept}
    plain, plain_body, first_ms = _first(port, ca, proxy, "/-/", accept)
    packed, packed_body, _ = _first(port, ca, proxy, "/-/", {**accept, **GZIP})
    if plain.status != 200 or packed.status != 200:
        raise SystemExit(f"GET /-/: {plain.status}, with gzip {packed.status}")
    if packed.getheader("Content-Encoding") == "gzip":
        packed_body = gzip.decompress(packed_body)
    if packed_body != plain_body:
        raise SystemExit("GET /-/ with gzip does not decompress to the plain answer")
    requests = {
        "query": ("/-/", accept),
        "query-gzip": ("/-/", {**accept, **GZIP}),
        "query-304": ("/-/", {**accept, **GZIP, "If-None-Match": packed.getheader("ETag")}),
        "empty": ("/storage/", {**accept, **GZIP}),
    }
    common.print_header("Query interface with a large catalogue (issues 4 and 18)", [
        f"server: bench.fakeserver, one Twisted process: occid's TLS listener (proxy "
        f"validation), authenticating channel and resource tree over the in-memory backend "
        f"(occid.testing.MemoryBackend) offering {args.os_tpl} os_tpl + {args.resource_tpl} "
        f"resource_tpl mixins; pid {server.pid}",
        f"requests: query = GET /-/ ({len(plain_body):,} bytes); query-gzip = the same with "
        f"Accept-Encoding: gzip ({packed.getheader('Content-Length')} bytes, "
        f"Content-Encoding {packed.getheader('Content-Encoding')}, not decompressed by the "
        f"clients); query-304 = the same with If-None-Match: its ETag (304, no body); "
        f"empty = GET /storage/ (0 bytes); Accept: {args.accept}; the first GET /-/ "
        f"(rendering and compressing the catalogue, which occid then caches) took "
        f"{first_ms:.0f} ms",
        common.client_description(args.clients, "each with one TLS keep-alive connection, "
                                  f"requests one after another (concurrency {args.clients})"),
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order "
        "rotated each round",
    ])
    makes = {v: common.keepalive_worker(port, ca, proxy, *requests[v], expected=EXPECTED[v])
             for v in VARIANTS}
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
    for v in VARIANTS[:-1]:
        ratio = m[v].p50_ms / m["empty"].p50_ms
        met = ratio <= 3 if v == "query-gzip" else None
        print(common.verdict(f"p50 latency: {v} / empty", ratio,
                             "<= 3" if met is not None else "reported", met))
    for v in VARIANTS[:-1]:
        print(common.verdict(f"server CPU per request: {v} / empty",
                             m[v].cpu_ms / m["empty"].cpu_ms, "reported", None))


if __name__ == "__main__":
    main(sys.argv[1:])
