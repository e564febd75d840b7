# -*- test-case-name: tests.test_gsi_voms -*-
"""
What was read from a part of an attribute certificate (or of a proxy
certificate), remembered by the part's bytes.

A VOMS server puts the same issuer, FQAN attribute and extensions in every
AC it signs for a user; only the serial number, the validity and the
signature change from one C{voms-proxy-init} to the next (and every proxy
has the same ProxyCertInfo).  Parsing those parts again for every new proxy
was most of a cold authentication's cost.
A L{DerMemo} keeps what a reader made of each part: reading is a function
of the bytes alone, so a remembered answer is the answer.  Only answers
are remembered: a part a reader refuses is read (and refused) again each
time it comes.

Pure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

_V = TypeVar("_V")

#: How many parts a L{DerMemo} remembers.
DER_MEMO_SIZE = 1024


class DerMemo(Generic[_V]):
    """
    A bounded map from a part's key (its DER, with whatever else the
    reading depended on) to what was read from it; the least recently used
    entry goes first.
    """

    def __init__(self, size: int = DER_MEMO_SIZE):
        self._size = size
        self._entries: OrderedDict[Hashable, _V] = OrderedDict()

    def read(self, key: Hashable, reader: Callable[[], _V]) -> _V:
        """
        What was read for C{key}, or what C{reader} reads now (remembered
        unless it raises).
        """
        try:
            value = self._entries[key]
        except KeyError:
            value = self._entries[key] = reader()
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
            return value
        self._entries.move_to_end(key)
        return value
