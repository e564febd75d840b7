"""
Issues 5 and 18: what occid adds to one EC2 call, and whether its memory
stays flat.

One moto server (C{python -m moto.server}) holds C{--instances} instances
of the test user, tagged as occid tags what it creates.  The real daemon
(C{twistd -n occid}, as L{tests.daemon.Daemon} runs it) serves it.  Four
variants, in interleaved runs against the same moto server:

 - C{occid}: C{GET /compute/<id>} through occid, ten client processes each
   with one TLS keep-alive connection authenticated by a VOMS proxy;
 - C{boto3}: the DescribeInstances occid makes for that GET (the instance
   id, filtered by state and owner tag), sent by a default boto3 EC2 client
   (what a boto3 user writes) shared by ten threads of one process;
 - C{occid-list}: C{GET /compute/}, every instance, same clients;
 - C{boto3-list}: the DescribeInstances of that listing, same threads.

CPU per request: the daemon's (from C{/proc}) for occid, the boto3
process's own for boto3; moto's is in neither.  Ratios of medians: CPU per
GET occid / boto3 (target <= 1.25, issue 18), p50 latency (<= 1.5) and
throughput (>= 0.6, issue 5); CPU per listed instance of each (reported).
Memory: the daemon's VmRSS after about 1,000 requests and again after
10,000 or more (target: within 10 %).

    python -m bench.ec2_get [--runs 5] [--duration 5] [--clients 10] [--instances 20]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

import boto3
import botocore

from bench import common
from occid.ec2.tags import OWNER_TAG, SHOWN_STATES, VO_TAG
from occid.gsi.principal import owner_hash
from tests.daemon import Daemon
from tests.motoserver import DEBIAN, REGION, MotoServer
from tests.pki import USER_DN

VARIANTS = ["occid", "boto3", "occid-list", "boto3-list"]

#: Requests after which the daemon's RSS is read: the first reading, and the
#: least for the second.
RSS_FIRST, RSS_SECOND = 1_000, 10_000


def ec2_client(endpoint: str, config=None):
    """A boto3 EC2 client for the moto server: boto3's defaults unless C{config} is given."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return session.client("ec2", endpoint_url=endpoint, config=config)


def owner_filters() -> list[dict]:
    """The filters of occid's DescribeInstances for the test user: shown states, owner tag."""
    return [
        {"Name": "instance-state-name", "Values": list(SHOWN_STATES)},
        {"Name": f"tag:{OWNER_TAG}", "Values": [owner_hash(USER_DN)]},
    ]


def describe_arguments(instance_id: str) -> dict:
    """The DescribeInstances occid sends for C{GET /compute/<instance_id>} by the test user."""
    return {"InstanceIds": [instance_id], "Filters": owner_filters()}


def list_arguments() -> dict:
    """The DescribeInstances occid sends for C{GET /compute/} by the test user (one page)."""
    return {"Filters": owner_filters(), "MaxResults": 1000}


