# -*- test-case-name: tests.test_accounting_run -*-
"""
The local cache of C{occid-accounting}: when each account and region was
last run, and which instances the last run left unfinished.  Only a
cache: the usage itself lives in the instances' C{occid:acct} tags, so a
lost cache (a reinstall, another host) loses no usage; it only leaves the
next run unable to say whether runs were missed and which instances
vanished before their end was seen.
"""

from __future__ import annotations

import json

from occid.atomicfile import write_file

__all__ = ["Cache"]


class Cache:
    """
    C{{"runs": {key: epoch}, "open": {key: [instance ids]}}} in a JSON file,
    keyed by C{<account>/<region>}; written whole, atomically.
    """

    def __init__(self, path: str | None):
        """@param path: the file; C{None}: remember nothing (a dry run)."""
        self._path = path
        self._data: dict[str, dict] = {"runs": {}, "open": {}}
        if path is not None:
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
                self._data = {"runs": dict(data["runs"]), "open": dict(data["open"])}
            except (OSError, ValueError, KeyError, TypeError):
                pass  # no usable cache: the first run, or a lost one

    def last_run(self, key: str) -> int | None:
        """When C{key} was last run, if known."""
        return self._data["runs"].get(key)

    def unfinished(self, key: str) -> set[str]:
        """The instances the last run of C{key} saw unfinished."""
        return set(self._data["open"].get(key, ()))

    def record(self, key: str, now: int, unfinished: set[str]) -> None:
        """Remember a run of C{key} at C{now} and the instances it left unfinished."""
        self._data["runs"][key] = now
        self._data["open"][key] = sorted(unfinished)

    def save(self) -> None:
        """Write the file (nothing without a path)."""
        if self._path is None:
            return
        write_file(self._path, json.dumps(self._data).encode())
