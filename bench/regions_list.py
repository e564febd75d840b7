"""
Issue 12: a listing over three AWS regions takes about as long as over one.

One moto server (C{python -m moto.server}, all regions on one endpoint)
holds instances of the test user, tagged as occid tags what it creates:
C{--computes} in each of three regions, and (by default) three times as
many in a fourth, so that both daemons list the same number of computes and
the comparison is of regions, not of entities rendered.  A delaying proxy
(L{bench.delayproxy}) stands between moto and the daemons and holds every
EC2 call for the same fixed time before forwarding it, as a remote EC2
would: one emulator on two cores could not show calls overlapping
otherwise.  Two real daemons (C{twistd -n occid}, as L{tests.daemon.Daemon}
runs it) serve the same account through the proxy:

 - C{1 region}: C{[aws] regions} is the fourth region alone (with
   C{--spread per-region}: the first of the three, so that it lists a
   third of what the other daemon lists);
 - C{3 regions}: the three regions; its C{GET /compute/} asks every region
   at once on the EC2 thread pool and merges the answers.

Client processes each hold one TLS keep-alive connection authenticated by a
VOMS proxy and send C{GET /compute/} one after another, in interleaved
runs.  Ratio of medians of the runs' p50 latencies, 3 regions / 1 region
(target <= 1.3).  Each daemon's CPU per listing is read from
C{/proc/<pid>/stat} over its runs, and so are moto's and the proxy's.  With
C{--latency-ms 0}, the ratio shows the CPU cost of the two extra regions
instead.

    python -m bench.regions_list [--runs 5] [--duration 5] [--clients 3]
        [--latency-ms 100] [--computes 5] [--spread same-total|per-region]
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.request

import boto3

from bench import common
from bench.delayproxy import CALLS_PATH
from occid.ec2.scope import Scope
from occid.testing import make_binding, make_principal
from tests.daemon import Daemon
from tests.motoserver import DEBIAN, REGION, MotoServer
from tests.pki import USER_DN

#: The regions of the C{3 regions} daemon, the home one first.
REGIONS = (REGION, "eu-central-1", "us-east-1")

#: The region of the C{1 region} daemon when both list the same computes.
SOLO = "us-west-2"


def variants(spread: str) -> dict[str, tuple[str, ...]]:
    """Each variant's regions, under C{--spread}."""
    return {"1 region": (SOLO,) if spread == "same-total" else REGIONS[:1], "3 regions": REGIONS}

#: The target of the p50 ratio, 3 regions / 1 region, with latency added.
TARGET = 1.3


def launch_computes(endpoint: str, regions, count: int) -> None:
    """
    Launch C{count} instances of the test user in each of C{regions},
    directly in moto, with the tags occid sets on a compute it creates.
    """
    scope = Scope(make_principal(dn=USER_DN, vo=common.VO),
                  make_binding(account=common.VO, vo=common.VO))
    tags = [{"Key": key, "Value": value}
            for key, value in scope.creation_tags("bench-vm").items()]
    for region in regions:
        client = boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro", MinCount=count,
                             MaxCount=count,
                             TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])


def daemon_serving(directory: str, pki, endpoint: str, regions) -> Daemon:
    """
    A daemon (not started) in its own folder under C{directory} serving
    C{regions} of the EC2 at C{endpoint}, with the home image offered in
    every region.
    """
    folder = os.path.join(directory, f"occid-{len(regions)}")
    os.makedirs(folder)
    listed = "".join(f'\n[images.regions.{region}]\nlist = ["{DEBIAN}"]\n'
                     for region in regions[1:])
    return Daemon(folder, pki, endpoint, aws=f"regions = {json.dumps(list(regions))}",
                  images=listed)


def delay_proxy(target: str, latency_ms: float) -> common.ServerProcess:
    """The delaying proxy in front of C{target} (not started)."""
    return common.ServerProcess([sys.executable, "-m", "bench.delayproxy",
                                 "--target", target, "--latency-ms", f"{latency_ms:g}"])


def proxy_calls(port: int) -> dict[str, int]:
    """The EC2 calls the delaying proxy on C{port} has forwarded so far, by name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{CALLS_PATH}", timeout=10) as answer:
        return json.loads(answer.read())


def listed_locations(daemon: Daemon, ca: str, proxy: str) -> list[str]:
    """The locations of one C{GET /compute/} (text/uri-list) on a new connection."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", daemon.port, context=common.client_context(ca, proxy), timeout=60)
    try:
        connection.request("GET", "/compute/", headers={"Accept": "text/uri-list"})
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET /compute/: {response.status} {body[:200]!r}")
    return body.split()


def wait_until_quiet(proxy_port: int, latency_ms: float, timeout: float = 120.0) -> None:
    """
    Wait until the proxy forwards no call for a while: the daemons' first
    catalogue loads and reconciler passes (at start, then every minute) are
    over, so that what follows is the listings' own calls.
    """
    window = 2 * latency_ms / 1000 + 0.5
    deadline = time.monotonic() + timeout
    counts = proxy_calls(proxy_port)
    while time.monotonic() < deadline:
        time.sleep(window)
        counts, previous = proxy_calls(proxy_port), counts
        if counts == previous:
            return
    raise RuntimeError(f"the daemons still call EC2 after {timeout:g} s")