def boto3_worker(endpoint: str, arguments: dict, threads: int, expected: int):
    """
    A worker factory for L{common.run_client_process}: one process,
    C{threads} threads sharing one default client, each sending the
    DescribeInstances one call after another; an answer is right when it
    holds C{expected} instances.
    """
    def make(index):
        client = ec2_client(endpoint)
        client.describe_instances(**arguments)

        def run(deadline):
            lock = threading.Lock()
            outcome = {"done": 0, "errors": 0, "latencies": [], "first_error": ""}

            def loop():
                latencies = []
                done = errors = 0
                first_error = ""
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    try:
                        answer = client.describe_instances(**arguments)
                    except Exception as e:  # noqa: BLE001 - every failure is counted
                        errors += 1
                        first_error = first_error or repr(e)
                        continue
                    latencies.append(time.perf_counter() - started)
                    found = sum(len(r["Instances"]) for r in answer["Reservations"])
                    if found == expected:
                        done += 1
                    else:
                        errors += 1
                        first_error = first_error or f"{found} instances, not {expected}"
                with lock:
                    outcome["done"] += done
                    outcome["errors"] += errors
                    outcome["latencies"] += latencies
                    outcome["first_error"] = outcome["first_error"] or first_error

            workers = [threading.Thread(target=loop) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            return (outcome["done"], outcome["errors"], outcome["latencies"],
                    outcome["first_error"])

        return run

    return make


def main(argv: list[str]) -> None:
    parser = common.arguments(__doc__, clients=10,
                              clients_help="client processes for occid, threads for boto3")
    parser.add_argument("--instances", type=int, default=20,
                        help="instances of the test user in moto, all listed by the -list variants")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as directory:
        pki = common.make_pki(directory)
        ca = common.ca_file(pki, directory)
        proxy = common.write_voms_proxy(pki, os.path.join(directory, "proxy.pem"))
        moto = MotoServer()
        moto.start()
        daemon = None
        try:
            client = ec2_client(moto.endpoint)
            reservation = client.run_instances(
                ImageId=DEBIAN, InstanceType="t3.micro", MinCount=args.instances,
                MaxCount=args.instances,
                TagSpecifications=[{"ResourceType": "instance", "Tags": [
                    {"Key": "Name", "Value": "bench-vm"},
                    {"Key": OWNER_TAG, "Value": owner_hash(USER_DN)},
                    {"Key": VO_TAG, "Value": common.VO},
                ]}],
            )
            instance_id = reservation["Instances"][0]["InstanceId"]
            os.makedirs(os.path.join(directory, "occid"))
            daemon = Daemon(os.path.join(directory, "occid"), pki, moto.endpoint)
            daemon.start()
            _run(args, daemon, moto, instance_id, ca, proxy)
        finally:
            if daemon is not None:
                daemon.stop()
            moto.stop()


def _run(args, daemon, moto, instance_id, ca, proxy) -> None:
    pid = daemon.pid
    path = f"/compute/{instance_id}"
    makers = {
        "occid": common.keepalive_worker(daemon.port, ca, proxy, path),
        "boto3": boto3_worker(moto.endpoint, describe_arguments(instance_id), args.clients, 1),
        "occid-list": common.keepalive_worker(daemon.port, ca, proxy, "/compute/"),
        "boto3-list": boto3_worker(moto.endpoint, list_arguments(), args.clients,
                                   args.instances),
    }
    common.print_header("GET of computes through occid vs DescribeInstances (issues 5, 18)", [
        f"servers: moto.server (one process; it closes every connection after one answer) "
        f"with {args.instances} instances of the test user; occid = twistd -n occid "
        f"(pid {pid}), EC2 thread pool of 10, all on 127.0.0.1",
        f"occid: GET {path} and GET /compute/ (text/plain); "
        + common.client_description(args.clients, "each with one TLS keep-alive connection, "
                                    f"requests one after another (concurrency {args.clients})"),
        f"boto3: {boto3.__version__} (botocore {botocore.__version__}), a default EC2 client "
        f"shared by {args.clients} threads in one process, DescribeInstances"
        f"({describe_arguments(instance_id)}) and DescribeInstances({list_arguments()}); "
        "CPU = that process's own",
        f"runs: {args.runs} rounds x {len(VARIANTS)} variants x {args.duration:g} s, order "
        "rotated each round",
    ])

    served = 0

    def through_occid(variant, make, duration, server_pid=None):
        """Run the occid clients; count every request the daemon answered."""
        nonlocal served
        result = common.run_workers(variant, make, args.clients, duration, server_pid)
        served += result.requests + result.errors + args.clients
        return result

    per_worker = RSS_FIRST // args.clients - 1
    warmup = through_occid("warm-up", common.keepalive_worker(
        daemon.port, ca, proxy, path, limit=per_worker), 600.0)
    common.print_run(warmup)
    rss = [(served, common.rss_kib(pid))]
    common.run_client_process("boto3", makers["boto3"], 1.0)

    results = {v: [] for v in VARIANTS}
    for round_number, order in enumerate(common.rotations(VARIANTS, args.runs)):
        print(f"   round {round_number + 1}")
        for variant in order:
            if variant.startswith("occid"):
                result = through_occid(variant, makers[variant], args.duration, pid)
            else:
                result = common.run_client_process(variant, makers[variant], args.duration)
            common.print_run(result)
            results[variant].append(result)

    missing = RSS_SECOND - served
    if missing > 0:
        limit = -(-missing // args.clients) - 1
        soak = through_occid("soak", common.keepalive_worker(
            daemon.port, ca, proxy, path, limit=max(limit, 1)), 1800.0)
        common.print_run(soak)
    rss.append((served, common.rss_kib(pid)))

    m = common.medians(results)
    print("   medians:")
    for v in VARIANTS:
        print(f"   {v:<10} p50 {m[v].p50_ms:7.2f} ms, {m[v].rate:7.1f} req/s, "
              f"CPU {m[v].cpu_ms:.3f} ms/req")
    cpu_ratio = m["occid"].cpu_ms / m["boto3"].cpu_ms
    print(common.verdict("CPU per GET: occid / boto3", cpu_ratio, "<= 1.25", cpu_ratio <= 1.25))
    occid_each = m["occid-list"].cpu_ms / args.instances
    boto3_each = m["boto3-list"].cpu_ms / args.instances
    print(f"   CPU per listed instance ({args.instances} listed): occid {occid_each:.3f} ms, "
          f"boto3 {boto3_each:.3f} ms")
    print(common.verdict("CPU per listed instance: occid / boto3", occid_each / boto3_each,
                         "reported", None))
    latency_ratio = m["occid"].p50_ms / m["boto3"].p50_ms
    throughput_ratio = m["occid"].rate / m["boto3"].rate
    print(common.verdict("p50 latency: occid / boto3", latency_ratio, "<= 1.5",
                         latency_ratio <= 1.5))
    print(common.verdict("throughput: occid / boto3", throughput_ratio, ">= 0.6",
                         throughput_ratio >= 0.6))
    (first_count, first), (second_count, second) = rss
    growth = second / first - 1
    print(f"   daemon VmRSS: {first / 1024:.1f} MiB after {first_count:,} requests, "
          f"{second / 1024:.1f} MiB after {second_count:,}")
    print(common.verdict("RSS growth from the first to the second reading", growth,
                         "<= 0.10", abs(growth) <= 0.10))


if __name__ == "__main__":
    main(sys.argv[1:])
