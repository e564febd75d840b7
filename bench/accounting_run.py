"""
Issue 14: one C{occid-accounting} run over 1,000 instances in moto, and the
EC2 calls it makes per instance.

One moto server (C{python -m moto.server}) holds 1,000 instances of the
test user, tagged as occid tags its creates, with their root volumes.
Runs, each one L{occid.accounting.run.run} into dirq spools in a
temporary directory, on an injected clock 15 minutes apart:

 - C{first}: every instance seen for the first time (one tag write each);
 - C{steady}: nothing changed (the target: list calls only);
 - C{changed}: 100 instances stopped since the previous run (one tag write
   each of those).

EC2 calls are counted by botocore's C{provide-client-params} event, per
operation.  Target: list calls only, plus at most one tag write per
instance whose state changed.

    python -m bench.accounting_run [--runs 5] [--instances 1000]
"""

from __future__ import annotations

import argparse
import collections
import platform
import statistics
import tempfile
import time

import boto3

from occid.accounting.cache import Cache
from occid.accounting.command import CLOUD_TYPE
from occid.accounting.records import Site
from occid.accounting.run import Target, run
from occid.accounting.spool import Spools
from occid.accountingconfig import AccountingConfig
from occid.config import AwsConfig
from occid.ec2.clients import client_config
from occid.gsi.principal import owner_hash
from tests.motoserver import DEBIAN, REGION, MotoServer
from tests.pki import USER_DN

#: EC2 operations that list (read) rather than change.
LISTS = ("DescribeInstances", "DescribeVolumes", "DescribeAddresses", "DescribeInstanceTypes",
         "DescribeImages")


def launch(client, count: int) -> list[str]:
    """C{count} instances tagged as occid's creates, 100 per RunInstances."""
    tags = [{"Key": "occid:owner", "Value": owner_hash(USER_DN)}, {"Key": "occid:dn", "Value": USER_DN},
            {"Key": "occid:vo", "Value": "testvo"}, {"Key": "occid:fqan", "Value": "/testvo"}]
    ids = []
    while len(ids) < count:
        batch = min(100, count - len(ids))
        answer = client.run_instances(ImageId=DEBIAN, InstanceType="t3.micro", MinCount=batch,
                                      MaxCount=batch, TagSpecifications=[
                                          {"ResourceType": "instance", "Tags": tags}])
        ids += [instance["InstanceId"] for instance in answer["Instances"]]
    return ids


def one(client, counts, accounting, now) -> tuple[float, dict[str, int]]:
    """One run; its wall time and its EC2 calls by operation."""
    counts.clear()
    started = time.perf_counter()
    run([Target("bench", REGION, client, "testvo")],
        Site("BENCH", "bench.example.org", "https://bench.example.org:11443", CLOUD_TYPE, "HEPSPEC06"),
        accounting, Spools(accounting), Cache(accounting.cache), now)
    return time.perf_counter() - started, dict(counts)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    options.add_argument("--runs", type=int, default=5, help="steady runs (default 5)")
    options.add_argument("--instances", type=int, default=1000)
    arguments = options.parse_args()
    server = MotoServer()
    server.start()
    try:
        client = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client("ec2", endpoint_url=server.endpoint,
                 config=client_config(AwsConfig(endpoint_url=server.endpoint, region=REGION)))
        ids = launch(client, arguments.instances)
        counts: collections.Counter[str] = collections.Counter()

        def count(model, **kwargs):
            counts[model.name] += 1

        client.meta.events.register("provide-client-params.ec2", count)
        with tempfile.TemporaryDirectory() as spool:
            accounting = AccountingConfig(
                site_name="BENCH", cloud_spool=f"{spool}/cloud", storage_spool=f"{spool}/storage",
                ip_spool=f"{spool}/ip", cache=f"{spool}/cache.json")
            print(f"setup: moto on 127.0.0.1 (python {platform.python_version()}), "
                  f"{len(ids)} instances, runs 15 min apart on an injected clock, "
                  f"{arguments.runs} steady runs")
            now = int(time.time())
            rows = [("first", *one(client, counts, accounting, now))]
            for _ in range(arguments.runs):
                now += 900
                rows.append(("steady", *one(client, counts, accounting, now)))
            client.stop_instances(InstanceIds=ids[:100])
            now += 900
            rows.append(("changed", *one(client, counts, accounting, now)))
        for name, seconds, calls in rows:
            lists = sum(calls.get(op, 0) for op in LISTS)
            others = {op: n for op, n in calls.items() if op not in LISTS}
            print(f"{name:8} {seconds:6.2f} s  list calls {lists} "
                  f"({lists / len(ids):.4f} per instance)  other {others}")
        steady = [row for row in rows if row[0] == "steady"]
        print(f"median steady run: {statistics.median(s for _, s, _ in steady):.2f} s for "
              f"{len(ids)} instances; EC2 calls per instance "
              f"{statistics.median(sum(c.values()) for _, _, c in steady) / len(ids):.4f}")
        changed = rows[-1][2].get("CreateTags", 0)
        first = rows[0][2].get("CreateTags", 0)
        print(f"tag writes: first run {first} (every instance new), steady 0 expected "
              f"(got {max(c.get('CreateTags', 0) for _, _, c in steady)}), "
              f"after 100 stops {changed}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
