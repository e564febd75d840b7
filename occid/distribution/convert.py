# -*- test-case-name: tests.test_distribution_command -*-
"""
C{qemu-img} from Debian's C{qemu-utils}: what a downloaded disk is (its
format, virtual size, no backing file or external data file, read under
resource limits) and its conversion to a sparse raw
file, whose data blocks L{occid.distribution.blocks} then reads.  A raw
download is used as it is.
"""

from __future__ import annotations

import json
import resource
import subprocess
from dataclasses import dataclass

from occid.distribution.appliance import Refused

__all__ = ["Disk", "inspect", "to_raw"]

#: Seconds C{qemu-img info} may take.
INFO_TIMEOUT = 60

#: Limits on C{qemu-img info} reading an untrusted image (QEMU's advice for
#: untrusted images: bound its address space and CPU time).
INFO_MEMORY = 1 << 30
INFO_CPU_SECONDS = 30


def _limited() -> None:
    """In the child, before C{qemu-img info} runs: its resource limits."""
    resource.setrlimit(resource.RLIMIT_AS, (INFO_MEMORY, INFO_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (INFO_CPU_SECONDS, INFO_CPU_SECONDS))


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
                              check=False, preexec_fn=_limited)  # before any upload thread runs
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Refused(f"qemu-img info failed: {e}") from None
    if done.returncode != 0:
        raise Refused(f"qemu-img cannot read the disk: {done.stderr.decode(errors='replace').strip()}")
    try:
        info = json.loads(done.stdout)
    except ValueError:
        raise Refused("qemu-img info answered something that is not JSON") from None
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise Refused("the disk has a backing file")
    if (info.get("format-specific") or {}).get("data", {}).get("data-file"):
        raise Refused("the disk has an external data file")
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
