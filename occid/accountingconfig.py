# -*- test-case-name: tests.test_accountingconfig -*-
"""
C{[accounting]}: what C{occid-accounting} needs beyond the rest of
C{occid.toml}: the site and service names the APEL records carry, the
dirq spools C{ssmsend} ships from (one per kind of record, as SSM's
sender configuration takes one path each), the local cache of the last
run, the benchmark of each instance type and whether network traffic is
read from CloudWatch.

The daemon ignores the section; C{occid-accounting} refuses a file
without it.  Pure core, below L{occid.config}, which hands in how to build
a dataclass from a table (L{occid.imagesconfig.Build}) and how to fail
(L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from occid.accountconfig import Fail, key_name
from occid.imagesconfig import Build

__all__ = ["AccountingConfig", "build_accounting", "check_accounting"]

_INSTANCE_TYPE = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+")

#: The longest C{BenchmarkType} the APEL server stores (VARCHAR(50)).
BENCHMARK_TYPE_LIMIT = 50


@dataclass(frozen=True)
class AccountingConfig:
    """
    C{[accounting]}.  C{service} empty: the host of C{[server] public_url}
    (what EGI's catch-all sites use as the cloud compute service name).
    C{benchmarks} maps instance types to their benchmark value; a type not
    listed is reported with 0, which APEL stores for a missing one.
    """

    site_name: str = ""
    service: str = ""
    cloud_spool: str = "/var/spool/apel/outgoing/occid-cloud"
    storage_spool: str = "/var/spool/apel/outgoing/occid-storage"
    ip_spool: str = "/var/spool/apel/outgoing/occid-ip"
    cache: str = "/var/lib/occid/accounting.json"
    benchmark_type: str = "HEPSPEC06"
    benchmarks: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    cloudwatch: bool = False

    def benchmark(self, instance_type: str) -> float:
        """The benchmark value of C{instance_type}; 0 when not configured."""
        return self.benchmarks.get(instance_type, 0.0)


def build_accounting(table: dict[str, Any], build: Build, fail: Fail) -> AccountingConfig:
    """The L{AccountingConfig} of C{table}, its C{benchmarks} sub-table included."""
    flat = dict(table)
    benchmarks = flat.pop("benchmarks", {})
    where = key_name("accounting", "benchmarks")
    if not isinstance(benchmarks, dict):
        fail(where, 'must be a table of instance type = value, such as [accounting.benchmarks] '
                    '"t3.micro" = 10.5')
    values = {}
    for name, value in benchmarks.items():
        key = key_name("accounting.benchmarks", repr(name))
        if not _INSTANCE_TYPE.fullmatch(name):
            fail(key, f"{name!r} is not an instance type name")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            fail(key, f"must be a number, 0 or more, not {value!r}")
        values[name] = float(value)
    accounting = build("accounting", AccountingConfig, flat)
    return replace(accounting, benchmarks=MappingProxyType(values))


def check_accounting(accounting: AccountingConfig, fail: Fail) -> None:
    """The forms of C{[accounting]}'s keys: a site, absolute and distinct spools, a benchmark type."""
    if not accounting.site_name.strip():
        fail("[accounting] site_name", "is required: the site's name in GOCDB")
    spools: dict[str, str] = {}
    for key in ("cloud_spool", "storage_spool", "ip_spool", "cache"):
        path = getattr(accounting, key)
        if not os.path.isabs(path):
            fail(f"[accounting] {key}", f"must be an absolute path, not {path!r}")
        if key != "cache" and os.path.normpath(path) in spools:
            fail(f"[accounting] {key}", f"is also [accounting] {spools[os.path.normpath(path)]}: "
                 "each kind of record needs its own spool")
        spools[os.path.normpath(path)] = key
    if not 0 < len(accounting.benchmark_type) <= BENCHMARK_TYPE_LIMIT:
        fail("[accounting] benchmark_type", f"must be 1 to {BENCHMARK_TYPE_LIMIT} characters")
