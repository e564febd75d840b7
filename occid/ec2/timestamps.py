# -*- test-case-name: tests.test_ec2_timestamps -*-
"""
The timestamp parser of occid's botocore response parsers: EC2 writes every
timestamp of its answers in one form, ISO 8601 in UTC with a C{Z}
(C{2026-12-06T02:15:00.000Z}, C{LaunchTime}, C{AttachTime}, …), which
C{datetime.fromisoformat} reads sixty times faster than botocore's default,
C{dateutil}'s general parser (1.3 µs instead of 80; an answer describing one
instance holds three).  Anything else goes to botocore's default, so the
answer is what botocore would give: an aware C{datetime} of the same moment
(in C{datetime.UTC}, where botocore gives dateutil's C{tzutc}, or its
C{tzlocal} on a host whose time zone is UTC), or botocore's C{ValueError}.

L{install} sets it on a botocore session through its documented hook (the
C{response_parser_factory} component's C{set_parser_defaults}), for every
client made from that session afterwards.

Blocking: runs in the EC2 thread pool, inside botocore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.session import Session
from botocore.utils import parse_timestamp

__all__ = ["install", "parse"]

#: The length of the shortest form read here: C{YYYY-MM-DDTHH:MM:SSZ}.
_SHORTEST = 20


def parse(value: Any) -> datetime:
    """
    The C{datetime} of timestamp C{value} as botocore parses it, quickly
    for EC2's C{YYYY-MM-DDTHH:MM:SS[.fff]Z}.
    """
    if isinstance(value, str) and len(value) >= _SHORTEST and value[-1] == "Z" \
            and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value[:-1])
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
    return parse_timestamp(value)


def install(session: Session) -> Session:
    """Have every client made from botocore C{session} parse timestamps with L{parse}; C{session}."""
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse)
    return session
