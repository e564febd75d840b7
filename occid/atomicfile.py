# -*- test-case-name: tests.test_atomicfile -*-
"""
Replacing a file whole: written to a temporary file beside it, then
renamed over it, so that a reader (another process too) sees the old file
or the new one, never a part.  Used for what occid writes for others to
read: the demo's credentials and configuration, the accounting cache, the
catalogue snapshots the processes of a host share.

Pure (blocking file I/O: call it from a worker thread in the daemon).
"""

from __future__ import annotations

import os


def write_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """
    Replace C{path} atomically with C{data}, created with C{mode}; make its
    directory (private to its owner) if it is missing.
    """
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, path)
