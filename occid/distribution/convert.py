# -*- test-case-name: tests.test_distribution_command -*-
"""
C{qemu-img} from Debian's C{qemu-utils}: what a downloaded disk is (its
format, virtual size, no backing file) and its conversion to a sparse raw
file, whose data blocks L{occid.distribution.blocks} then reads.  A raw
download is used as it is.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from occid.distribution.appliance import Refused

__all__ = ["Disk", "inspect", "to_raw"]

#: Seconds C{qemu-img info} may take.
INFO_TIMEOUT = 60


@dataclass(frozen=True)
class Disk:
    """A downloaded disk: its C{qemu-img} format and virtual size in bytes."""

    format: str
    virtual_size: int


def inspect(path: str, declared: str, limit: int) -> Disk:
    """
    What C{path} is (C{declared} format, else as C{qemu-img} probes it).

    @raise Refused: unreadable, a backing file, or larger than C{limit}.
    """
    command = ["qemu-img", "info", "--output=json"] + (["-f", declared] if declared else [])
    try:
        done = subprocess.run(command + [path], capture_output=True, timeout=INFO_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Refused(f"qemu-img info failed: {e}") from None
    if done.returncode != 0:
        raise Refused(f"qemu-img cannot read the disk: {done.stderr.decode(errors='replace').strip()}")
    info = json.loads(done.stdout)
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise Refused("the disk has a backing file")
    size = int(info.get("virtual-size", 0))
    if size > limit:
        raise Refused(f"its virtual size {size} bytes exceeds [images.distribution] "
                      f"max_virtual_size ({limit})")
    if size <= 0:
        raise Refused("its virtual size is 0")
    return Disk(format=str(info.get("format", declared)), virtual_size=size)


def to_raw(path: str, disk: Disk, raw: str) -> str:
    """
    The path of C{path} as a sparse raw disk: C{path} itself if raw, else
    C{raw}, written by C{qemu-img convert}.
    """
    if disk.format == "raw":
        return path
    try:
        done = subprocess.run(["qemu-img", "convert", "-f", disk.format, "-O", "raw",
                               path, raw], capture_output=True, check=False)
    except OSError as e:
        raise Refused(f"qemu-img convert failed: {e}") from None
    if done.returncode != 0:
        raise Refused(f"qemu-img convert failed: {done.stderr.decode(errors='replace').strip()}")
    return raw
