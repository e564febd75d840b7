# -*- test-case-name: tests.test_accounting_run -*-
"""
Where messages go: the dirq spools C{ssmsend} reads (one per kind of
record, L{Spools}), or standard output for C{--dry-run} (L{Printed}).
Both have C{put(kind, message)}; C{kind} is C{cloud}, C{storage} or C{ip}.
"""

from __future__ import annotations

import os
from typing import TextIO

from dirq.QueueSimple import QueueSimple

from occid.accountingconfig import AccountingConfig

__all__ = ["KINDS", "Printed", "Spools"]

#: The kinds of message, each with its own spool.
KINDS = ("cloud", "storage", "ip")


class Spools:
    """The three dirq spools of C{[accounting]}, made on first use."""

    def __init__(self, accounting: AccountingConfig):
        self._paths = {"cloud": accounting.cloud_spool, "storage": accounting.storage_spool,
                       "ip": accounting.ip_spool}
        self._queues: dict[str, QueueSimple] = {}

    def put(self, kind: str, message: str) -> None:
        """Add C{message} to the spool of C{kind}, atomically (dirq writes, then renames)."""
        if kind not in self._queues:
            os.makedirs(self._paths[kind], exist_ok=True)
            self._queues[kind] = QueueSimple(self._paths[kind])
        self._queues[kind].add(message.encode("utf-8"))


class Printed:
    """Messages printed to C{out}, each under a line naming its kind."""

    def __init__(self, out: TextIO):
        self._out = out

    def put(self, kind: str, message: str) -> None:
        self._out.write(f"# {kind} message\n{message}")
