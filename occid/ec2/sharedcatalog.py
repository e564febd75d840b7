# -*- test-case-name: tests.test_ec2_sharedcatalog -*-
"""
One catalogue read from EC2 for all the occid processes of a host
(C{[server] coordination_dir}): the process running the reconciler (the
leader, L{occid.leadership}) reads each account's templates in each region
from EC2 as a process alone does, and writes EC2's answers
(L{occid.ec2.answers.read_answers}) to C{catalogue-<account>-<region>.json}
in that directory: written whole to a temporary file, then renamed over
the old one, so a reader sees one snapshot or the next, never a mix.  The
other processes build their templates from the snapshot (the same code as
from EC2's answers) when its modification time changes, instead of
calling EC2; a process finding no snapshot yet reads EC2 itself.

Blocking file I/O: run in the EC2 thread pool, like the EC2 calls it saves.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from occid.atomicfile import write_file
from occid.ec2.catalog import AccountCatalog
from occid.occi.catalog import Catalog


class SharedCatalogue:
    """
    The catalogue of one account in one region, read from EC2 by the
    leader and from its snapshot by the others.

    @ivar path: the snapshot's file.
    """

    def __init__(self, directory: str, region: str, catalog: AccountCatalog,
                 leading: Callable[[], bool]):
        self.path = os.path.join(directory, f"catalogue-{catalog.account}-{region}.json")
        self._catalog = catalog
        self._leading = leading
        #: The modification time (ns) of the snapshot adopted or written last.
        self._seen: int | None = None

    def refresh(self) -> Catalog:
        """
        The full refresh (blocking): the leader reads EC2 and writes the
        snapshot; another process adopts a changed snapshot, or reads EC2
        while it has neither a snapshot nor templates.
        """
        if self._leading():
            catalog = self._catalog.refresh()
            self._write()
            return catalog
        if not self._adopt() and not self._catalog.loaded:
            return self._catalog.refresh()
        return self._catalog.catalog

    def refresh_distributed(self) -> bool:
        """
        The one-minute look (blocking): the leader reads the imported images
        and writes the snapshot if they changed; another process adopts a
        changed snapshot.  Whether the templates changed.
        """
        if self._leading():
            changed = self._catalog.refresh_distributed()
            if changed:
                self._write()
            return changed
        return self._adopt()

    def _write(self) -> None:
        """Write the answers the templates came from, atomically (write, then rename)."""
        answers = self._catalog.answers
        if answers is None:
            return
        write_file(self.path, json.dumps(answers, default=str).encode())
        self._seen = os.stat(self.path).st_mtime_ns

    def _adopt(self) -> bool:
        """Build the templates from the snapshot if it changed since last seen; whether it did."""
        try:
            with open(self.path, encoding="utf-8") as f:
                modified = os.fstat(f.fileno()).st_mtime_ns
                if modified == self._seen:
                    return False
                answers = json.load(f)
        except FileNotFoundError:
            return False
        self._catalog.adopt(answers, time.time() - modified / 1e9)
        self._seen = modified
        return True