def calls_per_listing(daemon: Daemon, ca: str, proxy: str, proxy_port: int,
                      expected: int) -> dict[str, int]:
    """
    The EC2 calls of one listing by a warm daemon, by name, after checking
    that the listing has C{expected} computes.
    """
    before = proxy_calls(proxy_port)
    found = len(listed_locations(daemon, ca, proxy))
    if found != expected:
        raise RuntimeError(f"GET /compute/ listed {found} computes, not {expected}")
    after = proxy_calls(proxy_port)
    return {name: count - before.get(name, 0) for name, count in after.items()
            if count != before.get(name, 0)}


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=3)
    parser.add_argument("--latency-ms", type=float, default=100.0,
                        help="milliseconds added to every EC2 call")
    parser.add_argument("--computes", type=int, default=5, help="computes in each of the 3 regions")
    parser.add_argument("--spread", choices=("same-total", "per-region"), default="same-total",
                        help="same-total: the 1-region daemon's region holds as many computes "
                             "as the three together; per-region: it is the first of the three")
    args = parser.parse_args(argv)
    args.variants = variants(args.spread)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory, \
            contextlib.ExitStack() as running:
        pki = common.make_pki(directory)
        ca = common.ca_file(pki, directory)
        proxy = common.write_voms_proxy(pki, os.path.join(directory, "proxy.pem"))
        moto = MotoServer()
        moto.start()
        running.callback(moto.stop)
        launch_computes(moto.endpoint, REGIONS, args.computes)
        if args.spread == "same-total":
            launch_computes(moto.endpoint, (SOLO,), args.computes * len(REGIONS))
        delayer = delay_proxy(moto.endpoint, args.latency_ms)
        proxy_port = delayer.start()["port"]
        running.callback(delayer.stop)
        daemons = {}
        for variant, regions in args.variants.items():
            daemon = daemons[variant] = daemon_serving(
                directory, pki, f"http://127.0.0.1:{proxy_port}", regions)
            daemon.start()
            running.callback(daemon.stop)
        _run(args, daemons, {"moto": moto.pid, "proxy": delayer.pid}, proxy_port, ca, proxy)


def _run(args, daemons: dict[str, Daemon], watched: dict[str, int], proxy_port: int,
         ca: str, proxy: str) -> None:
    for daemon in daemons.values():
        listed_locations(daemon, ca, proxy)  # the first listing waits for the catalogue
    wait_until_quiet(proxy_port, args.latency_ms)
    listed = {variant: args.computes * (len(REGIONS) if args.spread == "same-total"
                                        else len(regions))
              for variant, regions in args.variants.items()}
    calls = {variant: calls_per_listing(daemon, ca, proxy, proxy_port, listed[variant])
             for variant, daemon in daemons.items()}
    common.print_header("GET /compute/ over 1 and 3 regions (issue 12)", [
        f"servers: moto.server (one process, pid {watched['moto']}) with {args.computes} "
        f"computes of the user in each of {', '.join(REGIONS)}"
        + (f" and {listed['1 region']} in {SOLO}" if args.spread == "same-total" else "")
        + "; behind a delaying proxy "
        f"(pid {watched['proxy']}, one thread per connection) adding {args.latency_ms:g} ms "
        "to every EC2 call; all on 127.0.0.1",
        *(f"{variant}: twistd -n occid (pid {daemons[variant].pid}), [aws] regions = "
          f"{list(args.variants[variant])}, {listed[variant]} computes listed, EC2 thread "
          "pool of 10; EC2 calls per listing: "
          f"{', '.join(f'{name} x{count}' for name, count in sorted(calls[variant].items()))}"
          for variant in args.variants),
        "GET /compute/ (text/plain); " + common.client_description(
            args.clients, "each with one TLS keep-alive connection, requests one after "
            f"another (concurrency {args.clients})"),
        f"runs: {args.runs} rounds x {len(args.variants)} variants x {args.duration:g} s, order "
        "rotated each round",
    ])

    makers = {variant: common.keepalive_worker(daemon.port, ca, proxy, "/compute/")
              for variant, daemon in daemons.items()}
    results: dict[str, list[common.RunResult]] = {variant: [] for variant in args.variants}
    for round_number, order in enumerate(common.rotations(list(args.variants), args.runs)):
        print(f"   round {round_number + 1}")
        for variant in order:
            result = common.run_workers(variant, makers[variant], args.clients, args.duration,
                                        daemons[variant].pid, watched)
            common.print_run(result)
            results[variant].append(result)
    _report(args, common.medians(results))


def _report(args, medians: dict[str, common.Medians]) -> None:
    print("   medians (CPU per listing: the daemon's, moto's and the proxy's):")
    for variant, m in medians.items():
        others = ", ".join(f"{name} {ms:.2f} ms" for name, ms in m.others_cpu_ms.items()
                           if ms is not None)
        print(f"   {variant:<10} p50 {m.p50_ms:7.2f} ms, {m.rate:7.1f} listings/s, "
              f"occid {m.cpu_ms:.2f} ms, {others}")
    one, three = medians["1 region"], medians["3 regions"]
    ratio = three.p50_ms / one.p50_ms
    if args.latency_ms > 0:
        print(common.verdict("p50 latency: 3 regions / 1 region", ratio, f"<= {TARGET}",
                             ratio <= TARGET))
    else:
        print(common.verdict("p50 latency: 3 regions / 1 region", ratio,
                             "reported without latency", None))
    if one.cpu_ms and three.cpu_ms:
        print(common.verdict("occid CPU per listing: 3 regions / 1 region",
                             three.cpu_ms / one.cpu_ms, "reported", None))


if __name__ == "__main__":
    main(sys.argv[1:])
