# -*- test-case-name: tests.test_distribution_command -*-
"""
A raw disk written straight into an EBS snapshot with the EBS direct APIs
(C{StartSnapshot}, C{PutSnapshotBlock}, C{CompleteSnapshot}): no S3 bucket,
no C{vmimport} role.  Only blocks holding data are sent
(L{occid.distribution.blocks}), each with its SHA-256, by a bounded pool of
threads with a bounded number of blocks in memory; the snapshot is
completed with the linear aggregate of the block checksums.  If anything
fails, or the process is interrupted, the snapshot is deleted (a kill -9
leaves it to the next pass, which finds it by its C{occid:import} tag).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import math
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from occid.distribution.blocks import BLOCK_SIZE, data_blocks
from occid.ec2.tags import tag_list

__all__ = ["write_snapshot"]

GIB = 1 << 30


def _checksum(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def write_snapshot(ebs: Any, ec2: Any, raw: str, virtual_size: int, tags: dict[str, str],
                   description: str, threads: int) -> tuple[str, int]:
    """
    The id of a completed snapshot of raw disk C{raw} tagged C{tags}, and
    the number of blocks written.  On failure the snapshot is deleted and
    the error raised.
    """
    snapshot = ebs.start_snapshot(VolumeSize=math.ceil(virtual_size / GIB), Tags=tag_list(tags),
                                  Description=description[:255], Timeout=60)["SnapshotId"]
    try:
        digests = _put_blocks(ebs, snapshot, raw, virtual_size, threads)
        aggregate = hashlib.sha256(b"".join(digests[i] for i in sorted(digests))).digest()
        ebs.complete_snapshot(SnapshotId=snapshot, ChangedBlocksCount=len(digests),
                              Checksum=_checksum(aggregate), ChecksumAlgorithm="SHA256",
                              ChecksumAggregationMethod="LINEAR")
        ec2.get_waiter("snapshot_completed").wait(
            SnapshotIds=[snapshot], WaiterConfig={"Delay": 5, "MaxAttempts": 720})
    except BaseException:
        # If this delete fails too, the next pass deletes it as an orphan.
        with contextlib.suppress(Exception):
            ec2.delete_snapshot(SnapshotId=snapshot)
        raise
    return snapshot, len(digests)


def _put_blocks(ebs: Any, snapshot: str, raw: str, size: int, threads: int) -> dict[int, bytes]:
    """Send every data block of C{raw}; their SHA-256 by block index."""
    digests: dict[int, bytes] = {}
    room = threading.BoundedSemaphore(threads * 2)
    futures: list[Future[None]] = []

    def put(index: int, data: bytes) -> None:
        digest = hashlib.sha256(data).digest()
        ebs.put_snapshot_block(SnapshotId=snapshot, BlockIndex=index, BlockData=data,
                               DataLength=BLOCK_SIZE, Checksum=_checksum(digest),
                               ChecksumAlgorithm="SHA256")
        digests[index] = digest

    fd = os.open(raw, os.O_RDONLY)
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="occid-ebs") as pool:
            for index, data in data_blocks(fd, size):
                room.acquire()
                future = pool.submit(put, index, data)
                future.add_done_callback(lambda _: room.release())
                futures.append(future)
                failed = next((f for f in futures if f.done() and f.exception()), None)
                if failed is not None:
                    break
    finally:
        os.close(fd)
    for future in futures:
        future.result()
    return digests
