"""
Issue 18, every core: two occid processes sharing one port vs one process,
under a cold-handshake load.

Three real daemons (C{twistd -n occid}, as L{tests.daemon.Daemon} runs them)
over one moto server: C{one} alone on its port, and C{a} and C{b} sharing
another with C{[server] reuse_port} (and electing the reconciler's leader
in a shared C{coordination_dir}), as C{systemd/occid@.service} runs them.
Client processes open a new TLS connection per request, each presenting a
proxy never presented before (pre-generated with the test factories), and
send C{GET /-/} with C{Connection: close}.  Two variants, in interleaved
rounds:

 - C{1 process}: the load on C{one}'s port;
 - C{2 processes}: the load on the shared port.

Printed: connections per second and the server CPU per connection (from
C{/proc/<pid>/stat}, both processes together for C{2 processes}), the
share of the CPU each of C{a} and C{b} spent (target: each 30-70 %), and
the rate of 2 processes over 1 (target >= 1.2: the median of the rounds'
ratios, each round's two runs being next to each other in time; the
ratio of the medians is printed too), the clients' CPU per connection,
and how many cores the
server processes kept busy (rate x CPU per connection: what other load on
the machine left them).  The load clients need
about a core of their own: on a 2-core host the two processes compete with
them, so the rate ratio stays well below 2.

    python -m bench.processes [--runs 5] [--duration 5] [--clients 8] [--cold-rate 800]

Eight clients by default: with four, one process is not kept busy (it
waits for its clients between connections), and the comparison measures
the clients instead.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import ssl
import sys
import tempfile
import time

from bench import common
from tests.daemon import Daemon
from tests.motoserver import MotoServer, free_port

VARIANTS = ["1 process", "2 processes"]


def one_request(port: int, context: ssl.SSLContext) -> tuple[int, bytes]:
    """A new TLS connection, C{GET /-/}, the answer read, the connection closed."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request("GET", "/-/", headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def cold_worker(port: int, ca: str, proxies_of, cpu):
    """
    A worker factory for L{common.run_workers}: worker C{i} presents each
    proxy of C{proxies_of(i)} on one new connection, in turn, and adds the
    CPU seconds it spent doing so (not preparing) to C{cpu}, a
    C{multiprocessing.Value} shared by the workers.
    """

    def make(index):
        contexts = [common.client_context(ca, proxy) for proxy in proxies_of(index)]

        def run(deadline):
            started_cpu = time.process_time()
            tally = common.Tally()
            for context in contexts:
                if time.monotonic() >= deadline:
                    break
                started = time.perf_counter()
                try:
                    status, body = one_request(port, context)
                except (OSError, http.client.HTTPException) as e:
                    tally.failed(repr(e))
                    continue
                tally.answered(status, body, time.perf_counter() - started)
            else:
                tally.failed("ran out of cold proxies")
            with cpu.get_lock():
                cpu.value += time.process_time() - started_cpu
            return tally.outcome()

        return run

    return make


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=8)
    parser.add_argument("--cold-rate", type=int, default=800,
                        help="connections/s to provision proxies for (default 800)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory:
        pki = common.make_pki(directory)
        ca = common.ca_file(pki, directory)
        per_worker = int(args.cold_rate * args.duration / args.clients) + 1
        stock = len(VARIANTS) * args.runs * args.clients * per_worker
        started = time.monotonic()
        cold = [common.write_voms_proxy(pki, os.path.join(directory, f"cold-{i}.pem"))
                for i in range(stock)]
        generated = time.monotonic() - started

        moto = MotoServer()
        moto.start()
        daemons: dict[str, Daemon] = {}
        try:
            shared_port = free_port()
            run_dir = os.path.join(directory, "run")
            os.makedirs(run_dir)
            for name, port, server in (
                ("one", None, ""),
                ("a", shared_port, f'reuse_port = true\ncoordination_dir = "{run_dir}"'),
                ("b", shared_port, f'reuse_port = true\ncoordination_dir = "{run_dir}"'),
            ):
                os.makedirs(os.path.join(directory, name))
                daemon = daemons[name] = Daemon(os.path.join(directory, name), pki,
                                                moto.endpoint, port=port, server=server)
                daemon.start()
                daemon.wait_for_log("Starting factory <occid.server.site.OCCISite", timeout=60)
            _run(args, daemons, ca, cold, per_worker, generated)
        finally:
            for daemon in daemons.values():
                daemon.stop()
            moto.stop()


def _run(args, daemons, ca, cold, per_worker, generated) -> None:
    one, a, b = daemons["one"], daemons["a"], daemons["b"]
    for daemon in daemons.values():
        for _ in range(20):  # both of a and b answer, and each has its catalogue
            status, body = one_request(daemon.port, common.client_context(ca, cold[0]))
            if status != 200:
                raise SystemExit(f"sanity check on port {daemon.port}: {status} {body[:300]!r}")

    common.print_header("Processes: 2 occid sharing a port (SO_REUSEPORT) vs 1 (issue 18)", [
        f"servers: twistd -n occid over one moto.server, on 127.0.0.1: '1 process' = pid "
        f"{one.pid} on port {one.port}; '2 processes' = pids {a.pid} and {b.pid} on port "
        f"{a.port}, [server] reuse_port = true",
        "request: GET /-/ (text/plain), Connection: close, a proxy never presented before "
        "on each connection (cold handshake)",
        common.client_description(args.clients, "each opening connections one after another "
                                  f"(concurrency {args.clients})"),
        f"the load clients take about a core of the {os.cpu_count()} themselves: the "
        "processes share the rest with them",
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order "
        f"rotated each round; {len(cold)} cold proxies pre-generated in {generated:.0f} s "
        f"({per_worker} per worker and run)",
    ])

    results: dict[str, list[common.RunResult]] = {variant: [] for variant in VARIANTS}
    shares: list[float] = []
    clients_cpu: list[float] = []
    used = 0
    for round_number, order in enumerate(common.rotations(VARIANTS, args.runs)):
        print(f"   round {round_number + 1}")
        for variant in order:
            base = used
            used += args.clients * per_worker

            def slice_of(i, base=base):
                start = base + i * per_worker
                return cold[start:start + per_worker]

            cpu = multiprocessing.get_context("fork").Value("d", 0.0)
            if variant == "1 process":
                result = common.run_workers(variant, cold_worker(one.port, ca, slice_of, cpu),
                                            args.clients, args.duration, one.pid)
                common.print_run(result)
            else:
                result = common.run_workers(variant, cold_worker(a.port, ca, slice_of, cpu),
                                            args.clients, args.duration,
                                            watched={"a": a.pid, "b": b.pid})
                spent = result.others_cpu
                result.server_cpu = spent["a"] + spent["b"]
                share = spent["a"] / result.server_cpu if result.server_cpu else 0.0
                shares.append(share)
                common.print_run(result)
                print(f"   {'':<10} CPU share: a {share:.0%}, b {1 - share:.0%}")
            if result.requests:
                clients_cpu.append(cpu.value / result.requests * 1000)
            results[variant].append(result)
        one_rate, two_rate = (results[variant][-1].rate for variant in VARIANTS)
        if one_rate:
            print(f"   {'':<10} this round, 2 processes / 1: {two_rate / one_rate:.2f}")

    m = common.medians(results)
    print("   medians:")
    for variant in VARIANTS:
        cores = m[variant].rate * m[variant].cpu_ms / 1000
        print(f"   {variant:<12} {m[variant].rate:7.1f} conn/s, p50 {m[variant].p50_ms:6.2f} ms, "
              f"server CPU {m[variant].cpu_ms:.2f} ms/conn, {cores:.2f} cores busy serving")
    client_ms = common.median(clients_cpu)
    print(f"   the load clients: {client_ms:.2f} ms of CPU per connection "
          "(all processes together)")
    share = common.median(shares)
    print(common.verdict("share of process a in 2 processes (CPU)", share, "0.3-0.7",
                         0.3 <= share <= 0.7))
    print(common.verdict("rate: 2 processes / 1 process (medians)",
                         m["2 processes"].rate / m["1 process"].rate, "reported", None))
    ratio = common.median(two.rate / one.rate for one, two in zip(
        *(results[variant] for variant in VARIANTS), strict=True) if one.rate)
    print(common.verdict("rate: 2 processes / 1 process (median of rounds)", ratio, ">= 1.2",
                         ratio >= 1.2))


if __name__ == "__main__":
    main(sys.argv[1:])
