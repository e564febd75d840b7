"""
Issue 16: occid-images' import of a 1 GiB sparse qcow2 holding 64 MiB of
data (incompressible, in 1 MiB pieces spread over the disk) into an EBS
snapshot and an AMI on a moto server, against ``qemu-img convert`` of the
same image to raw alone; and the import's peak RSS.

The import's own work before the EBS writes (inspect, convert, read and
hash the data blocks) is reported too, with its ratio: against moto on
loopback the block writes (one HTTP round trip of ~7 ms per 512 KiB block
in moto) dominate, which says nothing of occid's overhead.

The import runs in a child process (``--child``), from the downloaded file
on: ``qemu-img info``, conversion to a sparse raw file, the EBS direct
block writes, CompleteSnapshot and RegisterImage; the child reports its
own peak RSS (the Python process, which holds the blocks in flight) and
that of ``qemu-img``.  Rounds alternate the two, in rotating order; the
ratio compares medians.  Targets: ratio ≤ 2, peak RSS ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import boto3

#: The disk: its virtual size and data.
VIRTUAL = 1 << 30
DATA_MIB = 64


def make_disk(directory: str) -> str:
    """The benchmark's qcow2 disk, made with qemu-img from a sparse raw file."""
    raw, qcow2 = os.path.join(directory, "disk.raw"), os.path.join(directory, "disk.qcow2")
    with open(raw, "wb") as f:
        f.truncate(VIRTUAL)
        step = VIRTUAL // DATA_MIB
        for piece in range(DATA_MIB):
            f.seek(piece * step)
            f.write(os.urandom(1 << 20))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2], check=True)
    os.unlink(raw)
    return qcow2


def child(disk: str, endpoint: str, work: str, threads: int) -> None:
    """One import of C{disk} into moto at C{endpoint}; prints seconds and peak RSS (JSON)."""
    from occid.distribution.amis import register
    from occid.distribution.appliance import Appliance
    from occid.distribution.blocks import data_blocks
    from occid.distribution.convert import inspect, to_raw
    from occid.distribution.ebs import write_snapshot
    from occid.distribution.provenance import tags_of

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-west-1")
    ec2 = session.client("ec2", endpoint_url=endpoint)
    ebs = session.client("ebs", endpoint_url=endpoint,
                         config=boto3.session.Config(max_pool_connections=max(threads, 10)))
    appliance = Appliance(source="bench", key="disk", version=str(time.time()), title="bench",
                          url="", size=os.path.getsize(disk), reference="bench",
                          disk_format="qcow2")
    start = time.perf_counter()
    info = inspect(disk, "qcow2", 2 * VIRTUAL)
    raw = to_raw(disk, info, os.path.join(work, "raw"))
    fd = os.open(raw, os.O_RDONLY)
    for _, data in data_blocks(fd, info.virtual_size):
        hashlib.sha256(data).digest()
    os.close(fd)
    local = time.perf_counter() - start
    tags = tags_of(appliance, "0" * 128)
    snapshot, blocks = write_snapshot(ebs, ec2, raw, info.virtual_size, tags, "bench", threads)
    register(ec2, appliance, snapshot, tags)
    elapsed = time.perf_counter() - start
    os.unlink(raw)
    print(json.dumps({"seconds": elapsed, "local": local, "blocks": blocks,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "qemu_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def convert_alone(disk: str, work: str) -> float:
    """Seconds of C{qemu-img convert} of C{disk} to raw."""
    out = os.path.join(work, "alone.raw")
    start = time.perf_counter()
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, out], check=True)
    elapsed = time.perf_counter() - start
    os.unlink(out)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--child", nargs=3, metavar=("DISK", "ENDPOINT", "WORK"))
    options = parser.parse_args()
    if options.child:
        child(*options.child, options.threads)
        return
    from tests.motoserver import MotoServer

    with tempfile.TemporaryDirectory(prefix="occid-bench-") as work:
        disk = make_disk(work)
        moto = MotoServer()
        moto.start()
        print(f"disk: {VIRTUAL >> 20} MiB virtual, {DATA_MIB} MiB data, qcow2 "
              f"{os.path.getsize(disk) >> 20} MiB; moto at {moto.endpoint}; "
              f"{options.threads} upload threads; {options.runs} rounds")
        imports, locals_, converts, rss, qemu_rss = [], [], [], [], []
        try:
            for round in range(options.runs):
                order = ("convert", "import") if round % 2 == 0 else ("import", "convert")
                for what in order:
                    if what == "convert":
                        converts.append(convert_alone(disk, work))
                        print(f"round {round + 1}: qemu-img convert alone {converts[-1]:.3f} s")
                        continue
                    done = subprocess.run(
                        [sys.executable, "-m", "bench.images_import", "--threads",
                         str(options.threads), "--child", disk, moto.endpoint, work],
                        capture_output=True, text=True, check=True)
                    result = json.loads(done.stdout.splitlines()[-1])
                    imports.append(result["seconds"])
                    locals_.append(result["local"])
                    rss.append(result["rss_mb"])
                    qemu_rss.append(result["qemu_rss_mb"])
                    print(f"round {round + 1}: import {result['seconds']:.3f} s (before the "
                          f"EBS writes {result['local']:.3f} s), "
                          f"{result['blocks']} blocks, peak RSS {result['rss_mb']:.0f} MB "
                          f"(qemu-img {result['qemu_rss_mb']:.0f} MB)")
        finally:
            moto.stop()
        ratio = statistics.median(imports) / statistics.median(converts)
        print(f"median import {statistics.median(imports):.3f} s, qemu-img convert alone "
              f"{statistics.median(converts):.3f} s: ratio {ratio:.2f} (target <= 2)")
        print(f"the import without its EBS writes (qemu-img info and convert, reading and "
              f"hashing the data blocks): {statistics.median(locals_):.3f} s, ratio "
              f"{statistics.median(locals_) / statistics.median(converts):.2f}; the rest is "
              "PutSnapshotBlock round trips to the emulator")
        print(f"peak RSS of the import: {max(rss):.0f} MB (target <= 200 MB); "
              f"qemu-img's {max(qemu_rss):.0f} MB")


if __name__ == "__main__":
    main()
