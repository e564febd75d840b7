# -*- test-case-name: tests.test_config -*-
"""
C{[grid]}: the trust directory, the vomsdir, the ban list and the rules
for proxies (CRLs, legacy and limited proxies).

Pure core, below L{occid.config}, which reports through the
C{fail(key, problem)} it hands in (L{occid.accountconfig.Fail}).
"""

from __future__ import annotations

from dataclasses import dataclass

from occid.accountconfig import Fail
from occid.modes import CrlMode, LimitedProxies, coerce

__all__ = ["GridConfig", "check_grid"]


@dataclass(frozen=True)
class GridConfig:
    """C{[grid]}: the trust directory, vomsdir and proxy rules."""

    ca_dir: str = "/etc/grid-security/certificates"
    vomsdir: str = "/etc/grid-security/vomsdir"
    crl: CrlMode = CrlMode.IF_VALID
    legacy_proxies: bool = False
    limited_proxies: LimitedProxies = LimitedProxies.READ_ONLY
    #: A file of banned identities (L{occid.server.banlist}); unset: none.
    banned: str = ""
    #: Seconds between looks for changes of the trust dir, vomsdir and ban list.
    poll_interval: float = 60.0

    def __post_init__(self) -> None:
        coerce(self, "crl", CrlMode)
        coerce(self, "limited_proxies", LimitedProxies)


def check_grid(grid: GridConfig, fail: Fail) -> None:
    """C{poll_interval} between a second and an hour."""
    if not 1 <= grid.poll_interval <= 3600:
        fail("[grid] poll_interval", "must be between 1 and 3600 seconds")
