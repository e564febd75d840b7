# -*- test-case-name: tests.test_distribution_pure -*-
"""
The 512 KiB blocks of a raw disk worth writing into an EBS snapshot: those
holding data.  A sparse file's holes are skipped without reading them
(C{SEEK_DATA}/C{SEEK_HOLE}); a block read as all zeros is skipped too (an
EBS snapshot reads unwritten blocks as zeros).

Pure: no boto3, no Twisted; it reads an open file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

__all__ = ["BLOCK_SIZE", "data_blocks", "is_zero"]

#: The EBS direct APIs' block size.
BLOCK_SIZE = 512 * 1024

_ZEROS = bytes(BLOCK_SIZE)


def is_zero(block: bytes) -> bool:
    """Whether C{block} holds only zero bytes."""
    return block == _ZEROS[:len(block)]


def _extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """The C{(start, end)} byte ranges of C{fd} that may hold data."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return
            yield offset, size  # no SEEK_DATA here: read everything
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(end, size)
        offset = end


def data_blocks(fd: int, size: int) -> Iterator[tuple[int, bytes]]:
    """
    C{(index, data)} of each block of the C{size}-byte raw disk C{fd} that
    holds data, in order; the last block is padded with zeros.
    """
    last = -1
    for start, end in _extents(fd, size):
        for index in range(max(start // BLOCK_SIZE, last + 1), (end - 1) // BLOCK_SIZE + 1):
            data = os.pread(fd, BLOCK_SIZE, index * BLOCK_SIZE)
            last = index
            if not is_zero(data):
                yield index, data.ljust(BLOCK_SIZE, b"\0")
